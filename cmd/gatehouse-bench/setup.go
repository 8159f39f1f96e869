package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, for the bench schema
	_ "modernc.org/sqlite"             // to count rows in the SQLite file
)

// The scope, clients and user the scenarios use.
const (
	benchScope       = "api:read"
	benchRedirectURI = "http://127.0.0.1/callback" // oauthload's default; never requested
	benchUsername    = "bench"

	clientJWT     = "bench-jwt"     // client credentials, JWT access tokens
	clientOpaque  = "bench-opaque"  // client credentials, opaque access tokens
	clientRS      = "bench-rs"      // a resource server that introspects
	clientWeb     = "bench-web"     // trusted, authorization_code only
	clientRefresh = "bench-refresh" // trusted, authorization_code + refresh_token
)

// database is where Gatehouse keeps its data for the run.
type database struct {
	kind    string // sqlite or postgres
	file    string // SQLite file
	dsn     string // PostgreSQL DSN of the bench schema (search_path set)
	schema  string
	adminDB *sql.DB // PostgreSQL connection that created the schema
}

// openDatabase prepares an empty database: a SQLite path in dataDir, or a new schema.
func openDatabase(ctx context.Context, o options, dataDir string) (*database, error) {
	if o.db == "sqlite" {
		return &database{kind: "sqlite", file: filepath.Join(dataDir, "gatehouse.db")}, nil
	}
	u, err := url.Parse(o.dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-dsn: want a postgres:// URL")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-dsn: the host must be on loopback (127.0.0.1, ::1 or localhost), not %q", host)
	}
	db, err := sql.Open("pgx", o.dsn)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("PostgreSQL at %s is not reachable: %v", u.Redacted(), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "gatehouse_bench_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(pctx, "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create schema %s: %v", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return &database{kind: "postgres", dsn: u.String(), schema: schema, adminDB: db}, nil
}

// close drops the PostgreSQL schema unless keep.
func (d *database) close(keep bool) error {
	if d.adminDB == nil {
		return nil
	}
	defer d.adminDB.Close()
	if keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := d.adminDB.ExecContext(ctx, "DROP SCHEMA "+d.schema+" CASCADE")
	return err
}

// env is the GATEHOUSE_* setting that points Gatehouse at this database.
func (d *database) env(dataDir string) []string {
	if d.kind == "postgres" {
		return []string{"GATEHOUSE_DATA_DIR=" + dataDir, "GATEHOUSE_DATABASE=" + d.dsn}
	}
	return []string{"GATEHOUSE_DATA_DIR=" + dataDir, "GATEHOUSE_DATABASE=" + d.file}
}

// sizeBytes is the size of the database: the SQLite file with its WAL and shared-memory
// index, or every relation (tables, indexes, TOAST) of the PostgreSQL schema.
func (d *database) sizeBytes(ctx context.Context) (int64, error) {
	if d.kind == "sqlite" {
		var total int64
		for _, suffix := range []string{"", "-wal", "-shm"} {
			st, err := os.Stat(d.file + suffix)
			if errors.Is(err, os.ErrNotExist) && suffix != "" {
				continue
			}
			if err != nil {
				return 0, err
			}
			total += st.Size()
		}
		return total, nil
	}
	var n sql.NullInt64
	err := d.adminDB.QueryRowContext(ctx, `SELECT sum(pg_total_relation_size(c.oid))
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = $1 AND c.relkind IN ('r', 'm')`, d.schema).Scan(&n)
	return n.Int64, err
}

// tableRows counts the rows of every table, to show what a growing database holds.
func (d *database) tableRows(ctx context.Context) (map[string]int64, error) {
	db, list := d.adminDB, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`
	args := []any{d.schema}
	if d.kind == "sqlite" {
		var err error
		if db, err = sql.Open("sqlite", "file:"+d.file+"?mode=ro"); err != nil {
			return nil, err
		}
		defer db.Close()
		list, args = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`, nil
	}
	rows, err := db.QueryContext(ctx, list, args...)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			_ = rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, n := range names {
		q := `SELECT count(*) FROM "` + strings.ReplaceAll(n, `"`, `""`) + `"`
		if d.kind == "postgres" {
			q = `SELECT count(*) FROM "` + d.schema + `"."` + strings.ReplaceAll(n, `"`, `""`) + `"`
		}
		var c int64
		if err := db.QueryRowContext(ctx, q).Scan(&c); err != nil {
			return nil, fmt.Errorf("count %s: %w", n, err)
		}
		counts[n] = c
	}
	return counts, nil
}

// newEncryptionKey returns a random keys.encryption_key.
func newEncryptionKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// randomPassword returns a password for the bench user.
func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cli runs the gatehouse command with --json against the bench database and decodes its
// output into out (when not nil).
func (b *bench) cli(ctx context.Context, stdin string, out any, args ...string) error {
	cmd := exec.CommandContext(ctx, b.bins.gatehouse, append([]string{"--json"}, args...)...)
	cmd.Env = append(cleanEnv(), b.ghEnv(nil)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			return fmt.Errorf("gatehouse %s: decode the JSON output: %v", strings.Join(args, " "), err)
		}
	}
	return nil
}

// setupData creates the scope, clients and user with the CLI, as an operator would.
func (b *bench) setupData(ctx context.Context) error {
	if err := b.cli(ctx, "", nil, "migrate"); err != nil {
		return err
	}
	if err := b.cli(ctx, "", nil, "scopes", "create", benchScope); err != nil {
		return err
	}
	type created struct {
		Secret string `json:"client_secret"`
	}
	clients := []struct {
		id   string
		args []string
	}{
		{clientJWT, []string{"--grant", "client_credentials", "--token-format", "jwt"}},
		{clientOpaque, []string{"--grant", "client_credentials", "--token-format", "opaque"}},
		{clientRS, []string{"--grant", "client_credentials"}},
		{clientWeb, []string{"--trusted", "--grant", "authorization_code", "--redirect-uri", benchRedirectURI}},
		{clientRefresh, []string{"--trusted", "--grant", "authorization_code,refresh_token", "--redirect-uri", benchRedirectURI}},
	}
	b.secrets = map[string]string{}
	for _, c := range clients {
		var out created
		args := append([]string{"clients", "create", "--id", c.id, "--name", c.id, "--scope", benchScope}, c.args...)
		if err := b.cli(ctx, "", &out, args...); err != nil {
			return err
		}
		if out.Secret == "" {
			return fmt.Errorf("gatehouse clients create %s printed no client_secret", c.id)
		}
		b.secrets[c.id] = out.Secret
	}
	b.password = randomPassword()
	return b.cli(ctx, b.password+"\n", nil, "users", "create", "--username", benchUsername, "--password-stdin")
}

var csrfField = regexp.MustCompile(`name="csrf"\s+value="([^"]*)"`)

// login signs the bench user in through the real /login form (GET for the CSRF cookie and
// field, POST) and returns the Cookie header of the signed-in browser.
func (b *bench) login(ctx context.Context) (string, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	loginURL := b.issuer + "/login"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loginURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET /login: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET /login: status %d, CSRF field found: %v", resp.StatusCode, m != nil)
	}
	form := url.Values{"csrf": {string(m[1])}, "username": {benchUsername}, "password": {b.password}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, loginURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /login: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("POST /login: status %d, want a redirect after sign-in", resp.StatusCode)
	}
	u, _ := url.Parse(b.issuer)
	var parts []string
	for _, c := range jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) < 2 {
		return "", errors.New("POST /login: no session cookie was set")
	}
	return strings.Join(parts, "; "), nil
}

// machineInfo describes where the run happened.
type machineInfo struct {
	Time        string  `json:"time"`
	CPUs        int     `json:"cpus"`
	CPUModel    string  `json:"cpu_model,omitempty"`
	MemTotalMB  int64   `json:"mem_total_mb,omitempty"`
	Kernel      string  `json:"kernel,omitempty"`
	GoVersion   string  `json:"go_version"`
	Commit      string  `json:"gatehouse_commit,omitempty"`
	LoadAverage string  `json:"load_average,omitempty"`
	Database    string  `json:"database"`
	Algorithm   string  `json:"access_token_algorithm"`
	Connections int     `json:"connections"`
	DurationSec float64 `json:"duration_seconds"`
	WarmupSec   float64 `json:"warmup_seconds"`
	// Bracket: the floor was measured before and after each Gatehouse run (-bracket).
	Bracket bool `json:"floor_bracketed,omitempty"`
	// Env is the extra Gatehouse settings of -env.
	Env []string `json:"gatehouse_env,omitempty"`
}

func collectMachineInfo(ctx context.Context, o options) machineInfo {
	mi := machineInfo{Time: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Database: o.db, Algorithm: o.alg, Connections: o.concurrency,
		DurationSec: o.duration.Seconds(), WarmupSec: o.warmup.Seconds(), Env: o.env, Bracket: o.bracket}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		mi.GoVersion = strings.TrimSpace(string(out))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				mi.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if m, err := procMeminfoMB(); err == nil {
		mi.MemTotalMB = m
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		mi.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			mi.LoadAverage = strings.Join(f[:3], " ")
		}
	}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = o.repo
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if c := git("rev-parse", "--short", "HEAD"); c != "" {
		mi.Commit = c
		if git("status", "--porcelain", "--untracked-files=no") != "" {
			mi.Commit += "+dirty"
		}
	}
	return mi
}

func procMeminfoMB() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	m, err := parseProcStatus(f, "MemTotal")
	if err != nil {
		return 0, err
	}
	return m["MemTotal"] / 1024, nil
}

func (mi machineInfo) header() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gatehouse-bench  %s\n", mi.Time)
	fmt.Fprintf(&b, "machine   %d CPUs", mi.CPUs)
	if mi.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", mi.CPUModel)
	}
	if mi.MemTotalMB > 0 {
		fmt.Fprintf(&b, ", %d MB RAM", mi.MemTotalMB)
	}
	if mi.Kernel != "" {
		fmt.Fprintf(&b, ", Linux %s", mi.Kernel)
	}
	if mi.LoadAverage != "" {
		fmt.Fprintf(&b, ", load %s", mi.LoadAverage)
	}
	fmt.Fprintf(&b, "\nsoftware  %s, gatehouse %s\n", mi.GoVersion, orDash(mi.Commit))
	fmt.Fprintf(&b, "run       %s, access tokens %s, oauthload -c %d -d %gs (warm-up %gs)",
		mi.Database, mi.Algorithm, mi.Connections, mi.DurationSec, mi.WarmupSec)
	if mi.Bracket {
		b.WriteString(", floor before and after each run")
	}
	b.WriteString("\n")
	if len(mi.Env) > 0 {
		fmt.Fprintf(&b, "settings  %s\n", strings.Join(mi.Env, " "))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
