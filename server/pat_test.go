package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

var (
	newTokenRE = regexp.MustCompile(`id="new-token" class="token" value="([^"]+)"`)
	tokenIDRE  = regexp.MustCompile(`name="op" value="revoke_token">\s*<input type="hidden" name="id" value="([^"]+)">`)
)

// createPAT posts the account page's new-token form and returns the page that answers it.
func createPAT(a *agent, csrf, name, days string, scopes ...string) response {
	a.t.Helper()
	form := url.Values{"csrf": {csrf}, "op": {"create_token"}, "name": {name}, "expires_days": {days}, "scope": scopes}
	return a.post("/account", form)
}

// patFromPage returns the token shown once on the page.
func patFromPage(t *testing.T, body []byte) string {
	t.Helper()
	m := newTokenRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no new token on the page: %s", body)
	}
	return string(m[1])
}

func TestPersonalAccessTokensOnAccountPage(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	a.signIn()
	acct := page(t, a.get("/account"), http.StatusOK)
	body := string(acct.body)
	for _, want := range []string{"Personal access tokens", "You have no personal access tokens.",
		`name="scope" value="read"`, `name="scope" value="write"`, `name="scope" value="admin"`,
		`<option value="30" selected>30 days</option>`, `<option value="365">365 days</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
	for _, oidcScope := range []string{"openid", "profile", "email", "offline_access"} {
		if strings.Contains(body, `name="scope" value="`+oidcScope+`"`) {
			t.Errorf("the OpenID Connect scope %s is offered for a personal token", oidcScope)
		}
	}
	csrf := hidden(acct.body).Get("csrf")

	// Without a valid CSRF token nothing is created.
	for _, bad := range []string{"", "garbage"} {
		page(t, createPAT(a, bad, "ci", "30", "read"), http.StatusForbidden)
	}
	if events, _ := f.Store.ListAudit(bg, storage.AuditFilter{Type: "personal_token.created"}); len(events) != 0 {
		t.Fatalf("created without CSRF: %+v", events)
	}

	// Invalid input shows the form again with the reason and the typed name.
	r := page(t, createPAT(a, csrf, "ci", "30"), http.StatusBadRequest)
	if b := string(r.body); !strings.Contains(b, "Choose at least one scope.") || !strings.Contains(b, `name="name" value="ci"`) ||
		strings.Contains(b, "new-token") {
		t.Errorf("no scope: %s", r.body)
	}
	r = page(t, createPAT(a, csrf, "ci", "400", "read"), http.StatusBadRequest)
	if !strings.Contains(string(r.body), "The expiry must be at most 365 days.") ||
		!strings.Contains(string(r.body), `name="scope" value="read" checked`) {
		t.Errorf("too long: %s", r.body)
	}
	page(t, createPAT(a, csrf, "ci", "soon", "read"), http.StatusBadRequest)
	page(t, createPAT(a, csrf, "ci", "30", "openid"), http.StatusBadRequest)
	page(t, createPAT(a, csrf, "", "30", "read"), http.StatusBadRequest)

	// Created: shown once.
	r = page(t, createPAT(a, csrf, "ci", "30", "read", "write"), http.StatusOK)
	pat := patFromPage(t, r.body)
	if !token.CheckOpaque(pat, token.PrefixPersonal) || !strings.Contains(string(r.body), "Copy it now: it will not be shown again.") {
		t.Fatalf("token %q on %s", pat, r.body)
	}
	acct = page(t, a.get("/account"), http.StatusOK)
	body = string(acct.body)
	if strings.Contains(body, pat) || strings.Contains(body, token.PrefixPersonal) {
		t.Fatal("the token is shown a second time")
	}
	if !strings.Contains(body, "<h3>ci</h3>") || !strings.Contains(body, "<code>read</code>, <code>write</code>") ||
		!strings.Contains(body, "Never used") {
		t.Fatalf("token list: %s", body)
	}
	m := tokenIDRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no revoke form: %s", body)
	}
	id := m[1]

	// It introspects as a personal access token, and the use is recorded.
	in := f.introspect(t, pat)
	if in["active"] != true || in["token_use"] != "personal_access_token" || in["token_type"] != "Bearer" ||
		in["sub"] != f.user.ID || in["scope"] != "read write" || in["jti"] != id || in["iss"] != f.URL {
		t.Fatalf("introspection = %v", in)
	}
	if _, ok := in["client_id"]; ok {
		t.Errorf("a personal token names a client: %v", in)
	}
	if b := string(page(t, a.get("/account"), http.StatusOK).body); !strings.Contains(b, "Last used ") || strings.Contains(b, "Never used") {
		t.Errorf("last use not shown: %s", b)
	}

	// Not for userinfo, and /oauth2/revoke leaves it alone.
	if r := f.get(t, "/oauth2/userinfo", "Authorization", "Bearer "+pat); r.status != http.StatusUnauthorized {
		t.Errorf("userinfo with a personal token: %d %s", r.status, r.body)
	}
	if r := f.post(t, "/oauth2/revoke", url.Values{"token": {pat}}.Encode(), f.clientID, f.secret); r.status != http.StatusOK {
		t.Errorf("revocation endpoint: %d %s", r.status, r.body)
	}
	if in := f.introspect(t, pat); in["active"] != true {
		t.Fatal("the revocation endpoint revoked a personal token")
	}

	// Revoked on the account page, with CSRF.
	page(t, a.post("/account", url.Values{"op": {"revoke_token"}, "id": {id}}), http.StatusForbidden)
	if in := f.introspect(t, pat); in["active"] != true {
		t.Fatal("revoked without CSRF")
	}
	loc := location(t, a.post("/account", url.Values{"csrf": {csrf}, "op": {"revoke_token"}, "id": {id}}))
	after := string(page(t, a.get(loc), http.StatusOK).body)
	if !strings.Contains(after, "The token was revoked.") || strings.Contains(after, "<h3>ci</h3>") {
		t.Errorf("after revoking: %s", after)
	}
	if in := f.introspect(t, pat); in["active"] != false {
		t.Fatalf("revoked token: %v", in)
	}
	for _, typ := range []string{"personal_token.created", "personal_token.revoked"} {
		events, err := f.Store.ListAudit(bg, storage.AuditFilter{Type: typ})
		if err != nil || len(events) != 1 || events[0].Subject != f.user.ID {
			t.Errorf("%s events: %+v, %v", typ, events, err)
		}
		for _, v := range events[0].Details {
			if strings.Contains(v, pat) {
				t.Errorf("%s holds the token", typ)
			}
		}
	}
	// Revoking again is harmless.
	location(t, a.post("/account", url.Values{"csrf": {csrf}, "op": {"revoke_token"}, "id": {id}}))
}

func TestPersonalAccessTokenNeedsSignIn(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	csrf := hidden(page(t, a.get("/login"), http.StatusOK).body).Get("csrf")
	if loc := location(t, createPAT(a, csrf, "ci", "30", "read")); loc != "/login" {
		t.Errorf("not signed in: %s", loc)
	}
	if events, _ := f.Store.ListAudit(bg, storage.AuditFilter{Type: "personal_token.created"}); len(events) != 0 {
		t.Fatalf("created without a session: %+v", events)
	}
}
