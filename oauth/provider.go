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
}

// Deps are a Provider's collaborators.
type Deps struct {
	Store  storage.Store
	Keys   *Keyring
	Now    func() time.Time
	Logger *slog.Logger
}

// Provider is an OAuth 2.0 authorization server.
type Provider struct {
	opts   Options
	store  storage.Store
	keys   *Keyring
	now    func() time.Time
	log    *slog.Logger
	grants map[string]grant
	order  []string
	cache  *cache
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
	p := &Provider{opts: opts, store: deps.Store, keys: deps.Keys, now: deps.Now, log: deps.Logger,
		grants: map[string]grant{}}
	p.cache = newCache(deps.Store, opts.CacheTTL, deps.Now)
	all := []grant{clientCredentialsGrant{}}
	enabled := opts.GrantTypes
	for _, g := range all {
		if enabled == nil || slices.Contains(enabled, g.Type()) {
			p.grants[g.Type()] = g
			p.order = append(p.order, g.Type())
		}
	}
	for _, name := range enabled {
		if _, ok := p.grants[name]; !ok {
			return nil, fmt.Errorf("oauth: grant type %q is not implemented", name)
		}
	}
	return p, nil
}

// Metadata is what the Provider implements, for discovery documents.
type Metadata struct {
	Issuer                string
	GrantTypes            []string
	TokenAuthMethods      []string
	AccessTokenAlgorithms []string
}

// Metadata describes the registered features.
func (p *Provider) Metadata() Metadata {
	return Metadata{
		Issuer:                p.opts.Issuer,
		GrantTypes:            slices.Clone(p.order),
		TokenAuthMethods:      []string{AuthMethodBasic, AuthMethodPost},
		AccessTokenAlgorithms: []string{p.opts.AccessTokenAlgorithm},
	}
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
		if scopes, err = p.resolveScopes(ctx, client, req.Scope); err != nil {
			return nil, err
		}
	}
	// 5. The grant does the rest.
	return g.handle(ctx, p, &req, client, scopes)
}

// accessToken is a minted access token.
type accessToken struct {
	value     string
	id        string
	expiresAt time.Time
	// record is the row to store for opaque tokens; nil for JWTs.
	record *storage.Token
}

// mintAccessToken makes an access token in the client's format. Opaque tokens come with the
// record the caller must store (in the same transaction as the grant's other writes).
func (p *Provider) mintAccessToken(ctx context.Context, client *storage.Client, subject string, scopes []string) (accessToken, error) {
	now := p.now().UTC().Truncate(time.Second)
	exp := now.Add(p.opts.AccessTokenLifetime)
	jti, err := newID()
	if err != nil {
		return accessToken{}, ErrServer(err)
	}
	if client.TokenFormat == storage.TokenFormatOpaque {
		v, err := token.NewOpaque(token.PrefixAccessToken)
		if err != nil {
			return accessToken{}, ErrServer(err)
		}
		rec := &storage.Token{ID: jti, Hash: token.Hash(v), Kind: storage.KindAccess, ClientID: client.ID,
			Subject: subject, Scopes: scopes, Audience: p.opts.Audience, IssuedAt: now, ExpiresAt: exp}
		return accessToken{value: v, id: jti, expiresAt: exp, record: rec}, nil
	}
	key, err := p.keys.Signer(ctx, p.opts.AccessTokenAlgorithm)
	if err != nil {
		return accessToken{}, ErrServer(err)
	}
	v, err := token.SignAccessToken(key, token.AccessClaims{
		Issuer: p.opts.Issuer, Subject: subject, Audience: p.opts.Audience, ExpiresAt: exp, IssuedAt: now,
		ID: jti, ClientID: client.ID, Scope: joinScopes(scopes),
	})
	if err != nil {
		return accessToken{}, ErrServer(err)
	}
	return accessToken{value: v, id: jti, expiresAt: exp}, nil
}

// expiresIn is the expires_in of access tokens, in seconds.
func (p *Provider) expiresIn() int64 { return int64(p.opts.AccessTokenLifetime / time.Second) }

// newID returns 128 random bits, base64url.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
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
