// Package adminapi is Gatehouse's admin API: JSON over HTTP for managing clients, scopes,
// users, their sessions, consents and tokens, signing keys, the audit trail and admin tokens.
// It is meant for the admin listener only, never the public one. Every operation calls the
// admin package, the same code the CLI runs against the database, so the rules (validation,
// audit events, secrets shown once) are the same.
//
// Requests carry "Authorization: Bearer <token>": an admin token made with
// `gatehouse admin-tokens create` (prefix ghm_), or an access token this server issued with
// the client credentials grant to a client allowed the gatehouse:admin scope, with that
// scope granted.
//
// The API is described by an OpenAPI 3 document served at /admin/openapi.json; a test keeps
// it in sync with the routes. Client is a Go client of the API that returns the admin and
// storage types, so the CLI prints the same output whether it talks to the database or to a
// running server.
package adminapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// Paths.
const (
	// Prefix is the path prefix of every API route.
	Prefix = "/admin/api/v1"
	// PathOpenAPI is where the OpenAPI document is served.
	PathOpenAPI = "/admin/openapi.json"
	// AdminScope is the scope a client's access token needs to use the API.
	AdminScope = "gatehouse:admin"
	// DefaultMaxBodyBytes bounds request bodies.
	DefaultMaxBodyBytes = 1 << 20
)

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3 document of the API.
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

// Options configure the API.
type Options struct {
	// MaxBodyBytes limits request bodies (413 beyond); default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// KeyAlgorithms are the algorithms whose signing keys may be rotated; default the
	// Provider's access token algorithms. The first is the default of a rotation that names
	// none.
	KeyAlgorithms []string
	// KeyRetain is how long a rotated-out key of alg stays published (at least the lifetime
	// of the tokens it signed); default 24 hours.
	KeyRetain func(alg string) time.Duration
}

// Deps are the API's collaborators.
type Deps struct {
	// Provider validates client access tokens and is told about client and scope changes.
	Provider *oauth.Provider
	Store    storage.Store
	Logger   *slog.Logger
	// Now is the clock of the admin operations; default time.Now.
	Now func() time.Time
}

// API serves the admin API.
type API struct {
	opts     Options
	provider *oauth.Provider
	admin    *admin.Admin
	log      *slog.Logger
	handler  http.Handler
	// routes are "METHOD /path" patterns, for the OpenAPI sync test.
	routes []string
}

// New returns the API.
func New(opts Options, deps Deps) (*API, error) {
	if deps.Provider == nil || deps.Store == nil {
		return nil, errors.New("adminapi: Deps.Provider and Deps.Store are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if len(opts.KeyAlgorithms) == 0 {
		opts.KeyAlgorithms = deps.Provider.Metadata().AccessTokenAlgorithms
	}
	if opts.KeyRetain == nil {
		opts.KeyRetain = func(string) time.Duration { return 24 * time.Hour }
	}
	adm := admin.New(deps.Store, deps.Provider.Keys(), deps.Now).
		WithInvalidator(deps.Provider).WithIssuer(deps.Provider.Issuer())
	api := &API{opts: opts, provider: deps.Provider, admin: adm, log: deps.Logger}
	api.handler = api.build()
	return api, nil
}

// Handler serves the API routes under Prefix and the OpenAPI document at PathOpenAPI.
func (api *API) Handler() http.Handler { return api.handler }

// Mounts are the patterns to mount Handler at on the admin listener.
func (api *API) Mounts() map[string]http.Handler {
	return map[string]http.Handler{Prefix + "/": api.handler, "GET " + PathOpenAPI: api.handler}
}

// Routes returns the "METHOD /path" patterns of the API, sorted.
func (api *API) Routes() []string { return slices.Sorted(slices.Values(api.routes)) }

// endpoint is an authenticated API operation. It writes its success itself; an error is
// written by writeError.
type endpoint func(w http.ResponseWriter, r *http.Request, c *call) error

// call is one authenticated request.
type call struct {
	api *API
	// adm acts as the caller (audit actor).
	adm   *admin.Admin
	actor string
}

type route struct {
	method, path string
	h            endpoint
}

func (api *API) build() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string][]string{}
	var paths []string
	for _, rt := range api.table() {
		pattern := rt.method + " " + Prefix + rt.path
		api.routes = append(api.routes, rt.method+" "+rt.path)
		mux.Handle(pattern, api.authenticated(rt.h))
		if byPath[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		byPath[rt.path] = append(byPath[rt.path], rt.method)
	}
	for _, p := range paths {
		allow := strings.Join(byPath[p], ", ")
		mux.Handle(Prefix+p, api.authenticated(func(w http.ResponseWriter, r *http.Request, _ *call) error {
			w.Header().Set("Allow", allow)
			return errMethod(r.Method)
		}))
	}
	mux.Handle(Prefix+"/", api.authenticated(func(w http.ResponseWriter, r *http.Request, _ *call) error {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Description: "no such API route"}
	}))
	mux.HandleFunc("GET "+PathOpenAPI, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(openAPIDocument)
	})
	return mux
}

// table lists every route; paths are relative to Prefix.
func (api *API) table() []route {
	return []route{
		{"GET", "/clients", listClients},
		{"POST", "/clients", createClient},
		{"GET", "/clients/{id}", getClient},
		{"PATCH", "/clients/{id}", updateClient},
		{"DELETE", "/clients/{id}", deleteClient},
		{"POST", "/clients/{id}/secret", rotateSecret},
		{"GET", "/clients/{id}/tokens", listClientTokens},
		{"DELETE", "/clients/{id}/tokens", revokeClientTokens},

		{"GET", "/scopes", listScopes},
		{"POST", "/scopes", createScope},
		{"GET", "/scopes/{name}", getScope},
		{"PATCH", "/scopes/{name}", updateScope},
		{"DELETE", "/scopes/{name}", deleteScope},

		{"GET", "/users", listUsers},
		{"POST", "/users", createUser},
		{"GET", "/users/{ref}", getUser},
		{"PATCH", "/users/{ref}", updateUser},
		{"DELETE", "/users/{ref}", deleteUser},
		{"POST", "/users/{ref}/disable", disableUser},
		{"POST", "/users/{ref}/enable", enableUser},
		{"POST", "/users/{ref}/password", setPassword},
		{"GET", "/users/{ref}/sessions", listSessions},
		{"DELETE", "/users/{ref}/sessions", revokeSessions},
		{"DELETE", "/users/{ref}/sessions/{id}", revokeSession},
		{"GET", "/users/{ref}/consents", listConsents},
		{"DELETE", "/users/{ref}/consents/{client_id}", revokeConsent},
		{"GET", "/users/{ref}/tokens", listUserTokens},
		{"DELETE", "/users/{ref}/tokens", revokeUserTokens},
		{"GET", "/users/{ref}/personal-tokens", listPersonalTokens},
		{"POST", "/users/{ref}/personal-tokens", createPersonalToken},
		{"DELETE", "/users/{ref}/personal-tokens/{id}", revokeUserPersonalToken},
		{"DELETE", "/personal-tokens/{id}", revokePersonalToken},

		{"GET", "/tokens/{id}", getToken},
		{"DELETE", "/tokens/{id}", revokeToken},
		{"DELETE", "/grants/{grant_id}", revokeGrant},

		{"GET", "/keys", listKeys},
		{"POST", "/keys/rotate", api.rotateKey},

		{"GET", "/audit", listAudit},

		{"GET", "/admin-tokens", listAdminTokens},
		{"POST", "/admin-tokens", createAdminToken},
		{"DELETE", "/admin-tokens/{id}", revokeAdminToken},
	}
}

// authenticated runs h for an authenticated caller, and writes any error.
func (api *API) authenticated(h endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := api.authenticate(r)
		if err != nil {
			api.writeError(w, r, err)
			return
		}
		c := &call{api: api, adm: api.admin.WithActor(actor), actor: actor}
		if err := h(w, r, c); err != nil {
			api.writeError(w, r, err)
		}
	})
}

// logError logs a failure the caller cannot fix.
func (api *API) logError(ctx context.Context, r *http.Request, err error) {
	api.log.LogAttrs(ctx, slog.LevelError, "admin api request failed", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("request_id", server.RequestID(ctx)), slog.Any("err", err))
}
