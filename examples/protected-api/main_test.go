package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// The example API behind a real Gatehouse: a machine client gets a token with x/oauth2's
// client credentials flow and calls the API with it.
func TestProtectedAPI(t *testing.T) {
	ts := servertest.Start(t)
	ts.CreateScope(t, storage.Scope{Name: "demo:read", Description: "Read the demo"})
	ts.CreateScope(t, storage.Scope{Name: "invoices:read", Description: "Read invoices"})
	machineID, machineSecret := ts.CreateClient(t, storage.Client{ID: "demo-machine", Scopes: []string{"demo:read", "invoices:read"}})
	opaqueID, opaqueSecret := ts.CreateClient(t, storage.Client{ID: "opaque-machine", Scopes: []string{"invoices:read"},
		TokenFormat: storage.TokenFormatOpaque})
	apiID, apiSecret := ts.CreateClient(t, storage.Client{ID: "protected-api"})

	ctx := context.Background()
	o, err := parseFlags([]string{"-issuer", ts.URL}, func(name string) string {
		return map[string]string{"INTROSPECTION_CLIENT_ID": apiID, "INTROSPECTION_CLIENT_SECRET": apiSecret}[name]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearer.New(ctx, bearer.Config{Issuer: o.issuer, Audience: o.audience,
		IntrospectionClientID: o.clientID, IntrospectionClientSecret: o.clientSecret})
	if err != nil {
		t.Fatalf("bearer.New: %v", err)
	}
	api := httptest.NewServer(newHandler(v))
	t.Cleanup(api.Close)

	client := func(id, secret string, scopes ...string) *http.Client {
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: ts.URL + server.PathToken,
			Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
		return cc.Client(ctx)
	}
	demo := client(machineID, machineSecret, "demo:read")
	reader := client(machineID, machineSecret, "invoices:read")
	opaque := client(opaqueID, opaqueSecret, "invoices:read")

	t.Run("hello with any token", func(t *testing.T) {
		status, _, body := call(t, demo, api.URL+"/hello")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		var got identity
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		if got.Subject != machineID || !slices.Equal(got.Scopes, []string{"demo:read"}) {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("personal access token", func(t *testing.T) {
		// What a user makes on /account (server/pat_e2e_test.go drives that page); here
		// through the same Provider call, to show this very handler accepts it.
		user := ts.CreateUser(t, "alice", "alice-password-1")
		pat, _, err := ts.Provider.CreatePersonalToken(ctx, user.ID, "invoices script", []string{"invoices:read"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		bearerClient := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: pat})}}
		status, _, body := call(t, bearerClient, api.URL+"/invoices")
		if status != http.StatusOK || !strings.Contains(body, user.ID) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	t.Run("invoices without the scope", func(t *testing.T) {
		status, challenge, body := call(t, demo, api.URL+"/invoices")
		if status != http.StatusForbidden || !strings.Contains(challenge, `error="insufficient_scope"`) ||
			!strings.Contains(challenge, `scope="invoices:read"`) {
			t.Fatalf("status %d, WWW-Authenticate %q, body %s", status, challenge, body)
		}
	})
	t.Run("invoices with the scope", func(t *testing.T) {
		status, _, body := call(t, reader, api.URL+"/invoices")
		if status != http.StatusOK || !strings.Contains(body, "INV-001") || !strings.Contains(body, `"invoices:read"`) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	t.Run("opaque token through introspection", func(t *testing.T) {
		status, _, body := call(t, opaque, api.URL+"/invoices")
		if status != http.StatusOK || !strings.Contains(body, `"subject": "opaque-machine"`) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		status, challenge, _ := call(t, http.DefaultClient, api.URL+"/hello")
		if status != http.StatusUnauthorized || challenge != `Bearer realm="api"` {
			t.Fatalf("status %d, WWW-Authenticate %q", status, challenge)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		resp, err := http.Post(api.URL+"/hello", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func call(t *testing.T, c *http.Client, url string) (status int, challenge, body string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

func TestParseFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	o, err := parseFlags(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := options{issuer: "http://127.0.0.1:8080", audience: "http://127.0.0.1:8080", listen: "127.0.0.1:9090"}
	if o != want {
		t.Errorf("defaults = %+v, want %+v", o, want)
	}
	o, err = parseFlags([]string{"-issuer", "https://auth.example.com", "-audience", "https://api.example.com",
		"-listen", ":0", "-introspection-client-id", "flag-id"}, func(name string) string { return "env-" + name }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = options{issuer: "https://auth.example.com", audience: "https://api.example.com", listen: ":0",
		clientID: "flag-id", clientSecret: "env-INTROSPECTION_CLIENT_SECRET"}
	if o != want {
		t.Errorf("parsed = %+v, want %+v", o, want)
	}
	if _, err := parseFlags([]string{"extra"}, noEnv, io.Discard); err == nil {
		t.Error("an extra argument was accepted")
	}
}

// run fails fast, with the reason, when the issuer cannot be reached.
func TestRunUnreachableIssuer(t *testing.T) {
	err := run(context.Background(), []string{"-issuer", "http://127.0.0.1:1", "-listen", "127.0.0.1:0"},
		func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Fatalf("run = %v, want a discovery error", err)
	}
}

// run serves until its context ends, then shuts down cleanly.
func TestRun(t *testing.T) {
	ts := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-issuer", ts.URL, "-listen", "127.0.0.1:0"}, func(string) string { return "" }, pw)
		_ = pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var base string
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "url="); ok {
			base, _, _ = strings.Cut(after, " ")
			break
		}
	}
	if base == "" {
		t.Fatalf("run did not log its URL: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	status, challenge, _ := call(t, http.DefaultClient, base+"/hello")
	if status != http.StatusUnauthorized || challenge != `Bearer realm="api"` {
		t.Fatalf("status %d, WWW-Authenticate %q", status, challenge)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}
