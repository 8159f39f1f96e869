package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// CreateKey stores k; storage.ErrConflict if the kid exists.
func (s *Store) CreateKey(ctx context.Context, k storage.SigningKey) error {
	_, err := s.writer().ExecContext(ctx, s.q.createKey, k.ID, k.Algorithm, k.State, k.Sealed,
		k.Public, s.timeArg(k.CreatedAt), s.timeArg(k.NotAfter))
	return wrapErr("create key", err)
}

// ListKeys returns all keys ordered by CreatedAt, then ID.
func (s *Store) ListKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := s.reader().QueryContext(ctx, s.q.listKeys)
	if err != nil {
		return nil, wrapErr("list keys", err)
	}
	defer rows.Close()
	var out []storage.SigningKey
	for rows.Next() {
		var k storage.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.State, &k.Sealed, &k.Public,
			timeCol{&k.CreatedAt}, timeCol{&k.NotAfter}); err != nil {
			return nil, wrapErr("list keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list keys", err)
	}
	return out, nil
}

// UpdateKey replaces the key's State and NotAfter; storage.ErrNotFound if absent.
func (s *Store) UpdateKey(ctx context.Context, k storage.SigningKey) error {
	res, err := s.writer().ExecContext(ctx, s.q.updateKey, k.State, s.timeArg(k.NotAfter), k.ID)
	if err != nil {
		return wrapErr("update key", err)
	}
	n, err := affected("update key", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("update key %q", k.ID))
	}
	return nil
}

// DeleteKey deletes the key with kid id; storage.ErrNotFound if absent.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, s.q.deleteKey, id)
	if err != nil {
		return wrapErr("delete key", err)
	}
	n, err := affected("delete key", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("delete key %q", id))
	}
	return nil
}
