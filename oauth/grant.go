package oauth

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// grant is one grant type. The dispatcher (Provider.Token) owns client authentication, the
// grant allow-list and scope resolution, so a grant only does what is unique to it and cannot
// forget a shared check.
type grant interface {
	// Type is the grant_type value.
	Type() string
	// allowsPublic reports whether public clients may use the grant.
	allowsPublic() bool
	// scopeFromRequest reports whether the dispatcher resolves the scope parameter for the
	// grant (client credentials, password), rather than the grant taking scopes from what
	// it redeems (a code, a refresh token).
	scopeFromRequest() bool
	handle(ctx context.Context, p *Provider, req *TokenRequest, client *storage.Client, scopes []string) (*TokenResponse, error)
}

// clientCredentialsGrant is RFC 6749 4.4: the client acts on its own behalf.
type clientCredentialsGrant struct{}

func (clientCredentialsGrant) Type() string           { return GrantClientCredentials }
func (clientCredentialsGrant) allowsPublic() bool     { return false }
func (clientCredentialsGrant) scopeFromRequest() bool { return true }

func (clientCredentialsGrant) handle(ctx context.Context, p *Provider, _ *TokenRequest, client *storage.Client, scopes []string) (*TokenResponse, error) {
	// The subject is the client itself: the OpenID Connect scopes, which speak of a user,
	// are never granted here (else userinfo might read a user whose id is the client's).
	for _, s := range scopes {
		if isUserScope(s) {
			return nil, ErrInvalidScope("the scope %q needs a user; the client_credentials grant has none", s)
		}
	}
	at, err := p.mintAccessToken(ctx, client, client.ID, scopes)
	if err != nil {
		return nil, err
	}
	// A JWT needs no row: nothing is written on this path. An opaque token is stored by hash,
	// in one transaction with those of concurrent requests (batchwrite.go).
	if at.opaque {
		if err := p.tokens.create(ctx, at.record()); err != nil {
			return nil, storageError(err)
		}
	}
	// RFC 6749 4.4.3: a refresh token SHOULD NOT be included.
	return &TokenResponse{AccessToken: at.value, TokenType: "Bearer",
		ExpiresIn: p.expiresIn(), Scope: joinScopes(scopes), subject: at.subject, tokenID: at.claims.ID}, nil
}
