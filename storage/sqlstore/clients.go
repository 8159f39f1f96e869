package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanClient(row scanner) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.Trusted,
		jsonStrings(&c.GrantTypes), jsonStrings(&c.Scopes), jsonStrings(&c.RedirectURIs),
		jsonStrings(&c.PostLogoutRedirectURIs), &c.TokenFormat, &c.Declared,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, &c.Version)
	return c, err
}

// clientLists encodes the JSON columns of c.
func clientLists(c storage.Client) (grantTypes, scopes, redirects, postLogout string, err error) {
	if grantTypes, err = jsonArg(c.GrantTypes); err != nil {
		return
	}
	if scopes, err = jsonArg(c.Scopes); err != nil {
		return
	}
	if redirects, err = jsonArg(c.RedirectURIs); err != nil {
		return
	}
	postLogout, err = jsonArg(c.PostLogoutRedirectURIs)
	return
}

// CreateClient stores c at version 1 (whatever c.Version says); storage.ErrConflict if the id
// is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	gt, sc, ru, pl, err := clientLists(c)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, s.q.createClient, c.ID, c.Name, c.SecretHash,
		c.Public, c.Trusted, gt, sc, ru, pl, c.TokenFormat, c.Declared,
		s.timeArg(c.CreatedAt), s.timeArg(c.UpdatedAt))
	return wrapErr("create client", err)
}

// GetClient returns the client with id; storage.ErrNotFound if absent.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	st, err := s.prepared(ctx, s.st.getClientR, s.st.getClientW)
	if err != nil {
		return storage.Client{}, wrapErr("get client", err)
	}
	c, err := scanClient(st.QueryRowContext(ctx, id))
	if err != nil {
		return storage.Client{}, wrapErr("get client", err)
	}
	return c, nil
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.reader().QueryContext(ctx, s.q.listClients)
	if err != nil {
		return nil, wrapErr("list clients", err)
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, wrapErr("list clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list clients", err)
	}
	return out, nil
}

// QueryClients returns one page of the clients matching q, ordered by id (byte order).
func (s *Store) QueryClients(ctx context.Context, q storage.ClientQuery) ([]storage.Client, error) {
	const op = "query clients"
	pattern := likePattern(q.Search)
	query, args := s.q.queryClients, []any{q.Search, pattern, pattern, pageLimit(q.Limit)}
	if q.After != "" {
		query, args = s.q.queryClientsAfter, append([]any{q.After}, args...)
	}
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// UpdateClient replaces every field of the client but ID, CreatedAt and Version, and adds one
// to Version, in one conditional statement; storage.ErrNotFound if absent. When c.Version is
// not zero and differs from the stored version, it writes nothing and returns
// storage.ErrConflict.
func (s *Store) UpdateClient(ctx context.Context, c storage.Client) error {
	const op = "update client"
	gt, sc, ru, pl, err := clientLists(c)
	if err != nil {
		return err
	}
	w := s.writer()
	res, err := w.ExecContext(ctx, s.q.updateClient, c.Name, c.SecretHash, c.Public,
		c.Trusted, gt, sc, ru, pl, c.TokenFormat, c.Declared, s.timeArg(c.UpdatedAt), c.ID,
		c.Version, c.Version)
	if err != nil {
		return wrapErr(op, err)
	}
	n, err := affected(op, res)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	// Absent, or at another version. Read on the writer (or in the transaction): what the
	// UPDATE saw, or later.
	var stored int64
	if err := w.QueryRowContext(ctx, s.q.clientVersion, c.ID).Scan(&stored); err != nil {
		return wrapErr(fmt.Sprintf("%s %q", op, c.ID), err)
	}
	return fmt.Errorf("sqlstore: %s %q: version %d, stored %d: %w", op, c.ID, c.Version, stored,
		storage.ErrConflict)
}

// DeleteClient deletes the client and its tokens; storage.ErrNotFound if absent.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *Store) error {
		res, err := tx.tx.ExecContext(ctx, tx.q.deleteClient, id)
		if err != nil {
			return wrapErr("delete client", err)
		}
		n, err := affected("delete client", res)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound(fmt.Sprintf("delete client %q", id))
		}
		// A client re-created later with the same id must not inherit consents or pending
		// codes.
		for _, q := range []struct{ what, sql string }{
			{"delete client tokens", tx.q.deleteClientTokens},
			{"delete client consents", tx.q.deleteClientConsents},
			{"delete client codes", tx.q.deleteClientCodes},
			{"delete client device codes", tx.q.deleteClientDeviceCodes},
		} {
			if _, err := tx.tx.ExecContext(ctx, q.sql, id); err != nil {
				return wrapErr(q.what, err)
			}
		}
		return nil
	})
}
