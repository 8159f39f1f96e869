package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/config"
	"github.com/gatehouse-auth/gatehouse/storage/sqlstore"
)

// cli holds the global flags and the output streams. There are no package-level variables:
// each newRootCmd call gets its own.
type cli struct {
	stdout, stderr io.Writer
	// environ is the process environment ("KEY=value"), read for GATEHOUSE_* variables.
	environ []string

	configPath string
	dataDir    string
	database   string
	jsonOut    bool

	// Remote mode (remote.go): the admin API's URL and token.
	adminURL, adminToken, adminTokenFile string
}

// newRootCmd returns the gatehouse command, reading the process environment.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	return newRootCmdEnv(stdout, stderr, os.Environ())
}

// newRootCmdEnv returns the gatehouse command with an explicit environment (tests pass their
// own, so that GATEHOUSE_* variables of the machine do not leak in).
func newRootCmdEnv(stdout, stderr io.Writer, environ []string) *cobra.Command {
	return (&cli{stdout: stdout, stderr: stderr, environ: environ}).rootCmd()
}

// rootCmd returns the gatehouse command with its flags bound to c.
func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "Gatehouse: an OAuth 2.0 and OpenID Connect authorization server",
		Long: "Gatehouse is an OAuth 2.0 and OpenID Connect authorization server.\n\n" +
			"Configuration comes from a YAML file (--config or GATEHOUSE_CONFIG), GATEHOUSE_* environment\n" +
			"variables and the flags below, in increasing order of precedence.\n\n" +
			"The clients, scopes, users, keys and tokens commands work on the database, or with --admin-url\n" +
			"(or " + envAdminURL + ") on a running server through its admin API, with the same output.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.CompletionOptions.HiddenDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&c.configPath, "config", lookupEnv(c.environ, config.EnvConfigFile), "configuration file (env "+config.EnvConfigFile+")")
	pf.StringVar(&c.dataDir, "data-dir", "", "data directory: SQLite database and development key files (default ./gatehouse-data)")
	pf.StringVar(&c.database, "database", "", "SQLite file or postgres:// DSN (default <data-dir>/gatehouse.db)")
	pf.BoolVar(&c.jsonOut, "json", false, "print machine-readable JSON")
	c.registerRemoteFlags(root)

	root.AddCommand(c.serveCmd(), c.migrateCmd(), c.versionCmd(), c.clientsCmd(), c.scopesCmd(), c.usersCmd(), c.keysCmd(),
		c.tokensCmd(), c.adminTokensCmd())
	return root
}

// lookupEnv returns the value of name in environ (the first occurrence), or "".
func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// flagEnv maps command flags to the configuration variable they override. Flags are applied
// as environment variables placed before the real ones, so config.Load validates them and
// derives defaults from them (the database from --data-dir, the issuer from --listen).
func flagEnv() []struct{ flag, env string } {
	return []struct{ flag, env string }{
		{"data-dir", "GATEHOUSE_DATA_DIR"},
		{"database", "GATEHOUSE_DATABASE"},
		{"listen", "GATEHOUSE_LISTEN"},
		{"admin-listen", "GATEHOUSE_ADMIN_LISTEN"},
		{"issuer", "GATEHOUSE_ISSUER"},
	}
}

// loadConfig reads the configuration file and environment, with cmd's flags on top.
func (c *cli) loadConfig(cmd *cobra.Command) (config.Config, error) {
	var env []string
	for _, fe := range flagEnv() {
		f := cmd.Flags().Lookup(fe.flag)
		if f != nil && f.Changed {
			env = append(env, fe.env+"="+f.Value.String())
		}
	}
	for _, kv := range c.environ {
		if name, _, _ := strings.Cut(kv, "="); !cliOnlyEnv(name) {
			env = append(env, kv)
		}
	}
	cfg, err := config.Load(c.configPath, env)
	if err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// session is what a command works with: the configuration, a logger and an open store.
type session struct {
	cfg   config.Config
	log   *slog.Logger
	store *sqlstore.Store
}

func (s *session) close() {
	if err := s.store.Close(); err != nil {
		s.log.Warn("closing the database failed", "err", err)
	}
}

// Annotations of commands.
const (
	// annotVerbose: log at the configured level (serve, migrate); other commands log warnings
	// and errors only, so their output stays readable.
	annotVerbose = "gatehouse.verbose"
)

// openStore is the one way commands reach the database: configuration and flags, a logger,
// then sqlstore.Open (which migrates unless the command has --no-migrate set). The caller
// closes the session. A command that reaches it was given --admin-url in vain (the management
// commands go through withManager): it is refused rather than run on a database the user did
// not mean. GATEHOUSE_ADMIN_URL in the environment, set for a whole shell, is not refused.
func (c *cli) openStore(cmd *cobra.Command) (*session, error) {
	if cmd.Flags().Changed("admin-url") {
		return nil, fmt.Errorf("%s works on the database directly, not through the admin API: run it where the database is, without --admin-url",
			cmd.CommandPath())
	}
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(c.stderr, cfg.Log, cmd.Annotations[annotVerbose] == "true")
	if err != nil {
		return nil, err
	}
	if !cfg.IsPostgres() {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	skip := false
	if f := cmd.Flags().Lookup("no-migrate"); f != nil {
		skip = f.Value.String() == "true"
	}
	store, err := sqlstore.Open(cmd.Context(), cfg.DatabaseDSN(), sqlstore.Options{Logger: log, SkipMigrations: skip})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &session{cfg: cfg, log: log, store: store}, nil
}

// withAdmin opens the store and runs fn with an Admin acting as "cli". Management commands
// use withManager instead, which also reaches a running server's admin API.
func (c *cli) withAdmin(cmd *cobra.Command, fn func(ctx context.Context, s *session, adm *admin.Admin) error) error {
	s, err := c.openStore(cmd)
	if err != nil {
		return err
	}
	defer s.close()
	return fn(cmd.Context(), s, admin.New(s.store, nil, time.Now).WithActor("cli"))
}

// newLogger builds the slog logger of the configuration. Unless verbose, it logs warnings and
// errors only.
func newLogger(w io.Writer, lc config.Log, verbose bool) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	if !verbose && level < slog.LevelWarn {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(lc.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

// printJSON writes v as indented JSON.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table returns a tabwriter for aligned columns; the caller flushes it.
func (c *cli) table() *tabwriter.Writer { return tabwriterFor(c.stdout) }

func tabwriterFor(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// splitList splits flag values on commas and white space, so "--scope 'a b'", "--scope a,b"
// and "--scope a --scope b" mean the same.
func splitList(values []string) []string {
	out := []string{}
	for _, v := range values {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...)
	}
	return out
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// timeText formats a stored time for tables.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// nonNil makes JSON show empty lists as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// errNothingToUpdate is returned by update commands called without a change.
var errNothingToUpdate = errors.New("nothing to update: pass at least one flag (see --help)")

// printList prints list as JSON (each item through view) or as a table with header and one
// row per item; empty is said instead of an empty table.
func printList[T, V any](c *cli, list []T, view func(T) V, empty, header string, row func(T) []string) error {
	if c.jsonOut {
		views := make([]V, len(list))
		for i, item := range list {
			views[i] = view(item)
		}
		return c.printJSON(views)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(c.stdout, empty)
		return err
	}
	tw := c.table()
	fmt.Fprintln(tw, header)
	for _, item := range list {
		fmt.Fprintln(tw, strings.Join(row(item), "\t"))
	}
	return tw.Flush()
}

// printChanged shows a record after a change: as JSON (view, which already holds the
// one-time value), or as text: the headline, the record, and the one-time value (a new
// secret or password, shown only this once) with its note.
func (c *cli) printChanged(view any, write func(io.Writer) error, headline, label, once, note string) error {
	if c.jsonOut {
		if once != "" {
			fmt.Fprintln(c.stderr, note)
		}
		return c.printJSON(view)
	}
	if _, err := fmt.Fprintf(c.stdout, "%s\n\n", headline); err != nil {
		return err
	}
	if err := write(c.stdout); err != nil {
		return err
	}
	if once != "" {
		_, err := fmt.Fprintf(c.stdout, "\n%s: %s\n%s\n", label, once, note)
		return err
	}
	return nil
}
