package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scanAdminToken(row scanner) (storage.AdminToken, error) {
	var t storage.AdminToken
	err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.CreatedBy, timeCol{&t.CreatedAt},
		timeCol{&t.ExpiresAt}, timeCol{&t.LastUsedAt})
	return t, err
}

// CreateAdminToken stores t; storage.ErrConflict if the id or the hash exists.
func (s *Store) CreateAdminToken(ctx context.Context, t storage.AdminToken) error {
	_, err := s.writer().ExecContext(ctx, s.q.createAdminToken, t.ID, t.Name, t.Hash, t.CreatedBy,
		s.timeArg(t.CreatedAt), s.timeArg(t.ExpiresAt), s.timeArg(t.LastUsedAt))
	return wrapErr("create admin token", err)
}

// GetAdminTokenByHash returns the admin token whose hash is hash, expired or not;
// storage.ErrNotFound if absent.
func (s *Store) GetAdminTokenByHash(ctx context.Context, hash []byte) (storage.AdminToken, error) {
	t, err := scanAdminToken(s.reader().QueryRowContext(ctx, s.q.getAdminTokenByHash, hash))
	if err != nil {
		return storage.AdminToken{}, wrapErr("get admin token by hash", err)
	}
	return t, nil
}

// ListAdminTokens returns every admin token ordered by CreatedAt, then ID.
func (s *Store) ListAdminTokens(ctx context.Context) ([]storage.AdminToken, error) {
	const op = "list admin tokens"
	rows, err := s.reader().QueryContext(ctx, s.q.listAdminTokens)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []storage.AdminToken
	for rows.Next() {
		t, err := scanAdminToken(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// DeleteAdminToken deletes the admin token with id; storage.ErrNotFound if absent.
func (s *Store) DeleteAdminToken(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, s.q.deleteAdminToken, id)
	if err != nil {
		return wrapErr("delete admin token", err)
	}
	n, err := affected("delete admin token", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("delete admin token %q", id))
	}
	return nil
}

// TouchAdminToken moves the admin token's LastUsedAt forward to at; storage.ErrNotFound if
// absent.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	const op = "touch admin token"
	atArg := s.timeArg(at)
	res, err := s.writer().ExecContext(ctx, s.q.touchAdminToken, atArg, id, atArg)
	if err != nil {
		return wrapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return wrapErr(op, err)
	}
	var one int
	err = s.writer().QueryRowContext(ctx, s.q.adminTokenExists, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(fmt.Sprintf("%s %q", op, id))
	}
	return wrapErr(op, err)
}
