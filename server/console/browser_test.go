package console_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// chromiumPath is where CI installs Chromium (Debian's chromium package).
const chromiumPath = "/usr/bin/chromium"

// chrome drives one headless Chromium for a test.
type chrome struct {
	t     *testing.T
	ctx   context.Context
	shots string
	base  string
}

// startChrome starts Chromium, or skips the test when it is not installed; under CI=true,
// where it must be, the test fails instead. Screenshots go to $GATEHOUSE_SCREENSHOTS, or to
// testdata-out in the test's temporary directory.
func startChrome(t *testing.T, base string) *chrome {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is not installed at %s: %v", chromiumPath, err)
		}
		t.Skipf("Chromium is not installed at %s (apt-get install -y chromium); skipping the console browser test", chromiumPath)
	}
	shots := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "testdata-out")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots are saved in %s", shots)
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
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Do binds the browser's life to ctx itself (a timeout here would close it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &chrome{t: t, ctx: ctx, shots: shots, base: base}
}

// stepTimeout bounds each browser step, generous for a loaded 2-core machine.
const stepTimeout = 30 * time.Second

func (c *chrome) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

func get[T any](c *chrome, what string, a chromedp.Action[T]) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// load runs steps that navigate (a link, a form) and waits for the new page; it returns the
// page's HTTP status.
func (c *chrome) load(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// open navigates to a console path.
func (c *chrome) open(path string) int64 {
	c.t.Helper()
	return c.load("open "+path, chromedp.Navigate(c.base+path))
}

func (c *chrome) text() string {
	c.t.Helper()
	return get(c, "page text", chromedp.Text(chromedp.CSS("body")))
}

func (c *chrome) path() string {
	c.t.Helper()
	u, err := url.Parse(get(c, "location", chromedp.Location()))
	if err != nil {
		c.t.Fatal(err)
	}
	return u.RequestURI()
}

// exists reports whether an element matches the CSS selector now.
func (c *chrome) exists(selector string) bool {
	c.t.Helper()
	return get(c, "query "+selector, chromedp.Evaluate[bool](`document.querySelector(`+jsString(selector)+`) !== null`))
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// shot checks the page rendered (a title and a heading, no template error), saves a
// screenshot as name.png, and returns the page's text.
func (c *chrome) shot(name string) string {
	c.t.Helper()
	text := c.text()
	title := get(c, "title", chromedp.Title())
	if strings.Contains(text, "template:") || strings.Contains(text, "ZgotmplZ") || !strings.HasSuffix(title, "· Gatehouse admin") ||
		!c.exists("main h1") {
		c.t.Errorf("page %s did not render (title %q): %q", name, title, text)
	}
	png := get(c, "screenshot "+name, chromedp.FullScreenshot(100))
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		c.t.Errorf("screenshot %s is not a PNG (%d bytes)", name, len(png))
	}
	if err := os.WriteFile(filepath.Join(c.shots, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return text
}

func (c *chrome) wantText(what string, want ...string) string {
	c.t.Helper()
	text := c.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			c.t.Errorf("%s: the page lacks %q:\n%s", what, w, text)
		}
	}
	return text
}

// TestBrowser drives the console in headless Chromium against the real server with a SQLite
// file: sign in, create a client and see its secret once, edit it through a validation
// error, revoke a token, rotate a key, manage a scope and a user, browse the audit trail,
// use a form without JavaScript, sign out. Every console page is saved as a screenshot.
func TestBrowser(t *testing.T) {
	e := newEnv(t)
	c := startChrome(t, e.AdminURL)
	ctx := context.Background()
	if _, err := e.adm.CreateScope(ctx, admin.ScopeInput{Name: "reports:read", Description: "Read reports"}); err != nil {
		t.Fatal(err)
	}

	// 1. Sign in (the console sends the browser to the sign-in page, then back).
	c.open("/admin/clients")
	if p := c.path(); !strings.HasPrefix(p, "/admin/login?next=") {
		t.Fatalf("not sent to sign in: %s", p)
	}
	c.shot("login")
	c.do("wrong password", chromedp.SendKeys(chromedp.ID("username"), adminName), chromedp.SendKeys(chromedp.ID("password"), "nope nope"))
	if st := c.load("submit", chromedp.Click(chromedp.CSS(`button[type="submit"]`))); st != 401 {
		t.Errorf("wrong password: %d", st)
	}
	c.shot("login_failed")
	c.wantText("wrong password", "Sign-in failed")
	c.do("sign in", chromedp.SetValue(chromedp.ID("username"), adminName), chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	c.load("submit", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if p := c.path(); p != "/admin/clients" {
		t.Fatalf("after sign-in at %s", p)
	}
	c.shot("clients_empty")
	c.open("/admin/")
	c.shot("dashboard")

	// 2. Create a confidential client with opaque tokens; its secret is shown once.
	c.open("/admin/clients")
	c.load("new client", chromedp.Click(chromedp.ID("new-client")))
	c.shot("client_new")
	c.do("fill the client form",
		chromedp.SendKeys(chromedp.ID("id"), "reports"),
		chromedp.SendKeys(chromedp.ID("name"), "Reports"),
		chromedp.Click(chromedp.CSS(`input[name="scopes"][value="reports:read"]`)),
		chromedp.SetValue(chromedp.ID("token_format"), "opaque"))
	if st := c.load("create", chromedp.Click(chromedp.ID("save"))); st != 200 {
		t.Fatalf("create: %d", st)
	}
	if p := c.path(); p != "/admin/clients/view?id=reports" {
		t.Errorf("after create at %s", p)
	}
	c.wantText("created", "Client reports was created.", "shown only this once")
	secret := get(c, "secret", chromedp.Value(chromedp.ID("secret-value")))
	if len(secret) < 32 {
		t.Fatalf("secret %q", secret)
	}
	if !get(c, "copy button", chromedp.Evaluate[bool](`!document.querySelector("button[data-copy]").hidden`)) {
		t.Error("the copy button is hidden with JavaScript on")
	}
	c.shot("client_created")
	c.load("reload", chromedp.Reload())
	if c.exists("#secret-value") || strings.Contains(c.text(), secret) {
		t.Error("the secret is shown again after a reload")
	}
	c.shot("client")

	// 3. Edit: a redirect URI that is refused, with the message next to the field; fixed.
	c.do("bad edit",
		chromedp.Click(chromedp.CSS(`input[name="grant_types"][value="authorization_code"]`)),
		chromedp.Click(chromedp.CSS(`input[name="grant_types"][value="refresh_token"]`)),
		chromedp.SetValue(chromedp.ID("redirect_uris"), "https://reports.example/cb\nhttp://reports.example/cb"))
	if st := c.load("save", chromedp.Click(chromedp.ID("save"))); st != 422 {
		t.Errorf("invalid edit: %d", st)
	}
	msg := get(c, "field error", chromedp.Text(chromedp.ID("err-redirect_uris")))
	if !strings.Contains(msg, "http://reports.example/cb") || !strings.Contains(msg, "loopback") {
		t.Errorf("redirect_uris error %q", msg)
	}
	// The message is inside the redirect URIs' field block, right after the textarea.
	if !get(c, "error placement", chromedp.Evaluate[bool](
		`document.getElementById("redirect_uris").nextElementSibling === document.getElementById("err-redirect_uris")`)) {
		t.Error("the error is not next to the redirect URIs")
	}
	if v := get(c, "invalid", chromedp.Evaluate[string](`document.getElementById("redirect_uris").getAttribute("aria-invalid")`)); v != "true" {
		t.Errorf("aria-invalid %q", v)
	}
	c.shot("client_edit_error")
	c.do("fix", chromedp.SetValue(chromedp.ID("redirect_uris"), "https://reports.example/cb\nhttp://127.0.0.1:9000/cb"))
	c.load("save", chromedp.Click(chromedp.ID("save")))
	c.wantText("saved", "Client reports was saved.")
	cl, err := e.adm.GetClient(ctx, "reports")
	if err != nil || len(cl.RedirectURIs) != 2 || len(cl.GrantTypes) != 3 || cl.TokenFormat != storage.TokenFormatOpaque {
		t.Errorf("stored %+v %v", cl, err)
	}
	c.shot("client_saved")

	// 4. Revoke a token: get one at the token endpoint with the secret from the page.
	tok := tokenFor(t, e, "reports", secret, "reports:read")
	if !introspectActive(t, e, "reports", secret, tok) {
		t.Fatal("the new token is not active")
	}
	c.load("tokens", chromedp.Click(chromedp.ID("client-tokens")))
	c.shot("client_tokens")
	c.load("revoke", chromedp.Click(chromedp.CSS(`#tokens button[aria-label^="Revoke token"]`)))
	c.wantText("revoked", "The token was revoked.", "This client has no active tokens.")
	if introspectActive(t, e, "reports", secret, tok) {
		t.Error("the revoked token is still active")
	}
	c.shot("client_tokens_revoked")

	// 5. Rotate a signing key.
	c.open("/admin/keys")
	c.shot("keys")
	c.load("rotate", chromedp.Click(chromedp.ID("rotate-ES256")))
	c.wantText("rotated", "The ES256 key was rotated")
	c.shot("keys_rotated")

	// 5b. An admin API token, shown once.
	c.open("/admin/api-tokens")
	c.do("new api token", chromedp.SendKeys(chromedp.ID("name"), "ci"))
	c.load("create api token", chromedp.Click(chromedp.ID("create-api-token")))
	c.wantText("api token created", "Admin API token ci was created.")
	c.shot("api_tokens")

	// 6. Scopes: the catalogue, a new default scope, the delete confirmation.
	c.open("/admin/scopes")
	c.do("new scope", chromedp.SendKeys(chromedp.ID("name"), "reports:write"), chromedp.SendKeys(chromedp.ID("description"), "Write reports"),
		chromedp.Click(chromedp.ID("default")))
	c.load("create scope", chromedp.Click(chromedp.ID("create-scope")))
	c.wantText("scope created", "Scope reports:write was created.")
	c.shot("scopes")
	c.load("delete scope", chromedp.Click(chromedp.CSS(`a[aria-label="Delete scope reports:write"]`)))
	c.shot("confirm_delete")
	c.load("confirm", chromedp.Click(chromedp.ID("confirm-delete")))
	c.wantText("scope deleted", "Scope reports:write was deleted.")

	// 7. Users: the list, a new user with a generated password, a user's page.
	c.open("/admin/users")
	c.shot("users")
	c.load("new user", chromedp.Click(chromedp.ID("new-user")))
	c.shot("user_new")
	c.do("fill the user form", chromedp.SendKeys(chromedp.ID("username"), "carol"), chromedp.SendKeys(chromedp.ID("email"), "carol@example.com"))
	c.load("create user", chromedp.Click(chromedp.ID("save")))
	c.wantText("user created", "User carol was created.", "Password of carol")
	password := get(c, "password", chromedp.Value(chromedp.ID("secret-value")))
	if _, err := e.Provider.AuthenticateUser(ctx, "carol", password, ""); err != nil {
		t.Errorf("the shown password does not work: %v", err)
	}
	c.shot("user_created")
	c.open("/admin/users/view?id=" + e.root.ID)
	c.shot("user")

	// 8. The audit trail, filtered by the form.
	c.open("/admin/audit")
	c.shot("audit")
	c.do("filter", chromedp.SendKeys(chromedp.ID("type"), "client.updated"))
	c.load("apply", chromedp.Click(chromedp.ID("apply-filter")))
	text := c.shot("audit_filtered")
	if !strings.Contains(text, "client.updated") || strings.Contains(text, "client.created") ||
		!strings.Contains(text, "user:"+e.root.ID) {
		t.Errorf("filtered audit trail: %q", text)
	}
	c.do("bad filter", chromedp.SetValue(chromedp.ID("since"), "last tuesday"))
	if st := c.load("apply", chromedp.Click(chromedp.ID("apply-filter"))); st != 400 {
		t.Errorf("bad filter: %d", st)
	}
	c.shot("audit_bad_filter")

	// 9. Without JavaScript: forms work, and a secret is shown without the copy button.
	c.do("disable JavaScript", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	c.open("/admin/clients/view?id=reports")
	c.load("rotate the secret", chromedp.Click(chromedp.ID("rotate-secret")))
	rotated := get(c, "rotated secret", chromedp.Value(chromedp.ID("secret-value")))
	if rotated == secret || len(rotated) < 32 {
		t.Errorf("rotated secret %q", rotated)
	}
	if !get(c, "copy button", chromedp.Evaluate[bool](`document.querySelector("button[data-copy]").hidden`)) {
		t.Error("the copy button shows without JavaScript")
	}
	c.shot("client_secret_rotated_nojs")
	c.do("enable JavaScript", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		return err
	}))

	// 10. An unknown page, then sign out.
	if st := c.open("/admin/nothing"); st != 404 {
		t.Errorf("unknown page: %d", st)
	}
	c.shot("not_found")
	c.load("sign out", chromedp.Click(chromedp.CSS(`.signout button`)))
	c.wantText("signed out", "You are signed out of the console.")
	c.shot("signed_out")
	c.open("/admin/")
	if p := c.path(); !strings.HasPrefix(p, "/admin/login") {
		t.Errorf("after sign-out at %s", p)
	}
}
