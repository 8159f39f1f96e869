package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/ui"
)

// Public paths.
const (
	PathToken         = "/oauth2/token"
	PathIntrospect    = "/oauth2/introspect"
	PathRevoke        = "/oauth2/revoke"
	PathJWKS          = "/oauth2/jwks"
	PathOAuthMetadata = "/.well-known/oauth-authorization-server"
	PathOIDCMetadata  = "/.well-known/openid-configuration"
	PathHealth        = "/healthz"
	PathReady         = "/readyz"
	PathMetrics       = "/metrics"
)

// mux wraps a ServeMux so that every route records itself for the access log and metrics.
type mux struct {
	*http.ServeMux
	m *metrics
}

func (s *Server) newMux(m *metrics) *mux { return &mux{ServeMux: http.NewServeMux(), m: m} }

// handle registers h for pattern ("METHOD /path" or "/path").
func (x *mux) handle(pattern string, quiet bool, h http.Handler) {
	path := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		path = p
	}
	rt := &route{path: path, quiet: quiet}
	if x.m != nil {
		rt.duration = x.m.duration.WithLabelValues(path)
	}
	x.ServeMux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ex := exchangeOf(r.Context()); ex != nil {
			ex.route = rt
		}
		h.ServeHTTP(w, r)
	}))
}

func (x *mux) handleFunc(pattern string, quiet bool, h http.HandlerFunc) { x.handle(pattern, quiet, h) }

func (s *Server) publicHandler() http.Handler {
	x := s.newMux(s.metrics)
	x.handleFunc("POST "+PathToken, false, s.handleToken())
	x.handleFunc("POST "+PathIntrospect, false, s.handleIntrospect())
	x.handleFunc("POST "+PathRevoke, false, s.handleRevoke())
	// Other methods on the POST endpoints get the OAuth JSON 405, not the mux's plain text.
	for _, p := range []struct{ path, endpoint string }{
		{PathToken, epToken}, {PathIntrospect, epIntrospect}, {PathRevoke, epRevoke},
	} {
		x.handleFunc(p.path, false, func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, p.endpoint, methodNotAllowed(w))
		})
	}
	for path, h := range map[string]http.HandlerFunc{
		PathJWKS:          s.handleJWKS,
		PathOAuthMetadata: s.handleMetadata(false),
		PathOIDCMetadata:  s.handleMetadata(true),
	} {
		x.handle("GET "+path, false, cors(h))
		x.handle("OPTIONS "+path, false, cors(h))
	}
	s.browser(x)
	s.device(x)
	s.operations(x)
	for pattern, h := range s.mounts {
		x.handle(pattern, false, h)
	}
	unmatched := &route{path: "unmatched", duration: s.metrics.duration.WithLabelValues("unmatched")}
	return s.observe(s.recoverPanics(securityHeaders(x, true)), s.metrics, unmatched)
}

func (s *Server) adminHandler() http.Handler {
	x := s.newMux(nil)
	s.operations(x)
	if s.opts.EnablePprof {
		x.handleFunc("GET /debug/pprof/", false, pprof.Index)
		x.handleFunc("GET /debug/pprof/cmdline", false, pprof.Cmdline)
		x.handleFunc("GET /debug/pprof/profile", false, pprof.Profile)
		x.handleFunc("GET /debug/pprof/symbol", false, pprof.Symbol)
		x.handleFunc("POST /debug/pprof/symbol", false, pprof.Symbol)
		x.handleFunc("GET /debug/pprof/trace", false, pprof.Trace)
	}
	for pattern, h := range s.adminMounts {
		x.handle(pattern, false, h)
	}
	// Admin requests are logged but kept out of the HTTP metrics, which describe the public
	// listener.
	return s.observe(s.recoverPanics(securityHeaders(x, false)), nil, &route{path: "unmatched"})
}

// authorizeEnabled reports whether the provider has a response type to serve at the
// authorization endpoint.
func (s *Server) authorizeEnabled() bool { return len(s.provider.Metadata().ResponseTypes) > 0 }

// browser registers the endpoints and pages of the browser flows: the authorization
// endpoint (when a grant uses it), login, consent, logout and account pages, the static
// assets, and with OpenID Connect the userinfo and end-session endpoints.
func (s *Server) browser(x *mux) {
	if s.authorizeEnabled() {
		x.handleFunc("GET "+PathAuthorize, false, s.handleAuthorize)
		x.handleFunc("POST "+PathAuthorize, false, s.handleAuthorize)
		x.handleFunc("GET "+PathConsent, false, s.handleConsentPage)
		x.handleFunc("POST "+PathConsent, false, s.handleConsent)
	}
	x.handleFunc("GET "+PathLogin, false, s.handleLoginPage)
	x.handleFunc("POST "+PathLogin, false, s.handleLogin)
	x.handleFunc("GET "+PathLogout, false, s.handleLogoutPage)
	x.handleFunc("POST "+PathLogout, false, s.handleLogout)
	x.handleFunc("GET "+PathAccount, false, s.handleAccountPage)
	x.handleFunc("POST "+PathAccount, false, s.handleAccount)
	x.handle("GET "+PathStatic, false, ui.Static())
	if s.idTokens != nil {
		x.handleFunc("GET "+PathEndSession, false, s.handleLogoutPage)
		x.handleFunc("POST "+PathEndSession, false, s.handleLogout)
		userinfo := corsUserinfo(http.HandlerFunc(s.handleUserinfo))
		for _, m := range []string{"GET ", "POST ", "OPTIONS "} {
			x.handle(m+PathUserinfo, false, userinfo)
		}
	}
}

// operations registers /healthz, /readyz and /metrics.
func (s *Server) operations(x *mux) {
	x.handleFunc("GET "+PathHealth, true, handleHealth)
	x.handleFunc("GET "+PathReady, true, s.handleReady)
	x.handle("GET "+PathMetrics, true, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}))
}

// formEndpoint is the shape every POST endpoint of the token family shares: the one decoder,
// a pure parser, the Provider, and the one error writer. respond writes the success.
func formEndpoint[Req, Resp any](s *Server, endpoint string, parse func(url.Values, string) (Req, error),
	act func(r *http.Request, req Req) (Resp, error), respond func(w http.ResponseWriter, r *http.Request, resp Resp)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, err := s.readForm(w, r)
		if err != nil {
			s.writeError(w, r, endpoint, err)
			return
		}
		req, err := parse(form, r.Header.Get("Authorization"))
		if err != nil {
			s.writeError(w, r, endpoint, err)
			return
		}
		resp, err := act(r, req)
		if err != nil {
			s.writeError(w, r, endpoint, err)
			return
		}
		respond(w, r, resp)
	}
}

// jsonResult returns the respond function that writes a JSON result of endpoint.
func jsonResult[Resp any](s *Server, endpoint string) func(http.ResponseWriter, *http.Request, Resp) {
	return func(w http.ResponseWriter, r *http.Request, resp Resp) { s.writeResult(w, r, endpoint, resp) }
}

func (s *Server) handleToken() http.HandlerFunc {
	return formEndpoint(s, epToken, oauth.ParseTokenRequest,
		func(r *http.Request, req oauth.TokenRequest) (*oauth.TokenResponse, error) {
			req.RemoteIP = s.clientIP(r)
			resp, err := s.provider.Token(r.Context(), req)
			if err == nil {
				s.metrics.tokens.WithLabelValues(req.GrantType).Inc()
			}
			return resp, err
		}, jsonResult[*oauth.TokenResponse](s, epToken))
}

func (s *Server) handleIntrospect() http.HandlerFunc {
	return formEndpoint(s, epIntrospect, oauth.ParseTokenHandleRequest,
		func(r *http.Request, req oauth.TokenHandleRequest) (*oauth.Introspection, error) {
			return s.provider.Introspect(r.Context(), req)
		}, jsonResult[*oauth.Introspection](s, epIntrospect))
}

// handleRevoke answers RFC 7009: 200 with an empty body, also for tokens that are unknown or
// already invalid.
func (s *Server) handleRevoke() http.HandlerFunc {
	return formEndpoint(s, epRevoke, oauth.ParseTokenHandleRequest,
		func(r *http.Request, req oauth.TokenHandleRequest) (struct{}, error) {
			return struct{}{}, s.provider.Revoke(r.Context(), req)
		}, func(w http.ResponseWriter, _ *http.Request, _ struct{}) {
			h := w.Header()
			h["Cache-Control"] = hvNoStore
			h["Pragma"] = hvNoCache
			h["Content-Length"] = []string{"0"}
			w.WriteHeader(http.StatusOK)
		})
}

// writeResult writes a successful token endpoint family response.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, endpoint string, v any) {
	if err := writeJSON(w, http.StatusOK, v, true); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "write response", slog.String("endpoint", endpoint),
			slog.String("request_id", RequestID(r.Context())), slog.Any("err", err))
	}
}

func handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyTimeout bounds the checks of /readyz.
const readyTimeout = 2 * time.Second

// handleReady reports whether the server can serve tokens: the store answers and the signing
// keys load (and unseal). The reason for a failure is logged, not sent.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.ready(r.Context()); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "not ready", slog.String("request_id", RequestID(r.Context())),
			slog.Any("err", err))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	keys := s.provider.Keys()
	algs := s.provider.Metadata().AccessTokenAlgorithms
	if s.idTokens != nil {
		algs = append(algs, s.idTokens.Algorithm())
	}
	for _, alg := range algs {
		if _, err := keys.Signer(ctx, alg); err != nil {
			return err
		}
	}
	_, _, err := keys.JWKS(ctx)
	return err
}
