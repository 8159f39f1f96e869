package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server/console"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// Accounts of the test environment.
const (
	adminName     = "root"
	adminPassword = "correct horse battery"
	otherAdmin    = "second"
	plainUser     = "alice"
	plainPassword = "alice password 1"
	disabledAdmin = "gone"
)

// env is a real server (SQLite file) with the console on its admin listener and a few users.
type env struct {
	*servertest.Server
	adm     *admin.Admin
	console *console.Console
	root    storage.User
	alice   storage.User
}

// newEnv starts the server. opts edit the console's options.
func newEnv(t *testing.T, opts ...func(*console.Options)) *env {
	t.Helper()
	e := &env{}
	e.Server = servertest.Start(t, servertest.WithSQLite(filepath.Join(t.TempDir(), "gatehouse.db")),
		servertest.WithAdminMounts(func(s *servertest.Server) map[string]http.Handler {
			o := console.Options{Secret: []byte("0123456789abcdef0123456789abcdef")}
			for _, f := range opts {
				f(&o)
			}
			c, err := console.New(o, console.Deps{Provider: s.Provider, Store: s.Store})
			if err != nil {
				t.Fatalf("console.New: %v", err)
			}
			e.console = c
			return map[string]http.Handler{console.Prefix + "/": c}
		}))
	e.adm = admin.New(e.Store, e.Provider.Keys(), nil).WithActor("test").WithIssuer(e.URL)
	e.root = e.createUser(t, adminName, adminPassword, "admin")
	e.createUser(t, otherAdmin, adminPassword, "admin", "ops")
	e.alice = e.createUser(t, plainUser, plainPassword)
	gone := e.createUser(t, disabledAdmin, adminPassword, "admin")
	if _, _, err := e.adm.DisableUser(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) createUser(t *testing.T, username, password string, roles ...string) storage.User {
	t.Helper()
	u, _, err := e.adm.CreateUser(context.Background(), admin.UserInput{Username: username, Password: password,
		Email: username + "@example.com", Name: strings.ToUpper(username[:1]) + username[1:], Roles: roles})
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// browser is an HTTP client with a cookie jar that does not follow redirects, so tests see
// them; it remembers the last page's CSRF token.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (e *env) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: e.AdminURL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its body read.
type page struct {
	status int
	header http.Header
	body   string
}

// location is the redirect target, relative to the console's host.
func (p page) location() string { return p.header.Get("Location") }

// text is the body with tags removed and entities decoded, for looking for messages.
func (p page) text() string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(p.body, " "))), " ")
}

var (
	tagRE  = regexp.MustCompile(`<[^>]*>`)
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	if strings.Contains(p.body, "template:") || strings.Contains(p.body, "ZgotmplZ") {
		b.t.Errorf("%s %s: template problem in the page:\n%s", req.Method, req.URL, p.body)
	}
	return p
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post posts form with the last page's CSRF token (unless form has one).
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	return b.postRaw(path, form, nil)
}

func (b *browser) postRaw(path string, form url.Values, header http.Header) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return b.do(req)
}

// follow GETs the redirect target of p.
func (b *browser) follow(p page) page {
	b.t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		b.t.Fatalf("want a redirect, got %d:\n%s", p.status, p.body)
	}
	return b.get(p.location())
}

// login signs in and checks it worked.
func (b *browser) login(username, password string) {
	b.t.Helper()
	b.get("/admin/login")
	p := b.post("/admin/login", url.Values{"username": {username}, "password": {password}})
	if p.status != http.StatusSeeOther || p.location() != "/admin/" {
		b.t.Fatalf("sign in as %s: %d %s\n%s", username, p.status, p.location(), p.text())
	}
	if d := b.get("/admin/"); d.status != http.StatusOK {
		b.t.Fatalf("dashboard after sign-in: %d", d.status)
	}
}

// wantStatus checks p's status.
func wantStatus(t *testing.T, what string, p page, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, p.status, status, p.text())
	}
}

// wantText checks that p's text contains every want.
func wantText(t *testing.T, what string, p page, want ...string) {
	t.Helper()
	text := p.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the page lacks %q:\n%s", what, w, text)
		}
	}
}

// fieldError returns the text of the error shown next to field (the element with id
// err-<field>), or "".
func fieldError(p page, field string) string {
	re := regexp.MustCompile(`(?s)<div class="field-error" id="err-` + regexp.QuoteMeta(field) + `">(.*?)</div>`)
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(m[1], " "))), " ")
}

// audited returns the events of type typ.
func (e *env) audited(t *testing.T, typ string) []storage.AuditEvent {
	t.Helper()
	list, err := e.Store.ListAudit(context.Background(), storage.AuditFilter{Type: typ, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return list
}
