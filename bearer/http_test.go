package bearer_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/bearer"
)

// api is a protected API: /hello for any valid token, /invoices for invoices:read, /both
// for invoices:read and reports:read.
func api(v *bearer.Verifier) http.Handler {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := bearer.FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject, "scopes": c.Scopes})
	})
	mux := http.NewServeMux()
	mux.Handle("/hello", v.Middleware(echo))
	mux.Handle("/invoices", v.Middleware(bearer.RequireScope("invoices:read")(echo)))
	mux.Handle("/both", v.Middleware(bearer.RequireScope("invoices:read", "reports:read")(echo)))
	mux.Handle("/misconfigured", bearer.RequireScope("invoices:read")(echo))
	return mux
}

type response struct {
	status    int
	challenge string
	errCode   string
	errDesc   string
	body      string
	header    http.Header
}

func do(t *testing.T, h http.Handler, r *http.Request) response {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := response{status: w.Code, challenge: w.Header().Get("WWW-Authenticate"), body: w.Body.String(), header: w.Header()}
	if w.Code != http.StatusOK {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("error body %q is not JSON: %v", w.Body.String(), err)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("error Content-Type = %q", ct)
		}
		res.errCode, res.errDesc = body.Error, body.Description
	}
	return res
}

func get(path, authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func TestMiddleware(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	h := api(v)
	read := e.jwt(t, "invoices:read")
	both := e.jwt(t, "invoices:read", "reports:read")
	reports := e.jwt(t, "reports:read")

	t.Run("valid token", func(t *testing.T) {
		res := do(t, h, get("/hello", "Bearer "+read))
		if res.status != http.StatusOK || !strings.Contains(res.body, `"sub":"machine"`) || !strings.Contains(res.body, "invoices:read") {
			t.Fatalf("status %d, body %s", res.status, res.body)
		}
		if res.challenge != "" {
			t.Errorf("WWW-Authenticate on success: %q", res.challenge)
		}
	})
	t.Run("scheme is case-insensitive, spaces allowed", func(t *testing.T) {
		if res := do(t, h, get("/hello", "bEaReR   "+read)); res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})
	t.Run("opaque token", func(t *testing.T) {
		if res := do(t, h, get("/invoices", "Bearer "+e.opaque(t, "invoices:read"))); res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})
	t.Run("missing token", func(t *testing.T) {
		res := do(t, h, get("/hello", ""))
		if res.status != http.StatusUnauthorized || res.challenge != `Bearer realm="api"` {
			t.Fatalf("status %d, challenge %q", res.status, res.challenge)
		}
	})
	t.Run("another scheme counts as no token", func(t *testing.T) {
		res := do(t, h, get("/hello", "Basic bWFjaGluZTpzZWNyZXQ="))
		if res.status != http.StatusUnauthorized || res.challenge != `Bearer realm="api"` {
			t.Fatalf("status %d, challenge %q", res.status, res.challenge)
		}
	})
	t.Run("invalid token", func(t *testing.T) {
		res := do(t, h, get("/hello", "Bearer "+read[:len(read)-8]+"AAAAAAAA"))
		want := `Bearer realm="api", error="invalid_token", error_description="the signature is invalid"`
		if res.status != http.StatusUnauthorized || res.challenge != want || res.errCode != "invalid_token" {
			t.Fatalf("status %d, challenge %q, error %q", res.status, res.challenge, res.errCode)
		}
		if strings.Contains(res.body, read[:20]) || strings.Contains(res.challenge, read[:20]) {
			t.Fatal("the response echoes the token")
		}
	})
	t.Run("expired token", func(t *testing.T) {
		e.clock.Advance(2 * 3600e9)
		defer e.clock.Advance(-2 * 3600e9)
		res := do(t, h, get("/hello", "Bearer "+read))
		if res.status != http.StatusUnauthorized || res.errDesc != "the token has expired" {
			t.Fatalf("status %d, description %q", res.status, res.errDesc)
		}
	})
	t.Run("insufficient scope", func(t *testing.T) {
		res := do(t, h, get("/invoices", "Bearer "+reports))
		want := `Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="invoices:read"`
		if res.status != http.StatusForbidden || res.challenge != want || res.errCode != "insufficient_scope" {
			t.Fatalf("status %d, challenge %q, error %q", res.status, res.challenge, res.errCode)
		}
	})
	t.Run("every required scope", func(t *testing.T) {
		res := do(t, h, get("/both", "Bearer "+read))
		if res.status != http.StatusForbidden || !strings.Contains(res.challenge, `scope="invoices:read reports:read"`) {
			t.Fatalf("status %d, challenge %q", res.status, res.challenge)
		}
		if res := do(t, h, get("/both", "Bearer "+both)); res.status != http.StatusOK {
			t.Fatalf("status %d with both scopes", res.status)
		}
	})
	t.Run("RequireScope without Middleware", func(t *testing.T) {
		if res := do(t, h, get("/misconfigured", "Bearer "+read)); res.status != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", res.status)
		}
	})

	malformed := []struct {
		name, path string
		headers    []string
	}{
		{"empty Bearer credential", "/hello", []string{"Bearer "}},
		{"Bearer without a space", "/hello", []string{"Bearer"}},
		{"credential outside b64token", "/hello", []string{"Bearer a b"}},
		{"two Authorization headers", "/hello", []string{"Bearer " + read, "Bearer " + read}},
		{"query token not allowed", "/hello?access_token=" + url.QueryEscape(read), nil},
		{"query token not allowed, header too", "/hello?access_token=x", []string{"Bearer " + read}},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			r := get(tt.path, "")
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			res := do(t, h, r)
			if res.status != http.StatusBadRequest || res.errCode != "invalid_request" ||
				!strings.HasPrefix(res.challenge, `Bearer realm="api", error="invalid_request", error_description="`) {
				t.Fatalf("status %d, challenge %q, error %q", res.status, res.challenge, res.errCode)
			}
		})
	}

	t.Run("form token ignored unless allowed", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/hello", strings.NewReader(url.Values{"access_token": {read}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res := do(t, h, r)
		if res.status != http.StatusUnauthorized || res.challenge != `Bearer realm="api"` {
			t.Fatalf("status %d, challenge %q", res.status, res.challenge)
		}
	})
}

func TestMiddlewareFormAndQueryTokens(t *testing.T) {
	e := start(t)
	v := e.verifier(t, func(c *bearer.Config) { c.AllowFormToken, c.AllowQueryToken, c.Realm = true, true, "invoices" })
	h := api(v)
	read := e.jwt(t, "invoices:read")

	post := func(form url.Values, authorization string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/invoices", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		return r
	}
	t.Run("form", func(t *testing.T) {
		if res := do(t, h, post(url.Values{"access_token": {read}}, "")); res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})
	t.Run("query", func(t *testing.T) {
		res := do(t, h, get("/invoices?access_token="+url.QueryEscape(read), ""))
		if res.status != http.StatusOK || res.header.Get("Cache-Control") != "private" {
			t.Fatalf("status %d, Cache-Control %q", res.status, res.header.Get("Cache-Control"))
		}
	})
	t.Run("custom realm", func(t *testing.T) {
		if res := do(t, h, get("/invoices", "")); res.challenge != `Bearer realm="invoices"` {
			t.Fatalf("challenge %q", res.challenge)
		}
	})
	bad := []struct {
		name string
		r    *http.Request
	}{
		{"header and form", post(url.Values{"access_token": {read}}, "Bearer "+read)},
		{"header and query", get("/invoices?access_token="+url.QueryEscape(read), "Bearer "+read)},
		{"repeated query parameter", get("/invoices?access_token=a&access_token=b", "")},
		{"repeated form parameter", post(url.Values{"access_token": {read, read}}, "")},
		{"empty query parameter", get("/invoices?access_token=", "")},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if res := do(t, h, tt.r); res.status != http.StatusBadRequest || res.errCode != "invalid_request" {
				t.Fatalf("status %d, error %q", res.status, res.errCode)
			}
		})
	}
	t.Run("GET body is not read", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/invoices", strings.NewReader(url.Values{"access_token": {read}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if res := do(t, h, r); res.status != http.StatusUnauthorized {
			t.Fatalf("status %d", res.status)
		}
	})
}

func TestMiddlewareUnavailable(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	e.tr.failIntrospect.Store(true)
	res := do(t, api(v), get("/hello", "Bearer "+e.opaque(t)))
	if res.status != http.StatusServiceUnavailable || res.errCode != "temporarily_unavailable" || res.challenge != "" {
		t.Fatalf("status %d, error %q, challenge %q", res.status, res.errCode, res.challenge)
	}
}

// Over a real listener, with the token from x/oauth2's client.
func TestMiddlewareOverHTTP(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	srv := httptest.NewServer(api(v))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/invoices", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.jwt(t, "invoices:read"))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func TestNewConfig(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	base := func() bearer.Config {
		return bearer.Config{Issuer: e.ts.URL, Audience: e.ts.URL, HTTPClient: &http.Client{Transport: e.tr}}
	}
	bad := []struct {
		name string
		edit func(*bearer.Config)
	}{
		{"no issuer", func(c *bearer.Config) { c.Issuer = "" }},
		{"relative issuer", func(c *bearer.Config) { c.Issuer = "/issuer" }},
		{"issuer with a query", func(c *bearer.Config) { c.Issuer += "?a=b" }},
		{"issuer differs from the metadata", func(c *bearer.Config) { c.Issuer += "/" }},
		{"unreachable issuer", func(c *bearer.Config) { c.Issuer = "http://127.0.0.1:1" }},
		{"no audience", func(c *bearer.Config) { c.Audience = "" }},
		{"negative leeway", func(c *bearer.Config) { c.Leeway = -1 }},
		{"client id without secret", func(c *bearer.Config) { c.IntrospectionClientID = "x" }},
		{"secret without client id", func(c *bearer.Config) { c.IntrospectionClientSecret = "x" }},
		{"realm with a quote", func(c *bearer.Config) { c.Realm = `a"b` }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.edit(&cfg)
			if _, err := bearer.New(ctx, cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	t.Run("RFC 8414 fallback", func(t *testing.T) {
		e.tr.hideOIDC.Store(true)
		defer e.tr.hideOIDC.Store(false)
		before := e.tr.discovery.Load()
		v, err := bearer.New(ctx, base())
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		if n := e.tr.discovery.Load() - before; n != 2 {
			t.Errorf("%d metadata requests, want 2", n)
		}
		if _, err := v.Verify(ctx, e.jwt(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRequireScopePanicsOnInvalidScope(t *testing.T) {
	for _, s := range []string{"", "a b", `a"b`, "a\\b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireScope(%q) did not panic", s)
				}
			}()
			bearer.RequireScope(s)
		}()
	}
}
