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
//     revoked tokens like any other. The same holds for every lookup by hash (UseToken,
//     ConsumeCode, GetSessionByHash), and GetUserByUsername matches the username exactly:
//     case matters, and '%' and '_' are plain characters.
//   - CreateUser conflicts on ID and, separately, on Username; CreateSession on ID and on
//     Hash; CreateCode on Hash; CreateDeviceCode on Hash and, separately, on UserCodeHash. UpdateUser to a username another user has returns ErrConflict
//     and changes nothing; keeping its own username is not a conflict.
//   - GetUser, GetUserByUsername, GetConsent, GetSessionByHash, UseToken and ConsumeCode with
//     a key that does not exist return ErrNotFound, like the Update* and Delete* methods.
//   - RevokeTokens and ListTokens with an empty TokenFilter return an error (any non-nil one)
//     and write nothing.
//   - GetDeviceCodeByUserCode and DecideDeviceCode look a device request up by its user code
//     hash, PollDeviceCode and ConsumeDeviceCode by its device code hash; with a hash that
//     does not exist they return ErrNotFound and write nothing. Like every lookup by hash
//     they match the whole hash exactly, and one request's device code hash does not find it
//     by user code, nor the reverse.
//   - DecideDeviceCode with a status other than DeviceApproved or DeviceDenied returns an
//     error (any non-nil one, whatever the request's state) and writes nothing.
//
// # Updates and deletes
//
// UpdateClient and UpdateUser replace every field but ID and CreatedAt; UpdateScope replaces
// only Description and Default; UpdateKey replaces only State and NotAfter. The suite passes
// different values in the other fields and expects them ignored. DeleteClient deletes the
// client's tokens (Token.ClientID equal to the id) and no other tokens.
//
// PutConsent creates the consent of (UserID, ClientID), or replaces Scopes and UpdatedAt of
// the existing one and keeps its CreatedAt (whatever CreatedAt is passed).
//
// DeleteUser deletes the user's consents and sessions (UserID equal to the id) and revokes
// the user's tokens (Subject equal to the id): it sets RevokedAt of those not revoked yet to a
// non-zero time of the backend's choosing (DeleteUser takes no time; the suite only checks
// that it is not zero), keeps RevokedAt of those revoked before, and changes no other record.
// It may also deny-list the user's access tokens; the suite does not check. It succeeds
// whatever refers to the user (codes included); the suite does not check what becomes of the
// user's codes.
//
// # References
//
// The suite creates the client and the user a consent, code or session names before writing
// it, a token's client, a device request's client, and the user of an approval before
// writing it (DecideDeviceCode, or a request written approved), so a backend may enforce
// those references (it must then still
// pass DeleteUser above). These fields are not references, and the suite writes values that
// name nothing: Token.Subject (a client id for client credentials), Token.GrantID,
// AuthCode.GrantID, AuthCode.SessionID, Revocation.ClientID.
//
// # Single use
//
// ConsumeCode(hash, now) on an unused code sets UsedAt to now and returns the code with it,
// whatever ExpiresAt says (expiry is the caller's to check). On a code used before (including
// one written with UsedAt set) it returns the code as stored, with the first UsedAt, and
// ErrAlreadyUsed, and writes nothing.
//
// UseToken(hash, now) on a token that is neither used nor revoked sets UsedAt to now and
// returns the token with it, whatever its Kind and ExpiresAt. On a token used or revoked
// before (including one written that way) it returns the token as stored and
// ErrAlreadyUsed, and writes nothing: a revoked token stays unused.
//
// # Device authorization requests
//
// DecideDeviceCode(userCodeHash, status, userID, authTime) on a pending request sets its
// Status to status and, for DeviceApproved, its UserID and AuthTime to userID and authTime.
// The suite denies with an empty userID and a zero authTime, so a backend may record or drop
// them on a denial. On a request that is not pending (approved, used or not, or denied) it
// returns ErrAlreadyUsed and writes nothing, whatever the status asked for.
//
// PollDeviceCode(hash, now) returns the request as stored before the call, and stores now as
// its LastPolledAt. If the stored LastPolledAt is not zero and now is less than Interval
// seconds after it, it also adds 5 to Interval: a poll exactly Interval seconds after the
// previous one is not too soon, one a microsecond earlier is (the comparison has microsecond
// precision). The first poll of a request (zero LastPolledAt) never grows Interval. It changes
// nothing else, and polls requests in any state: pending, approved, denied, used or expired.
//
// ConsumeDeviceCode(hash, now) on an approved request with a zero UsedAt sets UsedAt to now
// and returns the request with it, whatever ExpiresAt says (expiry is the caller's to check).
// On a request used before (including one written with UsedAt set), pending or denied, it
// returns the request as stored with ErrAlreadyUsed and writes nothing: a pending request
// can still be approved and exchanged afterwards.
//
// # Revoking and listing tokens by filter
//
// A TokenFilter matches a token when every non-empty field equals the token's field
// (GrantID, Subject, ClientID, Kind); an empty field matches anything. A filter with none of
// GrantID, Subject and ClientID set is an error, even with Kind set, and writes nothing. RevokeTokens(f, at) sets RevokedAt to at on every matching token not revoked yet
// (expired ones included), leaves the RevokedAt of tokens revoked before, and returns how
// many it revoked. For each access token (KindAccess) it revoked whose ExpiresAt is after
// at, IsRevoked(token ID) is then true, and the deny-list entry expires with the token
// (Revocation.ExpiresAt is the token's ExpiresAt, so DeleteExpired removes it once the token
// has expired). It may deny-list other matching tokens as well (refresh tokens, tokens
// revoked before); the suite does not check. It never deny-lists a token it did not match.
//
// ListTokens(f, now) returns the matching tokens with a zero RevokedAt and an ExpiresAt
// strictly after now (a token that expires at now has expired; the suite writes no token with
// a zero ExpiresAt to these tests). UsedAt does not matter: used tokens are listed. The order
// is IssuedAt (the instant), then ID.
//
// # Personal access tokens
//
// Token.Name and Token.LastUsedAt round-trip like every other field. A personal access token
// (KindPersonal) belongs to no client: the suite writes it with an empty ClientID, which a
// backend enforcing references must accept. TouchToken(id, at) sets LastUsedAt to at when at
// is after the stored LastUsedAt (or that is zero), and otherwise writes nothing: an earlier
// or equal at leaves the first time. It changes no other field, and returns ErrNotFound for
// an unknown id. TouchToken is part of the Store (through storage.TokenUsage).
//
// # Order
//
// ListClients is ordered by ID and ListScopes by Name; the suite's ids and names use only
// lower-case ASCII letters, digits and '-', whose order is the same in byte order and in the
// usual collations. ListKeys is ordered by CreatedAt (the instant, not the wall clock of its
// zone), then by ID. ListAudit is newest first: by Time descending, and among events with the
// same Time the one appended later (the larger ID) first. An empty list may be nil.
//
// ListAudit's filter: Type, Actor, ClientID and Subject match exactly (case matters, '%' and
// '_' are plain characters); Since is inclusive (Time >= Since) and Until exclusive (Time <
// Until); Limit n returns the n newest matching events; a Limit of 0 returns at most 100.
// With a non-zero BeforeID, ListAudit returns only the events after (BeforeTime, BeforeID) in
// its order: Time before BeforeTime (the instant), or equal to it with a smaller ID. Paging
// with the last event of each page as the cursor lists every matching event exactly once,
// events with the same Time included. The cursor need not name a stored event. BeforeTime
// without BeforeID is ignored. An event at the zero time sorts as the earliest: after every
// other, before any non-zero Until, never at or after a non-zero Since.
//
// ListUsers is ordered by Username and ListConsents by ClientID, with the same kind of
// names as above (lower-case ASCII letters, digits and '-', where the order is decided
// before any '-'). ListSessions is ordered by CreatedAt (the instant); the suite never gives
// two sessions of one user the same CreatedAt. ListConsents and ListSessions return only the
// given user's records.
//
// # Versions, pages and search
//
// CreateClient stores Version 1 whatever the client passed says, and every client read back
// (GetClient, ListClients, QueryClients) carries its stored Version; the suite's fixtures are
// at version 1 for that reason. UpdateClient with a Version of 0 updates whatever the stored
// version; with any other Version it updates only if that is the stored version, and else
// returns ErrConflict and writes nothing. Either way a successful update stores the old
// version plus one. An absent client is ErrNotFound (not ErrConflict) whatever the Version.
// Of concurrent updates passing the same version exactly one succeeds, the others get
// ErrConflict; retried read-modify-writes lose no update.
//
// QueryClients and QueryUsers return pages ordered by ID and by Username in byte order,
// starting after After (exclusive; it need not name a record), at most Limit records (100
// when Limit is 0). Search keeps the clients whose ID or Name, and the users whose Username,
// Email or Name, contain it as a substring, ignoring the case of ASCII letters; '%', '_', '!'
// and '\' match only themselves. (The suite does not check how non-ASCII letters of different
// case compare.) Paging with the last ID or Username of each page as After lists every
// matching record exactly once.
//
// GetToken finds a token by its ID, expired, used and revoked alike, and returns ErrNotFound
// for an unknown ID.
//
// # Admin tokens
//
// AdminToken round-trips like every record. CreateAdminToken conflicts on ID and, separately,
// on Hash; GetAdminTokenByHash matches the whole hash exactly and returns expired tokens;
// DeleteAdminToken and TouchAdminToken of an unknown ID return ErrNotFound. TouchAdminToken
// behaves like TouchToken: LastUsedAt only moves forward, and a zero time changes nothing.
// ListAdminTokens is ordered by CreatedAt (the instant), then ID.
//
// # Housekeeping
//
// DeleteExpired(ctx, now, limit) deletes tokens, deny-list entries, codes, sessions, device
// requests and admin tokens whose ExpiresAt is strictly before now, and keys in state KeyPrevious whose
// NotAfter is strictly before now. Codes are deleted whether used or not, tokens whether
// revoked or used or not, device requests whatever their Status and UsedAt.
// It never deletes a next or current key (whatever its NotAfter), nor a row whose time is the
// zero time, equal to now, or later. It deletes at most limit rows in total (all seven kinds
// together) and returns how many it deleted; while rows are due it deletes at least one, so
// calling it until it returns 0 deletes them all. A limit of 0 deletes nothing.
// DeleteAuditBefore(ctx, before, limit) is the same for audit events whose Time is strictly
// before before.
//
// # Transactions
//
// InTx commits when fn returns nil. When fn returns an error, every write made through the
// tx Store is undone (creates, updates, deletes, revocations, audit events, DeleteExpired and
// DeleteAuditBefore, and of the user-facing aggregates: users, consents, sessions, a consumed
// code, a used token, a touched token, RevokeTokens and DeleteUser, and a created, decided,
// polled and exchanged device request, and a created, deleted and touched admin token) and
// InTx returns an error that matches fn's with
// errors.Is. When fn panics, the writes are undone and InTx panics again with the
// same value. InTx on the tx
// Store runs fn in the same transaction: its writes commit or roll back with the outer ones.
// Reads through the tx Store see the transaction's writes; reads through the outer Store
// never see writes that were not committed (they may wait for the transaction to end). After
// a rollback or a panic the store stays usable. Inside fn the suite uses only the tx Store: a
// backend may make the outer Store wait until the transaction ends.
//
// # Concurrency
//
// The suite calls one store from 16 goroutines at once. Creating the same client (or a token
// with the same hash, or a user with the same username): exactly one call succeeds and the
// others return ErrConflict. Revoking the same token or jti: every call returns nil, and the
// token keeps one of the times given. Consuming the same code, or using the same token
// (UseToken): exactly one call returns nil and the record marked used at its time; every
// other returns ErrAlreadyUsed and the record as the winner left it (the winner's UsedAt).
// Exchanging the same approved device request (ConsumeDeviceCode) is the same: one winner.
// Polling the same device request from every goroutine, each at its own time and all
// within Interval seconds of each other: every call returns nil, and the polls behave as if
// one ran after the other: exactly one returns a zero LastPolledAt, every other returns the
// time of another poll (each time returned once, the last poll's being the stored
// LastPolledAt), and Interval grows by 5 at every poll but the first.
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
		{"Users", userTests()},
		{"Consents", consentTests()},
		{"Codes", codeTests()},
		{"Sessions", sessionTests()},
		{"DeviceCodes", deviceCodeTests()},
		{"AdminTokens", adminTokenTests()},
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
	users, err := s.ListUsers(ctx)
	must(t, err, "ListUsers on a fresh store")
	admins, err := s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens on a fresh store")
	if n := len(clients) + len(scopes) + len(keys) + len(events) + len(users) + len(admins); n != 0 {
		t.Fatalf("open returned a store that is not empty: %d clients, %d scopes, %d keys, %d audit events, %d users, %d admin tokens",
			len(clients), len(scopes), len(keys), len(events), len(users), len(admins))
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

// fullClient returns a client with every field set (and mixed booleans), at version 1: as
// CreateClient stores it, and as UpdateClient expects it of a client not updated since.
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
		Version:                1,
		CreatedAt:              at(0),
		UpdatedAt:              west(at(90 * time.Second)),
	}
}

// publicClient returns a public client with empty and nil slices and the other booleans, at
// version 1.
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
		Version:      1,
		CreatedAt:    west(at(-time.Hour)),
		UpdatedAt:    at(-time.Hour),
	}
}

// newToken returns an unused, unrevoked access token of clientID and grant "grant-<id>",
// valid for an hour from at(0).
func newToken(id, clientID string) storage.Token {
	return storage.Token{
		ID:        id,
		Hash:      tokenHash(id),
		Kind:      storage.KindAccess,
		ClientID:  clientID,
		Subject:   "user-" + id + " " + awkward,
		Scopes:    []string{"openid", "offline_access"},
		Audience:  []string{"https://api.example", "urn:other"},
		GrantID:   "grant-" + id,
		AuthTime:  west(at(-time.Minute)),
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

// codeHash is the SHA-256 of the plaintext of the suite's authorization code name.
func codeHash(name string) []byte {
	h := sha256.Sum256([]byte("ghc_" + name + "_0123456789abcdefghijklmnopqrstuvwxyz"))
	return h[:]
}

// sessionHash is the SHA-256 of the cookie value of the suite's session id.
func sessionHash(id string) []byte {
	h := sha256.Sum256([]byte("ghs_" + id + "_0123456789abcdefghijklmnopqrstuvwxyz"))
	return h[:]
}

// newUser returns a user with every field set (and mixed booleans).
func newUser(id, username string) storage.User {
	return storage.User{
		ID:            id,
		Username:      username,
		Email:         username + "@example.com",
		EmailVerified: true,
		Name:          "User " + id + " " + awkward,
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Disabled:      false,
		Roles:         []string{"admin", "with space", "comma,inside"},
		Declared:      true,
		CreatedAt:     at(-time.Hour),
		UpdatedAt:     west(at(-time.Minute)),
	}
}

// newConsent returns userID's consent to clientID.
func newConsent(userID, clientID string) storage.Consent {
	return storage.Consent{
		UserID:    userID,
		ClientID:  clientID,
		Scopes:    []string{"openid", "profile", "with space", "comma,inside"},
		CreatedAt: west(at(-time.Hour)),
		UpdatedAt: at(-time.Minute),
	}
}

// newCode returns an unused authorization code of clientID for userID, issued at at(0) and
// valid for a minute. Its SessionID names no session (it is not a reference).
func newCode(name, clientID, userID string) storage.AuthCode {
	return storage.AuthCode{
		Hash:                codeHash(name),
		GrantID:             "grant-" + name,
		ClientID:            clientID,
		UserID:              userID,
		RedirectURI:         "https://app.example/cb?x=1&y=%20",
		Scopes:              []string{"openid", "profile", "with space", "comma,inside"},
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "nonce " + awkward,
		AuthTime:            west(at(-5 * time.Minute)),
		SessionID:           "session-of-" + name,
		IssuedAt:            at(0),
		ExpiresAt:           west(at(time.Minute)),
	}
}

// newSession returns a session of userID created at createdAt and valid for a day.
func newSession(id, userID string, createdAt time.Time) storage.Session {
	return storage.Session{
		ID:        id,
		Hash:      sessionHash(id),
		UserID:    userID,
		AuthTime:  west(createdAt.Add(-time.Second)),
		CreatedAt: createdAt,
		ExpiresAt: createdAt.Add(24 * time.Hour),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) " + awkward,
		IP:        "2001:db8::1",
	}
}

// createUsers creates a user for each id, with the id as its username.
func createUsers(t *testing.T, s storage.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		must(t, s.CreateUser(t.Context(), newUser(id, id)), "CreateUser "+id)
	}
}
