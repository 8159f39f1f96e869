package storagetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Tests of UseToken (refresh rotation), RevokeTokens and ListTokens.

// refreshToken returns an unused, unrevoked refresh token of clientID for subject in grant,
// valid for 30 days from at(0).
func refreshToken(id, clientID, subject, grant string) storage.Token {
	tok := newToken(id, clientID)
	tok.Kind = storage.KindRefresh
	tok.Subject, tok.GrantID = subject, grant
	tok.Audience = nil
	tok.ExpiresAt = west(at(30 * 24 * time.Hour))
	return tok
}

func testTokenUse(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok, other := refreshToken("r1", "app", "alice", "g1"), refreshToken("r2", "app", "alice", "g1")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	must(t, s.CreateToken(ctx, other), "CreateToken other")

	first := west(at(10 * time.Second))
	got, err := s.UseToken(ctx, tok.Hash, first)
	must(t, err, "UseToken")
	want := tok
	want.UsedAt = first
	checkEqual(t, "token returned by UseToken", got, want)
	got, err = s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "used token", got, want)

	// Later or earlier, a second use keeps the first UsedAt.
	for _, now := range []time.Time{at(20 * time.Second), at(time.Second)} {
		got, err = s.UseToken(ctx, tok.Hash, now)
		checkErr(t, "UseToken of a used token", err, storage.ErrAlreadyUsed)
		checkEqual(t, "token returned by a second UseToken", got, want)
	}
	got, err = s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token used twice", got, want)

	got, err = s.GetTokenByHash(ctx, other.Hash)
	must(t, err, "GetTokenByHash other")
	checkEqual(t, "token not used", got, other)
}

// testTokenUseRevoked checks that UseToken of a revoked token returns it with
// ErrAlreadyUsed and does not mark it used.
func testTokenUseRevoked(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := refreshToken("r1", "app", "alice", "g1")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	must(t, s.RevokeToken(ctx, "r1", at(time.Second)), "RevokeToken")
	want := tok
	want.RevokedAt = at(time.Second)
	got, err := s.UseToken(ctx, tok.Hash, at(2*time.Second))
	checkErr(t, "UseToken of a revoked token", err, storage.ErrAlreadyUsed)
	checkEqual(t, "token returned by UseToken of a revoked token", got, want)
	got, err = s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "revoked token after UseToken", got, want)

	// Used, then revoked: still ErrAlreadyUsed, both times kept.
	used := refreshToken("r2", "app", "alice", "g1")
	must(t, s.CreateToken(ctx, used), "CreateToken")
	_, err = s.UseToken(ctx, used.Hash, at(time.Second))
	must(t, err, "UseToken")
	must(t, s.RevokeToken(ctx, "r2", at(2*time.Second)), "RevokeToken of a used token")
	want = used
	want.UsedAt, want.RevokedAt = at(time.Second), at(2*time.Second)
	got, err = s.UseToken(ctx, used.Hash, at(3*time.Second))
	checkErr(t, "UseToken of a used, revoked token", err, storage.ErrAlreadyUsed)
	checkEqual(t, "used, revoked token", got, want)
}

func testTokenUseNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := refreshToken("r1", "app", "alice", "g1")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	for name, h := range map[string][]byte{
		"the plaintext token":    []byte(tokenValue("r1")),
		"the token id":           []byte("r1"),
		"another hash":           tokenHash("r2"),
		"a prefix of the hash":   tok.Hash[:16],
		"the hash with a change": append(append([]byte{}, tok.Hash[:31]...), tok.Hash[31]^1),
		"an empty hash":          {},
		"a nil hash":             nil,
	} {
		_, err := s.UseToken(ctx, h, at(0))
		checkErr(t, "UseToken with "+name, err, storage.ErrNotFound)
	}
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token after UseToken of other hashes", got, tok)
}

// testTokenUseExpired checks that UseToken looks at neither ExpiresAt nor Kind.
func testTokenUseExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	expired := refreshToken("r1", "app", "alice", "g1")
	expired.ExpiresAt = at(-time.Hour)
	access := newToken("a1", "app")
	for _, tok := range []storage.Token{expired, access} {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
		got, err := s.UseToken(ctx, tok.Hash, at(0))
		must(t, err, "UseToken "+tok.ID)
		want := tok
		want.UsedAt = at(0)
		checkEqual(t, "token "+tok.ID, got, want)
	}
}

// testTokenWrittenUsed checks that UsedAt round-trips through CreateToken, and that a token
// written used counts as used.
func testTokenWrittenUsed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := refreshToken("r1", "app", "alice", "g1")
	tok.UsedAt = west(at(-time.Second))
	must(t, s.CreateToken(ctx, tok), "CreateToken of a used token")
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token written used", got, tok)
	got, err = s.UseToken(ctx, tok.Hash, at(0))
	checkErr(t, "UseToken of a token written used", err, storage.ErrAlreadyUsed)
	checkEqual(t, "token written used, after UseToken", got, tok)
}

// matches is the suite's reading of TokenFilter: every non-empty field equals the token's.
func matches(f storage.TokenFilter, tok storage.Token) bool {
	return (f.GrantID == "" || f.GrantID == tok.GrantID) &&
		(f.Subject == "" || f.Subject == tok.Subject) &&
		(f.ClientID == "" || f.ClientID == tok.ClientID)
}

func fmtFilter(f storage.TokenFilter) string {
	return fmt.Sprintf("{GrantID:%q Subject:%q ClientID:%q}", f.GrantID, f.Subject, f.ClientID)
}

// grantTokens returns tokens of two clients, three subjects (one a client, as for client
// credentials) and several grants, some expired, revoked or used, all issued at different
// times. bob's subject holds awkward text.
func grantTokens() []storage.Token {
	bob := "bob " + awkward
	access := func(id, client, subject, grant string, exp time.Duration) storage.Token {
		tok := newToken(id, client)
		tok.Subject, tok.GrantID, tok.ExpiresAt = subject, grant, west(at(exp))
		return tok
	}
	refresh := func(id, client, subject, grant string) storage.Token {
		return refreshToken(id, client, subject, grant)
	}
	toks := []storage.Token{
		access("a-g1", "app", "alice", "g1", time.Hour),
		refresh("r-g1", "app", "alice", "g1"),
		access("a-g1-old", "app", "alice", "g1", -time.Hour),
		access("a-g1-rev", "app", "alice", "g1", time.Hour),
		access("a-g2", "web", "alice", "g2", time.Hour),
		refresh("r-g2", "web", "alice", "g2"),
		access("a-g2-bob", "web", bob, "g2", 2*time.Hour),
		access("a-g3", "app", bob, "g3", time.Hour),
		refresh("r-g3", "app", bob, "g3"),
		refresh("r-g4", "web", bob, "g4"),
		access("a-cc", "app", "app", "", time.Hour),
		access("a-other", "web", "dave", "g5", time.Hour),
		refresh("r-used", "app", "alice", "g1"),
	}
	for i := range toks {
		toks[i].IssuedAt = at(time.Duration(i-len(toks)) * time.Minute)
	}
	toks[3].RevokedAt = west(at(-time.Minute))
	toks[12].UsedAt = at(-30 * time.Second)
	return toks
}

// testRevokeTokens revokes by several filters in turn, and checks after each call the count
// and every token against the suite's model; then it checks the deny list.
func testRevokeTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	model := grantTokens()
	for _, tok := range model {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	bob := "bob " + awkward
	filters := []storage.TokenFilter{
		{GrantID: "g1"},
		{Subject: "alice", ClientID: "web"},
		{GrantID: "g1"}, // again: nothing left to revoke
		{Subject: "carol"},
		{GrantID: "g2", Subject: bob},
		{GrantID: "g3", Subject: bob, ClientID: "web"}, // g3 is app's: nothing
		{ClientID: "app"},
	}
	denied := map[string]bool{} // access tokens that must be on the deny list
	for i, f := range filters {
		when := west(at(time.Duration(i+1) * time.Minute))
		want := 0
		for j, tok := range model {
			if !matches(f, tok) {
				continue
			}
			if !tok.RevokedAt.IsZero() {
				continue
			}
			model[j].RevokedAt = when
			want++
			if tok.Kind == storage.KindAccess && tok.ExpiresAt.After(when) {
				denied[tok.ID] = true
			}
		}
		n, err := s.RevokeTokens(ctx, f, when)
		must(t, err, "RevokeTokens "+fmtFilter(f))
		if n != want {
			t.Errorf("RevokeTokens %s revoked %d tokens, want %d", fmtFilter(f), n, want)
		}
		for _, tok := range model {
			got, err := s.GetTokenByHash(ctx, tok.Hash)
			must(t, err, "GetTokenByHash "+tok.ID)
			checkEqual(t, fmt.Sprintf("token %s after RevokeTokens %s", tok.ID, fmtFilter(f)), got, tok)
		}
	}
	// Tokens no filter matched are neither revoked nor deny-listed.
	for _, tok := range model {
		got, err := s.IsRevoked(ctx, tok.ID)
		must(t, err, "IsRevoked "+tok.ID)
		switch {
		case denied[tok.ID] && !got:
			t.Errorf("IsRevoked(%s) = false after RevokeTokens matched the unexpired access token", tok.ID)
		case tok.RevokedAt.IsZero() && got:
			t.Errorf("IsRevoked(%s) = true, but no RevokeTokens matched it", tok.ID)
		}
	}
	for _, id := range []string{"r-g4", "a-other"} {
		got, err := s.GetTokenByHash(ctx, tokenHash(id))
		must(t, err, "GetTokenByHash")
		if !got.RevokedAt.IsZero() {
			t.Errorf("token %s was revoked, but no filter matched it", id)
		}
	}
}

// testRevokeTokensDenyListExpires checks that the deny-list entries RevokeTokens makes
// expire with their tokens: DeleteExpired past the tokens' expiry removes them.
func testRevokeTokensDenyListExpires(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	a1, a2 := newToken("a1", "app"), newToken("a2", "app")
	a1.GrantID, a2.GrantID = "g", "g"
	a2.ExpiresAt = at(48 * time.Hour)
	r := refreshToken("r1", "app", "alice", "g")
	for _, tok := range []storage.Token{a1, a2, r} {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	n, err := s.RevokeTokens(ctx, storage.TokenFilter{GrantID: "g"}, at(0))
	must(t, err, "RevokeTokens")
	if n != 3 {
		t.Errorf("RevokeTokens revoked %d tokens, want 3", n)
	}
	for _, id := range []string{"a1", "a2"} {
		got, err := s.IsRevoked(ctx, id)
		must(t, err, "IsRevoked")
		if !got {
			t.Errorf("IsRevoked(%s) = false after RevokeTokens", id)
		}
	}
	// Past a1's expiry, before a2's: a1's entry goes, a2's stays.
	deleteAll(t, "DeleteExpired", 2, 1000, func() (int, error) { return s.DeleteExpired(ctx, at(2*time.Hour), 1000) })
	for id, want := range map[string]bool{"a1": false, "a2": true} {
		got, err := s.IsRevoked(ctx, id)
		must(t, err, "IsRevoked")
		if got != want {
			t.Errorf("IsRevoked(%s) after DeleteExpired past a1's expiry = %v, want %v", id, got, want)
		}
	}
}

func testRevokeTokensEmptyFilter(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	toks := grantTokens()
	for _, tok := range toks {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	if _, err := s.RevokeTokens(ctx, storage.TokenFilter{}, at(0)); err == nil {
		t.Error("RevokeTokens with an empty filter returned nil, want an error")
	}
	if got, err := s.ListTokens(ctx, storage.TokenFilter{}, at(0)); err == nil {
		t.Errorf("ListTokens with an empty filter returned %d tokens and nil, want an error", len(got))
	}
	for _, tok := range toks {
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash "+tok.ID)
		checkEqual(t, "token after RevokeTokens with an empty filter", got, tok)
		denied, err := s.IsRevoked(ctx, tok.ID)
		must(t, err, "IsRevoked")
		if denied {
			t.Errorf("IsRevoked(%s) = true after RevokeTokens with an empty filter", tok.ID)
		}
	}
}

func tokenKey(tok storage.Token) string { return tok.ID }

// listModel is the suite's reading of ListTokens.
func listModel(toks []storage.Token, f storage.TokenFilter, now time.Time) []storage.Token {
	var out []storage.Token
	for _, tok := range toks {
		if matches(f, tok) && tok.RevokedAt.IsZero() && tok.ExpiresAt.After(now) {
			out = append(out, tok)
		}
	}
	slices.SortFunc(out, func(a, b storage.Token) int {
		return cmp.Or(a.IssuedAt.Compare(b.IssuedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func testListTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	toks := grantTokens()
	// Around now: expiring exactly at now (expired), a microsecond after (listed).
	now := at(0)
	atNow := newToken("a-now", "app")
	atNow.Subject, atNow.GrantID, atNow.ExpiresAt = "alice", "g1", west(now)
	soon := newToken("a-soon", "app")
	soon.Subject, soon.GrantID, soon.ExpiresAt = "alice", "g1", now.Add(time.Microsecond)
	toks = append(toks, atNow, soon)
	for _, tok := range toks {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	bob := "bob " + awkward
	for _, tc := range []struct {
		f    storage.TokenFilter
		want int // a guard on the model
	}{
		// a-g1, r-g1, r-used (used, still listed), a-soon; not a-g1-old (expired), a-g1-rev
		// (revoked), a-now (expires at now).
		{storage.TokenFilter{GrantID: "g1"}, 4},
		{storage.TokenFilter{Subject: "alice"}, 6},
		{storage.TokenFilter{Subject: bob}, 4},
		{storage.TokenFilter{ClientID: "web"}, 5},
		{storage.TokenFilter{Subject: "alice", ClientID: "web"}, 2},
		{storage.TokenFilter{GrantID: "g2", Subject: bob}, 1},
		{storage.TokenFilter{GrantID: "g3", Subject: bob, ClientID: "app"}, 2},
		{storage.TokenFilter{GrantID: "g3", Subject: bob, ClientID: "web"}, 0},
		{storage.TokenFilter{Subject: "app"}, 1},
		{storage.TokenFilter{Subject: "carol"}, 0},
		{storage.TokenFilter{GrantID: "g"}, 0},
	} {
		want := listModel(toks, tc.f, now)
		if len(want) != tc.want {
			t.Fatalf("the test's model lists %d tokens for %s, want %d", len(want), fmtFilter(tc.f), tc.want)
		}
		got, err := s.ListTokens(ctx, tc.f, west(now))
		must(t, err, "ListTokens "+fmtFilter(tc.f))
		checkList(t, "ListTokens "+fmtFilter(tc.f), got, want, tokenKey)
	}

	// Later, fewer tokens are unexpired.
	later := at(90 * time.Minute)
	got, err := s.ListTokens(ctx, storage.TokenFilter{ClientID: "web"}, later)
	must(t, err, "ListTokens later")
	checkList(t, "ListTokens later", got, listModel(toks, storage.TokenFilter{ClientID: "web"}, later), tokenKey)
}

// testListTokensOrder checks the order: IssuedAt as an instant, then ID.
func testListTokensOrder(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	mk := func(id string, issued time.Time) storage.Token {
		tok := refreshToken(id, "app", "alice", "g")
		tok.IssuedAt = issued
		return tok
	}
	toks := []storage.Token{
		// Latest instant, earliest wall clock.
		mk("t1", west(at(2*time.Hour))),
		mk("t2", at(time.Microsecond)),
		mk("t3", at(0)),
		// Same instant as t3, in another zone: after t3 by id.
		mk("t4", west(at(0))),
		mk("t0", at(0)),
	}
	for _, tok := range toks {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	got, err := s.ListTokens(ctx, storage.TokenFilter{GrantID: "g"}, at(0))
	must(t, err, "ListTokens")
	checkList(t, "ListTokens", got, []storage.Token{toks[4], toks[2], toks[3], toks[1], toks[0]}, tokenKey)
}
