package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scanSession(row scanner) (storage.Session, error) {
	var ss storage.Session
	err := row.Scan(&ss.ID, &ss.Hash, &ss.UserID, timeCol{&ss.AuthTime}, timeCol{&ss.CreatedAt},
		timeCol{&ss.ExpiresAt}, &ss.UserAgent, &ss.IP)
	return ss, err
}

// CreateSession stores ss; storage.ErrConflict if the id or the hash exists.
func (s *Store) CreateSession(ctx context.Context, ss storage.Session) error {
	_, err := s.writer().ExecContext(ctx, s.q.createSession, ss.ID, ss.Hash, ss.UserID,
		s.timeArg(ss.AuthTime), s.timeArg(ss.CreatedAt), s.timeArg(ss.ExpiresAt), ss.UserAgent,
		ss.IP)
	return wrapErr("create session", err)
}

// GetSessionByHash returns the session whose hash is hash, expired or not;
// storage.ErrNotFound if absent.
func (s *Store) GetSessionByHash(ctx context.Context, hash []byte) (storage.Session, error) {
	st, err := s.prepared(ctx, s.st.getSessionByHashR, s.st.getSessionByHashW)
	if err != nil {
		return storage.Session{}, wrapErr("get session", err)
	}
	ss, err := scanSession(st.QueryRowContext(ctx, hash))
	if err != nil {
		return storage.Session{}, wrapErr("get session", err)
	}
	return ss, nil
}

// ListSessions returns the user's sessions ordered by CreatedAt, then ID.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	rows, err := s.reader().QueryContext(ctx, s.q.listSessions, userID)
	if err != nil {
		return nil, wrapErr("list sessions", err)
	}
	defer rows.Close()
	var out []storage.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, wrapErr("list sessions", err)
		}
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list sessions", err)
	}
	return out, nil
}

// DeleteSession deletes the session with id; storage.ErrNotFound if absent.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, s.q.deleteSession, id)
	if err != nil {
		return wrapErr("delete session", err)
	}
	n, err := affected("delete session", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(fmt.Sprintf("delete session %q", id))
	}
	return nil
}
