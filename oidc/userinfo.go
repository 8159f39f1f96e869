package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// invalidToken is the 401 of RFC 6750 3.1 for a bearer token that cannot be used.
func invalidToken(desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeInvalidToken, Status: http.StatusUnauthorized, Description: desc}
}

// UserInfo answers a userinfo request (OpenID Connect Core 5.3) for info, the introspection
// of the request's bearer token, which the server has validated. It returns the claims the
// token's scopes release. Errors are *oauth.Error: invalid_token (401) for an inactive token,
// a refresh token, another issuer's token, or a user who is gone or disabled;
// insufficient_scope (403) for a token without the openid scope; server_error for a storage
// failure.
func (m *Minter) UserInfo(ctx context.Context, info *oauth.Introspection) (map[string]any, error) {
	if info == nil || !info.Active {
		return nil, invalidToken("the access token is invalid, expired or revoked")
	}
	if info.TokenUse != "" && info.TokenUse != storage.KindAccess {
		return nil, invalidToken("the token is not an access token")
	}
	if info.Iss != "" && info.Iss != m.issuer {
		return nil, invalidToken("the access token was issued by another issuer")
	}
	scopes := splitScope(info.Scope)
	if !slices.Contains(scopes, oauth.ScopeOpenID) {
		return nil, &oauth.Error{Code: oauth.CodeInsufficientScope, Status: http.StatusForbidden,
			Description: "the access token lacks the openid scope"}
	}
	if info.Sub == "" {
		return nil, invalidToken("the access token has no subject")
	}
	u, err := m.users.GetUser(ctx, info.Sub)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, invalidToken("the user account is not available")
	}
	if err != nil {
		return nil, oauth.ErrServer(fmt.Errorf("oidc: userinfo: load user: %w", err))
	}
	return ClaimsForScopes(u, scopes), nil
}
