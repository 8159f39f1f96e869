package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
)

// lockedBuffer collects run's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a server with a user, a public device client and a resource server client that
// may introspect.
type env struct {
	*servertest.Server
	user     storage.User
	rsID     string
	rsSecret string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// A one-second polling interval keeps the test short.
	ts := servertest.Start(t, servertest.WithProviderOptions(func(o *oauth.Options) { o.DevicePollInterval = time.Second }))
	ts.CreateScope(t, storage.Scope{Name: "demo:read", Description: "Read the demo data"})
	ts.CreateClient(t, storage.Client{ID: "demo-device", Name: "Device Login Example", Public: true,
		GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "demo:read", "offline_access"}})
	e := &env{Server: ts, user: ts.CreateUser(t, testUser, testPassword)}
	e.rsID, e.rsSecret = ts.CreateClient(t, storage.Client{ID: "api"})
	return e
}

func (e *env) config() config {
	return config{Issuer: e.URL, ClientID: "demo-device", Scopes: []string{"openid", "profile", "demo:read", "offline_access"},
		HTTPClient: e.Client}
}

// started runs run in the background and returns its output, the user code and the
// verification_uri_complete it printed, and its result.
func (e *env) started(t *testing.T, ctx context.Context) (*lockedBuffer, string, string, <-chan error) {
	t.Helper()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, e.config(), out) }()
	open := regexp.MustCompile(`Open (\S+) and enter (\S+)\n\s+\(or open (\S+)\)`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := open.FindStringSubmatch(out.String()); m != nil {
			if m[1] != e.URL+"/device" {
				t.Errorf("verification URI %s", m[1])
			}
			return out, m[2], m[3], done
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v; output %q", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("run printed no code: %q", out.String())
	return nil, "", "", nil
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("run did not return")
		return nil
	}
}

// accessToken returns the access token run printed, which must introspect active.
func (e *env) checkToken(t *testing.T, out string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^access_token: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no access token in %q", out)
	}
	for _, want := range []string{"Signed in.", "token_type: Bearer", "scope: openid profile demo:read offline_access",
		"expiry: ", "refresh_token: ghr_", "id_token: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %q", want, out)
		}
	}
	in, err := e.Provider.Introspect(context.Background(), oauth.TokenHandleRequest{Token: m[1],
		Client: oauth.ClientCredentials{ID: e.rsID, Secret: e.rsSecret, Method: oauth.AuthMethodBasic}})
	if err != nil || !in.Active || in.Sub != e.user.ID || in.ClientID != "demo-device" {
		t.Fatalf("introspection %+v, %v", in, err)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil || cfg.Issuer != "http://127.0.0.1:8080" || cfg.ClientID != "demo-device" ||
		strings.Join(cfg.Scopes, " ") != "openid profile demo:read offline_access" {
		t.Fatalf("defaults %+v, %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-issuer", "https://auth.example.test/", "-client-id", "tv", "-scope", "a  b"})
	if err != nil || cfg.Issuer != "https://auth.example.test" || cfg.ClientID != "tv" || strings.Join(cfg.Scopes, ",") != "a,b" {
		t.Fatalf("flags %+v, %v", cfg, err)
	}
	for _, args := range [][]string{{"extra"}, {"-client-id", ""}, {"-nope"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestRunApproved(t *testing.T) {
	e := newEnv(t)
	out, code, complete, done := e.started(t, context.Background())
	if complete != e.URL+"/device?user_code="+code {
		t.Errorf("verification_uri_complete %s", complete)
	}
	if err := e.Provider.DecideDevice(context.Background(), code, true, e.user.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("run: %v; output %q", err, out.String())
	}
	e.checkToken(t, out.String())
}

func TestRunDenied(t *testing.T) {
	e := newEnv(t)
	_, code, _, done := e.started(t, context.Background())
	if err := e.Provider.DecideDevice(context.Background(), code, false, e.user.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("run: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.ClientID = "nope"
	if err := run(context.Background(), cfg, &lockedBuffer{}); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("unknown client: %v", err)
	}
	// Cancelled while waiting.
	ctx, cancel := context.WithCancel(context.Background())
	_, _, _, done := e.started(t, ctx)
	cancel()
	if err := wait(t, done); err == nil {
		t.Error("run ignored the cancelled context")
	}
}

// chromiumPath is where CI installs Chromium (Debian's chromium package).
const chromiumPath = "/usr/bin/chromium"

// TestBrowser runs the example against a real server while headless Chromium plays the user:
// it opens the verification_uri_complete the example printed, signs in, checks the code and
// approves; the example must then print an access token that introspects active. Each page
// is saved as a screenshot (in $GATEHOUSE_SCREENSHOTS when set).
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is not installed at %s: %v", chromiumPath, err)
		}
		t.Skipf("Chromium is not installed at %s (apt-get install -y chromium); skipping the browser test", chromiumPath)
	}
	shots := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,PasswordLeakDetection,AutofillServerCommunication"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
	)
	bctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("page text: %v", err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "template:") || strings.TrimSpace(text) == "" {
			t.Errorf("page %s did not render: %q", name, text)
		}
		return text
	}

	e := newEnv(t)
	out, code, complete, done := e.started(t, context.Background())

	// The printed link leads through the login page back to the code, prefilled.
	step("open the verification URI", chromedp.Navigate(complete), chromedp.WaitVisible(chromedp.ID("username")))
	shot("device_login")
	step("sign in", chromedp.SendKeys(chromedp.ID("username"), testUser), chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("user_code")))
	ctx, cancelStep := context.WithTimeout(bctx, 20*time.Second)
	prefilled, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("user_code")))
	cancelStep()
	if err != nil || prefilled != code {
		t.Fatalf("code field %q (%v), want %s", prefilled, err, code)
	}
	if text := shot("device_code"); !strings.Contains(text, "Enter the code shown on your device") {
		t.Errorf("device page: %q", text)
	}
	step("continue", chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)))
	text := shot("device_confirm")
	for _, want := range []string{"Device Login Example", code, "Read the demo data", "Keep access while you are away", testUser} {
		if !strings.Contains(text, want) {
			t.Errorf("confirmation page lacks %q: %q", want, text)
		}
	}
	step("approve", chromedp.Click(chromedp.CSS(`button[value="approve"]`)), chromedp.WaitVisible(chromedp.ID("device-result")))
	if text := shot("device_done"); !strings.Contains(text, "Return to your device") {
		t.Errorf("done page: %q", text)
	}

	if err := wait(t, done); err != nil {
		t.Fatalf("run: %v; output %q", err, out.String())
	}
	e.checkToken(t, out.String())
}
