package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func txTests() []test {
	return []test{
		{"Commit", testTxCommit},
		{"ErrorRollsBack", testTxErrorRollsBack},
		{"PanicRollsBack", testTxPanicRollsBack},
		{"Nested", testTxNested},
		{"NestedOuterError", testTxNestedOuterError},
		{"NestedInnerError", testTxNestedInnerError},
		{"NoDirtyReads", testTxNoDirtyReads},
	}
}

// errBoom is the error the suite's transactions fail with.
var errBoom = errors.New("storagetest: boom")

// boom is the value the suite's transactions panic with.
type boom struct{ n int }

// txNow is the "now" of the housekeeping the transaction tests run.
func txNow() time.Time { return at(0) }

// seed writes the records the transaction tests change: one of each kind to keep, to update,
// to delete and (for DeleteExpired and DeleteAuditBefore) past its time.
func seed(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	createClients(t, s, "keep", "upd", "del")
	for _, name := range []string{"s-keep", "s-upd", "s-del"} {
		must(t, s.CreateScope(ctx, newScope(name, false)), "CreateScope")
	}
	expired := newToken("t-exp", "keep")
	expired.ExpiresAt = txNow().Add(-time.Minute)
	for _, tok := range []storage.Token{newToken("t-keep", "keep"), newToken("t-rev", "keep"), newToken("t-del", "del"), expired} {
		must(t, s.CreateToken(ctx, tok), "CreateToken")
	}
	must(t, s.RevokeJTI(ctx, storage.Revocation{JTI: "j-seed", ClientID: "keep", ExpiresAt: txNow().Add(time.Hour), RevokedAt: txNow()}), "RevokeJTI")
	must(t, s.RevokeJTI(ctx, storage.Revocation{JTI: "j-exp", ClientID: "keep", ExpiresAt: txNow().Add(-time.Hour), RevokedAt: txNow().Add(-2 * time.Hour)}), "RevokeJTI")
	for _, k := range []storage.SigningKey{
		newKey("k-cur", storage.KeyCurrent, at(-time.Hour), time.Time{}),
		newKey("k-upd", storage.KeyNext, at(-time.Minute), time.Time{}),
		newKey("k-prev", storage.KeyPrevious, at(-48*time.Hour), txNow().Add(-time.Second)),
	} {
		must(t, s.CreateKey(ctx, k), "CreateKey")
	}
	must(t, s.AppendAudit(ctx, newEvent("old", "keep", txNow().Add(-48*time.Hour)), newEvent("recent", "keep", txNow())), "AppendAudit")
}

// writeEverything makes one write of every kind through s (the tx Store) and checks each
// result. It returns the first error.
func writeEverything(ctx context.Context, s storage.Store) error {
	upd := publicClient("upd")
	upd.Name = "updated"
	steps := []struct {
		name string
		do   func() error
	}{
		{"CreateClient", func() error { return s.CreateClient(ctx, fullClient("new")) }},
		{"UpdateClient", func() error { return s.UpdateClient(ctx, upd) }},
		{"DeleteClient", func() error { return s.DeleteClient(ctx, "del") }},
		{"CreateScope", func() error { return s.CreateScope(ctx, newScope("s-new", true)) }},
		{"UpdateScope", func() error { return s.UpdateScope(ctx, newScope("s-upd", true)) }},
		{"DeleteScope", func() error { return s.DeleteScope(ctx, "s-del") }},
		{"CreateToken", func() error { return s.CreateToken(ctx, newToken("t-new", "new")) }},
		{"RevokeToken", func() error { return s.RevokeToken(ctx, "t-rev", txNow()) }},
		{"RevokeJTI", func() error {
			return s.RevokeJTI(ctx, storage.Revocation{JTI: "j-new", ClientID: "new", ExpiresAt: txNow().Add(time.Hour), RevokedAt: txNow()})
		}},
		{"CreateKey", func() error { return s.CreateKey(ctx, newKey("k-new", storage.KeyNext, at(0), time.Time{})) }},
		{"UpdateKey", func() error {
			return s.UpdateKey(ctx, newKey("k-upd", storage.KeyPrevious, time.Time{}, txNow().Add(time.Hour)))
		}},
		{"DeleteKey", func() error { return s.DeleteKey(ctx, "k-cur") }},
		{"AppendAudit", func() error {
			return s.AppendAudit(ctx, newEvent("tx.1", "new", txNow()), newEvent("tx.2", "new", txNow()))
		}},
		{"DeleteExpired", func() error {
			// t-exp, j-exp and k-prev.
			return wantCount(s.DeleteExpired(ctx, txNow(), 100))(3)
		}},
		{"DeleteAuditBefore", func() error {
			return wantCount(s.DeleteAuditBefore(ctx, txNow().Add(-24*time.Hour), 100))(1)
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return fmt.Errorf("%s in a transaction: %w", st.name, err)
		}
	}
	return nil
}

// wantCount turns the result of a Delete* call into an error unless it deleted want rows.
func wantCount(n int, err error) func(want int) error {
	return func(want int) error {
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("deleted %d rows, want %d", n, want)
		}
		return nil
	}
}

// checkWritten checks, through s, that the writes of writeEverything are there. It uses
// t.Errorf only, so it may run inside a transaction.
func checkWritten(t *testing.T, s storage.Store, where string) {
	t.Helper()
	ctx := t.Context()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	if _, err := s.GetClient(ctx, "new"); err != nil {
		fail("created client: %v", err)
	}
	if c, err := s.GetClient(ctx, "upd"); err != nil || c.Name != "updated" || !c.Public {
		fail("updated client: got %+v, %v", c, err)
	}
	if _, err := s.GetClient(ctx, "del"); !errors.Is(err, storage.ErrNotFound) {
		fail("deleted client: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetScope(ctx, "s-new"); err != nil {
		fail("created scope: %v", err)
	}
	if sc, err := s.GetScope(ctx, "s-upd"); err != nil || !sc.Default {
		fail("updated scope: got %+v, %v", sc, err)
	}
	if _, err := s.GetScope(ctx, "s-del"); !errors.Is(err, storage.ErrNotFound) {
		fail("deleted scope: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetTokenByHash(ctx, tokenHash("t-new")); err != nil {
		fail("created token: %v", err)
	}
	if tok, err := s.GetTokenByHash(ctx, tokenHash("t-rev")); err != nil || !tok.RevokedAt.Equal(txNow()) {
		fail("revoked token: got RevokedAt %s, %v", fmtTime(tok.RevokedAt), err)
	}
	for _, id := range []string{"t-del", "t-exp"} {
		if _, err := s.GetTokenByHash(ctx, tokenHash(id)); !errors.Is(err, storage.ErrNotFound) {
			fail("token %s (deleted): got %v, want ErrNotFound", id, err)
		}
	}
	for jti, want := range map[string]bool{"j-new": true, "j-seed": true, "j-exp": false} {
		if got, err := s.IsRevoked(ctx, jti); err != nil || got != want {
			fail("IsRevoked(%s) = %v, %v; want %v", jti, got, err, want)
		}
	}
	keys, err := s.ListKeys(ctx)
	var states []string
	for _, k := range keys {
		states = append(states, k.ID+"="+k.State)
	}
	if got, want := strings.Join(states, " "), "k-upd=previous k-new=next"; err != nil || got != want {
		fail("keys: got %q, %v; want %q", got, err, want)
	}
	events, err := s.ListAudit(ctx, storage.AuditFilter{})
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	if got, want := strings.Join(types, " "), "tx.2 tx.1 recent"; err != nil || got != want {
		fail("audit events: got %q, %v; want %q", got, err, want)
	}
}

// snapshot is everything the transaction tests can read back.
type snapshot struct {
	Clients []storage.Client
	Scopes  []storage.Scope
	Keys    []storage.SigningKey
	Audit   []storage.AuditEvent
	Tokens  []tokenState
	Revoked []bool
}

type tokenState struct {
	Found bool
	Token storage.Token
}

// takeSnapshot reads everything the transaction tests write.
func takeSnapshot(t *testing.T, s storage.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	var snap snapshot
	var err error
	snap.Clients, err = s.ListClients(ctx)
	must(t, err, "ListClients")
	snap.Scopes, err = s.ListScopes(ctx)
	must(t, err, "ListScopes")
	snap.Keys, err = s.ListKeys(ctx)
	must(t, err, "ListKeys")
	snap.Audit = listAll(t, s)
	for _, id := range []string{"t-keep", "t-rev", "t-del", "t-exp", "t-new"} {
		tok, err := s.GetTokenByHash(ctx, tokenHash(id))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetTokenByHash %s: %v", id, err)
		}
		snap.Tokens = append(snap.Tokens, tokenState{Found: err == nil, Token: tok})
	}
	for _, jti := range []string{"j-seed", "j-exp", "j-new"} {
		r, err := s.IsRevoked(ctx, jti)
		must(t, err, "IsRevoked")
		snap.Revoked = append(snap.Revoked, r)
	}
	return snap
}

// checkUnchanged checks that the store holds what it held at before.
func checkUnchanged(t *testing.T, s storage.Store, before snapshot, after string) {
	t.Helper()
	if d := diff("store", takeSnapshot(t, s), before); len(d) > 0 {
		t.Errorf("the store changed after %s:\n\t%s", after, strings.Join(d, "\n\t"))
	}
}

// checkUsable checks that the store still takes writes and transactions.
func checkUsable(t *testing.T, s storage.Store, after string) {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateClient(ctx, fullClient("usable-1")); err != nil {
		t.Fatalf("CreateClient after %s: %v", after, err)
	}
	err := s.InTx(ctx, func(tx storage.Store) error {
		return tx.CreateClient(ctx, fullClient("usable-2"))
	})
	if err != nil {
		t.Fatalf("InTx after %s: %v", after, err)
	}
	for _, id := range []string{"usable-1", "usable-2"} {
		if _, err := s.GetClient(ctx, id); err != nil {
			t.Errorf("GetClient %s after %s: %v", id, after, err)
		}
	}
}

func testTxCommit(t *testing.T, s storage.Store) {
	seed(t, s)
	err := s.InTx(t.Context(), func(tx storage.Store) error {
		if err := writeEverything(t.Context(), tx); err != nil {
			return err
		}
		checkWritten(t, tx, "reading through the tx Store")
		return nil
	})
	must(t, err, "InTx")
	checkWritten(t, s, "after commit")
	checkUsable(t, s, "a commit")
}

func testTxErrorRollsBack(t *testing.T, s storage.Store) {
	seed(t, s)
	before := takeSnapshot(t, s)
	err := s.InTx(t.Context(), func(tx storage.Store) error {
		if err := writeEverything(t.Context(), tx); err != nil {
			return err
		}
		checkWritten(t, tx, "reading through the tx Store")
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	checkErr(t, "InTx whose fn fails", err, errBoom)
	checkUnchanged(t, s, before, "a rolled back transaction")
	checkUsable(t, s, "a rollback")
}

func testTxPanicRollsBack(t *testing.T, s storage.Store) {
	seed(t, s)
	before := takeSnapshot(t, s)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = s.InTx(t.Context(), func(tx storage.Store) error {
			if err := tx.CreateClient(t.Context(), fullClient("before-nested")); err != nil {
				return err
			}
			// The panic starts in a nested InTx and crosses the outer one.
			return tx.InTx(t.Context(), func(tx storage.Store) error {
				if err := writeEverything(t.Context(), tx); err != nil {
					t.Error(err)
				}
				panic(boom{7})
			})
		})
	}()
	if recovered != (boom{7}) {
		t.Errorf("InTx whose fn panics with boom{7}: recovered %#v, want the same value", recovered)
	}
	checkUnchanged(t, s, before, "a transaction that panicked")
	checkUsable(t, s, "a panic")
}

func testTxNested(t *testing.T, s storage.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(outer storage.Store) error {
		if err := outer.CreateClient(ctx, fullClient("outer")); err != nil {
			return err
		}
		if err := outer.InTx(ctx, func(inner storage.Store) error {
			// The inner transaction sees the outer one's writes: it is the same one.
			if _, err := inner.GetClient(ctx, "outer"); err != nil {
				return fmt.Errorf("GetClient of the outer write in the nested InTx: %w", err)
			}
			return inner.CreateClient(ctx, fullClient("inner"))
		}); err != nil {
			return fmt.Errorf("nested InTx: %w", err)
		}
		if _, err := outer.GetClient(ctx, "inner"); err != nil {
			return fmt.Errorf("GetClient of the nested write in the outer InTx: %w", err)
		}
		return nil
	})
	must(t, err, "InTx")
	got, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "clients after nested transactions", got, []storage.Client{fullClient("inner"), fullClient("outer")}, clientKey)
}

func testTxNestedOuterError(t *testing.T, s storage.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(outer storage.Store) error {
		if err := outer.CreateClient(ctx, fullClient("outer")); err != nil {
			return err
		}
		if err := outer.InTx(ctx, func(inner storage.Store) error {
			return inner.CreateClient(ctx, fullClient("inner"))
		}); err != nil {
			return fmt.Errorf("nested InTx: %w", err)
		}
		// The nested InTx returned nil, but it committed nothing on its own: failing now
		// undoes its write too.
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	got, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "clients after a failed transaction with a nested one", got, nil, clientKey)
}

func testTxNestedInnerError(t *testing.T, s storage.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(outer storage.Store) error {
		if err := outer.CreateClient(ctx, fullClient("outer")); err != nil {
			return err
		}
		return outer.InTx(ctx, func(inner storage.Store) error {
			if err := inner.CreateClient(ctx, fullClient("inner")); err != nil {
				return err
			}
			return errBoom
		})
	})
	checkErr(t, "InTx", err, errBoom)
	got, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "clients after a failed nested transaction", got, nil, clientKey)
	checkUsable(t, s, "a failed nested transaction")
}

// testTxNoDirtyReads reads through the outer Store while a transaction that will roll back
// has written. Whenever the read runs (during the transaction, or after it if the backend
// makes it wait) it must not see the write.
func testTxNoDirtyReads(t *testing.T, s storage.Store) {
	ctx := t.Context()
	type result struct {
		getErr  error
		clients []storage.Client
		listErr error
	}
	done := make(chan result, 1)
	err := s.InTx(ctx, func(tx storage.Store) error {
		if err := tx.CreateClient(ctx, fullClient("dirty")); err != nil {
			return err
		}
		go func() {
			var r result
			_, r.getErr = s.GetClient(ctx, "dirty")
			r.clients, r.listErr = s.ListClients(ctx)
			done <- r
		}()
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	r := <-done
	checkErr(t, "GetClient of a client a running transaction created", r.getErr, storage.ErrNotFound)
	must(t, r.listErr, "ListClients while a transaction runs")
	checkList(t, "ListClients while a transaction runs", r.clients, nil, clientKey)
}
