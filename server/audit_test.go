package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// logBuffer is an io.Writer safe for concurrent use: the server's JSON log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// auditLines returns the "audit" records of the log.
func (b *logBuffer) auditLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// expectation is an audit event that must exist: its type, actor, client and subject, and
// details that must be present with these values ("*" for any non-empty value).
type expectation struct {
	what                        string
	typ, actor, client, subject string
	details                     map[string]string
	absent                      []string // details that must not be there
	matched                     *storage.AuditEvent
}

func (x *expectation) matches(e storage.AuditEvent) bool {
	if e.Type != x.typ || e.Actor != x.actor || e.ClientID != x.client || e.Subject != x.subject {
		return false
	}
	for k, v := range x.details {
		if got, ok := e.Details[k]; !ok || v == "*" && got == "" || v != "*" && got != v {
			return false
		}
	}
	for _, k := range x.absent {
		if _, ok := e.Details[k]; ok {
			return false
		}
	}
	return true
}

// TestAuditTrail performs each audited action through the real server on SQLite (and on
// PostgreSQL), with real clients, and checks that its event is stored with the right actor,
// client, subject and details, that it is logged once (message "audit"), and that no
// password, secret, code or token reaches the audit trail or the log.
func TestAuditTrail(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		auditTrail(t, servertest.WithSQLite(filepath.Join(t.TempDir(), "gatehouse.db")))
	})
	t.Run("postgres", func(t *testing.T) { auditTrail(t, servertest.WithPostgres()) })
}

func auditTrail(t *testing.T, backend servertest.Option) {
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newDeviceEnv(t, backend, servertest.WithLogger(logger), servertest.WithAuditBatcher(oauth.AuditBatcherOptions{}),
		servertest.WithGrantTypes(oauth.GrantClientCredentials, oauth.GrantAuthorizationCode, oauth.GrantRefreshToken,
			oauth.GrantPassword, oauth.GrantImplicit, oauth.GrantDeviceCode))
	ctx := context.Background()
	uid := f.user.ID
	// Everything secret that passes through the server; none may reach the trail or the log.
	secrets := []string{testPassword, f.secret, f.webSecret, f.trustedSecret}
	keep := func(s ...string) { secrets = append(secrets, s...) }

	// Client credentials (x/oauth2), then its revocation at the revocation endpoint.
	ccToken := f.token(t, f.clientID, f.secret, "read")
	keep(ccToken)
	_, ccClaims := f.verifyJWT(t, ccToken)
	if r := f.post(t, "/oauth2/revoke", url.Values{"token": {ccToken}}.Encode(), f.clientID, f.secret); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}

	// A failed sign-in on the login page.
	a := f.newAgent(t)
	form := hidden(page(t, a.get("/login"), http.StatusOK).body)
	form.Set("username", testUser)
	form.Set("password", "wrong-password-123")
	keep("wrong-password-123")
	page(t, a.post("/login", form), http.StatusOK)

	// Authorization code flow with consent (x/oauth2), refresh, refresh token reuse.
	web := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader)
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, a, f.authParams(webClient, verifier))
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	keep(code, verifier, tok.AccessToken, tok.RefreshToken, idToken)
	_, codeClaims := f.verifyJWT(t, tok.AccessToken)
	refreshed, err := web.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	keep(refreshed.AccessToken, refreshed.RefreshToken)
	_, err = web.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantRetrieveError(t, err, "invalid_grant")

	// A replayed authorization code.
	verifier2 := oauth2.GenerateVerifier()
	code2 := f.code(t, a, f.authParams(webClient, verifier2))
	tok2, err := web.Exchange(ctx, code2, oauth2.VerifierOption(verifier2))
	if err != nil {
		t.Fatal(err)
	}
	keep(code2, tok2.AccessToken, tok2.RefreshToken)
	_, err = web.Exchange(ctx, code2, oauth2.VerifierOption(verifier2))
	wantRetrieveError(t, err, "invalid_grant")

	// Password grant (x/oauth2): a wrong password, then the right one.
	pwID, pwSecret := f.CreateClient(t, storage.Client{ID: "legacy-app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read"}})
	keep(pwSecret)
	pw := &oauth2.Config{ClientID: pwID, ClientSecret: pwSecret, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{TokenURL: f.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	_, err = pw.PasswordCredentialsToken(ctx, testUser, "wrong-password-456")
	keep("wrong-password-456")
	wantRetrieveError(t, err, "invalid_grant")
	pwTok, err := pw.PasswordCredentialsToken(ctx, testUser, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	keep(pwTok.AccessToken, pwTok.RefreshToken)

	// Implicit flow: tokens from the authorization endpoint.
	f.CreateClient(t, storage.Client{ID: "legacy-spa", Public: true, GrantTypes: []string{"implicit"},
		Scopes: browserScopes, RedirectURIs: []string{f.cb.URL + "/spa"}, Trusted: true})
	u, _ := a.authorize(url.Values{"client_id": {"legacy-spa"}, "response_type": {"id_token token"},
		"scope": {"openid profile"}, "nonce": {"n1"}, "state": {"s1"}}, false)
	frag, _ := url.ParseQuery(u.Fragment)
	if frag.Get("access_token") == "" {
		t.Fatalf("implicit response %v", u)
	}
	keep(frag.Get("access_token"), frag.Get("id_token"))
	_, implicitClaims := f.verifyJWT(t, frag.Get("access_token"))

	// Device flow.
	m := f.deviceAuth(t, "openid read")
	dc, uc := m["device_code"].(string), m["user_code"].(string)
	keep(dc)
	a.decide(uc, "approve")
	r := f.pollDevice(t, dc)
	if r.status != http.StatusOK {
		t.Fatalf("device token: %d %s", r.status, r.body)
	}
	deviceAT, _ := r.json(t)["access_token"].(string)
	keep(deviceAT)

	// The user revokes the web client's consent on the account page, then signs out.
	acct := page(t, a.get("/account"), http.StatusOK)
	revoke := hidden(acct.body)
	if revoke.Get("op") != "revoke" || revoke.Get("client_id") != webClient {
		t.Fatalf("revoke form %v", revoke)
	}
	location(t, a.post("/account", revoke))

	// An operator's changes, through the admin use-cases on the same store.
	adm := admin.New(oauth.AuditLogged(f.Store, logger), f.Provider.Keys(), time.Now).WithActor("ops@example.com")
	adm = adm.WithInvalidator(f.Provider)
	if _, err := adm.CreateScope(ctx, admin.ScopeInput{Name: "reports", Description: "Read reports"}); err != nil {
		t.Fatal(err)
	}
	cl, clSecret, err := adm.CreateClient(ctx, admin.ClientInput{ID: "reporting", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"reports"}})
	if err != nil {
		t.Fatal(err)
	}
	newSecret, err := adm.RotateSecret(ctx, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	bob, bobPassword, err := adm.CreateUser(ctx, admin.UserInput{Username: "bob", Password: "bob-password-789"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.SetPassword(ctx, "bob", "bob-password-000"); err != nil {
		t.Fatal(err)
	}
	keep(clSecret, newSecret, bobPassword, "bob-password-789", "bob-password-000")
	key, err := adm.RotateKey(ctx, token.ES256, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.RevokeToken(ctx, pwTokID(t, f, pwTok.AccessToken)); err != nil {
		t.Fatal(err)
	}

	// token.issued events are batched: write them now.
	if err := f.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	grantID := func(e *expectation) string { return e.matched.Details["grant_id"] }
	codeIssued := &expectation{what: "code exchange", typ: "token.issued", actor: webClient, client: webClient, subject: uid,
		details: map[string]string{"grant_type": "authorization_code", "scope": strings.Join(browserScopes, " "),
			"tokens": "access_token refresh_token id_token", "jti": codeClaims.ID, "grant_id": "*"}}
	want := []*expectation{
		{what: "client credentials", typ: "token.issued", actor: f.clientID, client: f.clientID, subject: f.clientID,
			details: map[string]string{"grant_type": "client_credentials", "scope": "read", "tokens": "access_token", "jti": ccClaims.ID},
			absent:  []string{"grant_id", "response_type"}},
		{what: "revocation endpoint", typ: "token.revoked", actor: f.clientID, client: f.clientID, subject: f.clientID,
			details: map[string]string{"jti": ccClaims.ID, "format": "jwt"}},
		{what: "failed sign-in", typ: "login.failed", actor: "anonymous",
			details: map[string]string{"username": testUser, "ip": "127.0.0.1"}, absent: []string{"password"}},
		{what: "sign-in", typ: "login.succeeded", actor: uid, client: webClient, subject: uid,
			details: map[string]string{"ip": "127.0.0.1", "session_id": "*"}},
		{what: "consent", typ: "consent.granted", actor: uid, client: webClient, subject: uid,
			details: map[string]string{"scope": strings.Join(browserScopes, " ")}},
		codeIssued,
		{what: "refresh", typ: "token.issued", actor: webClient, client: webClient, subject: uid,
			details: map[string]string{"grant_type": "refresh_token", "tokens": "access_token refresh_token id_token", "grant_id": "*"}},
		{what: "refresh reuse", typ: "token.reuse_detected", actor: webClient, client: webClient, subject: uid,
			details: map[string]string{"grant_type": "refresh_token", "grant_id": "*", "tokens_revoked": "4"}},
		{what: "code replay", typ: "token.reuse_detected", actor: webClient, client: webClient, subject: uid,
			details: map[string]string{"grant_type": "authorization_code", "grant_id": "*", "tokens_revoked": "2"}},
		{what: "password grant failure", typ: "login.failed", actor: pwID, client: pwID,
			details: map[string]string{"username": testUser, "grant_type": "password", "ip": "127.0.0.1"}},
		{what: "password grant sign-in", typ: "login.succeeded", actor: uid, client: pwID, subject: uid,
			details: map[string]string{"grant_type": "password", "grant_id": "*"}},
		{what: "password grant", typ: "token.issued", actor: pwID, client: pwID, subject: uid,
			details: map[string]string{"grant_type": "password", "scope": "read", "tokens": "access_token refresh_token"}},
		{what: "implicit", typ: "token.issued", actor: uid, client: "legacy-spa", subject: uid,
			details: map[string]string{"grant_type": "implicit", "response_type": "id_token token", "scope": "openid profile",
				"tokens": "access_token id_token", "jti": implicitClaims.ID, "grant_id": "*"}},
		{what: "device approval", typ: "device.approved", actor: uid, client: deviceClient, subject: uid,
			details: map[string]string{"scope": "openid read"}},
		{what: "device grant", typ: "token.issued", actor: deviceClient, client: deviceClient, subject: uid,
			details: map[string]string{"grant_type": deviceGrant, "scope": "openid read", "tokens": "access_token id_token"}},
		{what: "account page consent revocation", typ: "consent.revoked", actor: uid, client: webClient, subject: uid,
			details: map[string]string{"tokens_revoked": "*"}},
		{what: "scope created", typ: "scope.created", actor: "ops@example.com", details: map[string]string{"scope": "reports"}},
		{what: "client created", typ: "client.created", actor: "ops@example.com", client: "reporting"},
		{what: "secret rotated", typ: "client.secret_rotated", actor: "ops@example.com", client: "reporting"},
		{what: "user created", typ: "user.created", actor: "ops@example.com", subject: bob.ID, details: map[string]string{"username": "bob"}},
		{what: "password set", typ: "user.password_set", actor: "ops@example.com", subject: bob.ID},
		{what: "key rotated", typ: "key.rotated", actor: "ops@example.com", details: map[string]string{"kid": key.ID, "algorithm": "ES256"}},
		{what: "admin token revocation", typ: "token.revoked", actor: "ops@example.com", client: pwID, subject: uid,
			details: map[string]string{"kind": storage.KindAccess}},
	}
	events, err := f.Store.ListAudit(ctx, storage.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range want {
		for i := range events {
			if x.matches(events[i]) {
				x.matched = &events[i]
				break
			}
		}
		if x.matched == nil {
			var same []string
			for _, e := range events {
				if e.Type == x.typ {
					same = append(same, fmt.Sprintf("%+v", e))
				}
			}
			t.Errorf("%s: no %s event by %q (client %q, subject %q) with %v; %s events:\n%s", x.what, x.typ, x.actor,
				x.client, x.subject, x.details, x.typ, strings.Join(same, "\n"))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The code's grant is the one the refresh continued, and the one reuse revoked.
	if g := grantID(codeIssued); grantID(want[6]) != g || grantID(want[7]) != g {
		t.Errorf("grant ids: issued %s, refreshed %s, reuse %s", g, grantID(want[6]), grantID(want[7]))
	}
	// Events carry their time; the batched ones too.
	for _, e := range events {
		if e.Time.IsZero() || time.Since(e.Time) > time.Hour || e.ID == 0 {
			t.Errorf("event %+v: time or id", e)
		}
	}

	// Nothing secret in the trail or in the log.
	logText := logs.String()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, e := range events {
			if strings.Contains(fmt.Sprint(e), s) {
				t.Errorf("%s event holds a secret or token (%.12s…)", e.Type, s)
			}
		}
		if strings.Contains(logText, s) {
			t.Errorf("the log holds a secret or token (%.12s…)", s)
		}
	}

	// Every stored event is logged once, with its fields, after it was stored; token.issued
	// at Debug, the others at Info.
	type key4 struct{ typ, actor, client, subject string }
	stored := map[key4]int{}
	for _, e := range events {
		stored[key4{e.Type, e.Actor, e.ClientID, e.Subject}]++
	}
	logged := map[key4]int{}
	for _, l := range logs.auditLines(t) {
		k := key4{fmt.Sprint(l["type"]), fmt.Sprint(l["actor"]), fmt.Sprint(l["client_id"]), fmt.Sprint(l["subject"])}
		logged[k]++
		wantLevel := "INFO"
		if k.typ == "token.issued" {
			wantLevel = "DEBUG"
		}
		if l["level"] != wantLevel {
			t.Errorf("%s logged at %v", k.typ, l["level"])
		}
		if _, ok := l["details"]; !ok && k.typ == "token.issued" {
			t.Errorf("token.issued logged without details: %v", l)
		}
	}
	for k, n := range stored {
		if logged[k] != n {
			t.Errorf("%+v: stored %d, logged %d", k, n, logged[k])
		}
	}
	for k, n := range logged {
		if stored[k] != n {
			t.Errorf("%+v: logged %d, stored %d", k, n, stored[k])
		}
	}

	// The batcher's counters are exported.
	metrics := adminMetrics(t, f.env)
	issued := 0
	for _, e := range events {
		if e.Type == "token.issued" {
			issued++
		}
	}
	if !strings.Contains(metrics, fmt.Sprintf("gatehouse_audit_events_written_total %d", issued)) ||
		!strings.Contains(metrics, "gatehouse_audit_events_dropped_total 0") {
		t.Errorf("audit metrics missing or wrong (want %d written):\n%s", issued, grepLines(metrics, "gatehouse_audit"))
	}
}

// pwTokID returns the stored id of an access token (the token's jti).
func pwTokID(t *testing.T, f *flowEnv, at string) string {
	t.Helper()
	rec, err := f.Store.GetTokenByHash(context.Background(), token.Hash(at))
	if err != nil {
		t.Fatalf("stored access token: %v", err)
	}
	return rec.ID
}

// adminMetrics returns the metrics page of the admin listener.
func adminMetrics(t *testing.T, e *env) string {
	t.Helper()
	resp, err := e.Client.Get(e.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	return b.String()
}

func grepLines(s, substr string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

// TestJanitorAuditRetention: the janitor deletes audit events older than AuditRetention in
// batches, keeps newer ones, and keeps everything when the retention is 0. Its automatic key
// rotations are audited with the actor "janitor".
func TestJanitorAuditRetention(t *testing.T) {
	c := newClock()
	ctx := context.Background()
	f := newEnv(t, servertest.WithSQLite(filepath.Join(t.TempDir(), "gatehouse.db")), servertestNow(c),
		servertest.WithServerOptions(func(o *server.Options) {
			o.AuditRetention = 48 * time.Hour
			o.JanitorBatchSize = 4
			o.KeyAlgorithms = []string{token.ES256}
			o.KeyRotationPeriod = 24 * time.Hour
			o.KeyRetain = time.Hour
		}))
	old := c.Now().Add(-72 * time.Hour)
	var events []storage.AuditEvent
	for i := range 10 {
		events = append(events, storage.AuditEvent{Time: old.Add(time.Duration(i) * time.Minute), Type: "test.old", Actor: "t"})
	}
	events = append(events, storage.AuditEvent{Time: c.Now().Add(-47 * time.Hour), Type: "test.recent", Actor: "t"})
	if err := f.Store.AppendAudit(ctx, events...); err != nil {
		t.Fatal(err)
	}
	res, err := f.Server.Server.JanitorPass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.AuditDeleted != 10 {
		t.Errorf("deleted %d audit events, want 10", res.AuditDeleted)
	}
	left, _ := f.Store.ListAudit(ctx, storage.AuditFilter{Type: "test.old"})
	recent, _ := f.Store.ListAudit(ctx, storage.AuditFilter{Type: "test.recent"})
	if len(left) != 0 || len(recent) != 1 {
		t.Errorf("after the pass: %d old, %d recent", len(left), len(recent))
	}
	metrics := adminMetrics(t, f)
	if !strings.Contains(metrics, "gatehouse_janitor_deleted_audit_events_total 10") {
		t.Errorf("metrics: %s", grepLines(metrics, "gatehouse_janitor"))
	}

	// A day later the key is due: the janitor rotates it and records it.
	c.Add(25 * time.Hour)
	res, err = f.Server.Server.JanitorPass(ctx)
	if err != nil || !slices.Equal(res.Rotated, []string{token.ES256}) {
		t.Fatalf("rotation pass: %+v %v", res, err)
	}
	rotated, _ := f.Store.ListAudit(ctx, storage.AuditFilter{Type: admin.EventKeyRotated})
	if len(rotated) != 1 || rotated[0].Actor != "janitor" || rotated[0].Details["algorithm"] != token.ES256 ||
		rotated[0].Details["kid"] == "" {
		t.Fatalf("key.rotated events %+v", rotated)
	}
	keys, _ := f.Provider.Keys().Records(ctx)
	for _, k := range keys {
		if k.State == storage.KeyCurrent && k.Algorithm == token.ES256 && k.ID != rotated[0].Details["kid"] {
			t.Errorf("event kid %s, current key %s", rotated[0].Details["kid"], k.ID)
		}
	}
	// The recent event is now older than the retention too.
	if res.AuditDeleted != 1 {
		t.Errorf("second pass deleted %d", res.AuditDeleted)
	}

	// Retention 0 keeps everything.
	c2 := newClock()
	g := newEnv(t, servertestNow(c2))
	if err := g.Store.AppendAudit(ctx, storage.AuditEvent{Time: c2.Now().Add(-10 * 365 * 24 * time.Hour), Type: "test.ancient"}); err != nil {
		t.Fatal(err)
	}
	if res, err := g.Server.Server.JanitorPass(ctx); err != nil || res.AuditDeleted != 0 {
		t.Fatalf("retention 0: %+v %v", res, err)
	}
	if kept, _ := g.Store.ListAudit(ctx, storage.AuditFilter{Type: "test.ancient"}); len(kept) != 1 {
		t.Error("retention 0 deleted an event")
	}
}
