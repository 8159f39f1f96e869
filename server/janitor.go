package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// JanitorResult is what one janitor pass did.
type JanitorResult struct {
	// Deleted is the number of expired rows deleted.
	Deleted int
	// AuditDeleted is the number of audit events deleted for being older than
	// Options.AuditRetention.
	AuditDeleted int
	// Rotated lists the algorithms whose signing key was rotated.
	Rotated []string
}

// RunJanitor runs a janitor pass at once and then every Options.JanitorInterval until ctx is
// done. Failures are logged; the next pass tries again.
func (s *Server) RunJanitor(ctx context.Context) {
	t := time.NewTicker(s.opts.JanitorInterval)
	defer t.Stop()
	for {
		_, _ = s.JanitorPass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// JanitorPass deletes expired rows in batches of Options.JanitorBatchSize until a batch comes
// back short or Options.JanitorMaxPerRun rows are gone, deletes audit events older than
// Options.AuditRetention (when positive) the same way, with a budget of its own, then rotates
// the signing keys that are due (when Options.KeyRotationPeriod > 0), recording a key.rotated
// event by the actor "janitor" for each. It logs what it did and returns it.
func (s *Server) JanitorPass(ctx context.Context) (JanitorResult, error) {
	var res JanitorResult
	var errs []error
	now := s.now()
	n, err := s.deleteBatches(ctx, func(limit int) (int, error) { return s.store.DeleteExpired(ctx, now, limit) })
	res.Deleted = n
	if err != nil {
		errs = append(errs, fmt.Errorf("delete expired rows: %w", err))
	}
	s.metrics.janitorDeleted.Add(float64(res.Deleted))
	if s.opts.AuditRetention > 0 {
		before := now.Add(-s.opts.AuditRetention)
		n, err := s.deleteBatches(ctx, func(limit int) (int, error) { return s.store.DeleteAuditBefore(ctx, before, limit) })
		res.AuditDeleted = n
		s.metrics.auditDeleted.Add(float64(n))
		if err != nil {
			errs = append(errs, fmt.Errorf("delete old audit events: %w", err))
		}
	}
	if s.opts.KeyRotationPeriod > 0 {
		keys := s.provider.Keys()
		for _, alg := range s.opts.KeyAlgorithms {
			if ctx.Err() != nil {
				break
			}
			rotated, err := keys.RotateIfDue(ctx, alg, s.opts.KeyRotationPeriod, s.opts.KeyRetain)
			if err != nil {
				errs = append(errs, fmt.Errorf("rotate %s key: %w", alg, err))
				continue
			}
			if rotated {
				res.Rotated = append(res.Rotated, alg)
				s.metrics.keyRotations.WithLabelValues(alg).Inc()
				if err := s.auditRotation(ctx, keys, alg); err != nil {
					errs = append(errs, fmt.Errorf("rotate %s key: rotated, but: %w", alg, err))
				}
			}
		}
	}
	err = errors.Join(errs...)
	level := slog.LevelDebug
	if res.Deleted > 0 || res.AuditDeleted > 0 || len(res.Rotated) > 0 {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.Int("deleted", res.Deleted), slog.Int("audit_deleted", res.AuditDeleted), slog.Any("rotated", res.Rotated)}
	if err != nil && ctx.Err() == nil {
		level = slog.LevelError
		attrs = append(attrs, slog.Any("err", err))
	}
	s.log.LogAttrs(ctx, level, "janitor pass", attrs...)
	return res, err
}

// deleteBatches calls del with limits of at most Options.JanitorBatchSize until a batch comes
// back short, Options.JanitorMaxPerRun rows are gone, ctx ends or del fails; it returns how
// many rows del deleted.
func (s *Server) deleteBatches(ctx context.Context, del func(limit int) (int, error)) (int, error) {
	total := 0
	for total < s.opts.JanitorMaxPerRun && ctx.Err() == nil {
		limit := min(s.opts.JanitorBatchSize, s.opts.JanitorMaxPerRun-total)
		n, err := del(limit)
		total += n
		if err != nil || n < limit {
			return total, err
		}
	}
	return total, nil
}

// auditRotation records the janitor's rotation of alg's key: a key.rotated event, as
// admin.RotateKey writes for an operator's, with the new current kid.
func (s *Server) auditRotation(ctx context.Context, keys *oauth.Keyring, alg string) error {
	details := map[string]string{"algorithm": alg, "period": s.opts.KeyRotationPeriod.String(),
		"retain": s.opts.KeyRetain.String()}
	if recs, err := keys.Records(ctx); err == nil {
		for _, r := range recs {
			if r.Algorithm == alg && r.State == storage.KeyCurrent {
				details["kid"] = r.ID
			}
		}
	}
	return s.store.AppendAudit(ctx, storage.AuditEvent{Time: s.now().UTC(), Type: admin.EventKeyRotated,
		Actor: janitorActor, Details: details})
}

// janitorActor is the audit actor of what the janitor does.
const janitorActor = "janitor"
