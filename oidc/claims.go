// Package oidc adds OpenID Connect to the oauth package: it mints ID tokens (implementing
// oauth.IDTokenMinter), answers userinfo requests, chooses claims by scope, and verifies the
// id_token_hint of RP-Initiated Logout.
//
// It imports oauth, token and storage, and nothing of HTTP: the server package decodes
// requests and writes the results.
package oidc

import (
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// userClaims are the claims about the user that scopes release. Both the ID token and the
// userinfo response are built from it, so the two always agree.
type userClaims struct {
	Sub               string `json:"sub"`
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	UpdatedAt         int64  `json:"updated_at,omitempty"`
	Email             string `json:"email,omitempty"`
	// EmailVerified is a pointer so that false is sent (with the email) and not omitted.
	EmailVerified *bool `json:"email_verified,omitempty"`
}

// claimsFor returns u's claims released by scopes: sub always; with profile, name,
// preferred_username and updated_at; with email, email and email_verified. Empty values are
// left out (an email_verified without an email means nothing, so it goes with the email).
func claimsFor(u storage.User, scopes []string) userClaims {
	c := userClaims{Sub: u.ID}
	if slices.Contains(scopes, oauth.ScopeProfile) {
		c.Name = u.Name
		c.PreferredUsername = u.Username
		if !u.UpdatedAt.IsZero() {
			c.UpdatedAt = u.UpdatedAt.Unix()
		}
	}
	if slices.Contains(scopes, oauth.ScopeEmail) && u.Email != "" {
		c.Email = u.Email
		verified := u.EmailVerified
		c.EmailVerified = &verified
	}
	return c
}

// ClaimsForScopes returns the claims about u that scopes release, as userinfo sends them:
// "sub" always; with profile, "name", "preferred_username" and "updated_at" (Unix seconds);
// with email, "email" and "email_verified". Claims with empty values are left out.
func ClaimsForScopes(u storage.User, scopes []string) map[string]any {
	c := claimsFor(u, scopes)
	m := map[string]any{"sub": c.Sub}
	if c.Name != "" {
		m["name"] = c.Name
	}
	if c.PreferredUsername != "" {
		m["preferred_username"] = c.PreferredUsername
	}
	if c.UpdatedAt != 0 {
		m["updated_at"] = c.UpdatedAt
	}
	if c.Email != "" {
		m["email"] = c.Email
	}
	if c.EmailVerified != nil {
		m["email_verified"] = *c.EmailVerified
	}
	return m
}

// ClaimsSupported lists the claims Gatehouse can put in ID tokens and userinfo responses, for
// the claims_supported member of the discovery document.
func ClaimsSupported() []string {
	return []string{
		"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "c_hash",
		"name", "preferred_username", "updated_at", "email", "email_verified",
	}
}

// splitScope splits a space-separated scope string.
func splitScope(s string) []string { return strings.Fields(s) }
