package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// floorSign maps keys.algorithm to the floorserver -sign value that does the same signature.
var floorSign = map[string]string{"ES256": "es256", "RS256": "rs256", "PS256": "ps256", "EdDSA": "eddsa"}

// scenario is one row of the table.
type scenario struct {
	name string
	desc string
	// load is the oauthload scenario for the paired runs; empty for derived and special rows.
	load string
	// signs says which floorserver -sign the row is compared with: "none", or "alg" for
	// Gatehouse's access token algorithm.
	floor  string
	target Target
	// ratioRow: the target applies to Gatehouse/floor (every paired row, and p99).
	ratioRow bool
}

// scenarios are the rows of the performance issue's table, in its order.
var scenarios = []scenario{
	{name: "cc-jwt", desc: "client credentials, JWT access token", load: "cc", floor: "alg", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.70, Unit: "%"}},
	{name: "cc-opaque", desc: "client credentials, opaque access token", load: "cc", floor: "none", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.40, Unit: "%"}},
	{name: "introspect-jwt", desc: "introspection of a JWT access token", load: "introspect", floor: "none", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.50, Unit: "%"}},
	{name: "introspect-opaque", desc: "introspection of an opaque access token", load: "introspect", floor: "none", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.40, Unit: "%"}},
	{name: "refresh", desc: "refresh grant with rotation", load: "refresh", floor: "alg", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.20, Unit: "%"}},
	{name: "authcode", desc: "authorization code + PKCE without openid, signed-in session, trusted client (flows/s)", load: "authcode", floor: "alg", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.12, Unit: "%"}},
	{name: "jwks", desc: "JWKS document", load: "jwks", floor: "none", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.80, Unit: "%"}},
	{name: "discovery", desc: "discovery document (openid-configuration)", load: "discovery", floor: "none", ratioRow: true,
		target: Target{Op: AtLeast, Value: 0.80, Unit: "%"}},
	{name: "p99", desc: "p99 latency of cc-jwt", floor: "alg", ratioRow: true,
		target: Target{Op: AtMost, Value: 2, Unit: "x"}},
	{name: "rss", desc: "peak RSS (VmHWM) of Gatehouse up to the end of the client-credentials runs",
		target: Target{Op: AtMost, Value: 60, Unit: "MB"}},
	{name: "startup", desc: "start to /readyz on the existing database (median)",
		target: Target{Op: AtMost, Value: 200, Unit: "ms"}},
	{name: "dbsize", desc: "database size incl. WAL after the first minute (audit retention 1m) → after all tokens, janitor between rounds",
		target: Target{Op: AtMost, Value: 1.10, Unit: "x"}},
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return names
}

func scenarioByName(name string) scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	panic("unknown scenario " + name)
}

// runOrder is the order of execution: the client-credentials runs first, so that the RSS
// figure covers them and not the sign-in (argon2id) that authcode and refresh need.
var runOrder = []string{"cc-jwt", "cc-opaque", "introspect-jwt", "introspect-opaque", "jwks", "discovery", "authcode", "refresh"}

// bench is one run of the harness.
type bench struct {
	opts   options
	stdout io.Writer
	stderr io.Writer

	work    string
	dataDir string
	logDir  string
	bins    struct{ gatehouse, oauthload, floorserver string }
	// db is the database Gatehouse runs on now; dbs every one opened (to drop at the end).
	db      *database
	dbs     []*database
	encKey  string
	machine machineInfo

	secrets  map[string]string
	password string
	cookie   string

	gh      *proc
	ghLog   string
	pubAddr string
	admAddr string
	issuer  string

	// results of the paired runs, by scenario
	results map[string]*pairResult
	// peak VmHWM (kB) and sampled VmRSS during the client-credentials runs
	hwmKB, sampledKB int64
	rows             map[string]*Row
}

type pairResult struct {
	gh, floor *Result
	// With -bracket: the floor's runs before and after Gatehouse's (floor is their mean).
	floorBefore, floorAfter *Result
	floorCfg                string
	ghErr, floorErr         error
	ghOutput                string
	ghLogPath, flPath       string
}

func newBench(o options, stdout, stderr io.Writer) (*bench, error) {
	work, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{opts: o, stdout: stdout, stderr: stderr, work: work,
		dataDir: filepath.Join(work, "data"), logDir: filepath.Join(work, "logs"),
		encKey: newEncryptionKey(), results: map[string]*pairResult{}, rows: map[string]*Row{}}
	for _, d := range []string{b.logDir, filepath.Join(work, "bin")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, fmt.Errorf("-profile: %w", err)
		}
	}
	return b, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "gatehouse-bench: "+format+"\n", args...)
}

func (b *bench) selected(name string) bool { return slices.Contains(b.opts.scenarios, name) }

// needs reports whether the paired run of name has to happen: selected, or needed by a
// derived row (p99 and rss come from the client-credentials runs).
func (b *bench) needs(name string) bool {
	switch {
	case b.selected(name):
		return true
	case name == "cc-jwt" && (b.selected("p99") || b.selected("rss")):
		return true
	}
	return false
}

// run executes the selected scenarios and returns the table's rows.
func (b *bench) run(ctx context.Context) ([]Row, error) {
	b.machine = collectMachineInfo(ctx, b.opts)
	b.logf("%d CPUs, %s, %s, %s", b.machine.CPUs, b.machine.GoVersion, b.opts.db, b.opts.alg)
	b.logf("work directory %s", b.work)

	b.logf("building gatehouse, oauthload and floorserver")
	var err error
	if b.opts.gatehouse != "" {
		b.bins.gatehouse, err = buildTool(ctx, "gatehouse", b.opts.gatehouse, "./cmd/gatehouse", filepath.Join(b.work, "bin", "gatehouse"))
	} else {
		b.bins.gatehouse, err = buildTool(ctx, "gatehouse", b.opts.repo, "./cmd/gatehouse", filepath.Join(b.work, "bin", "gatehouse"))
	}
	if err != nil {
		return nil, err
	}
	if b.bins.oauthload, err = buildTool(ctx, "oauthload", b.opts.oauthload, ".", filepath.Join(b.work, "bin", "oauthload")); err != nil {
		return nil, err
	}
	if b.bins.floorserver, err = buildTool(ctx, "floorserver", b.opts.floorserver, ".", filepath.Join(b.work, "bin", "floorserver")); err != nil {
		return nil, err
	}

	if err := b.freshDatabase(ctx, b.dataDir); err != nil {
		return nil, err
	}
	if b.pubAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if b.admAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	b.issuer = "http://" + b.pubAddr

	loads := slices.DeleteFunc(slices.Clone(runOrder), func(n string) bool { return !b.needs(n) })
	if len(loads) > 0 {
		if err := b.runLoads(ctx, loads); err != nil {
			return b.collect(), err
		}
	}
	if b.selected("startup") {
		if err := b.runStartup(ctx); err != nil {
			return b.collect(), err
		}
	}
	if b.selected("dbsize") {
		if err := b.runDBSize(ctx); err != nil {
			return b.collect(), err
		}
	}
	return b.collect(), ctx.Err()
}

// freshDatabase opens an empty database (a SQLite file in dataDir, or a new PostgreSQL
// schema), makes it the current one, and creates the scope, clients and user in it.
func (b *bench) freshDatabase(ctx context.Context, dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	db, err := openDatabase(ctx, b.opts, dataDir)
	if err != nil {
		return err
	}
	b.db, b.dataDir = db, dataDir
	b.dbs = append(b.dbs, db)
	b.logf("creating the scope, clients and user with the gatehouse CLI (%s)", db.kind)
	return b.setupData(ctx)
}

// ghEnv is Gatehouse's environment: database, encryption key, listeners, info logs.
func (b *bench) ghEnv(extra []string) []string {
	env := append(b.db.env(b.dataDir),
		"GATEHOUSE_KEYS_ENCRYPTION_KEY="+b.encKey,
		"GATEHOUSE_KEYS_ALGORITHM="+b.opts.alg,
		"GATEHOUSE_LISTEN="+b.pubAddr,
		"GATEHOUSE_ADMIN_LISTEN="+b.admAddr,
		"GATEHOUSE_LOG_LEVEL=info",
		"GATEHOUSE_LOG_FORMAT=json",
	)
	env = append(env, b.opts.env...)
	if b.pubAddr == "" { // the CLI, before the listeners are chosen
		env = slices.DeleteFunc(env, func(kv string) bool {
			return strings.HasPrefix(kv, "GATEHOUSE_LISTEN=") || strings.HasPrefix(kv, "GATEHOUSE_ADMIN_LISTEN=")
		})
	}
	return append(env, extra...)
}

// startGatehouse starts `gatehouse serve` and waits until /readyz answers; it returns the
// time from exec to ready.
func (b *bench) startGatehouse(ctx context.Context, logPath string, extraEnv []string) (*proc, time.Duration, error) {
	start := time.Now()
	p, err := startProc("gatehouse", b.bins.gatehouse, []string{"serve"}, b.ghEnv(extraEnv), logPath)
	if err != nil {
		return nil, 0, err
	}
	d, err := waitHTTP(ctx, p, "http://"+b.admAddr+"/readyz", start, 60*time.Second, logPath)
	if err != nil {
		_ = p.stop(10 * time.Second)
		return nil, 0, err
	}
	return p, d, nil
}

func (b *bench) pprofEnv() []string {
	if b.opts.profileDir == "" {
		return nil
	}
	return []string{b.opts.pprofEnv}
}

// runLoads starts Gatehouse once and runs each load scenario right after its floor.
func (b *bench) runLoads(ctx context.Context, names []string) error {
	b.ghLog = filepath.Join(b.logDir, "gatehouse.log")
	p, d, err := b.startGatehouse(ctx, b.ghLog, b.pprofEnv())
	if err != nil {
		if b.opts.profileDir != "" {
			err = fmt.Errorf("%w\n(with -profile, Gatehouse is started with %s to serve pprof on the admin listener; "+
				"if it refuses the setting, give the one this build knows with -pprof-env)", err, b.opts.pprofEnv)
		}
		return err
	}
	b.gh = p
	defer func() {
		if err := b.gh.stop(15 * time.Second); err != nil {
			b.logf("stopping gatehouse: %v", err)
		}
		b.gh = nil
	}()
	b.logf("gatehouse ready in %s (pid %d, issuer %s, admin %s, log %s)", d.Round(time.Millisecond), p.pid(), b.issuer, b.admAddr, b.ghLog)

	ccDone := false
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if (name == "authcode" || name == "refresh") && b.cookie == "" {
			if b.cookie, err = b.login(ctx); err != nil {
				return fmt.Errorf("sign in through /login: %w", err)
			}
		}
		isCC := name == "cc-jwt" || name == "cc-opaque"
		if !isCC && !ccDone {
			b.endCC()
			ccDone = true
		}
		b.logf("[%d/%d] %s", i+1, len(names), name)
		if err := b.runPair(ctx, scenarioByName(name)); err != nil {
			return err
		}
	}
	if !ccDone {
		b.endCC()
	}
	return nil
}

// endCC records the peak RSS after the client-credentials runs.
func (b *bench) endCC() {
	if b.gh == nil || b.hwmKB > 0 {
		return
	}
	if m, err := procStatusKB(b.gh.pid(), "VmHWM"); err == nil {
		b.hwmKB = m["VmHWM"]
	}
}

// runPair runs the floor configuration of s, then Gatehouse, with the same load.
func (b *bench) runPair(ctx context.Context, s scenario) error {
	pr := &pairResult{}
	b.results[s.name] = pr
	sign := "none"
	if s.floor == "alg" {
		sign = floorSign[b.opts.alg]
	}
	pr.floorCfg = "-auth sha256 -sign " + sign

	// The bare handler, right before.
	pr.flPath = filepath.Join(b.logDir, "oauthload-"+s.name+"-floor.txt")
	var err error
	if pr.floor, pr.floorErr, err = b.runFloor(ctx, s.name, sign, pr.flPath); err != nil {
		return err
	}

	// Gatehouse.
	args, err := b.ghArgs(s)
	if err != nil {
		return err
	}
	var rss *rssSampler
	if s.load == "cc" {
		rss = sampleRSS(b.gh.pid(), 50*time.Millisecond)
	}
	profDone := b.startProfile(ctx, s.name)
	pr.ghLogPath = filepath.Join(b.logDir, "oauthload-"+s.name+"-gatehouse.txt")
	pr.gh, pr.ghOutput, pr.ghErr = b.oauthload(ctx, args, b.gh.pid(), pr.ghLogPath)
	if rss != nil {
		b.sampledKB = max(b.sampledKB, rss.stop())
	}
	if err := <-profDone; err != nil {
		b.logf("  profile: %v", err)
	}
	// With -bracket, the bare handler again right after; the row takes the mean of both.
	if b.opts.bracket && pr.floorErr == nil {
		after, ferr, err := b.runFloor(ctx, s.name, sign, filepath.Join(b.logDir, "oauthload-"+s.name+"-floor-after.txt"))
		if err != nil {
			return err
		}
		if ferr != nil {
			pr.floorErr = ferr
		} else {
			pr.floorBefore, pr.floorAfter = pr.floor, after
			mean := meanResult(*pr.floor, *after)
			pr.floor = &mean
		}
	}
	if b.gh.exited() {
		return fmt.Errorf("gatehouse exited during %s (%v); last lines of %s:\n%s", s.name, b.gh.err, b.ghLog, tail(b.ghLog, 15))
	}
	if pr.ghErr == nil {
		b.logf("  gatehouse %-20s %s/s, p99 %s ms, errors %s", "", pr.gh.Fields["rps"], pr.gh.Fields["p99_ms"], pr.gh.Fields["errors"])
	} else {
		b.logf("  gatehouse: %v", pr.ghErr)
	}
	return ctx.Err()
}

// runFloor starts floorserver with -sign sign, loads it as oauthload's cc scenario and stops
// it. The returned error is for the harness; floorErr for the measurement.
func (b *bench) runFloor(ctx context.Context, name, sign, logPath string) (res *Result, floorErr, err error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	flLog := filepath.Join(b.logDir, "floorserver-"+name+".log")
	fl, err := startProc("floorserver", b.bins.floorserver, []string{"-addr", addr, "-auth", "sha256", "-sign", sign, "-max-life", "5m"}, nil, flLog)
	if err != nil {
		return nil, nil, err
	}
	if err := waitTCP(ctx, fl, addr, 20*time.Second, flLog); err != nil {
		_ = fl.stop(5 * time.Second)
		return nil, nil, err
	}
	flArgs := []string{"-scenario", "cc", "-token-url", "http://" + addr + "/token",
		"-client-id", "floor-client", "-client-secret", "floor-secret-0123456789abcdef"}
	res, _, floorErr = b.oauthload(ctx, flArgs, fl.pid(), logPath)
	if err := fl.stop(5 * time.Second); err != nil {
		b.logf("floorserver: %v", err)
	}
	if floorErr == nil {
		b.logf("  floor -auth sha256 -sign %-9s %s/s, p99 %s ms", sign, res.Fields["rps"], res.Fields["p99_ms"])
	}
	return res, floorErr, ctx.Err()
}

// ghArgs are the oauthload flags of s against Gatehouse.
func (b *bench) ghArgs(s scenario) ([]string, error) {
	args := []string{"-scenario", s.load, "-url", b.issuer}
	cred := func(id string) []string {
		return []string{"-client-id", id, "-client-secret", b.secrets[id], "-scope", benchScope}
	}
	switch s.name {
	case "cc-jwt":
		args = append(args, cred(clientJWT)...)
	case "cc-opaque":
		args = append(args, cred(clientOpaque)...)
	case "introspect-jwt", "introspect-opaque":
		id := clientJWT
		if s.name == "introspect-opaque" {
			id = clientOpaque
		}
		args = append(args, cred(id)...)
		args = append(args, "-introspect-client-id", clientRS, "-introspect-client-secret", b.secrets[clientRS])
	case "authcode":
		args = append(args, cred(clientWeb)...)
		args = append(args, "-redirect-uri", benchRedirectURI, "-H", "Cookie: "+b.cookie)
	case "refresh":
		// Each worker's first refresh token comes from an authorization-code round trip
		// with the signed-in session.
		args = append(args, cred(clientRefresh)...)
		args = append(args, "-refresh-from", "authcode", "-redirect-uri", benchRedirectURI, "-H", "Cookie: "+b.cookie)
	case "jwks", "discovery":
	default:
		return nil, fmt.Errorf("no load for scenario %s", s.name)
	}
	return args, nil
}

// oauthload runs one measurement with the common flags and parses its RESULT line.
func (b *bench) oauthload(ctx context.Context, args []string, pid int, logPath string) (*Result, string, error) {
	args = append(args, "-c", strconv.Itoa(b.opts.concurrency), "-d", b.opts.duration.String(),
		"-warmup", b.opts.warmup.String(), "-server-pid", strconv.Itoa(pid))
	return b.oauthloadRaw(ctx, args, logPath)
}

func (b *bench) oauthloadRaw(ctx context.Context, args []string, logPath string) (*Result, string, error) {
	cmd := exec.CommandContext(ctx, b.bins.oauthload, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	out := stdout.String()
	_ = os.WriteFile(logPath, []byte("oauthload "+strings.Join(redactArgs(args), " ")+"\n\n"+out+"\n"+stderr.String()), 0o600)
	if b.opts.verbose {
		fmt.Fprint(b.stderr, out)
	}
	res, perr := ParseResult(out)
	var ee *exec.ExitError
	switch {
	case runErr == nil && perr == nil:
		return &res, out, nil
	case errors.As(runErr, &ee) && ee.ExitCode() == 3 && perr == nil:
		return &res, out, fmt.Errorf("skipped: %s", res.Skipped())
	case runErr != nil:
		return nil, out, fmt.Errorf("oauthload: %v: %s (see %s)", runErr, lastLine(stderr.String()), logPath)
	default:
		return nil, out, fmt.Errorf("oauthload: %v (see %s)", perr, logPath)
	}
}

// redactArgs hides secrets and cookies in the logged command line.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		switch out[i-1] {
		case "-client-secret", "-introspect-client-secret", "-H":
			out[i] = "REDACTED"
		}
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// startProfile fetches a CPU profile of Gatehouse over the measured part of a run (after the
// warm-up) into the profile directory. The channel yields the outcome.
func (b *bench) startProfile(ctx context.Context, name string) <-chan error {
	done := make(chan error, 1)
	if b.opts.profileDir == "" {
		done <- nil
		return done
	}
	secs := max(1, int(b.opts.duration.Seconds())-1)
	go func() {
		select {
		case <-time.After(b.opts.warmup + 300*time.Millisecond):
		case <-ctx.Done():
			done <- ctx.Err()
			return
		}
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.admAddr, secs)
		client := &http.Client{Timeout: time.Duration(secs+30) * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := client.Get(url)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("GET %s: status %d (is pprof on? see -pprof-env)", url, resp.StatusCode)
			return
		}
		path := filepath.Join(b.opts.profileDir, name+"-"+b.db.kind+".pprof")
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			b.logf("  profile %s (go tool pprof -top %s)", path, path)
		}
		done <- err
	}()
	return done
}

// runStartup measures start-up to ready on the existing database, several times.
func (b *bench) runStartup(ctx context.Context) error {
	b.logf("start-up: %d starts on the existing database", b.opts.startupRuns)
	row := NewRow("startup", scenarioByName("startup").desc, "ms")
	var times []float64
	for i := range b.opts.startupRuns {
		logPath := filepath.Join(b.logDir, fmt.Sprintf("gatehouse-startup-%d.log", i+1))
		p, d, err := b.startGatehouse(ctx, logPath, nil)
		if err != nil {
			return fmt.Errorf("start-up run %d: %w", i+1, err)
		}
		if err := p.stop(15 * time.Second); err != nil {
			b.logf("stopping gatehouse: %v", err)
		}
		times = append(times, float64(d.Microseconds())/1000)
	}
	row.Gatehouse = median(times)
	row.Extra = map[string]float64{"min_ms": slices.Min(times), "max_ms": slices.Max(times)}
	row.Note = "runs (ms): " + joinFloats(times, 1)
	b.rows["startup"] = &row
	b.logf("  median %.1f ms", row.Gatehouse)
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func joinFloats(v []float64, prec int) string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = strconv.FormatFloat(f, 'f', prec, 64)
	}
	return strings.Join(parts, ", ")
}

// runDBSize issues opaque access tokens with a one-second lifetime in rounds; between rounds
// Gatehouse is restarted, and the janitor pass it runs at start deletes the expired rows and
// the audit events older than the retention (one minute here, so that the token.issued events
// reach their steady state within the run). The database should stay as large as it was once
// the first minute has passed. It runs on a database of its own, so that what the other
// scenarios wrote does not dilute the growth.
func (b *bench) runDBSize(ctx context.Context) error {
	if err := b.freshDatabase(ctx, filepath.Join(b.work, "data-dbsize")); err != nil {
		return err
	}
	n := b.opts.tokens
	rounds := max(8, (n+49_999)/50_000)
	chunk := (n + rounds - 1) / rounds
	b.logf("database size: %d opaque tokens with a 1s lifetime, %d rounds of %d, janitor pass between rounds", n, rounds, chunk)
	env := []string{"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME=1s", "GATEHOUSE_LOG_LEVEL=debug",
		"GATEHOUSE_AUDIT_RETENTION=" + dbsizeRetention.String()}
	// The rounds span a little more than the audit retention, so that the plateau is measured
	// once the oldest events are being trimmed.
	pause := max(1500*time.Millisecond, (dbsizeRetention+10*time.Second)/time.Duration(rounds))
	start := time.Now()

	before, err := b.db.sizeBytes(ctx)
	if err != nil {
		return err
	}
	row := NewRow("dbsize", scenarioByName("dbsize").desc, "MB")
	var plateau, final int64
	var plateauRows, finalRows map[string]int64
	issued, deleted, firstRound := 0, 0, 0
	for round := 0; ; round++ {
		logPath := filepath.Join(b.logDir, fmt.Sprintf("gatehouse-dbsize-%02d.log", round))
		p, _, err := b.startGatehouse(ctx, logPath, env)
		if err != nil {
			return err
		}
		d, err := waitJanitor(ctx, p, logPath, 120*time.Second)
		if err != nil {
			_ = p.stop(15 * time.Second)
			return err
		}
		deleted += d
		size, err := b.db.sizeBytes(ctx)
		if err != nil {
			_ = p.stop(15 * time.Second)
			return err
		}
		atPlateau := plateau == 0 && round > 0 && time.Since(start) > dbsizeRetention+5*time.Second
		switch {
		case atPlateau:
			plateau, firstRound = size, issued
		case issued >= n:
			final = size
		}
		if atPlateau || issued >= n {
			if counts, err := b.db.tableRows(ctx); err != nil {
				b.logf("  count rows: %v", err)
			} else if atPlateau {
				plateauRows = counts
			} else {
				finalRows = counts
			}
		}
		if issued >= n || round >= 3*rounds {
			if err := p.stop(15 * time.Second); err != nil {
				b.logf("stopping gatehouse: %v", err)
			}
			if final == 0 {
				final = size
			}
			break
		}
		want := min(chunk, n-issued)
		args := []string{"-scenario", "cc", "-url", b.issuer, "-client-id", clientOpaque, "-client-secret", b.secrets[clientOpaque],
			"-scope", benchScope, "-c", strconv.Itoa(b.opts.concurrency), "-n", strconv.Itoa(want), "-warmup", "0s"}
		res, _, err := b.oauthloadRaw(ctx, args, filepath.Join(b.logDir, fmt.Sprintf("oauthload-dbsize-%02d.txt", round)))
		if stopErr := p.stop(15 * time.Second); stopErr != nil {
			b.logf("stopping gatehouse: %v", stopErr)
		}
		if err != nil {
			return fmt.Errorf("database size, round %d: %w", round+1, err)
		}
		got, _ := strconv.Atoi(res.Fields["requests"])
		issued += got + 1 // and the probe
		b.logf("  round %d: %d tokens (%d in all), %s/s; database %.1f MB after the janitor pass before the round", round+1, got+1, issued, res.Fields["rps"], mb(size))
		// Let the round's tokens expire before the next start's janitor pass.
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if plateau == 0 {
		plateau = final
	}
	row.Gatehouse = mb(final)
	row.Ratio = float64(final) / float64(plateau)
	row.GatehouseText = fmt.Sprintf("%.1f → %.1f MB", mb(plateau), mb(final))
	row.Extra = map[string]float64{"before_mb": mb(before), "plateau_mb": mb(plateau), "after_mb": mb(final),
		"tokens": float64(issued), "janitor_deleted": float64(deleted)}
	row.Note = fmt.Sprintf("%d tokens in %d rounds, %d rows deleted by the janitor; %.1f MB before any token", issued, rounds, deleted, mb(before))
	if later := issued - firstRound; later > 0 {
		perToken := float64(final-plateau) / float64(later)
		row.Extra["growth_bytes_per_token"] = perToken
		row.Note += fmt.Sprintf("; %+.0f bytes per token after the first minute", perToken)
	}
	if grown := grownTables(plateauRows, finalRows); grown != "" {
		row.Note += "; rows after the first minute → at the end: " + grown
	}
	b.rows["dbsize"] = &row
	return nil
}

// dbsizeRetention is the audit retention of the database-size scenario.
const dbsizeRetention = time.Minute

// grownTables lists the tables whose row count grew between two counts, largest growth first.
func grownTables(before, after map[string]int64) string {
	type growth struct {
		name     string
		from, to int64
	}
	var g []growth
	for name, to := range after {
		if from := before[name]; to > from {
			g = append(g, growth{name, from, to})
		}
	}
	sort.Slice(g, func(i, j int) bool {
		if di, dj := g[i].to-g[i].from, g[j].to-g[j].from; di != dj {
			return di > dj
		}
		return g[i].name < g[j].name
	})
	var parts []string
	for _, x := range g {
		parts = append(parts, fmt.Sprintf("%s %d → %d", x.name, x.from, x.to))
	}
	return strings.Join(parts, ", ")
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// waitJanitor waits for the "janitor pass" log line of the pass Gatehouse runs at start and
// returns how many rows it deleted.
func waitJanitor(ctx context.Context, p *proc, logPath string, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	for {
		data, err := os.ReadFile(logPath)
		if err != nil {
			return 0, err
		}
		if n, ok := janitorDeleted(data); ok {
			return n, nil
		}
		if p.exited() {
			return 0, fmt.Errorf("gatehouse exited (%v); last lines of %s:\n%s", p.err, logPath, tail(logPath, 15))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no janitor pass in %s after %s", logPath, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// janitorDeleted finds the first "janitor pass" JSON log line and its deleted count.
func janitorDeleted(log []byte) (int, bool) {
	for l := range bytes.Lines(log) {
		if !bytes.Contains(l, []byte(`"janitor pass"`)) {
			continue
		}
		var rec struct {
			Msg     string `json:"msg"`
			Deleted int    `json:"deleted"`
		}
		if json.Unmarshal(l, &rec) == nil && rec.Msg == "janitor pass" {
			return rec.Deleted, true
		}
	}
	return 0, false
}

// collect turns what ran into rows, in the order of the table.
func (b *bench) collect() []Row {
	reportOnly := b.db != nil && b.db.kind == "postgres"
	var rows []Row
	for _, s := range scenarios {
		if !b.selected(s.name) {
			continue
		}
		var row Row
		switch {
		case s.load != "":
			r, ok := b.pairRow(s)
			if !ok {
				continue
			}
			row = r
		case s.name == "p99":
			pr := b.results["cc-jwt"]
			if pr == nil {
				continue
			}
			row = NewRow(s.name, s.desc, "ms")
			row.FloorConfig = pr.floorCfg
			if pr.ghErr != nil || pr.floorErr != nil {
				row.Status, row.Note = StatusFailed, errors.Join(pr.ghErr, pr.floorErr).Error()
			} else {
				row.Gatehouse, row.Floor = pr.gh.P99(), pr.floor.P99()
			}
		case s.name == "rss":
			if b.hwmKB == 0 {
				continue
			}
			row = NewRow(s.name, s.desc, "MB")
			row.Gatehouse = float64(b.hwmKB) / 1024
			row.Extra = map[string]float64{"vmhwm_mb": float64(b.hwmKB) / 1024, "sampled_max_vmrss_mb": float64(b.sampledKB) / 1024}
			row.Note = fmt.Sprintf("largest VmRSS sampled during the runs %.1f MB", float64(b.sampledKB)/1024)
		default:
			r := b.rows[s.name]
			if r == nil {
				continue
			}
			row = *r
		}
		t := s.target
		row.Target = &t
		// PostgreSQL: report the throughput and latency ratios; no target yet.
		row.Judge(reportOnly && s.ratioRow)
		rows = append(rows, row)
	}
	return rows
}

// pairRow is the row of a paired load scenario.
func (b *bench) pairRow(s scenario) (Row, bool) {
	pr := b.results[s.name]
	if pr == nil {
		return Row{}, false
	}
	desc := s.desc
	if s.floor == "alg" {
		desc += " (" + b.opts.alg + ")"
	}
	row := NewRow(s.name, desc, "/s")
	row.FloorConfig = pr.floorCfg
	row.GatehouseResult, row.FloorResult = pr.gh, pr.floor
	switch {
	case pr.ghErr != nil && pr.gh != nil && pr.gh.Skipped() != "":
		row.Status, row.Note = StatusSkipped, pr.ghErr.Error()
		return row, true
	case pr.ghErr != nil || pr.floorErr != nil:
		row.Status, row.Note = StatusFailed, errors.Join(pr.ghErr, pr.floorErr).Error()
		return row, true
	}
	row.Gatehouse, row.Floor = pr.gh.RPS(), pr.floor.RPS()
	row.GatehouseCPU, row.FloorCPU = pr.gh.CPUPerRequest(), pr.floor.CPUPerRequest()
	var notes []string
	if n := pr.gh.Errors(); n > 0 {
		notes = append(notes, fmt.Sprintf("gatehouse: %d failed requests (%s)", n, pr.ghLogPath))
	}
	if n := pr.floor.Errors(); n > 0 {
		notes = append(notes, fmt.Sprintf("floor: %d failed requests (%s)", n, pr.flPath))
	}
	if pr.floorBefore != nil {
		notes = append(notes, fmt.Sprintf("floor before/after %s/s, %s/s", pr.floorBefore.Fields["rps"], pr.floorAfter.Fields["rps"]))
	}
	row.Note = strings.Join(notes, "; ")
	return row, true
}

// printReport prints the header and the table, and writes the JSON file.
func (b *bench) printReport(rows []Row) {
	fmt.Fprintln(b.stdout)
	fmt.Fprint(b.stdout, b.machine.header())
	fmt.Fprintln(b.stdout)
	var err error
	if b.opts.format == "markdown" {
		err = WriteMarkdown(b.stdout, rows)
	} else {
		err = WriteTable(b.stdout, rows)
	}
	if err != nil {
		b.logf("%v", err)
	}
	if b.opts.jsonFile != "" {
		doc := struct {
			Machine machineInfo `json:"machine"`
			Rows    []Row       `json:"results"`
			WorkDir string      `json:"work_dir,omitempty"`
		}{b.machine, rows, ""}
		if b.opts.keep {
			doc.WorkDir = b.work
		}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err == nil {
			err = os.WriteFile(b.opts.jsonFile, append(data, '\n'), 0o644)
		}
		if err != nil {
			b.logf("-json: %v", err)
		}
	}
}

// cleanup stops what still runs and removes the work directory: all of it unless -keep, and
// all but the logs when keepLogs.
func (b *bench) cleanup(keepLogs bool) {
	if b.gh != nil {
		_ = b.gh.stop(15 * time.Second)
	}
	for _, db := range b.dbs {
		if err := db.close(b.opts.keep); err != nil {
			b.logf("drop schema %s: %v", db.schema, err)
		}
	}
	if b.opts.keep {
		b.logf("kept %s", b.work)
		return
	}
	if keepLogs {
		entries, _ := os.ReadDir(b.work)
		for _, e := range entries {
			if e.Name() != filepath.Base(b.logDir) {
				_ = os.RemoveAll(filepath.Join(b.work, e.Name()))
			}
		}
		b.logf("kept the logs in %s", b.logDir)
		return
	}
	_ = os.RemoveAll(b.work)
}
