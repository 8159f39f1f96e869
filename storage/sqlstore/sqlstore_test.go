package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/storagetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		storagetest.Run(t, func(t *testing.T) storage.Store { return openSQLiteStore(t) })
	})
	t.Run("Backend", func(t *testing.T) {
		t.Parallel()
		runContract(t, func(t *testing.T) *Store { return openSQLiteStore(t) })
	})
	t.Run("Flows", func(t *testing.T) {
		t.Parallel()
		runFlowsContract(t, func(t *testing.T) *Store { return openSQLiteStore(t) })
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	postgresSchemaDSN(t) // skips early if PostgreSQL is unreachable
	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		open := postgresReuser(t)
		storagetest.Run(t, func(t *testing.T) storage.Store { return open(t) })
	})
	t.Run("Backend", func(t *testing.T) {
		t.Parallel()
		runContract(t, func(t *testing.T) *Store { return openPostgresStore(t) })
	})
	t.Run("Flows", func(t *testing.T) {
		t.Parallel()
		runFlowsContract(t, func(t *testing.T) *Store { return openPostgresStore(t) })
	})
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "sub", "dir", "g.db") },
		"postgres": func(t *testing.T) string { return postgresSchemaDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := dsn(t)
			s, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Dialect() != name {
				t.Fatalf("Dialect() = %q", s.Dialect())
			}
			if v, err := s.Version(ctx); err != nil || v != 0 {
				t.Fatalf("Version before migrating = %d, %v", v, err)
			}
			if _, err := s.GetClient(ctx, "c"); err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("GetClient without schema: %v, want a plain error", err)
			}
			latest, err := s.LatestVersion()
			if err != nil || latest < 1 {
				t.Fatalf("LatestVersion = %d, %v", latest, err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Version(ctx); err != nil || v != latest {
				t.Fatalf("Version = %d, %v; want %d", v, err, latest)
			}
			now := time.Now()
			if err := s.CreateClient(ctx, storage.Client{ID: "c", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, storage.Token{ID: "t", Hash: []byte("h"), ClientID: "c"}); err != nil {
				t.Fatal(err)
			}
			// Again, through the store and through the package function: nothing changes.
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := Migrate(ctx, dsn); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Version(ctx); err != nil || v != latest {
				t.Fatalf("Version after migrating again = %d, %v", v, err)
			}
			if _, err := s.GetClient(ctx, "c"); err != nil {
				t.Fatalf("client lost: %v", err)
			}
			if _, err := s.GetTokenByHash(ctx, []byte("h")); err != nil {
				t.Fatalf("token lost: %v", err)
			}
			// Opening with migrations on an up-to-date database is fine too.
			s2, err := Open(ctx, dsn, Options{MaxOpenConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			err = s.InTx(ctx, func(tx storage.Store) error { return tx.(*Store).Migrate(ctx) })
			if !errors.Is(err, errInTx) {
				t.Fatalf("Migrate in a transaction: %v", err)
			}
		})
	}
}

func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLiteStore(t)
	for _, c := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "foreign_keys", "1"},
		{s.w, "busy_timeout", "5000"},
		{s.w, "synchronous", "1"},
		{s.w, "query_only", "0"},
		{s.r, "journal_mode", "wal"},
		{s.r, "foreign_keys", "1"},
		{s.r, "busy_timeout", "5000"},
		{s.r, "query_only", "1"},
	} {
		var got string
		if err := c.db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s (reader %v) = %s, want %s", c.pragma, c.db == s.r, got, c.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, "DELETE FROM clients"); err == nil {
		t.Error("the read pool accepted a write")
	}
	if s.w.Stats().MaxOpenConnections != 1 {
		t.Errorf("writer pool has %d connections", s.w.Stats().MaxOpenConnections)
	}
}

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		dsn  string
		want sqliteTarget
	}{
		{"data/g.db", sqliteTarget{path: "data/g.db"}},
		{"/var/lib/g.db?_pragma=cache_size(-20000)", sqliteTarget{path: "/var/lib/g.db"}},
		{"file:data/g.db?cache=private", sqliteTarget{path: "data/g.db"}},
		{"file:///var/lib/my%20g.db", sqliteTarget{path: "/var/lib/my g.db"}},
		{"file://localhost/var/g.db", sqliteTarget{path: "/var/g.db"}},
		{":memory:", sqliteTarget{memory: true}},
		{"file::memory:", sqliteTarget{memory: true}},
		{"file:x?mode=memory&cache=shared", sqliteTarget{memory: true}},
	} {
		got, err := parseSQLiteDSN(c.dsn)
		if err != nil || got != c.want {
			t.Errorf("parseSQLiteDSN(%q) = %+v, %v; want %+v", c.dsn, got, err, c.want)
		}
	}
	if _, err := parseSQLiteDSN("file://elsewhere/g.db"); err == nil {
		t.Error("remote file URI accepted")
	}

	ctx := context.Background()
	// A file: URI with its own parameters, in a directory that does not exist yet.
	path := filepath.Join(dir, "a", "b", "g.db")
	s, err := Open(ctx, "file:"+path+"?cache=private", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateScope(ctx, storage.Scope{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	// In memory: one connection does everything.
	m, err := Open(ctx, ":memory:", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.CreateScope(ctx, storage.Scope{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetScope(ctx, "x"); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresBadDSN(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), "postgres://u:s3cret@[bad", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open(bad DSN) = %v", err)
	}
}

func TestQueriesAdapted(t *testing.T) {
	t.Parallel()
	q := newQueries(DialectPostgres)
	v := reflect.ValueOf(q).Elem()
	if len(q.all()) != v.NumField() {
		t.Fatalf("queries.all lists %d of %d queries", len(q.all()), v.NumField())
	}
	for i := range v.NumField() {
		s := v.Field(i).String()
		if strings.Contains(s, "?") || strings.Contains(s, skipLocked) || strings.Contains(s, byteOrder) {
			t.Errorf("%s not adapted for PostgreSQL: %s", v.Type().Field(i).Name, s)
		}
	}
	if got := adapt(DialectPostgres, "a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Errorf("adapt = %q", got)
	}
	if got := adapt(DialectSQLite, "a = ?"); got != "a = ?" {
		t.Errorf("adapt(sqlite) = %q", got)
	}
}
