package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// maxResponseBytes bounds what the Client reads of one response.
const maxResponseBytes = 64 << 20

// Client calls the admin API of a running server. Its methods mirror admin.Admin's and return
// the same types, so a caller (the CLI) shows the same output whichever it uses. Errors map
// back where they can: a 400 with fields is an admin.ValidationErrors (errors.As), a 404 is
// storage.ErrNotFound and a 409 or 412 storage.ErrConflict (errors.Is); every API error is
// also an *Error with the status and the server's description.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the admin API at baseURL, the admin listener's URL
// ("http://127.0.0.1:8081"), authenticating with token (an admin token, or an access token
// with the gatehouse:admin scope). hc nil is a client with a 30-second timeout.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, Prefix)
	return &Client{base: base, token: token, hc: hc}
}

// ListOptions select a page of a paged list.
type ListOptions struct {
	// Query keeps the items whose id, name (clients) or username, email, name (users)
	// contains it, ignoring case.
	Query string
	// Limit is the page size (1 to 500); 0 is the server's default (100).
	Limit int
	// Cursor is the next cursor of the previous page; empty for the first page.
	Cursor string
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	if o.Query != "" {
		v.Set("q", o.Query)
	}
	if o.Limit != 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		v.Set("cursor", o.Cursor)
	}
	return v
}

// AuditQuery selects audit events; zero fields match everything.
type AuditQuery struct {
	Type     string
	Actor    string
	ClientID string
	Subject  string
	// Since keeps events at or after it; Until keeps events before it.
	Since time.Time
	Until time.Time
	Limit int
	// Cursor is the next cursor of the previous page.
	Cursor string
}

// path joins escaped segments under Prefix.
func path(segments ...string) string {
	var sb strings.Builder
	sb.WriteString(Prefix)
	for _, s := range segments {
		sb.WriteByte('/')
		sb.WriteString(url.PathEscape(s))
	}
	return sb.String()
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         any
	ifMatch      string
}

// do sends req and decodes a 2xx answer into out (unless nil). It returns the response
// headers.
func (c *Client) do(ctx context.Context, req request, out any) (http.Header, error) {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("admin api: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("admin api: %w", err)
	}
	hr.Header.Set("Authorization", "Bearer "+c.token)
	hr.Header.Set("Accept", "application/json")
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.ifMatch != "" {
		hr.Header.Set("If-Match", req.ifMatch)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("admin api: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("admin api: read response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, responseError(resp, data)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("admin api: %s %s: decode response: %w", req.method, req.path, err)
		}
	}
	return resp.Header, nil
}

// responseError reads an error answer.
func responseError(resp *http.Response, data []byte) error {
	e := &Error{}
	if err := json.Unmarshal(data, e); err != nil || e.Code == "" {
		text := strings.TrimSpace(string(data))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		e = &Error{Code: "http_error", Description: text}
	}
	e.Status = resp.StatusCode
	return e
}

// Clients.

// CreateClient creates a client and returns it with its secret (empty for a public client),
// shown only this once.
func (c *Client) CreateClient(ctx context.Context, in admin.ClientInput) (storage.Client, string, error) {
	var out clientJSON
	body := clientCreateJSON{ID: in.ID, Name: in.Name, Public: in.Public, Trusted: in.Trusted, GrantTypes: in.GrantTypes,
		Scopes: in.Scopes, RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs, TokenFormat: in.TokenFormat}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("clients"), body: body}, &out); err != nil {
		return storage.Client{}, "", err
	}
	return out.record(), out.ClientSecret, nil
}

// ListClients returns one page of clients ordered by id and the cursor of the next page
// ("" after the last).
func (c *Client) ListClients(ctx context.Context, opts ListOptions) ([]storage.Client, string, error) {
	var out listJSON[clientJSON]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("clients"), query: opts.values()}, &out); err != nil {
		return nil, "", err
	}
	return mapList(out.Items, clientJSON.record), out.NextCursor, nil
}

// AllClients returns every client (matching query, when not empty) ordered by id, reading
// every page.
func (c *Client) AllClients(ctx context.Context, query string) ([]storage.Client, error) {
	return all(func(cursor string) ([]storage.Client, string, error) {
		return c.ListClients(ctx, ListOptions{Query: query, Limit: admin.MaxPageSize, Cursor: cursor})
	})
}

// all reads pages until the last.
func all[T any](page func(cursor string) ([]T, string, error)) ([]T, error) {
	var out []T
	cursor := ""
	for {
		items, next, err := page(cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// GetClient returns a client; its Version is the ETag that UpdateClient can check.
func (c *Client) GetClient(ctx context.Context, id string) (storage.Client, error) {
	var out clientJSON
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("clients", id)}, &out); err != nil {
		return storage.Client{}, err
	}
	return out.record(), nil
}

// UpdateClient applies patch and returns the client, with a new secret when the patch made a
// public client confidential. A non-zero patch.Version is sent as If-Match: the update fails
// with storage.ErrConflict (412) if the client changed since.
func (c *Client) UpdateClient(ctx context.Context, id string, patch admin.ClientPatch) (storage.Client, string, error) {
	body := clientPatchJSON{Name: patch.Name, Public: patch.Public, Trusted: patch.Trusted, GrantTypes: patch.GrantTypes,
		Scopes: patch.Scopes, RedirectURIs: patch.RedirectURIs, PostLogoutRedirectURIs: patch.PostLogoutRedirectURIs,
		TokenFormat: patch.TokenFormat}
	req := request{method: http.MethodPatch, path: path("clients", id), body: body}
	if patch.Version != 0 {
		req.ifMatch = etag(patch.Version)
	}
	var out clientJSON
	if _, err := c.do(ctx, req, &out); err != nil {
		return storage.Client{}, "", err
	}
	return out.record(), out.ClientSecret, nil
}

// DeleteClient deletes a client and its tokens.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path("clients", id)}, nil)
	return err
}

// RotateSecret gives a confidential client a new secret and returns it (shown only once).
func (c *Client) RotateSecret(ctx context.Context, id string) (string, error) {
	var out secretJSON
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("clients", id, "secret")}, &out); err != nil {
		return "", err
	}
	return out.ClientSecret, nil
}

// ListClientTokens returns a client's active stored tokens.
func (c *Client) ListClientTokens(ctx context.Context, id string) ([]storage.Token, error) {
	return getList(c, ctx, path("clients", id, "tokens"), tokenJSON.record)
}

// RevokeClientTokens revokes a client's stored tokens and returns how many.
func (c *Client) RevokeClientTokens(ctx context.Context, id string) (int, error) {
	return c.count(ctx, http.MethodDelete, path("clients", id, "tokens"))
}

// getList reads an unpaged list.
func getList[J, T any](c *Client, ctx context.Context, p string, conv func(J) T) ([]T, error) {
	var out listJSON[J]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p}, &out); err != nil {
		return nil, err
	}
	return mapList(out.Items, conv), nil
}

// count calls an operation that answers {"revoked": n}.
func (c *Client) count(ctx context.Context, method, p string) (int, error) {
	var out countJSON
	if _, err := c.do(ctx, request{method: method, path: p}, &out); err != nil {
		return 0, err
	}
	return out.Revoked, nil
}

// Scopes.

// ListScopes returns the scope catalogue ordered by name.
func (c *Client) ListScopes(ctx context.Context) ([]storage.Scope, error) {
	return getList(c, ctx, path("scopes"), scopeJSON.record)
}

// GetScope returns one scope.
func (c *Client) GetScope(ctx context.Context, name string) (storage.Scope, error) {
	var out scopeJSON
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("scopes", name)}, &out); err != nil {
		return storage.Scope{}, err
	}
	return out.record(), nil
}

// CreateScope adds a scope to the catalogue.
func (c *Client) CreateScope(ctx context.Context, in admin.ScopeInput) (storage.Scope, error) {
	var out scopeJSON
	body := scopeCreateJSON{Name: in.Name, Description: in.Description, Default: in.Default}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("scopes"), body: body}, &out); err != nil {
		return storage.Scope{}, err
	}
	return out.record(), nil
}

// UpdateScope changes a scope's description or default flag.
func (c *Client) UpdateScope(ctx context.Context, name string, patch admin.ScopePatch) (storage.Scope, error) {
	var out scopeJSON
	body := scopePatchJSON{Description: patch.Description, Default: patch.Default}
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: path("scopes", name), body: body}, &out); err != nil {
		return storage.Scope{}, err
	}
	return out.record(), nil
}

// DeleteScope removes a scope no client is allowed.
func (c *Client) DeleteScope(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path("scopes", name)}, nil)
	return err
}

// Users.

// CreateUser creates a user and returns it with the generated password (empty when in had a
// password or hash), shown only this once.
func (c *Client) CreateUser(ctx context.Context, in admin.UserInput) (storage.User, string, error) {
	var out userJSON
	body := userCreateJSON{Username: in.Username, Password: in.Password, PasswordHash: in.PasswordHash, Email: in.Email,
		EmailVerified: in.EmailVerified, Name: in.Name, Roles: in.Roles}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("users"), body: body}, &out); err != nil {
		return storage.User{}, "", err
	}
	return out.record(), out.Password, nil
}

// GetUser returns the user whose ID or username is ref.
func (c *Client) GetUser(ctx context.Context, ref string) (storage.User, error) {
	var out userJSON
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("users", ref)}, &out); err != nil {
		return storage.User{}, err
	}
	return out.record(), nil
}

// ListUsers returns one page of users ordered by username and the cursor of the next page.
func (c *Client) ListUsers(ctx context.Context, opts ListOptions) ([]storage.User, string, error) {
	var out listJSON[userJSON]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("users"), query: opts.values()}, &out); err != nil {
		return nil, "", err
	}
	return mapList(out.Items, userJSON.record), out.NextCursor, nil
}

// AllUsers returns every user (matching query, when not empty), reading every page.
func (c *Client) AllUsers(ctx context.Context, query string) ([]storage.User, error) {
	return all(func(cursor string) ([]storage.User, string, error) {
		return c.ListUsers(ctx, ListOptions{Query: query, Limit: admin.MaxPageSize, Cursor: cursor})
	})
}

// UpdateUser applies patch to the user whose ID or username is ref.
func (c *Client) UpdateUser(ctx context.Context, ref string, patch admin.UserPatch) (storage.User, error) {
	var out userJSON
	body := userPatchJSON{Username: patch.Username, Email: patch.Email, EmailVerified: patch.EmailVerified, Name: patch.Name,
		Roles: patch.Roles}
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: path("users", ref), body: body}, &out); err != nil {
		return storage.User{}, err
	}
	return out.record(), nil
}

// DeleteUser deletes a user and returns it.
func (c *Client) DeleteUser(ctx context.Context, ref string) (storage.User, error) {
	var out userJSON
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: path("users", ref)}, &out); err != nil {
		return storage.User{}, err
	}
	return out.record(), nil
}

// DisableUser disables a user, ending its sessions and revoking its tokens.
func (c *Client) DisableUser(ctx context.Context, ref string) (storage.User, admin.Signout, error) {
	var out disableJSON
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("users", ref, "disable")}, &out); err != nil {
		return storage.User{}, admin.Signout{}, err
	}
	return out.User.record(), admin.Signout{Sessions: out.SessionsEnded, Tokens: out.TokensRevoked}, nil
}

// EnableUser lets a disabled user sign in again.
func (c *Client) EnableUser(ctx context.Context, ref string) (storage.User, error) {
	var out userJSON
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("users", ref, "enable")}, &out); err != nil {
		return storage.User{}, err
	}
	return out.record(), nil
}

// SetPassword sets a user's password and ends its browser sessions. With an empty password
// the server generates one and it is returned (shown only this once).
func (c *Client) SetPassword(ctx context.Context, ref, password string) (admin.Signout, string, error) {
	var out passwordResultJSON
	req := request{method: http.MethodPost, path: path("users", ref, "password"), body: passwordRequestJSON{Password: password}}
	if _, err := c.do(ctx, req, &out); err != nil {
		return admin.Signout{}, "", err
	}
	return admin.Signout{Sessions: out.SessionsEnded}, out.Password, nil
}

// ListSessions returns a user's active browser sessions.
func (c *Client) ListSessions(ctx context.Context, ref string) ([]storage.Session, error) {
	return getList(c, ctx, path("users", ref, "sessions"), sessionJSON.record)
}

// RevokeSession ends one browser session of a user.
func (c *Client) RevokeSession(ctx context.Context, ref, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path("users", ref, "sessions", id)}, nil)
	return err
}

// RevokeSessions ends every browser session of a user and returns how many.
func (c *Client) RevokeSessions(ctx context.Context, ref string) (int, error) {
	return c.count(ctx, http.MethodDelete, path("users", ref, "sessions"))
}

// ListConsents returns what a user allowed each client.
func (c *Client) ListConsents(ctx context.Context, ref string) ([]storage.Consent, error) {
	return getList(c, ctx, path("users", ref, "consents"), consentJSON.record)
}

// RevokeConsent forgets a user's consent to a client and revokes the client's tokens for the
// user, returning how many tokens it revoked.
func (c *Client) RevokeConsent(ctx context.Context, ref, clientID string) (int, error) {
	return c.count(ctx, http.MethodDelete, path("users", ref, "consents", clientID))
}

// Tokens.

// ListUserTokens returns the active tokens issued for a user.
func (c *Client) ListUserTokens(ctx context.Context, ref string) ([]storage.Token, error) {
	return getList(c, ctx, path("users", ref, "tokens"), tokenJSON.record)
}

// RevokeUserTokens revokes every token of a user and returns how many.
func (c *Client) RevokeUserTokens(ctx context.Context, ref string) (int, error) {
	return c.count(ctx, http.MethodDelete, path("users", ref, "tokens"))
}

// GetToken returns a stored token by id.
func (c *Client) GetToken(ctx context.Context, id string) (storage.Token, error) {
	var out tokenJSON
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("tokens", id)}, &out); err != nil {
		return storage.Token{}, err
	}
	return out.record(), nil
}

// RevokeToken revokes one stored token and returns it.
func (c *Client) RevokeToken(ctx context.Context, id string) (storage.Token, error) {
	var out tokenJSON
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: path("tokens", id)}, &out); err != nil {
		return storage.Token{}, err
	}
	return out.record(), nil
}

// RevokeGrant revokes every token of one grant and returns how many.
func (c *Client) RevokeGrant(ctx context.Context, grantID string) (int, error) {
	return c.count(ctx, http.MethodDelete, path("grants", grantID))
}

// CreatePersonalToken makes a personal access token for in.User and returns it with its value
// (shown only this once). Lifetime is sent in whole seconds.
func (c *Client) CreatePersonalToken(ctx context.Context, in admin.PersonalTokenInput) (storage.Token, string, error) {
	var out tokenJSON
	body := personalTokenCreateJSON{Name: in.Name, Scopes: in.Scopes, ExpiresIn: int64(in.Lifetime / time.Second)}
	req := request{method: http.MethodPost, path: path("users", in.User, "personal-tokens"), body: body}
	if _, err := c.do(ctx, req, &out); err != nil {
		return storage.Token{}, "", err
	}
	return out.record(), out.Token, nil
}

// ListPersonalTokens returns a user's active personal access tokens.
func (c *Client) ListPersonalTokens(ctx context.Context, ref string) ([]storage.Token, error) {
	return getList(c, ctx, path("users", ref, "personal-tokens"), tokenJSON.record)
}

// RevokePersonalToken revokes a personal access token of the user ref, or of any user when
// ref is empty, and returns it.
func (c *Client) RevokePersonalToken(ctx context.Context, ref, id string) (storage.Token, error) {
	p := path("personal-tokens", id)
	if ref != "" {
		p = path("users", ref, "personal-tokens", id)
	}
	var out tokenJSON
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: p}, &out); err != nil {
		return storage.Token{}, err
	}
	return out.record(), nil
}

// Keys.

// ListKeys returns the signing keys, oldest first.
func (c *Client) ListKeys(ctx context.Context) ([]admin.KeyInfo, error) {
	return getList(c, ctx, path("keys"), keyJSON.info)
}

// RotateKey rotates the keys of alg (empty: the server's access token algorithm), keeping the
// old key published for retain (0: the server's setting), and returns the new current key and
// the retention used.
func (c *Client) RotateKey(ctx context.Context, alg string, retain time.Duration) (admin.KeyInfo, time.Duration, error) {
	body := rotateKeyJSON{Algorithm: alg}
	if retain > 0 {
		body.Retain = retain.String()
	}
	var out rotatedKeyJSON
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("keys", "rotate"), body: body}, &out); err != nil {
		return admin.KeyInfo{}, 0, err
	}
	d, err := time.ParseDuration(out.Retain)
	if err != nil {
		return out.Current.info(), 0, fmt.Errorf("admin api: rotate key: bad retain %q in the answer", out.Retain)
	}
	return out.Current.info(), d, nil
}

// Audit.

// ListAudit returns one page of audit events, newest first, and the cursor of the next page.
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) ([]storage.AuditEvent, string, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("type", q.Type)
	set("actor", q.Actor)
	set("client_id", q.ClientID)
	set("subject", q.Subject)
	set("cursor", q.Cursor)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out listJSON[auditEventJSON]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path("audit"), query: v}, &out); err != nil {
		return nil, "", err
	}
	return mapList(out.Items, auditEventJSON.record), out.NextCursor, nil
}

// Admin tokens.

// ListAdminTokens returns the admin tokens, oldest first.
func (c *Client) ListAdminTokens(ctx context.Context) ([]storage.AdminToken, error) {
	return getList(c, ctx, path("admin-tokens"), adminTokenJSON.record)
}

// CreateAdminToken makes an admin token and returns it with its value (shown only once).
func (c *Client) CreateAdminToken(ctx context.Context, in admin.AdminTokenInput) (storage.AdminToken, string, error) {
	var out adminTokenJSON
	body := adminTokenCreateJSON{Name: in.Name, ExpiresIn: int64(in.Lifetime / time.Second)}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path("admin-tokens"), body: body}, &out); err != nil {
		return storage.AdminToken{}, "", err
	}
	return out.record(), out.Token, nil
}

// RevokeAdminToken deletes an admin token.
func (c *Client) RevokeAdminToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path("admin-tokens", id)}, nil)
	return err
}

// IsStatus reports whether err is an API error with that HTTP status.
func IsStatus(err error, status int) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == status
}
