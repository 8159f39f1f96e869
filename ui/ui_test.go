package ui_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/ui"
)

const evil = `<script>alert("x")</script>`

// samples returns data for every page, with evil in the user-controlled fields.
func samples() map[string]any {
	return map[string]any{
		"login": ui.LoginPage{ClientName: "Billing " + evil, Error: "Invalid username or password " + evil,
			Username: "alice" + evil, CSRF: "csrf-token-1", Request: "sealed.req" + evil, Action: "/login"},
		"consent": ui.ConsentPage{ClientName: "Billing " + evil, Username: "alice" + evil, CSRF: "csrf-token-1",
			Request: "sealed.req", Action: "/consent", Scopes: []ui.ScopeItem{
				{Name: "openid", Description: "Sign you in with your account"},
				{Name: "invoices:read" + evil, Description: "Read invoices " + evil},
				{Name: "undocumented"},
			}},
		"error":     ui.ErrorPage{Title: "Unknown client " + evil, Message: "The client " + evil + " is not registered.", Code: "invalid_client"},
		"form_post": ui.FormPostPage{Action: "https://app.example.test/cb?x=1", Fields: []ui.Field{{Name: "code", Value: "abc" + evil}, {Name: "state", Value: `"><script>alert(1)</script>`}}},
		"account": ui.AccountPage{Username: "alice" + evil, Name: "Alice " + evil, Email: "alice@example.test", CSRF: "csrf-token-1",
			Message: "Access revoked " + evil, Consents: []ui.ConsentItem{
				{ClientID: "billing", ClientName: "Billing " + evil, Scopes: []string{"openid", "invoices:read" + evil}, Granted: "2 March 2026"},
				{ClientID: "cli" + evil, Scopes: nil},
			},
			Tokens: []ui.TokenItem{{ID: "tok1" + evil, Name: "ci " + evil, Scopes: []string{"api:read" + evil},
				Created: "1 March 2026", Expires: "31 March 2026", LastUsed: "2 March 2026 10:00 UTC"}},
			NewToken: "ghp_x" + evil, NewTokenName: "ci " + evil, TokenName: "n" + evil, TokenError: "bad " + evil,
			TokenScopes:   []ui.TokenScopeOption{{Name: "api:read" + evil, Description: "Read " + evil, Checked: true}},
			TokenExpiries: []ui.ExpiryOption{{Days: 30, Label: "30 days", Selected: true}}},
		"logout": ui.LogoutPage{CSRF: "csrf-token-1", ClientName: "Billing " + evil,
			Fields: []ui.Field{{Name: "id_token_hint", Value: "eyJ" + evil}, {Name: "state", Value: "s"}}},
		"callback": ui.CallbackPage{AccessToken: "at" + evil, IDToken: "idt" + evil, RefreshToken: "rt" + evil,
			AccessClaims: "{\n  \"sub\": \"" + evil + "\"\n}", IDClaims: "{}", Scope: "openid " + evil, ExpiresIn: 3600},
		"device": ui.DevicePage{UserCode: "WDJB-MJHT" + evil, Error: "That code is not valid " + evil, Username: "alice" + evil,
			CSRF: "csrf-token-1", Action: "/device"},
		"device_confirm": ui.DeviceConfirmPage{ClientName: "TV " + evil, UserCode: "WDJB-MJHT" + evil, Username: "alice",
			CSRF: "csrf-token-1", Action: "/device", Scopes: []ui.ScopeItem{{Name: "openid", Description: "Sign you in"},
				{Name: "tv:watch" + evil, Description: "Watch " + evil}}},
	}
}

// zeros returns the zero value of every page's data.
func zeros() map[string]any {
	return map[string]any{
		"login": ui.LoginPage{}, "consent": ui.ConsentPage{}, "error": ui.ErrorPage{}, "form_post": ui.FormPostPage{},
		"account": ui.AccountPage{}, "logout": ui.LogoutPage{}, "callback": ui.CallbackPage{},
		"device": ui.DevicePage{}, "device_confirm": ui.DeviceConfirmPage{},
	}
}

func render(t *testing.T, status int, name string, data any) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := ui.Render(rec, status, name, data); err != nil {
		t.Fatalf("Render(%s): %v", name, err)
	}
	return rec, rec.Body.String()
}

var (
	scriptTag  = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	handlerRe  = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttr  = regexp.MustCompile(`(?i)\sstyle\s*=`)
	inputTag   = regexp.MustCompile(`<input\b[^>]*>`)
	idAttr     = regexp.MustCompile(`\sid="([^"]+)"`)
	typeHidden = regexp.MustCompile(`\stype="hidden"`)
)

// checkPage checks what every page must have: the layout, accessibility basics and CSP
// compatibility.
func checkPage(t *testing.T, name, body string) {
	t.Helper()
	for _, want := range []string{`<!DOCTYPE html>`, `<html lang="en">`, `<meta charset="utf-8">`, `<title>`,
		`<main id="main"`, `class="brand">Gatehouse<`, `<h1>`, `href="#main"`, `rel="stylesheet" href="/static/style.css?v=`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s: no %s", name, want)
		}
	}
	if strings.HasSuffix(strings.TrimSpace(body), "</html>") == false {
		t.Errorf("%s: page does not end with </html>", name)
	}
	for _, tag := range scriptTag.FindAllString(body, -1) {
		if !strings.Contains(tag, `src="/static/`) {
			t.Errorf("%s: inline or foreign script %s", name, tag)
		}
	}
	if m := handlerRe.FindString(body); m != "" {
		t.Errorf("%s: inline event handler %q", name, m)
	}
	if styleAttr.MatchString(body) || strings.Contains(body, "<style") {
		t.Errorf("%s: inline style", name)
	}
	if strings.Contains(body, "http://") && name != "form_post" || strings.Contains(body, "//fonts.") {
		t.Errorf("%s: external reference", name)
	}
	// Every visible input has a label.
	for _, in := range inputTag.FindAllString(body, -1) {
		if typeHidden.MatchString(in) {
			continue
		}
		id := idAttr.FindStringSubmatch(in)
		if id == nil || !strings.Contains(body, `<label for="`+id[1]+`">`) {
			t.Errorf("%s: input without a label: %s", name, in)
		}
	}
}

func TestRenderEveryPage(t *testing.T) {
	if got, want := ui.Names(), []string{"account", "callback", "consent", "device", "device_confirm", "error", "form_post", "login", "logout"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for name, data := range samples() {
		t.Run(name, func(t *testing.T) {
			for variant, d := range map[string]any{"sample": data, "zero": zeros()[name], "nil": nil} {
				rec, body := render(t, http.StatusOK, name, d)
				if rec.Code != http.StatusOK {
					t.Errorf("%s: status %d", variant, rec.Code)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("%s: Content-Type %q", variant, ct)
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s: Cache-Control %q", variant, cc)
				}
				if cl := rec.Header().Get("Content-Length"); cl != "" && cl != itoa(len(body)) {
					t.Errorf("%s: Content-Length %s for %d bytes", variant, cl, len(body))
				}
				checkPage(t, name+"/"+variant, body)
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRenderPointerData(t *testing.T) {
	_, body := render(t, 0, "login", &ui.LoginPage{ClientName: "Pointer App"})
	if !strings.Contains(body, "Pointer App") {
		t.Error("pointer data not rendered")
	}
}

func TestRenderEscapes(t *testing.T) {
	for name, data := range samples() {
		t.Run(name, func(t *testing.T) {
			_, body := render(t, http.StatusOK, name, data)
			if strings.Contains(body, "<script>alert") || strings.Contains(body, `"><script>`) {
				t.Errorf("unescaped markup in\n%s", body)
			}
			if !strings.Contains(body, "&lt;script&gt;alert(") {
				t.Errorf("escaped user content missing in\n%s", body)
			}
		})
	}
}

func TestRenderStatusAndCacheControl(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "private, max-age=0")
	if err := ui.Render(rec, http.StatusBadRequest, "error", ui.ErrorPage{Title: "Bad"}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status %d", rec.Code)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "private, max-age=0" {
		t.Errorf("caller's Cache-Control replaced by %q", cc)
	}
	rec, _ = render(t, 0, "error", nil)
	if rec.Code != http.StatusOK {
		t.Errorf("status 0 gave %d", rec.Code)
	}
}

func TestRenderFailuresWriteNoPage(t *testing.T) {
	for name, tc := range map[string]struct {
		page string
		data any
	}{
		"unknown page":    {"nope", nil},
		"layout directly": {"layout", nil},
		"wrong data type": {"login", ui.ErrorPage{Title: "x"}},
		"data not struct": {"consent", 42},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := ui.Render(rec, http.StatusOK, tc.page, tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", rec.Code)
			}
			if b := rec.Body.String(); strings.Contains(b, "<html") || strings.Contains(b, "<") {
				t.Errorf("partial page written: %q", b)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestLoginPage(t *testing.T) {
	_, body := render(t, 200, "login", ui.LoginPage{ClientName: "Billing", Username: "alice", CSRF: "c1", Request: "r1", Action: "/login"})
	for _, want := range []string{
		`<form class="card" method="post" action="/login">`,
		`<input type="hidden" name="csrf" value="c1">`,
		`<input type="hidden" name="req" value="r1">`,
		`<label for="username">`, `name="username"`, `value="alice"`, `autocomplete="username"`,
		`<label for="password">`, `type="password"`, `autocomplete="current-password"`,
		`<button type="submit" class="primary">Sign in</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	// With a username filled in, the password gets the focus.
	if !regexp.MustCompile(`id="password"[^>]*autofocus`).MatchString(body) || regexp.MustCompile(`id="username"[^>]*autofocus`).MatchString(body) {
		t.Error("autofocus not on the password field")
	}
	if strings.Contains(body, `role="alert"`) {
		t.Error("alert without an error")
	}
	_, body = render(t, 200, "login", ui.LoginPage{Error: "Invalid username or password"})
	if !strings.Contains(body, `role="alert" id="login-error">Invalid username or password<`) || !strings.Contains(body, `aria-describedby="login-error"`) {
		t.Errorf("error not announced:\n%s", body)
	}
	if strings.Contains(body, "action=") {
		t.Error("empty Action rendered as an action attribute")
	}
}

func TestLoginPageReturnTo(t *testing.T) {
	_, body := render(t, 200, "login", ui.LoginPage{CSRF: "c1", ReturnTo: "/device?user_code=WDJB-MJHT"})
	if !strings.Contains(body, `<input type="hidden" name="return_to" value="/device?user_code=WDJB-MJHT">`) {
		t.Errorf("no return_to field in\n%s", body)
	}
	_, body = render(t, 200, "login", ui.LoginPage{CSRF: "c1"})
	if strings.Contains(body, "return_to") {
		t.Error("empty return_to rendered")
	}
}

func TestDevicePage(t *testing.T) {
	_, body := render(t, 200, "device", ui.DevicePage{UserCode: "WDJB-MJHT", Username: "alice", CSRF: "c1", Action: "/device"})
	for _, want := range []string{
		`<form class="card" method="post" action="/device">`, `name="csrf" value="c1"`,
		`<label for="user_code">Code</label>`, `name="user_code"`, `value="WDJB-MJHT"`, `autocomplete="one-time-code"`,
		"Signed in as <strong>alice</strong>", `<button type="submit" class="primary">Continue</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if strings.Contains(body, `role="alert"`) || strings.Contains(body, `id="device-result"`) {
		t.Error("alert or result without cause")
	}
	_, body = render(t, 200, "device", ui.DevicePage{Error: "That code is not valid."})
	if !strings.Contains(body, `role="alert" id="device-error">That code is not valid.<`) || !strings.Contains(body, `aria-describedby="device-error"`) {
		t.Errorf("error not announced:\n%s", body)
	}
	for result, want := range map[string]string{ui.DeviceApproved: "Return to your device", ui.DeviceDenied: "You denied"} {
		_, body = render(t, 200, "device", ui.DevicePage{Result: result, ClientName: "Living Room TV"})
		if !strings.Contains(body, want) || !strings.Contains(body, "Living Room TV") || strings.Contains(body, "<form") ||
			!strings.Contains(body, `role="status"`) {
			t.Errorf("%s page:\n%s", result, body)
		}
	}
}

func TestDeviceConfirmPage(t *testing.T) {
	_, body := render(t, 200, "device_confirm", ui.DeviceConfirmPage{ClientName: "Living Room TV", UserCode: "WDJB-MJHT",
		Username: "alice", CSRF: "c1", Action: "/device", Scopes: []ui.ScopeItem{{Name: "openid", Description: "Sign you in"}, {Name: "tv:watch"}}})
	for _, want := range []string{
		"Living Room TV", "alice", "Sign you in", `<code class="scope-name">tv:watch</code>`,
		`<form class="card" method="post" action="/device">`, `name="csrf" value="c1"`,
		`<input type="hidden" name="user_code" value="WDJB-MJHT">`, `id="device-code">WDJB-MJHT<`,
		`<button type="submit" name="decision" value="approve" class="primary">Approve</button>`,
		`<button type="submit" name="decision" value="deny">Deny</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
}

func TestConsentPage(t *testing.T) {
	_, body := render(t, 200, "consent", ui.ConsentPage{ClientName: "Billing", Username: "alice", CSRF: "c1", Request: "r1",
		Scopes: []ui.ScopeItem{{Name: "openid", Description: "Sign you in"}, {Name: "invoices:read"}}})
	for _, want := range []string{
		"Billing", "alice", "Sign you in", "<code class=\"scope-name\">openid</code>", "invoices:read",
		`name="csrf" value="c1"`, `name="req" value="r1"`,
		`<button type="submit" name="decision" value="allow" class="primary">Allow</button>`,
		`<button type="submit" name="decision" value="deny">Deny</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
}

func TestErrorPageHasNoLinks(t *testing.T) {
	_, body := render(t, 400, "error", ui.ErrorPage{Title: "Invalid redirect URI",
		Message: "The redirect URI https://evil.example.test/cb is not registered.", Code: "invalid_request"})
	for _, href := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if href[1] != "#main" && !strings.HasPrefix(href[1], "/static/") {
			t.Errorf("link to %q", href[1])
		}
	}
	if !strings.Contains(body, "invalid_request") || !strings.Contains(body, "<h1>Invalid redirect URI</h1>") {
		t.Error(body)
	}
}

func TestFormPostPage(t *testing.T) {
	_, body := render(t, 200, "form_post", ui.FormPostPage{Action: "https://app.example.test/cb?a=1&b=2",
		Fields: []ui.Field{{Name: "code", Value: "c0de"}, {Name: "state", Value: "st&te"}}})
	for _, want := range []string{
		`<form class="card" method="post" action="https://app.example.test/cb?a=1&amp;b=2" data-auto-submit>`,
		`<input type="hidden" name="code" value="c0de">`,
		`<input type="hidden" name="state" value="st&amp;te">`,
		`<button type="submit" class="primary">Continue</button>`,
		`<script src="/static/formpost.js?v=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	// A script URL is never a form target.
	_, body = render(t, 200, "form_post", ui.FormPostPage{Action: "javascript:alert(1)"})
	if strings.Contains(body, "javascript:") {
		t.Errorf("javascript: action rendered:\n%s", body)
	}
}

func TestAccountPage(t *testing.T) {
	_, body := render(t, 200, "account", ui.AccountPage{Username: "alice", Name: "Alice", Email: "a@example.test", CSRF: "c1",
		Consents: []ui.ConsentItem{{ClientID: "billing", ClientName: "Billing", Scopes: []string{"openid", "invoices:read"}, Granted: "1 March 2026"}}})
	for _, want := range []string{
		"Alice", "alice", "a@example.test", "Billing", "<code>openid</code>, <code>invoices:read</code>", "Allowed 1 March 2026",
		`<form method="post" action="/account">`, `name="op" value="revoke"`, `name="client_id" value="billing"`,
		`aria-label="Revoke access for Billing">Revoke</button>`,
		`<form method="post" action="/logout">`, `name="decision" value="logout">Sign out</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if n := strings.Count(body, `name="csrf" value="c1"`); n != 2 {
		t.Errorf("%d csrf fields, want 2", n)
	}
	_, body = render(t, 200, "account", ui.AccountPage{Username: "alice"})
	if !strings.Contains(body, "No applications have access") {
		t.Error("empty consent list not explained")
	}
}

func TestAccountPageTokens(t *testing.T) {
	page := ui.AccountPage{Username: "alice", CSRF: "c1",
		Tokens: []ui.TokenItem{
			{ID: "t1", Name: "ci", Scopes: []string{"api:read", "api:write"}, Created: "1 March 2026", Expires: "31 March 2026", LastUsed: "2 March 2026 10:00 UTC"},
			{ID: "t2", Name: "laptop", Scopes: []string{"api:read"}, Created: "3 March 2026", Expires: "3 April 2026"},
		},
		TokenScopes: []ui.TokenScopeOption{{Name: "api:read", Description: "Read the API", Checked: true}, {Name: "api:write"}},
		TokenExpiries: []ui.ExpiryOption{{Days: 7, Label: "7 days"}, {Days: 30, Label: "30 days", Selected: true},
			{Days: 365, Label: "365 days"}},
	}
	_, body := render(t, 200, "account", page)
	for _, want := range []string{
		"Personal access tokens", "<h3>ci</h3>", "<code>api:read</code>, <code>api:write</code>",
		"Created 1 March 2026 · Expires 31 March 2026 · Last used 2 March 2026 10:00 UTC", "Never used",
		`name="op" value="revoke_token"`, `name="id" value="t1"`, `aria-label="Revoke token ci">Revoke</button>`,
		`name="op" value="create_token"`, `<input type="text" id="token-name" name="name" value=""`,
		`<input type="checkbox" id="token-scope-0" name="scope" value="api:read" checked>`,
		`<label for="token-scope-0"><code>api:read</code> Read the API</label>`,
		`<input type="checkbox" id="token-scope-1" name="scope" value="api:write">`,
		`<label for="token-expiry">Expires in</label>`, `<select id="token-expiry" name="expires_days">`,
		`<option value="30" selected>30 days</option>`, `<option value="365">365 days</option>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if strings.Contains(body, "new-token") || strings.Contains(body, "role=\"alert\"") {
		t.Errorf("a new token or an error shown without one:\n%s", body)
	}
	// 2 revoke forms, the create form and sign-out.
	if n := strings.Count(body, `name="csrf" value="c1"`); n != 4 {
		t.Errorf("%d csrf fields, want 4", n)
	}
	checkPage(t, "account/tokens", body)

	page.NewToken, page.NewTokenName = "ghp_abc", "ci"
	page.TokenError, page.TokenName = "Choose at least one scope.", "deploy"
	_, body = render(t, 200, "account", page)
	for _, want := range []string{
		`<label for="new-token">Your new token “ci”</label>`, `id="new-token" class="token" value="ghp_abc" readonly`,
		"Copy it now: it will not be shown again.", `<div class="alert" role="alert">Choose at least one scope.</div>`,
		`name="name" value="deploy"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	checkPage(t, "account/new-token", body)

	_, body = render(t, 200, "account", ui.AccountPage{Username: "alice"})
	if !strings.Contains(body, "You have no personal access tokens.") || !strings.Contains(body, "No scopes are available") ||
		strings.Contains(body, "create_token") {
		t.Errorf("empty token section:\n%s", body)
	}
}

func TestLogoutPage(t *testing.T) {
	_, body := render(t, 200, "logout", ui.LogoutPage{CSRF: "c1", ClientName: "Billing",
		Fields: []ui.Field{{Name: "post_logout_redirect_uri", Value: "https://app.example.test/bye"}, {Name: "state", Value: "s1"}}})
	for _, want := range []string{
		"<h1>Sign out?</h1>", `<form class="card" method="post" action="/logout">`, `name="csrf" value="c1"`,
		`<input type="hidden" name="post_logout_redirect_uri" value="https://app.example.test/bye">`,
		`<input type="hidden" name="state" value="s1">`,
		`name="decision" value="logout"`, `name="decision" value="stay"`, "<strong>Billing</strong> asks",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	_, body = render(t, 200, "logout", ui.LogoutPage{SignedOut: true, CSRF: "c1", ClientName: "Billing"})
	if !strings.Contains(body, "You are signed out") || strings.Contains(body, "<form") {
		t.Errorf("signed-out page:\n%s", body)
	}
}

func TestCallbackPage(t *testing.T) {
	_, body := render(t, 200, "callback", ui.CallbackPage{AccessToken: "at1", IDToken: "id1", RefreshToken: "rt1",
		AccessClaims: "{\n  \"sub\": \"u\"\n}", IDClaims: "{\n  \"nonce\": \"n\"\n}", Scope: "openid", ExpiresIn: 300})
	for _, want := range []string{"at1", "id1", "rt1", "300 seconds", "openid", "&#34;sub&#34;: &#34;u&#34;", "&#34;nonce&#34;"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	_, body = render(t, 200, "callback", ui.CallbackPage{Error: "access_denied: the user said no"})
	if !strings.Contains(body, `role="alert">access_denied: the user said no<`) || strings.Contains(body, "Access token") {
		t.Errorf("error callback:\n%s", body)
	}
}

func TestStatic(t *testing.T) {
	h := ui.Static()
	get := func(method, target string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	_, page := render(t, 200, "form_post", ui.FormPostPage{Action: "https://a.example.test/"})
	links := regexp.MustCompile(`"(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) != 2 {
		t.Fatalf("links %v", links)
	}
	for _, l := range links {
		u := strings.ReplaceAll(l[1], "&amp;", "&")
		rec := get("GET", u, nil)
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Fatalf("GET %s: %d", u, rec.Code)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", u, cc)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", u)
		}
	}

	rec := get("GET", "/static/style.css", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(rec.Body.String(), ":focus-visible") {
		t.Fatalf("style.css: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("unversioned Cache-Control %q", cc)
	}
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get("GET", "/static/style.css", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", rec.Code)
	}
	rec = get("GET", "/static/formpost.js?v=old", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(rec.Body.String(), "submit()") {
		t.Errorf("formpost.js: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("stale version cached as %q", cc)
	}
	if rec := get("HEAD", "/static/style.css", nil); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	for _, p := range []string{"/static/", "/static/nope.css", "/static/static/style.css", "/static/../ui.go", "/static/templates/login.html", "/static/style.css/"} {
		if rec := get("GET", p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	if rec := get("POST", "/static/style.css", nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", rec.Code)
	}
}
