// Package console is Gatehouse's admin console: server-rendered pages (html/template, embedded
// templates, one small stylesheet and one small script, no build step) for the admin
// listener, mounted at /admin/. Operators sign in with an account of the built-in user store
// that has the "admin" role and manage clients, scopes, users (their sessions, consents and
// tokens), signing keys and the audit trail.
//
// Every operation goes through the admin package, with the signed-in administrator as the
// audit actor ("user:<id>"). The console keeps its own browser session (a cookie scoped to
// /admin/, separate from the public site's, stored hashed in the sessions table so that
// disabling the user or revoking the session ends it), and every POST carries a CSRF token:
// an HMAC of a per-browser cookie and the session. Secrets (a new client secret, a generated
// password) are shown once, on the page the form redirects to, and never again.
//
// The pages work without JavaScript; the only script copies a secret to the clipboard.
package console

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Prefix is where the console is mounted (ServeMux pattern Prefix + "/").
const Prefix = "/admin"

// RoleAdmin is the role a user needs to sign in to the console.
const RoleAdmin = "admin"

// Defaults of Options.
const (
	DefaultSessionLifetime = 8 * time.Hour
	DefaultPageSize        = 50
	DefaultKeyRetain       = 24*time.Hour + 5*time.Minute
	DefaultMaxBodyBytes    = 64 << 10
)

// minSecret is the shortest Options.Secret accepted.
const minSecret = 32

// Options configure the console. The zero value works on one node over plain HTTP.
type Options struct {
	// SecureCookies marks the console's cookies Secure. Set it when the admin listener is
	// reached over https (directly or through a proxy).
	SecureCookies bool
	// Secret keys the CSRF tokens and the sealing of secrets shown once (at least 32 bytes).
	// Every node behind one load balancer needs the same; empty means a random one, so forms
	// only work on the node that rendered them.
	Secret []byte
	// SessionLifetime is how long a console sign-in lasts; default 8 hours.
	SessionLifetime time.Duration
	// PageSize is the number of rows of the client, user and audit lists; default 50.
	PageSize int
	// KeyRetain is how long a rotated-out signing key stays published (at least the lifetime
	// of the tokens it signed); default 24h5m.
	KeyRetain time.Duration
	// MaxBodyBytes limits the body of the forms; default 64 KiB.
	MaxBodyBytes int64
	// ClientIP returns the address of the browser for the audit trail and the sign-in
	// throttle; default the host of the request's RemoteAddr.
	ClientIP func(*http.Request) string
}

// Deps are the console's collaborators.
type Deps struct {
	// Provider checks passwords (AuthenticateUser, with its throttle).
	Provider *oauth.Provider
	// Store keeps the console's sessions and receives the sign-in audit events. It is
	// wrapped with oauth.AuditLogged (unless it is already), so every event is also logged.
	Store storage.Store
	// Admin runs every management operation; the console calls WithActor on it for each
	// signed-in administrator. Nil means admin.New over Store with the Provider's keyring,
	// the Provider as its invalidator and its issuer.
	Admin  *admin.Admin
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Console serves the admin console. Mount it at Prefix + "/".
type Console struct {
	opts     Options
	admin    *admin.Admin
	provider *oauth.Provider
	store    storage.Store
	log      *slog.Logger
	now      func() time.Time
	csrfKey  []byte
	flash    *token.Sealer
	pages    *pageSet
	mux      *http.ServeMux
	handler  http.Handler
}

// New returns a Console. It parses the templates, so a broken template fails here rather than
// on a page.
func New(opts Options, deps Deps) (*Console, error) {
	if deps.Provider == nil || deps.Store == nil {
		return nil, errors.New("console: Deps.Provider and Deps.Store are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	deps.Store = oauth.AuditLogged(deps.Store, deps.Logger)
	if deps.Admin == nil {
		deps.Admin = admin.New(deps.Store, deps.Provider.Keys(), deps.Now).
			WithInvalidator(deps.Provider).WithIssuer(deps.Provider.Issuer())
	}
	if opts.SessionLifetime <= 0 {
		opts.SessionLifetime = DefaultSessionLifetime
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	opts.PageSize = min(opts.PageSize, 500)
	if opts.KeyRetain <= 0 {
		opts.KeyRetain = DefaultKeyRetain
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.ClientIP == nil {
		opts.ClientIP = remoteHost
	}
	secret := opts.Secret
	switch {
	case len(secret) == 0:
		secret = make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read does not fail
		deps.Logger.Warn("console: no secret configured; using a random one, so console forms only work on this node")
	case len(secret) < minSecret:
		return nil, fmt.Errorf("console: Options.Secret must be at least %d bytes", minSecret)
	}
	csrfKey, err := hkdf.Key(sha256.New, secret, nil, "gatehouse admin console CSRF v1", 32)
	if err != nil {
		return nil, fmt.Errorf("console: derive keys: %w", err)
	}
	flashKey, err := hkdf.Key(sha256.New, secret, nil, "gatehouse admin console flash v1", 32)
	if err != nil {
		return nil, fmt.Errorf("console: derive keys: %w", err)
	}
	flash, err := token.NewSealer(flashKey)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	opts.Secret = nil
	c := &Console{opts: opts, admin: deps.Admin, provider: deps.Provider, store: deps.Store, log: deps.Logger,
		now: deps.Now, csrfKey: csrfKey, flash: flash, pages: pages}
	c.routes()
	return c, nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Console paths.
const (
	pathHome        = Prefix + "/"
	pathLogin       = Prefix + "/login"
	pathLogout      = Prefix + "/logout"
	pathStatic      = Prefix + "/static/"
	pathClients     = Prefix + "/clients"
	pathClientNew   = Prefix + "/clients/new"
	pathClient      = Prefix + "/clients/view"
	pathClientEdit  = Prefix + "/clients/edit"
	pathClientSec   = Prefix + "/clients/secret"
	pathClientDel   = Prefix + "/clients/delete"
	pathClientTok   = Prefix + "/clients/tokens"
	pathScopes      = Prefix + "/scopes"
	pathScopeEdit   = Prefix + "/scopes/edit"
	pathScopeDel    = Prefix + "/scopes/delete"
	pathUsers       = Prefix + "/users"
	pathUserNew     = Prefix + "/users/new"
	pathUser        = Prefix + "/users/view"
	pathUserEdit    = Prefix + "/users/edit"
	pathUserStatus  = Prefix + "/users/status"
	pathUserPass    = Prefix + "/users/password"
	pathUserDel     = Prefix + "/users/delete"
	pathUserSess    = Prefix + "/users/sessions"
	pathUserConsent = Prefix + "/users/consents"
	pathUserTok     = Prefix + "/users/tokens"
	pathKeys        = Prefix + "/keys"
	pathKeyRotate   = Prefix + "/keys/rotate"
	pathAudit       = Prefix + "/audit"
	pathAPITokens   = Prefix + "/api-tokens"
	pathAPITokenDel = Prefix + "/api-tokens/revoke"
)

func (c *Console) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+pathStatic, c.static())
	m.HandleFunc("GET "+pathLogin, c.handleLoginPage)
	m.HandleFunc("POST "+pathLogin, c.handleLogin)
	m.HandleFunc("POST "+pathLogout, c.handleLogout)

	get := func(path string, h func(*exchange)) { m.Handle("GET "+path, c.authed(h)) }
	post := func(path string, h func(*exchange)) { m.Handle("POST "+path, c.authed(h)) }
	get(pathHome+"{$}", c.dashboard)
	get(pathClients, c.clientList)
	get(pathClientNew, c.clientNewPage)
	post(pathClientNew, c.clientCreate)
	get(pathClient, c.clientPage)
	post(pathClientEdit, c.clientUpdate)
	post(pathClientSec, c.clientRotate)
	get(pathClientDel, c.clientDeletePage)
	post(pathClientDel, c.clientDelete)
	get(pathClientTok, c.clientTokens)
	post(pathClientTok, c.clientTokensRevoke)
	get(pathScopes, c.scopeList)
	post(pathScopes, c.scopeCreate)
	post(pathScopeEdit, c.scopeUpdate)
	get(pathScopeDel, c.scopeDeletePage)
	post(pathScopeDel, c.scopeDelete)
	get(pathUsers, c.userList)
	get(pathUserNew, c.userNewPage)
	post(pathUserNew, c.userCreate)
	get(pathUser, c.userPage)
	post(pathUserEdit, c.userUpdate)
	post(pathUserStatus, c.userStatus)
	post(pathUserPass, c.userPassword)
	get(pathUserDel, c.userDeletePage)
	post(pathUserDel, c.userDelete)
	post(pathUserSess, c.userSessions)
	post(pathUserConsent, c.userConsents)
	post(pathUserTok, c.userTokens)
	get(pathKeys, c.keyList)
	post(pathKeyRotate, c.keyRotate)
	get(pathAudit, c.auditList)
	get(pathAPITokens, c.apiTokenList)
	post(pathAPITokens, c.apiTokenCreate)
	post(pathAPITokenDel, c.apiTokenRevoke)
	// Anything else under the prefix: the console's own 404 (and 405) page.
	m.HandleFunc(pathHome, c.notFound)
	c.mux = m
	c.handler = c.headers(http.NewCrossOriginProtection().Handler(m))
}

// headers sets the security headers of every console response: a content security policy
// without inline script or style, no framing, no referrer, and no caching.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// csp allows the console's own stylesheet and script, forms posted to itself, and nothing
// else: no inline script or style, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'none'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// hasRole reports whether u has role.
func hasRole(u storage.User, role string) bool { return slices.Contains(u.Roles, role) }

// actor is the audit actor of an administrator.
func actor(u storage.User) string { return "user:" + u.ID }
