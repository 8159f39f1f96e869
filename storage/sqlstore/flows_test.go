package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// runFlowsContract checks the user-facing aggregates where SQL can go wrong: the new token
// columns, single use inside and outside transactions, filtered revocation and its deny list,
// byte order of the listed names, and the expiry of codes and sessions.
func runFlowsContract(t *testing.T, open func(t *testing.T) *Store) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	us := func(tm time.Time) time.Time { return tm.UTC().Truncate(time.Microsecond) }

	t.Run("RoundTrips", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		tok := storage.Token{ID: "t1", Hash: []byte("h1"), Kind: storage.KindRefresh, ClientID: "c",
			Subject: "u", Scopes: []string{"openid"}, GrantID: "g1", AuthTime: t0.Add(-time.Minute),
			IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), UsedAt: t0.Add(time.Second)}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		want := tok
		want.AuthTime, want.IssuedAt, want.ExpiresAt, want.UsedAt = us(tok.AuthTime), us(tok.IssuedAt), us(tok.ExpiresAt), us(tok.UsedAt)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetTokenByHash = %v\n got %+v\nwant %+v", err, got, want)
		}

		u := storage.User{ID: "u1", Username: "alice", Email: "a@example.com", EmailVerified: true,
			Name: "Alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
			Disabled: false, Roles: []string{"admin"}, Declared: true, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		for _, dup := range []storage.User{{ID: "u1", Username: "other"}, {ID: "u2", Username: "alice"}} {
			if err := s.CreateUser(ctx, dup); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("CreateUser(%+v) = %v, want ErrConflict", dup, err)
			}
		}
		gotU, err := s.GetUserByUsername(ctx, "alice")
		wantU := u
		wantU.CreatedAt, wantU.UpdatedAt = us(t0), us(t0)
		if err != nil || !reflect.DeepEqual(gotU, wantU) {
			t.Fatalf("GetUserByUsername = %v\n got %+v\nwant %+v", err, gotU, wantU)
		}
		if _, err := s.GetUserByUsername(ctx, "Alice"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetUserByUsername is not exact: %v", err)
		}
		if err := s.CreateUser(ctx, storage.User{ID: "u2", Username: "bob"}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateUser(ctx, storage.User{ID: "u2", Username: "alice"}); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("UpdateUser to a taken username: %v", err)
		}
		if err := s.UpdateUser(ctx, storage.User{ID: "u3", Username: "carol"}); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateUser(absent): %v", err)
		}
		u.Disabled, u.Roles, u.CreatedAt, u.UpdatedAt = true, nil, time.Time{}, t0.Add(time.Hour)
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if gotU, _ := s.GetUser(ctx, "u1"); !gotU.Disabled || gotU.Roles != nil || !gotU.CreatedAt.Equal(us(t0)) || !gotU.UpdatedAt.Equal(us(t0.Add(time.Hour))) {
			t.Fatalf("after UpdateUser: %+v", gotU)
		}

		c := storage.AuthCode{Hash: []byte{0, 1, 2}, GrantID: "g1", ClientID: "c", UserID: "u1",
			RedirectURI: "https://app.example/cb", Scopes: []string{"openid", "profile"},
			CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
			Nonce: "n", AuthTime: t0, SessionID: "s1", IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateCode(ctx, c); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate CreateCode: %v", err)
		}
		gotC, err := s.ConsumeCode(ctx, c.Hash, t0.Add(time.Second))
		wantC := c
		wantC.AuthTime, wantC.IssuedAt, wantC.ExpiresAt, wantC.UsedAt = us(t0), us(t0), us(c.ExpiresAt), us(t0.Add(time.Second))
		if err != nil || !reflect.DeepEqual(gotC, wantC) {
			t.Fatalf("ConsumeCode = %v\n got %+v\nwant %+v", err, gotC, wantC)
		}

		ss := storage.Session{ID: "s1", Hash: []byte("sh"), UserID: "u1", AuthTime: t0, CreatedAt: t0,
			ExpiresAt: t0.Add(time.Hour), UserAgent: "Mozilla/5.0 (X11)", IP: "2001:db8::1"}
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		for _, dup := range []storage.Session{{ID: "s1", Hash: []byte("x")}, {ID: "s2", Hash: []byte("sh")}} {
			if err := s.CreateSession(ctx, dup); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("CreateSession(%s) = %v, want ErrConflict", dup.ID, err)
			}
		}
		gotS, err := s.GetSessionByHash(ctx, []byte("sh"))
		wantS := ss
		wantS.AuthTime, wantS.CreatedAt, wantS.ExpiresAt = us(t0), us(t0), us(ss.ExpiresAt)
		if err != nil || !reflect.DeepEqual(gotS, wantS) {
			t.Fatalf("GetSessionByHash = %v\n got %+v\nwant %+v", err, gotS, wantS)
		}

		if err := s.PutConsent(ctx, storage.Consent{UserID: "u1", ClientID: "c", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutConsent(ctx, storage.Consent{UserID: "u1", ClientID: "c", Scopes: []string{"email"}, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		gotCo, err := s.GetConsent(ctx, "u1", "c")
		if err != nil || !gotCo.CreatedAt.Equal(us(t0)) || !gotCo.UpdatedAt.Equal(us(t0.Add(time.Hour))) || !reflect.DeepEqual(gotCo.Scopes, []string{"email"}) {
			t.Fatalf("consent after two puts: %v %+v", err, gotCo)
		}
	})

	t.Run("SingleUse", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		code := storage.AuthCode{Hash: []byte("code"), GrantID: "g", ClientID: "c", UserID: "u", ExpiresAt: t0}
		tok := storage.Token{ID: "r", Hash: []byte("refresh"), Kind: storage.KindRefresh, GrantID: "g", ExpiresAt: t0}
		if err := s.CreateCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		first, second := us(t0.Add(time.Second)), us(t0.Add(2*time.Second))
		// Inside a transaction that rolls back: used, then unused again.
		errBack := errors.New("back")
		err := s.InTx(ctx, func(tx storage.Store) error {
			c, err := tx.ConsumeCode(ctx, code.Hash, first)
			if err != nil || !c.UsedAt.Equal(first) {
				return fmt.Errorf("ConsumeCode in tx = %+v, %v", c, err)
			}
			if c, err := tx.ConsumeCode(ctx, code.Hash, second); !errors.Is(err, storage.ErrAlreadyUsed) || !c.UsedAt.Equal(first) {
				return fmt.Errorf("second ConsumeCode in tx = %+v, %v", c, err)
			}
			r, err := tx.UseToken(ctx, tok.Hash, first)
			if err != nil || !r.UsedAt.Equal(first) {
				return fmt.Errorf("UseToken in tx = %+v, %v", r, err)
			}
			if r, err := tx.UseToken(ctx, tok.Hash, second); !errors.Is(err, storage.ErrAlreadyUsed) || !r.UsedAt.Equal(first) {
				return fmt.Errorf("second UseToken in tx = %+v, %v", r, err)
			}
			return errBack
		})
		if !errors.Is(err, errBack) {
			t.Fatal(err)
		}
		// Outside: the first use wins, the second sees it.
		if c, err := s.ConsumeCode(ctx, code.Hash, second); err != nil || !c.UsedAt.Equal(second) {
			t.Fatalf("ConsumeCode after rollback = %+v, %v", c, err)
		}
		if c, err := s.ConsumeCode(ctx, code.Hash, first); !errors.Is(err, storage.ErrAlreadyUsed) || !c.UsedAt.Equal(second) || c.GrantID != "g" {
			t.Fatalf("replayed ConsumeCode = %+v, %v", c, err)
		}
		if _, err := s.ConsumeCode(ctx, []byte("nope"), first); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ConsumeCode(absent) = %v", err)
		}
		if _, err := s.ConsumeCode(ctx, nil, first); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ConsumeCode(nil) = %v", err)
		}
		if _, err := s.ConsumeCode(ctx, []byte("nope"), time.Time{}); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ConsumeCode at the zero time = %v, want a plain error", err)
		}
		if r, err := s.UseToken(ctx, tok.Hash, second); err != nil || !r.UsedAt.Equal(second) {
			t.Fatalf("UseToken after rollback = %+v, %v", r, err)
		}
		if r, err := s.UseToken(ctx, tok.Hash, first); !errors.Is(err, storage.ErrAlreadyUsed) || !r.UsedAt.Equal(second) {
			t.Fatalf("replayed UseToken = %+v, %v", r, err)
		}
		// A revoked token is refused and stays unused.
		rev := storage.Token{ID: "rev", Hash: []byte("revoked"), Kind: storage.KindRefresh, RevokedAt: t0}
		if err := s.CreateToken(ctx, rev); err != nil {
			t.Fatal(err)
		}
		if r, err := s.UseToken(ctx, rev.Hash, first); !errors.Is(err, storage.ErrAlreadyUsed) || !r.UsedAt.IsZero() || !r.RevokedAt.Equal(us(t0)) {
			t.Fatalf("UseToken(revoked) = %+v, %v", r, err)
		}
		if _, err := s.UseToken(ctx, []byte("nope"), first); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UseToken(absent) = %v", err)
		}
	})

	t.Run("RevokeTokens", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		now := t0
		toks := []storage.Token{
			{ID: "a-live", Kind: storage.KindAccess, GrantID: "g", Subject: "u", ClientID: "c", ExpiresAt: now.Add(time.Hour)},
			{ID: "a-forever", Kind: storage.KindAccess, GrantID: "g", Subject: "u", ClientID: "c"},
			{ID: "a-expired", Kind: storage.KindAccess, GrantID: "g", Subject: "u", ClientID: "c", ExpiresAt: now.Add(-time.Second)},
			{ID: "a-at-now", Kind: storage.KindAccess, GrantID: "g", Subject: "u", ClientID: "c", ExpiresAt: now},
			{ID: "a-revoked", Kind: storage.KindAccess, GrantID: "g", Subject: "u", ClientID: "c", ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(-time.Hour)},
			{ID: "r-live", Kind: storage.KindRefresh, GrantID: "g", Subject: "u", ClientID: "c", ExpiresAt: now.Add(time.Hour)},
			{ID: "other-grant", Kind: storage.KindAccess, GrantID: "h", Subject: "u", ClientID: "c", ExpiresAt: now.Add(time.Hour)},
			{ID: "other-client", Kind: storage.KindAccess, GrantID: "g2", Subject: "u", ClientID: "d", ExpiresAt: now.Add(time.Hour)},
		}
		for _, tk := range toks {
			tk.Hash = []byte(tk.ID)
			if err := s.CreateToken(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RevokeTokens(ctx, storage.TokenFilter{}, now); err == nil {
			t.Fatal("RevokeTokens with an empty filter succeeded")
		}
		if _, err := s.ListTokens(ctx, storage.TokenFilter{}, now); err == nil {
			t.Fatal("ListTokens with an empty filter succeeded")
		}
		list, err := s.ListTokens(ctx, storage.TokenFilter{Subject: "u", ClientID: "c"}, now)
		var ids []string
		for _, tk := range list {
			ids = append(ids, tk.ID)
		}
		// All IssuedAt are zero: ordered by id, in byte order.
		if want := []string{"a-forever", "a-live", "other-grant", "r-live"}; err != nil || !reflect.DeepEqual(ids, want) {
			t.Fatalf("ListTokens = %q, %v; want %q", ids, err, want)
		}
		n, err := s.RevokeTokens(ctx, storage.TokenFilter{GrantID: "g", ClientID: "c"}, now)
		if err != nil || n != 5 {
			t.Fatalf("RevokeTokens = %d, %v; want 5", n, err)
		}
		for id, want := range map[string]bool{"a-live": true, "a-forever": true, "a-revoked": true,
			"a-expired": false, "a-at-now": false, "r-live": false, "other-grant": false, "other-client": false} {
			if got, err := s.IsRevoked(ctx, id); err != nil || got != want {
				t.Errorf("IsRevoked(%s) = %v, %v; want %v", id, got, err, want)
			}
		}
		if got, _ := s.GetTokenByHash(ctx, []byte("a-revoked")); !got.RevokedAt.Equal(us(now.Add(-time.Hour))) {
			t.Errorf("RevokedAt of a token revoked before changed: %v", got.RevokedAt)
		}
		if got, _ := s.GetTokenByHash(ctx, []byte("a-expired")); !got.RevokedAt.Equal(us(now)) {
			t.Errorf("expired token not revoked: %v", got.RevokedAt)
		}
		// The deny-list entry expires with the token.
		// All tokens but a-forever, and the entries of a-live and a-revoked.
		if n, err := s.DeleteExpired(ctx, now.Add(time.Hour+time.Microsecond), 100); err != nil || n != len(toks)-1+2 {
			t.Fatalf("DeleteExpired = %d, %v", n, err)
		}
		if ok, _ := s.IsRevoked(ctx, "a-live"); ok {
			t.Error("deny-list entry outlived its token")
		}
		if ok, _ := s.IsRevoked(ctx, "a-forever"); !ok {
			t.Error("deny-list entry of a token without expiry deleted")
		}
		if n, err := s.RevokeTokens(ctx, storage.TokenFilter{GrantID: "g"}, now); err != nil || n != 0 {
			t.Fatalf("RevokeTokens again = %d, %v", n, err)
		}
	})

	t.Run("DeleteUser", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		for _, u := range []string{"u", "v"} {
			if err := s.CreateUser(ctx, storage.User{ID: u, Username: u}); err != nil {
				t.Fatal(err)
			}
			if err := s.PutConsent(ctx, storage.Consent{UserID: u, ClientID: "c"}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSession(ctx, storage.Session{ID: "s-" + u, Hash: []byte(u), UserID: u}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, storage.Token{ID: "t-" + u, Hash: []byte(u), Kind: storage.KindAccess, Subject: u, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteUser(ctx, "u"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, "u"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("DeleteUser twice: %v", err)
		}
		if _, err := s.GetUser(ctx, "u"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("deleted user: %v", err)
		}
		if _, err := s.GetConsent(ctx, "u", "c"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("consent of a deleted user: %v", err)
		}
		if _, err := s.GetSessionByHash(ctx, []byte("u")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("session of a deleted user: %v", err)
		}
		if got, _ := s.GetTokenByHash(ctx, []byte("u")); got.RevokedAt.IsZero() {
			t.Fatal("token of a deleted user not revoked")
		}
		if ok, _ := s.IsRevoked(ctx, "t-u"); !ok {
			t.Fatal("access token of a deleted user not deny-listed")
		}
		// The other user is untouched.
		if got, _ := s.GetTokenByHash(ctx, []byte("v")); !got.RevokedAt.IsZero() {
			t.Fatal("token of another user revoked")
		}
		if _, err := s.GetSessionByHash(ctx, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if l, _ := s.ListConsents(ctx, "v"); len(l) != 1 {
			t.Fatalf("consents of another user: %+v", l)
		}
	})

	t.Run("ByteOrder", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		// Byte order, not a linguistic collation: upper case before lower, '-' before
		// letters, non-ASCII last.
		names := []string{"Zed", "a-b", "ab", "alice", "Ålice"}
		for i := len(names) - 1; i >= 0; i-- {
			n := names[i]
			if err := s.CreateUser(ctx, storage.User{ID: "id-" + n, Username: n}); err != nil {
				t.Fatal(err)
			}
			if err := s.PutConsent(ctx, storage.Consent{UserID: "u", ClientID: n}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, storage.Token{ID: n, Hash: []byte(n), Subject: "u", IssuedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSession(ctx, storage.Session{ID: n, Hash: []byte(n), UserID: "u", CreatedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		users, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		consents, err := s.ListConsents(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := s.ListTokens(ctx, storage.TokenFilter{Subject: "u"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := s.ListSessions(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			if users[i].Username != n || consents[i].ClientID != n || tokens[i].ID != n || sessions[i].ID != n {
				t.Fatalf("position %d: user %q, consent %q, token %q, session %q; want %q",
					i, users[i].Username, consents[i].ClientID, tokens[i].ID, sessions[i].ID, n)
			}
		}
	})

	t.Run("DeleteExpiredCodesSessions", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		now := t0
		err := s.InTx(ctx, func(tx storage.Store) error {
			for i := range 600 {
				exp := now.Add(-time.Minute)
				if i%100 == 0 {
					exp = now
				}
				if err := tx.CreateCode(ctx, storage.AuthCode{Hash: fmt.Appendf(nil, "c%d", i), ExpiresAt: exp}); err != nil {
					return err
				}
				if err := tx.CreateSession(ctx, storage.Session{ID: fmt.Sprint("s", i), Hash: fmt.Appendf(nil, "s%d", i), ExpiresAt: exp}); err != nil {
					return err
				}
			}
			return tx.CreateSession(ctx, storage.Session{ID: "forever", Hash: []byte("forever")})
		})
		if err != nil {
			t.Fatal(err)
		}
		// 594 codes and 594 sessions are due.
		if n, err := s.DeleteExpired(ctx, now, 700); err != nil || n != 700 {
			t.Fatalf("DeleteExpired(700) = %d, %v", n, err)
		}
		if n, err := s.DeleteExpired(ctx, now, 10000); err != nil || n != 2*594-700 {
			t.Fatalf("DeleteExpired(10000) = %d, %v", n, err)
		}
		if _, err := s.ConsumeCode(ctx, []byte("c100"), now); err != nil {
			t.Fatalf("unexpired code: %v", err)
		}
		if _, err := s.GetSessionByHash(ctx, []byte("forever")); err != nil {
			t.Fatalf("session without expiry: %v", err)
		}
	})
}

// testSingleUseAcrossStores consumes one code and uses one token from several Stores on one
// database at once (several nodes, or several processes on one SQLite file): exactly one call
// wins each race, and every other sees the winner's time.
func testSingleUseAcrossStores(t *testing.T, dsn string) {
	ctx := context.Background()
	const stores, each = 3, 6
	var ss []*Store
	for range stores {
		s, err := Open(ctx, dsn, Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		ss = append(ss, s)
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for round := range 5 {
		code := storage.AuthCode{Hash: fmt.Appendf(nil, "code-%d", round), GrantID: "g", ExpiresAt: base.Add(time.Hour)}
		tok := storage.Token{ID: fmt.Sprint("rt-", round), Hash: fmt.Appendf(nil, "rt-%d", round), Kind: storage.KindRefresh, ExpiresAt: base.Add(time.Hour)}
		if err := ss[0].CreateCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		if err := ss[0].CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		type result struct {
			i      int
			err    error
			usedAt time.Time
		}
		run := func(name string, call func(s *Store, i int, at time.Time) (time.Time, error)) {
			results := make(chan result, stores*each)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range stores * each {
				wg.Go(func() {
					<-start
					at := base.Add(time.Duration(i+1) * time.Second)
					var usedAt time.Time
					var err error
					if i%4 == 0 {
						// Some inside transactions, like the token endpoint.
						err = ss[i%stores].InTx(ctx, func(tx storage.Store) error {
							var err error
							usedAt, err = call(tx.(*Store), i, at)
							return err
						})
					} else {
						usedAt, err = call(ss[i%stores], i, at)
					}
					results <- result{i, err, usedAt}
				})
			}
			close(start)
			wg.Wait()
			close(results)
			winners := 0
			var won time.Time
			var all []result
			for r := range results {
				all = append(all, r)
				if r.err == nil {
					winners++
					won = r.usedAt
					if !won.Equal(base.Add(time.Duration(r.i+1) * time.Second)) {
						t.Errorf("%s: winner %d has UsedAt %v", name, r.i, won)
					}
				} else if !errors.Is(r.err, storage.ErrAlreadyUsed) {
					t.Errorf("%s: call %d: %v", name, r.i, r.err)
				}
			}
			if winners != 1 {
				t.Fatalf("%s round %d: %d winners", name, round, winners)
			}
			for _, r := range all {
				if r.err != nil && !r.usedAt.Equal(won) {
					t.Errorf("%s: loser %d saw UsedAt %v, want the winner's %v", name, r.i, r.usedAt, won)
				}
			}
		}
		run("ConsumeCode", func(s *Store, _ int, at time.Time) (time.Time, error) {
			c, err := s.ConsumeCode(ctx, code.Hash, at)
			return c.UsedAt, err
		})
		run("UseToken", func(s *Store, _ int, at time.Time) (time.Time, error) {
			r, err := s.UseToken(ctx, tok.Hash, at)
			return r.UsedAt, err
		})
	}
}

func TestSingleUseAcrossStores(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testSingleUseAcrossStores(t, filepath.Join(t.TempDir(), "g.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testSingleUseAcrossStores(t, postgresSchemaDSN(t))
	})
}

// TestRevokeDuringRotation revokes a grant on PostgreSQL while another node rotates one of
// its refresh tokens in a transaction: the revocation waits for the rotation's row lock, and
// must then also revoke (and deny-list) the tokens the rotation committed. (SQLite runs one
// writer at a time, so there the revocation simply comes after the rotation.)
func TestRevokeDuringRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgresSchemaDSN(t)
	rotator := openDSN(t, dsn)
	app := "gh_revoke_" + randomHex(t, 6)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	revoker := openDSN(t, u.String())

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := storage.Token{ID: "rt-old", Hash: []byte("rt-old"), Kind: storage.KindRefresh, GrantID: "g", ExpiresAt: now.Add(time.Hour)}
	if err := rotator.CreateToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	revoked := make(chan int, 1)
	err = rotator.InTx(ctx, func(tx storage.Store) error {
		if _, err := tx.UseToken(ctx, old.Hash, now); err != nil {
			return err
		}
		for _, tk := range []storage.Token{
			{ID: "rt-new", Hash: []byte("rt-new"), Kind: storage.KindRefresh, GrantID: "g", ExpiresAt: now.Add(time.Hour)},
			{ID: "at-new", Hash: []byte("at-new"), Kind: storage.KindAccess, GrantID: "g", ExpiresAt: now.Add(time.Hour)},
		} {
			if err := tx.CreateToken(ctx, tk); err != nil {
				return err
			}
		}
		go func() {
			n, err := revoker.RevokeTokens(ctx, storage.TokenFilter{GrantID: "g"}, now)
			if err != nil {
				t.Error(err)
			}
			revoked <- n
		}()
		// Commit only once the revocation waits for the lock this transaction holds.
		for {
			var waiting int
			if err := revoker.w.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting); err != nil {
				return err
			}
			if waiting > 0 {
				return nil
			}
			select {
			case n := <-revoked:
				return fmt.Errorf("RevokeTokens returned %d without waiting for the rotation", n)
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := <-revoked; n != 3 {
		t.Errorf("RevokeTokens revoked %d tokens, want 3", n)
	}
	for _, h := range []string{"rt-old", "rt-new", "at-new"} {
		if got, err := rotator.GetTokenByHash(ctx, []byte(h)); err != nil || got.RevokedAt.IsZero() {
			t.Errorf("%s after the revocation: %+v, %v", h, got, err)
		}
	}
	if ok, err := rotator.IsRevoked(ctx, "at-new"); err != nil || !ok {
		t.Errorf("IsRevoked(at-new) = %v, %v", ok, err)
	}
}

// openDSN opens a migrated store on dsn, closed when the test ends.
func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
