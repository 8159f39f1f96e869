// Package memory is a storage.Store kept in maps, for unit tests and for embedders that need
// no persistence. It passes the whole conformance suite (storage/storagetest).
//
// One lock guards everything: each call holds it for its duration, and a transaction holds it
// from InTx until fn returns, so transactions are serialised and other callers wait for them.
// The lock is a one-slot channel rather than a sync.Mutex so that a caller waiting for it gives
// up when its context is cancelled. Inside fn, use the tx Store InTx passes: calling the outer
// Store there waits for the transaction, that is for ever (or until the call's context ends).
//
// A transaction writes in place and keeps an undo log; if fn returns an error or panics, the
// log is replayed backwards and the store is as it was. Stored records are never changed in
// place (a write replaces the whole record), so the log only holds the records replaced.
//
// Records are copied on the way in and out: callers never share slices or maps with the
// store. Times are stored in UTC, truncated to the microsecond like the SQL backends do, so
// code tested against this store sees the precision it gets in production.
//
// The store reads its clock (WithClock; time.Now by default) only in DeleteUser, the one
// method that writes a time it is not given (the RevokedAt of the user's tokens).
package memory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// defaultAuditLimit is how many events ListAudit returns when the filter sets no limit.
const defaultAuditLimit = 100

var (
	errClosed = errors.New("memory: store is closed")
	errTxDone = errors.New("memory: transaction has already ended")
)

// Store is a storage.Store in memory. The zero value is not usable; call New.
type Store struct {
	db *db
	// tx is the transaction this Store is bound to; nil for the Store New returns.
	tx *txState
}

var (
	_ storage.Store       = (*Store)(nil)
	_ storage.DeviceCodes = (*Store)(nil)
	_ storage.TokenUsage  = (*Store)(nil)
	_ storage.AdminTokens = (*Store)(nil)
)

// db is the data, shared by a Store and the Stores bound to its transactions.
type db struct {
	lock   chan struct{} // one slot: held by one call or one transaction at a time
	closed atomic.Bool

	clients     map[string]storage.Client
	scopes      map[string]storage.Scope
	tokens      map[string]storage.Token // by ID
	tokenHashes map[string]string        // string(Hash) -> ID
	revocations map[string]storage.Revocation
	keys        map[string]storage.SigningKey
	audit       map[int64]storage.AuditEvent
	lastAuditID int64 // not rolled back, like a database sequence

	users         map[string]storage.User // by ID
	usernames     map[string]string       // Username -> ID
	consents      map[consentKey]storage.Consent
	codes         map[string]storage.AuthCode   // by string(Hash)
	sessions      map[string]storage.Session    // by ID
	sessionHashes map[string]string             // string(Hash) -> ID
	deviceCodes   map[string]storage.DeviceCode // by string(Hash)
	userCodes     map[string]string             // string(UserCodeHash) -> string(Hash)
	adminTokens   map[string]storage.AdminToken // by ID
	adminHashes   map[string]string             // string(Hash) -> ID

	now func() time.Time
}

// consentKey is the key of a consent: one per user and client.
type consentKey struct{ userID, clientID string }

// txState is a running transaction. Its mutex serialises calls made on the tx Store from
// several goroutines of fn.
type txState struct {
	mu   sync.Mutex
	undo undoLog
	done bool
}

// Option configures a Store.
type Option func(*db)

// WithClock sets the clock DeleteUser reads to revoke the user's tokens (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(d *db) {
		if now != nil {
			d.now = now
		}
	}
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	d := &db{
		lock:          make(chan struct{}, 1),
		clients:       map[string]storage.Client{},
		scopes:        map[string]storage.Scope{},
		tokens:        map[string]storage.Token{},
		tokenHashes:   map[string]string{},
		revocations:   map[string]storage.Revocation{},
		keys:          map[string]storage.SigningKey{},
		audit:         map[int64]storage.AuditEvent{},
		users:         map[string]storage.User{},
		usernames:     map[string]string{},
		consents:      map[consentKey]storage.Consent{},
		codes:         map[string]storage.AuthCode{},
		sessions:      map[string]storage.Session{},
		sessionHashes: map[string]string{},
		deviceCodes:   map[string]storage.DeviceCode{},
		userCodes:     map[string]string{},
		adminTokens:   map[string]storage.AdminToken{},
		adminHashes:   map[string]string{},
		now:           time.Now,
	}
	for _, opt := range opts {
		opt(d)
	}
	return &Store{db: d}
}

// undoLog records how to reverse a transaction's writes; a nil *undoLog records nothing
// (writes outside a transaction).
type undoLog struct{ steps []func() }

func (u *undoLog) add(step func()) {
	if u != nil {
		u.steps = append(u.steps, step)
	}
}

func (u *undoLog) rollback() {
	for i := len(u.steps) - 1; i >= 0; i-- {
		u.steps[i]()
	}
	u.steps = nil
}

// put sets m[k] = v, logging how to undo it.
func put[K comparable, V any](u *undoLog, m map[K]V, k K, v V) {
	if old, ok := m[k]; ok {
		u.add(func() { m[k] = old })
	} else {
		u.add(func() { delete(m, k) })
	}
	m[k] = v
}

// del deletes m[k], logging how to undo it.
func del[K comparable, V any](u *undoLog, m map[K]V, k K) {
	if old, ok := m[k]; ok {
		u.add(func() { m[k] = old })
		delete(m, k)
	}
}

// do runs fn with the data: in the transaction s is bound to, or else holding the lock.
func (s *Store) do(ctx context.Context, op string, fn func(d *db, u *undoLog) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	if s.db.closed.Load() {
		return fmt.Errorf("memory: %s: %w", op, errClosed)
	}
	if tx := s.tx; tx != nil {
		tx.mu.Lock()
		defer tx.mu.Unlock()
		if tx.done {
			return fmt.Errorf("memory: %s: %w", op, errTxDone)
		}
		return fn(s.db, &tx.undo)
	}
	if err := s.db.acquire(ctx); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	defer s.db.release()
	return fn(s.db, nil)
}

// acquire takes the lock, or gives up when ctx ends.
func (d *db) acquire(ctx context.Context) error {
	select {
	case d.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *db) release() { <-d.lock }

// InTx runs fn in a transaction: fn's writes through tx are undone if fn returns an error or
// panics (the panic then goes on), or if ctx is cancelled before fn returns. Other callers
// wait until InTx returns. On a tx Store, InTx runs fn in the same transaction.
func (s *Store) InTx(ctx context.Context, fn func(tx storage.Store) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: begin transaction: %w", err)
	}
	if s.db.closed.Load() {
		return fmt.Errorf("memory: begin transaction: %w", errClosed)
	}
	if s.tx != nil {
		if s.txDone() {
			return fmt.Errorf("memory: begin transaction: %w", errTxDone)
		}
		return fn(s)
	}
	if err := s.db.acquire(ctx); err != nil {
		return fmt.Errorf("memory: begin transaction: %w", err)
	}
	defer s.db.release()

	tx := &txState{}
	committed := false
	// Runs on return and on panic, before the lock is released.
	defer func() {
		tx.mu.Lock()
		defer tx.mu.Unlock()
		if !committed {
			tx.undo.rollback()
		}
		tx.undo.steps = nil
		tx.done = true
	}()
	if err := fn(&Store{db: s.db, tx: tx}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: commit transaction: %w", err)
	}
	committed = true
	return nil
}

func (s *Store) txDone() bool {
	s.tx.mu.Lock()
	defer s.tx.mu.Unlock()
	return s.tx.done
}

// Ping reports an error if the store is closed or ctx is done.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, "ping", func(*db, *undoLog) error { return nil })
}

// Close makes every later call fail. On a tx Store it does nothing.
func (s *Store) Close() error {
	if s.tx == nil {
		s.db.closed.Store(true)
	}
	return nil
}

// utc returns t in UTC, truncated to the microsecond; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Clients

func copyClient(c storage.Client) storage.Client {
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.CreatedAt = utc(c.CreatedAt)
	c.UpdatedAt = utc(c.UpdatedAt)
	return c
}

// CreateClient stores c; storage.ErrConflict if the id is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	return s.do(ctx, "create client", func(d *db, u *undoLog) error {
		if _, ok := d.clients[c.ID]; ok {
			return fmt.Errorf("memory: create client %q: %w", c.ID, storage.ErrConflict)
		}
		c.Version = 1
		put(u, d.clients, c.ID, copyClient(c))
		return nil
	})
}

// GetClient returns the client with id; storage.ErrNotFound if absent.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	var out storage.Client
	err := s.do(ctx, "get client", func(d *db, _ *undoLog) error {
		c, ok := d.clients[id]
		if !ok {
			return fmt.Errorf("memory: get client %q: %w", id, storage.ErrNotFound)
		}
		out = copyClient(c)
		return nil
	})
	return out, err
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	var out []storage.Client
	err := s.do(ctx, "list clients", func(d *db, _ *undoLog) error {
		for _, id := range slices.Sorted(maps.Keys(d.clients)) {
			out = append(out, copyClient(d.clients[id]))
		}
		return nil
	})
	return out, err
}

// QueryClients returns one page of the clients matching q, ordered by id.
func (s *Store) QueryClients(ctx context.Context, q storage.ClientQuery) ([]storage.Client, error) {
	limit := pageLimit(q.Limit)
	search := lowerASCII(q.Search)
	var out []storage.Client
	err := s.do(ctx, "query clients", func(d *db, _ *undoLog) error {
		for _, id := range slices.Sorted(maps.Keys(d.clients)) {
			if len(out) == limit {
				break
			}
			c := d.clients[id]
			if q.After != "" && id <= q.After {
				continue
			}
			if search != "" && !containsFold(c.ID, search) && !containsFold(c.Name, search) {
				continue
			}
			out = append(out, copyClient(c))
		}
		return nil
	})
	return out, err
}

// UpdateClient replaces every field of the client but ID, CreatedAt and Version, and adds one
// to Version; storage.ErrNotFound if absent, storage.ErrConflict if c.Version is not zero and
// not the stored version.
func (s *Store) UpdateClient(ctx context.Context, c storage.Client) error {
	return s.do(ctx, "update client", func(d *db, u *undoLog) error {
		old, ok := d.clients[c.ID]
		if !ok {
			return fmt.Errorf("memory: update client %q: %w", c.ID, storage.ErrNotFound)
		}
		if c.Version != 0 && c.Version != old.Version {
			return fmt.Errorf("memory: update client %q: version %d, stored %d: %w",
				c.ID, c.Version, old.Version, storage.ErrConflict)
		}
		c.CreatedAt = old.CreatedAt
		c.Version = old.Version + 1
		put(u, d.clients, c.ID, copyClient(c))
		return nil
	})
}

// DeleteClient deletes the client and its tokens; storage.ErrNotFound if absent.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.do(ctx, "delete client", func(d *db, u *undoLog) error {
		if _, ok := d.clients[id]; !ok {
			return fmt.Errorf("memory: delete client %q: %w", id, storage.ErrNotFound)
		}
		del(u, d.clients, id)
		for tid, t := range d.tokens {
			if t.ClientID == id {
				d.deleteToken(u, tid)
			}
		}
		// A client re-created later with the same id must not inherit consents or pending
		// codes.
		for k := range d.consents {
			if k.clientID == id {
				del(u, d.consents, k)
			}
		}
		for h, c := range d.codes {
			if c.ClientID == id {
				del(u, d.codes, h)
			}
		}
		for h, dc := range d.deviceCodes {
			if dc.ClientID == id {
				d.deleteDeviceCode(u, h)
			}
		}
		return nil
	})
}

// Scopes

func copyScope(sc storage.Scope) storage.Scope {
	sc.CreatedAt = utc(sc.CreatedAt)
	return sc
}

// CreateScope stores sc; storage.ErrConflict if the name is taken.
func (s *Store) CreateScope(ctx context.Context, sc storage.Scope) error {
	return s.do(ctx, "create scope", func(d *db, u *undoLog) error {
		if _, ok := d.scopes[sc.Name]; ok {
			return fmt.Errorf("memory: create scope %q: %w", sc.Name, storage.ErrConflict)
		}
		put(u, d.scopes, sc.Name, copyScope(sc))
		return nil
	})
}

// GetScope returns the scope called name; storage.ErrNotFound if absent.
func (s *Store) GetScope(ctx context.Context, name string) (storage.Scope, error) {
	var out storage.Scope
	err := s.do(ctx, "get scope", func(d *db, _ *undoLog) error {
		sc, ok := d.scopes[name]
		if !ok {
			return fmt.Errorf("memory: get scope %q: %w", name, storage.ErrNotFound)
		}
		out = sc
		return nil
	})
	return out, err
}

// ListScopes returns all scopes ordered by name.
func (s *Store) ListScopes(ctx context.Context) ([]storage.Scope, error) {
	var out []storage.Scope
	err := s.do(ctx, "list scopes", func(d *db, _ *undoLog) error {
		for _, name := range slices.Sorted(maps.Keys(d.scopes)) {
			out = append(out, d.scopes[name])
		}
		return nil
	})
	return out, err
}

// UpdateScope replaces Description and Default; storage.ErrNotFound if absent.
func (s *Store) UpdateScope(ctx context.Context, sc storage.Scope) error {
	return s.do(ctx, "update scope", func(d *db, u *undoLog) error {
		old, ok := d.scopes[sc.Name]
		if !ok {
			return fmt.Errorf("memory: update scope %q: %w", sc.Name, storage.ErrNotFound)
		}
		old.Description, old.Default = sc.Description, sc.Default
		put(u, d.scopes, sc.Name, old)
		return nil
	})
}

// DeleteScope deletes the scope called name; storage.ErrNotFound if absent.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	return s.do(ctx, "delete scope", func(d *db, u *undoLog) error {
		if _, ok := d.scopes[name]; !ok {
			return fmt.Errorf("memory: delete scope %q: %w", name, storage.ErrNotFound)
		}
		del(u, d.scopes, name)
		return nil
	})
}

// Tokens

func copyToken(t storage.Token) storage.Token {
	t.Hash = bytes.Clone(t.Hash)
	t.Scopes = slices.Clone(t.Scopes)
	t.Audience = slices.Clone(t.Audience)
	t.AuthTime = utc(t.AuthTime)
	t.IssuedAt = utc(t.IssuedAt)
	t.ExpiresAt = utc(t.ExpiresAt)
	t.UsedAt = utc(t.UsedAt)
	t.RevokedAt = utc(t.RevokedAt)
	t.LastUsedAt = utc(t.LastUsedAt)
	return t
}

func (d *db) deleteToken(u *undoLog, id string) {
	if t, ok := d.tokens[id]; ok {
		del(u, d.tokenHashes, string(t.Hash))
		del(u, d.tokens, id)
	}
}

// CreateToken stores t; storage.ErrConflict if its id or hash exists.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	return s.do(ctx, "create token", func(d *db, u *undoLog) error {
		if _, ok := d.tokens[t.ID]; ok {
			return fmt.Errorf("memory: create token %q: id exists: %w", t.ID, storage.ErrConflict)
		}
		if _, ok := d.tokenHashes[string(t.Hash)]; ok {
			return fmt.Errorf("memory: create token %q: hash exists: %w", t.ID, storage.ErrConflict)
		}
		put(u, d.tokens, t.ID, copyToken(t))
		put(u, d.tokenHashes, string(t.Hash), t.ID)
		return nil
	})
}

// GetToken returns the token with id, whatever its state; storage.ErrNotFound if absent.
func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	var out storage.Token
	err := s.do(ctx, "get token", func(d *db, _ *undoLog) error {
		t, ok := d.tokens[id]
		if !ok {
			return fmt.Errorf("memory: get token %q: %w", id, storage.ErrNotFound)
		}
		out = copyToken(t)
		return nil
	})
	return out, err
}

// GetTokenByHash returns the token whose hash is hash, whatever its state;
// storage.ErrNotFound if absent.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (storage.Token, error) {
	var out storage.Token
	err := s.do(ctx, "get token", func(d *db, _ *undoLog) error {
		id, ok := d.tokenHashes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: get token by hash: %w", storage.ErrNotFound)
		}
		out = copyToken(d.tokens[id])
		return nil
	})
	return out, err
}

// RevokeToken sets the token's RevokedAt unless it is set already; storage.ErrNotFound if
// absent.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "revoke token", func(d *db, u *undoLog) error {
		t, ok := d.tokens[id]
		if !ok {
			return fmt.Errorf("memory: revoke token %q: %w", id, storage.ErrNotFound)
		}
		if t.RevokedAt.IsZero() {
			t.RevokedAt = utc(at)
			put(u, d.tokens, id, t)
		}
		return nil
	})
}

// RevokeJTI puts r on the deny list; if its jti is there already, the entry stays as it is.
func (s *Store) RevokeJTI(ctx context.Context, r storage.Revocation) error {
	return s.do(ctx, "revoke jti", func(d *db, u *undoLog) error {
		if _, ok := d.revocations[r.JTI]; !ok {
			r.ExpiresAt, r.RevokedAt = utc(r.ExpiresAt), utc(r.RevokedAt)
			put(u, d.revocations, r.JTI, r)
		}
		return nil
	})
}

// IsRevoked reports whether jti is on the deny list.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	var out bool
	err := s.do(ctx, "is revoked", func(d *db, _ *undoLog) error {
		_, out = d.revocations[jti]
		return nil
	})
	return out, err
}

// errEmptyFilter is returned by RevokeTokens and ListTokens for a filter with none of
// GrantID, Subject and ClientID set.
var errEmptyFilter = errors.New("empty token filter")

func emptyFilter(f storage.TokenFilter) bool {
	return f.GrantID == "" && f.Subject == "" && f.ClientID == ""
}

// matches reports whether every set field of f equals t's.
func matches(f storage.TokenFilter, t storage.Token) bool {
	return (f.GrantID == "" || f.GrantID == t.GrantID) &&
		(f.Subject == "" || f.Subject == t.Subject) &&
		(f.ClientID == "" || f.ClientID == t.ClientID) &&
		(f.Kind == "" || f.Kind == t.Kind)
}

// TouchToken moves the token's LastUsedAt forward to at; storage.ErrNotFound if absent.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "touch token", func(d *db, u *undoLog) error {
		t, ok := d.tokens[id]
		if !ok {
			return fmt.Errorf("memory: touch token %q: %w", id, storage.ErrNotFound)
		}
		if at = utc(at); at.After(t.LastUsedAt) {
			t.LastUsedAt = at
			put(u, d.tokens, id, t)
		}
		return nil
	})
}

// UseToken marks the token whose hash is hash used at now and returns it. If the token was
// used or revoked before, it returns the token unchanged with storage.ErrAlreadyUsed;
// storage.ErrNotFound if absent.
func (s *Store) UseToken(ctx context.Context, hash []byte, now time.Time) (storage.Token, error) {
	var out storage.Token
	err := s.do(ctx, "use token", func(d *db, u *undoLog) error {
		id, ok := d.tokenHashes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: use token: %w", storage.ErrNotFound)
		}
		t := d.tokens[id]
		if !t.UsedAt.IsZero() || !t.RevokedAt.IsZero() {
			out = copyToken(t)
			return fmt.Errorf("memory: use token %q: %w", id, storage.ErrAlreadyUsed)
		}
		t.UsedAt = utc(now)
		put(u, d.tokens, id, t)
		out = copyToken(t)
		return nil
	})
	return out, err
}

// RevokeTokens revokes at at every token that matches f and is not revoked yet, deny-lists
// those of them that are access tokens unexpired at at, and returns how many it revoked.
func (s *Store) RevokeTokens(ctx context.Context, f storage.TokenFilter, at time.Time) (int, error) {
	if emptyFilter(f) {
		return 0, fmt.Errorf("memory: revoke tokens: %w", errEmptyFilter)
	}
	n := 0
	err := s.do(ctx, "revoke tokens", func(d *db, u *undoLog) error {
		n = d.revokeTokens(u, f, utc(at))
		return nil
	})
	return n, err
}

// revokeTokens is RevokeTokens with the data; at is in UTC.
func (d *db) revokeTokens(u *undoLog, f storage.TokenFilter, at time.Time) int {
	n := 0
	for id, t := range d.tokens {
		if !matches(f, t) || !t.RevokedAt.IsZero() {
			continue
		}
		t.RevokedAt = at
		put(u, d.tokens, id, t)
		n++
		if t.Kind == storage.KindAccess && t.ExpiresAt.After(at) {
			if _, ok := d.revocations[id]; !ok {
				put(u, d.revocations, id, storage.Revocation{JTI: id, ClientID: t.ClientID, ExpiresAt: t.ExpiresAt, RevokedAt: at})
			}
		}
	}
	return n
}

// ListTokens returns the unrevoked tokens that match f and expire after now, ordered by
// IssuedAt, then ID.
func (s *Store) ListTokens(ctx context.Context, f storage.TokenFilter, now time.Time) ([]storage.Token, error) {
	if emptyFilter(f) {
		return nil, fmt.Errorf("memory: list tokens: %w", errEmptyFilter)
	}
	var out []storage.Token
	err := s.do(ctx, "list tokens", func(d *db, _ *undoLog) error {
		for _, t := range d.tokens {
			if matches(f, t) && t.RevokedAt.IsZero() && t.ExpiresAt.After(now) {
				out = append(out, copyToken(t))
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b storage.Token) int {
		return cmp.Or(a.IssuedAt.Compare(b.IssuedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// Users

func copyUser(usr storage.User) storage.User {
	usr.Roles = slices.Clone(usr.Roles)
	usr.CreatedAt = utc(usr.CreatedAt)
	usr.UpdatedAt = utc(usr.UpdatedAt)
	return usr
}

// CreateUser stores usr; storage.ErrConflict if its id or username is taken.
func (s *Store) CreateUser(ctx context.Context, usr storage.User) error {
	return s.do(ctx, "create user", func(d *db, u *undoLog) error {
		if _, ok := d.users[usr.ID]; ok {
			return fmt.Errorf("memory: create user %q: id exists: %w", usr.ID, storage.ErrConflict)
		}
		if _, ok := d.usernames[usr.Username]; ok {
			return fmt.Errorf("memory: create user %q: username exists: %w", usr.ID, storage.ErrConflict)
		}
		put(u, d.users, usr.ID, copyUser(usr))
		put(u, d.usernames, usr.Username, usr.ID)
		return nil
	})
}

// GetUser returns the user with id; storage.ErrNotFound if absent.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	var out storage.User
	err := s.do(ctx, "get user", func(d *db, _ *undoLog) error {
		usr, ok := d.users[id]
		if !ok {
			return fmt.Errorf("memory: get user %q: %w", id, storage.ErrNotFound)
		}
		out = copyUser(usr)
		return nil
	})
	return out, err
}

// GetUserByUsername returns the user called username (compared exactly);
// storage.ErrNotFound if absent.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	var out storage.User
	err := s.do(ctx, "get user by username", func(d *db, _ *undoLog) error {
		id, ok := d.usernames[username]
		if !ok {
			return fmt.Errorf("memory: get user by username: %w", storage.ErrNotFound)
		}
		out = copyUser(d.users[id])
		return nil
	})
	return out, err
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	var out []storage.User
	err := s.do(ctx, "list users", func(d *db, _ *undoLog) error {
		for _, name := range slices.Sorted(maps.Keys(d.usernames)) {
			out = append(out, copyUser(d.users[d.usernames[name]]))
		}
		return nil
	})
	return out, err
}

// QueryUsers returns one page of the users matching q, ordered by username.
func (s *Store) QueryUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	limit := pageLimit(q.Limit)
	search := lowerASCII(q.Search)
	var out []storage.User
	err := s.do(ctx, "query users", func(d *db, _ *undoLog) error {
		for _, name := range slices.Sorted(maps.Keys(d.usernames)) {
			if len(out) == limit {
				break
			}
			usr := d.users[d.usernames[name]]
			if q.After != "" && name <= q.After {
				continue
			}
			if search != "" && !containsFold(usr.Username, search) && !containsFold(usr.Email, search) &&
				!containsFold(usr.Name, search) {
				continue
			}
			out = append(out, copyUser(usr))
		}
		return nil
	})
	return out, err
}

// UpdateUser replaces every field of the user but ID and CreatedAt; storage.ErrNotFound if
// absent, storage.ErrConflict if the new username belongs to another user.
func (s *Store) UpdateUser(ctx context.Context, usr storage.User) error {
	return s.do(ctx, "update user", func(d *db, u *undoLog) error {
		old, ok := d.users[usr.ID]
		if !ok {
			return fmt.Errorf("memory: update user %q: %w", usr.ID, storage.ErrNotFound)
		}
		if usr.Username != old.Username {
			if _, taken := d.usernames[usr.Username]; taken {
				return fmt.Errorf("memory: update user %q: username exists: %w", usr.ID, storage.ErrConflict)
			}
			del(u, d.usernames, old.Username)
			put(u, d.usernames, usr.Username, usr.ID)
		}
		usr.CreatedAt = old.CreatedAt
		put(u, d.users, usr.ID, copyUser(usr))
		return nil
	})
}

// DeleteUser deletes the user with id, its consents and sessions, and revokes its tokens
// (Subject equal to id) at the store's clock, deny-listing the unexpired access tokens;
// storage.ErrNotFound if absent.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.do(ctx, "delete user", func(d *db, u *undoLog) error {
		usr, ok := d.users[id]
		if !ok {
			return fmt.Errorf("memory: delete user %q: %w", id, storage.ErrNotFound)
		}
		del(u, d.usernames, usr.Username)
		del(u, d.users, id)
		for k := range d.consents {
			if k.userID == id {
				del(u, d.consents, k)
			}
		}
		for sid, se := range d.sessions {
			if se.UserID == id {
				d.deleteSession(u, sid)
			}
		}
		d.revokeTokens(u, storage.TokenFilter{Subject: id}, utc(d.now()))
		return nil
	})
}

// Consents

func copyConsent(c storage.Consent) storage.Consent {
	c.Scopes = slices.Clone(c.Scopes)
	c.CreatedAt = utc(c.CreatedAt)
	c.UpdatedAt = utc(c.UpdatedAt)
	return c
}

// GetConsent returns userID's consent to clientID; storage.ErrNotFound if absent.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	var out storage.Consent
	err := s.do(ctx, "get consent", func(d *db, _ *undoLog) error {
		c, ok := d.consents[consentKey{userID, clientID}]
		if !ok {
			return fmt.Errorf("memory: get consent of %q to %q: %w", userID, clientID, storage.ErrNotFound)
		}
		out = copyConsent(c)
		return nil
	})
	return out, err
}

// PutConsent creates or replaces the consent of (UserID, ClientID), keeping the CreatedAt of
// an existing one.
func (s *Store) PutConsent(ctx context.Context, c storage.Consent) error {
	return s.do(ctx, "put consent", func(d *db, u *undoLog) error {
		k := consentKey{c.UserID, c.ClientID}
		if old, ok := d.consents[k]; ok {
			c.CreatedAt = old.CreatedAt
		}
		put(u, d.consents, k, copyConsent(c))
		return nil
	})
}

// ListConsents returns userID's consents ordered by client id.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	var out []storage.Consent
	err := s.do(ctx, "list consents", func(d *db, _ *undoLog) error {
		for k, c := range d.consents {
			if k.userID == userID {
				out = append(out, copyConsent(c))
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b storage.Consent) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out, err
}

// DeleteConsent deletes userID's consent to clientID; storage.ErrNotFound if absent.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.do(ctx, "delete consent", func(d *db, u *undoLog) error {
		k := consentKey{userID, clientID}
		if _, ok := d.consents[k]; !ok {
			return fmt.Errorf("memory: delete consent of %q to %q: %w", userID, clientID, storage.ErrNotFound)
		}
		del(u, d.consents, k)
		return nil
	})
}

// Codes

func copyCode(c storage.AuthCode) storage.AuthCode {
	c.Hash = bytes.Clone(c.Hash)
	c.Scopes = slices.Clone(c.Scopes)
	c.AuthTime = utc(c.AuthTime)
	c.IssuedAt = utc(c.IssuedAt)
	c.ExpiresAt = utc(c.ExpiresAt)
	c.UsedAt = utc(c.UsedAt)
	return c
}

// CreateCode stores c; storage.ErrConflict if its hash exists.
func (s *Store) CreateCode(ctx context.Context, c storage.AuthCode) error {
	return s.do(ctx, "create code", func(d *db, u *undoLog) error {
		if _, ok := d.codes[string(c.Hash)]; ok {
			return fmt.Errorf("memory: create code: %w", storage.ErrConflict)
		}
		put(u, d.codes, string(c.Hash), copyCode(c))
		return nil
	})
}

// ConsumeCode marks the code whose hash is hash used at now and returns it, whatever its
// expiry. If it was used before, it returns the code unchanged with storage.ErrAlreadyUsed;
// storage.ErrNotFound if absent.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (storage.AuthCode, error) {
	var out storage.AuthCode
	err := s.do(ctx, "consume code", func(d *db, u *undoLog) error {
		c, ok := d.codes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: consume code: %w", storage.ErrNotFound)
		}
		if !c.UsedAt.IsZero() {
			out = copyCode(c)
			return fmt.Errorf("memory: consume code: %w", storage.ErrAlreadyUsed)
		}
		c.UsedAt = utc(now)
		put(u, d.codes, string(hash), c)
		out = copyCode(c)
		return nil
	})
	return out, err
}

// Sessions

func copySession(se storage.Session) storage.Session {
	se.Hash = bytes.Clone(se.Hash)
	se.AuthTime = utc(se.AuthTime)
	se.CreatedAt = utc(se.CreatedAt)
	se.ExpiresAt = utc(se.ExpiresAt)
	return se
}

func (d *db) deleteSession(u *undoLog, id string) {
	if se, ok := d.sessions[id]; ok {
		del(u, d.sessionHashes, string(se.Hash))
		del(u, d.sessions, id)
	}
}

// CreateSession stores se; storage.ErrConflict if its id or hash exists.
func (s *Store) CreateSession(ctx context.Context, se storage.Session) error {
	return s.do(ctx, "create session", func(d *db, u *undoLog) error {
		if _, ok := d.sessions[se.ID]; ok {
			return fmt.Errorf("memory: create session %q: id exists: %w", se.ID, storage.ErrConflict)
		}
		if _, ok := d.sessionHashes[string(se.Hash)]; ok {
			return fmt.Errorf("memory: create session %q: hash exists: %w", se.ID, storage.ErrConflict)
		}
		put(u, d.sessions, se.ID, copySession(se))
		put(u, d.sessionHashes, string(se.Hash), se.ID)
		return nil
	})
}

// GetSessionByHash returns the session whose hash is hash, whatever its expiry;
// storage.ErrNotFound if absent.
func (s *Store) GetSessionByHash(ctx context.Context, hash []byte) (storage.Session, error) {
	var out storage.Session
	err := s.do(ctx, "get session", func(d *db, _ *undoLog) error {
		id, ok := d.sessionHashes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: get session by hash: %w", storage.ErrNotFound)
		}
		out = copySession(d.sessions[id])
		return nil
	})
	return out, err
}

// ListSessions returns userID's sessions ordered by CreatedAt, then ID.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	var out []storage.Session
	err := s.do(ctx, "list sessions", func(d *db, _ *undoLog) error {
		for _, se := range d.sessions {
			if se.UserID == userID {
				out = append(out, copySession(se))
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b storage.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// DeleteSession deletes the session with id; storage.ErrNotFound if absent.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.do(ctx, "delete session", func(d *db, u *undoLog) error {
		if _, ok := d.sessions[id]; !ok {
			return fmt.Errorf("memory: delete session %q: %w", id, storage.ErrNotFound)
		}
		d.deleteSession(u, id)
		return nil
	})
}

// Device codes

// errDeviceStatus is returned by DecideDeviceCode for a status other than approved or denied.
var errDeviceStatus = errors.New("decision must be approved or denied")

func copyDeviceCode(dc storage.DeviceCode) storage.DeviceCode {
	dc.Hash = bytes.Clone(dc.Hash)
	dc.UserCodeHash = bytes.Clone(dc.UserCodeHash)
	dc.Scopes = slices.Clone(dc.Scopes)
	dc.AuthTime = utc(dc.AuthTime)
	dc.LastPolledAt = utc(dc.LastPolledAt)
	dc.IssuedAt = utc(dc.IssuedAt)
	dc.ExpiresAt = utc(dc.ExpiresAt)
	dc.UsedAt = utc(dc.UsedAt)
	return dc
}

func (d *db) deleteDeviceCode(u *undoLog, hash string) {
	if dc, ok := d.deviceCodes[hash]; ok {
		del(u, d.userCodes, string(dc.UserCodeHash))
		del(u, d.deviceCodes, hash)
	}
}

// CreateDeviceCode stores dc; storage.ErrConflict if its hash or user code hash exists.
func (s *Store) CreateDeviceCode(ctx context.Context, dc storage.DeviceCode) error {
	return s.do(ctx, "create device code", func(d *db, u *undoLog) error {
		if _, ok := d.deviceCodes[string(dc.Hash)]; ok {
			return fmt.Errorf("memory: create device code: hash exists: %w", storage.ErrConflict)
		}
		if _, ok := d.userCodes[string(dc.UserCodeHash)]; ok {
			return fmt.Errorf("memory: create device code: user code hash exists: %w", storage.ErrConflict)
		}
		put(u, d.deviceCodes, string(dc.Hash), copyDeviceCode(dc))
		put(u, d.userCodes, string(dc.UserCodeHash), string(dc.Hash))
		return nil
	})
}

// GetDeviceCodeByUserCode returns the request whose user code hash is userCodeHash, whatever
// its state or expiry; storage.ErrNotFound if absent.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (storage.DeviceCode, error) {
	var out storage.DeviceCode
	err := s.do(ctx, "get device code by user code", func(d *db, _ *undoLog) error {
		h, ok := d.userCodes[string(userCodeHash)]
		if !ok {
			return fmt.Errorf("memory: get device code by user code: %w", storage.ErrNotFound)
		}
		out = copyDeviceCode(d.deviceCodes[h])
		return nil
	})
	return out, err
}

// DecideDeviceCode moves the pending request whose user code hash is userCodeHash to status
// (storage.DeviceApproved or storage.DeviceDenied), recording userID and authTime;
// storage.ErrAlreadyUsed if it is not pending, storage.ErrNotFound if absent. Any other
// status is an error.
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeHash []byte, status, userID string, authTime time.Time) error {
	if status != storage.DeviceApproved && status != storage.DeviceDenied {
		return fmt.Errorf("memory: decide device code: %q: %w", status, errDeviceStatus)
	}
	return s.do(ctx, "decide device code", func(d *db, u *undoLog) error {
		h, ok := d.userCodes[string(userCodeHash)]
		if !ok {
			return fmt.Errorf("memory: decide device code: %w", storage.ErrNotFound)
		}
		dc := d.deviceCodes[h]
		if dc.Status != storage.DevicePending {
			return fmt.Errorf("memory: decide device code: status is %q: %w", dc.Status, storage.ErrAlreadyUsed)
		}
		dc.Status, dc.UserID, dc.AuthTime = status, userID, utc(authTime)
		put(u, d.deviceCodes, h, dc)
		return nil
	})
}

// PollDeviceCode records a poll at now of the request whose hash is hash and returns the
// request as it was before. If the previous poll was less than Interval seconds before now,
// Interval grows by 5. storage.ErrNotFound if absent.
func (s *Store) PollDeviceCode(ctx context.Context, hash []byte, now time.Time) (storage.DeviceCode, error) {
	var out storage.DeviceCode
	err := s.do(ctx, "poll device code", func(d *db, u *undoLog) error {
		dc, ok := d.deviceCodes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: poll device code: %w", storage.ErrNotFound)
		}
		out = copyDeviceCode(dc)
		at := utc(now)
		if !dc.LastPolledAt.IsZero() && at.Sub(dc.LastPolledAt) < time.Duration(dc.Interval)*time.Second {
			dc.Interval += 5
		}
		dc.LastPolledAt = at
		put(u, d.deviceCodes, string(hash), dc)
		return nil
	})
	return out, err
}

// ConsumeDeviceCode marks the approved, unused request whose hash is hash used at now and
// returns it. If it was used before or is not approved, it returns the request unchanged
// with storage.ErrAlreadyUsed; storage.ErrNotFound if absent.
func (s *Store) ConsumeDeviceCode(ctx context.Context, hash []byte, now time.Time) (storage.DeviceCode, error) {
	var out storage.DeviceCode
	err := s.do(ctx, "consume device code", func(d *db, u *undoLog) error {
		dc, ok := d.deviceCodes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: consume device code: %w", storage.ErrNotFound)
		}
		if dc.Status != storage.DeviceApproved || !dc.UsedAt.IsZero() {
			out = copyDeviceCode(dc)
			return fmt.Errorf("memory: consume device code: status %q, used %t: %w",
				dc.Status, !dc.UsedAt.IsZero(), storage.ErrAlreadyUsed)
		}
		dc.UsedAt = utc(now)
		put(u, d.deviceCodes, string(hash), dc)
		out = copyDeviceCode(dc)
		return nil
	})
	return out, err
}

// Keys

func copyKey(k storage.SigningKey) storage.SigningKey {
	k.Sealed = bytes.Clone(k.Sealed)
	k.Public = bytes.Clone(k.Public)
	k.CreatedAt = utc(k.CreatedAt)
	k.NotAfter = utc(k.NotAfter)
	return k
}

// CreateKey stores k; storage.ErrConflict if the kid exists.
func (s *Store) CreateKey(ctx context.Context, k storage.SigningKey) error {
	return s.do(ctx, "create key", func(d *db, u *undoLog) error {
		if _, ok := d.keys[k.ID]; ok {
			return fmt.Errorf("memory: create key %q: %w", k.ID, storage.ErrConflict)
		}
		put(u, d.keys, k.ID, copyKey(k))
		return nil
	})
}

// ListKeys returns all keys ordered by CreatedAt, then ID.
func (s *Store) ListKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	err := s.do(ctx, "list keys", func(d *db, _ *undoLog) error {
		for _, k := range d.keys {
			out = append(out, copyKey(k))
		}
		return nil
	})
	slices.SortFunc(out, func(a, b storage.SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// UpdateKey replaces the key's State and NotAfter; storage.ErrNotFound if absent.
func (s *Store) UpdateKey(ctx context.Context, k storage.SigningKey) error {
	return s.do(ctx, "update key", func(d *db, u *undoLog) error {
		old, ok := d.keys[k.ID]
		if !ok {
			return fmt.Errorf("memory: update key %q: %w", k.ID, storage.ErrNotFound)
		}
		old.State, old.NotAfter = k.State, utc(k.NotAfter)
		put(u, d.keys, k.ID, old)
		return nil
	})
}

// DeleteKey deletes the key; storage.ErrNotFound if absent.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return s.do(ctx, "delete key", func(d *db, u *undoLog) error {
		if _, ok := d.keys[id]; !ok {
			return fmt.Errorf("memory: delete key %q: %w", id, storage.ErrNotFound)
		}
		del(u, d.keys, id)
		return nil
	})
}

// Audit

func copyEvent(e storage.AuditEvent) storage.AuditEvent {
	e.Time = utc(e.Time)
	e.Details = maps.Clone(e.Details)
	return e
}

// newestFirst orders events by Time descending, then ID descending.
func newestFirst(a, b storage.AuditEvent) int {
	return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
}

// AppendAudit stores events with new ids; the ID fields passed are ignored.
func (s *Store) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	return s.do(ctx, "append audit events", func(d *db, u *undoLog) error {
		for _, e := range events {
			d.lastAuditID++
			e.ID = d.lastAuditID
			put(u, d.audit, e.ID, copyEvent(e))
		}
		return nil
	})
}

// ListAudit returns the events that match f, newest first.
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	// Stored times have microsecond precision; so do the filter's, as in the SQL backends.
	f.Since, f.Until, f.BeforeTime = utc(f.Since), utc(f.Until), utc(f.BeforeTime)
	var out []storage.AuditEvent
	err := s.do(ctx, "list audit events", func(d *db, _ *undoLog) error {
		for _, e := range d.audit {
			if auditMatches(f, e) {
				out = append(out, e)
			}
		}
		slices.SortFunc(out, newestFirst)
		out = out[:min(len(out), limit)]
		for i := range out {
			out[i] = copyEvent(out[i])
		}
		return nil
	})
	return out, err
}

// auditMatches reports whether e passes every set field of f.
func auditMatches(f storage.AuditFilter, e storage.AuditEvent) bool {
	if (f.Type != "" && e.Type != f.Type) || (f.Actor != "" && e.Actor != f.Actor) ||
		(f.ClientID != "" && e.ClientID != f.ClientID) || (f.Subject != "" && e.Subject != f.Subject) {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	if f.BeforeID != 0 {
		c := e.Time.Compare(f.BeforeTime)
		if c > 0 || (c == 0 && e.ID >= f.BeforeID) {
			return false
		}
	}
	return true
}

// DeleteAuditBefore deletes at most limit events older than before, oldest first, and
// returns how many it deleted.
func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := s.do(ctx, "delete old audit events", func(d *db, u *undoLog) error {
		var old []storage.AuditEvent
		for _, e := range d.audit {
			if e.Time.Before(before) {
				old = append(old, e)
			}
		}
		slices.SortFunc(old, func(a, b storage.AuditEvent) int { return newestFirst(b, a) })
		for _, e := range old[:max(0, min(len(old), limit))] {
			del(u, d.audit, e.ID)
			n++
		}
		return nil
	})
	return n, err
}

// DeleteExpired deletes at most limit rows that expired before now: tokens and deny-list
// entries whose ExpiresAt is before now, then previous keys whose NotAfter is, then codes,
// sessions, device codes and admin tokens whose ExpiresAt is. A zero time never expires. It
// returns how many rows it deleted.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	n := 0
	err := s.do(ctx, "delete expired rows", func(d *db, u *undoLog) error {
		expired := func(t time.Time) bool { return !t.IsZero() && t.Before(now) }
		for _, id := range dueIDs(d.tokens, limit-n, func(t storage.Token) (time.Time, bool) {
			return t.ExpiresAt, expired(t.ExpiresAt)
		}) {
			d.deleteToken(u, id)
			n++
		}
		for _, jti := range dueIDs(d.revocations, limit-n, func(r storage.Revocation) (time.Time, bool) {
			return r.ExpiresAt, expired(r.ExpiresAt)
		}) {
			del(u, d.revocations, jti)
			n++
		}
		for _, id := range dueIDs(d.keys, limit-n, func(k storage.SigningKey) (time.Time, bool) {
			return k.NotAfter, k.State == storage.KeyPrevious && expired(k.NotAfter)
		}) {
			del(u, d.keys, id)
			n++
		}
		for _, h := range dueIDs(d.codes, limit-n, func(c storage.AuthCode) (time.Time, bool) {
			return c.ExpiresAt, expired(c.ExpiresAt)
		}) {
			del(u, d.codes, h)
			n++
		}
		for _, id := range dueIDs(d.sessions, limit-n, func(se storage.Session) (time.Time, bool) {
			return se.ExpiresAt, expired(se.ExpiresAt)
		}) {
			d.deleteSession(u, id)
			n++
		}
		for _, h := range dueIDs(d.deviceCodes, limit-n, func(dc storage.DeviceCode) (time.Time, bool) {
			return dc.ExpiresAt, expired(dc.ExpiresAt)
		}) {
			d.deleteDeviceCode(u, h)
			n++
		}
		for _, id := range dueIDs(d.adminTokens, limit-n, func(t storage.AdminToken) (time.Time, bool) {
			return t.ExpiresAt, expired(t.ExpiresAt)
		}) {
			d.deleteAdminToken(u, id)
			n++
		}
		return nil
	})
	return n, err
}

// dueIDs returns the keys of at most limit records of m that due says are due, earliest
// first (then by key).
func dueIDs[V any](m map[string]V, limit int, due func(V) (time.Time, bool)) []string {
	if limit <= 0 {
		return nil
	}
	type item struct {
		id string
		at time.Time
	}
	var items []item
	for id, v := range m {
		if at, ok := due(v); ok {
			items = append(items, item{id, at})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id)) })
	ids := make([]string, 0, min(len(items), limit))
	for _, it := range items[:min(len(items), limit)] {
		ids = append(ids, it.id)
	}
	return ids
}

// Paging and search

// defaultPageLimit is the page size of QueryClients and QueryUsers when the query sets none.
const defaultPageLimit = 100

func pageLimit(n int) int {
	if n <= 0 {
		return defaultPageLimit
	}
	return n
}

// lowerASCII lower-cases the ASCII letters of s and leaves every other byte alone, as the SQL
// backends' search does.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// containsFold reports whether s contains lower (already lower-cased by lowerASCII), ignoring
// ASCII case.
func containsFold(s, lower string) bool {
	return strings.Contains(lowerASCII(s), lower)
}

// Admin tokens

func copyAdminToken(t storage.AdminToken) storage.AdminToken {
	t.Hash = bytes.Clone(t.Hash)
	t.CreatedAt = utc(t.CreatedAt)
	t.ExpiresAt = utc(t.ExpiresAt)
	t.LastUsedAt = utc(t.LastUsedAt)
	return t
}

func (d *db) deleteAdminToken(u *undoLog, id string) {
	if t, ok := d.adminTokens[id]; ok {
		del(u, d.adminHashes, string(t.Hash))
		del(u, d.adminTokens, id)
	}
}

// CreateAdminToken stores t; storage.ErrConflict if its id or hash exists.
func (s *Store) CreateAdminToken(ctx context.Context, t storage.AdminToken) error {
	return s.do(ctx, "create admin token", func(d *db, u *undoLog) error {
		if _, ok := d.adminTokens[t.ID]; ok {
			return fmt.Errorf("memory: create admin token %q: id exists: %w", t.ID, storage.ErrConflict)
		}
		if _, ok := d.adminHashes[string(t.Hash)]; ok {
			return fmt.Errorf("memory: create admin token %q: hash exists: %w", t.ID, storage.ErrConflict)
		}
		put(u, d.adminTokens, t.ID, copyAdminToken(t))
		put(u, d.adminHashes, string(t.Hash), t.ID)
		return nil
	})
}

// GetAdminTokenByHash returns the admin token whose hash is hash, whatever its expiry;
// storage.ErrNotFound if absent.
func (s *Store) GetAdminTokenByHash(ctx context.Context, hash []byte) (storage.AdminToken, error) {
	var out storage.AdminToken
	err := s.do(ctx, "get admin token", func(d *db, _ *undoLog) error {
		id, ok := d.adminHashes[string(hash)]
		if !ok {
			return fmt.Errorf("memory: get admin token by hash: %w", storage.ErrNotFound)
		}
		out = copyAdminToken(d.adminTokens[id])
		return nil
	})
	return out, err
}

// ListAdminTokens returns every admin token ordered by CreatedAt, then ID.
func (s *Store) ListAdminTokens(ctx context.Context) ([]storage.AdminToken, error) {
	var out []storage.AdminToken
	err := s.do(ctx, "list admin tokens", func(d *db, _ *undoLog) error {
		for _, t := range d.adminTokens {
			out = append(out, copyAdminToken(t))
		}
		return nil
	})
	slices.SortFunc(out, func(a, b storage.AdminToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// DeleteAdminToken deletes the admin token with id; storage.ErrNotFound if absent.
func (s *Store) DeleteAdminToken(ctx context.Context, id string) error {
	return s.do(ctx, "delete admin token", func(d *db, u *undoLog) error {
		if _, ok := d.adminTokens[id]; !ok {
			return fmt.Errorf("memory: delete admin token %q: %w", id, storage.ErrNotFound)
		}
		d.deleteAdminToken(u, id)
		return nil
	})
}

// TouchAdminToken moves the admin token's LastUsedAt forward to at; storage.ErrNotFound if
// absent.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "touch admin token", func(d *db, u *undoLog) error {
		t, ok := d.adminTokens[id]
		if !ok {
			return fmt.Errorf("memory: touch admin token %q: %w", id, storage.ErrNotFound)
		}
		if at = utc(at); at.After(t.LastUsedAt) {
			t.LastUsedAt = at
			put(u, d.adminTokens, id, t)
		}
		return nil
	})
}
