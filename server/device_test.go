package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

const (
	deviceGrant  = "urn:ietf:params:oauth:grant-type:device_code"
	deviceClient = "tv"
)

// newDeviceEnv is a flow environment with a public client allowed the device grant.
func newDeviceEnv(t *testing.T, opts ...servertest.Option) *flowEnv {
	t.Helper()
	f := newFlowEnv(t, opts...)
	f.CreateClient(t, storage.Client{ID: deviceClient, Name: "Living Room TV", Public: true,
		GrantTypes: []string{deviceGrant, "refresh_token"}, Scopes: []string{"openid", "profile", "offline_access", "read"}})
	return f
}

// deviceAuth runs a device authorization request of the public client and returns the answer.
func (f *flowEnv) deviceAuth(t *testing.T, scope string) map[string]any {
	t.Helper()
	r := f.post(t, "/oauth2/device_authorization", url.Values{"client_id": {deviceClient}, "scope": {scope}}.Encode(), "", "")
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("device authorization: %d %v %s", r.status, r.header, r.body)
	}
	return r.json(t)
}

func (f *flowEnv) pollDevice(t *testing.T, deviceCode string) response {
	t.Helper()
	return f.post(t, "/oauth2/token", url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode},
		"client_id": {deviceClient}}.Encode(), "", "")
}

// enterCode signs the agent in if needed, enters code on the device page and returns the
// response (the confirmation page, or the form again with an error).
func (a *agent) enterCode(code string) response {
	a.t.Helper()
	r := a.get("/device?" + url.Values{"user_code": {code}}.Encode())
	if r.status == http.StatusFound {
		loc := location(a.t, r)
		if !strings.HasPrefix(loc, "/login?") {
			a.t.Fatalf("device page sent to %s", loc)
		}
		form := hidden(page(a.t, a.get(loc), http.StatusOK).body)
		form.Set("username", testUser)
		form.Set("password", testPassword)
		want := "/device?" + url.Values{"user_code": {code}}.Encode()
		if back := location(a.t, a.post("/login", form)); back != want {
			a.t.Fatalf("after sign-in: %s", back)
		}
		r = a.get("/device?" + url.Values{"user_code": {code}}.Encode())
	}
	form := hidden(page(a.t, r, http.StatusOK).body)
	if !strings.Contains(string(r.body), `value="`+code+`"`) {
		a.t.Errorf("code not prefilled: %s", r.body)
	}
	form.Set("user_code", code)
	return a.post("/device", form)
}

// decide enters code and answers decision ("approve" or "deny") on the confirmation page.
func (a *agent) decide(code, decision string) response {
	a.t.Helper()
	r := page(a.t, a.enterCode(code), http.StatusOK)
	if !strings.Contains(string(r.body), `name="decision" value="approve"`) {
		a.t.Fatalf("no confirmation page: %s", r.body)
	}
	form := hidden(r.body)
	form.Set("decision", decision)
	return page(a.t, a.post("/device", form), http.StatusOK)
}

func TestDeviceAuthorizationEndpoint(t *testing.T) {
	f := newDeviceEnv(t)
	m := f.deviceAuth(t, "openid read")
	code, _ := m["user_code"].(string)
	if dc, _ := m["device_code"].(string); !strings.HasPrefix(dc, "ghd_") || len(code) != 9 ||
		m["verification_uri"] != f.URL+"/device" ||
		m["verification_uri_complete"] != f.URL+"/device?user_code="+code ||
		m["expires_in"] != float64(600) || m["interval"] != float64(5) {
		t.Fatalf("response %v", m)
	}
	for name, tc := range map[string]struct {
		body, id, secret string
		status           int
		code             string
	}{
		"unknown client":      {"client_id=nope", "", "", http.StatusUnauthorized, "invalid_client"},
		"wrong secret":        {"", "svc", "wrong", http.StatusUnauthorized, "invalid_client"},
		"no client":           {"scope=read", "", "", http.StatusUnauthorized, "invalid_client"},
		"client without it":   {"scope=read", "svc", f.secret, http.StatusBadRequest, "unauthorized_client"},
		"scope not allowed":   {"client_id=tv&scope=write", "", "", http.StatusBadRequest, "invalid_scope"},
		"unknown scope":       {"client_id=tv&scope=nope", "", "", http.StatusBadRequest, "invalid_scope"},
		"repeated parameter":  {"client_id=tv&scope=read&scope=openid", "", "", http.StatusBadRequest, "invalid_request"},
		"public with secret":  {"client_id=tv&client_secret=x", "", "", http.StatusUnauthorized, "invalid_client"},
		"malformed scope":     {"client_id=tv&scope=%22", "", "", http.StatusBadRequest, "invalid_scope"},
		"secret for a public": {"", "tv", "x", http.StatusUnauthorized, "invalid_client"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, f.post(t, "/oauth2/device_authorization", tc.body, tc.id, tc.secret), tc.status, tc.code)
		})
	}
	// The same decoder as the token endpoint: POST only, body only, form content type.
	wantError(t, f.get(t, "/oauth2/device_authorization"), http.StatusMethodNotAllowed, "invalid_request")
	wantError(t, f.post(t, "/oauth2/device_authorization?client_id=tv", "", "", ""), http.StatusBadRequest, "invalid_request")
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/oauth2/device_authorization", strings.NewReader(`{"client_id":"tv"}`))
	req.Header.Set("Content-Type", "application/json")
	wantError(t, f.do(t, req), http.StatusBadRequest, "invalid_request")
}

func TestDevicePolling(t *testing.T) {
	c := newClock()
	f := newDeviceEnv(t, servertestNow(c))
	a := f.newAgent(t)

	// Pending, then too fast: slow_down, and the interval grows by 5.
	m := f.deviceAuth(t, "openid profile offline_access read")
	dc, uc := m["device_code"].(string), m["user_code"].(string)
	wantError(t, f.pollDevice(t, dc), http.StatusBadRequest, "authorization_pending")
	r := f.pollDevice(t, dc)
	wantError(t, r, http.StatusBadRequest, "slow_down")
	if d := r.json(t)["error_description"].(string); !strings.Contains(d, "10 seconds") {
		t.Errorf("slow_down description %q", d)
	}
	c.Add(6 * time.Second) // under the new 10 s
	wantError(t, f.pollDevice(t, dc), http.StatusBadRequest, "slow_down")
	c.Add(15 * time.Second)
	wantError(t, f.pollDevice(t, dc), http.StatusBadRequest, "authorization_pending")
	wantError(t, f.pollDevice(t, dc+"x"), http.StatusBadRequest, "invalid_grant")
	wantError(t, f.post(t, "/oauth2/token", url.Values{"grant_type": {deviceGrant}, "client_id": {deviceClient}}.Encode(), "", ""),
		http.StatusBadRequest, "invalid_request")

	// Approved in the browser: tokens, once.
	done := a.decide(uc, "approve")
	if !strings.Contains(string(done.body), "Return to your device") || !strings.Contains(string(done.body), "Living Room TV") {
		t.Errorf("done page: %s", done.body)
	}
	c.Add(20 * time.Second)
	r = f.pollDevice(t, dc)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	tok := r.json(t)
	at, _ := tok["access_token"].(string)
	if at == "" || tok["refresh_token"] == nil || tok["id_token"] == nil || tok["scope"] != "openid profile offline_access read" {
		t.Fatalf("token response %v", tok)
	}
	if in := f.introspect(t, at); in["active"] != true || in["sub"] != f.user.ID || in["client_id"] != deviceClient {
		t.Errorf("introspection %v", in)
	}
	c.Add(20 * time.Second)
	wantError(t, f.pollDevice(t, dc), http.StatusBadRequest, "invalid_grant")
	// The code cannot be entered again.
	if r := a.enterCode(uc); !strings.Contains(string(r.body), "already used") {
		t.Errorf("reused code: %s", r.body)
	}

	// Denied: access_denied.
	m = f.deviceAuth(t, "read")
	dc, uc = m["device_code"].(string), m["user_code"].(string)
	if done := a.decide(strings.ToLower(uc), "deny"); !strings.Contains(string(done.body), "You denied") {
		t.Errorf("denied page: %s", done.body)
	}
	wantError(t, f.pollDevice(t, dc), http.StatusBadRequest, "access_denied")

	// Expired: expired_token, and the code can no longer be entered.
	m = f.deviceAuth(t, "read")
	dc, uc = m["device_code"].(string), m["user_code"].(string)
	c.Add(10*time.Minute + time.Second)
	wantError(t, f.pollDevice(t, dc), http.StatusBadRequest, "expired_token")
	if r := page(t, a.enterCode(uc), http.StatusOK); !strings.Contains(string(r.body), "expired") {
		t.Errorf("expired code: %s", r.body)
	}
}

func TestDevicePage(t *testing.T) {
	c := newClock()
	f := newDeviceEnv(t, servertestNow(c))
	a := f.newAgent(t)
	uc := f.deviceAuth(t, "read")["user_code"].(string)

	// Not signed in: to the login page, which comes back with the code.
	loc := location(t, a.get("/device?user_code="+uc))
	want := "/login?" + url.Values{"return_to": {"/device?user_code=" + uc}}.Encode()
	if loc != want {
		t.Fatalf("redirect %s, want %s", loc, want)
	}
	if f := hidden(page(t, a.get(loc), http.StatusOK).body); f.Get("return_to") != "/device?user_code="+uc {
		t.Errorf("login form return_to %q", f.Get("return_to"))
	}

	// A wrong code: a clear message, the form again.
	r := page(t, a.enterCode("BCDF-GHJK"), http.StatusOK)
	if !strings.Contains(string(r.body), "That code is not valid") || !strings.Contains(string(r.body), `role="alert"`) {
		t.Errorf("wrong code: %s", r.body)
	}
	r = page(t, a.enterCode("not-a-code!"), http.StatusOK)
	if !strings.Contains(string(r.body), "That code is not valid") {
		t.Errorf("malformed code: %s", r.body)
	}

	// The right code (typed in lower case with a space): the confirmation page.
	r = page(t, a.enterCode(strings.ToLower(strings.Replace(uc, "-", " ", 1))), http.StatusOK)
	body := string(r.body)
	for _, want := range []string{"Living Room TV", "read things", uc, `value="approve"`, `value="deny"`, testUser} {
		if !strings.Contains(body, want) {
			t.Errorf("confirmation page lacks %q: %s", want, body)
		}
	}

	// Without the CSRF token, both forms are refused.
	for _, form := range []url.Values{{"user_code": {uc}}, {"user_code": {uc}, "decision": {"approve"}},
		{"user_code": {uc}, "decision": {"approve"}, "csrf": {"forged"}}} {
		page(t, a.post("/device", form), http.StatusForbidden)
	}
	// An unknown decision is refused.
	bad := hidden(r.body)
	bad.Set("decision", "maybe")
	page(t, a.post("/device", bad), http.StatusBadRequest)
	// A decision without a session goes to the login page.
	anon := f.newAgent(t)
	form := hidden(page(t, anon.get("/login"), http.StatusOK).body)
	form.Set("user_code", uc)
	form.Set("decision", "approve")
	if loc := location(t, anon.post("/device", form)); !strings.HasPrefix(loc, "/login?return_to=") {
		t.Errorf("anonymous decision went to %s", loc)
	}
	if _, _, err := f.Provider.LookupUserCode(bg, uc); err != nil {
		t.Errorf("code no longer pending: %v", err)
	}
}

func TestDeviceGuessLimit(t *testing.T) {
	c := newClock()
	f := newDeviceEnv(t, servertestNow(c))
	a := f.newAgent(t)
	uc := f.deviceAuth(t, "read")["user_code"].(string)
	for i := range 5 {
		r := page(t, a.enterCode("BCDF-GHJ"+string("KLMNP"[i])), http.StatusOK)
		if !strings.Contains(string(r.body), "not valid") {
			t.Fatalf("guess %d: %s", i, r.body)
		}
	}
	// Now even the right code waits.
	r := page(t, a.enterCode(uc), http.StatusTooManyRequests)
	if !strings.Contains(string(r.body), "Too many wrong codes") || r.header.Get("Retry-After") == "" {
		t.Fatalf("throttled: %v %s", r.header, r.body)
	}
	// Another session from the same address waits too (the address is counted as well).
	b := f.newAgent(t)
	page(t, b.enterCode(uc), http.StatusTooManyRequests)
	c.Add(2 * time.Second)
	r = page(t, a.enterCode(uc), http.StatusOK)
	if !strings.Contains(string(r.body), `value="approve"`) {
		t.Fatalf("after the wait: %s", r.body)
	}
}

func TestLoginReturnTo(t *testing.T) {
	f := newDeviceEnv(t)
	for _, rt := range []string{
		"https://evil.example/device", "//evil.example/device", "/device.evil.example", "/devices", "/device/../account",
		`/\evil.example`, "/device@evil.example", "http:/device", "/device#x", "javascript:alert(1)", "/account",
		"/device%2f..%2faccount",
	} {
		t.Run(rt, func(t *testing.T) {
			a := f.newAgent(t)
			// The login page does not carry it...
			form := hidden(page(t, a.get("/login?"+url.Values{"return_to": {rt}}.Encode()), http.StatusOK).body)
			if form.Has("return_to") {
				t.Errorf("login form carries return_to %q", form.Get("return_to"))
			}
			// ...and a forged form post is ignored.
			form.Set("username", testUser)
			form.Set("password", testPassword)
			form.Set("return_to", rt)
			if loc := location(t, a.post("/login", form)); loc != "/account" {
				t.Errorf("after sign-in: %s", loc)
			}
			// Signed in, the login page goes to the account page.
			if loc := location(t, a.get("/login?"+url.Values{"return_to": {rt}}.Encode())); loc != "/account" {
				t.Errorf("signed in: %s", loc)
			}
		})
	}
	// The device page is accepted, rebuilt from its parts.
	a := f.newAgent(t)
	form := hidden(page(t, a.get("/login?return_to="+url.QueryEscape(`/device?user_code="><x&y=1`)), http.StatusOK).body)
	if got := form.Get("return_to"); got != "/device?user_code=%22%3E%3Cx" {
		t.Errorf("return_to %q", got)
	}
	form.Set("username", testUser)
	form.Set("password", testPassword)
	if loc := location(t, a.post("/login", form)); loc != "/device?user_code=%22%3E%3Cx" {
		t.Errorf("after sign-in: %s", loc)
	}
	if loc := location(t, a.get("/login?return_to=/device")); loc != "/device" {
		t.Errorf("signed in: %s", loc)
	}
	// A failed sign-in keeps it.
	b := f.newAgent(t)
	form = hidden(page(t, b.get("/login?return_to=/device"), http.StatusOK).body)
	form.Set("username", testUser)
	form.Set("password", "wrong")
	if f := hidden(page(t, b.post("/login", form), http.StatusOK).body); f.Get("return_to") != "/device" {
		t.Errorf("return_to after a failed sign-in: %q", f.Get("return_to"))
	}
}

func TestDeviceDisabled(t *testing.T) {
	f := newFlowEnv(t, servertest.WithGrantTypes("authorization_code", "refresh_token"))
	if r := f.post(t, "/oauth2/device_authorization", "client_id=x", "", ""); r.status != http.StatusNotFound {
		t.Errorf("device authorization endpoint: %d", r.status)
	}
	if r := f.get(t, "/device"); r.status != http.StatusNotFound {
		t.Errorf("device page: %d", r.status)
	}
	if m := f.get(t, "/.well-known/openid-configuration").json(t); m["device_authorization_endpoint"] != nil {
		t.Errorf("discovery announces the device endpoint: %v", m)
	}
}
