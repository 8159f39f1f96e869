package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Tests of what personal access tokens need: Name and LastUsedAt round-trip, the Kind
// filter, and TouchToken.

func personalToken(id, subject string) storage.Token {
	tok := newToken(id, "")
	tok.Kind = storage.KindPersonal
	tok.Subject, tok.GrantID = subject, ""
	tok.Name = "ci deploy " + awkward
	return tok
}

func testTokenPersonalFields(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := personalToken("p1", "alice")
	tok.LastUsedAt = west(at(time.Minute))
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "personal token", got, tok)
}

// testTokenKindFilter: Kind narrows ListTokens and RevokeTokens, and Kind alone is an
// empty filter.
func testTokenKindFilter(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	pat := personalToken("p1", "alice")
	pat2 := personalToken("p2", "alice")
	pat2.IssuedAt = at(time.Second)
	other := personalToken("p3", "bob")
	access := newToken("a1", "app")
	access.Subject = "alice"
	refresh := newToken("r1", "app")
	refresh.Kind, refresh.Subject = storage.KindRefresh, "alice"
	for _, tok := range []storage.Token{pat, pat2, other, access, refresh} {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}

	listIDs := func(f storage.TokenFilter) []string {
		t.Helper()
		list, err := s.ListTokens(ctx, f, at(0))
		must(t, err, "ListTokens")
		var ids []string
		for _, tok := range list {
			ids = append(ids, tok.ID)
		}
		return ids
	}
	checkEqual(t, "ListTokens(alice, personal)", listIDs(storage.TokenFilter{Subject: "alice", Kind: storage.KindPersonal}), []string{"p1", "p2"})
	checkEqual(t, "ListTokens(alice, refresh)", listIDs(storage.TokenFilter{Subject: "alice", Kind: storage.KindRefresh}), []string{"r1"})
	checkEqual(t, "ListTokens(app, personal)", listIDs(storage.TokenFilter{ClientID: "app", Kind: storage.KindPersonal}), []string(nil))
	checkEqual(t, "ListTokens(alice)", listIDs(storage.TokenFilter{Subject: "alice"}), []string{"a1", "p1", "r1", "p2"})
	list, err := s.ListTokens(ctx, storage.TokenFilter{Subject: "alice", Kind: storage.KindPersonal}, at(0))
	must(t, err, "ListTokens")
	if len(list) == 2 {
		checkEqual(t, "listed personal token", list[0], pat)
	}

	if _, err := s.ListTokens(ctx, storage.TokenFilter{Kind: storage.KindPersonal}, at(0)); err == nil {
		t.Error("ListTokens with only Kind set: no error")
	}
	if _, err := s.RevokeTokens(ctx, storage.TokenFilter{Kind: storage.KindPersonal}, at(0)); err == nil {
		t.Error("RevokeTokens with only Kind set: no error")
	}
	for _, tok := range []storage.Token{pat, other} {
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash "+tok.ID)
		checkEqual(t, "token after RevokeTokens with only Kind set", got, tok)
	}

	revokedAt := west(at(time.Minute))
	n, err := s.RevokeTokens(ctx, storage.TokenFilter{Subject: "alice", Kind: storage.KindPersonal}, revokedAt)
	must(t, err, "RevokeTokens")
	if n != 2 {
		t.Errorf("RevokeTokens(alice, personal) revoked %d, want 2", n)
	}
	for _, tok := range []storage.Token{pat, pat2} {
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash "+tok.ID)
		want := tok
		want.RevokedAt = revokedAt
		checkEqual(t, "revoked personal token", got, want)
	}
	for _, tok := range []storage.Token{other, access, refresh} {
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash "+tok.ID)
		checkEqual(t, "token RevokeTokens(alice, personal) did not match", got, tok)
	}
	if ok, err := s.IsRevoked(ctx, access.ID); err != nil || ok {
		t.Errorf("IsRevoked(%s) = %v, %v after revoking only personal tokens; want false", access.ID, ok, err)
	}
	checkEqual(t, "ListTokens(alice) after revoking personal tokens", listIDs(storage.TokenFilter{Subject: "alice"}), []string{"a1", "r1"})
}

// testTokenTouch: TouchToken only moves LastUsedAt forward, changes nothing else, and is
// undone with its transaction.
func testTokenTouch(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := personalToken("p1", "alice")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	bystander := personalToken("p2", "alice")
	must(t, s.CreateToken(ctx, bystander), "CreateToken")
	get := func(what string, hash []byte) storage.Token {
		t.Helper()
		got, err := s.GetTokenByHash(ctx, hash)
		must(t, err, "GetTokenByHash "+what)
		return got
	}

	first := west(at(time.Minute))
	must(t, s.TouchToken(ctx, "p1", first), "TouchToken")
	want := tok
	want.LastUsedAt = first
	checkEqual(t, "touched token", get("touched", tok.Hash), want)
	checkEqual(t, "token not touched", get("bystander", bystander.Hash), bystander)

	// Earlier or equal times leave the first.
	must(t, s.TouchToken(ctx, "p1", at(30*time.Second)), "TouchToken earlier")
	must(t, s.TouchToken(ctx, "p1", at(time.Minute)), "TouchToken at the same instant")
	checkEqual(t, "token touched earlier", get("touched earlier", tok.Hash), want)

	// A later time moves it forward, by as little as a microsecond.
	later := at(time.Minute + time.Microsecond)
	must(t, s.TouchToken(ctx, "p1", later), "TouchToken later")
	want.LastUsedAt = later
	checkEqual(t, "token touched later", get("touched later", tok.Hash), want)

	checkErr(t, "TouchToken of an unknown token", s.TouchToken(ctx, "nope", first), storage.ErrNotFound)
	checkErr(t, "TouchToken of an unknown token in a tx", s.InTx(ctx, func(tx storage.Store) error {
		return tx.TouchToken(ctx, "nope", first)
	}), storage.ErrNotFound)

	// A touch in a transaction is seen through the tx Store, and a rollback undoes it.
	err := s.InTx(ctx, func(tx storage.Store) error {
		must(t, tx.TouchToken(ctx, "p1", at(time.Hour)), "TouchToken in tx")
		got, err := tx.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash in tx")
		if !got.LastUsedAt.Equal(at(time.Hour)) {
			t.Errorf("LastUsedAt in the tx = %v, want %v", got.LastUsedAt, at(time.Hour))
		}
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	checkEqual(t, "token after a rolled-back touch", get("after rollback", tok.Hash), want)

	// A committed one stays.
	must(t, s.InTx(ctx, func(tx storage.Store) error {
		return tx.TouchToken(ctx, "p1", at(time.Hour))
	}), "InTx")
	want.LastUsedAt = at(time.Hour)
	checkEqual(t, "token after a committed touch", get("after commit", tok.Hash), want)
}
