package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices, Form Post Response Mode).
const (
	ModeQuery    = "query"
	ModeFragment = "fragment"
	ModeFormPost = "form_post"
)

// Response types this package implements. Those with "token" or "id_token" hand tokens out
// through the front channel and need the client to be allowed the implicit grant (legacy;
// RFC 9700 2.1.2 says not to use it).
var responseTypes = []string{"code", "token", "id_token", "id_token token", "code id_token"}

// Error codes of the authorization endpoint (OIDC Core 3.1.2.6).
const (
	CodeLoginRequired       = "login_required"
	CodeConsentRequired     = "consent_required"
	CodeInteractionRequired = "interaction_required"
)

// AuthorizeRequest is a validated authorization request. It travels sealed through the login
// and consent pages (Provider.SealAuthorize), so nothing is stored before the user signs in.
type AuthorizeRequest struct {
	ClientID string `json:"cid"`
	// RedirectURI is where the response goes.
	RedirectURI string `json:"ru"`
	// RedirectURIGiven is false when the request omitted redirect_uri and the client's only
	// registered URI is used; the token request may then omit it too (RFC 6749 4.1.3).
	RedirectURIGiven    bool     `json:"rug,omitempty"`
	ResponseType        string   `json:"rt"`
	ResponseMode        string   `json:"rm"`
	Scopes              []string `json:"sc,omitempty"`
	State               string   `json:"st,omitempty"`
	Nonce               string   `json:"n,omitempty"`
	CodeChallenge       string   `json:"cc,omitempty"`
	CodeChallengeMethod string   `json:"ccm,omitempty"`
	// Prompt holds the prompt values (none, login, consent, select_account).
	Prompt []string `json:"p,omitempty"`
	// MaxAge is max_age in seconds, -1 when absent.
	MaxAge    int    `json:"ma"`
	LoginHint string `json:"lh,omitempty"`
	// Expires bounds how long the sealed request may travel (Unix seconds).
	Expires int64 `json:"exp"`
}

// HasPrompt reports whether the request asked for prompt=value.
func (r *AuthorizeRequest) HasPrompt(value string) bool { return slices.Contains(r.Prompt, value) }

// Redirect is a response sent back to the client's redirect URI.
type Redirect struct {
	URI    string
	Mode   string
	Params url.Values
}

// Location is the URL to redirect to for the query and fragment modes.
func (r *Redirect) Location() string {
	if r.Mode == ModeFragment {
		return r.URI + "#" + r.Params.Encode()
	}
	sep := "?"
	if strings.Contains(r.URI, "?") {
		sep = "&"
	}
	return r.URI + sep + r.Params.Encode()
}

// RedirectError is an authorization error that goes back to the client (RFC 6749 4.1.2.1):
// the client and redirect URI were valid.
type RedirectError struct {
	Err      *Error
	Redirect *Redirect
}

func (e *RedirectError) Error() string { return e.Err.Error() }
func (e *RedirectError) Unwrap() error { return e.Err }

// Authentication is who approved an authorization request, and when they signed in.
type Authentication struct {
	UserID    string
	AuthTime  time.Time
	SessionID string
}

// authorizeLifetime bounds how long a sealed request may take through login and consent.
const authorizeLifetime = 30 * time.Minute

// ValidateAuthorize validates an authorization request's parameters (from the query of a GET
// or the body of a POST). It returns an *Error, to be shown on a page and never redirected,
// when the client or the redirect URI is wrong, and a *RedirectError for everything else.
func (p *Provider) ValidateAuthorize(ctx context.Context, params url.Values) (*AuthorizeRequest, error) {
	for k, vs := range params {
		if len(vs) > 1 && (k == "client_id" || k == "redirect_uri") {
			return nil, ErrInvalidRequest("the %s parameter is repeated", k)
		}
	}
	clientID := params.Get("client_id")
	if clientID == "" || len(clientID) > maxClientIDLen {
		return nil, ErrInvalidRequest("the client_id parameter is missing or invalid")
	}
	entry, err := p.cache.client(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrInvalidRequest("the client is not registered")
	}
	if err != nil {
		return nil, storageError(err)
	}
	client := &entry.client
	req := &AuthorizeRequest{ClientID: client.ID, MaxAge: -1, State: params.Get("state"),
		Expires: p.now().Add(authorizeLifetime).Unix()}
	raw := params.Get("redirect_uri")
	switch {
	case raw != "":
		if !MatchRedirectURI(client, raw) {
			return nil, ErrInvalidRequest("the redirect_uri is not registered for this client")
		}
		req.RedirectURI, req.RedirectURIGiven = raw, true
	case len(client.RedirectURIs) == 1:
		req.RedirectURI = client.RedirectURIs[0]
	default:
		return nil, ErrInvalidRequest("the redirect_uri parameter is missing")
	}
	// From here on, errors go back to the client.
	req.ResponseType = normalizeResponseType(params.Get("response_type"))
	req.ResponseMode = defaultMode(req.ResponseType)
	fail := func(e *Error) (*AuthorizeRequest, error) { return nil, p.redirectError(req, e) }
	for k, vs := range params {
		if len(vs) > 1 {
			return fail(ErrInvalidRequest("the %s parameter is repeated", safeName(k)))
		}
		if len(vs[0]) > maxParamLen {
			return fail(ErrInvalidRequest("the %s parameter is too long", safeName(k)))
		}
	}
	if params.Get("request") != "" || params.Get("request_uri") != "" {
		return fail(&Error{Code: "request_not_supported", Status: http.StatusBadRequest,
			Description: "request objects are not supported"})
	}
	if mode := params.Get("response_mode"); mode != "" {
		if mode != ModeQuery && mode != ModeFragment && mode != ModeFormPost {
			return fail(ErrInvalidRequest("the response_mode %q is not supported", safeName(mode)))
		}
		if mode == ModeQuery && req.ResponseType != "code" && req.ResponseType != "" {
			return fail(ErrInvalidRequest("tokens are never returned in the query"))
		}
		req.ResponseMode = mode
	}
	if req.ResponseType == "" {
		return fail(ErrInvalidRequest("the response_type parameter is missing"))
	}
	if !slices.Contains(responseTypes, req.ResponseType) {
		return fail(&Error{Code: CodeUnsupportedResponseType, Status: http.StatusBadRequest,
			Description: fmt.Sprintf("the response_type %q is not supported", safeName(req.ResponseType))})
	}
	if err := p.allowResponseType(client, req.ResponseType); err != nil {
		return fail(err)
	}
	scopes, err := ParseScope(params.Get("scope"))
	if err != nil {
		return fail(err.(*Error))
	}
	if scopes, err = p.resolveAuthorizeScopes(ctx, client, scopes); err != nil {
		var oe *Error
		if errors.As(err, &oe) && oe.Code == CodeInvalidScope {
			return fail(oe)
		}
		return nil, err
	}
	req.Scopes = scopes
	openid := slices.Contains(scopes, ScopeOpenID)
	req.Nonce = params.Get("nonce")
	if strings.Contains(req.ResponseType, "id_token") {
		if !openid {
			return fail(ErrInvalidRequest("response_type %s needs the openid scope", req.ResponseType))
		}
		if req.Nonce == "" {
			return fail(ErrInvalidRequest("the nonce parameter is required with response_type %s", req.ResponseType))
		}
	}
	if err := p.checkPKCEParams(client, req, params); err != nil {
		return fail(err)
	}
	if prompt := params.Get("prompt"); prompt != "" {
		for _, v := range strings.Fields(prompt) {
			if v != "none" && v != "login" && v != "consent" && v != "select_account" {
				return fail(ErrInvalidRequest("the prompt value %q is not supported", safeName(v)))
			}
			if !slices.Contains(req.Prompt, v) {
				req.Prompt = append(req.Prompt, v)
			}
		}
		if req.HasPrompt("none") && len(req.Prompt) > 1 {
			return fail(ErrInvalidRequest("prompt=none cannot be combined with other values"))
		}
	}
	if ma := params.Get("max_age"); ma != "" {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return fail(ErrInvalidRequest("max_age must be a non-negative integer"))
		}
		req.MaxAge = n
	}
	req.LoginHint = params.Get("login_hint")
	return req, nil
}

// normalizeResponseType sorts the space-separated values, so "token id_token" is "id_token token".
func normalizeResponseType(s string) string {
	f := strings.Fields(s)
	if len(f) < 2 {
		return strings.TrimSpace(s)
	}
	slices.Sort(f)
	return strings.Join(f, " ")
}

func defaultMode(responseType string) string {
	if responseType == "code" || responseType == "" {
		return ModeQuery
	}
	return ModeFragment
}

// allowResponseType checks the client may use the response type: code needs the
// authorization_code grant, anything returning tokens from the authorization endpoint needs
// the implicit grant (off unless the client is explicitly allowed it).
func (p *Provider) allowResponseType(client *storage.Client, rt string) *Error {
	uc := &Error{Code: CodeUnauthorizedClient, Status: http.StatusBadRequest}
	if strings.Contains(rt, "code") {
		if _, ok := p.grants[GrantAuthorizationCode]; !ok || !slices.Contains(client.GrantTypes, GrantAuthorizationCode) {
			uc.Description = "the client is not allowed the authorization_code grant"
			return uc
		}
	}
	if strings.Contains(rt, "token") { // token, id_token
		if !p.opts.implicitEnabled() || !slices.Contains(client.GrantTypes, GrantImplicit) {
			uc.Description = "the client is not allowed the implicit grant"
			return uc
		}
	}
	return nil
}

// resolveAuthorizeScopes applies the same rules as the token endpoint; openid and the OIDC
// scopes are always known to the catalogue check when the client is allowed them.
func (p *Provider) resolveAuthorizeScopes(ctx context.Context, client *storage.Client, requested []string) ([]string, error) {
	return p.resolveScopes(ctx, client, requested)
}

// redirectError builds the error response sent to the client, with state and iss (RFC 9207).
func (p *Provider) redirectError(req *AuthorizeRequest, e *Error) *RedirectError {
	params := url.Values{"error": {e.Code}}
	if e.Description != "" {
		params.Set("error_description", e.Description)
	}
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", p.opts.Issuer)
	return &RedirectError{Err: e, Redirect: &Redirect{URI: req.RedirectURI, Mode: req.ResponseMode, Params: params}}
}

// ErrorRedirect returns the redirect that reports e to the client of req.
func (p *Provider) ErrorRedirect(req *AuthorizeRequest, e *Error) *Redirect {
	return p.redirectError(req, e).Redirect
}

// Deny is the answer when the user refuses: access_denied.
func (p *Provider) Deny(req *AuthorizeRequest) *Redirect {
	return p.ErrorRedirect(req, &Error{Code: CodeAccessDenied, Status: http.StatusForbidden,
		Description: "the user denied the request"})
}

// sealPurpose is the additional data that binds sealed authorization requests to their use.
const sealPurpose = "gatehouse/authorize-request"

// SealAuthorize seals a validated request for its trip through the login and consent pages.
func (p *Provider) SealAuthorize(req *AuthorizeRequest) (string, error) {
	if p.sealer == nil {
		return "", errors.New("oauth: no sealer configured")
	}
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	sealed, err := p.sealer.Seal(sealPurpose, b)
	if err != nil {
		return "", err
	}
	return b64(sealed), nil
}

// OpenAuthorize opens a sealed request and checks it again: not expired, client still
// registered with that redirect URI (else an *Error to display) and still allowed the
// response type (else a *RedirectError).
func (p *Provider) OpenAuthorize(ctx context.Context, sealed string) (*AuthorizeRequest, error) {
	bad := ErrInvalidRequest("the authorization request is invalid or has expired; start again from the application")
	raw, err := unb64(sealed)
	if err != nil || p.sealer == nil {
		return nil, bad
	}
	b, err := p.sealer.Open(sealPurpose, raw)
	if err != nil {
		return nil, bad
	}
	var req AuthorizeRequest
	if err := json.Unmarshal(b, &req); err != nil || p.now().Unix() > req.Expires {
		return nil, bad
	}
	entry, err := p.cache.client(ctx, req.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, storageError(err)
	}
	if !MatchRedirectURI(&entry.client, req.RedirectURI) && !(len(entry.client.RedirectURIs) == 1 && entry.client.RedirectURIs[0] == req.RedirectURI) {
		return nil, bad
	}
	// The client may have lost the grant while the user was signing in: check again what
	// ValidateAuthorize checked, so a sealed request cannot outlive the client's rights.
	if err := p.allowResponseType(&entry.client, req.ResponseType); err != nil {
		return nil, p.redirectError(&req, err)
	}
	return &req, nil
}

// Client returns the registered client (through the short cache).
func (p *Provider) Client(ctx context.Context, id string) (storage.Client, error) {
	e, err := p.cache.client(ctx, id)
	if err != nil {
		return storage.Client{}, err
	}
	return e.client, nil
}

// ScopeDescriptions returns the catalogue entries of names, in order (unknown names get an
// empty description).
func (p *Provider) ScopeDescriptions(ctx context.Context, names []string) ([]storage.Scope, error) {
	cat, err := p.cache.scopeCatalogue(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]storage.Scope, 0, len(names))
	for _, n := range names {
		s, ok := cat[n]
		if !ok {
			s = storage.Scope{Name: n}
		}
		out = append(out, s)
	}
	return out, nil
}

var _ = token.Hash
