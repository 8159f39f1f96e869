package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// BenchmarkTokenEndpoint runs client credentials requests through the public handler (no
// network), with a JSON access log, as in production.
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, format := range []string{storage.TokenFormatJWT, storage.TokenFormatOpaque} {
		b.Run(format, func(b *testing.B) {
			ts := servertest.Start(b, servertest.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
			ts.CreateScope(b, storage.Scope{Name: "read", Default: true})
			id, secret := ts.CreateClient(b, storage.Client{Scopes: []string{"read"}, TokenFormat: format})
			h := ts.Server.Public()
			body := "grant_type=client_credentials&scope=read"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(id, secret)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkEndpoints runs every hot endpoint through the public handler (no network: the
// handler's cost, with production middleware, the default client cache and a JSON access log
// at info level) on each backend: memory, SQLite, and PostgreSQL when 127.0.0.1:5432 answers.
// cmd/gatehouse-bench measures the same scenarios over loopback against the bare handler.
//
//	go test -run '^$' -bench Endpoints -benchmem ./server/
//	go test -run '^$' -bench 'Endpoints/sqlite/authcode' -benchmem ./server/
func BenchmarkEndpoints(b *testing.B) {
	backends := []struct {
		name string
		opts func(b *testing.B) []servertest.Option
	}{
		{"memory", func(*testing.B) []servertest.Option { return nil }},
		{"sqlite", func(b *testing.B) []servertest.Option {
			return []servertest.Option{servertest.WithSQLite(filepath.Join(b.TempDir(), "gatehouse.db"))}
		}},
		{"postgres", func(*testing.B) []servertest.Option { return []servertest.Option{servertest.WithPostgres()} }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			opts := append(be.opts(b),
				servertest.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
				// The production client cache (servertest turns it off by default).
				servertest.WithProviderOptions(func(o *oauth.Options) { o.CacheTTL = 0 }))
			benchEndpoints(b, newBenchServer(b, opts...))
		})
	}
}

// benchServer is a test server with the clients, user and session of the benchmarks.
type benchServer struct {
	ts      *servertest.Server
	h       http.Handler
	secrets map[string]string
	cookie  string // Cookie header of a signed-in browser
}

const (
	benchScopeName   = "api:read"
	benchRedirectURI = "http://127.0.0.1/callback"
	benchVerifier    = "dBjftJeZ4CVP-mJ92K9qjbOCHDpGvmqpY1jjyPkXFLw"
)

// benchChallenge is the S256 code_challenge of benchVerifier.
var benchChallenge = func() string {
	sum := sha256.Sum256([]byte(benchVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

func newBenchServer(b *testing.B, opts ...servertest.Option) *benchServer {
	b.Helper()
	ts := servertest.Start(b, opts...)
	bs := &benchServer{ts: ts, h: ts.Server.Public(), secrets: map[string]string{}}
	ts.CreateScope(b, storage.Scope{Name: benchScopeName})
	for _, c := range []storage.Client{
		{ID: "bench-jwt", TokenFormat: storage.TokenFormatJWT},
		{ID: "bench-opaque", TokenFormat: storage.TokenFormatOpaque},
		{ID: "bench-rs"},
		{ID: "bench-web", Trusted: true, GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			RedirectURIs: []string{benchRedirectURI}},
	} {
		c.Scopes = []string{benchScopeName}
		_, bs.secrets[c.ID] = ts.CreateClient(b, c)
	}
	ts.CreateUser(b, "alice", "correct horse battery staple")
	bs.cookie = bs.signIn(b, "alice", "correct horse battery staple")
	return bs
}

var benchCSRF = regexp.MustCompile(`name="csrf"\s+value="([^"]*)"`)

// signIn posts the real login form and returns the browser's Cookie header.
func (bs *benchServer) signIn(b *testing.B, username, password string) string {
	b.Helper()
	rec := bs.serve(httptest.NewRequest(http.MethodGet, "/login", nil))
	m := benchCSRF.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		b.Fatalf("GET /login: %d", rec.Code)
	}
	cookies := rec.Result().Cookies()
	form := url.Values{"csrf": {m[1]}, "username": {username}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec = bs.serve(req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("POST /login: %d %s", rec.Code, rec.Body)
	}
	cookies = append(cookies, rec.Result().Cookies()...)
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func (bs *benchServer) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	bs.h.ServeHTTP(rec, req)
	return rec
}

// post sends a form to path with HTTP Basic client authentication and wants 200.
func (bs *benchServer) post(b *testing.B, path, body, client string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, bs.secrets[client])
	rec := bs.serve(req)
	if rec.Code != http.StatusOK {
		b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec
}

func (bs *benchServer) get(b *testing.B, path string) {
	rec := bs.serve(httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d", path, rec.Code)
	}
}

// field reads a string member of a JSON response.
func field(b *testing.B, rec *httptest.ResponseRecorder, name string) string {
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		b.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}

var benchAuthorizeQuery = url.Values{"response_type": {"code"}, "client_id": {"bench-web"},
	"redirect_uri": {benchRedirectURI}, "scope": {benchScopeName}, "state": {"xyzzy-state"},
	"code_challenge": {benchChallenge}, "code_challenge_method": {"S256"}}.Encode()

// authorizationCode runs the whole flow with the signed-in session: authorize (no consent:
// the client is trusted), then the code exchange. It returns the token response.
func (bs *benchServer) authorizationCode(b *testing.B) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/oauth2/authorize?"+benchAuthorizeQuery, nil)
	req.Header.Set("Cookie", bs.cookie)
	rec := bs.serve(req)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code/100 != 3 || err != nil || loc.Query().Get("code") == "" {
		b.Fatalf("authorize: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {benchRedirectURI}, "code_verifier": {benchVerifier}}
	return bs.post(b, "/oauth2/token", form.Encode(), "bench-web")
}

func benchEndpoints(b *testing.B, bs *benchServer) {
	run := func(name string, f func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			f(b)
		})
	}
	cc := "grant_type=client_credentials&scope=" + url.QueryEscape(benchScopeName)
	for _, client := range []string{"bench-jwt", "bench-opaque"} {
		run("cc-"+strings.TrimPrefix(client, "bench-"), func(b *testing.B) {
			for b.Loop() {
				bs.post(b, "/oauth2/token", cc, client)
			}
		})
	}
	for _, client := range []string{"bench-jwt", "bench-opaque"} {
		run("introspect-"+strings.TrimPrefix(client, "bench-"), func(b *testing.B) {
			tok := field(b, bs.post(b, "/oauth2/token", cc, client), "access_token")
			body := "token=" + url.QueryEscape(tok)
			for b.Loop() {
				if !strings.Contains(bs.post(b, "/oauth2/introspect", body, "bench-rs").Body.String(), `"active":true`) {
					b.Fatal("inactive")
				}
			}
		})
	}
	run("refresh", func(b *testing.B) {
		rt := field(b, bs.authorizationCode(b), "refresh_token")
		for b.Loop() {
			rt = field(b, bs.post(b, "/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), "bench-web"), "refresh_token")
		}
	})
	run("authcode", func(b *testing.B) {
		for b.Loop() {
			bs.authorizationCode(b)
		}
	})
	run("jwks", func(b *testing.B) {
		for b.Loop() {
			bs.get(b, "/oauth2/jwks")
		}
	})
	run("discovery", func(b *testing.B) {
		for b.Loop() {
			bs.get(b, "/.well-known/openid-configuration")
		}
	})
}
