package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// CreateToken stores t; storage.ErrConflict if the id or the hash exists.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	scopes, err := jsonArg(t.Scopes)
	if err != nil {
		return err
	}
	audience, err := jsonArg(t.Audience)
	if err != nil {
		return err
	}
	st, err := s.prepared(ctx, s.st.createToken, s.st.createToken)
	if err != nil {
		return wrapErr("create token", err)
	}
	_, err = st.ExecContext(ctx, t.ID, t.Hash, t.Kind, t.ClientID, t.Subject, scopes, audience,
		s.timeArg(t.IssuedAt), s.timeArg(t.ExpiresAt), s.timeArg(t.RevokedAt))
	return wrapErr("create token", err)
}

// GetTokenByHash returns the token whose hash is hash, expired or revoked alike;
// storage.ErrNotFound if absent.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (storage.Token, error) {
	st, err := s.prepared(ctx, s.st.getTokenByHashR, s.st.getTokenByHashW)
	if err != nil {
		return storage.Token{}, wrapErr("get token", err)
	}
	var t storage.Token
	err = st.QueryRowContext(ctx, hash).Scan(&t.ID, &t.Hash, &t.Kind, &t.ClientID, &t.Subject,
		jsonStrings(&t.Scopes), jsonStrings(&t.Audience),
		timeCol{&t.IssuedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.RevokedAt})
	if err != nil {
		return storage.Token{}, wrapErr("get token", err)
	}
	return t, nil
}

// RevokeToken sets the token's RevokedAt unless it is set already; storage.ErrNotFound if
// absent.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, s.q.revokeToken, s.timeArg(at), id)
	if err != nil {
		return wrapErr("revoke token", err)
	}
	n, err := affected("revoke token", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("revoke token %q", id))
	}
	return nil
}

// RevokeJTI adds r to the JWT deny list; adding a jti twice keeps the first entry.
func (s *Store) RevokeJTI(ctx context.Context, r storage.Revocation) error {
	_, err := s.writer().ExecContext(ctx, s.q.revokeJTI, r.JTI, r.ClientID,
		s.timeArg(r.ExpiresAt), s.timeArg(r.RevokedAt))
	return wrapErr("revoke jti", err)
}

// IsRevoked reports whether jti is on the deny list.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	st, err := s.prepared(ctx, s.st.isRevokedR, s.st.isRevokedW)
	if err != nil {
		return false, wrapErr("check revocation", err)
	}
	var one int
	switch err := st.QueryRowContext(ctx, jti).Scan(&one); {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, wrapErr("check revocation", err)
	}
}
