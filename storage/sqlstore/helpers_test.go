package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// openSQLiteStore opens a migrated store on a fresh file in t.TempDir().
func openSQLiteStore(t testing.TB) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// postgresSchemaDSN returns the DSN of a new, empty schema in the test database, dropped when
// the test ends. It skips the test if PostgreSQL is unreachable, unless CI=true.
func postgresSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		dsn = defaultTestPostgres
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES is not a URL")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		msg := "PostgreSQL at " + u.Redacted() + " is unreachable (" + err.Error() +
			"); set GATEHOUSE_TEST_POSTGRES to a reachable database"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	schema := "gh_test_" + randomHex(t, 8)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = db.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPostgresStore opens a migrated store in a fresh schema.
func openPostgresStore(t testing.TB) *Store {
	t.Helper()
	dsn := postgresSchemaDSN(t)
	s, err := Open(context.Background(), dsn, Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("Open(postgres): %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// postgresReuser returns an open function for storagetest.Run that migrates one fresh schema
// once and hands out a store on it for each subtest, with every table emptied (the suite
// allows reuse: it calls open one subtest at a time). Creating, migrating and dropping a
// schema per subtest is what made the suite slow on PostgreSQL.
func postgresReuser(t *testing.T) func(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	dsn := postgresSchemaDSN(t)
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate(postgres): %v", err)
	}
	return func(t *testing.T) *Store {
		t.Helper()
		// Opened as a server opens it: Migrate finds nothing to do and prepares the hot-path
		// statements.
		s, err := Open(ctx, dsn, Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatalf("Open(postgres): %v", err)
		}
		t.Cleanup(func() { _ = s.Close() }) // the suite closes it too and checks the error
		if err := emptyTables(ctx, s); err != nil {
			_ = s.Close()
			t.Fatal(err)
		}
		return s
	}
}

// emptyTables deletes every row of every table of the store's schema but goose's.
func emptyTables(ctx context.Context, s *Store) error {
	rows, err := s.w.QueryContext(ctx, `SELECT tablename FROM pg_tables
		WHERE schemaname = current_schema() AND tablename <> $1 ORDER BY tablename`, versionTable)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(tables) == 0 {
		return errors.New("no tables to empty: schema not migrated")
	}
	var b strings.Builder
	for _, name := range tables {
		b.WriteString("DELETE FROM " + pgx.Identifier{name}.Sanitize() + ";")
	}
	if _, err := s.w.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("empty tables: %w", err)
	}
	return nil
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
