package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// JanitorResult is what one janitor pass did.
type JanitorResult struct {
	// Deleted is the number of expired rows deleted.
	Deleted int
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
// back short or Options.JanitorMaxPerRun rows are gone, then rotates the signing keys that are
// due (when Options.KeyRotationPeriod > 0). It logs what it did and returns it.
func (s *Server) JanitorPass(ctx context.Context) (JanitorResult, error) {
	var res JanitorResult
	var errs []error
	now := s.now()
	for res.Deleted < s.opts.JanitorMaxPerRun && ctx.Err() == nil {
		limit := min(s.opts.JanitorBatchSize, s.opts.JanitorMaxPerRun-res.Deleted)
		n, err := s.store.DeleteExpired(ctx, now, limit)
		res.Deleted += n
		if err != nil {
			errs = append(errs, fmt.Errorf("delete expired rows: %w", err))
			break
		}
		if n < limit {
			break
		}
	}
	s.metrics.janitorDeleted.Add(float64(res.Deleted))
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
			}
		}
	}
	err := errors.Join(errs...)
	level := slog.LevelDebug
	if res.Deleted > 0 || len(res.Rotated) > 0 {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.Int("deleted", res.Deleted), slog.Any("rotated", res.Rotated)}
	if err != nil && ctx.Err() == nil {
		level = slog.LevelError
		attrs = append(attrs, slog.Any("err", err))
	}
	s.log.LogAttrs(ctx, level, "janitor pass", attrs...)
	return res, err
}
