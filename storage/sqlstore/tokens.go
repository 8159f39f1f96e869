package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scanToken(row scanner) (storage.Token, error) {
	var t storage.Token
	err := row.Scan(&t.ID, &t.Hash, &t.Kind, &t.ClientID, &t.Subject,
		jsonStrings(&t.Scopes), jsonStrings(&t.Audience), &t.GrantID, timeCol{&t.AuthTime},
		timeCol{&t.IssuedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt}, timeCol{&t.RevokedAt},
		&t.Name, timeCol{&t.LastUsedAt})
	return t, err
}

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
		t.GrantID, s.timeArg(t.AuthTime), s.timeArg(t.IssuedAt), s.timeArg(t.ExpiresAt),
		s.timeArg(t.UsedAt), s.timeArg(t.RevokedAt), t.Name, s.timeArg(t.LastUsedAt))
	return wrapErr("create token", err)
}

// GetToken returns the token with id, expired or revoked alike; storage.ErrNotFound if absent.
func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	t, err := scanToken(s.reader().QueryRowContext(ctx, s.q.getToken, id))
	if err != nil {
		return storage.Token{}, wrapErr(fmt.Sprintf("get token %q", id), err)
	}
	return t, nil
}

// GetTokenByHash returns the token whose hash is hash, expired or revoked alike;
// storage.ErrNotFound if absent.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (storage.Token, error) {
	return s.getTokenByHash(ctx, "get token", s.st.getTokenByHashR, s.st.getTokenByHashW, hash)
}

func (s *Store) getTokenByHash(ctx context.Context, op string, outside, inside *lazyStmt, hash []byte) (storage.Token, error) {
	st, err := s.prepared(ctx, outside, inside)
	if err != nil {
		return storage.Token{}, wrapErr(op, err)
	}
	t, err := scanToken(st.QueryRowContext(ctx, hash))
	if err != nil {
		return storage.Token{}, wrapErr(op, err)
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

// UseToken marks the token whose hash is hash used at now, if it is neither used nor revoked,
// and returns it (UsedAt set). One conditional UPDATE decides, so of concurrent callers on any
// connection or node exactly one succeeds. If the token was used or revoked before, it returns
// the token as stored with storage.ErrAlreadyUsed; storage.ErrNotFound if absent.
func (s *Store) UseToken(ctx context.Context, hash []byte, now time.Time) (storage.Token, error) {
	if now.IsZero() {
		return storage.Token{}, errors.New("sqlstore: use token: zero time")
	}
	st, err := s.prepared(ctx, s.st.useToken, s.st.useToken)
	if err != nil {
		return storage.Token{}, wrapErr("use token", err)
	}
	t, err := scanToken(st.QueryRowContext(ctx, s.timeArg(now), hash))
	switch {
	case err == nil:
		return t, nil
	case !errors.Is(err, sql.ErrNoRows):
		return storage.Token{}, wrapErr("use token", err)
	}
	// Absent, used or revoked. Read on the writer (or in the transaction): what the UPDATE
	// saw, or later.
	t, err = s.getTokenByHash(ctx, "use token", s.st.getTokenByHashW, s.st.getTokenByHashW, hash)
	if err != nil {
		return storage.Token{}, err
	}
	return t, fmt.Errorf("sqlstore: use token %q: %w", t.ID, storage.ErrAlreadyUsed)
}

// tokenFilter returns the conditions of f joined by AND, with '?' placeholders, and their
// arguments. An empty filter is an error: it would match every token.
func tokenFilter(op string, f storage.TokenFilter) (string, []any, error) {
	var conds []string
	var args []any
	for _, c := range []struct{ column, value string }{
		{"grant_id", f.GrantID}, {"subject", f.Subject}, {"client_id", f.ClientID},
	} {
		if c.value != "" {
			conds = append(conds, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	if len(conds) == 0 {
		return "", nil, fmt.Errorf("sqlstore: %s: empty token filter", op)
	}
	if f.Kind != "" {
		conds = append(conds, "kind = ?")
		args = append(args, f.Kind)
	}
	return strings.Join(conds, " AND "), args, nil
}

// TouchToken moves the token's LastUsedAt forward to at; storage.ErrNotFound if absent.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, adapt(s.dialect, `UPDATE tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`), s.timeArg(at), id, s.timeArg(at))
	if err != nil {
		return wrapErr("touch token", err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return wrapErr("touch token", err)
	}
	var one int
	err = s.writer().QueryRowContext(ctx, adapt(s.dialect, `SELECT 1 FROM tokens WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: touch token %q: %w", id, storage.ErrNotFound)
	}
	return wrapErr("touch token", err)
}

// RevokeTokens revokes, at at, every token that matches f and is not revoked yet, puts the
// ids of the matching access tokens that are unexpired at at (or never expire) on the JWT
// deny list, and returns how many tokens it revoked. It runs in one transaction (the
// caller's, if any). An empty filter is an error.
func (s *Store) RevokeTokens(ctx context.Context, f storage.TokenFilter, at time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *Store) error {
		var err error
		n, err = tx.revokeTokens(ctx, f, at)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// revokeTokens is RevokeTokens on a Store bound to a transaction.
//
// It revokes, then deny-lists, and repeats until a pass revokes nothing. On PostgreSQL (read
// committed) a statement sees the rows committed before it started: the UPDATE waits for a
// concurrent rotation that holds a matching row, the deny list then sees the tokens that
// rotation committed, and the next UPDATE revokes them. SQLite runs one writer at a time, so
// there the second UPDATE finds nothing.
func (s *Store) revokeTokens(ctx context.Context, f storage.TokenFilter, at time.Time) (int, error) {
	const op = "revoke tokens"
	if at.IsZero() {
		return 0, fmt.Errorf("sqlstore: %s: zero time", op)
	}
	cond, args, err := tokenFilter(op, f)
	if err != nil {
		return 0, err
	}
	atArg := s.timeArg(at)
	update := adapt(s.dialect, `UPDATE tokens SET revoked_at = ? WHERE `+cond+` AND revoked_at IS NULL`)
	revoke := func() (int, error) {
		res, err := s.tx.ExecContext(ctx, update, append([]any{atArg}, args...)...)
		if err != nil {
			return 0, wrapErr(op, err)
		}
		n, err := affected(op, res)
		return int(n), err
	}
	// Every matching access token, revoked now or before: a revoked token's JWT must be
	// denied whatever revoked it, and listing a listed jti again is a no-op. ORDER BY makes
	// concurrent revocations insert (and lock) in the same order.
	deny := adapt(s.dialect, `INSERT INTO revoked_jtis (jti, client_id, expires_at, revoked_at)
		SELECT id, client_id, expires_at, ? FROM tokens
		WHERE kind = ? AND (expires_at IS NULL OR expires_at > ?) AND `+cond+`
		ORDER BY id ON CONFLICT (jti) DO NOTHING`)
	total := 0
	for pass := range maxRevokePasses {
		n, err := revoke()
		if err != nil {
			return 0, err
		}
		total += n
		if pass > 0 && n == 0 {
			break
		}
		if _, err := s.tx.ExecContext(ctx, deny, append([]any{atArg, storage.KindAccess, atArg}, args...)...); err != nil {
			return 0, wrapErr(op+": deny list", err)
		}
	}
	return total, nil
}

// maxRevokePasses bounds the passes of revokeTokens over tokens committed while it ran.
const maxRevokePasses = 8

// ListTokens returns the tokens that match f (at least one field set), are not revoked, and
// are unexpired at now (or never expire; a zero now expires nothing), ordered by IssuedAt
// then ID.
func (s *Store) ListTokens(ctx context.Context, f storage.TokenFilter, now time.Time) ([]storage.Token, error) {
	const op = "list tokens"
	cond, args, err := tokenFilter(op, f)
	if err != nil {
		return nil, err
	}
	cond += " AND revoked_at IS NULL"
	if !now.IsZero() {
		cond += " AND (expires_at IS NULL OR expires_at > ?)"
		args = append(args, s.timeArg(now))
	}
	query := adapt(s.dialect, `SELECT `+tokenColumns+` FROM tokens WHERE `+cond+`
		ORDER BY issued_at ASC NULLS FIRST, id `+byteOrder)
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Token
	for rows.Next() {
		t, err := scanToken(rows)
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
