package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func contextTests() []test {
	return []test{
		{"Cancelled", testContextCancelled},
		{"CancelledWhileWaiting", testContextCancelledWhileWaiting},
		{"CancelledDuringTx", testContextCancelledDuringTx},
	}
}

// hangLimit is how long the context tests wait for a call before they report that it hangs.
// It only matters when a backend is broken: a call that honours its context returns at once.
const hangLimit = 30 * time.Second

// noHang runs fn and fails the test if it does not return within hangLimit.
func noHang(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Fatalf("%s did not return within %s", what, hangLimit)
	}
}

func testContextCancelled(t *testing.T, s storage.Store) {
	seed(t, s)
	before := takeSnapshot(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	upd := fullClient("upd")
	upd.Name = "changed"
	far := at(1000 * time.Hour)
	ops := []struct {
		name string
		call func() error
	}{
		{"CreateClient", func() error { return s.CreateClient(ctx, fullClient("new")) }},
		{"GetClient", func() error { _, err := s.GetClient(ctx, "keep"); return err }},
		{"ListClients", func() error { _, err := s.ListClients(ctx); return err }},
		{"UpdateClient", func() error { return s.UpdateClient(ctx, upd) }},
		{"DeleteClient", func() error { return s.DeleteClient(ctx, "del") }},
		{"CreateScope", func() error { return s.CreateScope(ctx, newScope("s-new", true)) }},
		{"GetScope", func() error { _, err := s.GetScope(ctx, "s-keep"); return err }},
		{"ListScopes", func() error { _, err := s.ListScopes(ctx); return err }},
		{"UpdateScope", func() error { return s.UpdateScope(ctx, newScope("s-upd", true)) }},
		{"DeleteScope", func() error { return s.DeleteScope(ctx, "s-del") }},
		{"CreateToken", func() error { return s.CreateToken(ctx, newToken("t-new", "keep")) }},
		{"GetTokenByHash", func() error { _, err := s.GetTokenByHash(ctx, tokenHash("t-keep")); return err }},
		{"RevokeToken", func() error { return s.RevokeToken(ctx, "t-rev", at(0)) }},
		{"RevokeJTI", func() error {
			return s.RevokeJTI(ctx, storage.Revocation{JTI: "j-new", ExpiresAt: far, RevokedAt: at(0)})
		}},
		{"IsRevoked", func() error { _, err := s.IsRevoked(ctx, "j-seed"); return err }},
		{"CreateKey", func() error { return s.CreateKey(ctx, newKey("k-new", storage.KeyNext, at(0), time.Time{})) }},
		{"ListKeys", func() error { _, err := s.ListKeys(ctx); return err }},
		{"UpdateKey", func() error {
			return s.UpdateKey(ctx, newKey("k-upd", storage.KeyPrevious, at(0), at(time.Hour)))
		}},
		{"DeleteKey", func() error { return s.DeleteKey(ctx, "k-cur") }},
		{"AppendAudit", func() error { return s.AppendAudit(ctx, newEvent("new", "keep", at(0))) }},
		{"ListAudit", func() error { _, err := s.ListAudit(ctx, storage.AuditFilter{}); return err }},
		{"DeleteAuditBefore", func() error { _, err := s.DeleteAuditBefore(ctx, far, 100); return err }},
		{"DeleteExpired", func() error { _, err := s.DeleteExpired(ctx, far, 100); return err }},
		{"UseToken", func() error { _, err := s.UseToken(ctx, tokenHash("t-use"), at(0)); return err }},
		{"RevokeTokens", func() error {
			_, err := s.RevokeTokens(ctx, storage.TokenFilter{GrantID: "g-tx"}, at(0))
			return err
		}},
		{"ListTokens", func() error { _, err := s.ListTokens(ctx, storage.TokenFilter{ClientID: "keep"}, at(0)); return err }},
		{"TouchToken", func() error { return s.TouchToken(ctx, "t-keep", far) }},
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser("u-new", "u-new")) }},
		{"GetUser", func() error { _, err := s.GetUser(ctx, "u-keep"); return err }},
		{"GetUserByUsername", func() error { _, err := s.GetUserByUsername(ctx, "u-keep"); return err }},
		{"ListUsers", func() error { _, err := s.ListUsers(ctx); return err }},
		{"UpdateUser", func() error { return s.UpdateUser(ctx, bareUser("u-upd", "renamed")) }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, "u-del") }},
		{"GetConsent", func() error { _, err := s.GetConsent(ctx, "u-keep", "keep"); return err }},
		{"PutConsent", func() error { return s.PutConsent(ctx, newConsent("u-keep", "new")) }},
		{"ListConsents", func() error { _, err := s.ListConsents(ctx, "u-keep"); return err }},
		{"DeleteConsent", func() error { return s.DeleteConsent(ctx, "u-upd", "keep") }},
		{"CreateCode", func() error { return s.CreateCode(ctx, newCode("c-new", "keep", "u-keep")) }},
		{"ConsumeCode", func() error { _, err := s.ConsumeCode(ctx, codeHash("c-use"), at(0)); return err }},
		{"CreateSession", func() error { return s.CreateSession(ctx, newSession("se-new", "u-keep", at(0))) }},
		{"GetSessionByHash", func() error { _, err := s.GetSessionByHash(ctx, sessionHash("se-keep")); return err }},
		{"ListSessions", func() error { _, err := s.ListSessions(ctx, "u-keep"); return err }},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, "se-del") }},
		{"CreateDeviceCode", func() error { return s.CreateDeviceCode(ctx, newDeviceCode("d-new", "keep")) }},
		{"GetDeviceCodeByUserCode", func() error { _, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash("d-dec")); return err }},
		{"DecideDeviceCode", func() error {
			return s.DecideDeviceCode(ctx, userCodeHash("d-dec"), storage.DeviceApproved, "u-keep", at(0))
		}},
		{"PollDeviceCode", func() error { _, err := s.PollDeviceCode(ctx, deviceHash("d-poll"), at(0)); return err }},
		{"ConsumeDeviceCode", func() error { _, err := s.ConsumeDeviceCode(ctx, deviceHash("d-use"), at(0)); return err }},
		{"InTx", func() error {
			return s.InTx(ctx, func(tx storage.Store) error {
				// Whether fn runs at all is up to the backend; if it does, nothing it writes
				// may be kept.
				_ = tx.CreateClient(ctx, fullClient("new"))
				return nil
			})
		}},
		{"QueryClients", func() error { _, err := s.QueryClients(ctx, storage.ClientQuery{Search: "k"}); return err }},
		{"QueryUsers", func() error { _, err := s.QueryUsers(ctx, storage.UserQuery{After: "u"}); return err }},
		{"GetToken", func() error { _, err := s.GetToken(ctx, "t-keep"); return err }},
		{"CreateAdminToken", func() error { return s.CreateAdminToken(ctx, newAdminToken("a-new", at(0))) }},
		{"GetAdminTokenByHash", func() error { _, err := s.GetAdminTokenByHash(ctx, adminTokenHash("a-keep")); return err }},
		{"ListAdminTokens", func() error { _, err := s.ListAdminTokens(ctx); return err }},
		{"DeleteAdminToken", func() error { return s.DeleteAdminToken(ctx, "a-del") }},
		{"TouchAdminToken", func() error { return s.TouchAdminToken(ctx, "a-touch", far) }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, op := range ops {
		noHang(t, op.name+" with a cancelled context", func() {
			if err := op.call(); err == nil {
				t.Errorf("%s with a cancelled context returned nil, want an error", op.name)
			}
		})
	}
	checkUnchanged(t, s, before, "calls with a cancelled context")
	checkUsable(t, s, "calls with a cancelled context")
}

// testContextCancelledWhileWaiting makes a call wait for a running transaction (on the
// client the transaction updated), cancels the call's context, and expects the call to give
// up with an error while the transaction still runs.
func testContextCancelledWhileWaiting(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "shared")
	mine := fullClient("shared")
	mine.Name = "written by the transaction"
	theirs := fullClient("shared")
	theirs.Name = "written by the waiting call"

	err := s.InTx(ctx, func(tx storage.Store) error {
		if err := tx.UpdateClient(ctx, mine); err != nil {
			return err
		}
		waitCtx, cancel := context.WithCancel(ctx)
		result := make(chan error, 1)
		go func() { result <- s.UpdateClient(waitCtx, theirs) }()
		// Give the call time to start waiting before cancelling it. The outcome does not
		// depend on this pause (an error either way); without it, the call would almost
		// always see a context cancelled before it starts, and a backend whose waiting
		// ignores the context would go unnoticed.
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-result:
			if err == nil {
				return errors.New("UpdateClient outside a running transaction, with its context cancelled, returned nil")
			}
			return nil
		case <-time.After(hangLimit):
			// Failing fn undoes the transaction's write, which lets a stuck call finish.
			return errors.New("UpdateClient waiting for a running transaction did not return when its context was cancelled")
		}
	})
	must(t, err, "InTx")
	got, err := s.GetClient(ctx, "shared")
	must(t, err, "GetClient")
	mine.Version = 2
	checkEqual(t, "client after the transaction", got, mine)
}

// testContextCancelledDuringTx cancels InTx's context while fn runs: fn returns nil, yet
// nothing may be committed.
func testContextCancelledDuringTx(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var err error
	noHang(t, "InTx whose context is cancelled while fn runs", func() {
		err = s.InTx(ctx, func(tx storage.Store) error {
			if err := tx.CreateClient(ctx, fullClient("c")); err != nil {
				return err
			}
			cancel()
			return nil
		})
	})
	if err == nil {
		t.Error("InTx whose context was cancelled while fn ran returned nil, want an error")
	}
	_, err = s.GetClient(t.Context(), "c")
	checkErr(t, "GetClient of a client written by a cancelled transaction", err, storage.ErrNotFound)
	checkUsable(t, s, "a cancelled transaction")
}
