package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// env is a started server with a scope catalogue and a confidential client.
type env struct {
	*servertest.Server
	clientID, secret string
}

func newEnv(t *testing.T, opts ...servertest.Option) *env {
	t.Helper()
	ts := servertest.Start(t, opts...)
	ts.CreateScope(t, storage.Scope{Name: "read", Description: "read things", Default: true})
	ts.CreateScope(t, storage.Scope{Name: "write", Description: "write things"})
	ts.CreateScope(t, storage.Scope{Name: "admin", Description: "not for everyone"})
	id, secret := ts.CreateClient(t, storage.Client{ID: "svc", Scopes: []string{"read", "write"}})
	return &env{Server: ts, clientID: id, secret: secret}
}

// response is a buffered HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

func (e *env) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (e *env) get(t *testing.T, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return e.do(t, req)
}

// post sends a form. With basicID set, the client authenticates with HTTP Basic (id and
// secret form-urlencoded first, RFC 6749 2.3.1).
func (e *env) post(t *testing.T, path, body, basicID, basicSecret string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return e.do(t, req)
}

// token gets an access token for the env's client with x/oauth2.
func (e *env) token(t *testing.T, id, secret string, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.URL + "/oauth2/token",
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	return tok.AccessToken
}

func (e *env) introspect(t *testing.T, tok string) map[string]any {
	t.Helper()
	r := e.post(t, "/oauth2/introspect", url.Values{"token": {tok}}.Encode(), e.clientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r.json(t)
}

// wantError checks an OAuth error response.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Errorf("error = %v, want %s (body %s)", m["error"], code, r.body)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("no error_description: %s", r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
	}
	if status == http.StatusUnauthorized {
		if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="gatehouse", charset="UTF-8"` {
			t.Errorf("WWW-Authenticate = %q", got)
		}
	}
}

// jwks fetches and parses the key set.
func (e *env) jwks(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	r := e.get(t, "/oauth2/jwks")
	if r.status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	return set
}

type accessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// verifyJWT checks the token's signature with go-jose against the published JWKS and returns
// its kid and claims.
func (e *env) verifyJWT(t *testing.T, raw string) (string, accessClaims) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	if len(tok.Headers) != 1 {
		t.Fatalf("%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("typ = %v, want at+jwt", typ)
	}
	set := e.jwks(t)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(keys))
	}
	var c accessClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	return h.KeyID, c
}

// clock is a settable clock for the janitor and expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
