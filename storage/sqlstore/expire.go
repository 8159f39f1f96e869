package sqlstore

import (
	"context"
	"time"
)

// deleteBatchSize bounds one DELETE, so no statement holds locks for long however much is due.
const deleteBatchSize = 500

// DeleteExpired deletes at most limit rows that expired before now: tokens, deny-list entries,
// previous keys past NotAfter, authorization codes, sessions, device codes and admin tokens
// (those that expire), in that order and in bounded batches; the limit counts the rows of all
// kinds together. It returns how many rows it deleted.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if now.IsZero() {
		return 0, nil
	}
	cutoff := s.timeArg(now)
	total := 0
	for _, step := range []struct{ what, query string }{
		{"delete expired tokens", s.q.deleteExpiredTokens},
		{"delete expired revocations", s.q.deleteExpiredJTIs},
		{"delete retired keys", s.q.deleteExpiredKeys},
		{"delete expired codes", s.q.deleteExpiredCodes},
		{"delete expired sessions", s.q.deleteExpiredSessions},
		{"delete expired device codes", s.q.deleteExpiredDeviceCodes},
		{"delete expired admin tokens", s.q.deleteExpiredAdminTokens},
	} {
		n, err := s.deleteBatches(ctx, step.query, cutoff, limit-total)
		total += n
		if err != nil {
			return total, wrapErr(step.what, err)
		}
	}
	return total, nil
}

// deleteBatches runs query (a DELETE taking a cutoff and a batch size) until it has deleted
// limit rows or a batch comes back short.
func (s *Store) deleteBatches(ctx context.Context, query string, cutoff any, limit int) (int, error) {
	total := 0
	for total < limit {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		batch := min(limit-total, deleteBatchSize)
		res, err := s.writer().ExecContext(ctx, query, cutoff, batch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		if int(n) < batch {
			break
		}
	}
	return total, nil
}
