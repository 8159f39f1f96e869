package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Page is what every console page shows around its content. Page structs embed it.
type Page struct {
	// Title is the page's heading and <title>.
	Title string
	// Nav is the section highlighted in the navigation ("clients", "users"…).
	Nav string
	// CSRF is the token of the page's forms.
	CSRF string
	// User is the signed-in administrator; nil on the sign-in page and bare error pages.
	User *storage.User
	// Notice is a status line (what the last action did); Error a problem above the content.
	Notice, Error string
	// Secret is shown once, with a copy button.
	Secret *Secret
}

func (p *Page) page() *Page { return p }

// pageData is a pointer to a page struct (which embeds Page).
type pageData interface{ page() *Page }

// Secret is a value shown this one time (a client secret, a generated password).
type Secret struct {
	Label, Value, Note string
}

// pageNames are the console's pages: templates/<name>.html each.
var pageNames = []string{
	"login", "error", "dashboard",
	"clients", "client_new", "client", "client_tokens",
	"scopes", "users", "user_new", "user",
	"keys", "audit", "confirm", "api_tokens",
}

type staticAsset struct {
	body    []byte
	ctype   string
	version string
}

// pageSet is the parsed templates and static files; built once, never changed.
type pageSet struct {
	pages  map[string]*template.Template
	assets map[string]staticAsset
}

func parsePages() (*pageSet, error) {
	ps := &pageSet{pages: map[string]*template.Template{}, assets: map[string]staticAsset{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := "application/octet-stream"
		switch path.Ext(p) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		}
		ps.assets[strings.TrimPrefix(p, "static/")] = staticAsset{body: body, ctype: ctype, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: read static files: %w", err)
	}
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			a, ok := ps.assets[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return pathStatic + name + "?v=" + a.version, nil
		},
		"when":     formatTime,
		"date":     formatDate,
		"join":     strings.Join,
		"lines":    func(l []string) string { return strings.Join(l, "\n") },
		"contains": func(l []string, s string) bool { return contains(l, s) },
		"add":      func(a, b int) int { return a + b },
		"path": func(name string) (string, error) {
			p, ok := paths[name]
			if !ok {
				return "", fmt.Errorf("no console path %q", name)
			}
			return p, nil
		},
		"fielderr":  fieldErr,
		"clientURL": clientURL,
		"userURL":   userURL,
		"expired":   func(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) },
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("console: clone layout: %w", err)
		}
		if t, err = t.ParseFS(templateFiles, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		ps.pages[name] = t
	}
	return ps, nil
}

// paths lets templates name the console's paths ({{path "clients"}}) instead of spelling them.
var paths = map[string]string{
	"home": pathHome, "login": pathLogin, "logout": pathLogout,
	"clients": pathClients, "client_new": pathClientNew, "client": pathClient, "client_edit": pathClientEdit,
	"client_secret": pathClientSec, "client_delete": pathClientDel, "client_tokens": pathClientTok,
	"scopes": pathScopes, "scope_edit": pathScopeEdit, "scope_delete": pathScopeDel,
	"users": pathUsers, "user_new": pathUserNew, "user": pathUser, "user_edit": pathUserEdit,
	"user_status": pathUserStatus, "user_password": pathUserPass, "user_delete": pathUserDel,
	"user_sessions": pathUserSess, "user_consents": pathUserConsent, "user_tokens": pathUserTok,
	"keys": pathKeys, "key_rotate": pathKeyRotate, "audit": pathAudit,
	"api_tokens": pathAPITokens, "api_token_revoke": pathAPITokenDel,
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// formatTime shows a time in UTC to the second; the zero time is "never".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

// execute renders page name with data into a buffer.
func (ps *pageSet) execute(name string, data any) (*bytes.Buffer, error) {
	t, ok := ps.pages[name]
	if !ok {
		return nil, fmt.Errorf("console: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("console: render %s: %w", name, err)
	}
	return &buf, nil
}

// render writes page name. The page is rendered into a buffer first: a template error gives
// a bare 500, never part of a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) {
	buf, err := c.pages.execute(name, data)
	if err != nil {
		c.log.ErrorContext(r.Context(), "console: render page", "page", name, "err", err)
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Internal Server Error\n"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// render writes a page of a signed-in administrator: the navigation, the CSRF token of the
// session, and the flash (a message or a secret) the previous POST left, shown this once.
func (x *exchange) render(status int, name string, data pageData) {
	p := data.page()
	p.User = &x.sess.user
	p.CSRF = x.c.csrfToken(x.w, x.r, x.sess.ID)
	if x.r.Method == http.MethodGet {
		f := x.takeFlash()
		if f.Message != "" && p.Notice == "" {
			p.Notice = f.Message
		}
		if f.Secret != "" {
			p.Secret = &Secret{Label: f.Label, Value: f.Secret, Note: f.Note}
		}
	}
	x.c.render(x.w, x.r, status, name, data)
}

// errorPage is the data of the error page.
type errorPage struct {
	Page
	Message string
	// Back is a link to go on from (the dashboard by default).
	Back string
}

// errorPage shows an error page with status.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	c.render(w, r, status, "error", &errorPage{Page: Page{Title: title}, Message: message, Back: pathHome})
}

// notFound answers paths under the prefix that no page has: 405 with Allow when another
// method has one, else 404; with the navigation when an administrator is signed in.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	page := c.errorPage
	if sess, _, err := c.currentSession(w, r); err == nil && sess != nil {
		x := &exchange{w: w, r: r, sess: sess, adm: c.admin.WithActor(actor(sess.user)), c: c}
		page = func(_ http.ResponseWriter, _ *http.Request, status int, title, message string) {
			x.errorPage(status, title, message)
		}
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := c.mux.Handler(r2); pattern != "" && pattern != pathHome {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		if contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		page(w, r, http.StatusMethodNotAllowed, "Method not allowed", "This page does not accept "+r.Method+" requests.")
		return
	}
	page(w, r, http.StatusNotFound, "Page not found", "There is no console page at this address.")
}

// static serves the stylesheet and the script. A URL with the file's current version (as
// the pages link them) is cacheable for a year.
func (c *Console) static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, pathStatic)
		a, ok := c.pages.assets[name]
		if !ok {
			c.notFound(w, r)
			return
		}
		h := w.Header()
		h.Del("Pragma")
		h.Set("Content-Type", a.ctype)
		sum := sha256.Sum256(a.body)
		h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
		if r.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
