package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// defaultAuditLimit is how many events ListAudit returns when the filter sets no limit.
const defaultAuditLimit = 100

// AppendAudit stores events (in one transaction when there are several). Their ID fields are
// ignored: the database assigns ids.
func (s *Store) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	switch len(events) {
	case 0:
		return nil
	case 1:
		return s.appendAudit(ctx, s.writer(), events[0])
	}
	return s.inTx(ctx, func(tx *Store) error {
		// One statement for the batch: prepared per event, its parsing cost as much as the
		// insert (perf helper: 40% of the audit batcher's CPU at 5,000 tokens a second).
		st, err := tx.tx.PrepareContext(ctx, s.q.appendAudit)
		if err != nil {
			return wrapErr("append audit event", err)
		}
		defer st.Close()
		for _, e := range events {
			if err := tx.appendAudit(ctx, preparedExec{st}, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// execer is what appendAudit runs its INSERT with.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// preparedExec runs its prepared statement, whatever query it is given.
type preparedExec struct{ st *sql.Stmt }

func (p preparedExec) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.st.ExecContext(ctx, args...)
}

func (s *Store) appendAudit(ctx context.Context, q execer, e storage.AuditEvent) error {
	details, err := jsonArg(e.Details)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, s.q.appendAudit, s.timeArg(e.Time), e.Type, e.Actor, e.ClientID,
		e.Subject, details)
	return wrapErr("append audit event", err)
}

// ListAudit returns the events that match f, newest first: by time descending, then id
// descending, with the events of a zero (NULL) time last, as the zero time is the earliest.
//
// It reads in two steps, each served by an index on (filter column, time, id) in its order:
// the events with a time, from the cursor (BeforeTime, BeforeID) down, then, if the page is
// not full yet, those without one. A row comparison (time, id) < (?, ?) continues a listing
// with an index range scan however deep the page is.
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	const op = "list audit events"
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	var conds []string
	var args []any
	for _, c := range []struct{ column, value string }{
		{"type", f.Type}, {"actor", f.Actor}, {"client_id", f.ClientID}, {"subject", f.Subject},
	} {
		if c.value != "" {
			conds = append(conds, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	cursor := f.BeforeID != 0
	var out []storage.AuditEvent
	// Events with a time. A cursor at the zero time is past all of them.
	if !cursor || !f.BeforeTime.IsZero() {
		c, a := append(slices.Clip(conds), "time IS NOT NULL"), slices.Clip(args)
		if !f.Since.IsZero() {
			c, a = append(c, "time >= ?"), append(a, s.timeArg(f.Since))
		}
		if !f.Until.IsZero() {
			c, a = append(c, "time < ?"), append(a, s.timeArg(f.Until))
		}
		if cursor {
			c, a = append(c, "(time, id) < (?, ?)"), append(a, s.timeArg(f.BeforeTime), f.BeforeID)
		}
		// No NULL is left, so plain DESC (NULLS FIRST on PostgreSQL) orders the same and
		// matches a backward scan of the ascending indexes.
		events, err := s.listAudit(ctx, c, a, "time DESC, id DESC", limit)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = events
	}
	// Events without a time: before any Until, never at or after a Since.
	if len(out) < limit && f.Since.IsZero() {
		c, a := append(slices.Clip(conds), "time IS NULL"), slices.Clip(args)
		if cursor && f.BeforeTime.IsZero() {
			c, a = append(c, "id < ?"), append(a, f.BeforeID)
		}
		events, err := s.listAudit(ctx, c, a, "id DESC", limit-len(out))
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, events...)
	}
	return out, nil
}

// listAudit runs one step of ListAudit: the events matching every condition of conds (with
// '?' placeholders), in order, at most limit.
func (s *Store) listAudit(ctx context.Context, conds []string, args []any, order string, limit int) ([]storage.AuditEvent, error) {
	query := adapt(s.dialect, "SELECT "+auditColumns+" FROM audit_events WHERE "+
		strings.Join(conds, " AND ")+" ORDER BY "+order+" LIMIT "+strconv.Itoa(limit))
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		if err := rows.Scan(&e.ID, timeCol{&e.Time}, &e.Type, &e.Actor, &e.ClientID, &e.Subject,
			jsonCol[map[string]string]{&e.Details}); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteAuditBefore deletes at most limit events older than before, oldest first, in bounded
// batches, and returns how many it deleted.
func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.deleteBatches(ctx, s.q.deleteAuditBefore, s.timeArg(before), limit)
	if err != nil {
		return n, wrapErr("delete old audit events", err)
	}
	return n, nil
}
