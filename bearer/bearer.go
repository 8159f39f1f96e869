package bearer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits and defaults.
const (
	// MaxTokenSize is the longest token Verify accepts, in bytes.
	MaxTokenSize = 16 << 10

	defaultLeeway          = 30 * time.Second
	defaultHTTPTimeout     = 10 * time.Second
	defaultIntrospectTTL   = 30 * time.Second
	maxIntrospectTTL       = 5 * time.Minute
	inactiveIntrospectTTL  = 5 * time.Second
	maxCacheEntries        = 10000
	defaultRefreshInterval = 5 * time.Minute
	// minRefetchInterval is the least time between two fetches of the key set, whatever
	// triggers them (an unknown kid, the periodic refresh or a failed fetch's retry).
	minRefetchInterval = 10 * time.Second
	defaultRealm       = "api"
)

// Config configures a Verifier. Issuer and Audience are required.
type Config struct {
	// Issuer is the authorization server's issuer identifier. Its metadata is read from
	// Issuer + "/.well-known/openid-configuration", or failing that from the RFC 8414
	// oauth-authorization-server document, and must name the same issuer.
	Issuer string
	// Audience must equal one of the token's aud values. Gatehouse access tokens carry the
	// issuer URL unless the server's Audience option says otherwise.
	Audience string
	// Algorithms are the JWS algorithms accepted; default ES256, RS256, PS256 and EdDSA.
	// Allowed: ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA. none
	// and the HMAC algorithms are refused.
	Algorithms []string
	// Leeway is the clock skew allowed for exp, nbf and iat; default 30s.
	Leeway time.Duration
	// HTTPClient fetches the metadata and keys and calls the introspection endpoint;
	// default a client with a 10 second timeout.
	HTTPClient *http.Client

	// IntrospectionClientID and IntrospectionClientSecret are the credentials of a
	// confidential client, sent with HTTP Basic authentication (RFC 6749 section 2.3.1) to
	// the issuer's introspection endpoint (RFC 7662). Without them opaque tokens are refused.
	IntrospectionClientID     string
	IntrospectionClientSecret string
	// IntrospectionCacheTTL bounds how long an introspection answer is reused; default 30s,
	// at most 5 minutes, negative to turn the cache off. Active answers are never kept past
	// the token's exp; inactive ones are kept for at most 5 seconds. The cache holds at most
	// 10,000 tokens (by SHA-256).
	IntrospectionCacheTTL time.Duration

	// AllowFormToken accepts the token in an application/x-www-form-urlencoded body
	// (RFC 6750 section 2.2); AllowQueryToken in the access_token query parameter
	// (section 2.3). Both are off: a query token is then refused with invalid_request, and a
	// form body is not read.
	AllowFormToken  bool
	AllowQueryToken bool

	// Realm is the realm of the WWW-Authenticate challenge; default "api".
	Realm string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// JWKSRefreshInterval is how often the key set is fetched again; default 5 minutes,
	// at least 10 seconds.
	JWKSRefreshInterval time.Duration
}

// Errors returned by Verify, matched with errors.Is. The message of the returned error also
// says why.
var (
	// ErrInvalidToken: the token is malformed, not signed by the issuer, expired, for another
	// audience, or inactive.
	ErrInvalidToken = errors.New("bearer: invalid token")
	// ErrUnavailable: the token could not be checked (the introspection endpoint or the key
	// set could not be reached). Not the client's fault.
	ErrUnavailable = errors.New("bearer: token cannot be checked now")
)

// verifyError is what Verify returns. desc is a fixed sentence, safe to show the client.
type verifyError struct {
	desc        string
	cause       error
	unavailable bool
}

func (e *verifyError) Error() string {
	kind := ErrInvalidToken
	if e.unavailable {
		kind = ErrUnavailable
	}
	if e.cause != nil {
		return kind.Error() + ": " + e.desc + ": " + e.cause.Error()
	}
	return kind.Error() + ": " + e.desc
}

func (e *verifyError) Unwrap() error { return e.cause }

func (e *verifyError) Is(target error) bool {
	return (target == ErrInvalidToken && !e.unavailable) || (target == ErrUnavailable && e.unavailable)
}

func invalid(desc string, cause error) *verifyError { return &verifyError{desc: desc, cause: cause} }

func unavailable(desc string, cause error) *verifyError {
	return &verifyError{desc: desc, cause: cause, unavailable: true}
}

// Claims are the claims of a verified token.
//
// A Verifier may hand the same Raw map and slices to several callers (cached introspection
// answers): treat Claims as read-only.
type Claims struct {
	Issuer    string   // iss
	Subject   string   // sub
	ClientID  string   // client_id
	Scope     string   // scope, space separated
	ID        string   // jti
	Audience  []string // aud
	ExpiresAt time.Time
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time // zero when absent
	// Scopes are the scope values: the fields of Scope, or the scp claim's values when a
	// token carries scp (as some issuers do) instead of scope.
	Scopes []string
	// Opaque is true when the token was checked by introspection rather than as a JWT.
	Opaque bool
	// Raw holds every claim of the JWT payload, or every member of the introspection answer.
	Raw map[string]any
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool {
	return c != nil && slices.Contains(c.Scopes, s)
}

// Verifier verifies bearer tokens of one issuer for one audience. It is safe for concurrent use.
type Verifier struct {
	issuer     string
	audience   string
	algs       []jose.SignatureAlgorithm
	leeway     time.Duration
	client     *http.Client
	now        func() time.Time
	realm      string
	allowForm  bool
	allowQuery bool

	jwks *jwksCache
	// introspection is nil when no credentials are configured.
	introspection *introspector
}

// New checks cfg, reads the issuer's metadata and fetches its key set. ctx bounds these
// first requests only.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	md, err := v.discover(ctx)
	if err != nil {
		return nil, err
	}
	refresh := cfg.JWKSRefreshInterval
	if refresh == 0 {
		refresh = defaultRefreshInterval
	}
	refresh = max(refresh, minRefetchInterval)
	v.jwks = newJWKSCache(md.JWKSURI, v.client, v.now, refresh)
	if err := v.jwks.init(ctx); err != nil {
		return nil, err
	}
	if cfg.IntrospectionClientID != "" {
		if md.IntrospectionEndpoint == "" {
			return nil, fmt.Errorf("bearer: introspection credentials are set but the metadata of %s has no introspection_endpoint", v.issuer)
		}
		if err := checkEndpoint(md.IntrospectionEndpoint); err != nil {
			return nil, fmt.Errorf("bearer: introspection_endpoint: %w", err)
		}
		ttl := cfg.IntrospectionCacheTTL
		if ttl == 0 {
			ttl = defaultIntrospectTTL
		}
		ttl = min(ttl, maxIntrospectTTL)
		v.introspection = &introspector{
			endpoint: md.IntrospectionEndpoint,
			auth:     basicAuth(cfg.IntrospectionClientID, cfg.IntrospectionClientSecret),
			ttl:      ttl,
			entries:  map[[32]byte]cacheEntry{},
			inflight: map[[32]byte]*call{},
		}
	}
	return v, nil
}

// newVerifier checks cfg and fills in the defaults.
func newVerifier(cfg Config) (*Verifier, error) {
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		return nil, errors.New("bearer: Config.Audience is required")
	}
	names := cfg.Algorithms
	if len(names) == 0 {
		names = []string{"ES256", "RS256", "PS256", "EdDSA"}
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range names {
		if !allowedAlgorithm(a) {
			return nil, fmt.Errorf("bearer: Config.Algorithms: %q is not an allowed signature algorithm", a)
		}
		if !slices.Contains(algs, jose.SignatureAlgorithm(a)) {
			algs = append(algs, jose.SignatureAlgorithm(a))
		}
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("bearer: Config.Leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = defaultLeeway
	}
	if cfg.JWKSRefreshInterval < 0 {
		return nil, errors.New("bearer: Config.JWKSRefreshInterval must not be negative")
	}
	if (cfg.IntrospectionClientID == "") != (cfg.IntrospectionClientSecret == "") {
		return nil, errors.New("bearer: set both Config.IntrospectionClientID and Config.IntrospectionClientSecret, or neither")
	}
	if cfg.Realm == "" {
		cfg.Realm = defaultRealm
	}
	if !quotable(cfg.Realm) {
		return nil, errors.New("bearer: Config.Realm must be printable ASCII without quotes or backslashes")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		algs:       algs,
		leeway:     cfg.Leeway,
		client:     cfg.HTTPClient,
		now:        cfg.Now,
		realm:      cfg.Realm,
		allowForm:  cfg.AllowFormToken,
		allowQuery: cfg.AllowQueryToken,
	}, nil
}

func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("bearer: Config.Issuer is required")
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("bearer: Config.Issuer: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("bearer: Config.Issuer %q must be an http or https URL without query or fragment", issuer)
	}
	return nil
}

// allowedAlgorithm reports whether alg is an asymmetric JWS algorithm go-jose verifies.
func allowedAlgorithm(alg string) bool {
	switch jose.SignatureAlgorithm(alg) {
	case jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512, jose.EdDSA:
		return true
	}
	return false
}

// basicAuth is the Authorization value of RFC 6749 section 2.3.1: the client id and secret
// are form-encoded before they are joined and base64-encoded.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// quotable reports whether s can go inside a quoted-string of a challenge as is: printable
// ASCII without '"' and '\' (which also fits RFC 6750's error_description and scope syntax).
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Verify checks token and returns its claims. Errors match ErrInvalidToken or ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	switch {
	case token == "":
		return nil, invalid("the token is empty", nil)
	case len(token) > MaxTokenSize:
		return nil, invalid("the token is too large", nil)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= 0x20 || c > 0x7e {
			return nil, invalid("the token is malformed", nil)
		}
	}
	if looksLikeJWT(token) {
		return v.verifyJWT(ctx, token)
	}
	if v.introspection == nil {
		return nil, invalid("the token is not a JWT and introspection is not configured", nil)
	}
	return v.verifyOpaque(ctx, token)
}

// looksLikeJWT reports whether s is shaped like a compact JWS: three segments of base64url
// characters separated by two dots. Empty segments count, so that "header.payload." (alg
// none) goes to the JWT checks and is refused there.
func looksLikeJWT(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// checkEndpoint accepts absolute http and https URLs.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	return nil
}

// scopeList splits a space-separated scope string.
func scopeList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
