package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scanUser(row scanner) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.EmailVerified, &u.Name, &u.PasswordHash,
		&u.Disabled, jsonStrings(&u.Roles), &u.Declared, timeCol{&u.CreatedAt},
		timeCol{&u.UpdatedAt})
	return u, err
}

// CreateUser stores u; storage.ErrConflict if the id or the username is taken.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	roles, err := jsonArg(u.Roles)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, s.q.createUser, u.ID, u.Username, u.Email,
		u.EmailVerified, u.Name, u.PasswordHash, u.Disabled, roles, u.Declared,
		s.timeArg(u.CreatedAt), s.timeArg(u.UpdatedAt))
	return wrapErr("create user", err)
}

// GetUser returns the user with id; storage.ErrNotFound if absent.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	st, err := s.prepared(ctx, s.st.getUserR, s.st.getUserW)
	if err != nil {
		return storage.User{}, wrapErr("get user", err)
	}
	u, err := scanUser(st.QueryRowContext(ctx, id))
	if err != nil {
		return storage.User{}, wrapErr("get user", err)
	}
	return u, nil
}

// GetUserByUsername returns the user whose username is exactly username;
// storage.ErrNotFound if absent.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	u, err := scanUser(s.reader().QueryRowContext(ctx, s.q.getUserByUsername, username))
	if err != nil {
		return storage.User{}, wrapErr("get user by username", err)
	}
	return u, nil
}

// ListUsers returns all users ordered by username (byte order).
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	rows, err := s.reader().QueryContext(ctx, s.q.listUsers)
	if err != nil {
		return nil, wrapErr("list users", err)
	}
	defer rows.Close()
	var out []storage.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrapErr("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list users", err)
	}
	return out, nil
}

// QueryUsers returns one page of the users matching q, ordered by username (byte order).
func (s *Store) QueryUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	const op = "query users"
	pattern := likePattern(q.Search)
	query, args := s.q.queryUsers, []any{q.Search, pattern, pattern, pattern, pageLimit(q.Limit)}
	if q.After != "" {
		query, args = s.q.queryUsersAfter, append([]any{q.After}, args...)
	}
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []storage.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// UpdateUser replaces every field of the user but ID and CreatedAt; storage.ErrNotFound if
// absent, storage.ErrConflict if the new username is taken.
func (s *Store) UpdateUser(ctx context.Context, u storage.User) error {
	roles, err := jsonArg(u.Roles)
	if err != nil {
		return err
	}
	res, err := s.writer().ExecContext(ctx, s.q.updateUser, u.Username, u.Email,
		u.EmailVerified, u.Name, u.PasswordHash, u.Disabled, roles, u.Declared,
		s.timeArg(u.UpdatedAt), u.ID)
	if err != nil {
		return wrapErr("update user", err)
	}
	n, err := affected("update user", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("update user %q", u.ID))
	}
	return nil
}

// DeleteUser deletes the user, the user's consents and sessions, and revokes the tokens whose
// subject is the user's id (at Options.Now, deny-listing the unexpired access tokens), in one
// transaction; storage.ErrNotFound if absent.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	at := s.now()
	return s.inTx(ctx, func(tx *Store) error {
		res, err := tx.tx.ExecContext(ctx, tx.q.deleteUser, id)
		if err != nil {
			return wrapErr("delete user", err)
		}
		n, err := affected("delete user", res)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound(fmt.Sprintf("delete user %q", id))
		}
		if _, err := tx.tx.ExecContext(ctx, tx.q.deleteUserConsents, id); err != nil {
			return wrapErr("delete user consents", err)
		}
		if _, err := tx.tx.ExecContext(ctx, tx.q.deleteUserSessions, id); err != nil {
			return wrapErr("delete user sessions", err)
		}
		if id == "" {
			return nil // an empty filter would match every token
		}
		if _, err := tx.revokeTokens(ctx, storage.TokenFilter{Subject: id}, at); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		return nil
	})
}

func scanConsent(row scanner) (storage.Consent, error) {
	var c storage.Consent
	err := row.Scan(&c.UserID, &c.ClientID, jsonStrings(&c.Scopes), timeCol{&c.CreatedAt},
		timeCol{&c.UpdatedAt})
	return c, err
}

// GetConsent returns the consent userID gave clientID; storage.ErrNotFound if absent.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	c, err := scanConsent(s.reader().QueryRowContext(ctx, s.q.getConsent, userID, clientID))
	if err != nil {
		return storage.Consent{}, wrapErr("get consent", err)
	}
	return c, nil
}

// PutConsent creates the consent of (UserID, ClientID) or replaces its Scopes and UpdatedAt,
// keeping the stored CreatedAt, in one statement.
func (s *Store) PutConsent(ctx context.Context, c storage.Consent) error {
	scopes, err := jsonArg(c.Scopes)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, s.q.putConsent, c.UserID, c.ClientID, scopes,
		s.timeArg(c.CreatedAt), s.timeArg(c.UpdatedAt))
	return wrapErr("put consent", err)
}

// ListConsents returns the user's consents ordered by client id (byte order).
func (s *Store) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	rows, err := s.reader().QueryContext(ctx, s.q.listConsents, userID)
	if err != nil {
		return nil, wrapErr("list consents", err)
	}
	defer rows.Close()
	var out []storage.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, wrapErr("list consents", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list consents", err)
	}
	return out, nil
}

// DeleteConsent deletes the consent userID gave clientID; storage.ErrNotFound if absent.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	res, err := s.writer().ExecContext(ctx, s.q.deleteConsent, userID, clientID)
	if err != nil {
		return wrapErr("delete consent", err)
	}
	n, err := affected("delete consent", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("delete consent of %q for %q", userID, clientID))
	}
	return nil
}
