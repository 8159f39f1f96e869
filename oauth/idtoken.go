package oauth

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// OpenID Connect scopes. They are known to every catalogue (with the descriptions below) but,
// like any scope, granted only to clients allowed them.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

var builtinScopes = []storage.Scope{
	{Name: ScopeOpenID, Description: "Sign you in with your account"},
	{Name: ScopeProfile, Description: "See your name and username"},
	{Name: ScopeEmail, Description: "See your email address"},
	{Name: ScopeOfflineAccess, Description: "Keep access while you are away"},
}

// IDTokenParams is what an ID token is minted from.
type IDTokenParams struct {
	Client *storage.Client
	UserID string
	// User, when set, is the user already loaded by the caller (inside its transaction),
	// so the minter need not read it again.
	User     *storage.User
	Scopes   []string
	Nonce    string
	AuthTime time.Time
	// AccessToken and Code, when set, give at_hash and c_hash.
	AccessToken string
	Code        string
}

// IDTokenMinter mints OpenID Connect ID tokens. The oidc package implements it; it is
// declared here, where it is used, so that oauth does not import oidc.
type IDTokenMinter interface {
	MintIDToken(ctx context.Context, p IDTokenParams) (string, error)
}

// isUserScope reports whether s is an OpenID Connect scope, which only a user can grant.
func isUserScope(s string) bool {
	for _, b := range builtinScopes {
		if b.Name == s {
			return true
		}
	}
	return false
}
