// Package servertest starts a real Gatehouse server on 127.0.0.1 for tests: the memory store
// (or a SQLite file), a sealed keyring with ES256 (access tokens) and RS256 (ID tokens) keys,
// an oauth.Provider whose issuer is the server's URL, with a Sealer for the authorization
// endpoint and an OpenID Connect ID token minter, and server.Serve on real listeners.
// Everything is torn down when the test ends.
package servertest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/storage/sqlstore"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Server is a running test server.
type Server struct {
	// URL is the public base URL, also the issuer ("http://127.0.0.1:port").
	URL string
	// AdminURL is the base URL of the admin listener.
	AdminURL string
	Store    storage.Store
	Provider *oauth.Provider
	Server   *server.Server
	// IDTokens is the ID token minter (nil with WithoutOpenID).
	IDTokens *oidc.Minter
	// Audit is the token.issued batcher (nil without WithAuditBatcher).
	Audit    *oauth.AuditBatcher
	Registry *prometheus.Registry
	// Client is a plain HTTP client for requests to the server.
	Client *http.Client

	now func() time.Time
}

type config struct {
	sqlitePath   string
	postgres     bool
	store        storage.Store
	serverOpts   []func(*server.Options)
	providerOpts []func(*oauth.Options)
	now          func() time.Time
	logger       *slog.Logger
	noOpenID     bool
	audit        *oauth.AuditBatcherOptions
	// adminMounts build server.Deps.AdminMounts once the store and provider exist.
	adminMounts []func(*Server) map[string]http.Handler
}

// Option configures Start.
type Option func(*config)

// WithSQLite stores everything in a SQLite file at path (migrated at open) instead of memory.
func WithSQLite(path string) Option { return func(c *config) { c.sqlitePath = path } }

// WithPostgres stores everything in a fresh schema of the PostgreSQL database at
// GATEHOUSE_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test), dropped when the
// test ends. Without a reachable server the test is skipped, or fails under CI=true.
func WithPostgres() Option { return func(c *config) { c.postgres = true } }

// WithStore uses store; the caller closes it.
func WithStore(store storage.Store) Option { return func(c *config) { c.store = store } }

// WithServerOptions edits the server.Options before the server is built.
func WithServerOptions(f func(*server.Options)) Option {
	return func(c *config) { c.serverOpts = append(c.serverOpts, f) }
}

// WithProviderOptions edits the oauth.Options (Issuer is set to the URL afterwards).
func WithProviderOptions(f func(*oauth.Options)) Option {
	return func(c *config) { c.providerOpts = append(c.providerOpts, f) }
}

// WithNow sets the clock of the provider, keyring and server.
func WithNow(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithoutOpenID starts the server without an ID token minter: OAuth 2.0 only, no userinfo
// or end-session endpoint.
func WithoutOpenID() Option { return func(c *config) { c.noOpenID = true } }

// WithGrantTypes sets the provider's grant types (oauth.Options.GrantTypes), for example to
// enable the password or implicit grant, which are off by default.
func WithGrantTypes(types ...string) Option {
	return WithProviderOptions(func(o *oauth.Options) { o.GrantTypes = types })
}

// WithAuditBatcher records token.issued events through an oauth.AuditBatcher over the
// server's store (Server.Audit; a nil Logger takes the server's): it is the provider's
// oauth.Deps.Events and the server's Deps.Audit, and runs until the test ends, writing what
// is queued after the server stopped and before the store closes. Tests call its Flush to
// see the events at once.
func WithAuditBatcher(opts oauth.AuditBatcherOptions) Option {
	return func(c *config) { c.audit = &opts }
}

// WithAdminMounts adds handlers to the admin listener (server.Deps.AdminMounts): f is called
// with the Server once its Store and Provider exist, before the HTTP server is built.
func WithAdminMounts(f func(*Server) map[string]http.Handler) Option {
	return func(c *config) { c.adminMounts = append(c.adminMounts, f) }
}

// WithLogger sets the logger; by default logs go to the test's output at Debug level.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()

	// The issuer must be the server's URL, so the listeners come first.
	publicLn := listen(t)
	adminLn := listen(t)
	ts := &Server{
		URL:      "http://" + publicLn.Addr().String(),
		AdminURL: "http://" + adminLn.Addr().String(),
		Registry: prometheus.NewRegistry(),
		Client:   &http.Client{Timeout: 30 * time.Second},
		now:      cfg.now,
	}

	switch {
	case cfg.store != nil:
		ts.Store = cfg.store
	case cfg.postgres:
		ts.Store = openPostgres(t, ctx)
	case cfg.sqlitePath != "":
		st, err := sqlstore.Open(ctx, cfg.sqlitePath, sqlstore.Options{})
		if err != nil {
			t.Fatalf("servertest: open SQLite: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		ts.Store = st
	default:
		st := memory.New()
		t.Cleanup(func() { _ = st.Close() })
		ts.Store = st
	}

	sealKey, err := token.NewSealingKey()
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	raw, err := token.ParseSealingKey(sealKey)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	sealer, err := token.NewSealer(raw)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	keys := oauth.NewKeyring(ts.Store, sealer, oauth.KeyringOptions{Now: cfg.now})
	if err := keys.Ensure(ctx, token.ES256); err != nil {
		t.Fatalf("servertest: create signing keys: %v", err)
	}
	deps := oauth.Deps{Store: ts.Store, Keys: keys, Now: cfg.now, Logger: cfg.logger, Sealer: sealer}
	if cfg.audit != nil {
		o := *cfg.audit
		if o.Logger == nil {
			o.Logger = cfg.logger
		}
		ts.Audit = oauth.NewAuditBatcher(ts.Store, o)
		deps.Events = ts.Audit
		// Registered before the server's cleanup, so it runs after the server stopped (and
		// before the store closes).
		actx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); ts.Audit.Run(actx) }()
		t.Cleanup(func() { stop(); <-done })
	}
	if !cfg.noOpenID {
		if err := keys.Ensure(ctx, token.RS256); err != nil {
			t.Fatalf("servertest: create ID token signing keys: %v", err)
		}
		ts.IDTokens = oidc.NewMinter(ts.URL, keys, ts.Store, token.RS256, 0, cfg.now)
		deps.IDTokens = ts.IDTokens
	}

	popts := oauth.Options{CacheTTL: -1}
	for _, f := range cfg.providerOpts {
		f(&popts)
	}
	popts.Issuer = ts.URL
	ts.Provider, err = oauth.New(popts, deps)
	if err != nil {
		t.Fatalf("servertest: oauth.New: %v", err)
	}

	sopts := server.Options{CSRFSecret: randomBytes(t, 32)}
	for _, f := range cfg.serverOpts {
		f(&sopts)
	}
	var adminMounts map[string]http.Handler
	for _, f := range cfg.adminMounts {
		for pattern, h := range f(ts) {
			if adminMounts == nil {
				adminMounts = map[string]http.Handler{}
			}
			adminMounts[pattern] = h
		}
	}
	ts.Server, err = server.New(sopts, server.Deps{AdminMounts: adminMounts, Provider: ts.Provider, Store: ts.Store, Logger: cfg.logger,
		Now: cfg.now, Registry: ts.Registry, IDTokens: ts.IDTokens, Audit: ts.Audit})
	if err != nil {
		t.Fatalf("servertest: server.New: %v", err)
	}

	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(sctx, ts.Server, publicLn, adminLn) }()
	t.Cleanup(func() {
		ts.Client.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("servertest: serve: %v", err)
		}
	})
	return ts
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: listen: %v", err)
	}
	return ln
}

// CreateClient stores c with a newly generated secret (unless c.Public) and returns its id
// and secret. Empty fields get defaults: a random ID, the client_credentials grant, JWT
// access tokens.
func (s *Server) CreateClient(t testing.TB, c storage.Client) (id, secret string) {
	t.Helper()
	if c.ID == "" {
		c.ID = "client-" + randomHex(t, 8)
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{oauth.GrantClientCredentials}
	}
	if c.TokenFormat == "" {
		c.TokenFormat = storage.TokenFormatJWT
	}
	if !c.Public {
		var err error
		if secret, err = token.NewClientSecret(); err != nil {
			t.Fatalf("servertest: %v", err)
		}
		c.SecretHash = token.HashGeneratedSecret(secret)
	}
	now := s.now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	if err := s.Store.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("servertest: create client %s: %v", c.ID, err)
	}
	s.Provider.InvalidateClient(c.ID)
	return c.ID, secret
}

// CreateScope stores a scope.
func (s *Server) CreateScope(t testing.TB, sc storage.Scope) {
	t.Helper()
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = s.now().UTC()
	}
	if err := s.Store.CreateScope(context.Background(), sc); err != nil {
		t.Fatalf("servertest: create scope %s: %v", sc.Name, err)
	}
	s.Provider.InvalidateScopes()
}

// CreateUser stores an enabled user with the password (hashed with argon2id), a random ID,
// the name "<username> Example" and the address <username>@example.com (verified).
func (s *Server) CreateUser(t testing.TB, username, password string) storage.User {
	t.Helper()
	hash, err := token.HashPassword(password)
	if err != nil {
		t.Fatalf("servertest: hash password: %v", err)
	}
	now := s.now().UTC()
	u := storage.User{ID: "user-" + randomHex(t, 8), Username: username, Email: username + "@example.com",
		EmailVerified: true, Name: username + " Example", PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("servertest: create user %s: %v", username, err)
	}
	return u
}

func randomHex(t testing.TB, n int) string { return hex.EncodeToString(randomBytes(t, n)) }

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return b
}

// openPostgres opens a migrated store in a new schema of the test database.
func openPostgres(t testing.TB, ctx context.Context) storage.Store {
	t.Helper()
	base := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", base)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = db.PingContext(pctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("servertest: PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("servertest: PostgreSQL not reachable at %s (%v); skipping", base, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "gh_servertest_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("servertest: create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = db.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	st, err := sqlstore.Open(ctx, base+sep+"search_path="+schema, sqlstore.Options{})
	if err != nil {
		t.Fatalf("servertest: open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
