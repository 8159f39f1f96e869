package oauth

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// LookupAccessToken checks an access token presented to a resource endpoint of this server
// (OpenID Connect userinfo): a JWT by its signature and the deny list, an opaque token by its
// hash. It returns the token's introspection, or nil when the value is not an active access
// token (invalid, expired, revoked, a refresh token, or a personal access token, which never
// carries the openid scope). The error is for failures of the store or the keys only.
func (p *Provider) LookupAccessToken(ctx context.Context, value string) (*Introspection, error) {
	f, err := p.lookup(ctx, value)
	if err != nil || f == nil {
		return nil, err
	}
	in := f.introspection(p.opts.Issuer)
	if in.TokenUse != storage.KindAccess {
		return nil, nil
	}
	return in, nil
}

// User returns the account id from the user store the Provider authenticates against
// (Deps.Users), so that pages show and check the same users that sign in.
func (p *Provider) User(ctx context.Context, id string) (storage.User, error) {
	return p.users.GetUser(ctx, id)
}
