package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

var _ storage.DeviceCodes = (*Store)(nil)

// slowDownStep is how many seconds a poll that came too soon adds to the interval (RFC 8628
// section 3.5, slow_down).
const slowDownStep = 5

func scanDeviceCode(row scanner) (storage.DeviceCode, error) {
	var d storage.DeviceCode
	err := row.Scan(&d.Hash, &d.UserCodeHash, &d.ClientID, jsonStrings(&d.Scopes), &d.Status,
		&d.UserID, timeCol{&d.AuthTime}, &d.Interval, timeCol{&d.LastPolledAt},
		timeCol{&d.IssuedAt}, timeCol{&d.ExpiresAt}, timeCol{&d.UsedAt})
	return d, err
}

// CreateDeviceCode stores d; storage.ErrConflict if its hash or its user code hash exists.
func (s *Store) CreateDeviceCode(ctx context.Context, d storage.DeviceCode) error {
	scopes, err := jsonArg(d.Scopes)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, s.q.createDeviceCode, d.Hash, d.UserCodeHash,
		d.ClientID, scopes, d.Status, d.UserID, s.timeArg(d.AuthTime), d.Interval,
		s.timeArg(d.LastPolledAt), s.timeArg(d.IssuedAt), s.timeArg(d.ExpiresAt),
		s.timeArg(d.UsedAt))
	return wrapErr("create device code", err)
}

// GetDeviceCodeByUserCode returns the request whose user code hash is userCodeHash, whatever
// its state or expiry; storage.ErrNotFound if absent.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (storage.DeviceCode, error) {
	d, err := scanDeviceCode(s.reader().QueryRowContext(ctx, s.q.getDeviceCodeByUserCode, userCodeHash))
	if err != nil {
		return storage.DeviceCode{}, wrapErr("get device code by user code", err)
	}
	return d, nil
}

// DecideDeviceCode moves the pending request whose user code hash is userCodeHash to status
// (storage.DeviceApproved or storage.DeviceDenied), recording userID and authTime. One
// conditional UPDATE decides, so of concurrent decisions exactly one succeeds; the others,
// and decisions on requests that are not pending, get storage.ErrAlreadyUsed.
// storage.ErrNotFound if absent. Any other status is an error.
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeHash []byte, status, userID string, authTime time.Time) error {
	if status != storage.DeviceApproved && status != storage.DeviceDenied {
		return fmt.Errorf("sqlstore: decide device code: status %q is neither %q nor %q",
			status, storage.DeviceApproved, storage.DeviceDenied)
	}
	res, err := s.writer().ExecContext(ctx, s.q.decideDeviceCode, status, userID,
		s.timeArg(authTime), userCodeHash)
	if err != nil {
		return wrapErr("decide device code", err)
	}
	n, err := affected("decide device code", res)
	if err != nil || n > 0 {
		return err
	}
	// Absent or decided. Read on the writer (or in the transaction): what the UPDATE saw, or
	// later.
	d, err := scanDeviceCode(s.writer().QueryRowContext(ctx, s.q.getDeviceCodeByUserCode, userCodeHash))
	if err != nil {
		return wrapErr("decide device code", err)
	}
	return fmt.Errorf("sqlstore: decide device code: status is %q: %w", d.Status, storage.ErrAlreadyUsed)
}

// PollDeviceCode records a poll at now of the request whose hash is hash and returns the
// request as it was before: LastPolledAt becomes now, and Interval grows by 5 when the
// previous poll was less than Interval seconds before now. Concurrent polls are serialised,
// so each sees the one before it. storage.ErrNotFound if absent.
//
// PostgreSQL does it in one statement; SQLite reads and writes the row in a transaction on
// its one writer connection.
func (s *Store) PollDeviceCode(ctx context.Context, hash []byte, now time.Time) (storage.DeviceCode, error) {
	if now.IsZero() {
		return storage.DeviceCode{}, errors.New("sqlstore: poll device code: zero time")
	}
	at := s.timeArg(now)
	if s.dialect == DialectPostgres {
		d, err := scanDeviceCode(s.writer().QueryRowContext(ctx, s.q.pollDeviceCode, hash, at, at))
		if err != nil {
			return storage.DeviceCode{}, wrapErr("poll device code", err)
		}
		return d, nil
	}
	var prev storage.DeviceCode
	err := s.inTx(ctx, func(tx *Store) error {
		var err error
		prev, err = scanDeviceCode(tx.tx.QueryRowContext(ctx, tx.q.getDeviceCodeByHash, hash))
		if err != nil {
			return wrapErr("poll device code", err)
		}
		interval := prev.Interval
		if tooSoon(prev, now) {
			interval += slowDownStep
		}
		_, err = tx.tx.ExecContext(ctx, tx.q.recordDevicePoll, at, interval, hash)
		return wrapErr("poll device code", err)
	})
	if err != nil {
		return storage.DeviceCode{}, err
	}
	return prev, nil
}

// tooSoon reports whether a poll at now came less than d.Interval seconds after the previous
// one, compared to the microsecond, as stored.
func tooSoon(d storage.DeviceCode, now time.Time) bool {
	if d.LastPolledAt.IsZero() {
		return false
	}
	now = now.UTC().Truncate(time.Microsecond)
	return now.Before(d.LastPolledAt.Add(time.Duration(d.Interval) * time.Second))
}

// ConsumeDeviceCode marks the approved, unused request whose hash is hash used at now and
// returns it (UsedAt set). One conditional UPDATE decides, so of concurrent callers on any
// connection or node exactly one succeeds; the others, and callers with a request that is
// not approved, get the request as stored with storage.ErrAlreadyUsed. storage.ErrNotFound
// if absent. Expiry is the caller's to check.
func (s *Store) ConsumeDeviceCode(ctx context.Context, hash []byte, now time.Time) (storage.DeviceCode, error) {
	if now.IsZero() {
		return storage.DeviceCode{}, errors.New("sqlstore: consume device code: zero time")
	}
	d, err := scanDeviceCode(s.writer().QueryRowContext(ctx, s.q.consumeDeviceCode, s.timeArg(now), hash))
	switch {
	case err == nil:
		return d, nil
	case !errors.Is(err, sql.ErrNoRows):
		return storage.DeviceCode{}, wrapErr("consume device code", err)
	}
	// Absent, used or not approved. Read on the writer (or in the transaction): what the
	// UPDATE saw, or later.
	d, err = scanDeviceCode(s.writer().QueryRowContext(ctx, s.q.getDeviceCodeByHash, hash))
	if err != nil {
		return storage.DeviceCode{}, wrapErr("consume device code", err)
	}
	return d, fmt.Errorf("sqlstore: consume device code: status %q, used %t: %w",
		d.Status, !d.UsedAt.IsZero(), storage.ErrAlreadyUsed)
}
