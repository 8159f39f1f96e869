package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// TestAuthorizeDisplayedErrors: a bad client or redirect URI is shown on a page and never
// redirected to (RFC 6749 4.1.2.1), whatever else the request says.
func TestAuthorizeDisplayedErrors(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	good := f.authParams(webClient, oauth2.GenerateVerifier())
	with := func(k, v string) url.Values {
		p := url.Values{}
		for key, vs := range good {
			p[key] = slices.Clone(vs)
		}
		if v == "" {
			p.Del(k)
		} else {
			p.Set(k, v)
		}
		return p
	}
	cases := map[string]url.Values{
		"open redirect":          with("redirect_uri", "https://evil.example"),
		"redirect URI prefix":    with("redirect_uri", f.cb.URL+"/cb/../evil"),
		"redirect URI with more": with("redirect_uri", f.cb.URL+"/cb?x=1"),
		"unregistered client":    with("client_id", "nobody"),
		"no client":              with("client_id", ""),
		// The web client has one redirect URI, so it may be left out; the SPA's is checked.
		"another client's URI": with("client_id", spaClient),
	}
	for name, params := range cases {
		t.Run(name, func(t *testing.T) {
			r := page(t, a.get("/oauth2/authorize?"+params.Encode()), http.StatusBadRequest)
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("redirected to %s", loc)
			}
			if !strings.Contains(string(r.body), "invalid_request") {
				t.Errorf("no error code on the page: %s", r.body)
			}
			if strings.Contains(r.header.Get("Content-Security-Policy"), "evil") {
				t.Error("the CSP names the attacker's origin")
			}
		})
	}
	t.Run("POST", func(t *testing.T) {
		r := page(t, a.post("/oauth2/authorize", with("redirect_uri", "https://evil.example")), http.StatusBadRequest)
		if r.header.Get("Location") != "" {
			t.Error("redirected")
		}
	})
	t.Run("malformed query", func(t *testing.T) {
		page(t, a.get("/oauth2/authorize?client_id=%zz"), http.StatusBadRequest)
	})
	// Nothing was stored: no session, no code.
	if got := a.cookie(server.CookieSession); got != "" {
		t.Errorf("session cookie %q", got)
	}
}

// TestAuthorizeRedirectedErrors: once the client and redirect URI are good, errors go back to
// the client with state and iss (RFC 9207).
func TestAuthorizeRedirectedErrors(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	v := oauth2.GenerateVerifier()
	cases := []struct {
		name   string
		edit   func(p url.Values)
		client string
		code   string
	}{
		{"implicit disabled by default", func(p url.Values) {
			p.Set("response_type", "token")
			p.Del("code_challenge")
			p.Del("code_challenge_method")
		}, webClient, oauth.CodeUnauthorizedClient},
		{"public client without PKCE", func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") }, spaClient, oauth.CodeInvalidRequest},
		{"plain PKCE", func(p url.Values) { p.Set("code_challenge_method", "plain") }, webClient, oauth.CodeInvalidRequest},
		{"unknown response type", func(p url.Values) { p.Set("response_type", "magic") }, webClient, oauth.CodeUnsupportedResponseType},
		{"scope not allowed", func(p url.Values) { p.Set("scope", "openid admin") }, webClient, oauth.CodeInvalidScope},
		{"prompt=none without a session", func(p url.Values) { p.Set("prompt", "none") }, webClient, oauth.CodeLoginRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.authParams(tc.client, v)
			tc.edit(p)
			loc, err := url.Parse(location(t, a.get("/oauth2/authorize?"+p.Encode())))
			if err != nil {
				t.Fatal(err)
			}
			if base := loc.Scheme + "://" + loc.Host + loc.Path; base != p.Get("redirect_uri") {
				t.Fatalf("redirected to %s", loc)
			}
			q := loc.Query()
			if p.Get("response_type") != "code" { // errors go where the response would: the fragment
				if loc.RawQuery != "" {
					t.Errorf("query %q", loc.RawQuery)
				}
				q, _ = url.ParseQuery(loc.Fragment)
			}
			if q.Get("error") != tc.code || q.Get("error_description") == "" || q.Get("state") != "st-123" || q.Get("iss") != f.URL {
				t.Errorf("error response %v", q)
			}
		})
	}

	t.Run("form_post", func(t *testing.T) {
		p := f.authParams(webClient, v)
		p.Set("response_mode", "form_post")
		p.Set("prompt", "none")
		r := page(t, a.get("/oauth2/authorize?"+p.Encode()), http.StatusOK)
		fields := hidden(r.body)
		if fields.Get("error") != oauth.CodeLoginRequired || fields.Get("state") != "st-123" || fields.Get("iss") != f.URL {
			t.Errorf("form_post fields %v", fields)
		}
		if !strings.Contains(string(r.body), `action="`+f.cb.URL+`/cb"`) {
			t.Errorf("form_post action: %s", r.body)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+f.cb.URL+";") &&
			!strings.HasSuffix(csp, "form-action 'self' "+f.cb.URL) {
			t.Errorf("CSP %q does not let the form post to the client", csp)
		}
	})
}

// TestCodeFlow runs the code flow over plain HTTP and attacks the code: PKCE, another client,
// replay.
func TestCodeFlow(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	verifier := oauth2.GenerateVerifier()
	params := f.authParams(webClient, verifier)
	u, v := a.authorize(params, false)
	if !v.login || !v.consent {
		t.Errorf("pages: %+v", v)
	}
	code := u.Query().Get("code")
	if !strings.HasPrefix(code, "ghc_") || u.Query().Get("iss") != f.URL || u.Query().Get("state") != "st-123" {
		t.Fatalf("authorization response %s", u)
	}
	conf := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader)
	other := f.oauth2Config(trustedApp, f.trustedSecret, oauth2.AuthStyleInHeader)
	_, err := conf.Exchange(bg, code)
	wantRetrieveError(t, err, oauth.CodeInvalidGrant) // no code_verifier
	_, err = conf.Exchange(bg, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantRetrieveError(t, err, oauth.CodeInvalidGrant) // wrong code_verifier
	_, err = other.Exchange(bg, code, oauth2.VerifierOption(verifier))
	wantRetrieveError(t, err, oauth.CodeInvalidGrant) // another client's code

	tok, err := conf.Exchange(bg, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Errorf("token response lacks a refresh or ID token: %+v", tok)
	}
	if m := f.introspect(t, tok.AccessToken); m["active"] != true || m["sub"] != f.user.ID || m["client_id"] != webClient {
		t.Errorf("introspection %v", m)
	}
	// Replay: refused, and what the first exchange issued is revoked.
	_, err = conf.Exchange(bg, code, oauth2.VerifierOption(verifier))
	wantRetrieveError(t, err, oauth.CodeInvalidGrant)
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		if m := f.introspect(t, tk); m["active"] != false {
			t.Errorf("token still active after code replay: %v", m)
		}
	}

	// A public client: no secret, PKCE.
	v2 := oauth2.GenerateVerifier()
	spaCode := f.code(t, a, f.authParams(spaClient, v2))
	spa := f.oauth2Config(spaClient, "", oauth2.AuthStyleInParams)
	spa.RedirectURL = f.cb.URL + "/spa"
	if _, err := spa.Exchange(bg, spaCode, oauth2.VerifierOption(v2)); err != nil {
		t.Errorf("public client exchange: %v", err)
	}
}

func TestExpiredCode(t *testing.T) {
	c := newClock()
	f := newFlowEnv(t, servertestNow(c))
	a := f.newAgent(t)
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, a, f.authParams(webClient, verifier))
	c.Add(61 * time.Second) // codes live 60 seconds
	_, err := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInParams).Exchange(bg, code, oauth2.VerifierOption(verifier))
	wantRetrieveError(t, err, oauth.CodeInvalidGrant)

	// A sealed request expires too (30 minutes).
	p := f.authParams(webClient, verifier)
	p.Set("prompt", "login")
	loginURL := location(t, a.get("/oauth2/authorize?"+p.Encode()))
	c.Add(31 * time.Minute)
	page(t, a.get(loginURL), http.StatusBadRequest)
}

func TestConsentRememberedAndDenied(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	u, v := a.authorize(f.authParams(webClient, oauth2.GenerateVerifier()), true)
	if !v.consent || u.Query().Get("error") != oauth.CodeAccessDenied || u.Query().Get("state") != "st-123" {
		t.Fatalf("deny: %s %+v", u, v)
	}
	// Denying remembered nothing; allowing does.
	if _, v := a.authorize(f.authParams(webClient, oauth2.GenerateVerifier()), false); v.login || !v.consent {
		t.Errorf("second request: %+v", v)
	}
	if _, v := a.authorize(f.authParams(webClient, oauth2.GenerateVerifier()), false); v.login || v.consent {
		t.Errorf("third request asked again: %+v", v)
	}
	// prompt=consent asks again; a trusted client never asks.
	p := f.authParams(webClient, oauth2.GenerateVerifier())
	p.Set("prompt", "consent")
	if _, v := a.authorize(p, false); !v.consent {
		t.Error("prompt=consent did not ask")
	}
	if _, v := a.authorize(f.authParams(trustedApp, oauth2.GenerateVerifier()), false); v.consent || v.login {
		t.Errorf("trusted client: %+v", v)
	}
	// prompt=none: a remembered consent gives a code, a missing one consent_required.
	p = f.authParams(webClient, oauth2.GenerateVerifier())
	p.Set("prompt", "none")
	if u, _ := a.authorize(p, false); u.Query().Get("code") == "" {
		t.Errorf("prompt=none with consent: %s", u)
	}
	p.Set("client_id", spaClient)
	p.Set("redirect_uri", f.cb.URL+"/spa")
	if u, _ := a.authorize(p, false); u.Query().Get("error") != oauth.CodeConsentRequired || u.Query().Get("iss") != f.URL {
		t.Errorf("prompt=none without consent: %s", u)
	}
}

func TestPromptLoginAndMaxAge(t *testing.T) {
	c := newClock()
	f := newFlowEnv(t, servertestNow(c))
	a := f.newAgent(t)
	a.authorize(f.authParams(trustedApp, oauth2.GenerateVerifier()), false)
	p := f.authParams(trustedApp, oauth2.GenerateVerifier())
	if _, v := a.authorize(p, false); v.login {
		t.Error("signed in, yet asked to sign in")
	}
	p.Set("prompt", "login")
	if _, v := a.authorize(p, false); !v.login {
		t.Error("prompt=login did not ask to sign in")
	}
	p.Del("prompt")
	p.Set("max_age", "60")
	if _, v := a.authorize(p, false); v.login {
		t.Error("max_age=60 with a fresh session asked to sign in")
	}
	c.Add(61 * time.Second)
	if _, v := a.authorize(p, false); !v.login {
		t.Error("max_age=60 with an older session did not ask to sign in")
	}
	p.Set("prompt", "none")
	c.Add(61 * time.Second)
	if u, _ := a.authorize(p, false); u.Query().Get("error") != oauth.CodeLoginRequired {
		t.Errorf("prompt=none with an old session: %s", u)
	}
}

func TestLoginPage(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	// Not signed in: the account page sends to the login page.
	if loc := location(t, a.get("/account")); loc != "/login" {
		t.Errorf("account without a session: %s", loc)
	}
	r := page(t, a.get("/login"), http.StatusOK)
	fields := hidden(r.body)
	if fields.Get("csrf") == "" || a.cookie(server.CookieCSRF) == "" {
		t.Fatalf("no CSRF token: %v", fields)
	}
	// Wrong password and unknown user get the same answer.
	var bodies []string
	for _, cred := range [][2]string{{testUser, "wrong"}, {"mallory", testPassword}, {"", ""}} {
		form := hidden(r.body)
		form.Set("username", cred[0])
		form.Set("password", cred[1])
		resp := page(t, a.post("/login", form), http.StatusOK)
		if !strings.Contains(string(resp.body), "Invalid username or password.") {
			t.Errorf("%v: %s", cred, resp.body)
		}
		if strings.Contains(string(resp.body), cred[1]) && cred[1] != "" {
			t.Error("the password is echoed")
		}
		bodies = append(bodies, strings.ReplaceAll(string(resp.body), cred[0], ""))
	}
	if bodies[0] != bodies[1] {
		t.Error("a wrong password and an unknown user get different pages")
	}
	events, err := f.Store.ListAudit(bg, storage.AuditFilter{Type: "login.failed"})
	if err != nil || len(events) != 3 {
		t.Fatalf("login.failed events: %d %v", len(events), err)
	}
	for _, ev := range events {
		for k, v := range ev.Details {
			if strings.Contains(v, testPassword) || k == "password" {
				t.Errorf("audit event holds the password: %+v", ev)
			}
		}
	}

	form := hidden(r.body)
	form.Set("username", testUser)
	form.Set("password", testPassword)
	resp := a.post("/login", form)
	if loc := location(t, resp); loc != "/account" || resp.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", resp.status, loc)
	}
	var sc string
	for _, c := range resp.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, server.CookieSession+"=") {
			sc = c
		}
	}
	value := strings.TrimPrefix(strings.Split(sc, ";")[0], server.CookieSession+"=")
	if !strings.HasPrefix(value, "ghsess_") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") ||
		!strings.Contains(sc, "Path=/") || strings.Contains(sc, "Secure") {
		t.Errorf("session cookie %q", sc)
	}
	if _, err := f.Store.GetSessionByHash(bg, []byte(value)); err == nil {
		t.Error("the session is stored by its value")
	}
	if events, _ := f.Store.ListAudit(bg, storage.AuditFilter{Type: "login.succeeded"}); len(events) != 1 || events[0].Subject != f.user.ID {
		t.Errorf("login.succeeded events %+v", events)
	}
	acct := page(t, a.get("/account"), http.StatusOK)
	if !strings.Contains(string(acct.body), testUser) {
		t.Errorf("account page: %s", acct.body)
	}
	// Signed in, /login goes to the account page.
	if loc := location(t, a.get("/login")); loc != "/account" {
		t.Errorf("login when signed in: %s", loc)
	}

	// login_hint fills in the username.
	b := f.newAgent(t)
	p := f.authParams(webClient, oauth2.GenerateVerifier())
	p.Set("login_hint", "bob@example.com")
	lp := page(t, b.get(location(t, b.get("/oauth2/authorize?"+p.Encode()))), http.StatusOK)
	if !strings.Contains(string(lp.body), `value="bob@example.com"`) || !strings.Contains(string(lp.body), "Web App") {
		t.Errorf("login page with login_hint: %s", lp.body)
	}
	// The login page may redirect its POST to the client, so its CSP allows that origin.
	if csp := lp.header.Get("Content-Security-Policy"); !strings.Contains(csp, f.cb.URL) {
		t.Errorf("login page CSP %q", csp)
	}
}

func TestLoginThrottle(t *testing.T) {
	c := newClock()
	f := newFlowEnv(t, servertestNow(c))
	a := f.newAgent(t)
	form := hidden(page(t, a.get("/login"), http.StatusOK).body)
	form.Set("username", testUser)
	form.Set("password", "wrong")
	// A few failures are free; then attempts wait (the clock stands still).
	failures := 0
	for ; failures < 20; failures++ {
		r := a.post("/login", form)
		if r.status == http.StatusTooManyRequests {
			break
		}
		page(t, r, http.StatusOK)
	}
	if failures < 3 || failures == 20 {
		t.Fatalf("throttled after %d failures", failures)
	}
	form.Set("password", testPassword) // even the right password waits
	r := page(t, a.post("/login", form), http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "Too many failed sign-in attempts") {
		t.Errorf("throttled: %v %s", r.header, r.body)
	}
	if events, _ := f.Store.ListAudit(bg, storage.AuditFilter{Type: "login.failed"}); len(events) != failures {
		t.Errorf("%d login.failed events after %d failures (throttled attempts are not audited)", len(events), failures)
	}
	c.Add(time.Hour)
	if loc := location(t, a.post("/login", form)); loc != "/account" {
		t.Errorf("after the wait: %s", loc)
	}
}

func TestCSRF(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	// A flow up to the consent page.
	p := f.authParams(webClient, oauth2.GenerateVerifier())
	loginURL := location(t, a.get("/oauth2/authorize?"+p.Encode()))
	login := hidden(page(t, a.get(loginURL), http.StatusOK).body)
	login.Set("username", testUser)
	login.Set("password", testPassword)

	// Another browser's token does not fit this browser's cookie.
	other := f.newAgent(t)
	foreign := hidden(page(t, other.get("/login"), http.StatusOK).body).Get("csrf")

	forbidden := func(path string, form url.Values, field string) {
		t.Helper()
		for _, bad := range []string{"", "garbage", foreign, login.Get("csrf") + "x"} {
			form := maps2(form)
			if bad == "" {
				form.Del(field)
			} else {
				form.Set(field, bad)
			}
			r := page(t, a.post(path, form), http.StatusForbidden)
			if r.header.Get("Location") != "" {
				t.Errorf("%s with csrf %q redirected", path, bad)
			}
		}
	}
	forbidden("/login", login, "csrf")
	if a.cookie(server.CookieSession) != "" {
		t.Fatal("signed in without a CSRF token")
	}
	consentURL := location(t, a.post("/login", login))
	consent := hidden(page(t, a.get(consentURL), http.StatusOK).body)
	consent.Set("decision", "allow")
	forbidden("/consent", consent, "csrf")
	forbidden("/account", url.Values{"csrf": {consent.Get("csrf")}, "op": {"revoke"}, "client_id": {webClient}}, "csrf")
	forbidden("/logout", url.Values{"csrf": {consent.Get("csrf")}}, "csrf")
	// Without the cookie, the token is worthless.
	nocookie := &agent{t: t, base: f.URL, c: &http.Client{CheckRedirect: a.c.CheckRedirect}}
	page(t, nocookie.post("/login", login), http.StatusForbidden)
	// Still signed in, and the consent works with the token.
	if loc := location(t, a.post("/consent", consent)); !strings.HasPrefix(loc, f.cb.URL+"/cb?") {
		t.Errorf("consent: %s", loc)
	}
}

func maps2(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func TestAccountRevoke(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, a, f.authParams(webClient, verifier))
	tok, err := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader).Exchange(bg, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	acct := page(t, a.get("/account"), http.StatusOK)
	if !strings.Contains(string(acct.body), "Web App") {
		t.Fatalf("account page lacks the client: %s", acct.body)
	}
	form := hidden(acct.body)
	if form.Get("op") != "revoke" || form.Get("client_id") != webClient {
		t.Fatalf("revoke form %v", form)
	}
	loc := location(t, a.post("/account", form))
	after := page(t, a.get(loc), http.StatusOK)
	if !strings.Contains(string(after.body), "Access for Web App was revoked.") || strings.Contains(string(after.body), `value="web"`) {
		t.Errorf("after revoking: %s", after.body)
	}
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		if m := f.introspect(t, tk); m["active"] != false {
			t.Errorf("token active after revoking consent: %v", m)
		}
	}
	if _, v := a.authorize(f.authParams(webClient, oauth2.GenerateVerifier()), false); !v.consent {
		t.Error("consent not asked again after revoking it")
	}
	if events, _ := f.Store.ListAudit(bg, storage.AuditFilter{Type: "consent.revoked"}); len(events) != 1 {
		t.Errorf("consent.revoked events: %+v", events)
	}
}

func TestLogout(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, a, f.authParams(webClient, verifier))
	tok, err := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader).Exchange(bg, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken := tok.Extra("id_token").(string)
	registered := f.cb.URL + "/logged-out"

	// Each case signs in again, asks to log out, confirms, and checks where it ends.
	cases := []struct {
		name     string
		params   url.Values
		redirect string // "" means the signed-out page
	}{
		{"registered", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {registered}, "state": {"s1"}},
			registered + "?state=s1"},
		{"registered, client_id matches", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {registered}, "client_id": {webClient}},
			registered},
		{"unregistered", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"s1"}}, ""},
		{"the redirect URI, not the logout URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {f.cb.URL + "/cb"}}, ""},
		{"no hint", url.Values{"post_logout_redirect_uri": {registered}, "client_id": {webClient}}, ""},
		{"forged hint", url.Values{"id_token_hint": {idToken[:len(idToken)-4] + "AAAA"}, "post_logout_redirect_uri": {registered}}, ""},
		{"client_id mismatch", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {registered}, "client_id": {trustedApp}}, ""},
		{"plain", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if a.cookie(server.CookieSession) == "" {
				a.signIn()
			}
			path := "/oauth2/logout"
			if tc.params == nil {
				path = "/logout"
			}
			confirm := page(t, a.get(path+"?"+tc.params.Encode()), http.StatusOK)
			if !strings.Contains(string(confirm.body), "Sign out?") {
				t.Fatalf("no confirmation: %s", confirm.body)
			}
			if a.cookie(server.CookieSession) == "" {
				t.Fatal("a GET signed out")
			}
			form := hidden(confirm.body)
			form.Set("decision", "logout")
			r := a.post("/logout", form)
			if tc.redirect != "" {
				if loc := location(t, r); loc != tc.redirect {
					t.Errorf("redirected to %s, want %s", loc, tc.redirect)
				}
			} else {
				page(t, r, http.StatusOK)
				if r.header.Get("Location") != "" || !strings.Contains(string(r.body), "You are signed out") {
					t.Errorf("not the signed-out page: %v %s", r.header, r.body)
				}
			}
			if a.cookie(server.CookieSession) != "" {
				t.Error("session cookie not cleared")
			}
			if loc := location(t, a.get("/account")); loc != "/login" {
				t.Error("still signed in")
			}
		})
	}

	// An RP may POST its logout request: it gets the confirmation page, nothing more.
	a.signIn()
	r := page(t, a.post("/oauth2/logout", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {registered}}), http.StatusOK)
	if !strings.Contains(string(r.body), "Web App") || a.cookie(server.CookieSession) == "" {
		t.Errorf("RP POST: %s", r.body)
	}
	// "Stay signed in" keeps the session.
	form := hidden(r.body)
	form.Set("decision", "stay")
	if loc := location(t, a.post("/logout", form)); loc != "/account" || a.cookie(server.CookieSession) == "" {
		t.Errorf("stay: %s", loc)
	}
	if events, _ := f.Store.ListAudit(bg, storage.AuditFilter{Type: "logout"}); len(events) != len(cases) {
		t.Errorf("%d logout events, want %d", len(events), len(cases))
	}
}

func TestFormPostResponse(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	p := f.authParams(trustedApp, oauth2.GenerateVerifier())
	p.Set("response_mode", "form_post")
	u, v := a.authorize(p, false)
	if u != nil {
		t.Fatalf("form_post redirected to %s", u)
	}
	r := page(t, v.final, http.StatusOK)
	fields := hidden(r.body)
	if !strings.HasPrefix(fields.Get("code"), "ghc_") || fields.Get("state") != "st-123" || fields.Get("iss") != f.URL {
		t.Errorf("fields %v", fields)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+f.cb.URL) {
		t.Errorf("CSP %q", csp)
	}
}

func TestPasswordGrant(t *testing.T) {
	c := newClock()
	f := newFlowEnv(t, servertestNow(c), servertest.WithGrantTypes("client_credentials", "password", "refresh_token"))
	id, secret := f.CreateClient(t, storage.Client{ID: "legacy", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "openid", "offline_access"}})
	conf := &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{TokenURL: f.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := conf.PasswordCredentialsToken(bg, testUser, testPassword)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if m := f.introspect(t, tok.AccessToken); m["sub"] != f.user.ID || m["scope"] != "read" {
		t.Errorf("introspection %v", m)
	}
	throttled := false
	for range 20 {
		_, err := conf.PasswordCredentialsToken(bg, testUser, "wrong")
		wantRetrieveError(t, err, oauth.CodeInvalidGrant)
		if strings.Contains(err.(*oauth2.RetrieveError).ErrorDescription, "too many") {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("20 failures, not throttled")
	}
	_, err = conf.PasswordCredentialsToken(bg, testUser, testPassword)
	wantRetrieveError(t, err, oauth.CodeInvalidGrant)
	if re := err.(*oauth2.RetrieveError); !strings.Contains(re.ErrorDescription, "too many") {
		t.Errorf("throttled: %s", re.ErrorDescription)
	}
	c.Add(time.Hour)
	if _, err := conf.PasswordCredentialsToken(bg, testUser, testPassword); err != nil {
		t.Errorf("after the wait: %v", err)
	}
	// Clients without the grant may not use it.
	_, err = (&oauth2.Config{ClientID: webClient, ClientSecret: f.webSecret, Endpoint: conf.Endpoint}).
		PasswordCredentialsToken(bg, testUser, testPassword)
	wantRetrieveError(t, err, oauth.CodeUnauthorizedClient)
}

func TestUserinfoErrors(t *testing.T) {
	f := newFlowEnv(t)
	a := f.newAgent(t)
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, a, f.authParams(webClient, verifier))
	tok, err := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader).Exchange(bg, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	machine := f.token(t, f.clientID, f.secret, "read") // client credentials: no openid scope

	call := func(method, query, auth, body string) response {
		t.Helper()
		req, err := http.NewRequest(method, f.URL+"/oauth2/userinfo"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return f.do(t, req)
	}
	want := func(r response, status int, code string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
		}
		h := r.header.Get("WWW-Authenticate")
		if !strings.HasPrefix(h, "Bearer ") {
			t.Errorf("WWW-Authenticate %q", h)
		}
		if code == "" {
			if strings.Contains(h, "error=") {
				t.Errorf("WWW-Authenticate %q has an error without credentials", h)
			}
			return
		}
		if !strings.Contains(h, `error="`+code+`"`) || !strings.Contains(h, `error_description="`) {
			t.Errorf("WWW-Authenticate %q, want error %s", h, code)
		}
		if m := r.json(t); m["error"] != code {
			t.Errorf("body %s", r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Error("error not no-store")
		}
	}
	want(call("GET", "", "", ""), 401, "")
	want(call("GET", "", "Basic "+tok.AccessToken, ""), 401, "")
	want(call("GET", "", "Bearer not-a-token", ""), 401, "invalid_token")
	want(call("GET", "", "Bearer "+tok.RefreshToken, ""), 401, "invalid_token")
	want(call("GET", "", "Bearer bad token", ""), 400, "invalid_request")
	want(call("GET", "", "Bearer "+machine, ""), 403, "insufficient_scope")
	want(call("GET", "?access_token="+tok.AccessToken, "", ""), 400, "invalid_request")
	want(call("POST", "", "Bearer "+tok.AccessToken, "access_token="+tok.AccessToken), 400, "invalid_request")
	want(call("POST", "", "", "access_token=a&access_token=b"), 400, "invalid_request")

	for _, r := range []response{
		call("GET", "", "Bearer "+tok.AccessToken, ""),
		call("GET", "", "bearer "+tok.AccessToken, ""),
		call("POST", "", "", "access_token="+url.QueryEscape(tok.AccessToken)),
	} {
		if r.status != 200 {
			t.Fatalf("userinfo: %d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["sub"] != f.user.ID || m["email"] != testUser+"@example.com" || m["preferred_username"] != testUser {
			t.Errorf("claims %v", m)
		}
		if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", r.header)
		}
	}
	// CORS preflight for a browser app sending the Authorization header.
	req, _ := http.NewRequest(http.MethodOptions, f.URL+"/oauth2/userinfo", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	if r := f.do(t, req); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight %d %v", r.status, r.header)
	}
	// A revoked token is invalid.
	if r := f.post(t, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}.Encode(), webClient, f.webSecret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	want(call("GET", "", "Bearer "+tok.AccessToken, ""), 401, "invalid_token")
}

// TestImplicitEnabled: with the implicit grant listed and allowed to the client, response
// types with tokens work, in the fragment.
func TestImplicitEnabled(t *testing.T) {
	f := newFlowEnv(t, servertest.WithGrantTypes("authorization_code", "refresh_token", "implicit"))
	f.CreateClient(t, storage.Client{ID: "legacy-spa", Public: true, GrantTypes: []string{"implicit"},
		Scopes: browserScopes, RedirectURIs: []string{f.cb.URL + "/spa"}, Trusted: true})
	a := f.newAgent(t)
	p := url.Values{"client_id": {"legacy-spa"}, "response_type": {"id_token token"}, "scope": {"openid profile"},
		"nonce": {"n1"}, "state": {"s1"}}
	u, _ := a.authorize(p, false)
	if u == nil || u.RawQuery != "" {
		t.Fatalf("implicit response %v", u)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil || frag.Get("access_token") == "" || frag.Get("id_token") == "" || frag.Get("state") != "s1" {
		t.Errorf("fragment %v %v", frag, err)
	}
}
