// Package server is Gatehouse's HTTP front end. It decodes requests into the oauth package's
// request types, calls the Provider, and writes the results: one request decoder for the POST
// endpoints (POST only, form content type, body size limit, body parameters only), one error
// writer (RFC 6749 5.2 JSON, WWW-Authenticate on 401), middleware (request id, access log,
// panic recovery, security headers, CORS for the public GET documents, Prometheus metrics) and
// the janitor that deletes expired rows and rotates signing keys.
//
// The public handler serves the protocol endpoints and the browser side: the authorization
// endpoint, the login, consent, logout and account pages (sessions in a cookie, CSRF tokens
// bound to a per-browser cookie), with the device grant the device authorization endpoint and
// the /device verification page (RFC 8628), and, with OpenID Connect, userinfo and
// RP-initiated logout.
// The admin handler serves operations endpoints (health, metrics, pprof) and is meant for a
// separate, private listener.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes      = 64 << 10
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 15 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownTimeout   = 15 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMetadataCacheTTL  = 5 * time.Second
	DefaultJanitorInterval   = time.Minute
	DefaultJanitorBatchSize  = 1000
	DefaultJanitorMaxPerRun  = 100_000
	DefaultKeyRetain         = 24 * time.Hour
	DefaultSessionLifetime   = 24 * time.Hour
)

// Options configure a Server. The zero value is ready to use; zero fields take the defaults
// above.
type Options struct {
	// Issuer, when set, must equal the Provider's issuer. The metadata documents build every
	// endpoint URL from it.
	Issuer string

	// MaxBodyBytes limits the body of POST requests; larger bodies get 413.
	MaxBodyBytes int64
	// Timeouts and limits of the http.Servers that Serve runs.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// ShutdownTimeout bounds the graceful shutdown in Serve; connections still open after it
	// are closed.
	ShutdownTimeout time.Duration

	// TrustedProxies are the addresses or CIDR prefixes of reverse proxies whose
	// X-Forwarded-For header is believed when logging the client address.
	TrustedProxies []string

	// MetadataCacheTTL is how long the discovery documents are cached (they include the scope
	// catalogue). A negative value turns the cache off.
	MetadataCacheTTL time.Duration

	// KeyAlgorithms are the signing algorithms the janitor rotates; default the Provider's
	// access token algorithms plus the ID token algorithm of Deps.IDTokens.
	KeyAlgorithms []string
	// KeyRotationPeriod is the age at which the current key of an algorithm is rotated;
	// zero or negative turns rotation off.
	KeyRotationPeriod time.Duration
	// KeyRetain is how long a rotated-out key stays published; it must exceed the longest
	// lifetime of a token the key signed.
	KeyRetain time.Duration

	// JanitorInterval is the time between janitor passes.
	JanitorInterval time.Duration
	// JanitorBatchSize is the limit of one DeleteExpired call; JanitorMaxPerRun bounds the
	// rows one pass deletes, so a backlog is worked off over several passes.
	JanitorBatchSize int
	JanitorMaxPerRun int
	// AuditRetention is how long audit events are kept: the janitor deletes older ones, in
	// batches of JanitorBatchSize, at most JanitorMaxPerRun a pass. Zero or negative keeps
	// them forever (the configuration's audit.retention defaults to 90 days).
	AuditRetention time.Duration

	// EnablePprof serves net/http/pprof under /debug/pprof/ on the admin handler.
	EnablePprof bool

	// SessionLifetime is how long a browser session lasts after sign-in.
	SessionLifetime time.Duration
	// CSRFSecret keys the HMAC of the pages' CSRF tokens (at least 32 bytes). Every node
	// behind one load balancer needs the same secret; when it is empty, New makes a random
	// one, so tokens only verify on the node that issued them.
	CSRFSecret []byte
	// IDTokenAlgorithms is id_token_signing_alg_values_supported; default the algorithm of
	// Deps.IDTokens.
	IDTokenAlgorithms []string
}

// Deps are a Server's collaborators.
type Deps struct {
	Provider *oauth.Provider
	Store    storage.Store
	Logger   *slog.Logger
	// Now is the clock for the janitor and caches; default time.Now. Request durations are
	// measured with the real monotonic clock.
	Now func() time.Time
	// Registry receives the server's metrics; nil makes a new one. The Go and process
	// collectors are registered on it unless they already are.
	Registry *prometheus.Registry
	// IDTokens adds OpenID Connect: the userinfo and end-session endpoints and the OpenID
	// fields of discovery. Nil serves OAuth 2.0 only. It should be the minter the
	// Provider was given as oauth.Deps.IDTokens.
	IDTokens *oidc.Minter
	// Mounts adds handlers to the public listener by ServeMux pattern (e.g. "/demo/"),
	// behind the same logging, metrics, panic recovery and security headers.
	Mounts map[string]http.Handler
	// AdminMounts adds handlers to the admin listener by ServeMux pattern (e.g. the admin
	// API at "/admin/api/"), behind the same logging, panic recovery and security headers.
	AdminMounts map[string]http.Handler
	// Audit, when set, is the batcher of the Provider's token.issued events (its
	// oauth.Deps.Events); its counters are exported as metrics. The caller runs it.
	Audit *oauth.AuditBatcher
}

// minCSRFSecret is the shortest Options.CSRFSecret accepted.
const minCSRFSecret = 32

// Server serves Gatehouse over HTTP.
type Server struct {
	opts     Options
	provider *oauth.Provider
	store    storage.Store
	log      *slog.Logger
	now      func() time.Time
	registry *prometheus.Registry
	metrics  *metrics
	trusted  []netip.Prefix
	// base is the issuer without a trailing slash; endpoint URLs are base + path.
	base string
	// idTokens is nil without OpenID Connect.
	idTokens *oidc.Minter
	mounts   map[string]http.Handler
	// adminMounts are served on the admin listener.
	adminMounts map[string]http.Handler
	// secureCookies is set when the issuer is https.
	secureCookies bool
	csrfKey       []byte

	metaMu    sync.Mutex
	metaBuilt time.Time
	metaDocs  *metadataDocs

	public http.Handler
	admin  http.Handler
}

// New returns a Server.
func New(opts Options, deps Deps) (*Server, error) {
	if deps.Provider == nil || deps.Store == nil {
		return nil, errors.New("server: Deps.Provider and Deps.Store are required")
	}
	if opts.Issuer == "" {
		opts.Issuer = deps.Provider.Issuer()
	} else if opts.Issuer != deps.Provider.Issuer() {
		return nil, fmt.Errorf("server: Options.Issuer %q differs from the provider's issuer %q", opts.Issuer, deps.Provider.Issuer())
	}
	if deps.IDTokens != nil && !deps.Provider.Metadata().OpenID {
		return nil, errors.New("server: Deps.IDTokens is set, but the Provider has no ID token minter (oauth.Deps.IDTokens)")
	}
	setDefaults(&opts, deps.Provider, deps.IDTokens)
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	trusted, err := parsePrefixes(opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	if err := registerAuditMetrics(deps.Registry, deps.Audit); err != nil {
		return nil, err
	}
	csrfKey := opts.CSRFSecret
	switch {
	case len(csrfKey) == 0:
		csrfKey = make([]byte, 32)
		_, _ = rand.Read(csrfKey) // crypto/rand.Read does not fail
		deps.Logger.Warn("server: no CSRF secret configured; using a random one, so page forms only work on this node")
	case len(csrfKey) < minCSRFSecret:
		return nil, fmt.Errorf("server: Options.CSRFSecret must be at least %d bytes", minCSRFSecret)
	}
	s := &Server{
		opts:     opts,
		provider: deps.Provider,
		// Every audit event the server writes (sign-ins, key rotations…) is also logged.
		store:    oauth.AuditLogged(deps.Store, deps.Logger),
		log:      deps.Logger,
		now:      deps.Now,
		registry: deps.Registry,
		metrics:  m,
		trusted:  trusted,
		base:     strings.TrimSuffix(opts.Issuer, "/"),
		idTokens: deps.IDTokens,
		mounts:   deps.Mounts,
		csrfKey:  slices.Clone(csrfKey),
		// Browsers refuse Secure cookies over plain http, which tests and local setups use.
		secureCookies: strings.HasPrefix(strings.ToLower(opts.Issuer), "https:"),
	}
	s.adminMounts = deps.AdminMounts
	s.public = s.publicHandler()
	s.admin = s.adminHandler()
	return s, nil
}

func setDefaults(o *Options, p *oauth.Provider, idTokens *oidc.Minter) {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout)
	def(&o.JanitorInterval, DefaultJanitorInterval)
	def(&o.KeyRetain, DefaultKeyRetain)
	if o.MetadataCacheTTL == 0 {
		o.MetadataCacheTTL = DefaultMetadataCacheTTL
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.JanitorBatchSize <= 0 {
		o.JanitorBatchSize = DefaultJanitorBatchSize
	}
	if o.JanitorMaxPerRun <= 0 {
		o.JanitorMaxPerRun = DefaultJanitorMaxPerRun
	}
	def(&o.SessionLifetime, DefaultSessionLifetime)
	if idTokens != nil && len(o.IDTokenAlgorithms) == 0 {
		o.IDTokenAlgorithms = []string{idTokens.Algorithm()}
	}
	if len(o.KeyAlgorithms) == 0 {
		o.KeyAlgorithms = p.Metadata().AccessTokenAlgorithms
		if idTokens != nil {
			o.KeyAlgorithms = append(slices.Clone(o.KeyAlgorithms), idTokens.Algorithm())
		}
	}
	o.KeyAlgorithms = slices.Compact(slices.Sorted(slices.Values(o.KeyAlgorithms)))
}

// parsePrefixes reads addresses ("10.0.0.1") and prefixes ("10.0.0.0/8").
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("server: trusted proxy %q is neither an IP address nor a CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Public returns the handler of the public listener.
func (s *Server) Public() http.Handler { return s.public }

// Admin returns the handler of the admin listener: /healthz, /readyz, /metrics and, with
// Options.EnablePprof, /debug/pprof/.
func (s *Server) Admin() http.Handler { return s.admin }

// Registry returns the registry holding the server's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Serve serves the public handler on publicLn and the admin handler on adminLn (nil: no admin
// listener) until ctx is cancelled, then shuts both down gracefully, waiting at most
// Options.ShutdownTimeout for requests in flight. It returns nil after a clean shutdown and
// otherwise the first serving or shutdown error. If one listener fails, both stop.
func Serve(ctx context.Context, s *Server, publicLn, adminLn net.Listener) error {
	if publicLn == nil {
		return errors.New("server: Serve needs a public listener")
	}
	servers := []*http.Server{s.httpServer(s.public, false)}
	listeners := []net.Listener{publicLn}
	if adminLn != nil {
		servers = append(servers, s.httpServer(s.admin, true))
		listeners = append(listeners, adminLn)
	}
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	var errs []error
	pending := len(servers)
	select {
	case <-ctx.Done():
	case err := <-errc:
		pending--
		if !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("server: serve: %w", err))
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("server: shutdown: %w", err))
			_ = hs.Close()
		}
	}
	for ; pending > 0; pending-- {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("server: serve: %w", err))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (s *Server) httpServer(h http.Handler, admin bool) *http.Server {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// CPU profiles and traces run for up to a minute by default; pprof refuses a duration
	// longer than the write timeout.
	if admin && s.opts.EnablePprof && hs.WriteTimeout < 2*time.Minute {
		hs.WriteTimeout = 2 * time.Minute
	}
	return hs
}
