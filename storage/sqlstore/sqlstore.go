// Package sqlstore is the SQL backend of the storage contract: SQLite through the cgo-free
// modernc.org/sqlite driver, and PostgreSQL through pgx's database/sql driver.
//
// Open picks the backend from the DSN: a postgres:// or postgresql:// URL is PostgreSQL,
// anything else is the path of a SQLite file (optionally a file: URI). Migrations are SQL files
// embedded in the binary and run by goose; Open runs them unless told not to.
//
// SQLite runs in WAL mode with one writer connection, used for every write and every
// transaction (which begin with BEGIN IMMEDIATE), and a small pool of read-only connections for
// reads outside transactions. PostgreSQL uses one pool for both.
//
// Single-use records (authorization codes, refresh tokens, device codes) are redeemed by one
// conditional UPDATE … RETURNING, so that of concurrent redemptions on any connection or node
// exactly one wins, inside a transaction or not. Device code polls are serialised: one
// UPDATE on PostgreSQL, a transaction on the one writer connection on SQLite.
//
// Times are stored in UTC with microsecond precision (SQLite: INTEGER unix microseconds;
// PostgreSQL: timestamptz); the zero time.Time is stored as NULL. Lists and maps are JSON text.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Dialect names, as returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Defaults of Options.
const (
	DefaultPostgresConns = 20
	DefaultSQLiteReaders = 4
	DefaultBusyTimeout   = 5 * time.Second
)

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Logger receives migration and lifecycle messages; nil discards them.
	Logger *slog.Logger
	// MaxOpenConns is the pool size: for PostgreSQL the whole pool (default
	// DefaultPostgresConns); for SQLite the read-only pool (default DefaultSQLiteReaders),
	// next to the single writer connection.
	MaxOpenConns int
	// SkipMigrations leaves the schema as it is; call Migrate before use.
	SkipMigrations bool
	// BusyTimeout is how long SQLite waits for a lock held by another process (default
	// DefaultBusyTimeout). PostgreSQL ignores it.
	BusyTimeout time.Duration
	// Now is the clock of the methods whose contract takes no time: DeleteUser revokes the
	// user's tokens at Now(). Nil means time.Now.
	Now func() time.Time
}

// core is what a Store and the Stores bound to its transactions share.
type core struct {
	dialect string
	w       *sql.DB // writes and transactions (SQLite: one connection)
	r       *sql.DB // reads outside transactions (PostgreSQL, in-memory SQLite: same as w)
	q       *queries
	st      stmts
	log     *slog.Logger
	now     func() time.Time
	// schema is the PostgreSQL schema the store lives in (current_schema()), used to scope
	// the migration lock.
	schema    string
	closeOnce sync.Once
	closeErr  error
}

// Store is a storage.Store on SQLite or PostgreSQL. A Store bound to a transaction (the one
// InTx passes to its function) runs everything in that transaction.
type Store struct {
	*core
	tx *sql.Tx
}

var _ storage.Store = (*Store)(nil)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open opens (and, unless opts.SkipMigrations, migrates) the database named by dsn: a
// postgres:// or postgresql:// URL, or else a SQLite file path or file: URI. The parent
// directory of a SQLite file is created if missing.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var c *core
	var err error
	if isPostgres(dsn) {
		c, err = openPostgres(ctx, dsn, opts)
	} else {
		c, err = openSQLite(ctx, dsn, opts)
	}
	if err != nil {
		return nil, err
	}
	c.log = log
	c.now = opts.Now
	if c.now == nil {
		c.now = time.Now
	}
	c.q = newQueries(c.dialect)
	c.st = newStmts(c)
	s := &Store{core: c}
	if !opts.SkipMigrations {
		// Migrate also prepares the hot-path statements.
		if err := s.Migrate(ctx); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Migrate opens the database named by dsn, brings its schema up to date and closes it.
func Migrate(ctx context.Context, dsn string) error {
	s, err := Open(ctx, dsn, Options{SkipMigrations: true})
	if err != nil {
		return err
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return err
	}
	return s.Close()
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// InTx runs fn in a database transaction and commits if fn returns nil. If fn returns an error
// or panics, the transaction is rolled back (and the panic goes on). On a Store already bound
// to a transaction, fn runs in that transaction.
//
// On SQLite the transaction holds the only writer connection: fn must use the Store it is
// given, not the outer one, for writes.
func (s *Store) InTx(ctx context.Context, fn func(tx storage.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Runs on error and on panic; the panic keeps unwinding afterwards.
			_ = tx.Rollback()
		}
	}()
	if err := fn(&Store{core: s.core, tx: tx}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return wrapErr("commit transaction", err)
	}
	return nil
}

// inTx runs fn in a transaction (the current one, if any) with the concrete type.
func (s *Store) inTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.InTx(ctx, func(tx storage.Store) error { return fn(tx.(*Store)) })
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.tx != nil {
		var one int
		if err := s.tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("sqlstore: ping: %w", err)
		}
		return nil
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping readers: %w", err)
		}
	}
	return nil
}

// Close closes the prepared statements and the connection pools. On a Store bound to a
// transaction it does nothing: the transaction ends when InTx returns.
func (s *Store) Close() error {
	if s.tx != nil {
		return nil
	}
	s.closeOnce.Do(func() {
		errs := []error{s.st.close()}
		if s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlstore: close: %w", err)
		}
	})
	return s.closeErr
}

// reader is where reads go: the transaction, or the read pool.
func (s *Store) reader() querier {
	if s.tx != nil {
		return s.tx
	}
	return s.r
}

// writer is where writes go: the transaction, or the writer pool.
func (s *Store) writer() querier {
	if s.tx != nil {
		return s.tx
	}
	return s.w
}

// prepared returns the prepared statement for a hot-path query: outside a transaction the
// one prepared on the pool the query runs on (outside), inside one the transaction's copy of
// the one prepared on the writer pool (inside). Inside a transaction it never prepares on
// the pool, which would wait for a connection the transaction may hold (SQLite has one);
// if inside is not prepared yet, the statement is prepared on the transaction alone.
func (s *Store) prepared(ctx context.Context, outside, inside *lazyStmt) (*sql.Stmt, error) {
	if s.tx == nil {
		return outside.get(ctx)
	}
	if st := inside.stmt.Load(); st != nil {
		return s.tx.StmtContext(ctx, st), nil
	}
	st, err := s.tx.PrepareContext(ctx, inside.query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return st, nil
}
