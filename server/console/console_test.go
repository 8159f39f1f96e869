package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/console"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// getPages are the console's GET pages that need a signed-in administrator.
func getPages(e *env, clientID string) []string {
	return []string{
		"/admin/", "/admin/clients", "/admin/clients?q=x", "/admin/clients/new",
		"/admin/clients/view?id=" + url.QueryEscape(clientID), "/admin/clients/tokens?id=" + url.QueryEscape(clientID),
		"/admin/clients/delete?id=" + url.QueryEscape(clientID),
		"/admin/scopes", "/admin/scopes/delete?name=read",
		"/admin/users", "/admin/users/new", "/admin/users/view?id=" + e.alice.ID, "/admin/users/delete?id=" + e.alice.ID,
		"/admin/keys", "/admin/audit", "/admin/audit?type=login.failed",
	}
}

// postPaths are the console's POST endpoints that need a signed-in administrator.
var postPaths = []string{
	"/admin/clients/new", "/admin/clients/edit", "/admin/clients/secret", "/admin/clients/delete", "/admin/clients/tokens",
	"/admin/scopes", "/admin/scopes/edit", "/admin/scopes/delete",
	"/admin/users/new", "/admin/users/edit", "/admin/users/status", "/admin/users/password", "/admin/users/delete",
	"/admin/users/sessions", "/admin/users/consents", "/admin/users/tokens",
	"/admin/keys/rotate",
}

func (e *env) seed(t *testing.T) (clientID string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.adm.CreateScope(ctx, admin.ScopeInput{Name: "read", Description: "Read things"}); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.adm.CreateClient(ctx, admin.ClientInput{ID: "billing", Name: "Billing",
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"read"}, TokenFormat: storage.TokenFormatOpaque})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestAuthRequired: without a console session every page sends the browser to the sign-in
// page (GET pages come back afterwards), and every POST changes nothing.
func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	id := e.seed(t)
	b := e.browser(t)
	for _, path := range getPages(e, id) {
		p := b.get(path)
		if p.status != http.StatusFound {
			t.Errorf("GET %s without a session: %d, want 302", path, p.status)
			continue
		}
		want := "/admin/login?next=" + url.QueryEscape(path)
		if p.location() != want {
			t.Errorf("GET %s: redirected to %q, want %q", path, p.location(), want)
		}
	}
	for _, path := range postPaths {
		p := b.post(path, url.Values{"id": {id}, "name": {"read"}, "csrf": {"x"}})
		if p.status != http.StatusSeeOther || p.location() != "/admin/login" {
			t.Errorf("POST %s without a session: %d %q", path, p.status, p.location())
		}
	}
	if _, err := e.adm.GetClient(context.Background(), id); err != nil {
		t.Errorf("the client is gone: %v", err)
	}
	// A made-up session cookie is no session either, nor the public site's session cookie.
	for _, v := range []string{"ghadm_nonsense", "ghsess_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000"} {
		req, _ := http.NewRequest(http.MethodGet, e.AdminURL+"/admin/clients", nil)
		req.AddCookie(&http.Cookie{Name: "gatehouse_admin_session", Value: v})
		if p := b.do(req); p.status != http.StatusFound {
			t.Errorf("cookie %q: %d", v, p.status)
		}
	}
	// The sign-in page comes back to where the browser was going.
	p := b.get("/admin/login?next=" + url.QueryEscape("/admin/keys"))
	wantStatus(t, "sign-in page", p, http.StatusOK)
	p = b.post("/admin/login", url.Values{"username": {adminName}, "password": {adminPassword}, "next": {"/admin/keys"}})
	if p.status != http.StatusSeeOther || p.location() != "/admin/keys" {
		t.Errorf("sign-in with next: %d %q", p.status, p.location())
	}
}

// TestLogin: wrong passwords, non-admin and disabled users are refused with a clear message
// and audited; an admin gets a session cookie scoped to the console; next never leaves it.
func TestLogin(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)

	p := b.get("/admin/login")
	wantStatus(t, "sign-in page", p, http.StatusOK)
	wantText(t, "sign-in page", p, "Sign in", "admin")

	p = b.post("/admin/login", url.Values{"username": {adminName}, "password": {"wrong password"}})
	wantStatus(t, "wrong password", p, http.StatusUnauthorized)
	wantText(t, "wrong password", p, "Sign-in failed: the username or password is wrong, or the account is disabled.")
	if strings.Contains(p.body, "wrong password") {
		t.Error("the password is echoed")
	}
	failed := e.audited(t, oauth.EventLoginFailed)
	if len(failed) != 1 || failed[0].Actor != "anonymous" || failed[0].Details["username"] != adminName ||
		failed[0].Details["via"] != "admin_console" || failed[0].Details["ip"] != "127.0.0.1" {
		t.Errorf("login.failed events: %+v", failed)
	}
	for _, ev := range failed {
		for k, v := range ev.Details {
			if strings.Contains(v, "wrong password") {
				t.Errorf("the password is in the audit trail (%s)", k)
			}
		}
	}

	p = b.post("/admin/login", url.Values{"username": {plainUser}, "password": {plainPassword}})
	wantStatus(t, "non-admin", p, http.StatusForbidden)
	wantText(t, "non-admin", p, "This account is not an administrator")
	if ev := e.audited(t, oauth.EventLoginFailed)[0]; ev.Details["reason"] != "not_admin" || ev.Subject != e.alice.ID {
		t.Errorf("non-admin sign-in audited as %+v", ev)
	}

	p = b.post("/admin/login", url.Values{"username": {disabledAdmin}, "password": {adminPassword}})
	wantStatus(t, "disabled admin", p, http.StatusUnauthorized)
	wantText(t, "disabled admin", p, "or the account is disabled")

	for _, p := range []page{b.get("/admin/"), b.get("/admin/clients")} {
		if p.status != http.StatusFound {
			t.Errorf("no session expected after refused sign-ins: %d", p.status)
		}
	}

	// An unsafe next is ignored.
	for _, next := range []string{"//evil.example/", "https://evil.example/admin/", "/admin/../x", "/account", "/admin/login"} {
		b2 := e.browser(t)
		b2.get("/admin/login")
		p := b2.post("/admin/login", url.Values{"username": {adminName}, "password": {adminPassword}, "next": {next}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", p.status)
		}
		if loc := p.location(); loc != "/admin/" {
			t.Errorf("next %q: redirected to %q", next, loc)
		}
	}

	// Repeated failures are throttled (429 with Retry-After); throttled attempts are not
	// audited. The throttle's delays double, so a few attempts reach it however slow the
	// machine.
	throttled := false
	before := len(e.audited(t, oauth.EventLoginFailed))
	for range 20 {
		p := b.post("/admin/login", url.Values{"username": {otherAdmin}, "password": {"guess"}})
		if p.status == http.StatusTooManyRequests {
			throttled = true
			wantText(t, "throttled", p, "Too many failed sign-in attempts")
			if p.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			break
		}
		wantStatus(t, "guess", p, http.StatusUnauthorized)
	}
	if !throttled {
		t.Error("sign-in attempts are not throttled")
	}
	after := len(e.audited(t, oauth.EventLoginFailed))
	if after-before < 5 || after-before > 19 {
		t.Errorf("%d failures audited", after-before)
	}

	// The session cookie: HttpOnly, SameSite=Strict, scoped to the console, not Secure over http.
	b3 := e.browser(t)
	b3.get("/admin/login")
	resp := b3.postRaw("/admin/login", url.Values{"username": {adminName}, "password": {adminPassword}, "csrf": {b3.csrf}}, nil)
	var session *http.Cookie
	for _, c := range (&http.Response{Header: resp.header}).Cookies() {
		if c.Name == "gatehouse_admin_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/admin/" ||
		session.Secure || !strings.HasPrefix(session.Value, "ghadm_") {
		t.Errorf("session cookie %+v", session)
	}
	ok := e.audited(t, oauth.EventLoginSucceeded)
	if len(ok) == 0 || ok[0].Actor != "user:"+e.root.ID || ok[0].Details["via"] != "admin_console" || ok[0].Details["session_id"] == "" {
		t.Errorf("login.succeeded events %+v", ok)
	}
	// The console session shows on the user's sessions as one of the console.
	sessions, err := e.adm.ListSessions(context.Background(), e.root.ID)
	if err != nil || len(sessions) == 0 || !strings.HasPrefix(sessions[0].UserAgent, "admin console: ") {
		t.Errorf("sessions %+v %v", sessions, err)
	}

	// Sign out: the session ends, audited.
	b3.get("/admin/")
	p = b3.post("/admin/logout", url.Values{})
	if p.status != http.StatusSeeOther || p.location() != "/admin/login?why=signed_out" {
		t.Fatalf("sign out: %d %q", p.status, p.location())
	}
	if p := b3.get("/admin/"); p.status != http.StatusFound {
		t.Errorf("after sign-out: %d", p.status)
	}
	if out := e.audited(t, "logout"); len(out) != 1 || out[0].Subject != e.root.ID {
		t.Errorf("logout events %+v", out)
	}
	wantText(t, "signed out", b3.get("/admin/login?why=signed_out"), "You are signed out of the console.")
}

// TestSecureCookies: with SecureCookies every console cookie is Secure.
func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(o *console.Options) { o.SecureCookies = true })
	b := e.browser(t)
	req, _ := http.NewRequest(http.MethodGet, e.AdminURL+"/admin/login", nil)
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		t.Fatal("no CSRF cookie")
	}
	for _, c := range cookies {
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %+v", c)
		}
	}
}

// TestCSRF: every POST needs the token of this browser and session.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	id := e.seed(t)

	// The sign-in form needs it too (login CSRF).
	anon := e.browser(t)
	anon.get("/admin/login")
	p := anon.post("/admin/login", url.Values{"username": {adminName}, "password": {adminPassword}, "csrf": {""}})
	wantStatus(t, "sign-in without a token", p, http.StatusForbidden)
	wantText(t, "sign-in without a token", p, "The form was not accepted")

	b := e.browser(t)
	b.login(adminName, adminPassword)
	other := e.browser(t)
	other.login(otherAdmin, adminPassword)
	stale := b.csrf
	for _, path := range postPaths {
		for name, token := range map[string]string{"no token": "", "garbage": "x", "another session's": other.csrf,
			"truncated": stale[:len(stale)-2]} {
			p := b.post(path, url.Values{"id": {id}, "name": {"read"}, "csrf": {token}, "op": {"revoke_all"}, "algorithm": {"ES256"}})
			if p.status != http.StatusForbidden {
				t.Errorf("POST %s with %s token: %d", path, name, p.status)
			}
		}
	}
	// A token from before sign-in is worthless after it.
	b2 := e.browser(t)
	b2.get("/admin/login")
	before := b2.csrf
	b2.post("/admin/login", url.Values{"username": {adminName}, "password": {adminPassword}})
	if p := b2.post("/admin/clients/delete", url.Values{"id": {id}, "csrf": {before}}); p.status != http.StatusForbidden {
		t.Errorf("pre-sign-in token accepted: %d", p.status)
	}
	// A cross-site request is refused even with a token (Sec-Fetch-Site, Go's CrossOriginProtection).
	p = b.postRaw("/admin/clients/delete", url.Values{"id": {id}, "csrf": {stale}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	wantStatus(t, "cross-site POST", p, http.StatusForbidden)
	if _, err := e.adm.GetClient(context.Background(), id); err != nil {
		t.Fatalf("the client is gone: %v", err)
	}
	// The form content type and size are checked.
	p = b.postRaw("/admin/clients/delete", url.Values{"id": {id}, "csrf": {stale}}, http.Header{"Content-Type": {"text/plain"}})
	wantStatus(t, "text/plain form", p, http.StatusUnsupportedMediaType)
	p = b.post("/admin/clients/new", url.Values{"name": {strings.Repeat("x", 70<<10)}})
	wantStatus(t, "oversized form", p, http.StatusRequestEntityTooLarge)
	// With the right token it works.
	p = b.post("/admin/clients/delete", url.Values{"id": {id}, "csrf": {stale}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("delete with the right token: %d %s", p.status, p.text())
	}
	if _, err := e.adm.GetClient(context.Background(), id); err == nil {
		t.Error("the client was not deleted")
	}
}

// TestAccessEnds: a session ends when its user loses the admin role, is disabled, or the
// session is revoked; the next request goes to the sign-in page with the reason.
func TestAccessEnds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	second, err := e.adm.GetUser(ctx, otherAdmin)
	if err != nil {
		t.Fatal(err)
	}

	b := e.browser(t)
	b.login(otherAdmin, adminPassword)
	roles := []string{"ops"}
	if _, err := e.adm.UpdateUser(ctx, second.ID, admin.UserPatch{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/admin/clients")
	if p.status != http.StatusFound || !strings.Contains(p.location(), "why=not_admin") {
		t.Fatalf("after losing the role: %d %q", p.status, p.location())
	}
	wantText(t, "not admin", b.follow(p), "This account is not an administrator")
	if s, _ := e.adm.ListSessions(ctx, second.ID); len(s) != 0 {
		t.Errorf("the session was kept: %+v", s)
	}

	roles = []string{"admin"}
	if _, err := e.adm.UpdateUser(ctx, second.ID, admin.UserPatch{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	b.login(otherAdmin, adminPassword)
	if _, _, err := e.adm.DisableUser(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/admin/"); p.status != http.StatusFound {
		t.Errorf("after disabling: %d", p.status)
	}

	// Revoked from another administrator's console.
	if _, err := e.adm.EnableUser(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	b.login(otherAdmin, adminPassword)
	root := e.browser(t)
	root.login(adminName, adminPassword)
	root.get("/admin/users/view?id=" + second.ID)
	p = root.post("/admin/users/sessions", url.Values{"id": {second.ID}, "op": {"revoke_all"}})
	wantStatus(t, "end sessions", p, http.StatusSeeOther)
	wantText(t, "end sessions", root.follow(p), "1 session(s) of second were ended.")
	if p := b.get("/admin/"); p.status != http.StatusFound || !strings.Contains(p.location(), "why=expired") {
		t.Errorf("after revoking: %d %q", p.status, p.location())
	}
}

// fieldStartRE matches the start of a form field block.
var fieldStartRE = regexp.MustCompile(`class="field( check)?"`)

// nextToField checks that the error of field is shown right after the field's control,
// within the same field block.
func nextToField(t *testing.T, p page, field string) string {
	t.Helper()
	msg := fieldError(p, field)
	if msg == "" {
		t.Errorf("no error shown next to %s:\n%s", field, p.body)
		return ""
	}
	errAt := strings.Index(p.body, `id="err-`+field+`"`)
	ctl := strings.Index(p.body, `aria-describedby="err-`+field+`"`)
	if ctl < 0 || ctl > errAt || fieldStartRE.MatchString(p.body[ctl:errAt]) {
		t.Errorf("the error of %s is not next to its field", field)
	}
	return msg
}

// TestClientValidation: validation errors are shown next to their fields, with what was
// typed kept, and nothing is stored.
func TestClientValidation(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	b := e.browser(t)
	b.login(adminName, adminPassword)

	b.get("/admin/clients/new")
	p := b.post("/admin/clients/new", url.Values{"id": {"web app"}, "name": {"Web"}, "type": {"confidential"},
		"grant_types": {"authorization_code", "magic"}, "scopes": {"read", "nope"},
		"redirect_uris": {"https://ok.example/cb\r\nhttp://evil.example/cb\r\n\r\nhttps://x.example/cb#frag"},
		"token_format":  {"paper"}})
	wantStatus(t, "invalid client", p, http.StatusUnprocessableEntity)
	wantText(t, "invalid client", p, "The client was not saved")
	if msg := nextToField(t, p, "redirect_uris"); !strings.Contains(msg, `"http://evil.example/cb": http is allowed only for loopback hosts`) ||
		!strings.Contains(msg, `"https://x.example/cb#frag": must not contain a fragment`) {
		t.Errorf("redirect_uris error %q", msg)
	}
	if msg := nextToField(t, p, "grant_types"); !strings.Contains(msg, `unknown grant type "magic"`) {
		t.Errorf("grant_types error %q", msg)
	}
	if msg := nextToField(t, p, "scopes"); !strings.Contains(msg, `scope "nope" does not exist`) {
		t.Errorf("scopes error %q", msg)
	}
	if msg := nextToField(t, p, "id"); !strings.Contains(msg, "visible ASCII") {
		t.Errorf("id error %q", msg)
	}
	if msg := nextToField(t, p, "token_format"); msg == "" {
		t.Error("no token_format error")
	}
	// What was typed is kept.
	if !strings.Contains(p.body, "http://evil.example/cb") || !strings.Contains(p.body, `value="web app"`) {
		t.Error("the typed values are lost")
	}
	if fieldError(p, "name") != "" {
		t.Error("an error is shown next to a valid field")
	}
	if list, _ := e.adm.ListClients(context.Background()); len(list) != 1 {
		t.Errorf("clients stored: %d", len(list))
	}

	// A taken ID is an error next to the ID.
	p = b.post("/admin/clients/new", url.Values{"id": {"billing"}, "grant_types": {"client_credentials"}})
	wantStatus(t, "taken id", p, http.StatusConflict)
	if msg := nextToField(t, p, "id"); !strings.Contains(msg, "exists already") {
		t.Errorf("id error %q", msg)
	}

	// Editing: a public client cannot use client_credentials; the message is next to the
	// grant types, and fixing it saves.
	b.get("/admin/clients/view?id=billing")
	form := url.Values{"id": {"billing"}, "version": {"1"}, "name": {"Billing"}, "type": {"public"},
		"grant_types": {"client_credentials"}, "scopes": {"read"}, "token_format": {"opaque"}}
	p = b.post("/admin/clients/edit", form)
	wantStatus(t, "invalid edit", p, http.StatusUnprocessableEntity)
	if msg := nextToField(t, p, "grant_types"); !strings.Contains(msg, "public clients cannot use client_credentials") {
		t.Errorf("grant_types error %q", msg)
	}
	form.Set("type", "confidential")
	form.Set("name", "Billing API")
	p = b.post("/admin/clients/edit", form)
	wantStatus(t, "fixed edit", p, http.StatusSeeOther)
	wantText(t, "saved", b.follow(p), "Client billing was saved.")
	c, err := e.adm.GetClient(context.Background(), "billing")
	if err != nil || c.Name != "Billing API" || c.Version != 2 {
		t.Errorf("stored %+v %v", c, err)
	}
	if ev := e.audited(t, admin.EventClientUpdated); len(ev) != 1 || ev[0].Actor != "user:"+e.root.ID {
		t.Errorf("client.updated events %+v", ev)
	}

	// The same form again (version 1) is a lost update: refused, and the page shows the
	// current values.
	form.Set("name", "Stale")
	p = b.post("/admin/clients/edit", form)
	wantStatus(t, "stale edit", p, http.StatusConflict)
	wantText(t, "stale edit", p, "changed by someone else")
	if !strings.Contains(p.body, `value="Billing API"`) || !strings.Contains(p.body, `name="version" value="2"`) {
		t.Error("the conflict page does not show the current client")
	}
	if c, _ := e.adm.GetClient(context.Background(), "billing"); c.Name != "Billing API" {
		t.Errorf("the stale form was saved: %+v", c)
	}
	p = b.post("/admin/clients/edit", url.Values{"id": {"billing"}, "version": {"x"}})
	wantStatus(t, "bad version", p, http.StatusBadRequest)
	p = b.post("/admin/clients/edit", url.Values{"id": {"nope"}, "version": {"1"}, "grant_types": {"client_credentials"}})
	wantStatus(t, "unknown client", p, http.StatusNotFound)
}

var secretRE = regexp.MustCompile(`id="secret-value" class="mono" value="([^"]+)"`)

// TestSecretShownOnce: a new client's secret, a rotated secret and a generated password are
// shown on the page the form leads to, with no-store, and never again.
func TestSecretShownOnce(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(adminName, adminPassword)
	ctx := context.Background()

	b.get("/admin/clients/new")
	if _, err := e.adm.CreateScope(ctx, admin.ScopeInput{Name: "read"}); err != nil {
		t.Fatal(err)
	}
	p := b.post("/admin/clients/new", url.Values{"id": {"svc"}, "name": {"Service"}, "type": {"confidential"},
		"grant_types": {"client_credentials"}, "scopes": {"read"}, "token_format": {"jwt"}})
	wantStatus(t, "create", p, http.StatusSeeOther)
	if p.location() != "/admin/clients/view?id=svc" {
		t.Errorf("after create: %q", p.location())
	}
	if strings.Contains(p.body, "secret") {
		t.Error("the redirect carries the secret")
	}
	shown := b.follow(p)
	m := secretRE.FindStringSubmatch(shown.body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", shown.text())
	}
	secret := m[1]
	if cc := shown.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	wantText(t, "created", shown, "Client svc was created.", "shown only this once")
	if st := tokenStatus(t, e, "svc", secret); st != http.StatusOK {
		t.Errorf("the shown secret does not work: %d", st)
	}
	again := b.get("/admin/clients/view?id=svc")
	wantStatus(t, "reload", again, http.StatusOK)
	if strings.Contains(again.body, secret) || strings.Contains(again.body, `id="secret-value"`) {
		t.Error("the secret is shown again on reload")
	}

	p = b.post("/admin/clients/secret", url.Values{"id": {"svc"}})
	wantStatus(t, "rotate", p, http.StatusSeeOther)
	rotated := b.follow(p)
	m = secretRE.FindStringSubmatch(rotated.body)
	if m == nil || m[1] == secret {
		t.Fatalf("rotated secret: %v", m)
	}
	if strings.Contains(b.get("/admin/clients/view?id=svc").body, m[1]) {
		t.Error("the rotated secret is shown again")
	}
	if st := tokenStatus(t, e, "svc", secret); st != http.StatusUnauthorized {
		t.Errorf("the old secret: %d", st)
	}
	// A flash is bound to its session: another session cannot read the cookie's secret.
	p = b.post("/admin/clients/secret", url.Values{"id": {"svc"}})
	var flash *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "gatehouse_admin_flash" {
			flash = c
		}
	}
	if flash == nil || strings.Contains(flash.Value, "sha256") || !flash.HttpOnly || flash.SameSite != http.SameSiteStrictMode {
		t.Fatalf("flash cookie %+v", flash)
	}
	other := e.browser(t)
	other.login(otherAdmin, adminPassword)
	req, _ := http.NewRequest(http.MethodGet, e.AdminURL+"/admin/clients/view?id=svc", nil)
	req.AddCookie(flash)
	if p := other.do(req); strings.Contains(p.body, `id="secret-value"`) {
		t.Error("another session read the flash")
	}

	// A public client has no secret to rotate.
	if _, _, err := e.adm.CreateClient(ctx, admin.ClientInput{ID: "spa", Public: true, GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"http://127.0.0.1/cb"}}); err != nil {
		t.Fatal(err)
	}
	p = b.post("/admin/clients/secret", url.Values{"id": {"spa"}})
	wantStatus(t, "rotate public", p, http.StatusBadRequest)
	wantText(t, "rotate public", p, "a public client has no secret to rotate")

	// A user created without a password gets a generated one, shown once.
	b.get("/admin/users/new")
	p = b.post("/admin/users/new", url.Values{"username": {"Bob"}, "name": {"Bob"}, "email": {"bob@example.com"}, "roles": {"ops, dev"}})
	wantStatus(t, "create user", p, http.StatusSeeOther)
	shown = b.follow(p)
	m = secretRE.FindStringSubmatch(shown.body)
	if m == nil {
		t.Fatalf("no password shown:\n%s", shown.text())
	}
	bob, err := e.Provider.AuthenticateUser(ctx, "bob", m[1], "")
	if err != nil || !slices.Equal(bob.Roles, []string{"ops", "dev"}) {
		t.Errorf("the generated password: %+v %v", bob, err)
	}
	if strings.Contains(b.get("/admin/users/view?id="+bob.ID).body, m[1]) {
		t.Error("the password is shown again")
	}
	// Reset: a new generated password, shown once.
	p = b.post("/admin/users/password", url.Values{"id": {bob.ID}})
	shown = b.follow(p)
	m2 := secretRE.FindStringSubmatch(shown.body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("reset password: %v\n%s", m2, shown.text())
	}
	if _, err := e.Provider.AuthenticateUser(ctx, "bob", m2[1], ""); err != nil {
		t.Errorf("the reset password does not work: %v", err)
	}
}

// TestHeaders: the security headers of the console's pages, and the static files.
func TestHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for _, p := range []page{b.get("/admin/login"), b.get("/admin/clients"), b.get("/admin/nothing-here")} {
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" ||
			p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers %v", p.header)
		}
	}
	login := b.get("/admin/login")
	if strings.Contains(login.body, "<script>") || strings.Contains(login.body, " style=") || strings.Contains(login.body, " onclick") {
		t.Error("inline script or style in a page")
	}
	m := regexp.MustCompile(`src="(/admin/static/console\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(login.body)
	if m == nil {
		t.Fatal("the page does not load the script")
	}
	js := b.get(m[1])
	if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(js.header.Get("Cache-Control"), "immutable") || !strings.Contains(js.body, "clipboard") {
		t.Errorf("script: %d %v", js.status, js.header)
	}
	if p := b.get("/admin/static/nope.js"); p.status != http.StatusNotFound {
		t.Errorf("unknown static file: %d", p.status)
	}
	p := b.get("/admin/nothing-here")
	wantStatus(t, "unknown page", p, http.StatusNotFound)
	wantText(t, "unknown page", p, "Page not found")
	p = b.postRaw("/admin/keys", url.Values{}, nil)
	wantStatus(t, "POST to a GET page", p, http.StatusMethodNotAllowed)
	if allow := p.header.Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow %q", allow)
	}
}

// TestScopes: create (with a validation error next to the field), edit the description, set
// and unset the default, refuse to delete a scope clients use, delete.
func TestScopes(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	b := e.browser(t)
	b.login(adminName, adminPassword)
	ctx := context.Background()

	b.get("/admin/scopes")
	p := b.post("/admin/scopes", url.Values{"name": {"bad name"}, "description": {"x"}})
	wantStatus(t, "bad scope", p, http.StatusUnprocessableEntity)
	if msg := nextToField(t, p, "name"); !strings.Contains(msg, "not a valid scope name") {
		t.Errorf("name error %q", msg)
	}
	p = b.post("/admin/scopes", url.Values{"name": {"read"}})
	wantStatus(t, "taken scope", p, http.StatusConflict)
	if msg := nextToField(t, p, "name"); !strings.Contains(msg, "exists already") {
		t.Errorf("name error %q", msg)
	}
	p = b.post("/admin/scopes", url.Values{"name": {"write"}, "description": {"Write things"}, "default": {"on"}})
	wantStatus(t, "create scope", p, http.StatusSeeOther)
	if p := b.follow(p); !strings.Contains(p.text(), "Scope write was created.") || !strings.Contains(p.body, `value="Write things"`) {
		t.Errorf("after creating the scope:\n%s", p.body)
	}
	if s, err := e.adm.GetScope(ctx, "write"); err != nil || !s.Default {
		t.Fatalf("stored %+v %v", s, err)
	}
	p = b.post("/admin/scopes/edit", url.Values{"name": {"write"}, "op": {"save"}, "description": {"Change things"}, "default": {"on"}})
	wantStatus(t, "edit scope", p, http.StatusSeeOther)
	if s, _ := e.adm.GetScope(ctx, "write"); s.Description != "Change things" || !s.Default {
		t.Errorf("after edit %+v", s)
	}
	p = b.post("/admin/scopes/edit", url.Values{"name": {"write"}, "op": {"default"}})
	wantText(t, "unset default", b.follow(p), "Scope write is no longer a default scope.")
	if s, _ := e.adm.GetScope(ctx, "write"); s.Default || s.Description != "Change things" {
		t.Errorf("after unset %+v", s)
	}
	p = b.post("/admin/scopes/edit", url.Values{"name": {"write"}, "op": {"default"}, "default": {"on"}})
	wantText(t, "set default", b.follow(p), "Scope write is a default scope now.")
	p = b.post("/admin/scopes/edit", url.Values{"name": {"write"}, "op": {"save"}, "description": {"bad\x01"}})
	wantStatus(t, "bad description", p, http.StatusUnprocessableEntity)
	if !strings.Contains(p.body, `id="err-description-`) || !strings.Contains(p.text(), "control characters") {
		t.Errorf("description error not shown:\n%s", p.text())
	}

	p = b.get("/admin/scopes/delete?name=read")
	wantText(t, "confirm", p, "Delete the scope read?")
	p = b.post("/admin/scopes/delete", url.Values{"name": {"read"}})
	wantStatus(t, "delete used scope", p, http.StatusConflict)
	wantText(t, "delete used scope", p, "scope is allowed to clients billing")
	p = b.post("/admin/scopes/delete", url.Values{"name": {"write"}})
	wantText(t, "deleted", b.follow(p), "Scope write was deleted.")
	if _, err := e.adm.GetScope(ctx, "write"); err == nil {
		t.Error("not deleted")
	}
	p = b.post("/admin/scopes/delete", url.Values{"name": {"write"}})
	wantStatus(t, "delete again", p, http.StatusNotFound)
}

// TestUsers: list and search, edit with validation, disable/enable, the actions refused on
// one's own account, sessions, consents and tokens with revocation, delete.
func TestUsers(t *testing.T) {
	e := newEnv(t, func(o *console.Options) { o.PageSize = 2 })
	e.seed(t)
	b := e.browser(t)
	b.login(adminName, adminPassword)
	ctx := context.Background()

	// Paging: 4 users, 2 a page, ordered by username.
	p := b.get("/admin/users")
	wantText(t, "users page 1", p, plainUser, disabledAdmin)
	m := regexp.MustCompile(`href="(/admin/users\?q=&amp;after=[^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no next page link:\n%s", p.body)
	}
	p2 := b.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	wantText(t, "users page 2", p2, adminName, otherAdmin, "First page")
	if strings.Contains(p2.text(), plainUser+" ") {
		t.Error("page 2 repeats page 1")
	}
	p = b.get("/admin/users?q=ALI")
	if !strings.Contains(p.text(), plainUser) || strings.Contains(p.text(), otherAdmin) {
		t.Errorf("search: %s", p.text())
	}
	p = b.get("/admin/users?q=" + url.QueryEscape("a\x01"))
	wantStatus(t, "bad search", p, http.StatusBadRequest)

	// Edit with a validation error next to the field.
	b.get("/admin/users/view?id=" + e.alice.ID)
	p = b.post("/admin/users/edit", url.Values{"id": {e.alice.ID}, "username": {"alice"}, "email": {"not-an-email"}, "roles": {"x"}})
	wantStatus(t, "bad email", p, http.StatusUnprocessableEntity)
	if msg := nextToField(t, p, "email"); !strings.Contains(msg, "is not an email address") {
		t.Errorf("email error %q", msg)
	}
	p = b.post("/admin/users/edit", url.Values{"id": {e.alice.ID}, "username": {otherAdmin}})
	wantStatus(t, "taken username", p, http.StatusConflict)
	nextToField(t, p, "username")
	p = b.post("/admin/users/edit", url.Values{"id": {e.alice.ID}, "username": {"alice"}, "name": {"Alice Liddell"},
		"email": {"alice@example.org"}, "email_verified": {"on"}, "roles": {"reader"}})
	wantText(t, "saved", b.follow(p), "User alice was saved.")
	if u, _ := e.adm.GetUser(ctx, e.alice.ID); u.Name != "Alice Liddell" || !u.EmailVerified || !slices.Equal(u.Roles, []string{"reader"}) {
		t.Errorf("stored %+v", u)
	}

	// One's own account: no removing the admin role, disabling, resetting or deleting.
	p = b.post("/admin/users/edit", url.Values{"id": {e.root.ID}, "username": {adminName}, "roles": {"ops"}})
	wantStatus(t, "own role", p, http.StatusUnprocessableEntity)
	if msg := nextToField(t, p, "roles"); !strings.Contains(msg, "cannot remove the admin role from your own account") {
		t.Errorf("roles error %q", msg)
	}
	for _, path := range []string{"/admin/users/status", "/admin/users/password", "/admin/users/delete"} {
		p := b.post(path, url.Values{"id": {e.root.ID}, "op": {"disable"}})
		wantStatus(t, "own account "+path, p, http.StatusConflict)
		wantText(t, "own account "+path, p, "your own")
	}
	if u, _ := e.adm.GetUser(ctx, e.root.ID); u.Disabled || !slices.Contains(u.Roles, "admin") {
		t.Errorf("own account changed: %+v", u)
	}

	// Alice's session, consent and tokens (a personal access token and a consent).
	if err := e.Provider.RecordConsent(ctx, e.alice.ID, "billing", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.adm.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: e.alice.ID, Name: "laptop", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.adm.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: e.alice.ID, Name: "ci", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	ab := e.browser(t)
	ab.base = e.URL
	ab.get("/login")
	if p := ab.post("/login", url.Values{"username": {plainUser}, "password": {plainPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("alice's sign-in on the public site: %d", p.status)
	}
	p = b.get("/admin/users/view?id=" + e.alice.ID)
	wantText(t, "user page", p, "Billing", "laptop", "ci", "personal_access_token")
	if !strings.Contains(p.body, `<table id="sessions">`) {
		t.Error("the session is not listed")
	}
	tokens, _ := e.adm.ListUserTokens(ctx, e.alice.ID)
	if len(tokens) != 2 {
		t.Fatalf("tokens %+v", tokens)
	}
	p = b.post("/admin/users/tokens", url.Values{"id": {e.alice.ID}, "op": {"revoke"}, "token": {tokens[0].ID}})
	wantText(t, "revoke token", b.follow(p), "The token was revoked.")
	p = b.post("/admin/users/tokens", url.Values{"id": {e.alice.ID}, "op": {"revoke"}, "token": {tokens[0].ID}})
	wantStatus(t, "revoke a revoked token", p, http.StatusSeeOther)
	p = b.post("/admin/users/tokens", url.Values{"id": {e.root.ID}, "op": {"revoke"}, "token": {tokens[1].ID}})
	wantStatus(t, "revoke another user's token", p, http.StatusNotFound)
	p = b.post("/admin/users/tokens", url.Values{"id": {e.alice.ID}, "op": {"revoke_all"}})
	wantText(t, "revoke all", b.follow(p), "1 token(s) of alice were revoked.")
	p = b.post("/admin/users/tokens", url.Values{"id": {e.alice.ID}, "op": {"bogus"}})
	wantStatus(t, "unknown op", p, http.StatusBadRequest)
	p = b.post("/admin/users/consents", url.Values{"id": {e.alice.ID}, "client_id": {"billing"}})
	wantText(t, "revoke consent", b.follow(p), "The consent of alice for billing was revoked")
	if c, _ := e.adm.ListConsents(ctx, e.alice.ID); len(c) != 0 {
		t.Errorf("consents %+v", c)
	}
	sessions, _ := e.adm.ListSessions(ctx, e.alice.ID)
	if len(sessions) != 1 {
		t.Fatalf("sessions %+v", sessions)
	}
	p = b.post("/admin/users/sessions", url.Values{"id": {e.alice.ID}, "op": {"revoke"}, "session": {sessions[0].ID}})
	wantText(t, "end session", b.follow(p), "The session was ended.")
	if p := ab.get("/account"); p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Errorf("alice's session survived: %d", p.status)
	}

	// Disable, enable, delete.
	p = b.post("/admin/users/status", url.Values{"id": {e.alice.ID}, "op": {"disable"}})
	wantText(t, "disable", b.follow(p), "User alice was disabled")
	if u, _ := e.adm.GetUser(ctx, e.alice.ID); !u.Disabled {
		t.Error("not disabled")
	}
	p = b.post("/admin/users/status", url.Values{"id": {e.alice.ID}, "op": {"enable"}})
	wantText(t, "enable", b.follow(p), "User alice was enabled")
	wantText(t, "confirm delete", b.get("/admin/users/delete?id="+e.alice.ID), "Delete the user alice?")
	p = b.post("/admin/users/delete", url.Values{"id": {e.alice.ID}})
	wantText(t, "deleted", b.follow(p), "User alice was deleted.")
	if _, err := e.adm.GetUser(ctx, e.alice.ID); err == nil {
		t.Error("not deleted")
	}
	if p := b.get("/admin/users/view?id=" + e.alice.ID); p.status != http.StatusNotFound {
		t.Errorf("deleted user's page: %d", p.status)
	}
	if p := b.get("/admin/users/view"); p.status != http.StatusBadRequest {
		t.Errorf("no id: %d", p.status)
	}
	for _, typ := range []string{admin.EventUserUpdated, admin.EventUserDisabled, admin.EventUserEnabled, admin.EventUserDeleted,
		admin.EventSessionRevoked, oauth.EventConsentRevoked, oauth.EventTokenRevoked} {
		ev := e.audited(t, typ)
		if len(ev) == 0 || ev[0].Actor != "user:"+e.root.ID {
			t.Errorf("%s events %+v", typ, ev)
		}
	}
}

// tokenStatus is the status of a client credentials token request.
func tokenStatus(t *testing.T, e *env, clientID, secret string) int {
	t.Helper()
	resp, err := e.Client.PostForm(e.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {clientID}, "client_secret": {secret}, "scope": {"read"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tokenFor gets an opaque access token for a client with client credentials at the public
// token endpoint.
func tokenFor(t *testing.T, e *env, clientID, secret, scope string) string {
	t.Helper()
	resp, err := e.Client.PostForm(e.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {clientID}, "client_secret": {secret}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// introspectActive asks the public introspection endpoint whether tok is active.
func introspectActive(t *testing.T, e *env, clientID, secret, tok string) bool {
	t.Helper()
	resp, err := e.Client.PostForm(e.URL+"/oauth2/introspect", url.Values{"token": {tok}, "client_id": {clientID}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Active
}

// TestClientTokensAndKeys: a client's tokens are listed and revoked (one, then all); keys
// are listed and rotated; the audit trail shows it all with filters and pages.
func TestClientTokensAndKeys(t *testing.T) {
	e := newEnv(t, func(o *console.Options) { o.PageSize = 3 })
	ctx := context.Background()
	e.seed(t)
	secret, err := e.adm.RotateSecret(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	t1, t2, t3 := tokenFor(t, e, "billing", secret, "read"), tokenFor(t, e, "billing", secret, "read"), tokenFor(t, e, "billing", secret, "read")
	b := e.browser(t)
	b.login(adminName, adminPassword)

	p := b.get("/admin/clients/tokens?id=billing")
	wantStatus(t, "tokens", p, http.StatusOK)
	ids := regexp.MustCompile(`name="token" value="([^"]+)"`).FindAllStringSubmatch(p.body, -1)
	if len(ids) != 3 {
		t.Fatalf("tokens listed: %d\n%s", len(ids), p.text())
	}
	p = b.post("/admin/clients/tokens", url.Values{"id": {"billing"}, "op": {"revoke"}, "token": {ids[0][1]}})
	wantText(t, "revoke", b.follow(p), "The token was revoked.")
	active := 0
	for _, tok := range []string{t1, t2, t3} {
		if introspectActive(t, e, "billing", secret, tok) {
			active++
		}
	}
	if active != 2 {
		t.Errorf("%d tokens active after revoking one", active)
	}
	p = b.post("/admin/clients/tokens", url.Values{"id": {"billing"}, "op": {"revoke_all"}})
	wantText(t, "revoke all", b.follow(p), "2 token(s) of billing were revoked.", "This client has no active tokens.")
	for _, tok := range []string{t1, t2, t3} {
		if introspectActive(t, e, "billing", secret, tok) {
			t.Error("a token is still active")
		}
	}

	// Keys.
	before, _ := e.adm.ListKeys(ctx)
	p = b.get("/admin/keys")
	wantText(t, "keys", p, "ES256", "RS256", "current", "next")
	p = b.post("/admin/keys/rotate", url.Values{"algorithm": {"ES256"}})
	wantText(t, "rotate", b.follow(p), "The ES256 key was rotated")
	after, _ := e.adm.ListKeys(ctx)
	if len(after) != len(before)+1 {
		t.Errorf("keys %d → %d", len(before), len(after))
	}
	p = b.post("/admin/keys/rotate", url.Values{"algorithm": {"HS256"}})
	wantStatus(t, "rotate an unknown algorithm", p, http.StatusBadRequest)

	// The audit trail: filtered by type, by actor, paged by 3, bad input refused.
	p = b.get("/admin/audit?type=token.revoked")
	wantStatus(t, "audit", p, http.StatusOK)
	if n := strings.Count(p.body, "<code>token.revoked</code>"); n != 2 {
		t.Errorf("token.revoked rows: %d", n)
	}
	p = b.get("/admin/audit?actor=" + url.QueryEscape("user:"+e.root.ID))
	wantText(t, "by actor", p, admin.EventKeyRotated)
	if strings.Contains(p.body, "<code>client.created</code>") {
		t.Error("the actor filter lets other actors' events through")
	}
	seen := map[string]bool{}
	next := "/admin/audit"
	for pages := 0; next != ""; pages++ {
		if pages > 50 {
			t.Fatal("no end to the audit pages")
		}
		p := b.get(next)
		rows := regexp.MustCompile(`<td class="nowrap">`).FindAllStringIndex(p.body, -1)
		if len(rows) > 3 {
			t.Fatalf("page of %d rows", len(rows))
		}
		for _, m := range regexp.MustCompile(`(?s)<tr>\s*<td class="nowrap">.*?</tr>`).FindAllString(p.body, -1) {
			if seen[m] {
				t.Errorf("row repeated on another page: %s", m)
			}
			seen[m] = true
		}
		next = ""
		if m := regexp.MustCompile(`href="(/admin/audit\?[^"]+)" rel="next"`).FindStringSubmatch(p.body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	all, _ := e.Store.ListAudit(ctx, storage.AuditFilter{Limit: 500})
	if len(seen) != len(all) {
		t.Errorf("paged through %d events, %d stored", len(seen), len(all))
	}
	p = b.get("/admin/audit?since=yesterday")
	wantStatus(t, "bad since", p, http.StatusBadRequest)
	if msg := nextToField(t, p, "since"); !strings.Contains(msg, "Not a time") {
		t.Errorf("since error %q", msg)
	}
	p = b.get("/admin/audit?since=2030-01-02T00:00&until=2030-01-01")
	wantStatus(t, "until before since", p, http.StatusBadRequest)
	nextToField(t, p, "until")
	p = b.get("/admin/audit?before=x")
	wantStatus(t, "bad cursor", p, http.StatusBadRequest)
	p = b.get("/admin/audit?since=2000-01-01T00:00&until=2000-01-02")
	wantText(t, "empty range", p, "No events match.")

	// Delete the client, with confirmation.
	wantText(t, "confirm", b.get("/admin/clients/delete?id=billing"), "Delete the client Billing (billing)?")
	p = b.post("/admin/clients/delete", url.Values{"id": {"billing"}})
	wantText(t, "deleted", b.follow(p), "Client billing was deleted.")
	if p := b.get("/admin/clients/view?id=billing"); p.status != http.StatusNotFound {
		t.Errorf("deleted client's page: %d", p.status)
	}
}

// TestEveryPageRenders: every GET page renders for a signed-in administrator, with data on
// it, without a template error, with a title and the navigation.
func TestEveryPageRenders(t *testing.T) {
	e := newEnv(t)
	id := e.seed(t)
	ctx := context.Background()
	if _, _, err := e.adm.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: e.alice.ID, Name: "cli", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Provider.RecordConsent(ctx, e.alice.ID, id, []string{"read"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.login(adminName, adminPassword)
	for _, path := range getPages(e, id) {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", path, p.status, p.text())
			continue
		}
		if !regexp.MustCompile(`<title>[^<]+ · Gatehouse admin</title>`).MatchString(p.body) || !strings.Contains(p.body, `<h1>`) ||
			!strings.Contains(p.body, `<nav aria-label="Console">`) || !strings.Contains(p.body, "Sign out") {
			t.Errorf("GET %s: no title or navigation", path)
		}
	}
}

// TestAPITokens: an admin API token is created in the console, shown once, works, and stops
// working when it is revoked there; bad input is reported next to its field.
func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser(t)
	b.login(adminName, adminPassword)

	p := b.post("/admin/api-tokens", url.Values{"name": {"terraform"}, "days": {"many"}})
	wantStatus(t, "bad days", p, http.StatusUnprocessableEntity)
	wantText(t, "bad days", p, "Enter a whole number of days")
	p = b.post("/admin/api-tokens", url.Values{"name": {""}, "days": {"30"}})
	wantStatus(t, "no name", p, http.StatusUnprocessableEntity)
	if !strings.Contains(p.body, `id="err-name"`) {
		t.Errorf("no error next to the name field:\n%s", p.text())
	}

	p = b.follow(b.post("/admin/api-tokens", url.Values{"name": {"terraform"}, "days": {"30"}}))
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the token is not shown:\n%s", p.text())
	}
	value := m[1]
	tok, err := e.adm.AuthenticateAdminToken(ctx, value)
	if err != nil {
		t.Fatalf("the token shown does not authenticate: %v", err)
	}
	if tok.CreatedBy != "user:"+e.root.ID || tok.ExpiresAt.IsZero() {
		t.Errorf("token %+v: want created by the administrator, with an expiry", tok)
	}
	if p = b.get("/admin/api-tokens"); strings.Contains(p.body, value) {
		t.Error("the token is shown again on reload")
	}
	wantText(t, "list", p, "terraform", tok.ID)

	p = b.post("/admin/api-tokens/revoke", url.Values{"id": {tok.ID}})
	wantText(t, "revoke", b.follow(p), "The token was revoked")
	if _, err := e.adm.AuthenticateAdminToken(ctx, value); !errors.Is(err, admin.ErrInvalidAdminToken) {
		t.Errorf("a revoked token authenticates: %v", err)
	}
	p = b.post("/admin/api-tokens/revoke", url.Values{"id": {tok.ID}})
	wantText(t, "revoke twice", b.follow(p), "revoked already")
}
