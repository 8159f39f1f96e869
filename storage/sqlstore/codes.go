package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scanCode(row scanner) (storage.AuthCode, error) {
	var c storage.AuthCode
	err := row.Scan(&c.Hash, &c.GrantID, &c.ClientID, &c.UserID, &c.RedirectURI,
		jsonStrings(&c.Scopes), &c.CodeChallenge, &c.CodeChallengeMethod, &c.Nonce,
		timeCol{&c.AuthTime}, &c.SessionID, timeCol{&c.IssuedAt}, timeCol{&c.ExpiresAt},
		timeCol{&c.UsedAt})
	return c, err
}

// CreateCode stores c; storage.ErrConflict if the hash exists.
func (s *Store) CreateCode(ctx context.Context, c storage.AuthCode) error {
	scopes, err := jsonArg(c.Scopes)
	if err != nil {
		return err
	}
	st, err := s.prepared(ctx, s.st.createCode, s.st.createCode)
	if err != nil {
		return wrapErr("create code", err)
	}
	_, err = st.ExecContext(ctx, c.Hash, c.GrantID, c.ClientID, c.UserID, c.RedirectURI, scopes,
		c.CodeChallenge, c.CodeChallengeMethod, c.Nonce, s.timeArg(c.AuthTime), c.SessionID,
		s.timeArg(c.IssuedAt), s.timeArg(c.ExpiresAt), s.timeArg(c.UsedAt))
	return wrapErr("create code", err)
}

// ConsumeCode marks the code whose hash is hash used at now, if it is unused, and returns it
// (UsedAt set). One conditional UPDATE decides, so of concurrent callers on any connection or
// node exactly one succeeds; the others get the code as stored with storage.ErrAlreadyUsed.
// storage.ErrNotFound if absent. Expiry is the caller's to check.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (storage.AuthCode, error) {
	if now.IsZero() {
		return storage.AuthCode{}, errors.New("sqlstore: consume code: zero time")
	}
	st, err := s.prepared(ctx, s.st.consumeCode, s.st.consumeCode)
	if err != nil {
		return storage.AuthCode{}, wrapErr("consume code", err)
	}
	c, err := scanCode(st.QueryRowContext(ctx, s.timeArg(now), hash))
	switch {
	case err == nil:
		return c, nil
	case !errors.Is(err, sql.ErrNoRows):
		return storage.AuthCode{}, wrapErr("consume code", err)
	}
	// Absent or used. Read on the writer (or in the transaction): what the UPDATE saw, or
	// later.
	c, err = scanCode(s.writer().QueryRowContext(ctx, s.q.getCodeByHash, hash))
	if err != nil {
		return storage.AuthCode{}, wrapErr("consume code", err)
	}
	return c, fmt.Errorf("sqlstore: consume code of grant %q: %w", c.GrantID, storage.ErrAlreadyUsed)
}
