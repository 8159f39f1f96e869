package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scanScope(row scanner) (storage.Scope, error) {
	var sc storage.Scope
	err := row.Scan(&sc.Name, &sc.Description, &sc.Default, timeCol{&sc.CreatedAt})
	return sc, err
}

// CreateScope stores sc; storage.ErrConflict if the name is taken.
func (s *Store) CreateScope(ctx context.Context, sc storage.Scope) error {
	_, err := s.writer().ExecContext(ctx, s.q.createScope, sc.Name, sc.Description, sc.Default,
		s.timeArg(sc.CreatedAt))
	return wrapErr("create scope", err)
}

// GetScope returns the scope called name; storage.ErrNotFound if absent.
func (s *Store) GetScope(ctx context.Context, name string) (storage.Scope, error) {
	sc, err := scanScope(s.reader().QueryRowContext(ctx, s.q.getScope, name))
	if err != nil {
		return storage.Scope{}, wrapErr(fmt.Sprintf("get scope %q", name), err)
	}
	return sc, nil
}

// ListScopes returns all scopes ordered by name.
func (s *Store) ListScopes(ctx context.Context) ([]storage.Scope, error) {
	rows, err := s.reader().QueryContext(ctx, s.q.listScopes)
	if err != nil {
		return nil, wrapErr("list scopes", err)
	}
	defer rows.Close()
	var out []storage.Scope
	for rows.Next() {
		sc, err := scanScope(rows)
		if err != nil {
			return nil, wrapErr("list scopes", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list scopes", err)
	}
	return out, nil
}

// UpdateScope replaces Description and Default; storage.ErrNotFound if absent.
func (s *Store) UpdateScope(ctx context.Context, sc storage.Scope) error {
	res, err := s.writer().ExecContext(ctx, s.q.updateScope, sc.Description, sc.Default, sc.Name)
	if err != nil {
		return wrapErr("update scope", err)
	}
	n, err := affected("update scope", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("update scope %q", sc.Name))
	}
	return nil
}

// DeleteScope deletes the scope called name; storage.ErrNotFound if absent.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	res, err := s.writer().ExecContext(ctx, s.q.deleteScope, name)
	if err != nil {
		return wrapErr("delete scope", err)
	}
	n, err := affected("delete scope", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("delete scope %q", name))
	}
	return nil
}
