// Command gatehouse-bench measures Gatehouse against the bare handler of
// ../shared/tools/floorserver, side by side in one run, with the load harness
// ../shared/tools/oauthload, and prints one table: each scenario's Gatehouse figure, the bare
// handler's figure, their ratio, the target (from the performance issue) and whether it is met.
//
// It builds the three programs, starts Gatehouse on a fresh data directory (SQLite, or a
// fresh schema of a local PostgreSQL with -db postgres), creates the clients, user and session
// the scenarios need with the gatehouse CLI and the real login form, and runs each load scenario
// right after the floorserver configuration it is compared with. Then it measures start-up time
// on the existing database and the database size after many short-lived tokens and janitor
// passes.
//
//	go run ./cmd/gatehouse-bench            # the full run, about 6 minutes
//	go run ./cmd/gatehouse-bench -quick     # 3 s per scenario, for a smoke test
//	go run ./cmd/gatehouse-bench -scenarios cc-jwt,p99,rss -profile /tmp/prof
//
// See docs/performance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	repo        string
	oauthload   string
	floorserver string
	gatehouse   string

	db  string
	dsn string
	alg string

	concurrency int
	duration    time.Duration
	warmup      time.Duration
	quick       bool
	scenarios   []string

	tokens      int
	startupRuns int

	profileDir string
	pprofEnv   string
	env        []string
	jsonFile   string
	format     string
	keep       bool
	strict     bool
	bracket    bool
	verbose    bool
}

const defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // the harness could not run (build, start, setup)
	exitUsage   = 2
	exitMissing = 3 // -strict and a target was not met, or a scenario failed
)

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b, err := newBench(opts, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitFailed
	}
	rows, err := b.run(ctx)
	// After a failure, or failed requests, the logs stay.
	b.cleanup(err != nil || troubled(rows))
	if len(rows) > 0 {
		b.printReport(rows)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitFailed
	}
	if opts.strict {
		for _, r := range rows {
			if r.Status == StatusNotMet || r.Status == StatusFailed || r.Status == StatusSkipped {
				return exitMissing
			}
		}
	}
	return exitOK
}

// troubled reports whether a row failed, was skipped or saw failed requests.
func troubled(rows []Row) bool {
	for _, r := range rows {
		if r.Status == StatusFailed || r.Status == StatusSkipped || r.Note != "" && strings.Contains(r.Note, "failed requests") {
			return true
		}
	}
	return false
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./cmd/gatehouse-bench [flags]\n\n"+
			"Runs Gatehouse and the bare floorserver handler side by side under oauthload and prints one\n"+
			"table of figures, ratios and targets. Scenarios: %s.\n\nFlags:\n", strings.Join(scenarioNames(), ", "))
		fs.PrintDefaults()
	}
	fs.StringVar(&o.repo, "repo", "", "Gatehouse repository root (default: the enclosing module of the working directory)")
	fs.StringVar(&o.oauthload, "oauthload", "", "oauthload source directory or binary (default REPO/../shared/tools/oauthload)")
	fs.StringVar(&o.floorserver, "floorserver", "", "floorserver source directory or binary (default REPO/../shared/tools/floorserver)")
	fs.StringVar(&o.gatehouse, "gatehouse", "", "a gatehouse binary to use instead of building REPO/cmd/gatehouse")
	fs.StringVar(&o.db, "db", "sqlite", "database: sqlite (a fresh file) or postgres (a fresh schema in -dsn, dropped at the end)")
	fs.StringVar(&o.dsn, "dsn", "", "PostgreSQL DSN on 127.0.0.1 for -db postgres (default "+defaultPostgresDSN+")")
	fs.StringVar(&o.alg, "alg", "ES256", "access token algorithm (keys.algorithm): ES256, RS256, PS256 or EdDSA; the floor signs with the same")
	fs.IntVar(&o.concurrency, "c", 64, "oauthload connections (workers)")
	fs.DurationVar(&o.duration, "d", 15*time.Second, "measured duration of each run (at most 60s)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up of each run")
	fs.BoolVar(&o.quick, "quick", false, "smoke test: 3s runs, 1s warm-up, 3 start-ups, 5,000 tokens")
	scen := fs.String("scenarios", "", "comma-separated subset of scenarios (default all)")
	fs.IntVar(&o.tokens, "tokens", 20000, "tokens issued for the database-size scenario (the issue's figure: 1000000, about 15 minutes)")
	fs.IntVar(&o.startupRuns, "startup-runs", 5, "start-ups measured for the start-up scenario (the median is reported)")
	fs.StringVar(&o.profileDir, "profile", "", "write a CPU profile of Gatehouse for each load scenario into this directory (pprof on the admin listener)")
	fs.StringVar(&o.pprofEnv, "pprof-env", "GATEHOUSE_DEBUG_PPROF=true", "environment setting that turns on pprof on the admin listener, used with -profile")
	fs.Func("env", "extra `NAME=VALUE` for every Gatehouse start, e.g. -env GATEHOUSE_AUDIT_RETENTION=1h (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || !strings.HasPrefix(k, "GATEHOUSE_") {
			return errors.New("want GATEHOUSE_NAME=VALUE")
		}
		o.env = append(o.env, v)
		return nil
	})
	fs.StringVar(&o.jsonFile, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.format, "format", "text", "table format: text or markdown")
	fs.BoolVar(&o.bracket, "bracket", false, "measure the bare handler both before and after each Gatehouse run and compare with the mean (steadier on a busy machine, ~40% longer)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, logs, database) and, with PostgreSQL, the schema")
	fs.BoolVar(&o.strict, "strict", false, "exit with status 3 unless every target is met")
	fs.BoolVar(&o.verbose, "v", false, "print the output of every oauthload run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["d"] {
			o.duration = 3 * time.Second
		}
		if !set["warmup"] {
			o.warmup = time.Second
		}
		if !set["tokens"] {
			o.tokens = 5000
		}
		if !set["startup-runs"] {
			o.startupRuns = 3
		}
	}
	var errs []error
	if *scen != "" {
		for s := range strings.SplitSeq(*scen, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if !slices.Contains(scenarioNames(), s) {
				errs = append(errs, fmt.Errorf("-scenarios: unknown scenario %q (want %s)", s, strings.Join(scenarioNames(), ", ")))
				continue
			}
			o.scenarios = append(o.scenarios, s)
		}
		if len(o.scenarios) == 0 && len(errs) == 0 {
			errs = append(errs, errors.New("-scenarios: empty list"))
		}
	} else {
		o.scenarios = scenarioNames()
	}
	switch o.db {
	case "sqlite":
		if o.dsn != "" {
			errs = append(errs, errors.New("-dsn needs -db postgres"))
		}
	case "postgres":
		if o.dsn == "" {
			o.dsn = defaultPostgresDSN
		}
	default:
		errs = append(errs, fmt.Errorf("-db %q: want sqlite or postgres", o.db))
	}
	if _, ok := floorSign[o.alg]; !ok {
		errs = append(errs, fmt.Errorf("-alg %q: want ES256, RS256, PS256 or EdDSA", o.alg))
	}
	if o.concurrency < 1 || o.concurrency > 1024 {
		errs = append(errs, errors.New("-c must be between 1 and 1024"))
	}
	if o.duration < time.Second || o.duration > time.Minute {
		errs = append(errs, errors.New("-d must be between 1s and 60s"))
	}
	if o.warmup < 0 || o.warmup > 30*time.Second {
		errs = append(errs, errors.New("-warmup must be between 0 and 30s"))
	}
	if o.tokens < 100 || o.tokens > 10_000_000 {
		errs = append(errs, errors.New("-tokens must be between 100 and 10000000"))
	}
	if o.startupRuns < 1 || o.startupRuns > 50 {
		errs = append(errs, errors.New("-startup-runs must be between 1 and 50"))
	}
	if o.format != "text" && o.format != "markdown" {
		errs = append(errs, fmt.Errorf("-format %q: want text or markdown", o.format))
	}
	if k, _, ok := strings.Cut(o.pprofEnv, "="); !ok || k == "" {
		errs = append(errs, fmt.Errorf("-pprof-env %q: want NAME=VALUE", o.pprofEnv))
	}
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	if o.repo == "" {
		root, err := findRepo()
		if err != nil {
			return o, err
		}
		o.repo = root
	}
	o.repo, _ = filepath.Abs(o.repo)
	if o.oauthload == "" {
		o.oauthload = filepath.Join(o.repo, "..", "shared", "tools", "oauthload")
	}
	if o.floorserver == "" {
		o.floorserver = filepath.Join(o.repo, "..", "shared", "tools", "floorserver")
	}
	return o, nil
}

// findRepo walks up from the working directory to the go.mod of the Gatehouse module.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/gatehouse-auth/gatehouse\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Gatehouse repository: run from it, or give -repo")
		}
		dir = parent
	}
}
