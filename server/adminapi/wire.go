package adminapi

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// The JSON resources of the API (snake_case; zero times are left out). Each converts to and
// from the storage or admin type the CLI prints, so both front ends show the same records.

type clientJSON struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	Trusted                bool      `json:"trusted"`
	GrantTypes             []string  `json:"grant_types"`
	Scopes                 []string  `json:"scopes"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	TokenFormat            string    `json:"token_format"`
	Declared               bool      `json:"declared"`
	Version                int64     `json:"version"`
	CreatedAt              time.Time `json:"created_at,omitzero"`
	UpdatedAt              time.Time `json:"updated_at,omitzero"`
	// ClientSecret is set only when a secret was just made (create, or a public client made
	// confidential): the one time it is shown.
	ClientSecret string `json:"client_secret,omitempty"`
}

func toClientJSON(c storage.Client) clientJSON {
	return clientJSON{ID: c.ID, Name: c.Name, Public: c.Public, Trusted: c.Trusted, GrantTypes: list(c.GrantTypes),
		Scopes: list(c.Scopes), RedirectURIs: list(c.RedirectURIs), PostLogoutRedirectURIs: list(c.PostLogoutRedirectURIs),
		TokenFormat: c.TokenFormat, Declared: c.Declared, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (c clientJSON) record() storage.Client {
	return storage.Client{ID: c.ID, Name: c.Name, Public: c.Public, Trusted: c.Trusted, GrantTypes: orNil(c.GrantTypes),
		Scopes: orNil(c.Scopes), RedirectURIs: orNil(c.RedirectURIs), PostLogoutRedirectURIs: orNil(c.PostLogoutRedirectURIs),
		TokenFormat: c.TokenFormat, Declared: c.Declared, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type clientCreateJSON struct {
	ID                     string   `json:"id,omitempty"`
	Name                   string   `json:"name,omitempty"`
	Public                 bool     `json:"public,omitempty"`
	Trusted                bool     `json:"trusted,omitempty"`
	GrantTypes             []string `json:"grant_types,omitempty"`
	Scopes                 []string `json:"scopes,omitempty"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	TokenFormat            string   `json:"token_format,omitempty"`
}

type clientPatchJSON struct {
	Name                   *string   `json:"name,omitempty"`
	Public                 *bool     `json:"public,omitempty"`
	Trusted                *bool     `json:"trusted,omitempty"`
	GrantTypes             *[]string `json:"grant_types,omitempty"`
	Scopes                 *[]string `json:"scopes,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
	TokenFormat            *string   `json:"token_format,omitempty"`
}

func (p clientPatchJSON) patch() admin.ClientPatch {
	return admin.ClientPatch{Name: p.Name, Public: p.Public, Trusted: p.Trusted, GrantTypes: p.GrantTypes,
		Scopes: p.Scopes, RedirectURIs: p.RedirectURIs, PostLogoutRedirectURIs: p.PostLogoutRedirectURIs,
		TokenFormat: p.TokenFormat}
}

type secretJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

type scopeJSON struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Default     bool      `json:"default"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

func toScopeJSON(s storage.Scope) scopeJSON {
	return scopeJSON{Name: s.Name, Description: s.Description, Default: s.Default, CreatedAt: s.CreatedAt}
}

func (s scopeJSON) record() storage.Scope {
	return storage.Scope{Name: s.Name, Description: s.Description, Default: s.Default, CreatedAt: s.CreatedAt}
}

type scopeCreateJSON struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Default     bool   `json:"default,omitempty"`
}

type scopePatchJSON struct {
	Description *string `json:"description,omitempty"`
	Default     *bool   `json:"default,omitempty"`
}

type userJSON struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Disabled      bool      `json:"disabled"`
	Roles         []string  `json:"roles"`
	Declared      bool      `json:"declared"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	// Password is set only when CreateUser generated one: the one time it is shown.
	Password string `json:"password,omitempty"`
}

func toUserJSON(u storage.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Disabled: u.Disabled, Roles: list(u.Roles), Declared: u.Declared, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (u userJSON) record() storage.User {
	return storage.User{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Disabled: u.Disabled, Roles: orNil(u.Roles), Declared: u.Declared, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type userCreateJSON struct {
	Username      string   `json:"username"`
	Password      string   `json:"password,omitempty"`
	PasswordHash  string   `json:"password_hash,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Roles         []string `json:"roles,omitempty"`
}

type userPatchJSON struct {
	Username      *string   `json:"username,omitempty"`
	Email         *string   `json:"email,omitempty"`
	EmailVerified *bool     `json:"email_verified,omitempty"`
	Name          *string   `json:"name,omitempty"`
	Roles         *[]string `json:"roles,omitempty"`
}

type disableJSON struct {
	User          userJSON `json:"user"`
	SessionsEnded int      `json:"sessions_ended"`
	TokensRevoked int      `json:"tokens_revoked"`
}

type passwordRequestJSON struct {
	Password string `json:"password,omitempty"`
}

type passwordResultJSON struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	SessionsEnded int    `json:"sessions_ended"`
	// Password is set only when the server generated it.
	Password string `json:"password,omitempty"`
}

type sessionJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
}

func toSessionJSON(s storage.Session) sessionJSON {
	return sessionJSON{ID: s.ID, UserID: s.UserID, AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		UserAgent: s.UserAgent, IP: s.IP}
}

func (s sessionJSON) record() storage.Session {
	return storage.Session{ID: s.ID, UserID: s.UserID, AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		UserAgent: s.UserAgent, IP: s.IP}
}

type consentJSON struct {
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func toConsentJSON(c storage.Consent) consentJSON {
	return consentJSON{UserID: c.UserID, ClientID: c.ClientID, Scopes: list(c.Scopes), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (c consentJSON) record() storage.Consent {
	return storage.Consent{UserID: c.UserID, ClientID: c.ClientID, Scopes: orNil(c.Scopes), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type tokenJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	ClientID   string    `json:"client_id"`
	Subject    string    `json:"subject"`
	Scopes     []string  `json:"scopes"`
	Audience   []string  `json:"audience"`
	GrantID    string    `json:"grant_id"`
	Name       string    `json:"name"`
	AuthTime   time.Time `json:"auth_time,omitzero"`
	IssuedAt   time.Time `json:"issued_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	UsedAt     time.Time `json:"used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Token is the value of a personal access token just made: the one time it is shown.
	Token string `json:"token,omitempty"`
}

func toTokenJSON(t storage.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Kind: t.Kind, ClientID: t.ClientID, Subject: t.Subject, Scopes: list(t.Scopes),
		Audience: list(t.Audience), GrantID: t.GrantID, Name: t.Name, AuthTime: t.AuthTime, IssuedAt: t.IssuedAt,
		ExpiresAt: t.ExpiresAt, UsedAt: t.UsedAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

func (t tokenJSON) record() storage.Token {
	return storage.Token{ID: t.ID, Kind: t.Kind, ClientID: t.ClientID, Subject: t.Subject, Scopes: orNil(t.Scopes),
		Audience: orNil(t.Audience), GrantID: t.GrantID, Name: t.Name, AuthTime: t.AuthTime, IssuedAt: t.IssuedAt,
		ExpiresAt: t.ExpiresAt, UsedAt: t.UsedAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

type personalTokenCreateJSON struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// ExpiresIn is the lifetime in seconds; 0 means the default (30 days).
	ExpiresIn int64 `json:"expires_in,omitempty"`
}

type countJSON struct {
	Revoked int `json:"revoked"`
}

type keyJSON struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"algorithm"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
}

func toKeyJSON(k admin.KeyInfo) keyJSON {
	return keyJSON{ID: k.ID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt, NotAfter: k.NotAfter}
}

func (k keyJSON) info() admin.KeyInfo {
	return admin.KeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt, NotAfter: k.NotAfter}
}

type rotateKeyJSON struct {
	Algorithm string `json:"algorithm,omitempty"`
	// Retain is a Go duration ("24h"); empty means the server's setting for the algorithm.
	Retain string `json:"retain,omitempty"`
}

type rotatedKeyJSON struct {
	Current keyJSON `json:"current"`
	Retain  string  `json:"retain"`
}

type auditEventJSON struct {
	ID       int64             `json:"id"`
	Time     time.Time         `json:"time"`
	Type     string            `json:"type"`
	Actor    string            `json:"actor"`
	ClientID string            `json:"client_id"`
	Subject  string            `json:"subject"`
	Details  map[string]string `json:"details"`
}

func toAuditJSON(e storage.AuditEvent) auditEventJSON {
	d := e.Details
	if d == nil {
		d = map[string]string{}
	}
	return auditEventJSON{ID: e.ID, Time: e.Time, Type: e.Type, Actor: e.Actor, ClientID: e.ClientID, Subject: e.Subject, Details: d}
}

func (e auditEventJSON) record() storage.AuditEvent {
	d := e.Details
	if len(d) == 0 {
		d = nil
	}
	return storage.AuditEvent{ID: e.ID, Time: e.Time, Type: e.Type, Actor: e.Actor, ClientID: e.ClientID, Subject: e.Subject, Details: d}
}

type adminTokenJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Token is the value, set only in the answer to its creation.
	Token string `json:"token,omitempty"`
}

func toAdminTokenJSON(t storage.AdminToken) adminTokenJSON {
	return adminTokenJSON{ID: t.ID, Name: t.Name, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		LastUsedAt: t.LastUsedAt}
}

func (t adminTokenJSON) record() storage.AdminToken {
	return storage.AdminToken{ID: t.ID, Name: t.Name, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		LastUsedAt: t.LastUsedAt}
}

type adminTokenCreateJSON struct {
	Name string `json:"name"`
	// ExpiresIn is the lifetime in seconds; 0 means the token does not expire.
	ExpiresIn int64 `json:"expires_in,omitempty"`
}

// listJSON is the answer of every list: the items, and the cursor of the next page when there
// is one.
type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func mapList[S, T any](in []S, f func(S) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// list shows an empty list as [] rather than null.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// orNil reads an empty JSON list as nil, as the stores return it.
func orNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
