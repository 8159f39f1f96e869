package main

import (
	"bufio"
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/config"
	"github.com/gatehouse-auth/gatehouse/storage/sqlstore"
	"github.com/gatehouse-auth/gatehouse/token"
)

// safety bounds the wait for the server; the tests never sleep, they wait for output.
const safety = 60 * time.Second

// running is a serve command started in-process.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the command returned, with its result in err
	err    error
	lines  chan string
	stderr *syncBuffer
}

// startServe runs `gatehouse serve args...` until stop is called.
func startServe(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{cancel: cancel, done: make(chan struct{}), lines: make(chan string, 1000), stderr: &syncBuffer{}}
	root := newRootCmdEnv(pw, r.stderr, nil)
	root.SetArgs(append([]string{"serve"}, args...))
	go func() {
		r.err = root.ExecuteContext(ctx)
		close(r.done)
		_ = pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(safety):
		}
	})
	return r
}

// waitFor returns the first output line matching re and its submatches.
func (r *running) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(safety)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				<-r.done
				t.Fatalf("serve stopped before printing %s: %v\nstderr:\n%s", re, r.err, r.stderr)
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("serve did not print %s; stderr:\n%s", re, r.stderr)
		}
	}
}

// stop cancels the command's context and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(safety):
		t.Fatal("serve did not stop")
		return nil
	}
}

var (
	curlRe  = regexp.MustCompile(`curl -s -u demo-machine:(\S+) -d grant_type=client_credentials (http://\S+)$`)
	adminRe = regexp.MustCompile(`Admin:\s+(http://\S+)`)
	demoRe  = regexp.MustCompile(`^Open (http://\S+/demo/) in a browser and sign in as demo / (\S+)$`)
)

func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}
	srv := startServe(t, args...)
	adminURL := srv.waitFor(t, adminRe)[1]
	m := srv.waitFor(t, curlRe)
	secret, tokenURL := m[1], m[2]
	if !token.CheckOpaque(secret, token.PrefixClientSecret) || strings.Contains(tokenURL, ":0/") {
		t.Fatalf("curl line: secret %q, token URL %q", secret, tokenURL)
	}
	d := srv.waitFor(t, demoRe)
	demoURL, demoPassword := d[1], d[2]
	if demoURL != strings.TrimSuffix(tokenURL, "/oauth2/token")+"/demo/" || len(demoPassword) < 8 {
		t.Fatalf("demo line: URL %q, password %q", demoURL, demoPassword)
	}

	ctx := context.Background()
	cc := clientcredentials.Config{ClientID: "demo-machine", ClientSecret: secret, TokenURL: tokenURL}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials token: %v\nstderr:\n%s", err, srv.stderr)
	}
	if tok.AccessToken == "" || tok.Extra("scope") != "demo:read" || !token.LooksLikeJWT(tok.AccessToken) {
		t.Errorf("token = %+v, scope %v", tok, tok.Extra("scope"))
	}
	wrong := clientcredentials.Config{ClientID: "demo-machine", ClientSecret: secret + "x", TokenURL: tokenURL}
	if _, err := wrong.Token(ctx); err == nil {
		t.Errorf("a wrong secret got a token")
	}
	resp, err := http.Get(adminURL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin /healthz = %d", resp.StatusCode)
	}

	// The demo web application signs the demo user in through this server.
	issuer := strings.TrimSuffix(demoURL, "/demo/")
	b := newDemoBrowser(t)
	start := b.get(demoURL)
	if start.status != http.StatusFound || !strings.HasPrefix(start.location(t), issuer+"/oauth2/authorize?") {
		t.Fatalf("GET /demo/ = %d to %q\nstderr:\n%s", start.status, start.header.Get("Location"), srv.stderr)
	}
	page := b.signIn(t, issuer, start, "demo", demoPassword)
	if !strings.Contains(page, "Signed in") || !strings.Contains(page, "demo:read") || !strings.Contains(page, "ID token") {
		t.Errorf("demo callback page:\n%s\nstderr:\n%s", page, srv.stderr)
	}

	if err := srv.stop(t); err != nil {
		t.Fatalf("serve returned %v\nstderr:\n%s", err, srv.stderr)
	}
	logs := srv.stderr.String()
	if strings.Contains(logs, secret) || strings.Contains(logs, demoPassword) {
		t.Errorf("the logs contain the demo secret or password")
	}
	if !strings.Contains(logs, "WARNING") || !strings.Contains(logs, devKeyFile) {
		t.Errorf("no warning about the generated development key:\n%s", logs)
	}
	for _, name := range []string{devKeyFile, demoSecretFile, demoWebSecretFile, demoPasswordFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
		}
	}

	// A second start reuses the key and the demo secret: the printed command still works.
	srv = startServe(t, args...)
	m = srv.waitFor(t, curlRe)
	if m[1] != secret {
		t.Errorf("second start printed another secret")
	}
	if d := srv.waitFor(t, demoRe); d[2] != demoPassword {
		t.Errorf("second start printed another demo password")
	}
	cc.TokenURL = m[2]
	if _, err := cc.Token(ctx); err != nil {
		t.Errorf("token after restart: %v\nstderr:\n%s", err, srv.stderr)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("second serve returned %v", err)
	}
}

// TestServeDeclaredUsers: the users of the configuration file are applied at start, and the
// legacy password grant, enabled in the server, is allowed only to the clients that name it.
func TestServeDeclaredUsers(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "gatehouse.yaml")
	err := os.WriteFile(conf, []byte(`
scopes:
  - name: files:read
clients:
  - id: legacy-cli
    secret: "legacy client secret!"
    grant_types: [password, refresh_token]
    scopes: [files:read]
  - id: modern
    secret: "modern client secret!"
    grant_types: [client_credentials]
    scopes: [files:read]
users:
  - username: Erin
    password: "erins password"
    email: erin@example.com
    name: Erin Example
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", conf, "--data-dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off"}
	metaRe := regexp.MustCompile(`Metadata:\s+(http://\S+)/\.well-known/`)
	srv := startServe(t, args...)
	base := srv.waitFor(t, metaRe)[1]

	ctx := context.Background()
	legacy := oauth2.Config{ClientID: "legacy-cli", ClientSecret: "legacy client secret!",
		Endpoint: oauth2.Endpoint{TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}, Scopes: []string{"files:read"}}
	tok, err := legacy.PasswordCredentialsToken(ctx, "erin", "erins password")
	if err != nil {
		t.Fatalf("password grant: %v\nstderr:\n%s", err, srv.stderr)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("scope") != "files:read" {
		t.Errorf("password grant token = %+v", tok)
	}
	if _, err := legacy.PasswordCredentialsToken(ctx, "erin", "wrong password"); err == nil {
		t.Errorf("a wrong password got a token")
	}
	modern := legacy
	modern.ClientID, modern.ClientSecret = "modern", "modern client secret!"
	_, err = modern.PasswordCredentialsToken(ctx, "erin", "erins password")
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); !ok || re.ErrorCode != "unauthorized_client" {
		t.Errorf("password grant of a client without it = %v, want unauthorized_client", err)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve returned %v\nstderr:\n%s", err, srv.stderr)
	}
	if logs := srv.stderr.String(); !strings.Contains(logs, `"users_created":["erin"]`) || strings.Contains(logs, "erins password") {
		t.Errorf("start-up logs:\n%s", logs)
	}

	st, err := sqlstore.Open(ctx, filepath.Join(dir, "gatehouse.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, "erin")
	_ = st.Close()
	if err != nil || !u.Declared || u.Name != "Erin Example" || u.Email != "erin@example.com" {
		t.Fatalf("declared user = %+v, %v", u, err)
	}

	// A second start finds nothing to change.
	srv = startServe(t, args...)
	srv.waitFor(t, metaRe)
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	if logs := srv.stderr.String(); strings.Contains(logs, "applied the declared") {
		t.Errorf("the second start changed the declarations:\n%s", logs)
	}
}

func TestSealingKey(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	pg, err := config.Load("", []string{"GATEHOUSE_DATABASE=postgres://gatehouse@127.0.0.1/gatehouse", "GATEHOUSE_DATA_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL means several nodes: they must share a configured key.
	if _, err := sealingKey(pg, log, keyGenerate); err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("sealingKey(postgres, no key) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, devKeyFile)); err == nil {
		t.Errorf("a development key was written for PostgreSQL")
	}
	if _, err := sealingKey(pg, log, keyExisting); err == nil {
		t.Errorf("sealingKey(keyExisting) invented a key")
	}
	// --demo allows the development key anywhere, and later calls read the same key.
	k1, err := sealingKey(pg, log, keyDemo)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := sealingKey(pg, log, keyExisting)
	if err != nil || string(k1) != string(k2) || len(k1) != 32 {
		t.Errorf("second sealingKey = %x, %v; want %x", k2, err, k1)
	}
	// A configured key wins over the file.
	pg.Keys.EncryptionKey = strings.Repeat("01", 32)
	k3, err := sealingKey(pg, log, keyGenerate)
	if err != nil || k3[0] != 1 {
		t.Errorf("configured key = %x, %v", k3, err)
	}
}

func TestKeyRetain(t *testing.T) {
	cfg, err := config.Load("", []string{"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME=10m", "GATEHOUSE_TOKENS_ID_TOKEN_LIFETIME=2h"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		algs []string
		want time.Duration
	}{
		{[]string{"ES256"}, 15 * time.Minute},            // access tokens
		{[]string{"RS256"}, 2*time.Hour + 5*time.Minute}, // ID tokens
		{[]string{"EdDSA"}, 15 * time.Minute},            // unused: the access token lifetime
		{[]string{"ES256", "RS256"}, 2*time.Hour + 5*time.Minute},
	}
	for _, tt := range tests {
		if got := keyRetain(cfg, tt.algs...); got != tt.want {
			t.Errorf("keyRetain(%v) = %v, want %v", tt.algs, got, tt.want)
		}
	}
	if got := signingAlgorithms(cfg); strings.Join(got, " ") != "ES256 RS256" {
		t.Errorf("signingAlgorithms = %v", got)
	}
}

// demoBrowser is a plain HTTP client with a cookie jar that does not follow redirects.
type demoBrowser struct {
	t *testing.T
	c *http.Client
}

func newDemoBrowser(t *testing.T) *demoBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &demoBrowser{t: t, c: &http.Client{Jar: jar, Timeout: safety,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type demoResponse struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (r demoResponse) location(t *testing.T) string {
	t.Helper()
	u, err := r.url.Parse(r.header.Get("Location"))
	if err != nil || r.header.Get("Location") == "" {
		t.Fatalf("%s: status %d, Location %q: %s", r.url, r.status, r.header.Get("Location"), r.body)
	}
	return u.String()
}

func (b *demoBrowser) do(method, u string, form url.Values) demoResponse {
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
	return demoResponse{status: resp.StatusCode, header: resp.Header, body: string(data), url: req.URL}
}

func (b *demoBrowser) get(u string) demoResponse { b.t.Helper(); return b.do(http.MethodGet, u, nil) }

// follow follows redirects from r until a page is shown.
func (b *demoBrowser) follow(r demoResponse) demoResponse {
	b.t.Helper()
	for i := 0; r.status == http.StatusFound || r.status == http.StatusSeeOther; i++ {
		if i > 10 {
			b.t.Fatalf("too many redirects, last to %s", r.location(b.t))
		}
		r = b.get(r.location(b.t))
	}
	return r
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// submit posts the hidden fields of page, with extra, to the page's URL and follows the
// redirects.
func (b *demoBrowser) submit(page demoResponse, extra url.Values) demoResponse {
	b.t.Helper()
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(page.body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for k, v := range extra {
		form[k] = v
	}
	return b.follow(b.do(http.MethodPost, page.url.String(), form))
}

// signIn follows start through the login and consent pages and returns the demo's callback
// page.
func (b *demoBrowser) signIn(t *testing.T, issuer string, start demoResponse, username, password string) string {
	t.Helper()
	login := b.follow(start)
	if login.status != http.StatusOK || login.url.Path != "/login" {
		t.Fatalf("expected the login page, got %d at %s:\n%s", login.status, login.url, login.body)
	}
	consent := b.submit(login, url.Values{"username": {username}, "password": {password}})
	if consent.status != http.StatusOK || consent.url.Path != "/consent" {
		t.Fatalf("expected the consent page, got %d at %s:\n%s", consent.status, consent.url, consent.body)
	}
	page := b.submit(consent, url.Values{"decision": {"allow"}})
	if page.status != http.StatusOK || page.url.String() == "" || !strings.HasPrefix(page.url.String(), issuer+"/demo/callback?") {
		t.Fatalf("expected the demo callback, got %d at %s:\n%s", page.status, page.url, page.body)
	}
	return html.UnescapeString(page.body)
}
