package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// exchange follows one request through the middleware: it records the response status and
// size, and carries the request id, the matched route and the OAuth error code for the
// access log and the metrics.
type exchange struct {
	http.ResponseWriter
	status  int
	bytes   int64
	id      string
	errCode string
	route   *route
	// ip is the client address, resolved once (clientIP) for the handler and the access log.
	ip string
}

func (e *exchange) WriteHeader(code int) {
	if e.status == 0 && code >= 200 {
		e.status = code
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *exchange) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	n, err := e.ResponseWriter.Write(b)
	e.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers (pprof) flush through the wrapper.
func (e *exchange) Flush() {
	_ = http.NewResponseController(e.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (e *exchange) Unwrap() http.ResponseWriter { return e.ResponseWriter }

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if ex := exchangeOf(ctx); ex != nil {
		return ex.id
	}
	return ""
}

// maxRequestIDLen bounds an incoming X-Request-Id.
const maxRequestIDLen = 64

// validRequestID accepts 1 to 64 characters of [A-Za-z0-9-].
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (it crashes the program instead)
	return hex.EncodeToString(b[:])
}

// route is a registered pattern: its path is the route label of the metrics (never the raw
// path, so the label's cardinality is bounded), with the histogram curried for it.
type route struct {
	path     string
	duration prometheus.Observer
	// quiet routes (probes and scrapes) are logged at Debug level.
	quiet bool
}

// observe is the outermost middleware: it assigns the request id, and when the request is
// done writes the access log line and, when m is not nil, the HTTP metrics.
//
// Every request is logged, at Info level, except probes and scrapes (/healthz, /readyz,
// /metrics) at Debug: an access log that skips the successful token requests cannot answer
// "who got a token at 10:02", and the line is cheap next to signing (LogAttrs with typed
// attributes, skipped entirely when the level is disabled). An operator who wants no access
// log at all sets the log level to warn.
func (s *Server) observe(next http.Handler, m *metrics, unmatched *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()["X-Request-Id"] = []string{id}
		ex := &exchange{ResponseWriter: w, id: id}
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
		defer func() {
			// Runs while a panic that recoverPanics re-raised unwinds, too.
			elapsed := time.Since(start)
			status := ex.status
			if status == 0 {
				status = http.StatusOK
			}
			rt := ex.route
			if rt == nil {
				rt = unmatched
			}
			if m != nil {
				m.requests.WithLabelValues(rt.path, methodLabel(r.Method), strconv.Itoa(status)).Inc()
				rt.duration.Observe(elapsed.Seconds())
			}
			level := slog.LevelInfo
			if rt.quiet && status < 500 {
				level = slog.LevelDebug
			}
			ctx := r.Context()
			if !s.log.Enabled(ctx, level) {
				return
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", rt.path),
				slog.Int("status", status),
				slog.Duration("duration", elapsed),
				slog.Int64("bytes", ex.bytes),
				slog.String("remote", s.clientIP(r)),
				slog.String("request_id", id),
			}
			if ex.errCode != "" {
				attrs = append(attrs, slog.String("error", ex.errCode))
			}
			s.log.LogAttrs(ctx, level, "http request", attrs...)
		}()
		next.ServeHTTP(ex, r)
	})
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodHead, http.MethodOptions, http.MethodPut,
		http.MethodDelete, http.MethodPatch:
		return m
	}
	return "OTHER"
}

// recoverPanics turns a panic into a logged stack and a 500 server_error JSON response. If the
// handler had already started the response, the connection is aborted instead, since the
// status line is gone.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex, ok := w.(*exchange)
		if !ok {
			ex = &exchange{ResponseWriter: w}
			w = ex
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", RequestID(r.Context())), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if ex.status != 0 {
				panic(http.ErrAbortHandler)
			}
			s.writeError(ex, r, epInternal, panicError{v})
		}()
		next.ServeHTTP(w, r)
	})
}

type panicError struct{ v any }

func (p panicError) Error() string { return "panic" }

// Security headers for every response. The content security policy forbids everything: the
// responses are JSON and text, never documents to render or frame.
var (
	hvNoSniff   = []string{"nosniff"}
	hvNoRef     = []string{"no-referrer"}
	hvDeny      = []string{"DENY"}
	hvStrictCSP = []string{"default-src 'none'; frame-ancestors 'none'"}
	hvAnyOrigin = []string{"*"}
	hvExposeTag = []string{"ETag"}
	hvCORSAllow = []string{"GET, HEAD, OPTIONS"}
	hvCORSAge   = []string{"86400"}
)

// securityHeaders sets the headers every response carries; csp adds the strict content
// security policy (not on the admin handler, whose pprof pages are HTML).
func securityHeaders(next http.Handler, csp bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hvNoSniff
		h["Referrer-Policy"] = hvNoRef
		h["X-Frame-Options"] = hvDeny
		if csp {
			h["Content-Security-Policy"] = hvStrictCSP
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows any origin to read a public document (metadata, JWKS), so browser apps can
// discover the server and verify tokens. It answers preflight requests itself.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Access-Control-Allow-Origin"] = hvAnyOrigin
		if r.Method == http.MethodOptions {
			h["Access-Control-Allow-Methods"] = hvCORSAllow
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" && len(rh) <= 256 {
				h.Set("Access-Control-Allow-Headers", rh)
			}
			h["Access-Control-Max-Age"] = hvCORSAge
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h["Access-Control-Expose-Headers"] = hvExposeTag
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address of the client: the peer, or when the peer is a trusted proxy, the
// right-most X-Forwarded-For entry that is not a trusted proxy. It is resolved once per
// request.
func (s *Server) clientIP(r *http.Request) string {
	ex := exchangeOf(r.Context())
	if ex == nil {
		return s.resolveClientIP(r)
	}
	if ex.ip == "" {
		ex.ip = s.resolveClientIP(r)
	}
	return ex.ip
}

func (s *Server) resolveClientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	peer := ap.Addr().Unmap()
	if len(s.trusted) == 0 || !s.isTrusted(peer) {
		return peer.String()
	}
	xff := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client.String()
			}
			client = a.Unmap()
			if !s.isTrusted(client) {
				return client.String()
			}
		}
	}
	return client.String()
}

func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
