package adminapi

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// maxTokenLen bounds a bearer token: JWTs of this server are well under it.
const maxTokenLen = 8 << 10

// Audit actor prefixes of API callers.
const (
	ActorAdminToken = "admin-token:"
	ActorClient     = "client:"
)

func invalidToken(desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: desc,
		wwwAuthenticate: `Bearer realm="gatehouse-admin", error="invalid_token", error_description="` + desc + `"`}
}

func insufficientScope(desc string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: desc,
		wwwAuthenticate: `Bearer realm="gatehouse-admin", error="insufficient_scope", scope="` + AdminScope + `"`}
}

// authenticate returns the audit actor of the request's bearer token: "admin-token:<id>" for
// an admin token, "client:<id>" for an access token of a client acting for itself (client
// credentials) with the gatehouse:admin scope. RFC 6750 errors otherwise: 401 invalid_token
// when the token is missing or not valid, 403 insufficient_scope when it lacks the scope.
func (api *API) authenticate(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", invalidToken("a bearer token is required")
	}
	if len(values) > 1 {
		return "", invalidToken("send one Authorization header")
	}
	scheme, value, ok := strings.Cut(values[0], " ")
	value = strings.TrimLeft(value, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return "", invalidToken("use the Bearer authentication scheme")
	}
	if len(value) > maxTokenLen {
		return "", invalidToken("the token is not valid")
	}
	ctx := r.Context()
	if strings.HasPrefix(value, token.PrefixAdminToken) {
		t, err := api.admin.AuthenticateAdminToken(ctx, value)
		if errors.Is(err, admin.ErrInvalidAdminToken) {
			api.refused(r, "unknown or expired admin token")
			return "", invalidToken("the token is not valid")
		}
		if err != nil {
			return "", serverError(err)
		}
		return ActorAdminToken + t.ID, nil
	}
	in, err := api.provider.LookupAccessToken(ctx, value)
	if err != nil {
		return "", serverError(err)
	}
	if in == nil {
		api.refused(r, "not an active access token")
		return "", invalidToken("the token is not valid")
	}
	if in.Sub != in.ClientID {
		// A token issued for a user: the user, not the client, would be acting, and being
		// allowed the scope does not make a user an administrator.
		api.refused(r, "access token of a user grant", slog.String("client_id", in.ClientID))
		return "", insufficientScope("only admin tokens and client credentials tokens may use the admin API")
	}
	if !slices.Contains(strings.Fields(in.Scope), AdminScope) {
		api.refused(r, "access token without the admin scope", slog.String("client_id", in.ClientID))
		return "", insufficientScope("the token lacks the " + AdminScope + " scope")
	}
	// The scope is checked against the client as it is now, so taking the scope away from
	// a client ends its tokens' access at once, not at their expiry.
	c, err := api.provider.Client(ctx, in.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", invalidToken("the token is not valid") // the client was deleted just now
	}
	if err != nil {
		return "", serverError(err)
	}
	if !slices.Contains(c.Scopes, AdminScope) {
		api.refused(r, "client no longer allowed the admin scope", slog.String("client_id", in.ClientID))
		return "", insufficientScope("the client is no longer allowed the " + AdminScope + " scope")
	}
	return ActorClient + in.ClientID, nil
}

// refused logs a refused request; the reason is for the operator, the caller learns less.
func (api *API) refused(r *http.Request, reason string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("reason", reason), slog.String("path", r.URL.Path),
		slog.String("request_id", server.RequestID(r.Context())))
	api.log.LogAttrs(r.Context(), slog.LevelInfo, "admin api: authentication refused", attrs...)
}
