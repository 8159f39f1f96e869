// Package oauth is Gatehouse's protocol core: the embeddable authorization server. It parses
// and validates requests, authenticates clients, runs grants and mints tokens. It knows no SQL
// and no HTML and never sees an *http.Request: the server package decodes HTTP into the
// request types here and writes the results back.
package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Options configure a Provider.
type Options struct {
	// Issuer is the issuer identifier (iss of every token), an absolute URL.
	Issuer string
	// AccessTokenLifetime defaults to one hour.
	AccessTokenLifetime time.Duration
	// AccessTokenAlgorithm signs JWT access tokens; default ES256.
	AccessTokenAlgorithm string
	// Audience is the aud of access tokens; default [Issuer].
	Audience []string
	// GrantTypes enables grants by name; default every grant this package implements.
	GrantTypes []string
	// CacheTTL bounds how long clients and the scope catalogue are cached in memory:
	// 0 means 2 seconds, a negative value turns the cache off.
	CacheTTL time.Duration
	// RefreshTokenLifetime defaults to 30 days; CodeLifetime to 60 seconds.
	RefreshTokenLifetime time.Duration
	CodeLifetime         time.Duration
	// PKCEOptional lets confidential clients omit PKCE (public clients never may).
	PKCEOptional bool
	// AllowPlainPKCE accepts code_challenge_method=plain.
	AllowPlainPKCE bool
	// DeviceCodeLifetime is how long a device code and its user code are valid (RFC 8628);
	// default 10 minutes. DevicePollInterval is the polling interval announced to devices,
	// in whole seconds; default 5 seconds.
	DeviceCodeLifetime time.Duration
	DevicePollInterval time.Duration
	// PersonalTokenMaxLifetime is the longest lifetime of a personal access token; default
	// 365 days (DefaultPersonalTokenMaxLifetime).
	PersonalTokenMaxLifetime time.Duration
}

// implicitEnabled reports whether the implicit grant (front-channel tokens) is enabled: only
// when GrantTypes names it, since RFC 9700 deprecates it.
func (o *Options) implicitEnabled() bool { return slices.Contains(o.GrantTypes, GrantImplicit) }

// Deps are a Provider's collaborators.
type Deps struct {
	Store  storage.Store
	Keys   *Keyring
	Now    func() time.Time
	Logger *slog.Logger
	// Sealer seals authorization requests on their way through the login and consent
	// pages; required for the authorization endpoint.
	Sealer *token.Sealer
	// IDTokens mints OpenID Connect ID tokens; without it the openid scope yields none.
	IDTokens IDTokenMinter
	// Users is the user store; default Store. Applications may plug in their own.
	Users storage.Users
	// Throttle slows down repeated sign-in failures; default in memory.
	Throttle Throttle
	// Events receives a token.issued event for every issuance (token endpoint grants and
	// the tokens of the authorization endpoint), off the request path: an AuditBatcher.
	// Nil records no token.issued events.
	Events Events
}

// Provider is an OAuth 2.0 authorization server.
type Provider struct {
	opts     Options
	store    storage.Store
	keys     *Keyring
	now      func() time.Time
	log      *slog.Logger
	sealer   *token.Sealer
	idTokens IDTokenMinter
	users    storage.Users
	// usersInStore: the users live in Store, so reads inside a transaction go through it.
	usersInStore bool
	throttle     Throttle
	events       Events
	grants       map[string]grant
	order        []string
	cache        *cache
	// tokens writes the opaque tokens of the client credentials grant with group commit.
	tokens *tokenWriter
	// jwts caches JWT access tokens whose signature verified, for introspection.
	jwts *jwtCache
}

// New returns a Provider.
func New(opts Options, deps Deps) (*Provider, error) {
	if opts.Issuer == "" {
		return nil, errors.New("oauth: Options.Issuer is required")
	}
	if deps.Store == nil || deps.Keys == nil {
		return nil, errors.New("oauth: Deps.Store and Deps.Keys are required")
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = time.Hour
	}
	if opts.AccessTokenAlgorithm == "" {
		opts.AccessTokenAlgorithm = token.ES256
	}
	if !token.SupportedAlgorithm(opts.AccessTokenAlgorithm) {
		return nil, fmt.Errorf("oauth: unsupported access token algorithm %q", opts.AccessTokenAlgorithm)
	}
	if len(opts.Audience) == 0 {
		opts.Audience = []string{opts.Issuer}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 2 * time.Second
	}
	if opts.RefreshTokenLifetime <= 0 {
		opts.RefreshTokenLifetime = 30 * 24 * time.Hour
	}
	if opts.CodeLifetime <= 0 {
		opts.CodeLifetime = time.Minute
	}
	if opts.DeviceCodeLifetime <= 0 {
		opts.DeviceCodeLifetime = DefaultDeviceCodeLifetime
	}
	if opts.DevicePollInterval <= 0 {
		opts.DevicePollInterval = DefaultDevicePollInterval
	}
	if opts.PersonalTokenMaxLifetime <= 0 {
		opts.PersonalTokenMaxLifetime = DefaultPersonalTokenMaxLifetime
	}
	opts.DevicePollInterval = max(opts.DevicePollInterval.Truncate(time.Second), time.Second)
	usersInStore := deps.Users == nil
	if usersInStore {
		deps.Users = deps.Store
	}
	if deps.Throttle == nil {
		deps.Throttle = NewMemoryThrottle()
	}
	// Every audit event the Provider writes is also logged, after its transaction commits.
	store := deps.Store
	if deps.Logger.Handler() != slog.DiscardHandler {
		store = AuditLogged(store, deps.Logger)
	}
	p := &Provider{opts: opts, store: store, keys: deps.Keys, now: deps.Now, log: deps.Logger,
		sealer: deps.Sealer, idTokens: deps.IDTokens, users: deps.Users, usersInStore: usersInStore, throttle: deps.Throttle,
		events: deps.Events, grants: map[string]grant{}}
	p.cache = newCache(deps.Store, opts.CacheTTL, deps.Now)
	p.tokens = newTokenWriter(p.store, defaultWriteBatch, writeConcurrency(deps.Store))
	p.jwts = newJWTCache()
	all := []grant{clientCredentialsGrant{}, authorizationCodeGrant{}, refreshTokenGrant{}, passwordGrant{}, deviceCodeGrant{}}
	enabled := opts.GrantTypes
	if enabled == nil {
		// Every grant but the legacy ones that must be asked for by name.
		enabled = []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode}
		p.opts.GrantTypes = enabled
	}
	for _, g := range all {
		if slices.Contains(enabled, g.Type()) {
			p.grants[g.Type()] = g
			p.order = append(p.order, g.Type())
		}
	}
	for _, name := range enabled {
		if _, ok := p.grants[name]; !ok && name != GrantImplicit {
			return nil, fmt.Errorf("oauth: grant type %q is not implemented", name)
		}
	}
	if _, ok := p.grants[GrantAuthorizationCode]; ok && deps.Sealer == nil {
		return nil, errors.New("oauth: the authorization_code grant needs Deps.Sealer")
	}
	return p, nil
}

// Metadata is what the Provider implements, for discovery documents.
type Metadata struct {
	Issuer                string
	GrantTypes            []string
	TokenAuthMethods      []string
	AccessTokenAlgorithms []string
	// The authorization endpoint's features; empty when no grant uses it.
	ResponseTypes        []string
	ResponseModes        []string
	CodeChallengeMethods []string
	// OpenID reports whether ID tokens are issued (Deps.IDTokens set).
	OpenID bool
	// DeviceAuthorization reports whether the device grant is enabled, and with it the
	// device authorization endpoint and the verification page (RFC 8628).
	DeviceAuthorization bool
}

// Metadata describes the registered features.
func (p *Provider) Metadata() Metadata {
	m := Metadata{
		Issuer:                p.opts.Issuer,
		GrantTypes:            slices.Clone(p.order),
		TokenAuthMethods:      []string{AuthMethodBasic, AuthMethodPost},
		AccessTokenAlgorithms: []string{p.opts.AccessTokenAlgorithm},
		OpenID:                p.idTokens != nil,
		DeviceAuthorization:   p.deviceEnabled(),
	}
	_, code := p.grants[GrantAuthorizationCode]
	if p.opts.implicitEnabled() {
		m.GrantTypes = append(m.GrantTypes, GrantImplicit)
	}
	for _, rt := range responseTypes {
		hasCode, hasToken := strings.Contains(rt, "code"), strings.Contains(rt, "token")
		if hasCode && !code || hasToken && !p.opts.implicitEnabled() || strings.Contains(rt, "id_token") && !m.OpenID {
			continue
		}
		m.ResponseTypes = append(m.ResponseTypes, rt)
	}
	if len(m.ResponseTypes) > 0 {
		m.ResponseModes = []string{ModeQuery, ModeFragment, ModeFormPost}
		m.CodeChallengeMethods = []string{PKCES256}
		if p.opts.AllowPlainPKCE {
			m.CodeChallengeMethods = append(m.CodeChallengeMethods, PKCEPlain)
		}
	}
	if _, ok := p.grants[GrantAuthorizationCode]; ok || p.grants[GrantRefreshToken] != nil || p.grants[GrantPassword] != nil || p.deviceEnabled() {
		m.TokenAuthMethods = append(m.TokenAuthMethods, AuthMethodNone)
	}
	return m
}

// ScopeCatalogue returns the known scopes (the stored ones and the OpenID Connect ones) by
// name, for discovery and pages.
func (p *Provider) ScopeCatalogue(ctx context.Context) (map[string]storage.Scope, error) {
	return p.cache.scopeCatalogue(ctx)
}

// Issuer returns the issuer identifier.
func (p *Provider) Issuer() string { return p.opts.Issuer }

// Keys returns the Provider's keyring.
func (p *Provider) Keys() *Keyring { return p.keys }

// InvalidateClient drops a client from the in-memory cache (call after changing it).
func (p *Provider) InvalidateClient(id string) { p.cache.invalidateClient(id) }

// InvalidateScopes drops the cached scope catalogue.
func (p *Provider) InvalidateScopes() { p.cache.invalidateScopes() }

// TokenResponse is a successful token response (RFC 6749 5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`

	// For the token.issued audit event (never sent): the subject, the access token's id
	// (jti) and the grant id of a user grant.
	subject, tokenID, grantID string
}

// Token runs a token request: authenticate the client, pick the grant, check that the client
// may use it, resolve the scopes, and let the grant issue the tokens.
func (p *Provider) Token(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	// 1. Authenticate the client.
	client, err := p.authenticate(ctx, req.Client)
	if err != nil {
		return nil, err
	}
	// 2. Pick the grant.
	g, ok := p.grants[req.GrantType]
	if !ok {
		return nil, ErrUnsupportedGrantType("the grant type %q is not supported", safeName(req.GrantType))
	}
	// 3. The client must be allowed the grant; public clients only the grants made for them.
	if !slices.Contains(client.GrantTypes, g.Type()) {
		return nil, ErrUnauthorizedClient("the client is not allowed the %s grant", g.Type())
	}
	if client.Public && !g.allowsPublic() {
		return nil, ErrUnauthorizedClient("public clients cannot use the %s grant", g.Type())
	}
	// 4. Resolve the scopes for grants that take them from the request.
	var scopes []string
	if g.scopeFromRequest() {
		requested, err := parsedScopes(req.Scopes, req.Scope)
		if err != nil {
			return nil, err
		}
		if scopes, err = p.resolveScopes(ctx, client, requested); err != nil {
			return nil, err
		}
	}
	// 5. The grant does the rest.
	resp, err := g.handle(ctx, p, &req, client, scopes)
	if err != nil {
		return nil, err
	}
	// 6. Audit the issuance, off the request path.
	p.recordIssued(client.ID, g.Type(), "", client, resp)
	return resp, nil
}

// accessToken is a minted access token.
type accessToken struct {
	value    string
	opaque   bool // opaque tokens must be stored; JWTs may be (user grants record them)
	claims   token.AccessClaims
	subject  string
	clientID string
	scopes   []string
}

// record is the row that stores the token by hash. Opaque tokens must be stored; user grants
// store JWTs too, so that revoking the grant can deny-list them. The client credentials
// grant stores no JWT, keeping its hot path free of writes.
func (a *accessToken) record() storage.Token {
	return storage.Token{ID: a.claims.ID, Hash: token.Hash(a.value), Kind: storage.KindAccess, ClientID: a.clientID,
		Subject: a.subject, Scopes: a.scopes, Audience: a.claims.Audience, IssuedAt: a.claims.IssuedAt,
		ExpiresAt: a.claims.ExpiresAt}
}

// mintAccessToken makes an access token in the client's format.
func (p *Provider) mintAccessToken(ctx context.Context, client *storage.Client, subject string, scopes []string) (accessToken, error) {
	now := p.now().UTC().Truncate(time.Second)
	jti, err := NewID()
	if err != nil {
		return accessToken{}, ErrServer(err)
	}
	at := accessToken{subject: subject, clientID: client.ID, scopes: scopes, claims: token.AccessClaims{
		Issuer: p.opts.Issuer, Subject: subject, Audience: p.opts.Audience, ExpiresAt: now.Add(p.opts.AccessTokenLifetime),
		IssuedAt: now, ID: jti, ClientID: client.ID, Scope: joinScopes(scopes)}}
	if client.TokenFormat == storage.TokenFormatOpaque {
		if at.value, err = token.NewOpaque(token.PrefixAccessToken); err != nil {
			return accessToken{}, ErrServer(err)
		}
		at.opaque = true
		return at, nil
	}
	key, err := p.keys.Signer(ctx, p.opts.AccessTokenAlgorithm)
	if err != nil {
		return accessToken{}, ErrServer(err)
	}
	if at.value, err = token.SignAccessToken(key, at.claims); err != nil {
		return accessToken{}, ErrServer(err)
	}
	return at, nil
}

// expiresIn is the expires_in of access tokens, in seconds.
func (p *Provider) expiresIn() int64 { return int64(p.opts.AccessTokenLifetime / time.Second) }

// NewID returns 128 random bits in base64url: the ids of tokens, grants and users. An id
// never starts with '-', so command lines never mistake one for a flag.
func NewID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

// storageError turns a storage failure into the OAuth error to send.
func storageError(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable(err)
	}
	return ErrServer(err)
}
