package admin

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// ValidationError is one invalid field. Field is the input's key path in snake case, as in the
// configuration file and the admin API: "grant_types[1]", "clients[2].redirect_uris[0]".
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ValidationErrors is every problem found in one input. errors.As finds it, and also finds its
// first *ValidationError.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Unwrap returns the individual errors.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// problems collects ValidationErrors under a field prefix.
type problems struct {
	prefix string
	list   ValidationErrors
}

func (p *problems) add(field, format string, args ...any) {
	f := field
	if p.prefix != "" {
		f = p.prefix + "." + field
		if field == "" {
			f = p.prefix
		}
	}
	p.list = append(p.list, &ValidationError{Field: f, Message: fmt.Sprintf(format, args...)})
}

// err returns the collected problems, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}

// Limits on management input.
const (
	maxClientIDLen    = 255 // what the token endpoint accepts
	maxNameLen        = 200
	maxDescriptionLen = 1000
	maxURILen         = 2000
	maxListLen        = 100
)

// grantTypes are the grant types a client may be given: those the oauth package implements or
// will. "device_code" is accepted as a short name of the device grant's URN.
var grantTypes = []string{
	oauth.GrantClientCredentials,
	oauth.GrantAuthorizationCode,
	oauth.GrantRefreshToken,
	oauth.GrantPassword,
	oauth.GrantImplicit,
	oauth.GrantDeviceCode,
}

// GrantTypes returns the grant type names a client may be given.
func GrantTypes() []string { return slices.Clone(grantTypes) }

// normalizeGrant maps short names to the registered grant type.
func normalizeGrant(g string) string {
	if g == "device_code" {
		return oauth.GrantDeviceCode
	}
	return g
}

// dedupe trims the elements, drops empty ones and duplicates, keeps the order; it returns nil
// for an empty result.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// normalizeClient trims and de-duplicates a client's fields and fills defaults.
func normalizeClient(c *storage.Client) {
	c.ID = strings.TrimSpace(c.ID)
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		c.Name = c.ID
	}
	for i, g := range c.GrantTypes {
		c.GrantTypes[i] = normalizeGrant(strings.TrimSpace(g))
	}
	c.GrantTypes = dedupe(c.GrantTypes)
	c.Scopes = dedupe(c.Scopes)
	c.RedirectURIs = dedupe(c.RedirectURIs)
	c.PostLogoutRedirectURIs = dedupe(c.PostLogoutRedirectURIs)
	c.TokenFormat = strings.ToLower(strings.TrimSpace(c.TokenFormat))
	if c.TokenFormat == "" {
		c.TokenFormat = storage.TokenFormatJWT
	}
}

// validClientID reports whether id is 1 to 255 visible ASCII characters (RFC 6749 appendix
// A.1 allows VSCHAR; we also refuse the space, which breaks Basic authentication tools).
func validClientID(id string) bool {
	if id == "" || len(id) > maxClientIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkText checks a human-readable name or description.
func checkText(p *problems, field, s string, limit int) {
	if !utf8.ValidString(s) {
		p.add(field, "must be valid UTF-8")
		return
	}
	if utf8.RuneCountInString(s) > limit {
		p.add(field, "must be at most %d characters", limit)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		p.add(field, "must not contain control characters")
	}
}

// checkClient validates a normalized client, except for the existence of its scopes
// (checkScopesExist) and its secret.
func checkClient(p *problems, c *storage.Client) {
	if !validClientID(c.ID) {
		p.add("id", "must be 1 to %d visible ASCII characters (no spaces)", maxClientIDLen)
	} else if c.ID == "." || c.ID == ".." {
		p.add("id", "must not be . or .. (they cannot be a segment of the admin API's URLs)")
	}
	checkText(p, "name", c.Name, maxNameLen)

	if len(c.GrantTypes) == 0 {
		p.add("grant_types", "at least one grant type is required (one of %s)", strings.Join(grantTypes, ", "))
	}
	if len(c.GrantTypes) > len(grantTypes) {
		p.add("grant_types", "too many grant types")
	}
	for i, g := range c.GrantTypes {
		if !slices.Contains(grantTypes, g) {
			p.add(fmt.Sprintf("grant_types[%d]", i), "unknown grant type %q (want one of %s)", clip(g), strings.Join(grantTypes, ", "))
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	if c.Public && has(oauth.GrantClientCredentials) {
		p.add("grant_types", "public clients cannot use client_credentials: they have no secret to authenticate with")
	}
	if has(oauth.GrantRefreshToken) && !has(oauth.GrantAuthorizationCode) && !has(oauth.GrantPassword) && !has(oauth.GrantDeviceCode) {
		p.add("grant_types", "refresh_token needs a grant that issues refresh tokens (authorization_code, password or device_code)")
	}
	if (has(oauth.GrantAuthorizationCode) || has(oauth.GrantImplicit)) && len(c.RedirectURIs) == 0 {
		p.add("redirect_uris", "authorization_code and implicit need at least one redirect URI")
	}

	if len(c.Scopes) > maxListLen {
		p.add("scopes", "at most %d scopes", maxListLen)
	}
	for i, s := range c.Scopes {
		if !oauth.ValidScopeToken(s) {
			p.add(fmt.Sprintf("scopes[%d]", i), "%q is not a valid scope name (visible ASCII without spaces, quotes or backslashes)", clip(s))
		}
	}
	checkURIs(p, "redirect_uris", c.RedirectURIs)
	checkURIs(p, "post_logout_redirect_uris", c.PostLogoutRedirectURIs)

	if c.TokenFormat != storage.TokenFormatJWT && c.TokenFormat != storage.TokenFormatOpaque {
		p.add("token_format", "must be %q or %q", storage.TokenFormatJWT, storage.TokenFormatOpaque)
	}
}

// checkScopesExist reports the client's scopes that are not in the catalogue.
func checkScopesExist(p *problems, scopes []string, catalogue map[string]bool) {
	for i, s := range scopes {
		if oauth.ValidScopeToken(s) && !catalogue[s] {
			p.add(fmt.Sprintf("scopes[%d]", i), "scope %q does not exist; create it first", s)
		}
	}
}

func checkURIs(p *problems, field string, uris []string) {
	if len(uris) > maxListLen {
		p.add(field, "at most %d URIs", maxListLen)
		return
	}
	for i, u := range uris {
		if msg := redirectURIProblem(u); msg != "" {
			p.add(fmt.Sprintf("%s[%d]", field, i), "%s", msg)
		}
	}
}

// schemes that must never be redirected to.
var forbiddenSchemes = []string{"javascript", "data", "vbscript", "file", "blob", "about", "ws", "wss"}

// redirectURIProblem checks one redirect URI (RFC 6749 3.1.2, RFC 8252, RFC 9700 2.1): absolute,
// no fragment, no user information; http only for loopback hosts; https; or a private-use scheme
// for native apps ("com.example.app:/callback"). It returns "" when the URI is acceptable.
func redirectURIProblem(raw string) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > maxURILen {
		return fmt.Sprintf("must be at most %d characters", maxURILen)
	}
	for _, r := range raw {
		if r <= 0x20 || r >= 0x7f {
			return "must not contain spaces, control or non-ASCII characters (percent-encode them)"
		}
	}
	if strings.Contains(raw, "#") {
		return "must not contain a fragment (#)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URI"
	}
	if !u.IsAbs() {
		return "must be an absolute URI with a scheme"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
		if u.Hostname() == "" {
			return "https URI needs a host"
		}
	case scheme == "http":
		if !isLoopback(u.Hostname()) {
			return "http is allowed only for loopback hosts (127.0.0.1, [::1], localhost); use https"
		}
	case slices.Contains(forbiddenSchemes, scheme):
		return fmt.Sprintf("the %s scheme is not allowed", scheme)
	default:
		// Private-use scheme of a native app (RFC 8252 7.1).
		if u.Opaque == "" && u.Path == "" && u.Host == "" {
			return "private-use scheme URI needs a path (e.g. com.example.app:/callback)"
		}
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkScope validates a scope's name and description.
func checkScope(p *problems, s *storage.Scope) {
	if !oauth.ValidScopeToken(s.Name) {
		p.add("name", "%q is not a valid scope name (visible ASCII without spaces, quotes or backslashes)", clip(s.Name))
	} else if len(s.Name) > maxNameLen {
		p.add("name", "must be at most %d characters", maxNameLen)
	}
	checkText(p, "description", s.Description, maxDescriptionLen)
}

// clip keeps user input in messages short.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
