package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// An argon2id hash of "s3cret-from-vault" (printf %s s3cret-from-vault | argon2 gatehouse-salt16 -id -t 3 -m 16 -p 1 -e).
const testSecretHash = "$argon2id$v=19$m=65536,t=3,p=1$Z2F0ZWhvdXNlLXNhbHQxNg$2nTNyy6WDPKy0aWLcb26rnOWTmV3pJLjuaJX08mnj9g"

// testKey is 32 bytes, base64.
const testKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="

// loadYAML writes content to gatehouse.yaml in a fresh working directory, so that messages
// start with "gatehouse.yaml:LINE:", and loads it.
func loadYAML(t *testing.T, content string, env []string) (Config, error) {
	t.Helper()
	t.Chdir(t.TempDir())
	if err := os.WriteFile("gatehouse.yaml", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load("gatehouse.yaml", env)
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	want := Config{
		Issuer:      "http://127.0.0.1:8080",
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:8081",
		Database:    filepath.Join("gatehouse-data", "gatehouse.db"),
		DataDir:     "./gatehouse-data",
		Keys:        Keys{Algorithm: "ES256", IDTokenAlgorithm: "RS256"},
		Tokens: Tokens{
			AccessTokenLifetime:       Duration(time.Hour),
			RefreshTokenLifetime:      Duration(720 * time.Hour),
			AuthorizationCodeLifetime: Duration(60 * time.Second),
			IDTokenLifetime:           Duration(time.Hour),
		},
		Log:     Log{Level: "info", Format: "json"},
		HTTP:    HTTP{MaxBodyBytes: 65536, ReadTimeout: Duration(10 * time.Second), WriteTimeout: Duration(10 * time.Second)},
		OAuth:   OAuth{SessionLifetime: Duration(24 * time.Hour)},
		Audit:   Audit{Retention: Duration(90 * 24 * time.Hour)},
		Janitor: Janitor{Interval: Duration(time.Minute)},
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("Defaults() =\n%+v\nwant\n%+v", d, want)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Defaults().Validate(): %v", err)
	}
	loaded, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, d) {
		t.Fatalf("Load(\"\", nil) =\n%+v\nwant Defaults()", loaded)
	}
	if got := d.DatabaseDSN(); got != "gatehouse-data/gatehouse.db" {
		t.Errorf("DatabaseDSN() = %q", got)
	}
	if got := (Config{}).DatabaseDSN(); got != "gatehouse-data/gatehouse.db" {
		t.Errorf("zero DatabaseDSN() = %q", got)
	}
	if !d.AdminEnabled() || d.IsPostgres() {
		t.Errorf("AdminEnabled=%v IsPostgres=%v", d.AdminEnabled(), d.IsPostgres())
	}
}

func TestDerivedDefaults(t *testing.T) {
	c, err := loadYAML(t, "listen: localhost:9000\ndata_dir: /srv/gh\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "http://localhost:9000" || c.Database != "/srv/gh/gatehouse.db" || c.DatabaseDSN() != "/srv/gh/gatehouse.db" {
		t.Fatalf("issuer %q, database %q", c.Issuer, c.Database)
	}
}

const fullYAML = `# a full configuration
issuer: https://auth.example.com/tenant
listen: 0.0.0.0:8443
admin_listen: 127.0.0.1:9443
database: postgres://gh:pw@db:5432/gatehouse?sslmode=disable
data_dir: /var/lib/gatehouse
keys:
  algorithm: EdDSA
  id_token_algorithm: PS256
  rotation_period: 30d
  encryption_key: ` + testKey + `
tokens:
  access_token_lifetime: 15m
  refresh_token_lifetime: 14d
  authorization_code_lifetime: 30s
  id_token_lifetime: 30m
log:
  level: debug
  format: text
http:
  max_body_bytes: 1048576
  read_timeout: 5s
  write_timeout: 1m
  trusted_proxies: [10.0.0.0/8, "fd00::/8"]
scopes:
  - name: api:read
    description: Read
    default: true
  - name: api:write
clients:
  - id: svc
    secret_hash: "` + testSecretHash + `"
    grant_types: [client_credentials]
    scopes: [api:read]
    token_format: opaque
  - id: spa
    name: The SPA
    public: true
    trusted: true
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [https://app.example.com/cb, "com.example.app:/oauth"]
    post_logout_redirect_uris: [https://app.example.com/]
users:
  - username: alice
    password_hash: "` + testSecretHash + `"
    email: alice@example.com
    name: Alice
  - username: bob
    password: hunter2hunter2
`

func TestLoadFull(t *testing.T) {
	c, err := loadYAML(t, fullYAML, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Issuer:      "https://auth.example.com/tenant",
		Listen:      "0.0.0.0:8443",
		AdminListen: "127.0.0.1:9443",
		Database:    "postgres://gh:pw@db:5432/gatehouse?sslmode=disable",
		DataDir:     "/var/lib/gatehouse",
		Keys: Keys{Algorithm: "EdDSA", IDTokenAlgorithm: "PS256", RotationPeriod: Duration(30 * 24 * time.Hour),
			EncryptionKey: testKey},
		Tokens: Tokens{
			AccessTokenLifetime:       Duration(15 * time.Minute),
			RefreshTokenLifetime:      Duration(14 * 24 * time.Hour),
			AuthorizationCodeLifetime: Duration(30 * time.Second),
			IDTokenLifetime:           Duration(30 * time.Minute),
		},
		Log: Log{Level: "debug", Format: "text"},
		HTTP: HTTP{MaxBodyBytes: 1 << 20, ReadTimeout: Duration(5 * time.Second), WriteTimeout: Duration(time.Minute),
			TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"}},
		OAuth:   OAuth{SessionLifetime: Duration(24 * time.Hour)},
		Audit:   Audit{Retention: Duration(90 * 24 * time.Hour)},
		Janitor: Janitor{Interval: Duration(time.Minute)},
		Scopes:  []ScopeDecl{{Name: "api:read", Description: "Read", Default: true}, {Name: "api:write"}},
		Clients: []ClientDecl{
			{ID: "svc", Name: "svc", SecretHash: testSecretHash, GrantTypes: []string{"client_credentials"},
				Scopes: []string{"api:read"}, TokenFormat: "opaque"},
			{ID: "spa", Name: "The SPA", Public: true, Trusted: true,
				GrantTypes:             []string{"authorization_code", "refresh_token"},
				RedirectURIs:           []string{"https://app.example.com/cb", "com.example.app:/oauth"},
				PostLogoutRedirectURIs: []string{"https://app.example.com/"}, TokenFormat: "jwt"},
		},
		Users: []UserDecl{
			{Username: "alice", PasswordHash: testSecretHash, Email: "alice@example.com", Name: "Alice"},
			{Username: "bob", Password: "hunter2hunter2"},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", c, want)
	}
	if !c.IsPostgres() || c.DatabaseDSN() != want.Database {
		t.Errorf("IsPostgres=%v DatabaseDSN=%q", c.IsPostgres(), c.DatabaseDSN())
	}
	key, err := c.Keys.EncryptionKeyBytes()
	if err != nil || len(key) != 32 {
		t.Fatalf("EncryptionKeyBytes: %d bytes, %v", len(key), err)
	}
}

func TestSecretHashForms(t *testing.T) {
	good := []string{
		testSecretHash,
		"sha256$" + strings.Repeat("ab", 32), // sha256sum output
		"sha256$LXEWQrcmsEQBYnyp-6wy9chTD7GQPMTbAiWHF5IaSIE",
		"sha256$LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	}
	for _, h := range good {
		if !isSecretHash(h) {
			t.Errorf("%q refused", h)
		}
	}
	bad := []string{"", "sha256$", "sha256$abcd", "$argon2id$v=19$m=65536,t=3,p=1$salt", "$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=65536,t=3,p=1$c2FsdA==$aGFzaA", "$2a$10$short", "plaintext"}
	for _, h := range bad {
		if isSecretHash(h) {
			t.Errorf("%q accepted", h)
		}
	}
	if isPasswordHash("sha256$" + strings.Repeat("ab", 32)) {
		t.Error("an unsalted sha256 hash accepted as a password hash")
	}
}

func TestExampleFile(t *testing.T) {
	c, err := Load("../docs/gatehouse.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clients) == 0 || len(c.Scopes) == 0 || len(c.Users) == 0 {
		t.Fatalf("example declares nothing: %+v", c)
	}
}

// TestDocExamples loads every yaml block of docs/configuration.md, with the encryption key in
// the environment as the minimal example says.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("no yaml example in docs/configuration.md")
	}
	for i, b := range blocks {
		example, _, ok := strings.Cut(b, "```")
		if !ok {
			t.Fatalf("block %d is not closed", i)
		}
		if _, err := loadYAML(t, example, []string{"GATEHOUSE_KEYS_ENCRYPTION_KEY=" + testKey}); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
	}
}

func TestFileProblems(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "listen: 127.0.0.1:1\nfoo: 1\n",
			"gatehouse.yaml:2: foo: unknown key"},
		{"unknown nested key with suggestion", "log:\n  level: info\ntokens:\n  acess_token_lifetime: 1h\n",
			"gatehouse.yaml:4: tokens.acess_token_lifetime: unknown key (did you mean access_token_lifetime?)"},
		{"unknown key in a list entry", "clients:\n  - id: a\n    public: true\n    grant_types: [password]\n  - id: b\n    nmae: B\n    public: true\n    grant_types: [password]\n",
			"gatehouse.yaml:6: clients[1].nmae: unknown key (did you mean name?)"},
		{"duplicate key", "log:\n  level: info\n  level: debug\n",
			"gatehouse.yaml:3: log.level: duplicate key (first set on line 2)"},
		{"unsupported algorithm", "\n\nkeys:\n  algorithm: HS256\n",
			`gatehouse.yaml:4: keys.algorithm: "HS256" is not one of ES256, RS256, PS256, EdDSA`},
		{"invalid duration", "tokens:\n  access_token_lifetime: 1x\n",
			`gatehouse.yaml:2: tokens.access_token_lifetime: invalid duration "1x"`},
		{"duration without unit", "tokens:\n  access_token_lifetime: 3600\n",
			`gatehouse.yaml:2: tokens.access_token_lifetime: invalid duration "3600"`},
		{"explicit zero lifetime", "tokens:\n  id_token_lifetime: 0s\n",
			"gatehouse.yaml:2: tokens.id_token_lifetime: must be positive, got 0s"},
		{"access lifetime above maximum", "tokens:\n  access_token_lifetime: 2d\n",
			"gatehouse.yaml:2: tokens.access_token_lifetime: must be at most 1d, got 2d"},
		{"code lifetime above maximum", "tokens:\n  authorization_code_lifetime: 11m\n",
			"gatehouse.yaml:2: tokens.authorization_code_lifetime: must be at most 10m, got 11m"},
		{"refresh lifetime above maximum", "tokens:\n  refresh_token_lifetime: 366d\n",
			"gatehouse.yaml:2: tokens.refresh_token_lifetime: must be at most 365d, got 366d"},
		{"bool expected", "scopes:\n  - name: a\n    default: yes\n",
			`gatehouse.yaml:3: scopes[0].default: expected true or false, got "yes"`},
		{"integer expected", "http:\n  max_body_bytes: 64k\n",
			`gatehouse.yaml:2: http.max_body_bytes: expected an integer, got "64k"`},
		{"list expected", "http:\n  trusted_proxies: 10.0.0.0/8\n",
			`gatehouse.yaml:2: http.trusted_proxies: expected a list, got "10.0.0.0/8"`},
		{"mapping expected", "keys: ES256\n",
			`gatehouse.yaml:1: keys: expected a mapping, got "ES256"`},
		{"single value expected", "listen:\n  - a\n",
			`gatehouse.yaml:2: listen: expected a single value, got a list`},
		{"bad grant type in a list", "clients:\n  - id: a\n    public: true\n    grant_types: [password]\n  - id: b\n    secret_hash: \"" + testSecretHash + "\"\n    grant_types:\n      - client_credential\n",
			`gatehouse.yaml:8: clients[1].grant_types[0]: "client_credential" is not one of client_credentials, authorization_code, refresh_token, password, implicit, urn:ietf:params:oauth:grant-type:device_code`},
		{"http issuer on a public host", "issuer: http://auth.example.com\n",
			`gatehouse.yaml:1: issuer: "http://auth.example.com" must use https (http is allowed only for 127.0.0.1, localhost and ::1)`},
		{"derived issuer on all interfaces", "listen: 0.0.0.0:8080\n",
			`issuer: not set, and the value derived from listen ("http://0.0.0.0:8080") is only valid on a loopback address; set issuer to the public https URL`},
		{"issuer with query", "issuer: https://a.example.com/?x=1\n",
			`gatehouse.yaml:1: issuer: "https://a.example.com/?x=1" must not have a query`},
		{"issuer with fragment", "issuer: https://a.example.com#x\n",
			`gatehouse.yaml:1: issuer: "https://a.example.com#x" must not have a fragment`},
		{"issuer not absolute", "issuer: auth.example.com\n",
			`gatehouse.yaml:1: issuer: "auth.example.com" is not an absolute http(s) URL`},
		{"issuer trailing slash", "issuer: https://a.example.com/\n",
			`gatehouse.yaml:1: issuer: "https://a.example.com/" must not end with a slash`},
		{"listen not host:port", "listen: 8080\n",
			`gatehouse.yaml:1: listen: "8080" is not host:port`},
		{"admin on the public address", "admin_listen: 127.0.0.1:8080\n",
			"gatehouse.yaml:1: admin_listen: must differ from listen (127.0.0.1:8080)"},
		{"unsupported database url", "database: mysql://u:p@h/db\n",
			"gatehouse.yaml:1: database: unsupported database URL; use a SQLite file path or a postgres:// DSN"},
		{"log level", "log:\n  level: verbose\n",
			`gatehouse.yaml:2: log.level: "verbose" is not one of debug, info, warn, error`},
		{"body limit", "http:\n  max_body_bytes: 0\n",
			"gatehouse.yaml:2: http.max_body_bytes: must be between 1 and 16777216, got 0"},
		{"trusted proxy", "http:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.1.2.3\n    - 10.1.2.0/33\n",
			`gatehouse.yaml:5: http.trusted_proxies[2]: "10.1.2.0/33" is neither an IP address nor a CIDR prefix`},
		{"rotation too short", "keys:\n  rotation_period: 30m\n",
			"gatehouse.yaml:2: keys.rotation_period: must be 0 (manual) or at least 1h, got 30m"},
		{"rotation shorter than token lifetime", "keys:\n  rotation_period: 2h\ntokens:\n  access_token_lifetime: 3h\n",
			"gatehouse.yaml:2: keys.rotation_period: must be at least the longest token lifetime (3h), so a retired key outlives the tokens it signed"},
		{"encryption key too short", "keys:\n  encryption_key: c2hvcnQ=\n",
			"gatehouse.yaml:2: keys.encryption_key: must be 32 bytes, hex or base64 encoded (generate one with `openssl rand -base64 32`)"},
		{"encryption key and file", "keys:\n  encryption_key: " + testKey + "\n  encryption_key_file: k\n",
			"gatehouse.yaml:2: keys.encryption_key: encryption_key and encryption_key_file are mutually exclusive"},
		{"encryption key file missing", "keys:\n  encryption_key_file: missing.key\n",
			"gatehouse.yaml:2: keys.encryption_key_file: open missing.key: no such file or directory"},
		{"invalid scope name", "scopes:\n  - name: api:read\n  - name: \"bad scope\"\n",
			`gatehouse.yaml:3: scopes[1].name: "bad scope" is not a valid scope name (printable ASCII without spaces, " or \)`},
		{"duplicate scope", "scopes:\n  - name: a\n  - name: b\n  - name: a\n",
			`gatehouse.yaml:4: scopes[2].name: "a" is declared twice`},
		{"client id missing", "clients:\n  - public: true\n    grant_types: [password]\n",
			"gatehouse.yaml:2: clients[0].id: is required"},
		{"client id charset", "clients:\n  - id: my client\n    public: true\n    grant_types: [password]\n",
			`gatehouse.yaml:2: clients[0].id: "my client" must be 1 to 255 characters from A-Z a-z 0-9 . _ ~ -`},
		{"duplicate client", "clients:\n  - id: a\n    public: true\n    grant_types: [password]\n  - id: a\n    public: true\n    grant_types: [password]\n",
			`gatehouse.yaml:5: clients[1].id: "a" is declared twice`},
		{"secret and secret_hash", "clients:\n  - id: a\n    secret: s3cret-s3cret-s3cret\n    secret_hash: \"" + testSecretHash + "\"\n    grant_types: [client_credentials]\n",
			"gatehouse.yaml:2: clients[0]: secret and secret_hash are mutually exclusive"},
		{"public client with secret", "clients:\n  - id: a\n    public: true\n    secret: s3cret-s3cret-s3cret\n    grant_types: [password]\n",
			"gatehouse.yaml:2: clients[0]: a public client has no secret; remove secret/secret_hash or public: true"},
		{"confidential client without secret", "clients:\n  - id: a\n    grant_types: [client_credentials]\n",
			"gatehouse.yaml:2: clients[0]: a confidential client needs secret or secret_hash (or set public: true)"},
		{"malformed secret hash", "clients:\n  - id: a\n    secret_hash: plaintext\n    grant_types: [client_credentials]\n",
			`gatehouse.yaml:3: clients[0].secret_hash: must be "sha256$" and 32 bytes in hex or base64, an argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") or a bcrypt hash`},
		{"short secret", "clients:\n  - id: a\n    secret: short\n    grant_types: [client_credentials]\n",
			"gatehouse.yaml:3: clients[0].secret: must be at least 16 characters"},
		{"refresh_token alone", "clients:\n  - id: a\n    public: true\n    grant_types: [refresh_token]\n",
			"gatehouse.yaml:4: clients[0].grant_types: refresh_token needs a grant that issues refresh tokens (authorization_code, password or urn:ietf:params:oauth:grant-type:device_code)"},
		{"http redirect to a public host", "clients:\n  - id: a\n    public: true\n    grant_types: [authorization_code]\n    redirect_uris: [http://app.example.com/cb]\n",
			`gatehouse.yaml:5: clients[0].redirect_uris[0]: "http://app.example.com/cb" must use https (http is allowed only for 127.0.0.1, localhost and ::1)`},
		{"javascript redirect", "clients:\n  - id: a\n    public: true\n    grant_types: [authorization_code]\n    redirect_uris: [\"javascript:alert(1)\"]\n",
			`gatehouse.yaml:5: clients[0].redirect_uris[0]: "javascript:alert(1)" uses the javascript scheme, which is not allowed`},
		{"control character in a name", "clients:\n  - id: a\n    name: \"a\\tb\"\n    public: true\n    grant_types: [password]\n",
			"gatehouse.yaml:3: clients[0].name: must not contain control characters"},
		{"sha256 password hash", "users:\n  - username: a\n    password_hash: sha256$" + strings.Repeat("ab", 32) + "\n",
			`gatehouse.yaml:3: users[0].password_hash: must be an argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") or a bcrypt hash`},
		{"no grant types", "clients:\n  - id: a\n    public: true\n",
			"gatehouse.yaml:2: clients[0].grant_types: at least one grant type is required"},
		{"public client_credentials", "clients:\n  - id: a\n    public: true\n    grant_types: [client_credentials]\n",
			"gatehouse.yaml:4: clients[0].grant_types[0]: client_credentials needs a confidential client"},
		{"code flow without redirect", "clients:\n  - id: a\n    public: true\n    grant_types: [authorization_code]\n",
			"gatehouse.yaml:2: clients[0].redirect_uris: at least one is required for authorization_code and implicit"},
		{"redirect with fragment", "clients:\n  - id: a\n    public: true\n    grant_types: [authorization_code]\n    redirect_uris:\n      - https://a.example.com/cb#frag\n",
			`gatehouse.yaml:6: clients[0].redirect_uris[0]: "https://a.example.com/cb#frag" must not have a fragment`},
		{"relative redirect", "clients:\n  - id: a\n    public: true\n    grant_types: [authorization_code]\n    redirect_uris: [/cb]\n",
			`gatehouse.yaml:5: clients[0].redirect_uris[0]: "/cb" is not an absolute URI`},
		{"token format", "clients:\n  - id: a\n    public: true\n    grant_types: [password]\n    token_format: paseto\n",
			`gatehouse.yaml:5: clients[0].token_format: "paseto" is not one of jwt, opaque`},
		{"client scope syntax", "clients:\n  - id: a\n    public: true\n    grant_types: [password]\n    scopes: [ok, \"a\\\\b\"]\n",
			`gatehouse.yaml:5: clients[0].scopes[1]: "a\\b" is not a valid scope name (printable ASCII without spaces, " or \)`},
		{"user without username", "users:\n  - password: x\n",
			"gatehouse.yaml:2: users[0].username: is required"},
		{"duplicate user", "users:\n  - username: a\n    password: x\n  - username: a\n    password: y\n",
			`gatehouse.yaml:4: users[1].username: "a" is declared twice`},
		{"password and hash", "users:\n  - username: a\n    password: x\n    password_hash: \"" + testSecretHash + "\"\n",
			"gatehouse.yaml:2: users[0]: password and password_hash are mutually exclusive"},
		{"email", "users:\n  - username: a\n    password: x\n    email: alice at example.com\n",
			`gatehouse.yaml:4: users[0].email: "alice at example.com" is not an email address`},
		{"second document", "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n",
			"gatehouse.yaml:2: only one YAML document is allowed"},
		{"syntax error", "log:\n  level: [\n",
			"gatehouse.yaml:2: did not find expected node content"},
		{"merge of a scalar", "log:\n  <<: text\n",
			`gatehouse.yaml:2: log: << must merge a mapping, got "text"`},
		{"self-merging alias", "http: &h\n  <<: *h\n",
			"gatehouse.yaml:1: http: aliases nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.yaml, nil)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n%s\nwant\n%s", err, tt.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("want one problem in a *ValidationError, got %#v", err)
			}
		})
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	yml := `issuer: https://auth.example.com
keys:
  algorithm: HS256
tokens:
  acess_token_lifetime: 1h
  refresh_token_lifetime: forever
clients:
  - id: good
    public: true
    grant_types: [password]
  - id: bad
    secret: s3cret-s3cret-s3cret
    secret_hash: "` + testSecretHash + `"
    grant_types: [client_credentials, magic]
users:
  - username: alice
`
	_, err := loadYAML(t, yml, []string{"GATEHOUSE_LOG_LEVEL=loud", "GATEHOUSE_NOPE=1", "PATH=/bin"})
	want := strings.Join([]string{
		`gatehouse.yaml:3: keys.algorithm: "HS256" is not one of ES256, RS256, PS256, EdDSA`,
		`gatehouse.yaml:5: tokens.acess_token_lifetime: unknown key (did you mean access_token_lifetime?)`,
		`gatehouse.yaml:6: tokens.refresh_token_lifetime: invalid duration "forever"`,
		`gatehouse.yaml:11: clients[1]: secret and secret_hash are mutually exclusive`,
		`gatehouse.yaml:14: clients[1].grant_types[1]: "magic" is not one of client_credentials, authorization_code, refresh_token, password, implicit, urn:ietf:params:oauth:grant-type:device_code`,
		`gatehouse.yaml:16: users[0]: password or password_hash is required`,
		`GATEHOUSE_LOG_LEVEL: "loud" is not one of debug, info, warn, error`,
		`GATEHOUSE_NOPE: unknown variable`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal("not a *ValidationError")
	}
	if p := ve.Problems[2]; p.File != "gatehouse.yaml" || p.Line != 6 || p.Path != "tokens.refresh_token_lifetime" {
		t.Errorf("problem fields: %+v", p)
	}
	if p := ve.Problems[6]; p.Env != "GATEHOUSE_LOG_LEVEL" || p.Path != "log.level" || p.Line != 0 {
		t.Errorf("problem fields: %+v", p)
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(c Config) bool
	}{
		{"database", []string{"GATEHOUSE_DATABASE=postgres://u:p@db/gh"},
			func(c Config) bool { return c.Database == "postgres://u:p@db/gh" && c.IsPostgres() }},
		{"issuer", []string{"GATEHOUSE_ISSUER=https://id.example.org"},
			func(c Config) bool { return c.Issuer == "https://id.example.org" }},
		{"data dir moves the default database", []string{"GATEHOUSE_DATA_DIR=/data"},
			func(c Config) bool { return c.DataDir == "/data" && c.Database == "/data/gatehouse.db" }},
		{"nested string", []string{"GATEHOUSE_KEYS_ALGORITHM=RS256", "GATEHOUSE_KEYS_ENCRYPTION_KEY=" + testKey},
			func(c Config) bool { return c.Keys.Algorithm == "RS256" && c.Keys.EncryptionKey == testKey }},
		{"duration with d suffix", []string{"GATEHOUSE_TOKENS_REFRESH_TOKEN_LIFETIME=7d", "GATEHOUSE_KEYS_ROTATION_PERIOD=1d12h"},
			func(c Config) bool {
				return c.Tokens.RefreshTokenLifetime.Std() == 7*24*time.Hour && c.Keys.RotationPeriod.Std() == 36*time.Hour
			}},
		{"duration", []string{"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME=90s"},
			func(c Config) bool { return c.Tokens.AccessTokenLifetime.Std() == 90*time.Second }},
		{"string list", []string{"GATEHOUSE_HTTP_TRUSTED_PROXIES= 10.0.0.0/8, ,192.168.0.0/16 "},
			func(c Config) bool {
				return reflect.DeepEqual(c.HTTP.TrustedProxies, []string{"10.0.0.0/8", "192.168.0.0/16"})
			}},
		{"integer", []string{"GATEHOUSE_HTTP_MAX_BODY_BYTES=1024"},
			func(c Config) bool { return c.HTTP.MaxBodyBytes == 1024 }},
		{"admin off", []string{"GATEHOUSE_ADMIN_LISTEN=off"},
			func(c Config) bool { return c.AdminListen == "off" && !c.AdminEnabled() }},
		{"empty values are ignored", []string{"GATEHOUSE_LOG_LEVEL=", "GATEHOUSE_ADMIN_LISTEN="},
			func(c Config) bool { return c.Log.Level == "info" && c.AdminListen == "127.0.0.1:8081" }},
		{"first occurrence wins", []string{"GATEHOUSE_LOG_LEVEL=warn", "GATEHOUSE_LOG_LEVEL=error"},
			func(c Config) bool { return c.Log.Level == "warn" }},
		{"allow-listed and foreign variables", []string{"GATEHOUSE_CONFIG=/etc/gatehouse.yaml", "HOME=/root", "gatehouse_lower=1", "NOEQUALS"},
			func(c Config) bool { return reflect.DeepEqual(c, Defaults()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	c, err := loadYAML(t, "log:\n  level: debug\nhttp:\n  trusted_proxies: [10.0.0.0/8]\n",
		[]string{"GATEHOUSE_LOG_LEVEL=error", "GATEHOUSE_HTTP_TRUSTED_PROXIES=127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "error" || !reflect.DeepEqual(c.HTTP.TrustedProxies, []string{"127.0.0.1/32"}) {
		t.Fatalf("got %+v %+v", c.Log, c.HTTP)
	}
}

func TestEnvProblems(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"invalid duration", []string{"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME=1x"},
			`GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME: invalid duration "1x"`},
		{"unknown variable with suggestion", []string{"GATEHOUSE_TOKENS_ACESS_TOKEN_LIFETIME=1h"},
			"GATEHOUSE_TOKENS_ACESS_TOKEN_LIFETIME: unknown variable (did you mean GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME?)"},
		{"unknown variable", []string{"GATEHOUSE_SOMETHING=1"},
			"GATEHOUSE_SOMETHING: unknown variable"},
		{"unknown even when empty", []string{"GATEHOUSE_SOMETHING="},
			"GATEHOUSE_SOMETHING: unknown variable"},
		{"declarations are file-only", []string{"GATEHOUSE_CLIENTS_0_ID=x"},
			"GATEHOUSE_CLIENTS_0_ID: scopes, clients and users can only be declared in the configuration file"},
		{"declaration list", []string{"GATEHOUSE_SCOPES=a,b"},
			"GATEHOUSE_SCOPES: scopes, clients and users can only be declared in the configuration file"},
		{"integer", []string{"GATEHOUSE_HTTP_MAX_BODY_BYTES=lots"},
			`GATEHOUSE_HTTP_MAX_BODY_BYTES: expected an integer, got "lots"`},
		{"invalid value", []string{"GATEHOUSE_KEYS_ALGORITHM=HS256"},
			`GATEHOUSE_KEYS_ALGORITHM: "HS256" is not one of ES256, RS256, PS256, EdDSA`},
		{"invalid list item", []string{"GATEHOUSE_HTTP_TRUSTED_PROXIES=10.0.0.0/8,nope"},
			`GATEHOUSE_HTTP_TRUSTED_PROXIES: "nope" is neither an IP address nor a CIDR prefix`},
		{"sorted by name", []string{"GATEHOUSE_ZZZ=1", "GATEHOUSE_AAA=1"},
			"GATEHOUSE_AAA: unknown variable\nGATEHOUSE_ZZZ: unknown variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.env)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

// TestEnvTable checks that the variables are derived from every scalar key, without collisions.
func TestEnvTable(t *testing.T) {
	fields, decls := envTable()
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.name] {
			t.Errorf("two keys map to %s", f.name)
		}
		seen[f.name] = true
		// Every type the table can hold must be settable from the environment and the file.
		v := reflect.New(f.typ).Elem()
		sample := map[reflect.Type]string{durationType: "1h", reflect.TypeFor[bool](): "true", reflect.TypeFor[int64](): "1"}[f.typ]
		if sample == "" {
			sample = "x"
		}
		if err := setFromEnv(v, sample); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
	}
	for _, name := range []string{"GATEHOUSE_ISSUER", "GATEHOUSE_LISTEN", "GATEHOUSE_ADMIN_LISTEN", "GATEHOUSE_DATABASE",
		"GATEHOUSE_DATA_DIR", "GATEHOUSE_KEYS_ALGORITHM", "GATEHOUSE_KEYS_ID_TOKEN_ALGORITHM",
		"GATEHOUSE_KEYS_ROTATION_PERIOD", "GATEHOUSE_KEYS_ENCRYPTION_KEY", "GATEHOUSE_KEYS_ENCRYPTION_KEY_FILE",
		"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME", "GATEHOUSE_TOKENS_REFRESH_TOKEN_LIFETIME",
		"GATEHOUSE_TOKENS_AUTHORIZATION_CODE_LIFETIME", "GATEHOUSE_TOKENS_ID_TOKEN_LIFETIME", "GATEHOUSE_LOG_LEVEL",
		"GATEHOUSE_LOG_FORMAT", "GATEHOUSE_HTTP_MAX_BODY_BYTES", "GATEHOUSE_HTTP_READ_TIMEOUT",
		"GATEHOUSE_HTTP_WRITE_TIMEOUT", "GATEHOUSE_HTTP_TRUSTED_PROXIES", "GATEHOUSE_OAUTH_PKCE_OPTIONAL_FOR_CONFIDENTIAL",
		"GATEHOUSE_OAUTH_ALLOW_PLAIN_PKCE", "GATEHOUSE_OAUTH_SESSION_LIFETIME", "GATEHOUSE_AUDIT_RETENTION",
		"GATEHOUSE_JANITOR_INTERVAL", "GATEHOUSE_DEBUG_PPROF"} {
		if !seen[name] {
			t.Errorf("missing %s", name)
		}
		delete(seen, name)
	}
	if len(seen) > 0 {
		t.Errorf("variables not covered by this test (add them to docs/configuration.md too): %v", seen)
	}
	if !reflect.DeepEqual(decls, []string{"scopes", "clients", "users"}) {
		t.Errorf("declarations %v", decls)
	}
}

func TestAdminListen(t *testing.T) {
	tests := []struct {
		yaml    string
		want    string
		enabled bool
	}{
		{"admin_listen: \"\"\n", "", false},
		{"admin_listen: off\n", "off", false},
		{"admin_listen:\n", "127.0.0.1:8081", true}, // no value: the default
		{"admin_listen: 127.0.0.1:9000\n", "127.0.0.1:9000", true},
	}
	for _, tt := range tests {
		c, err := loadYAML(t, tt.yaml, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if c.AdminListen != tt.want || c.AdminEnabled() != tt.enabled {
			t.Errorf("%q: AdminListen %q enabled %v", tt.yaml, c.AdminListen, c.AdminEnabled())
		}
	}
}

func TestAliasesAndMerges(t *testing.T) {
	// Top-level keys must be known, so anchors live inside the lists that use them.
	yml := `clients:
  - &spa
    id: one
    public: true
    grant_types: [authorization_code, refresh_token]
    redirect_uris: &uris [https://a.example.com/cb]
  - <<: *spa
    id: two
    redirect_uris: *uris
`
	c, err := loadYAML(t, yml, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clients) != 2 || c.Clients[1].ID != "two" || !c.Clients[1].Public ||
		!reflect.DeepEqual(c.Clients[1].GrantTypes, c.Clients[0].GrantTypes) ||
		!reflect.DeepEqual(c.Clients[1].RedirectURIs, []string{"https://a.example.com/cb"}) {
		t.Fatalf("clients %+v", c.Clients)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, content := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		c, err := loadYAML(t, content, nil)
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if !reflect.DeepEqual(c, Defaults()) {
			t.Fatalf("%q: not the defaults", content)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestValidateWithoutLoad(t *testing.T) {
	c := Defaults()
	c.Keys.Algorithm = "none"
	c.Clients = append(c.Clients, ClientDecl{ID: "svc", Secret: "a-long-random-secret", GrantTypes: []string{"client_credentials"}})
	err := c.Validate()
	want := `keys.algorithm: "none" is not one of ES256, RS256, PS256, EdDSA`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %s", err, want)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"90s", 90 * time.Second, "1m30s"},
		{"1h", time.Hour, "1h"},
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"1d12h", 36 * time.Hour, "36h"},
		{"720h", 720 * time.Hour, "30d"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"10m", 10 * time.Minute, "10m"},
		{"0", 0, "0s"},
		{"-1d", -24 * time.Hour, "-24h"},
		{"250ms", 250 * time.Millisecond, "250ms"},
	}
	for _, tt := range tests {
		var d Duration
		if err := yaml.Unmarshal([]byte(tt.in), &d); err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if d.Std() != tt.want || d.String() != tt.str {
			t.Errorf("%q: got %v (%s), want %v (%s)", tt.in, d.Std(), d, tt.want, tt.str)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(d.String())); err != nil || back != d {
			t.Errorf("%q: round trip of %s gave %v, %v", tt.in, d, back, err)
		}
	}
	for _, bad := range []string{"", "1x", "3600", "d", "1d-1h", "--1h", "1.5d", "99999999999d", "h1"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	var d Duration
	if err := yaml.Unmarshal([]byte("[1h]"), &d); err == nil {
		t.Error("a list decoded as a duration")
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration(48 * time.Hour)})
	if err != nil || string(out) != "d: 2d\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}

func TestRedacted(t *testing.T) {
	c, err := loadYAML(t, fullYAML, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Clients[1].Secret = "" // public
	c.Clients = append(c.Clients, ClientDecl{ID: "plain", Secret: "plain-secret"})
	r := c.Redacted() // must not touch c
	if r.Keys.EncryptionKey != "REDACTED" || r.Clients[0].SecretHash != "REDACTED" || r.Clients[2].Secret != "REDACTED" ||
		r.Clients[1].Secret != "" || r.Users[0].PasswordHash != "REDACTED" || r.Users[1].Password != "REDACTED" {
		t.Fatalf("not redacted: %+v", r)
	}
	if r.Database != "postgres://gh:REDACTED@db:5432/gatehouse?sslmode=disable" {
		t.Errorf("database %q", r.Database)
	}
	if c.Keys.EncryptionKey != testKey || c.Clients[2].Secret != "plain-secret" || c.Users[1].Password != "hunter2hunter2" ||
		c.Database != "postgres://gh:pw@db:5432/gatehouse?sslmode=disable" {
		t.Fatalf("Redacted modified the original: %+v", c)
	}
	for _, tt := range []struct{ in, want string }{
		{"/var/lib/gh.db", "/var/lib/gh.db"},
		{"postgres://db/gh?password=pw&sslmode=disable", "postgres://db/gh?password=REDACTED&sslmode=disable"},
		{"postgres://user@db/gh", "postgres://user@db/gh"},
	} {
		if got := redactDSN(tt.in); got != tt.want {
			t.Errorf("redactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncryptionKeyBytes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hexKey := strings.Repeat("ab", 32)
	for _, k := range []Keys{{EncryptionKey: testKey}, {EncryptionKey: hexKey}, {EncryptionKeyFile: file},
		{EncryptionKey: strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(testKey), "=")}} {
		b, err := k.EncryptionKeyBytes()
		if err != nil || len(b) != 32 {
			t.Errorf("%+v: %d bytes, %v", k, len(b), err)
		}
	}
	if b, err := (Keys{}).EncryptionKeyBytes(); b != nil || err != nil {
		t.Errorf("no key: %v, %v", b, err)
	}
	if _, err := (Keys{EncryptionKey: strings.Repeat("ab", 16)}).EncryptionKeyBytes(); err == nil {
		t.Error("16-byte key accepted")
	}
	c, err := loadYAML(t, "keys:\n  encryption_key_file: "+file+"\n", nil)
	if err != nil || c.Keys.EncryptionKeyFile != file {
		t.Fatalf("key file: %v", err)
	}
}

func TestOAuthKeys(t *testing.T) {
	c, err := Load("", []string{"GATEHOUSE_OAUTH_ALLOW_PLAIN_PKCE=true", "GATEHOUSE_OAUTH_SESSION_LIFETIME=2h"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OAuth.AllowPlainPKCE || c.OAuth.PKCEOptionalForConfidential || c.OAuth.SessionLifetime.Std() != 2*time.Hour {
		t.Fatalf("oauth = %+v", c.OAuth)
	}
	if d := Defaults(); d.OAuth.SessionLifetime.Std() != 24*time.Hour || d.OAuth.AllowPlainPKCE {
		t.Fatalf("defaults = %+v", d.OAuth)
	}
	if _, err := Load("", []string{"GATEHOUSE_OAUTH_SESSION_LIFETIME=999d"}); err == nil {
		t.Fatal("a 999-day session accepted")
	}
}
