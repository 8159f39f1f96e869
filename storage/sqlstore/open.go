package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

func openPostgres(ctx context.Context, dsn string, opts Options) (*core, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included: keep only our message.
		return nil, fmt.Errorf("sqlstore: invalid PostgreSQL DSN")
	}
	// On a cancelled context, ask the server to cancel the statement instead of only
	// dropping the connection (pgx's default): a statement waiting for a lock would
	// otherwise run, and commit, after its caller got an error. The deadline is the fallback
	// for a server that does not answer.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	db := stdlib.OpenDB(*cfg)
	n := opts.MaxOpenConns
	if n <= 0 {
		n = DefaultPostgresConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: connect to PostgreSQL: %w", err)
	}
	return &core{dialect: DialectPostgres, w: db, r: db, schema: schema}, nil
}

// sqliteTarget is what a SQLite DSN names.
type sqliteTarget struct {
	path   string // file path; empty for an in-memory database
	memory bool
}

// parseSQLiteDSN finds the file a SQLite DSN names: a plain path (query parameters after '?'
// are the driver's) or a file: URI.
func parseSQLiteDSN(dsn string) (sqliteTarget, error) {
	name, query, _ := strings.Cut(dsn, "?")
	if rest, ok := strings.CutPrefix(name, "file:"); ok {
		if q, err := url.ParseQuery(query); err == nil && q.Get("mode") == "memory" {
			return sqliteTarget{memory: true}, nil
		}
		if h, ok := strings.CutPrefix(rest, "//"); ok {
			// file://host/path: the authority must be empty or localhost.
			host, p, _ := strings.Cut(h, "/")
			if host != "" && host != "localhost" {
				return sqliteTarget{}, fmt.Errorf("sqlstore: SQLite URI with host %q", host)
			}
			rest = "/" + p
		}
		p, err := url.PathUnescape(rest)
		if err != nil {
			return sqliteTarget{}, fmt.Errorf("sqlstore: SQLite URI path: %w", err)
		}
		name = p
	}
	if name == "" || name == ":memory:" {
		return sqliteTarget{memory: true}, nil
	}
	return sqliteTarget{path: name}, nil
}

// sqliteDSN appends driver parameters to a SQLite DSN.
func sqliteDSN(dsn string, params []string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + strings.Join(params, "&")
}

func openSQLite(ctx context.Context, dsn string, opts Options) (*core, error) {
	target, err := parseSQLiteDSN(dsn)
	if err != nil {
		return nil, err
	}
	if target.path != "" {
		if dir := filepath.Dir(target.path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
			}
		}
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	// The modernc driver runs these on every new connection, so every pooled connection
	// gets them.
	common := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")",
		"_pragma=foreign_keys(1)",
	}
	writerParams := append(append([]string{}, common...),
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		// Checkpoint every 4000 WAL pages (16 MiB) rather than SQLite's 1000: a page written
		// by many commits in between is copied to the database file and synced once. It
		// takes a fifth off the CPU of each token row (perf helper, measured with batches
		// of 16 rows on 60,000 rows).
		"_pragma=wal_autocheckpoint(4000)",
		"_txlock=immediate",
	)
	w, err := sql.Open("sqlite", sqliteDSN(dsn, writerParams))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open SQLite: %w", err)
	}
	// One writer: writes queue in the pool instead of fighting over SQLite's lock.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// Connect now, so the file exists and is in WAL mode before the readers open it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlstore: open SQLite: %w", err)
	}
	if target.memory {
		// Every connection to :memory: is its own database: one connection does everything.
		return &core{dialect: DialectSQLite, w: w, r: w}, nil
	}
	n := opts.MaxOpenConns
	if n <= 0 {
		n = DefaultSQLiteReaders
	}
	r, err := sql.Open("sqlite", sqliteDSN(dsn, append(common, "_query_only=1")))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlstore: open SQLite readers: %w", err)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	return &core{dialect: DialectSQLite, w: w, r: r}, nil
}
