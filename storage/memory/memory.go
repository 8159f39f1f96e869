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
package memory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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

var _ storage.Store = (*Store)(nil)

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
}

// txState is a running transaction. Its mutex serialises calls made on the tx Store from
// several goroutines of fn.
type txState struct {
	mu   sync.Mutex
	undo undoLog
	done bool
}

// New returns an empty Store.
func New() *Store {
	return &Store{db: &db{
		lock:        make(chan struct{}, 1),
		clients:     map[string]storage.Client{},
		scopes:      map[string]storage.Scope{},
		tokens:      map[string]storage.Token{},
		tokenHashes: map[string]string{},
		revocations: map[string]storage.Revocation{},
		keys:        map[string]storage.SigningKey{},
		audit:       map[int64]storage.AuditEvent{},
	}}
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

// UpdateClient replaces every field of the client but ID and CreatedAt;
// storage.ErrNotFound if absent.
func (s *Store) UpdateClient(ctx context.Context, c storage.Client) error {
	return s.do(ctx, "update client", func(d *db, u *undoLog) error {
		old, ok := d.clients[c.ID]
		if !ok {
			return fmt.Errorf("memory: update client %q: %w", c.ID, storage.ErrNotFound)
		}
		c.CreatedAt = old.CreatedAt
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
	t.IssuedAt = utc(t.IssuedAt)
	t.ExpiresAt = utc(t.ExpiresAt)
	t.RevokedAt = utc(t.RevokedAt)
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
	var out []storage.AuditEvent
	err := s.do(ctx, "list audit events", func(d *db, _ *undoLog) error {
		for _, e := range d.audit {
			if (f.Type == "" || e.Type == f.Type) &&
				(f.ClientID == "" || e.ClientID == f.ClientID) &&
				(f.Since.IsZero() || !e.Time.Before(f.Since)) {
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
// entries whose ExpiresAt is before now, then previous keys whose NotAfter is. A zero time
// never expires. It returns how many rows it deleted.
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
