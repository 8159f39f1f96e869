package demo_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/server/demo"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

const (
	username = "alice"
	password = "correct horse battery staple"
	clientID = "demo-web"
)

var scopes = []string{"openid", "profile", "email", "offline_access", "demo:read"}

// env is a real Gatehouse server with a user and the demo's client, and the demo relying
// party on its own server, as a separate application would be.
type env struct {
	gh   *servertest.Server
	rp   *httptest.Server
	user storage.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gh := servertest.Start(t)
	gh.CreateScope(t, storage.Scope{Name: "demo:read", Description: "Read the demo"})
	user := gh.CreateUser(t, username, password)

	mux := http.NewServeMux()
	rp := httptest.NewServer(mux)
	t.Cleanup(rp.Close)
	redirect := rp.URL + "/demo/callback"
	_, secret := gh.CreateClient(t, storage.Client{ID: clientID, Name: "Gatehouse demo",
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: scopes,
		RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{rp.URL + "/demo/"}})
	mux.Handle("/demo/", demo.New(demo.Config{Issuer: gh.URL, ClientID: clientID, ClientSecret: secret,
		RedirectURL: redirect, Scopes: scopes, HTTPClient: &http.Client{Timeout: 30 * time.Second}}))
	return &env{gh: gh, rp: rp, user: user}
}

// browser is a plain HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

// location resolves the response's Location header.
func (r response) location(t *testing.T) string {
	t.Helper()
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatalf("%s: status %d without a Location: %s", r.url, r.status, r.body)
	}
	u, err := r.url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

func (b *browser) do(method, u string, form url.Values) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data), url: req.URL}
}

func (b *browser) get(u string) response { b.t.Helper(); return b.do(http.MethodGet, u, nil) }

// follow GETs u and the redirects after it while they stay on the authorization server,
// and returns the first response that is not a redirect there.
func (b *browser) follow(e *env, r response) response {
	b.t.Helper()
	for i := 0; r.status == http.StatusFound || r.status == http.StatusSeeOther; i++ {
		loc := r.location(b.t)
		if !strings.HasPrefix(loc, e.gh.URL+"/") || i > 10 {
			return r
		}
		r = b.get(loc)
	}
	return r
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// form returns the hidden fields of a page.
func form(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// signIn starts the demo and goes through the login page, returning the consent page.
func (e *env) signIn(t *testing.T, b *browser) response {
	t.Helper()
	start := b.get(e.rp.URL + "/demo/")
	if start.status != http.StatusFound || !strings.HasPrefix(start.location(t), e.gh.URL+"/oauth2/authorize?") {
		t.Fatalf("GET /demo/ = %d, Location %q", start.status, start.header.Get("Location"))
	}
	cookie := start.header.Get("Set-Cookie")
	for _, attr := range []string{"gatehouse_demo_flow=", "Path=/demo/", "HttpOnly", "SameSite=Lax", "Max-Age=600"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("flow cookie %q lacks %s", cookie, attr)
		}
	}
	auth, _ := url.Parse(start.location(t))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" ||
		q.Get("state") == "" || q.Get("client_id") != clientID || q.Get("scope") != strings.Join(scopes, " ") {
		t.Errorf("authorization request %v", q)
	}

	login := b.follow(e, start)
	if login.status != http.StatusOK || !strings.Contains(login.url.Path, "/login") {
		t.Fatalf("expected the login page, got %d at %s: %s", login.status, login.url, login.body)
	}
	f := form(login.body)
	if f.Get("csrf") == "" || f.Get("req") == "" {
		t.Fatalf("login page lacks csrf or req: %v", f)
	}
	f.Set("username", username)
	f.Set("password", password)
	consent := b.follow(e, b.do(http.MethodPost, login.url.String(), f))
	if consent.status != http.StatusOK || !strings.Contains(consent.url.Path, "/consent") {
		t.Fatalf("expected the consent page, got %d at %s: %s", consent.status, consent.url, consent.body)
	}
	return consent
}

// decide answers the consent page and returns the redirect to the demo's callback.
func (e *env) decide(t *testing.T, b *browser, consent response, decision string) string {
	t.Helper()
	f := form(consent.body)
	f.Set("decision", decision)
	r := b.follow(e, b.do(http.MethodPost, consent.url.String(), f))
	loc := r.location(t)
	if !strings.HasPrefix(loc, e.rp.URL+"/demo/callback?") {
		t.Fatalf("after consent: %d to %q", r.status, loc)
	}
	return loc
}

func TestDemoSignIn(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	callback := e.decide(t, b, e.signIn(t, b), "allow")

	page := b.get(callback)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Signed in") {
		t.Fatalf("callback page %d:\n%s", page.status, page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("callback page CSP = %q", csp)
	}
	body := html.UnescapeString(page.body)
	claims := regexp.MustCompile(`(?s)<pre class="claims"><code>(.*?)</code></pre>`).FindAllStringSubmatch(body, -1)
	if len(claims) != 2 {
		t.Fatalf("want access and ID token claims, got %d blocks:\n%s", len(claims), body)
	}
	var access, id map[string]any
	if err := json.Unmarshal([]byte(claims[0][1]), &access); err != nil {
		t.Fatalf("access token claims: %v\n%s", err, claims[0][1])
	}
	if err := json.Unmarshal([]byte(claims[1][1]), &id); err != nil {
		t.Fatalf("ID token claims: %v\n%s", err, claims[1][1])
	}
	if access["sub"] != e.user.ID || access["client_id"] != clientID || access["iss"] != e.gh.URL ||
		!strings.Contains(access["scope"].(string), "demo:read") {
		t.Errorf("access token claims = %v", access)
	}
	if id["sub"] != e.user.ID || id["aud"] != clientID || id["nonce"] == nil || id["email"] != username+"@example.com" {
		t.Errorf("ID token claims = %v", id)
	}
	for _, want := range []string{"Refresh token", "demo:read", "seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("callback page lacks %q", want)
		}
	}

	// The flow is single use: the same callback again fails on the missing cookie.
	again := b.get(callback)
	if again.status != http.StatusBadRequest || !strings.Contains(again.body, "Start again") {
		t.Errorf("second callback = %d:\n%s", again.status, again.body)
	}

	// Signed in already at the server, a second sign-in goes straight back with a code.
	start := b.get(e.rp.URL + "/demo/")
	r := b.follow(e, start)
	if loc := r.location(t); !strings.HasPrefix(loc, e.rp.URL+"/demo/callback?") {
		t.Fatalf("second sign-in went to %q", loc)
	}
	if page := b.get(r.location(t)); page.status != http.StatusOK || !strings.Contains(page.body, "Signed in") {
		t.Errorf("second sign-in callback = %d:\n%s", page.status, page.body)
	}
}

func TestDemoDenied(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	callback := e.decide(t, b, e.signIn(t, b), "deny")
	page := b.get(callback)
	if page.status != http.StatusBadRequest || !strings.Contains(page.body, "Sign-in failed") ||
		!strings.Contains(page.body, "access_denied") {
		t.Errorf("denied callback = %d:\n%s", page.status, page.body)
	}
}

func TestDemoCallbackRefusals(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)

	// No flow cookie: nothing of the query is believed or shown.
	r := b.get(e.rp.URL + "/demo/callback?error=evil&error_description=phishing+text&state=x")
	if r.status != http.StatusBadRequest || strings.Contains(r.body, "phishing") || !strings.Contains(r.body, "Start again") {
		t.Errorf("callback without a flow = %d:\n%s", r.status, r.body)
	}

	// A state that is not this browser's.
	start := b.get(e.rp.URL + "/demo/")
	if start.status != http.StatusFound {
		t.Fatalf("GET /demo/ = %d", start.status)
	}
	r = b.get(e.rp.URL + "/demo/callback?code=abc&state=forged")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "state") {
		t.Errorf("forged state = %d:\n%s", r.status, r.body)
	}

	// A forged code with the right state: the token endpoint refuses it.
	start = b.get(e.rp.URL + "/demo/")
	auth, _ := url.Parse(start.location(t))
	r = b.get(e.rp.URL + "/demo/callback?code=forged&state=" + url.QueryEscape(auth.Query().Get("state")))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
		t.Errorf("forged code = %d:\n%s", r.status, r.body)
	}

	// A tampered cookie.
	jarURL, _ := url.Parse(e.rp.URL + "/demo/")
	b.c.Jar.SetCookies(jarURL, []*http.Cookie{{Name: "gatehouse_demo_flow", Value: "e30.AAAA", Path: "/demo/"}})
	r = b.get(e.rp.URL + "/demo/callback?code=x&state=")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Start again") {
		t.Errorf("tampered cookie = %d:\n%s", r.status, r.body)
	}

	if r := b.get(e.rp.URL + "/demo/other"); r.status != http.StatusNotFound {
		t.Errorf("GET /demo/other = %d", r.status)
	}
	if r := b.do(http.MethodPost, e.rp.URL+"/demo/", url.Values{}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /demo/ = %d", r.status)
	}
}

func TestDemoDiscoveryFailure(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h := demo.New(demo.Config{Issuer: dead.URL, ClientID: "x", RedirectURL: "http://127.0.0.1/demo/callback",
		Scopes: []string{"openid"}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/demo/", nil))
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "metadata") {
		t.Errorf("GET /demo/ without a server = %d:\n%s", rec.Code, rec.Body)
	}
}
