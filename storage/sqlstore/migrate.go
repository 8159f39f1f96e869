package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// versionTable is goose's bookkeeping table.
const versionTable = "gatehouse_db_version"

var errInTx = errors.New("sqlstore: not available inside a transaction")

// provider returns a goose provider for the store's database, on the writer pool.
func (s *Store) provider() (*goose.Provider, error) {
	var (
		dialect goose.Dialect
		dir     string
		opts    = []goose.ProviderOption{
			goose.WithTableName(versionTable),
			goose.WithDisableGlobalRegistry(true),
			goose.WithSlog(s.log),
		}
	)
	switch s.dialect {
	case DialectPostgres:
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		// Nodes starting together take turns. The lock is per schema, so stores in
		// different schemas of one database migrate independently.
		h := fnv.New64a()
		_, _ = h.Write([]byte("gatehouse migrations " + s.schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		// SQLite: the single writer connection and BEGIN IMMEDIATE serialise migrations.
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	}
	fsys, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, s.w, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// Migrate applies the migrations the database lacks. Running it again is harmless.
func (s *Store) Migrate(ctx context.Context) error {
	if s.tx != nil {
		return errInTx
	}
	p, err := s.provider()
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate %s: %w", s.dialect, err)
	}
	if len(results) > 0 {
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: schema version: %w", err)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "database migrated",
			slog.String("dialect", s.dialect), slog.Int("applied", len(results)),
			slog.Int64("version", v))
	}
	// The schema is there now: prepare the hot-path statements, so that transactions find
	// them ready.
	if err := s.st.prepare(ctx); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// Version returns the schema version of the database (0 before the first migration).
func (s *Store) Version(ctx context.Context) (int64, error) {
	if s.tx != nil {
		return 0, errInTx
	}
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return v, nil
}

// LatestVersion returns the version the embedded migrations bring the schema to.
func (s *Store) LatestVersion() (int64, error) {
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	return latest, nil
}
