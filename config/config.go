// Package config is Gatehouse's configuration: a typed Config, its defaults, and Load, which reads
// a strict YAML file, applies GATEHOUSE_* environment variables, fills defaults and validates,
// reporting every problem at once with its key path and the line or variable it came from.
//
// The package imports nothing else of Gatehouse.
package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. The yaml tags are the key names; each scalar key can also
// be set by the environment variable GATEHOUSE_ followed by its upper-cased path, with "_"
// between levels (keys.algorithm is GATEHOUSE_KEYS_ALGORITHM). Scopes, Clients and Users are
// declarations and can only be set in the file.
type Config struct {
	// Issuer is the public base URL, the "iss" of every token. Empty means "http://" + Listen.
	Issuer string `yaml:"issuer"`
	// Listen is the host:port of the public listener.
	Listen string `yaml:"listen"`
	// AdminListen is the host:port of the admin API; "" or "off" disables it.
	AdminListen string `yaml:"admin_listen"`
	// Database is a SQLite file path or a postgres:// DSN; empty means DataDir/gatehouse.db.
	Database string `yaml:"database"`
	// DataDir holds the SQLite database by default.
	DataDir string `yaml:"data_dir"`

	Keys    Keys    `yaml:"keys"`
	Tokens  Tokens  `yaml:"tokens"`
	Log     Log     `yaml:"log"`
	HTTP    HTTP    `yaml:"http"`
	OAuth   OAuth   `yaml:"oauth"`
	Audit   Audit   `yaml:"audit"`
	Janitor Janitor `yaml:"janitor"`
	Debug   Debug   `yaml:"debug"`

	Scopes  []ScopeDecl  `yaml:"scopes"`
	Clients []ClientDecl `yaml:"clients"`
	Users   []UserDecl   `yaml:"users"`
}

// Keys configures signing keys and the key that seals them at rest.
type Keys struct {
	// Algorithm signs access tokens: ES256 (default), RS256, PS256 or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// IDTokenAlgorithm signs ID tokens; default RS256, which OpenID Connect requires.
	IDTokenAlgorithm string `yaml:"id_token_algorithm"`
	// RotationPeriod rotates keys automatically; 0 means manual rotation only.
	RotationPeriod Duration `yaml:"rotation_period"`
	// EncryptionKey is 32 bytes, hex or base64 encoded, that seals private keys (AES-GCM).
	EncryptionKey string `yaml:"encryption_key"`
	// EncryptionKeyFile names a file holding the encryption key instead.
	EncryptionKeyFile string `yaml:"encryption_key_file"`
}

// Tokens sets token lifetimes.
type Tokens struct {
	AccessTokenLifetime       Duration `yaml:"access_token_lifetime"`
	RefreshTokenLifetime      Duration `yaml:"refresh_token_lifetime"`
	AuthorizationCodeLifetime Duration `yaml:"authorization_code_lifetime"`
	IDTokenLifetime           Duration `yaml:"id_token_lifetime"`
}

// Log configures the slog logger.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or text.
	Format string `yaml:"format"`
}

// HTTP configures the HTTP servers.
type HTTP struct {
	MaxBodyBytes int64    `yaml:"max_body_bytes"`
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// TrustedProxies are CIDRs whose X-Forwarded-For header is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// OAuth sets protocol choices of the authorization endpoint.
type OAuth struct {
	// PKCEOptionalForConfidential lets confidential clients omit PKCE; public clients always
	// need it. Default false: PKCE for every client (RFC 9700 2.1.1).
	PKCEOptionalForConfidential bool `yaml:"pkce_optional_for_confidential"`
	// AllowPlainPKCE accepts code_challenge_method=plain; default false (S256 only).
	AllowPlainPKCE bool `yaml:"allow_plain_pkce"`
	// SessionLifetime is how long a browser sign-in lasts; default 24h.
	SessionLifetime Duration `yaml:"session_lifetime"`
}

// Audit configures the audit trail.
type Audit struct {
	// Retention is how long audit events are kept; the janitor deletes older ones. 0 keeps
	// them forever. Default 90 days.
	Retention Duration `yaml:"retention"`
}

// Janitor configures the background deletion of expired rows.
type Janitor struct {
	// Interval is the time between janitor passes; default 1m.
	Interval Duration `yaml:"interval"`
}

// Debug configures diagnostics.
type Debug struct {
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin listener; default false.
	Pprof bool `yaml:"pprof"`
}

// ScopeDecl declares a scope.
type ScopeDecl struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Default scopes are granted when a request omits the scope parameter.
	Default bool `yaml:"default"`
}

// ClientDecl declares an OAuth client.
type ClientDecl struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"` // defaults to ID
	// Secret is a plaintext secret (stored argon2id-hashed); SecretHash is an already hashed one
	// ("$argon2id$..." or "sha256$..."). At most one; public clients have neither.
	Secret                 string   `yaml:"secret"`
	SecretHash             string   `yaml:"secret_hash"`
	Public                 bool     `yaml:"public"`
	Trusted                bool     `yaml:"trusted"`
	GrantTypes             []string `yaml:"grant_types"`
	Scopes                 []string `yaml:"scopes"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// TokenFormat is jwt (default) or opaque.
	TokenFormat string `yaml:"token_format"`
}

// UserDecl declares a user.
type UserDecl struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordHash string `yaml:"password_hash"`
	Email        string `yaml:"email"`
	Name         string `yaml:"name"`
}

// EnvConfigFile is the environment variable the gatehouse command reads for the configuration
// file path. Load does not read it, but accepts it among the GATEHOUSE_* variables.
const EnvConfigFile = "GATEHOUSE_CONFIG"

// envPrefix starts every environment variable of this package.
const envPrefix = "GATEHOUSE_"

// envAllowed reports whether name is a GATEHOUSE_* variable that is not a configuration key but
// is read elsewhere (by the gatehouse command), so Load must not refuse it.
// Variables under GATEHOUSE_TEST_ configure the test suites (e.g. GATEHOUSE_TEST_POSTGRES).
func envAllowed(name string) bool {
	return name == EnvConfigFile || strings.HasPrefix(name, "GATEHOUSE_TEST_")
}

// Redaction replaces secrets in Redacted.
const Redaction = "REDACTED"

const (
	defaultListen      = "127.0.0.1:8080"
	defaultAdminListen = "127.0.0.1:8081"
	defaultDataDir     = "./gatehouse-data"
	defaultDBFile      = "gatehouse.db"
	// defaultAuditRetention is 90 days.
	defaultAuditRetention = 90 * 24 * time.Hour
)

// Defaults returns the configuration used when nothing is set: Load("", nil).
func Defaults() Config {
	var c Config
	fillDefaults(&c, func(string) bool { return false })
	return c
}

// fillDefaults sets the defaults. isSet reports whether a key path was given (in the file or
// the environment); numbers and durations given explicitly are kept even when zero, so that
// validation refuses them instead of silently replacing them. An explicit empty admin_listen
// disables the admin listener; other empty strings take their default.
func fillDefaults(c *Config, isSet func(path string) bool) {
	str := func(p *string, def string) {
		if *p == "" {
			*p = def
		}
	}
	dur := func(path string, p *Duration, def time.Duration) {
		if !isSet(path) {
			*p = Duration(def)
		}
	}
	str(&c.Listen, defaultListen)
	if c.Issuer == "" {
		c.Issuer = "http://" + c.Listen
	}
	if c.AdminListen == "" && !isSet("admin_listen") {
		c.AdminListen = defaultAdminListen
	}
	str(&c.DataDir, defaultDataDir)
	str(&c.Database, filepath.Join(c.DataDir, defaultDBFile))

	str(&c.Keys.Algorithm, "ES256")
	str(&c.Keys.IDTokenAlgorithm, "RS256")

	dur("tokens.access_token_lifetime", &c.Tokens.AccessTokenLifetime, time.Hour)
	dur("tokens.refresh_token_lifetime", &c.Tokens.RefreshTokenLifetime, 720*time.Hour)
	dur("tokens.authorization_code_lifetime", &c.Tokens.AuthorizationCodeLifetime, 60*time.Second)
	dur("tokens.id_token_lifetime", &c.Tokens.IDTokenLifetime, time.Hour)
	dur("oauth.session_lifetime", &c.OAuth.SessionLifetime, 24*time.Hour)
	dur("audit.retention", &c.Audit.Retention, defaultAuditRetention)
	dur("janitor.interval", &c.Janitor.Interval, time.Minute)

	str(&c.Log.Level, "info")
	str(&c.Log.Format, "json")

	if !isSet("http.max_body_bytes") {
		c.HTTP.MaxBodyBytes = 65536
	}
	dur("http.read_timeout", &c.HTTP.ReadTimeout, 10*time.Second)
	dur("http.write_timeout", &c.HTTP.WriteTimeout, 10*time.Second)

	for i := range c.Clients {
		str(&c.Clients[i].Name, c.Clients[i].ID)
		str(&c.Clients[i].TokenFormat, "jwt")
	}
}

// Load reads the YAML file at path ("" means no file), applies the GATEHOUSE_* variables of env
// (os.Environ() form, "KEY=value"; the first occurrence of a key wins, empty values are
// ignored), fills the defaults and validates. Problems with the file, the environment or the
// values are returned together as a *ValidationError; a file that cannot be read or parsed as
// YAML is returned as a plain error.
func Load(path string, env []string) (Config, error) {
	l := &loader{file: path, origins: map[string]origin{}, bad: map[string]bool{}}
	var c Config
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := l.decodeFile(data, &c); err != nil {
			return Config{}, err
		}
	}
	l.applyEnv(&c, env)
	issuerDerived := c.Issuer == ""
	fillDefaults(&c, func(p string) bool { _, ok := l.origins[p]; return ok })
	for _, p := range c.problems(issuerDerived) {
		if l.isBad(p.Path) {
			continue // already reported as undecodable
		}
		l.locate(&p)
		l.problems = append(l.problems, p)
	}
	if len(l.problems) > 0 {
		return Config{}, &ValidationError{Problems: sortProblems(l.problems)}
	}
	return c, nil
}

// decodeFile decodes one YAML document strictly into c. Syntax errors stop decoding; every
// other problem is collected in l.problems.
func (l *loader) decodeFile(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file
		}
		return l.syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.problems = append(l.problems, Problem{File: l.file, Line: extra.Line,
			Message: "only one YAML document is allowed"})
	} else if !errors.Is(err, io.EOF) {
		return l.syntaxError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	l.decode(root, valueOf(c), "", 0)
	return nil
}

// DatabaseDSN returns the database to open: Database, or gatehouse.db in DataDir (or in the
// default data directory) when it is empty.
func (c Config) DatabaseDSN() string {
	if c.Database != "" {
		return c.Database
	}
	dir := c.DataDir
	if dir == "" {
		dir = defaultDataDir
	}
	return filepath.Join(dir, defaultDBFile)
}

// IsPostgres reports whether DatabaseDSN is a PostgreSQL DSN rather than a SQLite path.
func (c Config) IsPostgres() bool {
	dsn := strings.ToLower(c.DatabaseDSN())
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// AdminEnabled reports whether the admin listener is on (AdminListen is neither "" nor "off").
func (c Config) AdminEnabled() bool {
	return c.AdminListen != "" && c.AdminListen != "off"
}

// Redacted returns a copy of c that is safe to log: the encryption key, client secrets and
// secret hashes, user passwords and password hashes, and the password of a PostgreSQL DSN are
// replaced with "REDACTED". c itself is not modified.
func (c Config) Redacted() Config {
	r := c
	redact := func(s *string) {
		if *s != "" {
			*s = Redaction
		}
	}
	redact(&r.Keys.EncryptionKey)
	r.Database = redactDSN(c.Database)
	r.HTTP.TrustedProxies = append([]string(nil), c.HTTP.TrustedProxies...)
	r.Scopes = append([]ScopeDecl(nil), c.Scopes...)
	r.Clients = make([]ClientDecl, len(c.Clients))
	for i, cl := range c.Clients {
		cl.GrantTypes = append([]string(nil), cl.GrantTypes...)
		cl.Scopes = append([]string(nil), cl.Scopes...)
		cl.RedirectURIs = append([]string(nil), cl.RedirectURIs...)
		cl.PostLogoutRedirectURIs = append([]string(nil), cl.PostLogoutRedirectURIs...)
		redact(&cl.Secret)
		redact(&cl.SecretHash)
		r.Clients[i] = cl
	}
	r.Users = make([]UserDecl, len(c.Users))
	for i, u := range c.Users {
		redact(&u.Password)
		redact(&u.PasswordHash)
		r.Users[i] = u
	}
	if c.Clients == nil {
		r.Clients = nil
	}
	if c.Users == nil {
		r.Users = nil
	}
	return r
}

// redactDSN hides the password of a URL-form DSN, in the user info or a password parameter.
// Anything that does not parse as a URL with a scheme is returned unchanged (a file path).
func redactDSN(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return Redaction
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Redaction)
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", Redaction)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// EncryptionKeyBytes returns the 32-byte key from EncryptionKey or from EncryptionKeyFile (whose
// surrounding whitespace is ignored), or nil and no error when neither is set.
func (k Keys) EncryptionKeyBytes() ([]byte, error) {
	switch {
	case k.EncryptionKey != "" && k.EncryptionKeyFile != "":
		return nil, errors.New("encryption_key and encryption_key_file are mutually exclusive")
	case k.EncryptionKey != "":
		return decodeKey(k.EncryptionKey)
	case k.EncryptionKeyFile != "":
		data, err := os.ReadFile(k.EncryptionKeyFile)
		if err != nil {
			return nil, err
		}
		key, err := decodeKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.EncryptionKeyFile, err)
		}
		return key, nil
	}
	return nil, nil
}

// errKeyFormat never quotes the key itself.
var errKeyFormat = errors.New("must be 32 bytes, hex or base64 encoded (generate one with `openssl rand -base64 32`)")

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errKeyFormat
}
