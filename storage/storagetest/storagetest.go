// Package storagetest is the conformance suite of the storage contract. Every backend
// (storage/memory, storage/sqlstore on SQLite and on PostgreSQL, and any store an embedder
// writes) passes all of it, with no exemptions:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return memory.New() })
//	}
//
// Run calls open once per subtest, one subtest at a time (never in parallel), so open may
// reuse one database as long as each call hands back a store that is empty and migrated. The
// suite closes each store when its subtest ends (t.Cleanup) and checks that Close succeeds.
//
// The suite reads the comments of package storage as follows; these are the precise
// expectations a backend must meet.
//
// # Equality of records
//
// A record read back must equal the one written, field by field:
//   - Strings, booleans and integers compare with ==. The suite's strings hold quotes,
//     backslashes, '%', '_', newlines, tabs and non-ASCII text, but never NUL (PostgreSQL
//     text cannot store it).
//   - []string: same length, same elements, same order. A nil slice and an empty one are
//     equal: a backend may return nil for an empty slice written, or an empty slice for a nil
//     one. Elements hold spaces and commas, so lists must not be stored joined by either.
//   - []byte: bytes.Equal (again nil and empty are equal); all 256 byte values must survive.
//   - map[string]string (AuditEvent.Details): same keys and values; nil and empty are equal.
//   - time.Time: the same instant (time.Time.Equal), and the returned time's Location must
//     be time.UTC itself (a time in time.Local fails even where the local zone is UTC). The
//     suite writes times truncated to the microsecond and in zones other than UTC, so a
//     backend must keep at least microsecond precision and convert to UTC when reading. The
//     zero time.Time must come back as the zero time (SQL backends store it as NULL).
//   - AuditEvent.ID is assigned by the store: the suite always writes 0, and checks that the
//     ids it reads back are positive, distinct, and larger for events appended later.
//
// Records are values: changing a slice or map of a record after passing it to the store, or
// of a record the store returned, must not change what is stored.
//
// # Errors
//
// Errors are checked with errors.Is, so backends may wrap the sentinels with context.
//   - Create* with a key that exists returns ErrConflict and leaves the stored record as it
//     was. CreateToken conflicts on ID and, separately, on Hash.
//   - GetClient, GetScope, GetTokenByHash, the Update* methods, the Delete* methods and
//     RevokeToken with a key that does not exist return ErrNotFound and create nothing. This
//     includes DeleteScope and DeleteKey, whose comments do not say so: they behave like
//     DeleteClient.
//   - RevokeToken on a revoked token returns nil and keeps the first RevokedAt. RevokeJTI of a
//     jti already listed returns nil. IsRevoked of an unknown jti returns false and nil.
//   - GetTokenByHash matches the whole hash exactly: the plaintext token, a prefix of the
//     hash, and a nil or empty hash find nothing (ErrNotFound). It returns expired and
//     revoked tokens like any other.
//
// # Updates and deletes
//
// UpdateClient replaces every field but ID and CreatedAt; UpdateScope replaces only
// Description and Default; UpdateKey replaces only State and NotAfter. The suite passes
// different values in the other fields and expects them ignored. DeleteClient deletes the
// client's tokens (Token.ClientID equal to the id) and no other tokens.
//
// # Order
//
// ListClients is ordered by ID and ListScopes by Name; the suite's ids and names use only
// lower-case ASCII letters, digits and '-', whose order is the same in byte order and in the
// usual collations. ListKeys is ordered by CreatedAt (the instant, not the wall clock of its
// zone), then by ID. ListAudit is newest first: by Time descending, and among events with the
// same Time the one appended later (the larger ID) first. An empty list may be nil.
//
// ListAudit's filter: Type and ClientID match exactly; Since is inclusive (Time >= Since);
// Limit n returns the n newest matching events; a Limit of 0 returns at most 100.
//
// # Housekeeping
//
// DeleteExpired(ctx, now, limit) deletes tokens and deny-list entries whose ExpiresAt is
// strictly before now, and keys in state KeyPrevious whose NotAfter is strictly before now.
// It never deletes a next or current key (whatever its NotAfter), nor a row whose time is the
// zero time, equal to now, or later. It deletes at most limit rows in total (all three kinds
// together) and returns how many it deleted; while rows are due it deletes at least one, so
// calling it until it returns 0 deletes them all. A limit of 0 deletes nothing.
// DeleteAuditBefore(ctx, before, limit) is the same for audit events whose Time is strictly
// before before.
//
// # Transactions
//
// InTx commits when fn returns nil. When fn returns an error, every write made through the
// tx Store is undone (creates, updates, deletes, revocations, audit events, DeleteExpired and
// DeleteAuditBefore) and InTx returns an error that matches fn's with errors.Is. When fn
// panics, the writes are undone and InTx panics again with the same value. InTx on the tx
// Store runs fn in the same transaction: its writes commit or roll back with the outer ones.
// Reads through the tx Store see the transaction's writes; reads through the outer Store
// never see writes that were not committed (they may wait for the transaction to end). After
// a rollback or a panic the store stays usable. Inside fn the suite uses only the tx Store: a
// backend may make the outer Store wait until the transaction ends.
//
// # Concurrency
//
// The suite calls one store from 16 goroutines at once. Creating the same client (or a token
// with the same hash): exactly one call succeeds and the others return ErrConflict. Revoking
// the same token or jti: every call returns nil, and the token keeps one of the times given.
// Transactions that each read a client and update it, and append an audit event: each
// returns nil or an error matching ErrConflict (a backend may map a serialization failure to
// it; callers retry), at least one succeeds, the final client is exactly the record written
// by one successful transaction, and there is one audit event per successful transaction.
//
// # Contexts
//
// Every method called with a cancelled context returns a non-nil error (promptly, never
// hanging) and writes nothing. A call waiting for a running transaction (a lock, a
// connection, a row) returns an error when its context is cancelled, without waiting for the
// transaction to end. If the context given to InTx is cancelled while fn runs, InTx returns an
// error and keeps nothing, as database/sql's Tx does.
package storagetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// concurrency is how many goroutines the concurrency tests run at once.
const concurrency = 16

// awkward is text that breaks naive quoting, escaping, LIKE patterns and encodings.
const awkward = "Ünïcødé “curly” \"double\" 'single' back\\slash 100% _under_ new\nline\ttab 🚀"

// test is one subtest of the suite: it gets a fresh, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s storage.Store)
}

// Run runs the whole suite. open must return a fresh, empty, migrated store for each call
// (the suite calls it once per subtest, sequentially); the suite closes it.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Clients", clientTests()},
		{"Scopes", scopeTests()},
		{"Tokens", tokenTests()},
		{"Keys", keyTests()},
		{"Audit", auditTests()},
		{"Times", timeTests()},
		{"Tx", txTests()},
		{"Housekeeping", housekeepingTests()},
		{"Concurrency", concurrencyTests()},
		{"Context", contextTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, openStore(t, open))
				})
			}
		})
	}
}

// openStore opens a store for one subtest, registers its Close, and checks that it is empty.
func openStore(t *testing.T, open func(t *testing.T) storage.Store) storage.Store {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on a fresh store: %v", err)
	}
	clients, err := s.ListClients(ctx)
	must(t, err, "ListClients on a fresh store")
	scopes, err := s.ListScopes(ctx)
	must(t, err, "ListScopes on a fresh store")
	keys, err := s.ListKeys(ctx)
	must(t, err, "ListKeys on a fresh store")
	events, err := s.ListAudit(ctx, storage.AuditFilter{})
	must(t, err, "ListAudit on a fresh store")
	if n := len(clients) + len(scopes) + len(keys) + len(events); n != 0 {
		t.Fatalf("open returned a store that is not empty: %d clients, %d scopes, %d keys, %d audit events",
			len(clients), len(scopes), len(keys), len(events))
	}
	return s
}

// must stops the test if err is not nil.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// at returns the suite's reference instant moved by d. Like every time the suite writes, it
// has microsecond precision and is in a zone other than UTC (east of it).
func at(d time.Duration) time.Time {
	east := time.FixedZone("UTC+05:30", 5*60*60+30*60)
	return time.Date(2026, time.March, 14, 15, 9, 26, 535897000, east).Add(d)
}

// west returns t in a zone west of UTC: the same instant with another wall clock.
func west(t time.Time) time.Time {
	return t.In(time.FixedZone("UTC-08:00", -8*60*60))
}

// allBytes returns the 256 byte values, starting at start and wrapping around.
func allBytes(start byte) []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// tokenValue is the plaintext of the suite's token id: what a client would present.
func tokenValue(id string) string { return "ghr_" + id + "_0123456789abcdefghijklmnopqrstuvwxyz" }

// tokenHash is the SHA-256 of the plaintext of token id, as the oauth package stores it.
func tokenHash(id string) []byte {
	h := sha256.Sum256([]byte(tokenValue(id)))
	return h[:]
}

// fullClient returns a client with every field set (and mixed booleans).
func fullClient(id string) storage.Client {
	return storage.Client{
		ID:                     id,
		Name:                   "Client " + id + " " + awkward,
		SecretHash:             "sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
		Public:                 false,
		Trusted:                true,
		GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes:                 []string{"openid", "profile", "with space", "comma,inside", awkward},
		RedirectURIs:           []string{"https://app.example/cb?x=1&y=%20", "http://127.0.0.1:8080/callback"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		TokenFormat:            storage.TokenFormatJWT,
		Declared:               true,
		CreatedAt:              at(0),
		UpdatedAt:              west(at(90 * time.Second)),
	}
}

// publicClient returns a public client with empty and nil slices and the other booleans.
func publicClient(id string) storage.Client {
	return storage.Client{
		ID:           id,
		Name:         "",
		Public:       true,
		Trusted:      false,
		GrantTypes:   []string{"urn:ietf:params:oauth:grant-type:device_code"},
		Scopes:       []string{},
		RedirectURIs: nil,
		TokenFormat:  storage.TokenFormatOpaque,
		Declared:     false,
		CreatedAt:    west(at(-time.Hour)),
		UpdatedAt:    at(-time.Hour),
	}
}

// newToken returns an unrevoked access token of clientID, valid for an hour from at(0).
func newToken(id, clientID string) storage.Token {
	return storage.Token{
		ID:        id,
		Hash:      tokenHash(id),
		Kind:      storage.KindAccess,
		ClientID:  clientID,
		Subject:   "user-" + id + " " + awkward,
		Scopes:    []string{"openid", "offline_access"},
		Audience:  []string{"https://api.example", "urn:other"},
		IssuedAt:  at(0),
		ExpiresAt: west(at(time.Hour)),
	}
}

// newKey returns a signing key with binary Sealed and Public values.
func newKey(id, state string, createdAt, notAfter time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:        id,
		Algorithm: "ES256",
		State:     state,
		Sealed:    allBytes(byte(len(id))),
		Public:    append([]byte{0x30, 0x00, 0xff, 0x00}, id...),
		CreatedAt: createdAt,
		NotAfter:  notAfter,
	}
}

// newEvent returns an audit event at time tm.
func newEvent(typ, clientID string, tm time.Time) storage.AuditEvent {
	return storage.AuditEvent{
		Time:     tm,
		Type:     typ,
		Actor:    "cli",
		ClientID: clientID,
		Subject:  "alice",
		Details:  map[string]string{"ip": "192.0.2.1", "note": awkward, "empty": ""},
	}
}
