package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
)

func TestHealthAndReady(t *testing.T) {
	st := &flakyStore{Store: memory.New()}
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, servertest.WithStore(st))
	for _, base := range []string{e.URL, e.AdminURL} {
		for _, p := range []string{"/healthz", "/readyz"} {
			r := e.getURL(t, base+p)
			if r.status != http.StatusOK || string(r.body) != "ok\n" {
				t.Errorf("%s%s: %d %q", base, p, r.status, r.body)
			}
		}
	}
	st.pingFails.Store(true)
	if r := e.get(t, "/readyz"); r.status != http.StatusServiceUnavailable || strings.Contains(string(r.body), "database") {
		t.Errorf("readyz with a failing store: %d %q", r.status, r.body)
	}
	if r := e.get(t, "/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz with a failing store: %d", r.status)
	}
}

// flakyStore is a memory store whose Ping can be made to fail.
type flakyStore struct {
	storage.Store
	pingFails atomic.Bool
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.pingFails.Load() {
		return errors.New("database unreachable")
	}
	return f.Store.Ping(ctx)
}

func (e *env) getURL(t *testing.T, u string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.token(t, e.clientID, e.secret)
	wantError(t, e.post(t, "/oauth2/token", "grant_type=client_credentials", e.clientID, "ghs_wrong"), 401, "invalid_client")
	e.get(t, "/no/such/path/"+strings.Repeat("x", 10))
	want := []string{
		`gatehouse_http_requests_total{code="200",method="POST",route="/oauth2/token"} 1`,
		`gatehouse_http_requests_total{code="401",method="POST",route="/oauth2/token"} 1`,
		`gatehouse_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`gatehouse_http_request_duration_seconds_bucket{route="/oauth2/token",le="+Inf"} 2`,
		`gatehouse_tokens_issued_total{grant_type="client_credentials"} 1`,
		`gatehouse_oauth_errors_total{endpoint="token",error="invalid_client"} 1`,
		"go_goroutines ",
		"process_",
	}
	for _, base := range []string{e.URL, e.AdminURL} {
		r := e.getURL(t, base+"/metrics")
		if r.status != http.StatusOK {
			t.Fatalf("%s/metrics: %d", base, r.status)
		}
		for _, w := range want {
			if !strings.Contains(string(r.body), w) {
				t.Errorf("%s/metrics lacks %q", base, w)
			}
		}
		if strings.Contains(string(r.body), "/no/such/path") {
			t.Error("a raw path became a label")
		}
	}
}

func TestAdminPprof(t *testing.T) {
	off := newEnv(t)
	if r := off.getURL(t, off.AdminURL+"/debug/pprof/"); r.status != http.StatusNotFound {
		t.Errorf("pprof served without EnablePprof: %d", r.status)
	}
	on := newEnv(t, servertest.WithServerOptions(func(o *server.Options) { o.EnablePprof = true }))
	if r := on.getURL(t, on.AdminURL+"/debug/pprof/"); r.status != http.StatusOK {
		t.Errorf("pprof index: %d", r.status)
	}
	if r := on.getURL(t, on.AdminURL+"/debug/pprof/goroutine?debug=1"); r.status != http.StatusOK {
		t.Errorf("pprof goroutine: %d", r.status)
	}
	if r := on.get(t, "/debug/pprof/"); r.status != http.StatusNotFound {
		t.Errorf("pprof on the public handler: %d", r.status)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRecoverPanics(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, servertest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	h := e.Server.Server.RecoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("kaboom: secret detail")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/oauth2/token", nil))
	r := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	wantError(t, r, http.StatusInternalServerError, "server_error")
	if strings.Contains(string(r.body), "kaboom") {
		t.Errorf("the panic leaked: %s", r.body)
	}
	if l := logs.String(); !strings.Contains(l, "kaboom") || !strings.Contains(l, "goroutine") {
		t.Errorf("panic or stack not logged: %s", l)
	}

	// A panic after the response started aborts the connection.
	h = e.Server.Server.RecoverPanics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		panic("late")
	}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
}

func TestAccessLog(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, servertest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	e.token(t, e.clientID, e.secret)
	e.post(t, "/oauth2/token", "grant_type=client_credentials", e.clientID, "ghs_wrong")
	e.get(t, "/healthz")
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "http request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 { // the probe is logged at Debug, below the handler's Info level
		t.Fatalf("%d access log lines: %v", len(lines), lines)
	}
	for i, wantStatus := range []float64{200, 401} {
		l := lines[i]
		if l["level"] != "INFO" || l["method"] != "POST" || l["path"] != "/oauth2/token" || l["route"] != "/oauth2/token" ||
			l["status"] != wantStatus || l["request_id"] == "" || l["remote"] != "127.0.0.1" || l["duration"] == nil {
			t.Errorf("line %d: %v", i, l)
		}
	}
	if lines[1]["error"] != "invalid_client" {
		t.Errorf("error code not logged: %v", lines[1])
	}
	if strings.Contains(logs.String(), e.secret) {
		t.Error("the client secret was logged")
	}
}

func TestJanitor(t *testing.T) {
	c := newClock()
	e := newEnv(t, servertestNow(c), servertest.WithServerOptions(func(o *server.Options) {
		o.JanitorBatchSize = 2
	}))
	id, secret := e.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
		TokenFormat: storage.TokenFormatOpaque})
	var tokens []string
	for range 5 {
		tokens = append(tokens, e.token(t, id, secret))
	}
	ctx := context.Background()
	res, err := e.Server.Server.JanitorPass(ctx)
	if err != nil || res.Deleted != 0 || len(res.Rotated) != 0 {
		t.Fatalf("fresh store: %+v %v", res, err)
	}

	c.Add(2 * time.Hour) // the tokens expired
	res, err = e.Server.Server.JanitorPass(ctx)
	if err != nil || res.Deleted != 5 || len(res.Rotated) != 0 {
		t.Fatalf("after expiry: %+v %v", res, err)
	}
	if m := e.introspect(t, tokens[0]); m["active"] != false {
		t.Errorf("deleted token: %v", m)
	}
	r := e.getURL(t, e.AdminURL+"/metrics")
	if w := "gatehouse_janitor_deleted_rows_total 5"; !strings.Contains(string(r.body), w) {
		t.Errorf("metrics lack %q", w)
	}

	// RunJanitor returns when its context ends.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	done := make(chan struct{})
	go func() { e.Server.Server.RunJanitor(cctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunJanitor did not stop")
	}
}

func TestJanitorKeyRotation(t *testing.T) {
	c := newClock()
	// ES256 keys only: the ID token keys would rotate too.
	e := newEnv(t, servertestNow(c), servertest.WithoutOpenID(), servertest.WithServerOptions(func(o *server.Options) {
		o.KeyRotationPeriod = 24 * time.Hour
		o.KeyRetain = 2 * time.Hour
	}))
	ctx := context.Background()
	pass := func() server.JanitorResult {
		t.Helper()
		res, err := e.Server.Server.JanitorPass(ctx)
		if err != nil {
			t.Fatalf("janitor: %v", err)
		}
		return res
	}
	if res := pass(); len(res.Rotated) != 0 {
		t.Fatalf("fresh keys rotated: %+v", res)
	}
	c.Add(23 * time.Hour)
	if res := pass(); len(res.Rotated) != 0 {
		t.Fatalf("rotated before the period: %+v", res)
	}

	c.Add(time.Hour) // the key is due
	before := e.jwks(t)
	if res := pass(); !slices.Equal(res.Rotated, []string{"ES256"}) {
		t.Fatalf("not rotated: %+v", res)
	}
	after := e.jwks(t)
	if len(after.Keys) != 3 {
		t.Errorf("after rotation the JWKS has %d keys, want previous, current, next", len(after.Keys))
	}
	for _, k := range before.Keys {
		if len(after.Key(k.KeyID)) != 1 {
			t.Errorf("key %s was unpublished by the rotation", k.KeyID)
		}
	}
	r := e.getURL(t, e.AdminURL+"/metrics")
	if w := `gatehouse_key_rotations_total{algorithm="ES256"} 1`; !strings.Contains(string(r.body), w) {
		t.Errorf("metrics lack %q", w)
	}

	// The promoted key was created one rotation earlier; the next pass must not rotate again.
	if res := pass(); len(res.Rotated) != 0 {
		t.Fatalf("rotated again right after a rotation: %+v", res)
	}
	c.Add(3 * time.Hour) // the previous key is past KeyRetain
	if res := pass(); res.Deleted != 1 || len(res.Rotated) != 0 {
		t.Errorf("previous key not deleted: %+v", res)
	}
	c.Add(21 * time.Hour) // one period after the first rotation
	if res := pass(); !slices.Equal(res.Rotated, []string{"ES256"}) {
		t.Errorf("second rotation: %+v", res)
	}
	if res := pass(); len(res.Rotated) != 0 {
		t.Errorf("rotated twice: %+v", res)
	}
}

func TestJanitorBounded(t *testing.T) {
	c := newClock()
	e := newEnv(t, servertestNow(c), servertest.WithServerOptions(func(o *server.Options) {
		o.JanitorBatchSize = 2
		o.JanitorMaxPerRun = 3
	}))
	id, secret := e.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
		TokenFormat: storage.TokenFormatOpaque})
	for range 5 {
		e.token(t, id, secret)
	}
	c.Add(2 * time.Hour)
	for i, want := range []int{3, 2, 0} {
		res, err := e.Server.Server.JanitorPass(context.Background())
		if err != nil || res.Deleted != want {
			t.Errorf("pass %d: %+v %v, want %d deleted", i, res, err, want)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, servertest.WithoutOpenID())
	ctx := context.Background()
	oldTok := e.token(t, e.clientID, e.secret)
	oldKid, _ := e.verifyJWT(t, oldTok)
	published := e.jwks(t)

	promoted, err := e.Provider.Keys().Rotate(ctx, "ES256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(published.Key(promoted.ID)) != 1 {
		t.Error("the promoted key was not published before it signed")
	}
	newTok := e.token(t, e.clientID, e.secret)
	newKid, _ := e.verifyJWT(t, newTok)
	if newKid == oldKid || newKid != promoted.ID {
		t.Errorf("new token kid %s, old %s, promoted %s", newKid, oldKid, promoted.ID)
	}
	set := e.jwks(t)
	if len(set.Key(oldKid)) != 1 || len(set.Key(newKid)) != 1 || len(set.Keys) != 3 {
		t.Errorf("JWKS after rotation: %d keys", len(set.Keys))
	}
	e.verifyJWT(t, oldTok) // still verifies against the published JWKS
	for _, tok := range []string{oldTok, newTok} {
		if m := e.introspect(t, tok); m["active"] != true {
			t.Errorf("introspect after rotation: %v", m)
		}
	}
}

func TestServeShutdown(t *testing.T) {
	ts := servertest.Start(t)
	// Serve stops on cancel; servertest's cleanup checks it returns nil. Here: Serve also stops
	// when the context is already done.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Serve(ctx, ts.Server, ln, nil); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("listener still open")
	}
}

func TestClientIP(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, servertest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		servertest.WithServerOptions(func(o *server.Options) { o.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8"} }))
	remotes := func() []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err == nil && m["msg"] == "http request" {
				out = append(out, m["remote"].(string))
			}
		}
		return out
	}
	for _, xff := range []string{"", "203.0.113.9", "198.51.100.1, 203.0.113.9, 10.1.2.3", "garbage, 10.0.0.1"} {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/oauth2/jwks", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		e.do(t, req)
	}
	want := []string{"127.0.0.1", "203.0.113.9", "203.0.113.9", "10.0.0.1"}
	if got := remotes(); !slices.Equal(got, want) {
		t.Errorf("remote addresses %v, want %v", got, want)
	}
}

func TestNewValidation(t *testing.T) {
	ts := servertest.Start(t)
	deps := server.Deps{Provider: ts.Provider, Store: ts.Store}
	for name, tc := range map[string]struct {
		opts server.Options
		deps server.Deps
	}{
		"no provider":     {deps: server.Deps{Store: ts.Store}},
		"no store":        {deps: server.Deps{Provider: ts.Provider}},
		"issuer mismatch": {opts: server.Options{Issuer: "https://elsewhere.example"}, deps: deps},
		"bad proxy":       {opts: server.Options{TrustedProxies: []string{"not-an-ip"}}, deps: deps},
	} {
		if _, err := server.New(tc.opts, tc.deps); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A registry shared by two servers is fine.
	deps.Registry = ts.Registry
	if _, err := server.New(server.Options{Issuer: ts.URL}, deps); err != nil {
		t.Errorf("second server on the registry: %v", err)
	}
}
