// Package ui holds Gatehouse's server-rendered pages and their static assets, embedded in the
// binary. It has no protocol logic: the server package decides what to show and passes one of
// the page structs below to Render.
//
// The pages work without JavaScript and fit a strict Content Security Policy: no inline
// scripts, styles or event handlers. The one script, /static/formpost.js, only submits the
// form_post page's form; that page also shows a Continue button.
//
// Form contracts (what the server's handlers receive):
//   - login: POST to LoginPage.Action (the current URL when empty): csrf, req, username, password.
//   - consent: POST to ConsentPage.Action (the current URL when empty): csrf, req, decision
//     ("allow" or "deny").
//   - account: POST /account with csrf, op=revoke and client_id to revoke a consent; POST
//     /logout with csrf and decision=logout to sign out.
//   - logout: POST /logout with csrf, the hidden LogoutPage.Fields, and decision ("logout" or
//     "stay").
//   - form_post: POST to FormPostPage.Action with the hidden FormPostPage.Fields.
//   - device: POST to DevicePage.Action (the current URL when empty): csrf, user_code.
//   - device_confirm: POST to DeviceConfirmPage.Action (the current URL when empty): csrf,
//     user_code, decision ("approve" or "deny").
//   - login also carries LoginPage.ReturnTo as "return_to" when set.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Field is a hidden form field.
type Field struct {
	Name, Value string
}

// LoginPage is the data of the "login" page.
type LoginPage struct {
	ClientName string
	// Error is shown above the form (a failed sign-in, say).
	Error    string
	Username string
	CSRF     string
	// Request is the sealed authorization request, sent back as "req".
	Request string
	// Action is the form's target; empty posts to the current URL.
	Action string
	// ReturnTo is the local page to go back to after signing in (the device page), sent
	// back as "return_to".
	ReturnTo string
}

// ScopeItem is one scope on the consent page.
type ScopeItem struct {
	Name, Description string
}

// ConsentPage is the data of the "consent" page.
type ConsentPage struct {
	ClientName string
	Scopes     []ScopeItem
	Username   string
	CSRF       string
	Request    string
	Action     string
}

// ErrorPage is the data of the "error" page, for errors that must not be redirected to the
// client (an unknown client or redirect URI, say).
type ErrorPage struct {
	Title, Message, Code string
}

// FormPostPage is the data of the "form_post" page (OAuth 2.0 Form Post Response Mode): a form
// posting Fields to Action, the client's redirect URI. html/template refuses URLs with schemes
// other than http, https and mailto there (they become "#ZgotmplZ").
type FormPostPage struct {
	Action string
	Fields []Field
}

// ConsentItem is one remembered consent on the account page.
type ConsentItem struct {
	ClientID   string
	ClientName string
	Scopes     []string
	// Granted is the date the consent was given, formatted by the caller.
	Granted string
}

// AccountPage is the data of the "account" page.
type AccountPage struct {
	Username, Name, Email string
	Consents              []ConsentItem
	CSRF                  string
	// Message is a status line (e.g. "Access for Foo revoked.").
	Message string

	// Tokens are the user's personal access tokens.
	Tokens []TokenItem
	// NewToken is the value of the personal access token just created, shown this once, and
	// NewTokenName its name.
	NewToken, NewTokenName string
	// TokenScopes are the scopes a new token may have; TokenExpiries the expiry choices.
	TokenScopes   []TokenScopeOption
	TokenExpiries []ExpiryOption
	// TokenName is the name typed before a failed attempt; TokenError says what was wrong.
	TokenName, TokenError string
}

// TokenItem is a personal access token on the account page. The dates are preformatted;
// LastUsed is empty for a token never used.
type TokenItem struct {
	ID, Name                   string
	Scopes                     []string
	Created, Expires, LastUsed string
}

// TokenScopeOption is a scope checkbox of the new-token form.
type TokenScopeOption struct {
	Name, Description string
	Checked           bool
}

// ExpiryOption is a choice of the new-token form's expiry list.
type ExpiryOption struct {
	Days     int
	Label    string
	Selected bool
}

// LogoutPage is the data of the "logout" page: a confirmation form, or (SignedOut) the
// signed-out notice.
type LogoutPage struct {
	CSRF       string
	SignedOut  bool
	ClientName string
	// Fields carry the logout request's parameters through the confirmation.
	Fields []Field
}

// CallbackPage is the data of the demo client's "callback" page.
type CallbackPage struct {
	Error        string
	AccessToken  string
	IDToken      string
	RefreshToken string
	// AccessClaims and IDClaims are pretty-printed JSON.
	AccessClaims string
	IDClaims     string
	Scope        string
	ExpiresIn    int64
}

// Device page results (DevicePage.Result).
const (
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DevicePage is the data of the "device" page (RFC 8628 verification page): the form where
// the user enters the code their device shows, or, with Result set, the end of the flow.
type DevicePage struct {
	// UserCode prefills the field (from verification_uri_complete).
	UserCode string
	// Error is shown above the form (a wrong code, say).
	Error    string
	Username string
	CSRF     string
	Action   string
	// Result is DeviceApproved or DeviceDenied once the user has decided; ClientName is
	// then the application the device runs.
	Result     string
	ClientName string
}

// DeviceConfirmPage is the data of the "device_confirm" page: what the device's application
// asks for, with Approve and Deny.
type DeviceConfirmPage struct {
	ClientName string
	Scopes     []ScopeItem
	// UserCode is shown (for the user to compare with the device) and posted back.
	UserCode string
	Username string
	CSRF     string
	Action   string
}

// pageTypes names each page and the zero value used when Render is given nil data.
func pageTypes() map[string]any {
	return map[string]any{
		"login":          LoginPage{},
		"consent":        ConsentPage{},
		"error":          ErrorPage{},
		"form_post":      FormPostPage{},
		"account":        AccountPage{},
		"logout":         LogoutPage{},
		"callback":       CallbackPage{},
		"device":         DevicePage{},
		"device_confirm": DeviceConfirmPage{},
	}
}

// Names returns the names of the pages Render knows.
func Names() []string {
	return slices.Sorted(maps.Keys(pageTypes()))
}

// staticAsset is one embedded static file.
type staticAsset struct {
	body    []byte
	ctype   string
	etag    string
	version string
}

// site is the parsed templates and the static assets. It is built once from the embedded
// files and never changes.
type site struct {
	pages  map[string]*template.Template
	zero   map[string]any
	assets map[string]staticAsset
}

var loadSite = sync.OnceValues(parseSite)

func parseSite() (*site, error) {
	s := &site{pages: map[string]*template.Template{}, zero: pageTypes(), assets: map[string]staticAsset{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		s.assets[strings.TrimPrefix(p, "static/")] = staticAsset{
			body:    body,
			ctype:   contentType(p),
			etag:    `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			version: hex.EncodeToString(sum[:6]),
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: read static files: %w", err)
	}
	funcs := template.FuncMap{
		// asset returns the versioned URL of a static file; the version makes it cacheable
		// for good.
		"asset": func(name string) (string, error) {
			a, ok := s.assets[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return "/static/" + name + "?v=" + a.version, nil
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parse layout: %w", err)
	}
	for name := range s.zero {
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: clone layout: %w", err)
		}
		if t, err = t.ParseFS(templateFiles, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return "application/octet-stream"
}

// Render renders the page name with data (one of the page structs, or a pointer to one; nil
// renders the page's zero value) and writes it with status (0 means 200), Content-Type
// text/html; charset=utf-8, and Cache-Control no-store unless the caller set Cache-Control.
//
// The page is rendered into a buffer first. If that fails (an unknown name, data of the wrong
// type), Render writes a bare 500 instead, never part of a page, and returns the error for
// the caller to log; the caller must not write to w again. An error from writing the
// rendered page (a client gone away) is returned too.
func Render(w http.ResponseWriter, status int, name string, data any) error {
	s, err := loadSite()
	if err != nil {
		renderFailed(w)
		return err
	}
	t, ok := s.pages[name]
	if !ok {
		renderFailed(w)
		return fmt.Errorf("ui: no page %q", name)
	}
	if data == nil {
		data = s.zero[name]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		renderFailed(w)
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("ui: write %s: %w", name, err)
	}
	return nil
}

func renderFailed(w http.ResponseWriter) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, "Internal Server Error\n")
}

// Static returns the handler of the static assets, to mount at /static/
// (mux.Handle("/static/", ui.Static())). It answers GET and HEAD with the embedded file, an
// ETag (so revalidation gives 304), and Cache-Control: a year and immutable when the URL
// carries the file's current version (?v=, as the pages link them), an hour otherwise. Unknown
// files and directories are 404.
func Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := loadSite()
		if err != nil {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		a, ok := s.assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=3600")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
