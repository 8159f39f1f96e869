package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/sqlstore"
)

// parityConfig is the configuration of both servers and of the local commands: an encryption
// key (keys rotate needs one) and token lifetimes that make the retention of a rotated key
// differ between algorithms.
const parityConfig = "keys:\n  encryption_key: %s\n  id_token_algorithm: RS256\n" +
	"tokens:\n  access_token_lifetime: 10m\n  id_token_lifetime: 20m\n"

var issuerRe = regexp.MustCompile(`Issuer:\s+(http://\S+)`)

// serveAdmin runs `gatehouse serve` (serve_test.go's startServe) on a data directory with
// the admin listener on a free loopback port, and returns it with its admin URL once it
// serves, and its issuer.
func serveAdmin(t *testing.T, dir, db, conf string) (r *running, adminURL, issuer string) {
	t.Helper()
	r = startServe(t, "--data-dir", dir, "--database", db, "--config", conf, "--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0")
	issuer = r.waitFor(t, issuerRe)[1]
	return r, r.waitFor(t, adminRe)[1], issuer
}

// writeConfig writes the configuration of the servers and local commands.
func writeConfig(t *testing.T) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(parityConfig, strings.Repeat("cd", 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// writeTokenFile writes a token file (mode 0600) and returns its path.
func writeTokenFile(t *testing.T, value string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newAdminToken stores an admin API token in the database at db and returns its value.
func newAdminToken(t *testing.T, db string) string {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, value, err := admin.New(store, nil, time.Now).WithActor("test").CreateAdminToken(ctx, admin.AdminTokenInput{Name: "cli parity test"})
	if err != nil {
		t.Fatal(err)
	}
	return value
}

// cliMode runs commands in one mode: prefix and environ select it.
type cliMode struct {
	name    string
	prefix  []string
	environ []string
	// vars are values captured from earlier output, substituted for "{{name}}" arguments.
	vars map[string]string
}

// result is what a command printed and how it ended, as a user sees it.
type result struct {
	stdout, stderr, err string
}

func (r result) String() string {
	return fmt.Sprintf("--- stdout\n%s--- stderr\n%s--- error\n%s\n", r.stdout, r.stderr, r.err)
}

func (m *cliMode) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmdEnv(&out, &errOut, m.environ)
	root.SetIn(strings.NewReader(stdin))
	expanded := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, "{{") && strings.HasSuffix(a, "}}") {
			name := a[2 : len(a)-2]
			v, ok := m.vars[name]
			if !ok {
				t.Fatalf("%s: nothing captured as %s", m.name, a)
			}
			a = v
		}
		expanded[i] = a
	}
	root.SetArgs(append(slices.Clone(m.prefix), expanded...))
	var r result
	if err := root.ExecuteContext(context.Background()); err != nil {
		r.err = "gatehouse: " + err.Error() // as main prints it, before exiting with 1
	}
	r.stdout, r.stderr = out.String(), errOut.String()
	return r
}

// step is one command of the scenario.
type step struct {
	stdin string
	args  []string
	// fail: the command must fail.
	fail bool
	// capture names values of the output (the first group of the expression) for later steps.
	capture map[string]*regexp.Regexp
}

// Values that differ between two runs (generated identifiers, secrets, times) are renamed
// before the transcripts are compared: each distinct value becomes <V1>, <V2>… in order of
// first appearance, so the same value must appear in the same places in both modes.
var (
	timeRe     = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)`)
	variableRe = []*regexp.Regexp{
		regexp.MustCompile(`\(ID (\S+)\)`),
		regexp.MustCompile(`(?m)^Created client (\S+)\.$`),
		regexp.MustCompile(`(?m)^(?:Client secret|Password|Token): (\S+)$`),
		regexp.MustCompile(`"(?:id|kid|client_secret|password|token|user_id)": "([^"]+)"`),
		regexp.MustCompile(`Rotated \S+ signing keys: (\S+) is now current`),
		regexp.MustCompile(`\b(gh[a-z]_[A-Za-z0-9_-]+)`),
	}
)

// normalize renames the variable values of a transcript.
func normalize(transcript []result) []result {
	var all strings.Builder
	for _, r := range transcript {
		all.WriteString(r.String())
	}
	text := all.String()
	first := map[string]int{}
	for _, re := range variableRe {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			v := text[m[2]:m[3]]
			if len(v) < 12 { // chosen names ("web", "alice") stay
				continue
			}
			if at, ok := first[v]; !ok || m[2] < at {
				first[v] = m[2]
			}
		}
	}
	values := make([]string, 0, len(first))
	for v := range first {
		values = append(values, v)
	}
	slices.SortFunc(values, func(a, b string) int { return first[a] - first[b] })
	pairs := []string{}
	for i, v := range values {
		pairs = append(pairs, v, fmt.Sprintf("<V%d>", i+1))
	}
	// Longer values first, so that no value is replaced inside a longer one.
	slices.SortStableFunc(values, func(a, b string) int { return len(b) - len(a) })
	order := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		order[pairs[i]] = pairs[i+1]
	}
	var repl []string
	for _, v := range values {
		repl = append(repl, v, order[v])
	}
	r := strings.NewReplacer(repl...)
	out := make([]result, len(transcript))
	for i, res := range transcript {
		f := func(s string) string { return timeRe.ReplaceAllString(r.Replace(s), "<TIME>") }
		out[i] = result{stdout: f(res.stdout), stderr: f(res.stderr), err: f(res.err)}
	}
	return out
}

// paritySteps is the scenario run in both modes: every management command, with text and
// JSON output, validation errors, conflicts and unknown names.
func paritySteps(t *testing.T) []step {
	hash, err := bcrypt.GenerateFromPassword([]byte("carols password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	id := func(name string) map[string]*regexp.Regexp {
		return map[string]*regexp.Regexp{name: regexp.MustCompile(`\(ID (\S+)\)`)}
	}
	jsonID := func(name string) map[string]*regexp.Regexp {
		return map[string]*regexp.Regexp{name: regexp.MustCompile(`(?m)^  "id": "([^"]+)"`)}
	}
	return []step{
		// scopes
		{args: []string{"scopes", "list"}},
		{args: []string{"scopes", "create", "read", "--default", "--description", "Read things"}},
		{args: []string{"scopes", "create", "write"}},
		{args: []string{"--json", "scopes", "create", "admin:all", "--description", "Everything"}},
		{args: []string{"scopes", "create", "read"}, fail: true},               // conflict
		{args: []string{"scopes", "create", "bad scope"}, fail: true},          // validation
		{args: []string{"scopes", "update", "ghost", "--default"}, fail: true}, // not found
		{args: []string{"scopes", "update", "write"}, fail: true},              // nothing to update
		{args: []string{"scopes", "update", "write", "--description", "Write things"}},
		{args: []string{"scopes", "list"}},
		{args: []string{"--json", "scopes", "list"}},

		// clients
		{args: []string{"clients", "create", "--id", "web", "--name", "Web app", "--public", "--grant",
			"authorization_code,refresh_token", "--redirect-uri", "https://app.example.com/cb", "--scope", "read",
			"--token-format", "opaque"}},
		{args: []string{"clients", "create", "--id", "m2m", "--name", "Billing API", "--grant", "client_credentials",
			"--scope", "read write"}},
		{args: []string{"--json", "clients", "create", "--name", "Generated Id", "--grant", "client_credentials"}},
		{args: []string{"clients", "create", "--id", "bad", "--grant", "magic", "--redirect-uri", "http://evil.example/cb",
			"--scope", "missing"}, fail: true}, // validation, several fields
		{args: []string{"clients", "create", "--id", "web", "--public", "--grant", "authorization_code",
			"--redirect-uri", "https://app.example.com/cb"}, fail: true}, // conflict
		{args: []string{"clients", "list"}},
		{args: []string{"--json", "clients", "list"}},
		{args: []string{"clients", "get", "web"}},
		{args: []string{"--json", "clients", "get", "m2m"}},
		{args: []string{"clients", "get", "ghost"}, fail: true}, // not found
		{args: []string{"clients", "update", "m2m", "--name", "Billing", "--trusted", "--scope", "read"}},
		{args: []string{"clients", "update", "web", "--grant", "magic"}, fail: true},
		{args: []string{"clients", "update", "ghost", "--name", "x"}, fail: true},
		{args: []string{"clients", "update", "web"}, fail: true},
		{args: []string{"clients", "update", "web", "--public=false"}}, // made confidential: a secret, once
		{args: []string{"clients", "rotate-secret", "m2m"}},
		{args: []string{"--json", "clients", "rotate-secret", "web"}},
		{args: []string{"clients", "update", "web", "--public"}},
		{args: []string{"clients", "rotate-secret", "web"}, fail: true}, // public: validation
		{args: []string{"clients", "rotate-secret", "ghost"}, fail: true},
		{args: []string{"scopes", "delete", "read"}, fail: true}, // still allowed to clients: conflict
		{args: []string{"scopes", "delete", "admin:all"}},
		{args: []string{"--json", "scopes", "delete", "write"}},
		{args: []string{"scopes", "delete", "write"}, fail: true},
		{args: []string{"clients", "delete", "web"}},
		{args: []string{"--json", "clients", "delete", "m2m"}},
		{args: []string{"clients", "delete", "web"}, fail: true},

		// users
		{args: []string{"users", "list"}},
		{stdin: "s3cret password\nignored\n", args: []string{"users", "create", "--username", "Alice", "--email",
			"alice@example.com", "--name", "Alice Liddell", "--password-stdin"}, capture: id("alice")},
		{args: []string{"users", "create", "--username", "bob", "--role", "ops"}, capture: id("bob")},
		{args: []string{"--json", "users", "create", "--username", "carol", "--password-hash", string(hash), "--role",
			"admin,ops", "--email", "carol@example.com", "--email-verified"}},
		{args: []string{"users", "create", "--username", "alice", "--password", "long enough"}, fail: true}, // taken
		{args: []string{"users", "create", "--username", "a b", "--password", "short"}, fail: true},         // validation
		{args: []string{"users", "list"}},
		{args: []string{"--json", "users", "list"}},
		{args: []string{"users", "get", "ALICE"}},
		{args: []string{"--json", "users", "get", "{{bob}}"}},
		{args: []string{"users", "get", "ghost"}, fail: true},
		{args: []string{"users", "get", `a: "b"/../c?d#e`}, fail: true}, // escaped in the URL path; quoted in the message
		{args: []string{"clients", "get", "x y/z"}, fail: true},
		{args: []string{"users", "update", "alice", "--email", "alice@example.org", "--role", "admin"}},
		{args: []string{"users", "update", "alice", "--email", "not an address"}, fail: true},
		{args: []string{"users", "update", "bob", "--username", "carol"}, fail: true},
		{args: []string{"users", "update", "ghost", "--name", "x"}, fail: true},
		{stdin: "a new password\n", args: []string{"users", "set-password", "alice", "--password-stdin"}},
		{args: []string{"--json", "users", "set-password", "bob"}},
		{args: []string{"users", "set-password", "bob", "--password", "short"}, fail: true},
		{args: []string{"users", "set-password", "ghost", "--password", "long enough"}, fail: true},
		{args: []string{"users", "disable", "bob"}},
		{args: []string{"--json", "users", "disable", "bob"}},
		{args: []string{"users", "list"}},
		{args: []string{"users", "enable", "bob"}},
		{args: []string{"--json", "users", "enable", "bob"}},
		{args: []string{"users", "disable", "ghost"}, fail: true},

		// personal access tokens
		{args: []string{"scopes", "create", "api:read"}},
		{args: []string{"scopes", "create", "api:write"}},
		{args: []string{"tokens", "list", "--user", "alice"}},
		{args: []string{"tokens", "create", "--user", "alice", "--name", "ci", "--scope", "api:read", "--expires", "30d"},
			capture: id("ci")},
		{args: []string{"--json", "tokens", "create", "--user", "{{alice}}", "--name", "deploy", "--scope", "api:read api:write",
			"--expires", "7d"}, capture: jsonID("deploy")},
		{args: []string{"tokens", "create", "--user", "alice", "--name", "x", "--scope", "openid"}, fail: true},
		{args: []string{"tokens", "create", "--user", "alice", "--name", "x", "--scope", "api:read", "--expires", "366d"}, fail: true},
		{args: []string{"tokens", "create", "--user", "nobody", "--name", "x", "--scope", "api:read"}, fail: true},
		{args: []string{"tokens", "list", "--user", "alice"}},
		{args: []string{"--json", "tokens", "list", "--user", "alice"}},
		{args: []string{"tokens", "list", "--user", "nobody"}, fail: true},
		{args: []string{"tokens", "revoke", "{{ci}}", "--user", "bob"}, fail: true},
		{args: []string{"tokens", "revoke", "{{ci}}", "--user", "alice"}},
		{args: []string{"--json", "tokens", "revoke", "{{deploy}}"}},
		{args: []string{"tokens", "revoke", "{{deploy}}"}, fail: true},
		{args: []string{"tokens", "list", "--user", "alice"}},

		// signing keys
		{args: []string{"--json", "keys", "list"}},
		{args: []string{"keys", "list"}},
		{args: []string{"keys", "rotate"}},
		{args: []string{"--json", "keys", "rotate", "--algorithm", "RS256"}},
		{args: []string{"keys", "rotate", "--algorithm", "HS256"}, fail: true},
		{args: []string{"--json", "keys", "list"}},
		{args: []string{"keys", "list"}},

		// users, at the end: delete
		{args: []string{"users", "delete", "carol"}},
		{args: []string{"--json", "users", "delete", "bob"}},
		{args: []string{"users", "delete", "carol"}, fail: true},
		{args: []string{"users", "list"}},
	}
}

// TestRemoteParity runs one scenario of management commands on a database file and through
// the admin API of a running server, and compares what the commands print, byte for byte
// once generated values are renamed.
func TestRemoteParity(t *testing.T) {
	conf := writeConfig(t)

	// Local: the server starts once (creating its signing keys, as in production), then
	// the commands work on its database file.
	localDir := t.TempDir()
	localDB := filepath.Join(localDir, "gatehouse.db")
	srv, _, _ := serveAdmin(t, localDir, localDB, conf)
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	local := &cliMode{name: "local", prefix: []string{"--data-dir", localDir, "--database", localDB, "--config", conf},
		vars: map[string]string{}}

	// Remote: the server runs, and the commands know only its admin URL and a token file.
	remoteDir := t.TempDir()
	remoteDB := filepath.Join(remoteDir, "gatehouse.db")
	srv, _, _ = serveAdmin(t, remoteDir, remoteDB, conf) // migrate and make keys, like the local one
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	tokenFile := writeTokenFile(t, newAdminToken(t, remoteDB))
	srv, adminURL, _ := serveAdmin(t, remoteDir, remoteDB, conf)
	remote := &cliMode{name: "remote", environ: []string{envAdminURL + "=" + adminURL, envAdminTokenFile + "=" + tokenFile},
		vars: map[string]string{}}

	steps := paritySteps(t)
	transcripts := map[string][]result{}
	for _, m := range []*cliMode{local, remote} {
		for _, st := range steps {
			r := m.run(t, st.stdin, st.args...)
			if (r.err != "") != st.fail {
				t.Errorf("%s: gatehouse %s: want failure %v:\n%s", m.name, strings.Join(st.args, " "), st.fail, r)
			}
			for name, re := range st.capture {
				mm := re.FindStringSubmatch(r.stdout)
				if mm == nil {
					t.Fatalf("%s: gatehouse %s: no %s in:\n%s", m.name, strings.Join(st.args, " "), name, r)
				}
				m.vars[name] = mm[1]
			}
			transcripts[m.name] = append(transcripts[m.name], r)
		}
	}
	got, want := normalize(transcripts["remote"]), normalize(transcripts["local"])
	// GATEHOUSE_TEST_PARITY_LOG=1 go test -v -run TestRemoteParity shows the local transcript.
	if os.Getenv("GATEHOUSE_TEST_PARITY_LOG") != "" {
		for i, st := range steps {
			t.Logf("$ gatehouse %s\n%s", strings.Join(st.args, " "), want[i])
		}
	}
	for i, st := range steps {
		if got[i] != want[i] {
			t.Errorf("gatehouse %s: remote output differs from local\nlocal:\n%s\nremote:\n%s",
				strings.Join(st.args, " "), want[i], got[i])
		}
	}
	if t.Failed() {
		t.Logf("remote server log:\n%s", srv.stderr)
	}
	// The scenario printed what it should (a sample; cli_test.go checks each command).
	all := fmt.Sprint(want)
	for _, s := range []string{"not found", "invalid input: ", "redirect_uris[0]", "already exists", "is taken",
		"Client secret: <V", "Password: <V", "Token: <V", "is now current"} {
		if !strings.Contains(all, s) {
			t.Errorf("the transcript lacks %q", s)
		}
	}
	if strings.Contains(all, "sha256$") || strings.Contains(all, "$argon2id$") {
		t.Errorf("a secret hash was printed")
	}

	// The audit trail names who acted: the CLI on the database, the admin token through the API.
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	for db, want := range map[string]string{localDB: "cli", remoteDB: "admin-token:"} {
		s, err := sqlstore.Open(context.Background(), db, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		events, err := s.ListAudit(context.Background(), storage.AuditFilter{Type: "user.created", Limit: 100})
		_ = s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 3 {
			t.Errorf("%s: %d user.created events, want 3", db, len(events))
		}
		for _, ev := range events {
			if !strings.HasPrefix(ev.Actor, want) {
				t.Errorf("%s: actor %q, want %s…", db, ev.Actor, want)
			}
		}
	}
}

// TestRemoteErrors: what remote mode says when the server cannot be used, and that it takes
// any bearer token the admin API accepts.
func TestRemoteErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	conf := writeConfig(t)
	srv, _, _ := serveAdmin(t, dir, db, conf)
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	good := writeTokenFile(t, newAdminToken(t, db))
	srv, adminURL, issuer := serveAdmin(t, dir, db, conf)
	remote := func(url, tokenFile string, args ...string) result {
		m := &cliMode{name: "remote", environ: []string{envAdminURL + "=" + url, envAdminTokenFile + "=" + tokenFile}}
		return m.run(t, "", args...)
	}
	fails := func(r result, want string) {
		t.Helper()
		if r.stdout != "" || !strings.Contains(r.err, want) {
			t.Errorf("want an error containing %q:\n%s", want, r)
		}
	}

	// A token the server does not know: 401.
	fails(remote(adminURL, writeTokenFile(t, "ghm_"+strings.Repeat("x", 43)), "clients", "list"),
		"gatehouse: the admin API at "+adminURL+" refused the token: the token is not valid (401 invalid_token)")

	// Client credentials: an access token of a client allowed gatehouse:admin works; without
	// the scope, 403.
	m := &cliMode{name: "remote", environ: []string{envAdminURL + "=" + adminURL, envAdminTokenFile + "=" + good}}
	secretOf := func(r result) string {
		t.Helper()
		mm := regexp.MustCompile(`(?m)^Client secret: (\S+)$`).FindStringSubmatch(r.stdout)
		if mm == nil {
			t.Fatalf("no secret:\n%s", r)
		}
		return mm[1]
	}
	automation := secretOf(m.run(t, "", "clients", "create", "--id", "automation", "--grant", "client_credentials",
		"--scope", "gatehouse:admin"))
	m.run(t, "", "scopes", "create", "reports")
	reporter := secretOf(m.run(t, "", "clients", "create", "--id", "reporter", "--grant", "client_credentials",
		"--scope", "reports"))
	accessToken := func(id, secret, scope string) string {
		t.Helper()
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: issuer + "/oauth2/token", Scopes: []string{scope}}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	r := remote(adminURL, writeTokenFile(t, accessToken("automation", automation, "gatehouse:admin")), "--json", "clients", "get", "reporter")
	if r.err != "" || !strings.Contains(r.stdout, `"id": "reporter"`) {
		t.Errorf("a client credentials token with gatehouse:admin:\n%s", r)
	}
	fails(remote(adminURL, writeTokenFile(t, accessToken("reporter", reporter, "reports")), "clients", "list"),
		"refused the token: the token lacks the gatehouse:admin scope (403 insufficient_scope)")

	// Nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	fails(remote(closed, good, "users", "list"), "gatehouse: admin API at "+closed+" unreachable: ")

	// Something else than the admin API answers.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>nothing here</html>", http.StatusNotFound)
	}))
	defer other.Close()
	fails(remote(other.URL, good, "scopes", "list"), "did not answer as an admin API (404 Not Found): is the URL the server's admin listener?")

	// A redirect is not followed: the token would go along.
	var leaked atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(true)
	}))
	defer target.Close()
	redirecting := httptest.NewServer(http.RedirectHandler(target.URL+"/admin/api/v1/clients", http.StatusTemporaryRedirect))
	defer redirecting.Close()
	fails(remote(redirecting.URL, good, "clients", "list"), "the admin API answered with a redirect to "+target.URL+"/admin/api/v1/clients")
	if leaked.Load() {
		t.Errorf("the redirect was followed")
	}

	// Behind a proxy that serves the API under a path prefix.
	backend, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(http.StripPrefix("/gatehouse", httputil.NewSingleHostReverseProxy(backend)))
	defer proxy.Close()
	if r := remote(proxy.URL+"/gatehouse/", good, "--json", "clients", "get", "automation"); r.err != "" || !strings.Contains(r.stdout, `"automation"`) {
		t.Errorf("through a proxy with a path prefix:\n%s", r)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
}
