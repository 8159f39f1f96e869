package oauth

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantImplicit          = "implicit"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client authentication methods (RFC 8414 token_endpoint_auth_methods_supported values).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
)

// Limits on request values. The server also limits the body as a whole.
const (
	maxParamLen    = 4096
	maxClientIDLen = 255
)

// ClientCredentials is how a request authenticated its client.
type ClientCredentials struct {
	ID     string
	Secret string
	// Method is AuthMethodBasic, AuthMethodPost or AuthMethodNone (client_id only).
	Method string
}

// TokenRequest is a parsed token endpoint request (RFC 6749 section 4). Parsing checks
// syntax only; Provider.Token decides what the request may do.
type TokenRequest struct {
	GrantType string
	Client    ClientCredentials
	// Scope is the raw scope parameter; empty when omitted. Scopes is it parsed.
	Scope        string
	Scopes       []string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Username     string
	Password     string
	DeviceCode   string
	// RemoteIP is the client's address, set by the server (not a parameter); it keys the
	// password grant's brute-force throttle.
	RemoteIP string
}

// TokenHandleRequest is a parsed introspection (RFC 7662) or revocation (RFC 7009) request.
type TokenHandleRequest struct {
	Client        ClientCredentials
	Token         string
	TokenTypeHint string
}

// ParseTokenRequest parses a token request from the POST body's form values and the value
// of the Authorization header ("" when absent). It is pure: no storage, no clock.
func ParseTokenRequest(form url.Values, authorization string) (TokenRequest, error) {
	if err := checkForm(form); err != nil {
		return TokenRequest{}, err
	}
	client, err := parseClientAuth(form, authorization)
	if err != nil {
		return TokenRequest{}, err
	}
	req := TokenRequest{
		GrantType:    form.Get("grant_type"),
		Client:       client,
		Scope:        form.Get("scope"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		Username:     form.Get("username"),
		Password:     form.Get("password"),
		DeviceCode:   form.Get("device_code"),
	}
	if req.GrantType == "" {
		return TokenRequest{}, ErrInvalidRequest("the grant_type parameter is missing")
	}
	if req.Scopes, err = ParseScope(req.Scope); err != nil {
		return TokenRequest{}, err
	}
	return req, nil
}

// ParseTokenHandleRequest parses an introspection or revocation request.
func ParseTokenHandleRequest(form url.Values, authorization string) (TokenHandleRequest, error) {
	if err := checkForm(form); err != nil {
		return TokenHandleRequest{}, err
	}
	client, err := parseClientAuth(form, authorization)
	if err != nil {
		return TokenHandleRequest{}, err
	}
	req := TokenHandleRequest{Client: client, Token: form.Get("token"), TokenTypeHint: form.Get("token_type_hint")}
	if req.Token == "" {
		return TokenHandleRequest{}, ErrInvalidRequest("the token parameter is missing")
	}
	return req, nil
}

// checkForm refuses repeated parameters (RFC 6749 section 3.2: parameters MUST NOT be
// included more than once) and oversize values.
func checkForm(form url.Values) error {
	for k, vs := range form {
		if len(vs) > 1 {
			return ErrInvalidRequest("the %s parameter is repeated", safeName(k))
		}
		if len(vs) == 1 && len(vs[0]) > maxParamLen {
			return ErrInvalidRequest("the %s parameter is too long", safeName(k))
		}
	}
	return nil
}

// safeName keeps a client-supplied parameter name printable and short for error messages.
func safeName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// parseClientAuth reads client_secret_basic (RFC 6749 2.3.1: the id and secret are
// form-urlencoded before base64) or client_secret_post, or a bare client_id. Using more than
// one method is an error (RFC 6749 2.3).
func parseClientAuth(form url.Values, authorization string) (ClientCredentials, error) {
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	_, hasSecret := form["client_secret"]
	if authorization != "" {
		scheme, rest, _ := strings.Cut(authorization, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return ClientCredentials{}, ErrInvalidClient("the Authorization header must use the Basic scheme")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return ClientCredentials{}, ErrInvalidClient("the Authorization header is not valid base64")
		}
		encID, encSecret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return ClientCredentials{}, ErrInvalidClient("the Authorization header has no client secret")
		}
		id, err1 := url.QueryUnescape(encID)
		secret, err2 := url.QueryUnescape(encSecret)
		if err1 != nil || err2 != nil {
			return ClientCredentials{}, ErrInvalidClient("the client credentials in the Authorization header are not form-urlencoded")
		}
		if hasSecret {
			return ClientCredentials{}, ErrInvalidRequest("the client authenticated with more than one method")
		}
		if formID != "" && formID != id {
			return ClientCredentials{}, ErrInvalidRequest("client_id does not match the Authorization header")
		}
		if err := checkClientID(id); err != nil {
			return ClientCredentials{}, err
		}
		return ClientCredentials{ID: id, Secret: secret, Method: AuthMethodBasic}, nil
	}
	if formID == "" {
		return ClientCredentials{}, ErrInvalidClient("client authentication is missing")
	}
	if err := checkClientID(formID); err != nil {
		return ClientCredentials{}, err
	}
	if hasSecret {
		return ClientCredentials{ID: formID, Secret: formSecret, Method: AuthMethodPost}, nil
	}
	return ClientCredentials{ID: formID, Method: AuthMethodNone}, nil
}

func checkClientID(id string) error {
	if id == "" || len(id) > maxClientIDLen {
		return ErrInvalidClient("the client_id is missing or too long")
	}
	return nil
}

// ParseScope splits a scope parameter (RFC 6749 3.3) into its scope tokens, refusing
// characters outside the scope-token syntax. Duplicates are removed; order is kept.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, " ")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			continue
		}
		if !ValidScopeToken(p) {
			return nil, ErrInvalidScope("the scope %q is not a valid scope token", safeName(p))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// parsedScopes returns the scopes of a request: parsed, as the Parse functions leave them,
// or parsed now from raw for a request an embedder built by hand.
func parsedScopes(parsed []string, raw string) ([]string, error) {
	if parsed != nil || raw == "" {
		return parsed, nil
	}
	return ParseScope(raw)
}

// ValidScopeToken reports whether s is a scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
