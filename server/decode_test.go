package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
)

func TestRequestDecoder(t *testing.T) {
	e := newEnv(t, servertest.WithServerOptions(func(o *server.Options) { o.MaxBodyBytes = 1024 }))
	good := "grant_type=client_credentials&scope=read"
	basic := func(req *http.Request) { req.SetBasicAuth(e.clientID, e.secret) }

	request := func(t *testing.T, method, path, ct string, body io.Reader, edit ...func(*http.Request)) response {
		t.Helper()
		req, err := http.NewRequest(method, e.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		for _, f := range edit {
			f(req)
		}
		return e.do(t, req)
	}

	t.Run("charset allowed", func(t *testing.T) {
		r := request(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded; charset=UTF-8", strings.NewReader(good), basic)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	for _, method := range []string{"GET", "PUT", "DELETE", "PATCH"} {
		for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			r := request(t, method, path, "", nil)
			wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
			if got := r.header.Get("Allow"); got != "POST" {
				t.Errorf("%s %s: Allow = %q", method, path, got)
			}
		}
	}
	for _, ct := range []string{"", "application/json", "text/plain", "multipart/form-data; boundary=x",
		"application/x-www-form-urlencoded; charset=iso-8859-1", "application/x-www-form-urlencoded;;"} {
		t.Run("content type "+ct, func(t *testing.T) {
			r := request(t, "POST", "/oauth2/token", ct, strings.NewReader(good), basic)
			wantError(t, r, http.StatusBadRequest, "invalid_request")
		})
	}
	t.Run("oversize body with length", func(t *testing.T) {
		body := good + "&pad=" + strings.Repeat("a", 2000)
		wantError(t, request(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(body), basic),
			http.StatusRequestEntityTooLarge, "invalid_request")
	})
	t.Run("oversize body chunked", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(good+"&pad="), strings.NewReader(strings.Repeat("a", 2000)))
		req := func(r *http.Request) { r.ContentLength = -1 }
		wantError(t, request(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", body, basic, req),
			http.StatusRequestEntityTooLarge, "invalid_request")
	})
	t.Run("query parameters", func(t *testing.T) {
		for _, path := range []string{"/oauth2/token?grant_type=client_credentials", "/oauth2/token?", "/oauth2/introspect?token=x", "/oauth2/revoke?token=x"} {
			r := request(t, "POST", path, "application/x-www-form-urlencoded", strings.NewReader(good), basic)
			wantError(t, r, http.StatusBadRequest, "invalid_request")
		}
	})
	t.Run("parameters only in query", func(t *testing.T) {
		r := request(t, "POST", "/oauth2/token?"+good, "application/x-www-form-urlencoded", strings.NewReader(""), basic)
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("two Authorization headers", func(t *testing.T) {
		r := request(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(good), basic,
			func(r *http.Request) { r.Header.Add("Authorization", "Basic eDp5") })
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("bearer scheme", func(t *testing.T) {
		r := request(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(good),
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") })
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("repeated parameter on introspect", func(t *testing.T) {
		r := request(t, "POST", "/oauth2/introspect", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"token": {"a", "b"}}.Encode()), basic)
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	if got := e.get(t, "/healthz", "X-Request-Id", "abc-123").header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("valid incoming id replaced by %q", got)
	}
	for _, bad := range []string{"has space", "semi;colon", strings.Repeat("a", 65), "ünï"} {
		got := e.get(t, "/healthz", "X-Request-Id", bad).header.Get("X-Request-Id")
		if got == bad || len(got) != 32 {
			t.Errorf("incoming id %q: response id %q", bad, got)
		}
	}
	a := e.get(t, "/healthz").header.Get("X-Request-Id")
	b := e.get(t, "/healthz").header.Get("X-Request-Id")
	if a == "" || a == b {
		t.Errorf("generated ids %q %q", a, b)
	}
}
