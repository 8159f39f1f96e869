package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// queries holds every fixed statement, written once with '?' placeholders and rebound for the
// dialect when the Store opens. The marker skipLocked is FOR UPDATE SKIP LOCKED on PostgreSQL
// (so janitors on several nodes take different rows) and a comment on SQLite; the marker
// byteOrder is COLLATE "C" on PostgreSQL (byte order, SQLite's default) and a comment on
// SQLite. The few statements built at run time (token filters) go through adapt too.
type queries struct {
	createClient            string
	getClient               string
	listClients             string
	updateClient            string
	clientVersion           string
	queryClients            string
	queryClientsAfter       string
	deleteClient            string
	deleteClientTokens      string
	deleteClientConsents    string
	deleteClientCodes       string
	deleteClientDeviceCodes string

	createScope string
	getScope    string
	listScopes  string
	updateScope string
	deleteScope string

	createToken    string
	getToken       string
	getTokenByHash string
	revokeToken    string
	revokeJTI      string
	isRevoked      string
	useToken       string

	createUser         string
	getUser            string
	getUserByUsername  string
	listUsers          string
	queryUsers         string
	queryUsersAfter    string
	updateUser         string
	deleteUser         string
	deleteUserConsents string
	deleteUserSessions string

	getConsent    string
	putConsent    string
	listConsents  string
	deleteConsent string

	createCode    string
	getCodeByHash string
	consumeCode   string

	createSession    string
	getSessionByHash string
	listSessions     string
	deleteSession    string

	createKey string
	listKeys  string
	updateKey string
	deleteKey string

	appendAudit       string
	deleteAuditBefore string

	deleteExpiredTokens string
	deleteExpiredJTIs   string
	deleteExpiredKeys   string

	deleteExpiredCodes    string
	deleteExpiredSessions string

	createDeviceCode         string
	getDeviceCodeByUserCode  string
	getDeviceCodeByHash      string
	decideDeviceCode         string
	pollDeviceCode           string
	recordDevicePoll         string
	consumeDeviceCode        string
	deleteExpiredDeviceCodes string

	createAdminToken         string
	getAdminTokenByHash      string
	listAdminTokens          string
	deleteAdminToken         string
	touchAdminToken          string
	adminTokenExists         string
	deleteExpiredAdminTokens string
}

// Markers that adapt rewrites for PostgreSQL.
const (
	skipLocked = "/*skip locked*/"
	byteOrder  = "/*byte order*/"
)

const (
	clientColumns = `id, name, secret_hash, public, trusted, grant_types, scopes, redirect_uris,
		post_logout_redirect_uris, token_format, declared, created_at, updated_at, version`
	scopeColumns = `name, description, is_default, created_at`
	tokenColumns = `id, hash, kind, client_id, subject, scopes, audience, grant_id, auth_time,
		issued_at, expires_at, used_at, revoked_at, name, last_used_at`
	keyColumns   = `id, algorithm, state, sealed, public, created_at, not_after`
	auditColumns = `id, time, type, actor, client_id, subject, details`
	userColumns  = `id, username, email, email_verified, name, password_hash, disabled, roles,
		declared, created_at, updated_at`
	consentColumns = `user_id, client_id, scopes, created_at, updated_at`
	codeColumns    = `hash, grant_id, client_id, user_id, redirect_uri, scopes, code_challenge,
		code_challenge_method, nonce, auth_time, session_id, issued_at, expires_at, used_at`
	sessionColumns    = `id, hash, user_id, auth_time, created_at, expires_at, user_agent, ip`
	adminTokenColumns = `id, name, hash, created_by, created_at, expires_at, last_used_at`
	// "interval" is a keyword in PostgreSQL.
	deviceColumns = `hash, user_code_hash, client_id, scopes, status, user_id, auth_time,
		"interval", last_polled_at, issued_at, expires_at, used_at`
	// prevDeviceColumns are deviceColumns of the CTE prev in pollDeviceCode.
	prevDeviceColumns = `prev.hash, prev.user_code_hash, prev.client_id, prev.scopes,
		prev.status, prev.user_id, prev.auth_time, prev."interval", prev.last_polled_at,
		prev.issued_at, prev.expires_at, prev.used_at`
)

// Search conditions of QueryClients and QueryUsers. The first argument is the search text
// (the condition is true when it is empty), each other one the LIKE pattern made of it by
// likePattern: lower-cased ASCII, with '%', '_' and the escape character '!' escaped. ('!'
// rather than a backslash: its literal means the same whatever PostgreSQL's
// standard_conforming_strings says.) lower() of a
// column in the "C" collation (PostgreSQL) or of any column (SQLite, without ICU) folds ASCII
// letters only, like the memory store.
const (
	clientSearch = `(? = '' OR lower(id ` + byteOrder + `) LIKE ? ESCAPE '!'
		OR lower(name ` + byteOrder + `) LIKE ? ESCAPE '!')`
	userSearch = `(? = '' OR lower(username ` + byteOrder + `) LIKE ? ESCAPE '!'
		OR lower(email ` + byteOrder + `) LIKE ? ESCAPE '!'
		OR lower(name ` + byteOrder + `) LIKE ? ESCAPE '!')`
)

func newQueries(dialect string) *queries {
	q := &queries{
		// A new client is at version 1, whatever the caller passed.
		createClient: `INSERT INTO clients (` + clientColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		getClient:   `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`,
		listClients: `SELECT ` + clientColumns + ` FROM clients ORDER BY id`,
		// The version check and the increment are one statement: of concurrent updates that
		// read the same version (on any connection or node) exactly one matches the row. The
		// last two arguments are the expected version, twice; 0 skips the check.
		updateClient: `UPDATE clients SET name = ?, secret_hash = ?, public = ?, trusted = ?,
			grant_types = ?, scopes = ?, redirect_uris = ?, post_logout_redirect_uris = ?,
			token_format = ?, declared = ?, updated_at = ?, version = version + 1
			WHERE id = ? AND (CAST(? AS BIGINT) = 0 OR version = ?)`,
		clientVersion: `SELECT version FROM clients WHERE id = ?`,
		// Keyset pages: the primary key index gives the order and the start.
		queryClients: `SELECT ` + clientColumns + ` FROM clients WHERE ` + clientSearch + `
			ORDER BY id ` + byteOrder + ` LIMIT ?`,
		queryClientsAfter: `SELECT ` + clientColumns + ` FROM clients
			WHERE id ` + byteOrder + ` > ? AND ` + clientSearch + `
			ORDER BY id ` + byteOrder + ` LIMIT ?`,
		deleteClient:            `DELETE FROM clients WHERE id = ?`,
		deleteClientTokens:      `DELETE FROM tokens WHERE client_id = ?`,
		deleteClientConsents:    `DELETE FROM consents WHERE client_id = ?`,
		deleteClientCodes:       `DELETE FROM auth_codes WHERE client_id = ?`,
		deleteClientDeviceCodes: `DELETE FROM device_codes WHERE client_id = ?`,

		createScope: `INSERT INTO scopes (` + scopeColumns + `) VALUES (?, ?, ?, ?)`,
		getScope:    `SELECT ` + scopeColumns + ` FROM scopes WHERE name = ?`,
		listScopes:  `SELECT ` + scopeColumns + ` FROM scopes ORDER BY name`,
		updateScope: `UPDATE scopes SET description = ?, is_default = ? WHERE name = ?`,
		deleteScope: `DELETE FROM scopes WHERE name = ?`,

		createToken: `INSERT INTO tokens (` + tokenColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		getToken:       `SELECT ` + tokenColumns + ` FROM tokens WHERE id = ?`,
		getTokenByHash: `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ?`,
		// COALESCE keeps the first revocation time; the row still counts as matched.
		revokeToken: `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		revokeJTI: `INSERT INTO revoked_jtis (jti, client_id, expires_at, revoked_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		isRevoked: `SELECT 1 FROM revoked_jtis WHERE jti = ?`,
		// One conditional statement: of concurrent callers (on any connection or node)
		// exactly one matches the row; the others match nothing and look the token up.
		useToken: `UPDATE tokens SET used_at = ?
			WHERE hash = ? AND used_at IS NULL AND revoked_at IS NULL
			RETURNING ` + tokenColumns,

		createUser: `INSERT INTO users (` + userColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		getUser:           `SELECT ` + userColumns + ` FROM users WHERE id = ?`,
		getUserByUsername: `SELECT ` + userColumns + ` FROM users WHERE username = ?`,
		listUsers:         `SELECT ` + userColumns + ` FROM users ORDER BY username ` + byteOrder,
		queryUsers: `SELECT ` + userColumns + ` FROM users WHERE ` + userSearch + `
			ORDER BY username ` + byteOrder + ` LIMIT ?`,
		queryUsersAfter: `SELECT ` + userColumns + ` FROM users
			WHERE username ` + byteOrder + ` > ? AND ` + userSearch + `
			ORDER BY username ` + byteOrder + ` LIMIT ?`,
		updateUser: `UPDATE users SET username = ?, email = ?, email_verified = ?, name = ?,
			password_hash = ?, disabled = ?, roles = ?, declared = ?, updated_at = ?
			WHERE id = ?`,
		deleteUser:         `DELETE FROM users WHERE id = ?`,
		deleteUserConsents: `DELETE FROM consents WHERE user_id = ?`,
		deleteUserSessions: `DELETE FROM sessions WHERE user_id = ?`,

		getConsent: `SELECT ` + consentColumns + ` FROM consents WHERE user_id = ? AND client_id = ?`,
		putConsent: `INSERT INTO consents (` + consentColumns + `) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id, client_id)
			DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		listConsents: `SELECT ` + consentColumns + ` FROM consents WHERE user_id = ?
			ORDER BY client_id ` + byteOrder,
		deleteConsent: `DELETE FROM consents WHERE user_id = ? AND client_id = ?`,

		createCode: `INSERT INTO auth_codes (` + codeColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		getCodeByHash: `SELECT ` + codeColumns + ` FROM auth_codes WHERE hash = ?`,
		// As useToken: exactly one of concurrent callers matches.
		consumeCode: `UPDATE auth_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL
			RETURNING ` + codeColumns,

		createSession: `INSERT INTO sessions (` + sessionColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		getSessionByHash: `SELECT ` + sessionColumns + ` FROM sessions WHERE hash = ?`,
		listSessions: `SELECT ` + sessionColumns + ` FROM sessions WHERE user_id = ?
			ORDER BY created_at ASC NULLS FIRST, id ` + byteOrder,
		deleteSession: `DELETE FROM sessions WHERE id = ?`,

		createKey: `INSERT INTO signing_keys (` + keyColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		listKeys: `SELECT ` + keyColumns + ` FROM signing_keys
			ORDER BY created_at ASC NULLS FIRST, id ASC`,
		updateKey: `UPDATE signing_keys SET state = ?, not_after = ? WHERE id = ?`,
		deleteKey: `DELETE FROM signing_keys WHERE id = ?`,

		appendAudit: `INSERT INTO audit_events (time, type, actor, client_id, subject, details)
			VALUES (?, ?, ?, ?, ?, ?)`,
		deleteAuditBefore: `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE time < ? ORDER BY time LIMIT ? ` + skipLocked + `)`,

		deleteExpiredTokens: `DELETE FROM tokens WHERE id IN (
			SELECT id FROM tokens WHERE expires_at < ? LIMIT ? ` + skipLocked + `)`,
		deleteExpiredJTIs: `DELETE FROM revoked_jtis WHERE jti IN (
			SELECT jti FROM revoked_jtis WHERE expires_at < ? LIMIT ? ` + skipLocked + `)`,
		deleteExpiredKeys: `DELETE FROM signing_keys WHERE id IN (
			SELECT id FROM signing_keys WHERE state = 'previous' AND not_after < ? LIMIT ? ` +
			skipLocked + `)`,
		deleteExpiredCodes: `DELETE FROM auth_codes WHERE hash IN (
			SELECT hash FROM auth_codes WHERE expires_at < ? LIMIT ? ` + skipLocked + `)`,
		deleteExpiredSessions: `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < ? LIMIT ? ` + skipLocked + `)`,

		createDeviceCode: `INSERT INTO device_codes (` + deviceColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		getDeviceCodeByUserCode: `SELECT ` + deviceColumns + ` FROM device_codes WHERE user_code_hash = ?`,
		getDeviceCodeByHash:     `SELECT ` + deviceColumns + ` FROM device_codes WHERE hash = ?`,
		// Only a pending request can be decided: of concurrent decisions exactly one matches.
		decideDeviceCode: `UPDATE device_codes SET status = ?, user_id = ?, auth_time = ?
			WHERE user_code_hash = ? AND status = 'pending'`,
		// PostgreSQL only: one statement records the poll and returns the row as it was.
		// FOR UPDATE makes a concurrent poll wait for this one and then read the row it left
		// (READ COMMITTED follows the update), so no two polls see the same previous poll.
		// The arguments are the hash and now, twice.
		pollDeviceCode: `WITH prev AS (
				SELECT ` + deviceColumns + ` FROM device_codes WHERE hash = ? FOR UPDATE)
			UPDATE device_codes AS d SET last_polled_at = ?,
				"interval" = CASE
					WHEN prev.last_polled_at IS NOT NULL
						AND ? < prev.last_polled_at + prev."interval" * INTERVAL '1 second'
					THEN prev."interval" + 5
					ELSE prev."interval" END
			FROM prev WHERE d.hash = prev.hash
			RETURNING ` + prevDeviceColumns,
		// SQLite: PollDeviceCode reads the row and writes it back with this, in a
		// transaction on the one writer connection (BEGIN IMMEDIATE), which serialises polls.
		recordDevicePoll: `UPDATE device_codes SET last_polled_at = ?, "interval" = ? WHERE hash = ?`,
		// As consumeCode: exactly one of concurrent callers matches an approved, unused row.
		consumeDeviceCode: `UPDATE device_codes SET used_at = ?
			WHERE hash = ? AND status = 'approved' AND used_at IS NULL
			RETURNING ` + deviceColumns,
		deleteExpiredDeviceCodes: `DELETE FROM device_codes WHERE hash IN (
			SELECT hash FROM device_codes WHERE expires_at < ? LIMIT ? ` + skipLocked + `)`,

		createAdminToken: `INSERT INTO admin_tokens (` + adminTokenColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
		getAdminTokenByHash: `SELECT ` + adminTokenColumns + ` FROM admin_tokens WHERE hash = ?`,
		listAdminTokens: `SELECT ` + adminTokenColumns + ` FROM admin_tokens
			ORDER BY created_at ASC NULLS FIRST, id ` + byteOrder,
		deleteAdminToken: `DELETE FROM admin_tokens WHERE id = ?`,
		// Arguments: at, id, at. Only moves forward.
		touchAdminToken: `UPDATE admin_tokens SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		adminTokenExists: `SELECT 1 FROM admin_tokens WHERE id = ?`,
		// A NULL expires_at (never expires) matches nothing.
		deleteExpiredAdminTokens: `DELETE FROM admin_tokens WHERE id IN (
			SELECT id FROM admin_tokens WHERE expires_at < ? LIMIT ? ` + skipLocked + `)`,
	}
	for _, p := range q.all() {
		*p = adapt(dialect, *p)
	}
	return q
}

// all lists every query; a test checks that it misses none.
func (q *queries) all() []*string {
	return []*string{
		&q.createClient, &q.getClient, &q.listClients, &q.updateClient, &q.clientVersion,
		&q.queryClients, &q.queryClientsAfter, &q.deleteClient, &q.deleteClientTokens,
		&q.deleteClientConsents, &q.deleteClientCodes, &q.deleteClientDeviceCodes,
		&q.createScope, &q.getScope, &q.listScopes, &q.updateScope, &q.deleteScope,
		&q.createToken, &q.getToken, &q.getTokenByHash, &q.revokeToken, &q.revokeJTI, &q.isRevoked,
		&q.useToken,
		&q.createUser, &q.getUser, &q.getUserByUsername, &q.listUsers, &q.queryUsers,
		&q.queryUsersAfter, &q.updateUser,
		&q.deleteUser, &q.deleteUserConsents, &q.deleteUserSessions,
		&q.getConsent, &q.putConsent, &q.listConsents, &q.deleteConsent,
		&q.createCode, &q.getCodeByHash, &q.consumeCode,
		&q.createSession, &q.getSessionByHash, &q.listSessions, &q.deleteSession,
		&q.createKey, &q.listKeys, &q.updateKey, &q.deleteKey,
		&q.appendAudit, &q.deleteAuditBefore,
		&q.deleteExpiredTokens, &q.deleteExpiredJTIs, &q.deleteExpiredKeys,
		&q.deleteExpiredCodes, &q.deleteExpiredSessions,
		&q.createDeviceCode, &q.getDeviceCodeByUserCode, &q.getDeviceCodeByHash,
		&q.decideDeviceCode, &q.pollDeviceCode, &q.recordDevicePoll, &q.consumeDeviceCode,
		&q.deleteExpiredDeviceCodes,
		&q.createAdminToken, &q.getAdminTokenByHash, &q.listAdminTokens, &q.deleteAdminToken,
		&q.touchAdminToken, &q.adminTokenExists, &q.deleteExpiredAdminTokens,
	}
}

// adapt rewrites a query written for SQLite for dialect: '?' placeholders become $1, $2, …,
// the skipLocked marker becomes a row lock and the byteOrder marker a collation on
// PostgreSQL. The queries hold no '?' in literals.
func adapt(dialect, query string) string {
	if dialect != DialectPostgres {
		return query
	}
	query = strings.ReplaceAll(query, skipLocked, "FOR UPDATE SKIP LOCKED")
	query = strings.ReplaceAll(query, byteOrder, `COLLATE "C"`)
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lazyStmt is a statement prepared on first use and kept until the Store closes. Preparing
// lazily lets a Store open before its schema exists (Options.SkipMigrations).
type lazyStmt struct {
	db    *sql.DB
	query string
	mu    sync.Mutex
	stmt  atomic.Pointer[sql.Stmt]
}

func (l *lazyStmt) get(ctx context.Context) (*sql.Stmt, error) {
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := l.db.PrepareContext(ctx, l.query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	l.stmt.Store(st)
	return st, nil
}

func (l *lazyStmt) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.stmt.Swap(nil); st != nil {
		return st.Close()
	}
	return nil
}

// stmts are the prepared statements of the hot paths. The *R ones run on the read pool
// outside transactions, the *W ones (their copies) inside transactions on the writer; on
// PostgreSQL both are the same statement.
type stmts struct {
	getClientR, getClientW               *lazyStmt
	getTokenByHashR, getTokenByHashW     *lazyStmt
	isRevokedR, isRevokedW               *lazyStmt
	getUserR, getUserW                   *lazyStmt
	getSessionByHashR, getSessionByHashW *lazyStmt
	// Writes, on the writer only.
	createToken *lazyStmt
	useToken    *lazyStmt
	createCode  *lazyStmt
	consumeCode *lazyStmt
}

func newStmts(c *core) stmts {
	pair := func(query string) (r, w *lazyStmt) {
		w = &lazyStmt{db: c.w, query: query}
		if c.r == c.w {
			return w, w
		}
		return &lazyStmt{db: c.r, query: query}, w
	}
	var s stmts
	s.getClientR, s.getClientW = pair(c.q.getClient)
	s.getTokenByHashR, s.getTokenByHashW = pair(c.q.getTokenByHash)
	s.isRevokedR, s.isRevokedW = pair(c.q.isRevoked)
	s.getUserR, s.getUserW = pair(c.q.getUser)
	s.getSessionByHashR, s.getSessionByHashW = pair(c.q.getSessionByHash)
	s.createToken = &lazyStmt{db: c.w, query: c.q.createToken}
	s.useToken = &lazyStmt{db: c.w, query: c.q.useToken}
	s.createCode = &lazyStmt{db: c.w, query: c.q.createCode}
	s.consumeCode = &lazyStmt{db: c.w, query: c.q.consumeCode}
	return s
}

func (s stmts) all() []*lazyStmt {
	return []*lazyStmt{s.getClientR, s.getClientW, s.getTokenByHashR, s.getTokenByHashW,
		s.isRevokedR, s.isRevokedW, s.getUserR, s.getUserW,
		s.getSessionByHashR, s.getSessionByHashW,
		s.createToken, s.useToken, s.createCode, s.consumeCode}
}

// prepare prepares every statement now.
func (s stmts) prepare(ctx context.Context) error {
	for _, l := range s.all() {
		if _, err := l.get(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s stmts) close() error {
	var errs []error
	for _, l := range s.all() {
		errs = append(errs, l.close()) // closing twice (shared statements) is a no-op
	}
	return errors.Join(errs...)
}
