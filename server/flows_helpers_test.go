package server_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// Test user and clients of the browser flows.
const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	webClient    = "web"
	spaClient    = "spa"
	trustedApp   = "trusted"
)

// flowEnv is a server with a user, three clients of the authorization endpoint and a
// callback server standing in for the clients' redirect URIs.
type flowEnv struct {
	*env
	user          storage.User
	webSecret     string
	trustedSecret string
	cb            *callbackServer
}

var browserScopes = []string{"openid", "profile", "email", "offline_access", "read"}

func newFlowEnv(t *testing.T, opts ...servertest.Option) *flowEnv {
	t.Helper()
	e := newEnv(t, opts...)
	cb := newCallbackServer(t)
	f := &flowEnv{env: e, cb: cb, user: e.CreateUser(t, testUser, testPassword)}
	grants := []string{"authorization_code", "refresh_token"}
	_, f.webSecret = e.CreateClient(t, storage.Client{ID: webClient, Name: "Web App", GrantTypes: grants,
		Scopes: browserScopes, RedirectURIs: []string{cb.URL + "/cb"}, PostLogoutRedirectURIs: []string{cb.URL + "/logged-out"}})
	e.CreateClient(t, storage.Client{ID: spaClient, Name: "Single Page App", Public: true, GrantTypes: grants,
		Scopes: browserScopes, RedirectURIs: []string{cb.URL + "/spa"}})
	_, f.trustedSecret = e.CreateClient(t, storage.Client{ID: trustedApp, Name: "Trusted App", Trusted: true,
		GrantTypes: grants, Scopes: browserScopes, RedirectURIs: []string{cb.URL + "/cb"}})
	return f
}

// oauth2Config is the x/oauth2 configuration of a client of f.
func (f *flowEnv) oauth2Config(id, secret string, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: f.cb.URL + "/cb",
		Scopes: browserScopes, Endpoint: oauth2.Endpoint{AuthURL: f.URL + "/oauth2/authorize",
			TokenURL: f.URL + "/oauth2/token", AuthStyle: style}}
}

// authParams are the parameters of a valid code request of client with PKCE (S256).
func (f *flowEnv) authParams(client, verifier string) url.Values {
	redirect := f.cb.URL + "/cb"
	if client == spaClient {
		redirect = f.cb.URL + "/spa"
	}
	return url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {strings.Join(browserScopes, " ")}, "state": {"st-123"}, "nonce": {"n-456"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
}

// callbackServer records what reaches the clients' redirect URIs.
type callbackServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []callbackHit
}

type callbackHit struct {
	method string
	path   string
	params url.Values // the query, or the form of a POST
}

func newCallbackServer(t *testing.T) *callbackServer {
	cb := &callbackServer{}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		cb.mu.Lock()
		cb.hits = append(cb.hits, callbackHit{method: r.Method, path: r.URL.Path, params: r.Form})
		cb.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><title>Callback</title><p id="callback">`+html.EscapeString(r.Method+" "+r.URL.Path)+`</p>`)
	}))
	t.Cleanup(cb.Close)
	return cb
}

func (cb *callbackServer) last(t *testing.T) callbackHit {
	t.Helper()
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if len(cb.hits) == 0 {
		t.Fatal("nothing reached the callback server")
	}
	return cb.hits[len(cb.hits)-1]
}

// agent is a plain HTTP "browser": a cookie jar, no automatic redirects.
type agent struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (f *flowEnv) newAgent(t *testing.T) *agent {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &agent{t: t, base: f.URL, c: &http.Client{Jar: jar, Timeout: f.Client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (a *agent) url(u string) string {
	if strings.HasPrefix(u, "/") {
		return a.base + u
	}
	return u
}

func (a *agent) do(req *http.Request) response {
	a.t.Helper()
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (a *agent) get(u string) response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url(u), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(req)
}

func (a *agent) post(u string, form url.Values) response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url(u), strings.NewReader(form.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

// cookie returns the value of the agent's cookie name for the server.
func (a *agent) cookie(name string) string {
	u, _ := url.Parse(a.base)
	for _, c := range a.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// hidden returns the hidden fields of a page's forms (the first value of each name).
func hidden(body []byte) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllSubmatch(body, -1) {
		name, value := html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2]))
		if !v.Has(name) {
			v.Set(name, value)
		}
	}
	return v
}

// page checks an HTML page's status and headers, and that it rendered.
func page(t *testing.T, r response, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'; frame-ancestors 'none'") ||
		!strings.Contains(csp, "form-action 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("X-Frame-Options %q Cache-Control %q", r.header.Get("X-Frame-Options"), r.header.Get("Cache-Control"))
	}
	if strings.Contains(string(r.body), "template:") || !strings.Contains(string(r.body), "</html>") {
		t.Errorf("page did not render: %s", r.body)
	}
	return r
}

// location returns the redirect target of r, which must be a 302 or 303.
func location(t *testing.T, r response) string {
	t.Helper()
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect: %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatal("redirect without Location")
	}
	return loc
}

// visit records the pages an authorization went through.
type visit struct {
	login, consent bool
	// final is the response that left the server for the client: a redirect or a
	// form_post page.
	final response
}

// authorize runs an authorization request the way a browser would: it signs in when sent to
// the login page and allows on the consent page (or denies, with deny set), until the
// server sends the browser to the client. It returns the client's redirect URL (nil for a
// form_post page).
func (a *agent) authorize(params url.Values, deny bool) (*url.URL, visit) {
	a.t.Helper()
	t := a.t
	var v visit
	r := a.get("/oauth2/authorize?" + params.Encode())
	for range 5 {
		if r.status == http.StatusOK {
			v.final = r
			return nil, v
		}
		loc := location(t, r)
		switch {
		case strings.HasPrefix(loc, "/login?"):
			v.login = true
			f := hidden(page(t, a.get(loc), http.StatusOK).body)
			f.Set("username", testUser)
			f.Set("password", testPassword)
			r = a.post("/login", f)
		case strings.HasPrefix(loc, "/consent?"):
			v.consent = true
			f := hidden(page(t, a.get(loc), http.StatusOK).body)
			f.Set("decision", "allow")
			if deny {
				f.Set("decision", "deny")
			}
			r = a.post("/consent", f)
		default:
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			v.final = r
			return u, v
		}
	}
	t.Fatal("too many redirects")
	return nil, v
}

// signIn signs the agent in on the login page, without an authorization request.
func (a *agent) signIn() {
	a.t.Helper()
	f := hidden(page(a.t, a.get("/login"), http.StatusOK).body)
	f.Set("username", testUser)
	f.Set("password", testPassword)
	if loc := location(a.t, a.post("/login", f)); loc != "/account" {
		a.t.Fatalf("after sign-in: %s", loc)
	}
}

// code runs a code request and returns the code, checking state and iss.
func (f *flowEnv) code(t *testing.T, a *agent, params url.Values) string {
	t.Helper()
	u, _ := a.authorize(params, false)
	if u == nil {
		t.Fatal("no redirect to the client")
	}
	q := u.Query()
	if q.Get("code") == "" || q.Get("state") != params.Get("state") || q.Get("iss") != f.URL {
		t.Fatalf("authorization response %s", u)
	}
	return q.Get("code")
}

// wantRetrieveError checks an x/oauth2 token error.
func wantRetrieveError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want %s", err, code)
	}
	if re.ErrorCode != code {
		t.Errorf("error %s (%s), want %s", re.ErrorCode, re.ErrorDescription, code)
	}
}

var bg = context.Background()
