// Package demo is the relying party of `gatehouse serve --demo`: a small web application that
// signs its visitor in through the authorization server it runs inside, the way any client
// application would. It knows only the issuer URL and its client credentials; everything else
// it learns from discovery and reaches over HTTP, using golang.org/x/oauth2 for the protocol
// and github.com/coreos/go-oidc for the ID token.
//
// GET <base>/ starts an authorization code flow with PKCE (S256), a state and a nonce, kept in
// a short-lived, HMAC-signed, HttpOnly cookie; GET <base>/callback checks the state, redeems
// the code, verifies the ID token (signature, issuer, audience, expiry, nonce, at_hash) and
// shows the token response. <base> is the directory of Config.RedirectURL ("/demo").
package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/ui"
)

// Config configures the demo relying party.
type Config struct {
	// Issuer is the authorization server's issuer URL; discovery is fetched from it on the
	// first request (and again after a failure).
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute URL of the callback, registered on the client, such as
	// "http://127.0.0.1:8080/demo/callback". Its path decides the handler's paths.
	RedirectURL string
	// Scopes are requested at every sign-in; include "openid" for an ID token.
	Scopes []string
	// HTTPClient reaches the authorization server (discovery, JWKS, token endpoint); default
	// a client with a 10 second timeout.
	HTTPClient *http.Client
	// Now is the clock of the flow cookie and of ID token expiry; default time.Now.
	Now func() time.Time
	// Logger logs failed sign-ins; default none.
	Logger *slog.Logger
}

// flowTTL bounds the time between leaving for the authorization server and coming back.
const flowTTL = 10 * time.Minute

// cookieName holds the flow in progress.
const cookieName = "gatehouse_demo_flow"

// maxShown bounds text from the authorization server shown on the page.
const maxShown = 300

// handler is the demo relying party.
type handler struct {
	cfg      Config
	base     string // "/demo/"
	callback string // "/demo/callback"
	secure   bool
	key      []byte // HMAC key of the flow cookie, random per process
	now      func() time.Time
	log      *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// New returns the demo handler. It serves the directory of cfg.RedirectURL (for
// ".../demo/callback", "/demo/" and "/demo/callback"), so mount it there:
// mux.Handle("/demo/", demo.New(cfg)).
func New(cfg Config) http.Handler {
	h := &handler{cfg: cfg, now: cfg.Now, log: cfg.Logger, key: make([]byte, 32)}
	_, _ = rand.Read(h.key) // crypto/rand.Read never fails
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.HTTPClient == nil {
		h.cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	h.callback = "/callback"
	if u, err := url.Parse(cfg.RedirectURL); err == nil && u.Path != "" {
		h.callback = u.Path
		h.secure = strings.EqualFold(u.Scheme, "https")
	}
	h.base = strings.TrimSuffix(path.Dir(h.callback), "/") + "/"
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	if r.URL.Path != h.base && r.URL.Path != h.callback {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == h.base {
		h.start(w, r)
		return
	}
	h.finish(w, r)
}

// flow is what the cookie carries from start to finish.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// start sends the browser to the authorization endpoint.
func (h *handler) start(w http.ResponseWriter, r *http.Request) {
	oc, _, err := h.oauth2(r.Context())
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "The demo could not read the authorization server's metadata.", err)
		return
	}
	f := flow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		Expires: h.now().Add(flowTTL).Unix()}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: h.sign(f), Path: h.base, MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, oc.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), http.StatusFound)
}

// finish handles the authorization response: check the state, redeem the code, verify the
// ID token, show the tokens.
func (h *handler) finish(w http.ResponseWriter, r *http.Request) {
	// The flow is single use: whatever happens, the cookie goes.
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: h.base, MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	var f flow
	c, err := r.Cookie(cookieName)
	if err == nil {
		f, err = h.open(c.Value)
	}
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "The sign-in expired or was started in another browser. Start again.", err)
		return
	}
	// The state is checked before anything else of the response is believed or shown.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		h.fail(w, r, http.StatusBadRequest, "The state parameter does not match this browser's sign-in. Start again.", nil)
		return
	}
	if code := q.Get("error"); code != "" {
		msg := "The authorization server answered " + clip(code)
		if d := q.Get("error_description"); d != "" {
			msg += ": " + clip(d)
		}
		h.fail(w, r, http.StatusBadRequest, msg+".", nil)
		return
	}
	if q.Get("code") == "" {
		h.fail(w, r, http.StatusBadRequest, "The callback received neither a code nor an error.", nil)
		return
	}
	oc, verifier, err := h.oauth2(r.Context())
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "The demo could not read the authorization server's metadata.", err)
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, h.cfg.HTTPClient)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		msg := "The token request failed."
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok && re.ErrorCode != "" {
			msg = "The token endpoint answered " + clip(re.ErrorCode)
			if re.ErrorDescription != "" {
				msg += ": " + clip(re.ErrorDescription)
			}
			msg += "."
		}
		h.fail(w, r, http.StatusBadRequest, msg, err)
		return
	}
	page := ui.CallbackPage{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresIn: tok.ExpiresIn}
	if s, ok := tok.Extra("scope").(string); ok {
		page.Scope = s
	}
	if page.ExpiresIn == 0 && !tok.Expiry.IsZero() {
		page.ExpiresIn = int64(tok.Expiry.Sub(h.now()).Round(time.Second) / time.Second)
	}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		claims, err := h.verifyIDToken(ctx, verifier, raw, f.Nonce, tok.AccessToken)
		if err != nil {
			h.fail(w, r, http.StatusBadRequest, "The ID token did not verify: "+clip(err.Error())+".", err)
			return
		}
		page.IDToken, page.IDClaims = raw, claims
	} else if slices.Contains(h.cfg.Scopes, oidc.ScopeOpenID) &&
		(page.Scope == "" || slices.Contains(strings.Fields(page.Scope), oidc.ScopeOpenID)) {
		h.fail(w, r, http.StatusBadRequest, "The openid scope was granted but the token response has no ID token.", nil)
		return
	}
	// The access token is for resource servers to verify; the demo only decodes it to show
	// what it says. (The ID token above is verified.)
	page.AccessClaims = decodeJWT(tok.AccessToken)
	h.render(w, r, http.StatusOK, page)
}

// verifyIDToken checks the ID token's signature (against the JWKS), issuer, audience,
// expiry, nonce and at_hash, and returns its claims as indented JSON.
func (h *handler) verifyIDToken(ctx context.Context, v *oidc.IDTokenVerifier, raw, nonce, accessToken string) (string, error) {
	idt, err := v.Verify(oidc.ClientContext(ctx, h.cfg.HTTPClient), raw)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return "", errors.New("the nonce does not match this sign-in")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return "", err
		}
	}
	var claims json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return "", err
	}
	return indent(claims), nil
}

// oauth2 returns the client configuration and the ID token verifier, fetching the
// authorization server's discovery document the first time.
func (h *handler) oauth2(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider == nil {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.cfg.HTTPClient), h.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("demo: discovery of %s: %w", h.cfg.Issuer, err)
		}
		h.provider = p
		h.verifier = p.Verifier(&oidc.Config{ClientID: h.cfg.ClientID, Now: h.now})
	}
	ep := h.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &oauth2.Config{ClientID: h.cfg.ClientID, ClientSecret: h.cfg.ClientSecret, Endpoint: ep,
		RedirectURL: h.cfg.RedirectURL, Scopes: h.cfg.Scopes}, h.verifier, nil
}

// fail shows msg on the callback page with status; err (if any) is logged.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "demo sign-in failed", slog.String("reason", msg), slog.Any("err", err))
	}
	h.render(w, r, status, ui.CallbackPage{Error: msg})
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page ui.CallbackPage) {
	if err := ui.Render(w, status, "callback", page); err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "demo: render the callback page", slog.Any("err", err))
	}
}

// sign encodes f as base64url(JSON) "." base64url(HMAC-SHA256).
func (h *handler) sign(f flow) string {
	payload, _ := json.Marshal(f) // a struct of strings and an int always marshals
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(h.mac(p))
}

// open checks a cookie value made by sign and its expiry.
func (h *handler) open(v string) (flow, error) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return flow{}, errors.New("demo: malformed flow cookie")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac(p)) {
		return flow{}, errors.New("demo: flow cookie signature mismatch")
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return flow{}, fmt.Errorf("demo: flow cookie: %w", err)
	}
	var f flow
	if err := json.Unmarshal(payload, &f); err != nil {
		return flow{}, fmt.Errorf("demo: flow cookie: %w", err)
	}
	if h.now().Unix() > f.Expires {
		return flow{}, errors.New("demo: flow cookie expired")
	}
	return f, nil
}

func (h *handler) mac(s string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// decodeJWT returns the payload of a JWT as indented JSON without verifying it, or "" for
// an opaque token.
func decodeJWT(raw string) string {
	if strings.Count(raw, ".") != 2 {
		return ""
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512,
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA})
	if err != nil {
		return ""
	}
	return indent(jws.UnsafePayloadWithoutVerification())
}

// indent pretty-prints JSON, or returns it as is when it is not JSON.
func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

func randomString() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// clip keeps text from the network short.
func clip(s string) string {
	if r := []rune(s); len(r) > maxShown {
		return string(r[:maxShown]) + "…"
	}
	return s
}
