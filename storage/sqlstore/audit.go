package sqlstore

import (
	"context"
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
		for _, e := range events {
			if err := tx.appendAudit(ctx, tx.tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) appendAudit(ctx context.Context, q querier, e storage.AuditEvent) error {
	details, err := jsonArg(e.Details)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, s.q.appendAudit, s.timeArg(e.Time), e.Type, e.Actor, e.ClientID,
		e.Subject, details)
	return wrapErr("append audit event", err)
}

// ListAudit returns the events that match f, newest first.
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	var b strings.Builder
	args := make([]any, 0, 4)
	b.WriteString("SELECT " + auditColumns + " FROM audit_events")
	cond := func(expr string, arg any) {
		if len(args) == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		args = append(args, arg)
		b.WriteString(expr)
		b.WriteString(placeholder(s.dialect, len(args)))
	}
	if f.Type != "" {
		cond("type = ", f.Type)
	}
	if f.ClientID != "" {
		cond("client_id = ", f.ClientID)
	}
	if !f.Since.IsZero() {
		cond("time >= ", s.timeArg(f.Since))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	b.WriteString(" ORDER BY time DESC NULLS LAST, id DESC LIMIT ")
	b.WriteString(strconv.Itoa(limit))

	rows, err := s.reader().QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, wrapErr("list audit events", err)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		if err := rows.Scan(&e.ID, timeCol{&e.Time}, &e.Type, &e.Actor, &e.ClientID, &e.Subject,
			jsonCol[map[string]string]{&e.Details}); err != nil {
			return nil, wrapErr("list audit events", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list audit events", err)
	}
	return out, nil
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
