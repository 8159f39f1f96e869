package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// timeArg converts t to a query argument: NULL for the zero time, else UTC truncated to the
// microsecond, as unix microseconds on SQLite and as a time on PostgreSQL.
func (c *core) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if c.dialect == DialectSQLite {
		return t.UnixMicro()
	}
	return t
}

// timeCol scans a time column written by timeArg: NULL is the zero time, times are UTC.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(x).UTC()
	case time.Time:
		*c.t = x.UTC()
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", v)
	}
	return nil
}

// jsonArg encodes v as JSON text. A nil slice or map is "null" and an empty one "[]" or "{}",
// so both come back as they went in.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode JSON: %w", err)
	}
	return string(b), nil
}

// jsonCol scans JSON text into *p.
type jsonCol[T any] struct{ p *T }

func (c jsonCol[T]) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		var zero T
		*c.p = zero
		return nil
	case string:
		if x == "null" {
			var zero T
			*c.p = zero
			return nil
		}
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as JSON", v)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("sqlstore: decode JSON: %w", err)
	}
	*c.p = out
	return nil
}

func jsonStrings(p *[]string) jsonCol[[]string] { return jsonCol[[]string]{p} }

// wrapErr maps driver errors to the storage sentinels and adds what was being done:
// no rows is storage.ErrNotFound, a unique or primary-key violation storage.ErrConflict.
func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, storage.ErrConflict, err)
	default:
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" // unique_violation
	}
	return false
}

// notFound is storage.ErrNotFound with context, for writes that matched no row.
func notFound(op string) error {
	return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
}

// affected returns how many rows res changed.
func affected(op string, res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: rows affected: %w", op, err)
	}
	return n, nil
}
