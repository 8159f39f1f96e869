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

	// The user-facing aggregates.
	createUsers(t, s, "u-keep", "u-upd", "u-del")
	for _, c := range []storage.Consent{newConsent("u-keep", "keep"), newConsent("u-keep", "upd"), newConsent("u-upd", "keep"), newConsent("u-del", "keep")} {
		must(t, s.PutConsent(ctx, c), "PutConsent")
	}
	for _, se := range []storage.Session{
		newSession("se-keep", "u-keep", txNow()),
		newSession("se-del", "u-keep", txNow().Add(time.Minute)),
		newSession("se-user", "u-del", txNow()),
		newSession("se-exp", "u-keep", txNow().Add(-48*time.Hour)),
	} {
		must(t, s.CreateSession(ctx, se), "CreateSession")
	}
	expiredCode := newCode("c-exp", "keep", "u-keep")
	expiredCode.ExpiresAt = txNow().Add(-time.Minute)
	for _, c := range []storage.AuthCode{newCode("c-use", "keep", "u-keep"), expiredCode} {
		must(t, s.CreateCode(ctx, c), "CreateCode")
	}
	grant := newToken("t-grant", "keep")
	grant.GrantID = "g-tx"
	user := newToken("t-user", "keep")
	user.Subject = "u-del"
	for _, tok := range []storage.Token{refreshToken("t-use", "keep", "u-keep", "g-use"), grant, user} {
		must(t, s.CreateToken(ctx, tok), "CreateToken")
	}

	// Device codes: one to decide, one to poll, one to exchange, one past its time.
	expiredDevice := newDeviceCode("d-exp", "keep")
	expiredDevice.ExpiresAt = txNow().Add(-time.Minute)
	for _, dc := range []storage.DeviceCode{
		newDeviceCode("d-dec", "keep"),
		newDeviceCode("d-poll", "keep"),
		approvedDeviceCode("d-use", "keep", "u-keep"),
		expiredDevice,
	} {
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	}

	// Admin tokens: one to keep, to delete, to touch, and one past its time.
	expiredAdmin := newAdminToken("a-exp", at(-48*time.Hour))
	expiredAdmin.ExpiresAt = txNow().Add(-time.Minute)
	for _, tok := range []storage.AdminToken{newAdminToken("a-keep", at(-time.Hour)), newAdminToken("a-del", at(-time.Hour)),
		newAdminToken("a-touch", at(-time.Hour)), expiredAdmin} {
		must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken")
	}
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
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser("u-new", "u-new")) }},
		{"UpdateUser", func() error { return s.UpdateUser(ctx, bareUser("u-upd", "u-upd-renamed")) }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, "u-del") }},
		{"PutConsent", func() error { return s.PutConsent(ctx, newConsent("u-keep", "new")) }},
		{"PutConsent replacing", func() error {
			c := newConsent("u-keep", "upd")
			c.Scopes = []string{"replaced"}
			return s.PutConsent(ctx, c)
		}},
		{"DeleteConsent", func() error { return s.DeleteConsent(ctx, "u-upd", "keep") }},
		{"CreateSession", func() error { return s.CreateSession(ctx, newSession("se-new", "u-keep", txNow())) }},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, "se-del") }},
		{"CreateCode", func() error { return s.CreateCode(ctx, newCode("c-new", "new", "u-new")) }},
		{"ConsumeCode", func() error { _, err := s.ConsumeCode(ctx, codeHash("c-use"), txNow()); return err }},
		{"UseToken", func() error { _, err := s.UseToken(ctx, tokenHash("t-use"), txNow()); return err }},
		{"RevokeTokens", func() error {
			return wantRevoked(s.RevokeTokens(ctx, storage.TokenFilter{GrantID: "g-tx"}, txNow()))(1)
		}},
		{"CreateDeviceCode", func() error { return s.CreateDeviceCode(ctx, newDeviceCode("d-new", "new")) }},
		{"DecideDeviceCode", func() error {
			return s.DecideDeviceCode(ctx, userCodeHash("d-dec"), storage.DeviceApproved, "u-keep", txNow())
		}},
		{"PollDeviceCode", func() error { _, err := s.PollDeviceCode(ctx, deviceHash("d-poll"), txNow()); return err }},
		{"ConsumeDeviceCode", func() error { _, err := s.ConsumeDeviceCode(ctx, deviceHash("d-use"), txNow()); return err }},
		{"CreateAdminToken", func() error { return s.CreateAdminToken(ctx, newAdminToken("a-new", txNow())) }},
		{"DeleteAdminToken", func() error { return s.DeleteAdminToken(ctx, "a-del") }},
		{"TouchAdminToken", func() error { return s.TouchAdminToken(ctx, "a-touch", txNow()) }},
		{"DeleteExpired", func() error {
			// t-exp, j-exp, k-prev, c-exp, se-exp, d-exp and a-exp.
			return wantCount(s.DeleteExpired(ctx, txNow(), 100))(7)
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

// wantRevoked turns the result of RevokeTokens into an error unless it revoked want tokens.
func wantRevoked(n int, err error) func(want int) error {
	return func(want int) error {
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("revoked %d tokens, want %d", n, want)
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

	if _, err := s.GetUser(ctx, "u-new"); err != nil {
		fail("created user: %v", err)
	}
	if u, err := s.GetUser(ctx, "u-upd"); err != nil || u.Username != "u-upd-renamed" {
		fail("updated user: got %+v, %v", u, err)
	}
	if _, err := s.GetUser(ctx, "u-del"); !errors.Is(err, storage.ErrNotFound) {
		fail("deleted user: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetConsent(ctx, "u-keep", "new"); err != nil {
		fail("created consent: %v", err)
	}
	if c, err := s.GetConsent(ctx, "u-keep", "upd"); err != nil || strings.Join(c.Scopes, " ") != "replaced" {
		fail("replaced consent: got %+v, %v", c, err)
	}
	for _, k := range [][2]string{{"u-upd", "keep"}, {"u-del", "keep"}} {
		if _, err := s.GetConsent(ctx, k[0], k[1]); !errors.Is(err, storage.ErrNotFound) {
			fail("consent %s/%s (deleted): got %v, want ErrNotFound", k[0], k[1], err)
		}
	}
	if _, err := s.GetSessionByHash(ctx, sessionHash("se-new")); err != nil {
		fail("created session: %v", err)
	}
	for _, id := range []string{"se-del", "se-user", "se-exp"} {
		if _, err := s.GetSessionByHash(ctx, sessionHash(id)); !errors.Is(err, storage.ErrNotFound) {
			fail("session %s (deleted): got %v, want ErrNotFound", id, err)
		}
	}
	// ConsumeCode of c-new marks it used (so after a commit it stays used): a used code
	// exists all the same.
	if _, err := s.ConsumeCode(ctx, codeHash("c-new"), txNow()); err != nil && !errors.Is(err, storage.ErrAlreadyUsed) {
		fail("created code: %v", err)
	}
	if c, err := s.ConsumeCode(ctx, codeHash("c-use"), txNow().Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyUsed) || !c.UsedAt.Equal(txNow()) {
		fail("consumed code: got UsedAt %s, %v; want %s, ErrAlreadyUsed", fmtTime(c.UsedAt), err, fmtTime(txNow()))
	}
	if _, err := s.ConsumeCode(ctx, codeHash("c-exp"), txNow()); !errors.Is(err, storage.ErrNotFound) {
		fail("code c-exp (deleted): got %v, want ErrNotFound", err)
	}
	if tok, err := s.GetTokenByHash(ctx, tokenHash("t-use")); err != nil || !tok.UsedAt.Equal(txNow()) {
		fail("used token: got UsedAt %s, %v", fmtTime(tok.UsedAt), err)
	}
	if tok, err := s.GetTokenByHash(ctx, tokenHash("t-grant")); err != nil || !tok.RevokedAt.Equal(txNow()) {
		fail("token revoked by RevokeTokens: got RevokedAt %s, %v", fmtTime(tok.RevokedAt), err)
	}
	if got, err := s.IsRevoked(ctx, "t-grant"); err != nil || !got {
		fail("IsRevoked(t-grant) after RevokeTokens = %v, %v; want true", got, err)
	}
	if tok, err := s.GetTokenByHash(ctx, tokenHash("t-user")); err != nil || tok.RevokedAt.IsZero() {
		fail("token of the deleted user: got RevokedAt %s, %v; want it revoked", fmtTime(tok.RevokedAt), err)
	}

	if _, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash("d-new")); err != nil {
		fail("created device code: %v", err)
	}
	if dc, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash("d-dec")); err != nil || dc.Status != storage.DeviceApproved || dc.UserID != "u-keep" {
		fail("approved device code: got %+v, %v", dc, err)
	}
	if dc, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash("d-poll")); err != nil || !dc.LastPolledAt.Equal(txNow()) {
		fail("polled device code: got LastPolledAt %s, %v; want %s", fmtTime(dc.LastPolledAt), err, fmtTime(txNow()))
	}
	if dc, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash("d-use")); err != nil || !dc.UsedAt.Equal(txNow()) {
		fail("exchanged device code: got UsedAt %s, %v; want %s", fmtTime(dc.UsedAt), err, fmtTime(txNow()))
	}
	if _, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash("d-exp")); !errors.Is(err, storage.ErrNotFound) {
		fail("device code d-exp (deleted): got %v, want ErrNotFound", err)
	}

	if _, err := s.GetAdminTokenByHash(ctx, adminTokenHash("a-new")); err != nil {
		fail("created admin token: %v", err)
	}
	if tok, err := s.GetAdminTokenByHash(ctx, adminTokenHash("a-touch")); err != nil || !tok.LastUsedAt.Equal(txNow()) {
		fail("touched admin token: got LastUsedAt %s, %v; want %s", fmtTime(tok.LastUsedAt), err, fmtTime(txNow()))
	}
	for _, id := range []string{"a-del", "a-exp"} {
		if _, err := s.GetAdminTokenByHash(ctx, adminTokenHash(id)); !errors.Is(err, storage.ErrNotFound) {
			fail("admin token %s (deleted): got %v, want ErrNotFound", id, err)
		}
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

	Users    []storage.User
	Consents [][]storage.Consent // of snapshotUsers
	Sessions [][]storage.Session // of snapshotUsers
	Codes    []codeState

	DeviceCodes []deviceState
	AdminTokens []storage.AdminToken
}

// deviceState is what GetDeviceCodeByUserCode found.
type deviceState struct {
	Found bool
	Code  storage.DeviceCode
}

// snapshotUsers are the users whose consents and sessions a snapshot holds.
var snapshotUsers = []string{"u-keep", "u-upd", "u-del", "u-new"}

// codeState is what peekCode found.
type codeState struct {
	State string // "unused", "used" or "absent"
	Code  storage.AuthCode
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
	for _, id := range []string{"t-keep", "t-rev", "t-del", "t-exp", "t-new", "t-use", "t-grant", "t-user"} {
		tok, err := s.GetTokenByHash(ctx, tokenHash(id))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetTokenByHash %s: %v", id, err)
		}
		snap.Tokens = append(snap.Tokens, tokenState{Found: err == nil, Token: tok})
	}
	for _, jti := range []string{"j-seed", "j-exp", "j-new", "t-grant", "t-user"} {
		r, err := s.IsRevoked(ctx, jti)
		must(t, err, "IsRevoked")
		snap.Revoked = append(snap.Revoked, r)
	}
	snap.Users, err = s.ListUsers(ctx)
	must(t, err, "ListUsers")
	for _, u := range snapshotUsers {
		c, err := s.ListConsents(ctx, u)
		must(t, err, "ListConsents")
		snap.Consents = append(snap.Consents, c)
		se, err := s.ListSessions(ctx, u)
		must(t, err, "ListSessions")
		snap.Sessions = append(snap.Sessions, se)
	}
	for _, name := range []string{"c-use", "c-exp", "c-new"} {
		code, err := peekCode(t, s, codeHash(name))
		st := codeState{Code: code}
		switch {
		case err == nil:
			st.State = "unused"
		case errors.Is(err, storage.ErrAlreadyUsed):
			st.State = "used"
		case errors.Is(err, storage.ErrNotFound):
			st.State = "absent"
		default:
			t.Fatalf("ConsumeCode %s: %v", name, err)
		}
		snap.Codes = append(snap.Codes, st)
	}
	for _, name := range []string{"d-dec", "d-poll", "d-use", "d-exp", "d-new"} {
		dc, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash(name))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetDeviceCodeByUserCode %s: %v", name, err)
		}
		snap.DeviceCodes = append(snap.DeviceCodes, deviceState{Found: err == nil, Code: dc})
	}
	snap.AdminTokens, err = s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens")
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
