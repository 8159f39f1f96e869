package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/oauth"
)

// chromiumPath is where CI installs Chromium (Debian's chromium package).
const chromiumPath = "/usr/bin/chromium"

// browser drives one headless Chromium for a test.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

// startBrowser starts Chromium, or skips the test when it is not installed (it fails under
// CI=true, where it must be).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is not installed at %s: %v", chromiumPath, err)
		}
		t.Skipf("Chromium is not installed at %s (apt-get install -y chromium); skipping the browser tests", chromiumPath)
	}
	shots := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,PasswordLeakDetection,AutofillServerCommunication"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 900),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Do binds the browser's life to its context, so it gets ctx itself (a
	// timeout here would close the browser when it ends).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, shots: shots}
}

// stepTimeout bounds each browser step, so a page that never comes fails the test quickly.
const stepTimeout = 20 * time.Second

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) location() string { b.t.Helper(); return run(b, "location", chromedp.Location()) }

func (b *browser) text() string {
	b.t.Helper()
	return run(b, "page text", chromedp.Text(chromedp.CSS("body")))
}

// shot saves a screenshot of the current page as name.png, checks it is a PNG and that the
// page rendered (no template error), and returns the page's text.
func (b *browser) shot(name string) string {
	b.t.Helper()
	text := b.text()
	if strings.Contains(text, "template:") || strings.TrimSpace(text) == "" {
		b.t.Errorf("page %s did not render: %q", name, text)
	}
	png := run(b, "screenshot "+name, chromedp.CaptureScreenshot())
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Errorf("screenshot %s is not a PNG (%d bytes)", name, len(png))
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		b.t.Errorf("screenshot %s: %v", path, err)
	}
	return text
}

func randomString(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// callbackParams checks that the browser is on the callback server and returns the
// authorization response in the query.
func (b *browser) callbackParams(f *flowEnv) url.Values {
	b.t.Helper()
	b.do("wait for the callback", chromedp.WaitVisible(chromedp.ID("callback")))
	loc := b.location()
	if !strings.HasPrefix(loc, f.cb.URL+"/") {
		b.t.Fatalf("browser at %s, want the callback", loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query()
}

// TestBrowser runs the browser flows end to end in headless Chromium: sign-in, consent, the
// code exchange with x/oauth2 and PKCE, the ID token and userinfo through go-oidc, refresh
// rotation and reuse detection, remembered consent, a trusted client, form_post, the account
// page, the error page and RP-initiated logout. Every page is saved as a screenshot.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	f := newFlowEnv(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, f.URL)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: webClient})

	// 1. Sign in and allow.
	conf := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader)
	conf.Endpoint = provider.Endpoint()
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	verifier, nonce, state := oauth2.GenerateVerifier(), randomString(t), randomString(t)
	b.do("open the authorization URL", chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))),
		chromedp.WaitVisible(chromedp.ID("username")))
	if text := b.shot("login"); !strings.Contains(text, "Web App") {
		t.Errorf("login page does not name the client: %q", text)
	}
	b.do("sign in", chromedp.SendKeys(chromedp.ID("username"), testUser), chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	text := b.shot("consent")
	for _, want := range []string{"Web App", "See your email address", "Keep access while you are away", testUser} {
		if !strings.Contains(text, want) {
			t.Errorf("consent page lacks %q: %q", want, text)
		}
	}
	b.do("allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
	q := b.callbackParams(f)
	if q.Get("state") != state || q.Get("iss") != f.URL || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}

	// 2. Exchange the code; verify the ID token and call userinfo with go-oidc.
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := idVerifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != f.user.ID {
		t.Errorf("ID token nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Email    string `json:"email"`
		Username string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != testUser+"@example.com" || claims.Username != testUser {
		t.Errorf("ID token claims %+v %v", claims, err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != f.user.ID || info.Email != testUser+"@example.com" || !info.EmailVerified {
		t.Errorf("userinfo %+v", info)
	}

	// 3. Refresh: the refresh token rotates; presenting the old one again revokes the grant.
	old := tok.RefreshToken
	past := time.Now().Add(-time.Hour)
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: past}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == old || refreshed.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not rotate: %+v", refreshed)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: past}).Token()
	wantRetrieveError(t, err, oauth.CodeInvalidGrant)
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken, Expiry: past}).Token()
	wantRetrieveError(t, err, oauth.CodeInvalidGrant)
	if m := f.introspect(t, refreshed.AccessToken); m["active"] != false {
		t.Errorf("access token still active after reuse: %v", m)
	}

	// 4. Again: signed in, consent remembered, so straight back to the client (client
	// authentication in the body this time).
	conf2 := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInParams)
	verifier2 := oauth2.GenerateVerifier()
	b.do("authorize again", chromedp.Navigate(conf2.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier2), oidc.Nonce("n2"))))
	q = b.callbackParams(f)
	if q.Get("state") != "again" {
		t.Errorf("second authorization %v", q)
	}
	if _, err := conf2.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier2)); err != nil {
		t.Errorf("second exchange: %v", err)
	}

	// 5. A trusted client is never asked about.
	trusted := f.oauth2Config(trustedApp, f.trustedSecret, oauth2.AuthStyleInHeader)
	verifier3 := oauth2.GenerateVerifier()
	b.do("authorize the trusted client", chromedp.Navigate(trusted.AuthCodeURL("trusted", oauth2.S256ChallengeOption(verifier3))))
	q = b.callbackParams(f)
	if _, err := trusted.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier3)); err != nil {
		t.Errorf("trusted exchange: %v", err)
	}

	// 6. form_post: the page submits itself to the client (its script must pass the CSP)...
	formPostURL := trusted.AuthCodeURL("fp", oauth2.S256ChallengeOption(verifier3), oauth2.SetAuthURLParam("response_mode", "form_post"))
	b.do("form_post", chromedp.Navigate(formPostURL), chromedp.WaitVisible(chromedp.ID("callback")))
	if hit := f.cb.last(t); hit.method != "POST" || hit.params.Get("state") != "fp" || hit.params.Get("code") == "" ||
		hit.params.Get("iss") != f.URL {
		t.Errorf("form_post reached the client as %+v", hit)
	}
	// ...and without JavaScript the user presses Continue.
	b.do("disable JavaScript", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.do("form_post without JavaScript", chromedp.Navigate(formPostURL), chromedp.WaitVisible(chromedp.CSS(`form[data-auto-submit] button`)))
	b.shot("form_post")
	b.do("continue", chromedp.Click(chromedp.CSS(`form[data-auto-submit] button`)), chromedp.WaitVisible(chromedp.ID("callback")))
	if hit := f.cb.last(t); hit.method != "POST" || hit.params.Get("state") != "fp" {
		t.Errorf("form_post without JavaScript reached the client as %+v", hit)
	}
	b.do("enable JavaScript", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		return err
	}))

	// 7. The account page lists the consent; revoking it works.
	b.do("account", chromedp.Navigate(f.URL+"/account"), chromedp.WaitVisible(chromedp.CSS("ul.consents")))
	if text := b.shot("account"); !strings.Contains(text, "Web App") || !strings.Contains(text, testUser) {
		t.Errorf("account page: %q", text)
	}
	b.do("revoke", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke access for Web App"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if text := b.text(); !strings.Contains(text, "Access for Web App was revoked.") {
		t.Errorf("after revoking: %q", text)
	}

	// 8. A redirect URI that is not registered: the error page, never a redirect.
	evil := f.oauth2Config(webClient, "", oauth2.AuthStyleInParams)
	evil.RedirectURL = "https://evil.example/cb"
	b.do("open redirect", chromedp.Navigate(evil.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
	if loc := b.location(); !strings.HasPrefix(loc, f.URL+"/oauth2/authorize?") {
		t.Errorf("browser left for %s", loc)
	}
	if text := b.shot("error"); !strings.Contains(text, "redirect_uri") || !strings.Contains(text, "invalid_request") {
		t.Errorf("error page: %q", text)
	}

	// 9. RP-initiated logout back to the client's registered page, then the plain sign-out.
	logoutURL := f.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {rawID},
		"post_logout_redirect_uri": {f.cb.URL + "/logged-out"}, "state": {"bye"}}.Encode()
	b.do("logout", chromedp.Navigate(logoutURL), chromedp.WaitVisible(chromedp.CSS(`button[value="logout"]`)))
	if text := b.shot("logout"); !strings.Contains(text, "Web App") {
		t.Errorf("logout page: %q", text)
	}
	b.do("confirm logout", chromedp.Click(chromedp.CSS(`button[value="logout"]`)))
	b.callbackParams(f)
	if loc := b.location(); loc != f.cb.URL+"/logged-out?state=bye" {
		t.Errorf("after logout at %s", loc)
	}
	b.do("account after logout", chromedp.Navigate(f.URL+"/account"), chromedp.WaitVisible(chromedp.ID("username")))
	if loc := b.location(); loc != f.URL+"/login" {
		t.Errorf("account after logout: %s", loc)
	}
	b.do("plain logout", chromedp.Navigate(f.URL+"/logout"), chromedp.Click(chromedp.CSS(`button[value="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)))
	if text := b.shot("signed_out"); !strings.Contains(text, "You are signed out") {
		t.Errorf("signed-out page: %q", text)
	}
}
