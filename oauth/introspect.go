package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// clockSkew is the leeway for exp and nbf of JWTs issued by this server.
const clockSkew = 5 * time.Second

// Introspection is an RFC 7662 response. Inactive tokens carry only Active=false.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	// TokenUse tells access tokens from refresh tokens and personal access tokens
	// ("access_token", "refresh_token", "personal_access_token").
	TokenUse string `json:"token_use,omitempty"`
}

var inactive = &Introspection{Active: false}

// Introspect answers an RFC 7662 request. The caller must be an authenticated confidential
// client (a resource server registered as a client). Anything that is not a valid, unexpired,
// unrevoked token of this server is {"active": false}.
func (p *Provider) Introspect(ctx context.Context, req TokenHandleRequest) (*Introspection, error) {
	caller, err := p.authenticate(ctx, req.Client)
	if err != nil {
		return nil, err
	}
	if caller.Public {
		return nil, ErrInvalidClient("public clients cannot introspect tokens")
	}
	t, err := p.lookup(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return inactive, nil
	}
	if t.stored != nil {
		p.touchPersonal(ctx, t.stored)
	}
	return t.introspection(p.opts.Issuer), nil
}

// found is a token this server issued, valid now.
type found struct {
	jwt    *token.AccessClaims
	stored *storage.Token
}

func (f *found) clientID() string {
	if f.jwt != nil {
		return f.jwt.ClientID
	}
	return f.stored.ClientID
}

func (f *found) introspection(issuer string) *Introspection {
	if c := f.jwt; c != nil {
		r := &Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer",
			Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer,
			Jti: c.ID, TokenUse: storage.KindAccess}
		if !c.NotBefore.IsZero() {
			r.Nbf = c.NotBefore.Unix()
		}
		return r
	}
	t := f.stored
	r := &Introspection{Active: true, Scope: joinScopes(t.Scopes), ClientID: t.ClientID,
		Exp: t.ExpiresAt.Unix(), Iat: t.IssuedAt.Unix(), Sub: t.Subject, Aud: t.Audience, Iss: issuer,
		Jti: t.ID, TokenUse: t.Kind}
	if t.Kind == storage.KindAccess || t.Kind == storage.KindPersonal {
		r.TokenType = "Bearer"
	}
	return r
}

// lookup finds a valid token by its value: a JWT by signature and the deny list, an opaque
// token (access, refresh or personal access token) by its hash. It returns nil, nil for anything invalid, expired or revoked.
func (p *Provider) lookup(ctx context.Context, value string) (*found, error) {
	now := p.now()
	if token.LooksLikeJWT(value) {
		claims, err := p.verifyJWT(ctx, value, now)
		if err != nil || claims == nil {
			return nil, err
		}
		// The deny list and the client are read on every call: revocation takes effect at
		// once, whatever the verification cache holds.
		revoked, err := p.store.IsRevoked(ctx, claims.ID)
		if err != nil {
			return nil, storageError(err)
		}
		if revoked {
			return nil, nil
		}
		if gone, err := p.clientGone(ctx, claims.ClientID); err != nil || gone {
			return nil, err
		}
		return &found{jwt: claims}, nil
	}
	if !token.CheckOpaque(value, token.PrefixAccessToken) && !token.CheckOpaque(value, token.PrefixRefreshToken) &&
		!token.CheckOpaque(value, token.PrefixPersonal) {
		return nil, nil
	}
	t, err := p.store.GetTokenByHash(ctx, token.Hash(value))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storageError(err)
	}
	if !t.RevokedAt.IsZero() || !now.Before(t.ExpiresAt) {
		return nil, nil
	}
	if t.Kind != storage.KindPersonal { // personal tokens belong to a user, not a client
		if gone, err := p.clientGone(ctx, t.ClientID); err != nil || gone {
			return nil, err
		}
	}
	return &found{stored: &t}, nil
}

// verifyJWT checks a JWT access token's signature, header and times, through the cache of
// tokens verified before (jwtcache.go). It returns nil, nil for a token that does not verify.
func (p *Provider) verifyJWT(ctx context.Context, value string, now time.Time) (*token.AccessClaims, error) {
	if len(value) > token.MaxJWTSize {
		return nil, nil // refused before any hashing or parsing
	}
	keys, err := p.keys.PublicKeys(ctx)
	if err != nil {
		return nil, ErrServer(err)
	}
	sum := tokenDigest(value)
	if e := p.jwts.get(sum, keys, now); e != nil {
		claims := e.claims
		return &claims, nil
	}
	claims, err := token.ParseAccessToken(value, keys, p.opts.Issuer, now, clockSkew)
	if errors.Is(err, token.ErrUnknownKeyID) {
		// Perhaps signed by a key another node made since we last loaded the keys:
		// reload (at most once a second) and try once more.
		if keys, err = p.keys.reloadLimited(ctx); err != nil {
			return nil, ErrServer(err)
		}
		claims, err = token.ParseAccessToken(value, keys, p.opts.Issuer, now, clockSkew)
	}
	if err != nil {
		return nil, nil
	}
	p.jwts.put(sum, value, claims, keys, now)
	return &claims, nil
}

// clientGone reports whether the client a token was issued to has been deleted: its tokens
// end with it. Deleting a client deletes its stored tokens, but a JWT lives on its own, so
// this check (through the client cache) is what ends it.
func (p *Provider) clientGone(ctx context.Context, id string) (bool, error) {
	_, err := p.cache.client(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, storageError(err)
	}
	return false, nil
}
