package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/sqlstore"
	"github.com/gatehouse-auth/gatehouse/token"
)

// testEnv is a data directory with a SQLite database, and a way to run the CLI against it.
type testEnv struct {
	dir    string
	db     string
	config string // optional configuration file
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	return &testEnv{dir: dir, db: filepath.Join(dir, "test.db")}
}

// run executes the root command with args (after the data directory and database flags) and
// returns what it printed. The machine's GATEHOUSE_* variables are not seen.
func (e *testEnv) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmdEnv(&out, &errOut, nil)
	full := []string{"--data-dir", e.dir, "--database", e.db}
	if e.config != "" {
		full = append(full, "--config", e.config)
	}
	root.SetArgs(append(full, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// runIn is run with stdin as the standard input.
func (e *testEnv) runIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmdEnv(&out, &errOut, nil)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--data-dir", e.dir, "--database", e.db}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// ok runs the command and fails the test if it fails.
func (e *testEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, args...)
	if err != nil {
		t.Fatalf("gatehouse %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	for _, leak := range []string{"sha256$", "$argon2id$"} {
		if strings.Contains(out, leak) || strings.Contains(errOut, leak) {
			t.Errorf("gatehouse %s printed a secret hash:\n%s%s", strings.Join(args, " "), out, errOut)
		}
	}
	return out
}

// okErr is ok that also returns the standard error.
func (e *testEnv) okErr(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := e.run(t, args...)
	if err != nil {
		t.Fatalf("gatehouse %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

// jsonOK runs the command with --json and decodes its output into v.
func (e *testEnv) jsonOK(t *testing.T, v any, args ...string) {
	t.Helper()
	out := e.ok(t, append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("gatehouse --json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// store opens the test database directly.
func (e *testEnv) store(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), e.db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *testEnv) client(t *testing.T, id string) storage.Client {
	t.Helper()
	s := e.store(t)
	c, err := s.GetClient(context.Background(), id)
	if err != nil {
		t.Fatalf("GetClient(%s): %v", id, err)
	}
	return c
}

func verifies(t *testing.T, hash, secret string) bool {
	t.Helper()
	ok, _, err := token.VerifySecret(hash, secret)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

var (
	createdRe = regexp.MustCompile(`(?m)^Created client (\S+)\.$`)
	secretRe  = regexp.MustCompile(`(?m)^Client secret: (\S+)$`)
)

func match(t *testing.T, re *regexp.Regexp, s string) string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("output does not match %s:\n%s", re, s)
	}
	return m[1]
}

func TestClients(t *testing.T) {
	e := newTestEnv(t)
	e.ok(t, "scopes", "create", "read", "--default")
	e.ok(t, "scopes", "create", "write", "--description", "Write things")

	// create, text output
	out := e.ok(t, "clients", "create", "--name", "Billing API", "--grant", "client_credentials", "--scope", "read write")
	id := match(t, createdRe, out)
	secret := match(t, secretRe, out)
	if !strings.HasPrefix(id, "billing-api-") || !strings.Contains(out, "will not be shown again") {
		t.Errorf("create output:\n%s", out)
	}
	c := e.client(t, id)
	if !verifies(t, c.SecretHash, secret) || c.Name != "Billing API" || strings.Join(c.Scopes, " ") != "read write" {
		t.Errorf("stored client = %+v", c)
	}

	// create, JSON output
	var pub clientView
	e.jsonOK(t, &pub, "clients", "create", "--id", "web", "--public", "--grant", "authorization_code",
		"--grant", "refresh_token", "--redirect-uri", "https://app.example.com/cb", "--scope", "read", "--token-format", "opaque")
	if pub.ID != "web" || !pub.Public || pub.ClientSecret != "" || pub.TokenFormat != "opaque" ||
		strings.Join(pub.GrantTypes, " ") != "authorization_code refresh_token" || len(pub.RedirectURIs) != 1 {
		t.Errorf("JSON create = %+v", pub)
	}
	var m2m clientView
	e.jsonOK(t, &m2m, "clients", "create", "--id", "m2m", "--grant", "client_credentials")
	if m2m.ClientSecret == "" || !verifies(t, e.client(t, "m2m").SecretHash, m2m.ClientSecret) {
		t.Errorf("JSON create of a confidential client: secret %q does not verify", m2m.ClientSecret)
	}

	// list
	out = e.ok(t, "clients", "list")
	for _, want := range []string{"ID", "GRANT TYPES", id, "web", "m2m", "public", "confidential"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients list lacks %q:\n%s", want, out)
		}
	}
	var list []map[string]any
	e.jsonOK(t, &list, "clients", "list")
	if len(list) != 3 {
		t.Errorf("clients list --json has %d clients", len(list))
	}
	for _, cl := range list {
		if _, ok := cl["client_secret"]; ok {
			t.Errorf("clients list --json shows a secret")
		}
	}

	// get
	out = e.ok(t, "clients", "get", "web")
	for _, want := range []string{"https://app.example.com/cb", "public", "opaque"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients get lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := e.run(t, "clients", "get", "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("clients get ghost = %v, want ErrNotFound", err)
	}

	// update
	out = e.ok(t, "clients", "update", id, "--name", "Billing", "--scope", "read", "--trusted")
	if !strings.Contains(out, "Updated client "+id) || strings.Contains(out, "Client secret") {
		t.Errorf("update output:\n%s", out)
	}
	if c := e.client(t, id); c.Name != "Billing" || strings.Join(c.Scopes, " ") != "read" || !c.Trusted || !verifies(t, c.SecretHash, secret) {
		t.Errorf("updated client = %+v", c)
	}
	if _, _, err := e.run(t, "clients", "update", id); !errors.Is(err, errNothingToUpdate) {
		t.Errorf("update without flags = %v", err)
	}
	if _, _, err := e.run(t, "clients", "update", id, "--grant", "magic"); err == nil || !strings.Contains(err.Error(), "grant_types[0]") {
		t.Errorf("update with an unknown grant = %v", err)
	}

	// rotate-secret
	out = e.ok(t, "clients", "rotate-secret", id)
	newSecret := match(t, secretRe, out)
	c = e.client(t, id)
	if verifies(t, c.SecretHash, secret) {
		t.Errorf("the old secret still verifies after rotate-secret")
	}
	if !verifies(t, c.SecretHash, newSecret) {
		t.Errorf("the new secret does not verify")
	}
	if _, _, err := e.run(t, "clients", "rotate-secret", "web"); err == nil {
		t.Errorf("rotate-secret of a public client succeeded")
	}

	// delete
	e.ok(t, "clients", "delete", "web")
	if _, err := e.store(t).GetClient(context.Background(), "web"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted client: %v", err)
	}
	if _, _, err := e.run(t, "clients", "delete", "web"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}

	// The audit trail names the CLI.
	events, err := e.store(t).ListAudit(context.Background(), storage.AuditFilter{ClientID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].Actor != "cli" {
		t.Errorf("audit of %s = %+v", id, events)
	}
}

func TestClientsCreateValidation(t *testing.T) {
	e := newTestEnv(t)
	_, _, err := e.run(t, "clients", "create", "--id", "x", "--grant", "client_credentials",
		"--redirect-uri", "http://evil.example/cb", "--scope", "missing")
	if err == nil {
		t.Fatal("invalid create succeeded")
	}
	for _, want := range []string{"redirect_uris[0]", "scopes[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if out := e.ok(t, "clients", "list"); !strings.Contains(out, "No clients") {
		t.Errorf("clients list after a failed create:\n%s", out)
	}
}

func TestScopes(t *testing.T) {
	e := newTestEnv(t)
	e.ok(t, "scopes", "create", "profile", "--default", "--description", "Your profile")
	e.ok(t, "scopes", "create", "email")
	out := e.ok(t, "scopes", "list")
	if !regexp.MustCompile(`(?m)^profile\s+yes\s+Your profile$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^email\s+no\s+-$`).MatchString(out) {
		t.Errorf("scopes list:\n%s", out)
	}
	e.ok(t, "scopes", "update", "profile", "--default=false")
	var list []scopeView
	e.jsonOK(t, &list, "scopes", "list")
	if len(list) != 2 || list[1].Name != "profile" || list[1].Default || list[1].Description != "Your profile" {
		t.Errorf("scopes list --json = %+v", list)
	}
	if _, _, err := e.run(t, "scopes", "create", "email"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("duplicate scope = %v, want ErrConflict", err)
	}
	if _, _, err := e.run(t, "scopes", "update", "email"); !errors.Is(err, errNothingToUpdate) {
		t.Errorf("update without flags = %v", err)
	}

	e.ok(t, "clients", "create", "--id", "svc", "--grant", "client_credentials", "--scope", "email")
	if _, _, err := e.run(t, "scopes", "delete", "email"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("deleting a scope in use = %v, want ErrConflict", err)
	}
	e.ok(t, "scopes", "delete", "profile")
	e.jsonOK(t, &list, "scopes", "list")
	if len(list) != 1 || list[0].Name != "email" {
		t.Errorf("scopes after delete = %+v", list)
	}
}

func TestKeys(t *testing.T) {
	e := newTestEnv(t)
	if out := e.ok(t, "keys", "list"); !strings.Contains(out, "No signing keys") {
		t.Errorf("keys list on an empty database:\n%s", out)
	}
	// Without an encryption key nothing can be sealed, and keys rotate does not invent one.
	if _, _, err := e.run(t, "keys", "rotate"); err == nil || !strings.Contains(err.Error(), "encryption") {
		t.Errorf("keys rotate without a key = %v", err)
	}
	e.config = filepath.Join(e.dir, "gatehouse.yaml")
	conf := "keys:\n  encryption_key: " + strings.Repeat("ab", 32) + "\ntokens:\n  access_token_lifetime: 10m\n  id_token_lifetime: 20m\n"
	if err := os.WriteFile(e.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.ok(t, "keys", "rotate")
	if !strings.Contains(out, "ES256") || !strings.Contains(out, "15m0s") {
		t.Errorf("keys rotate output:\n%s", out)
	}
	var rotated struct {
		Current keyView `json:"current"`
		Retain  string  `json:"retain"`
	}
	e.jsonOK(t, &rotated, "keys", "rotate", "--algorithm", "RS256") // the ID token algorithm: their lifetime
	if rotated.Current.Algorithm != "RS256" || rotated.Current.State != storage.KeyCurrent || rotated.Retain != "25m0s" {
		t.Errorf("keys rotate --json = %+v", rotated)
	}
	// Only the algorithms the server signs with (keys.algorithm, keys.id_token_algorithm).
	_, _, err := e.run(t, "keys", "rotate", "--algorithm", "EdDSA")
	if want := `invalid input: algorithm: "EdDSA" is not an algorithm this server signs with (ES256, RS256)`; err == nil || err.Error() != want {
		t.Errorf("keys rotate --algorithm EdDSA = %v, want %s", err, want)
	}
	e.ok(t, "keys", "rotate") // ES256 again: the first current key becomes previous

	out = e.ok(t, "keys", "list")
	for _, want := range []string{"KID", "NOT AFTER", "ES256", "RS256", "current", "next", "previous"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys list lacks %q:\n%s", want, out)
		}
	}
	var raw []map[string]any
	e.jsonOK(t, &raw, "keys", "list")
	if len(raw) != 5 {
		t.Errorf("keys list --json has %d keys, want 5", len(raw))
	}
	for _, k := range raw {
		for field := range k {
			switch field {
			case "kid", "algorithm", "state", "created_at", "not_after":
			default:
				t.Errorf("keys list --json shows %q", field)
			}
		}
		if _, has := k["not_after"]; has != (k["state"] == storage.KeyPrevious) {
			t.Errorf("key %v: not_after shown = %v", k["kid"], has)
		}
	}
	if _, _, err := e.run(t, "keys", "rotate", "--algorithm", "HS256"); err == nil {
		t.Errorf("keys rotate --algorithm HS256 succeeded")
	}
}

func TestMigrate(t *testing.T) {
	e := newTestEnv(t)
	if out := e.ok(t, "migrate"); !regexp.MustCompile(`schema is at version [1-9]\d* \(sqlite\)`).MatchString(out) {
		t.Errorf("migrate output:\n%s", out)
	}
	var v struct {
		Version int64  `json:"version"`
		Dialect string `json:"dialect"`
	}
	e.jsonOK(t, &v, "migrate")
	if v.Version < 1 || v.Dialect != "sqlite" {
		t.Errorf("migrate --json = %+v", v)
	}
	if _, err := os.Stat(e.db); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestVersion(t *testing.T) {
	e := newTestEnv(t)
	if out := e.ok(t, "version"); !strings.HasPrefix(out, "gatehouse ") || !strings.Contains(out, "go1") {
		t.Errorf("version output: %q", out)
	}
	var b buildInfo
	e.jsonOK(t, &b, "version")
	if b.Version == "" || b.GoVersion == "" {
		t.Errorf("version --json = %+v", b)
	}
}

func TestUsageErrors(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"clients", "list", "--bogus"}, "unknown flag"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"clients", "get"}, "arg"},
		{[]string{"scopes", "create", "a b"}, "name"},
	}
	for _, tt := range tests {
		_, _, err := e.run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("gatehouse %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	// A configuration problem is reported, not ignored.
	e.config = filepath.Join(e.dir, "bad.yaml")
	if err := os.WriteFile(e.config, []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.run(t, "clients", "list"); err == nil {
		t.Errorf("a broken configuration file was accepted")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the server logs from several
// goroutines).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	createdUserRe = regexp.MustCompile(`(?m)^Created user (\S+) \(ID (\S+)\)\.$`)
	passwordRe    = regexp.MustCompile(`(?m)^Password: (\S+)$`)
)

func (e *testEnv) user(t *testing.T, username string) storage.User {
	t.Helper()
	u, err := e.store(t).GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatalf("GetUserByUsername(%s): %v", username, err)
	}
	return u
}

func TestUsers(t *testing.T) {
	e := newTestEnv(t)

	// create with the password on standard input
	out, errOut, err := e.runIn(t, "s3cret password\nignored second line\n", "users", "create", "--username", "Alice",
		"--email", "alice@example.com", "--name", "Alice Liddell", "--password-stdin")
	if err != nil {
		t.Fatalf("users create: %v\n%s", err, errOut)
	}
	m := createdUserRe.FindStringSubmatch(out)
	if m == nil || m[1] != "alice" || strings.Contains(out, "Password:") {
		t.Fatalf("create output:\n%s", out)
	}
	aliceID := m[2]
	alice := e.user(t, "alice")
	if alice.ID != aliceID || alice.Name != "Alice Liddell" || !verifies(t, alice.PasswordHash, "s3cret password") {
		t.Errorf("stored alice = %+v", alice)
	}

	// create without a password: one is generated and printed once
	out = e.ok(t, "users", "create", "--username", "bob", "--role", "ops")
	generated := match(t, passwordRe, out)
	if !strings.Contains(out, "will not be shown again") || !verifies(t, e.user(t, "bob").PasswordHash, generated) {
		t.Errorf("create with a generated password:\n%s", out)
	}

	// create with an imported bcrypt hash, JSON output
	hash, err := bcrypt.GenerateFromPassword([]byte("carols password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var carol userView
	e.jsonOK(t, &carol, "users", "create", "--username", "carol", "--password-hash", string(hash), "--role", "admin,ops",
		"--email", "carol@example.com", "--email-verified")
	if carol.Username != "carol" || carol.Password != "" || strings.Join(carol.Roles, " ") != "admin ops" || !carol.EmailVerified {
		t.Errorf("JSON create = %+v", carol)
	}
	if got := e.user(t, "carol").PasswordHash; got != string(hash) {
		t.Errorf("imported hash stored as %q", got)
	}

	// --password works, with a warning
	_, errOut = e.okErr(t, "users", "create", "--username", "dave", "--password", "daves password")
	if !strings.Contains(errOut, "--password-stdin") {
		t.Errorf("no warning about --password:\n%s", errOut)
	}

	// refusals
	for _, tt := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"users", "create", "--username", "a b", "--password", "long enough"}, "username"},
		{"", []string{"users", "create", "--username", "erin", "--password", "short"}, "password"},
		{"", []string{"users", "create", "--username", "alice", "--password", "long enough"}, "taken"},
		{"x\n", []string{"users", "create", "--username", "erin", "--password", "long enough", "--password-stdin"}, "password"},
		{"\n", []string{"users", "create", "--username", "erin", "--password-stdin"}, "no password"},
		{"", []string{"users", "create", "--email", "x@example.com"}, "username"},
		{"", []string{"users", "update", "alice"}, "nothing to update"},
	} {
		if _, _, err := e.runIn(t, tt.stdin, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("gatehouse %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if _, _, err := e.run(t, "users", "create", "--username", "alice", "--password", "long enough"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("duplicate username = %v, want ErrConflict", err)
	}

	// list and get
	out = e.ok(t, "users", "list")
	for _, want := range []string{"USERNAME", "STATUS", aliceID, "alice", "bob", "carol", "dave", "admin,ops", "enabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("users list lacks %q:\n%s", want, out)
		}
	}
	var list []map[string]any
	e.jsonOK(t, &list, "users", "list")
	if len(list) != 4 {
		t.Errorf("users list --json has %d users", len(list))
	}
	for _, u := range list {
		for _, field := range []string{"password", "password_hash"} {
			if _, ok := u[field]; ok {
				t.Errorf("users list --json shows %s", field)
			}
		}
	}
	for _, ref := range []string{"alice", "ALICE", aliceID} {
		if out := e.ok(t, "users", "get", ref); !strings.Contains(out, aliceID) || !strings.Contains(out, "alice@example.com") {
			t.Errorf("users get %s:\n%s", ref, out)
		}
	}
	if _, _, err := e.run(t, "users", "get", "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("users get ghost = %v, want ErrNotFound", err)
	}

	// update
	out = e.ok(t, "users", "update", "alice", "--email", "alice@example.org", "--role", "admin")
	if !strings.Contains(out, "Updated user alice") || !strings.Contains(out, "alice@example.org") {
		t.Errorf("update output:\n%s", out)
	}
	if u := e.user(t, "alice"); u.Email != "alice@example.org" || strings.Join(u.Roles, " ") != "admin" ||
		!verifies(t, u.PasswordHash, "s3cret password") {
		t.Errorf("updated alice = %+v", u)
	}

	// set-password: from standard input, or generated
	out, errOut, err = e.runIn(t, "a new password\n", "users", "set-password", "alice", "--password-stdin")
	if err != nil || !strings.Contains(out, "Set the password of user alice") {
		t.Fatalf("set-password: %v\n%s%s", err, out, errOut)
	}
	if u := e.user(t, "alice"); !verifies(t, u.PasswordHash, "a new password") || verifies(t, u.PasswordHash, "s3cret password") {
		t.Errorf("set-password did not change the hash")
	}
	out = e.ok(t, "users", "set-password", "bob")
	if p := match(t, passwordRe, out); p == generated || !verifies(t, e.user(t, "bob").PasswordHash, p) {
		t.Errorf("set-password with a generated password:\n%s", out)
	}
	if _, _, err := e.run(t, "users", "set-password", "bob", "--password", "short"); err == nil {
		t.Errorf("a short password was set")
	}

	// disable, enable
	out = e.ok(t, "users", "disable", "bob")
	if !strings.Contains(out, "Disabled user bob") || !e.user(t, "bob").Disabled {
		t.Errorf("disable:\n%s", out)
	}
	if out := e.ok(t, "users", "list"); !regexp.MustCompile(`(?m)^\S+\s+bob\s.*disabled$`).MatchString(out) {
		t.Errorf("users list after disable:\n%s", out)
	}
	e.ok(t, "users", "enable", "bob")
	if e.user(t, "bob").Disabled {
		t.Errorf("bob is still disabled")
	}

	// delete
	out = e.ok(t, "users", "delete", "carol")
	if !strings.Contains(out, "Deleted user carol") {
		t.Errorf("delete output:\n%s", out)
	}
	if _, err := e.store(t).GetUserByUsername(context.Background(), "carol"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted user: %v", err)
	}
	if _, _, err := e.run(t, "users", "delete", "carol"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}

	// The audit trail names the CLI and the user.
	events, err := e.store(t).ListAudit(context.Background(), storage.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, ev := range events {
		types[ev.Type]++
		if ev.Actor != "cli" || ev.Subject == "" {
			t.Errorf("audit event %+v", ev)
		}
	}
	want := map[string]int{"user.created": 4, "user.updated": 1, "user.password_set": 2, "user.disabled": 1,
		"user.enabled": 1, "user.deleted": 1}
	for typ, n := range want {
		if types[typ] != n {
			t.Errorf("%d %s events, want %d (all: %v)", types[typ], typ, n, types)
		}
	}
}
