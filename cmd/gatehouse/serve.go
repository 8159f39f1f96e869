package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/config"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/server/console"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Files in the data directory.
const (
	// devKeyFile holds the generated development encryption key when none is configured.
	devKeyFile = "encryption.key"
	// demoSecretFile holds the demo machine client's secret, so every --demo start can print it.
	demoSecretFile = "demo-client.secret"
	// demoWebSecretFile holds the secret of the demo web client (the relying party at /demo/).
	demoWebSecretFile = "demo-web.secret"
	// demoPasswordFile holds the demo user's password.
	demoPasswordFile = "demo-user.password"
)

// The clients, scope and user of serve --demo.
const (
	demoClientID    = "demo-machine"
	demoWebClientID = "demo-web"
	// demoDeviceClientID is a public client of the device flow (examples/device-login).
	demoDeviceClientID = "demo-device"
	demoScope          = "demo:read"
	demoUsername       = "demo"
	// demoPath is where the demo relying party is mounted on the public listener.
	demoPath = "/demo/"
)

// demoWebScopes are what the demo relying party asks for: the OpenID Connect scopes (built
// into the oauth package, so not in the catalogue) and the demo scope.
var demoWebScopes = []string{"openid", "profile", "email", "offline_access", demoScope}

// demoDeviceScopes are what the demo device client may ask for.
var demoDeviceScopes = []string{"openid", "profile", demoScope, "offline_access"}

// grantTypes are the grants the server implements and enables. A client still gets only the
// grants its own grant_types list names, and none unless declared or set with the CLI; the
// password and implicit grants are there for legacy clients (RFC 9700 advises against both).
var grantTypes = []string{oauth.GrantClientCredentials, oauth.GrantAuthorizationCode, oauth.GrantRefreshToken,
	oauth.GrantDeviceCode, oauth.GrantPassword, oauth.GrantImplicit}

func (c *cli) serveCmd() *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server",
		Long: "Run the authorization server: open (and migrate) the database, make sure signing keys exist,\n" +
			"apply the scopes, clients and users declared in the configuration, and serve the public and admin\n" +
			"listeners until SIGINT or SIGTERM.\n\n" +
			"Every grant is enabled (client_credentials, authorization_code, refresh_token, the device\n" +
			"authorization grant (urn:ietf:params:oauth:grant-type:device_code), and the legacy\n" +
			"password and implicit grants that RFC 9700 advises against), but a client may use only the\n" +
			"grants in its own grant_types list.\n\n" +
			"With --demo, also create a demo:read scope, a demo-machine client (and print a curl command that\n" +
			"gets a token with it), a demo user, a demo-web client used by a small web application at\n" +
			"/demo/ that signs the demo user in with the authorization code flow and shows the tokens, and a\n" +
			"public demo-device client for the device flow (go run ./examples/device-login).",
		Example: "  gatehouse serve --demo\n  gatehouse serve --config /etc/gatehouse/gatehouse.yaml",
		Args:    cobra.NoArgs,
		// serve and migrate log at the configured level; other commands only warnings.
		Annotations: map[string]string{annotVerbose: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.serve(cmd, demo)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&demo, "demo", false, "seed a demo scope, clients and user, serve a demo web application at /demo/, and print how to use them")
	fs.String("listen", "", "public listener host:port (default 127.0.0.1:8080; port 0 picks a free port)")
	fs.String("admin-listen", "", `admin listener host:port, or "off" (default 127.0.0.1:8081)`)
	fs.String("issuer", "", "issuer URL, the public base URL (default http://<listen>)")
	fs.Bool("no-migrate", false, "do not apply database migrations at start")
	return cmd
}

func (c *cli) serve(cmd *cobra.Command, demo bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// A public listener on port 0 is bound first, so that the configuration (and the issuer
	// derived from it) sees the real address.
	early, err := listenEarly(cmd)
	if err != nil {
		return err
	}
	served := false
	defer func() {
		if !served {
			closeListeners(early)
		}
	}()

	s, err := c.openStore(cmd)
	if err != nil {
		return err
	}
	defer s.close()
	cfg, log := s.cfg, s.log
	// token.issued audit events are written in batches off the request path. Run stops (and
	// writes what is queued) when serve returns, before the store closes.
	auditEvents := oauth.NewAuditBatcher(s.store, oauth.AuditBatcherOptions{Logger: log})
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); auditEvents.Run(auditCtx) }()
	defer func() { stopAudit(); <-auditDone }()
	// auditStore also logs the audit events it writes.
	auditStore := oauth.AuditLogged(s.store, log)

	mode := keyGenerate
	if demo {
		mode = keyDemo
	}
	key, err := sealingKey(cfg, log, mode)
	if err != nil {
		return err
	}
	sealer, err := token.NewSealer(key)
	if err != nil {
		return err
	}
	keys := oauth.NewKeyring(s.store, sealer, oauth.KeyringOptions{})
	algs := signingAlgorithms(cfg)
	if err := keys.Ensure(ctx, algs...); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	requestSealer, err := newRequestSealer(key)
	if err != nil {
		return err
	}
	csrfSecret, err := deriveKey(key, csrfSecretInfo)
	if err != nil {
		return err
	}

	adm := admin.New(auditStore, keys, time.Now)
	res, err := adm.WithActor("config").ApplyDeclared(ctx, declarations(cfg))
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if res.Changed() {
		log.Info("applied the declared scopes, clients and users",
			"scopes_created", res.ScopesCreated, "scopes_updated", res.ScopesUpdated,
			"clients_created", res.ClientsCreated, "clients_updated", res.ClientsUpdated,
			"users_created", res.UsersCreated, "users_updated", res.UsersUpdated)
	}
	if err := ensureAdminScope(ctx, adm.WithActor("config")); err != nil {
		return err
	}
	var seed *demoSeed
	if demo {
		if seed, err = seedDemo(ctx, adm.WithActor("demo"), cfg, log); err != nil {
			return err
		}
	}

	publicLn, adminLn, err := listen(cfg, early)
	if err != nil {
		return err
	}
	defer func() {
		if !served {
			closeListeners(publicLn, adminLn)
		}
	}()
	issuer := cfg.Issuer
	minter := oidc.NewMinter(issuer, keys, s.store, cfg.Keys.IDTokenAlgorithm, cfg.Tokens.IDTokenLifetime.Std(), nil)
	provider, err := oauth.New(oauth.Options{
		Issuer:               issuer,
		AccessTokenLifetime:  cfg.Tokens.AccessTokenLifetime.Std(),
		AccessTokenAlgorithm: cfg.Keys.Algorithm,
		RefreshTokenLifetime: cfg.Tokens.RefreshTokenLifetime.Std(),
		CodeLifetime:         cfg.Tokens.AuthorizationCodeLifetime.Std(),
		PKCEOptional:         cfg.OAuth.PKCEOptionalForConfidential,
		AllowPlainPKCE:       cfg.OAuth.AllowPlainPKCE,
		GrantTypes:           grantTypes,
	}, oauth.Deps{Store: s.store, Keys: keys, Logger: log, Sealer: requestSealer, IDTokens: minter, Events: auditEvents})
	if err != nil {
		return err
	}
	// The admin API, on the admin listener only.
	adminAPI, err := adminapi.New(adminapi.Options{
		KeyAlgorithms: algs,
		KeyRetain:     func(alg string) time.Duration { return keyRetain(cfg, alg) },
	}, adminapi.Deps{Provider: provider, Store: auditStore, Logger: log})
	if err != nil {
		return err
	}
	adminMounts := adminAPI.Mounts()
	// The admin console, at /admin/ on the admin listener (its keys are derived from csrfSecret).
	adminConsole, err := console.New(console.Options{Secret: csrfSecret, KeyRetain: keyRetain(cfg, algs...)},
		console.Deps{Provider: provider, Store: auditStore, Logger: log})
	if err != nil {
		return err
	}
	adminMounts[console.Prefix+"/"] = adminConsole
	var mounts map[string]http.Handler
	if seed != nil {
		mounts = map[string]http.Handler{demoPath: demoHandler(issuer, seed, log)}
	}
	srv, err := server.New(server.Options{
		Issuer:            issuer,
		MaxBodyBytes:      cfg.HTTP.MaxBodyBytes,
		ReadTimeout:       cfg.HTTP.ReadTimeout.Std(),
		WriteTimeout:      cfg.HTTP.WriteTimeout.Std(),
		TrustedProxies:    cfg.HTTP.TrustedProxies,
		KeyAlgorithms:     algs,
		KeyRotationPeriod: cfg.Keys.RotationPeriod.Std(),
		KeyRetain:         keyRetain(cfg, algs...),
		CSRFSecret:        csrfSecret,
		SessionLifetime:   cfg.OAuth.SessionLifetime.Std(),
		AuditRetention:    cfg.Audit.Retention.Std(),
		JanitorInterval:   cfg.Janitor.Interval.Std(),
		EnablePprof:       cfg.Debug.Pprof,
	}, server.Deps{Provider: provider, Store: s.store, Logger: log, IDTokens: minter, Mounts: mounts, Audit: auditEvents,
		AdminMounts: adminMounts})
	if err != nil {
		return err
	}

	log.Info("gatehouse is serving", "issuer", issuer, "listen", publicLn.Addr().String(),
		"admin_listen", addrString(adminLn), "database", s.store.Dialect(), "version", readBuildInfo().Version)
	if err := c.printBanner(banner{
		issuer: issuer, admin: adminLn, database: s.store.Dialect() + " " + cfg.Redacted().DatabaseDSN(),
		demo: seed,
	}); err != nil {
		return err
	}

	janitorCtx, stopJanitor := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { srv.RunJanitor(janitorCtx) })
	served = true
	err = server.Serve(ctx, srv, publicLn, adminLn)
	stopJanitor()
	wg.Wait()
	if err != nil {
		return err
	}
	log.Info("gatehouse stopped")
	return nil
}

// listenEarly binds the --listen address when it has port 0 and points the flag at the bound
// address. It returns nil otherwise.
func listenEarly(cmd *cobra.Command) (net.Listener, error) {
	f := cmd.Flags().Lookup("listen")
	if f == nil || !f.Changed {
		return nil, nil
	}
	if _, port, err := net.SplitHostPort(f.Value.String()); err != nil || port != "0" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", f.Value.String())
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := f.Value.Set(ln.Addr().String()); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// listen opens the public listener (unless bound early) and, unless disabled, the admin
// listener.
func listen(cfg config.Config, early net.Listener) (public, adm net.Listener, err error) {
	public = early
	if public == nil {
		if public, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, nil, fmt.Errorf("listen: %w", err)
		}
	}
	if cfg.AdminEnabled() {
		adm, err = net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			_ = public.Close()
			return nil, nil, fmt.Errorf("admin listen: %w", err)
		}
	}
	return public, adm, nil
}

func closeListeners(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

func addrString(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

// signingAlgorithms are the algorithms that need signing keys: access tokens' and ID tokens'.
func signingAlgorithms(cfg config.Config) []string {
	if cfg.Keys.IDTokenAlgorithm == "" || cfg.Keys.IDTokenAlgorithm == cfg.Keys.Algorithm {
		return []string{cfg.Keys.Algorithm}
	}
	return []string{cfg.Keys.Algorithm, cfg.Keys.IDTokenAlgorithm}
}

// keyRetain is how long a rotated-out key of algs stays published: the longest lifetime of the
// tokens they sign (access tokens with keys.algorithm, ID tokens with keys.id_token_algorithm;
// the access token lifetime for any other algorithm), plus a margin for clock skew and caches.
func keyRetain(cfg config.Config, algs ...string) time.Duration {
	var longest time.Duration
	for _, alg := range algs {
		var d time.Duration
		if alg == cfg.Keys.Algorithm {
			d = cfg.Tokens.AccessTokenLifetime.Std()
		}
		if alg == cfg.Keys.IDTokenAlgorithm {
			d = max(d, cfg.Tokens.IDTokenLifetime.Std())
		}
		if d == 0 {
			d = cfg.Tokens.AccessTokenLifetime.Std()
		}
		longest = max(longest, d)
	}
	return longest + 5*time.Minute
}

// Labels of the keys derived from keys.encryption_key. Deriving them (HKDF-SHA256) gives
// every node the same keys without more configuration, and keeps each use on its own key: the
// many short-lived sealed authorization requests never share a key (or a nonce space) with the
// sealed private keys.
const (
	requestSealerInfo = "gatehouse authorization request sealing key v1"
	csrfSecretInfo    = "gatehouse CSRF secret v1"
)

func deriveKey(key []byte, info string) ([]byte, error) {
	sub, err := hkdf.Key(sha256.New, key, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("derive a key from the encryption key: %w", err)
	}
	return sub, nil
}

// newRequestSealer returns the sealer of authorization requests.
func newRequestSealer(key []byte) (*token.Sealer, error) {
	sub, err := deriveKey(key, requestSealerInfo)
	if err != nil {
		return nil, err
	}
	return token.NewSealer(sub)
}

type banner struct {
	issuer   string
	admin    net.Listener
	database string
	demo     *demoSeed
}

// printBanner tells the operator where the server is and, in demo mode, how to get a token.
func (c *cli) printBanner(b banner) error {
	base := strings.TrimSuffix(b.issuer, "/")
	tokenURL := base + server.PathToken
	if c.jsonOut {
		v := map[string]any{"issuer": b.issuer, "token_endpoint": tokenURL, "database": b.database}
		if b.admin != nil {
			v["admin"] = "http://" + b.admin.Addr().String()
		}
		if b.demo != nil {
			v["demo_client_id"], v["demo_client_secret"] = demoClientID, b.demo.machineSecret
			v["demo_url"] = base + demoPath
			v["demo_username"], v["demo_password"] = demoUsername, b.demo.userPassword
		}
		return c.printJSON(v)
	}
	var sb strings.Builder
	sb.WriteString("Gatehouse is ready.\n\n")
	fmt.Fprintf(&sb, "  Issuer:    %s\n", b.issuer)
	fmt.Fprintf(&sb, "  Metadata:  %s%s\n", base, server.PathOAuthMetadata)
	if b.admin != nil {
		fmt.Fprintf(&sb, "  Admin:     http://%s  (console /admin/, API /admin/api/v1/, /healthz, /readyz, /metrics)\n", b.admin.Addr())
	}
	fmt.Fprintf(&sb, "  Database:  %s\n", b.database)
	if b.demo != nil {
		fmt.Fprintf(&sb, "\nDemo client %q may request the %q scope. Get a token with:\n\n", demoClientID, demoScope)
		fmt.Fprintf(&sb, "  curl -s -u %s:%s -d grant_type=client_credentials %s\n", demoClientID, b.demo.machineSecret, tokenURL)
		fmt.Fprintf(&sb, "\nOpen %s%s in a browser and sign in as %s / %s\n", base, demoPath, demoUsername, b.demo.userPassword)
		fmt.Fprintf(&sb, "\nDevice flow with the public client %q:\n\n  go run ./examples/device-login -issuer %s\n", demoDeviceClientID, base)
	}
	sb.WriteString("\nStop with Ctrl-C.\n")
	_, err := fmt.Fprint(c.stdout, sb.String())
	return err
}

// declarations converts the configuration's declared scopes, clients and users.
func declarations(cfg config.Config) admin.Declarations {
	var d admin.Declarations
	for _, s := range cfg.Scopes {
		d.Scopes = append(d.Scopes, admin.ScopeDecl{Name: s.Name, Description: s.Description, Default: s.Default})
	}
	for _, cl := range cfg.Clients {
		d.Clients = append(d.Clients, admin.ClientDecl{
			ID: cl.ID, Name: cl.Name, Secret: cl.Secret, SecretHash: cl.SecretHash,
			Public: cl.Public, Trusted: cl.Trusted,
			GrantTypes: cl.GrantTypes, Scopes: cl.Scopes,
			RedirectURIs: cl.RedirectURIs, PostLogoutRedirectURIs: cl.PostLogoutRedirectURIs,
			TokenFormat: cl.TokenFormat,
		})
	}
	for _, u := range cfg.Users {
		d.Users = append(d.Users, admin.UserDecl{Username: u.Username, Password: u.Password,
			PasswordHash: u.PasswordHash, Email: u.Email, Name: u.Name})
	}
	return d
}

// keyMode says where sealingKey may get the encryption key from.
type keyMode int

const (
	// keyExisting: the configured key or an existing development key file.
	keyExisting keyMode = iota
	// keyGenerate: also generate the development key file, with SQLite only (on PostgreSQL
	// several nodes must share one configured key).
	keyGenerate
	// keyDemo: generate the development key file whatever the database.
	keyDemo
)

// sealingKey returns the key that seals signing keys at rest: keys.encryption_key or
// keys.encryption_key_file, or else the development key file in the data directory, generated
// (mode permitting) with a warning.
func sealingKey(cfg config.Config, log *slog.Logger, mode keyMode) ([]byte, error) {
	key, err := cfg.Keys.EncryptionKeyBytes()
	if err != nil {
		return nil, fmt.Errorf("keys.encryption_key: %w", err)
	}
	if key != nil {
		return key, nil
	}
	path := filepath.Join(cfg.DataDir, devKeyFile)
	if key, err := readKeyFile(path); err == nil {
		log.Warn("using the development encryption key file; set keys.encryption_key for production", "path", path)
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	switch {
	case mode == keyExisting:
		return nil, fmt.Errorf("no encryption key: set keys.encryption_key or keys.encryption_key_file (or start `gatehouse serve` once to create the development key %s)", path)
	case mode == keyGenerate && cfg.IsPostgres():
		return nil, errors.New("keys.encryption_key or keys.encryption_key_file is required with PostgreSQL: " +
			"every node must seal and open the signing keys with the same key (generate one with `openssl rand -base64 32`)")
	}
	encoded, err := token.NewSealingKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path) // another process was first
	}
	if err != nil {
		return nil, fmt.Errorf("create development encryption key: %w", err)
	}
	_, werr := f.WriteString(encoded + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write development encryption key: %w", err)
	}
	log.Warn("WARNING: no keys.encryption_key configured; generated a development encryption key. "+
		"Anyone who can read this file can read the signing keys: set keys.encryption_key for production",
		"path", path)
	return token.ParseSealingKey(encoded)
}

func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := token.ParseSealingKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}
