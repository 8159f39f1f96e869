// Package storage defines what Gatehouse keeps: concrete record structs, small per-aggregate
// interfaces, and the Store that bundles them with transactions. It uses the standard library
// only; backends live in storage/memory and storage/sqlstore, and every backend passes the one
// conformance suite in storage/storagetest.
//
// Storage answers "what is stored"; the oauth package decides what it means. Secrets and tokens
// are never stored in plaintext: records hold hashes, and lookups take hashes.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap driver errors so that callers can test with errors.Is.
var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a record with that key exists already (create), or an optimistic
	// version check failed (update).
	ErrConflict = errors.New("storage: conflict")
	// ErrAlreadyUsed: a single-use record was consumed before.
	ErrAlreadyUsed = errors.New("storage: already used")
)

// Token formats of a client's access tokens.
const (
	TokenFormatJWT    = "jwt"
	TokenFormatOpaque = "opaque"
)

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string
	// SecretHash is empty for public clients. Server-generated secrets are stored as
	// "sha256$<base64url>"; operator-supplied ones as an argon2id PHC string. The token
	// package knows both forms.
	SecretHash             string
	Public                 bool
	Trusted                bool
	GrantTypes             []string
	Scopes                 []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// TokenFormat is TokenFormatJWT or TokenFormatOpaque.
	TokenFormat string
	// Declared marks clients applied from the configuration file.
	Declared bool
	// Version counts the client's updates: CreateClient stores 1 (whatever is passed) and
	// every UpdateClient adds one. It is the optimistic-concurrency token (the admin API's
	// ETag).
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ClientQuery selects a page of clients, ordered by id.
type ClientQuery struct {
	// Search, when set, keeps clients whose id or name contains it, ignoring case (ASCII).
	// It is plain text: '%' and '_' match only themselves.
	Search string
	// After, when set, keeps clients whose id sorts after it (keyset pagination).
	After string
	// Limit is the page size; 0 means 100.
	Limit int
}

// Clients stores OAuth clients.
type Clients interface {
	// CreateClient returns ErrConflict if the id is taken.
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns all clients ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	// QueryClients returns one page of the clients matching q, ordered by id (byte order).
	QueryClients(ctx context.Context, q ClientQuery) ([]Client, error)
	// UpdateClient replaces every field but ID, CreatedAt and Version, and adds one to
	// Version; ErrNotFound if absent. When c.Version is not zero and differs from the stored
	// version, nothing is written and the error is ErrConflict (a lost update prevented).
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient returns ErrNotFound if absent. It also deletes the client's tokens, consents,
	// authorization codes and device codes.
	DeleteClient(ctx context.Context, id string) error
}

// Scope is a named permission a client may request.
type Scope struct {
	Name        string
	Description string
	// Default scopes are granted when a request omits the scope parameter.
	Default   bool
	CreatedAt time.Time
}

// Scopes stores the scope catalogue.
type Scopes interface {
	// CreateScope returns ErrConflict if the name is taken.
	CreateScope(ctx context.Context, s Scope) error
	GetScope(ctx context.Context, name string) (Scope, error)
	// ListScopes returns all scopes ordered by name.
	ListScopes(ctx context.Context) ([]Scope, error)
	// UpdateScope replaces Description and Default; ErrNotFound if absent.
	UpdateScope(ctx context.Context, s Scope) error
	DeleteScope(ctx context.Context, name string) error
}

// Token kinds.
const (
	KindAccess  = "access_token"
	KindRefresh = "refresh_token"
	// KindPersonal is a personal access token: made by a user for themselves, used like an
	// access token.
	KindPersonal = "personal_access_token"
)

// Token is an issued token, stored by the SHA-256 hash of its value: opaque access tokens,
// refresh tokens, and the JWT access tokens of grants made for a user (so that revoking the
// grant can deny-list them). JWTs of the client credentials grant are not stored.
type Token struct {
	// ID is the public identifier (the jti for introspection and revocation by id).
	ID string
	// Hash is SHA-256 of the token string; unique.
	Hash     []byte
	Kind     string
	ClientID string
	Subject  string
	Scopes   []string
	Audience []string
	// GrantID ties together every token issued from one authorization (a code and the
	// refresh tokens rotated from it), so that reuse of a code or refresh token revokes all
	// of them. Empty for client credentials.
	GrantID string
	// AuthTime is when the user authenticated (for ID tokens issued on refresh).
	AuthTime  time.Time
	IssuedAt  time.Time
	ExpiresAt time.Time
	// UsedAt is when a refresh token was exchanged (rotation); zero while unused.
	UsedAt time.Time
	// RevokedAt is zero while the token is not revoked.
	RevokedAt time.Time
	// Name is the name a user gave a personal access token.
	Name string
	// LastUsedAt is when a personal access token was last seen (recorded at most about
	// once a minute); zero if never.
	LastUsedAt time.Time
}

// TokenFilter selects tokens; at least one of GrantID, Subject and ClientID must be set, and
// every set field (Kind too) must match.
type TokenFilter struct {
	GrantID  string
	Subject  string
	ClientID string
	Kind     string
}

// TokenUsage records when tokens are used.
type TokenUsage interface {
	// TouchToken sets LastUsedAt of token id to at when at is later than it; ErrNotFound if
	// absent.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Revocation is an entry of the deny list of self-contained (JWT) tokens, kept until the token
// would have expired anyway.
type Revocation struct {
	JTI       string
	ClientID  string
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Tokens stores opaque tokens and the JWT deny list.
type Tokens interface {
	// CreateToken returns ErrConflict if the id or hash exists.
	CreateToken(ctx context.Context, t Token) error
	// GetTokenByHash returns the token whatever its state (expired or revoked).
	GetTokenByHash(ctx context.Context, hash []byte) (Token, error)
	// GetToken returns the token with that id whatever its state; ErrNotFound if absent.
	GetToken(ctx context.Context, id string) (Token, error)
	// RevokeToken sets RevokedAt once (a second call keeps the first time and returns nil);
	// ErrNotFound if absent.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// RevokeJTI adds a JWT id to the deny list; adding one twice is not an error.
	RevokeJTI(ctx context.Context, r Revocation) error
	// IsRevoked reports whether jti is on the deny list.
	IsRevoked(ctx context.Context, jti string) (bool, error)
	// UseToken atomically marks an unused, unrevoked token used (refresh rotation) and
	// returns it. If it was used or revoked before, it returns the token with
	// ErrAlreadyUsed, so the caller can revoke the grant (RFC 9700 4.14.2); ErrNotFound if
	// absent.
	UseToken(ctx context.Context, hash []byte, now time.Time) (Token, error)
	// RevokeTokens revokes every matching token that is not revoked yet, puts the ids of
	// matching unexpired access tokens on the JWT deny list, and returns how many tokens it
	// revoked. An empty filter is an error.
	RevokeTokens(ctx context.Context, f TokenFilter, at time.Time) (int, error)
	// ListTokens returns the unrevoked, unexpired tokens matching f (at least one field set),
	// ordered by IssuedAt then ID.
	ListTokens(ctx context.Context, f TokenFilter, now time.Time) ([]Token, error)
}

// User is an account of the built-in user store.
type User struct {
	// ID is the stable subject identifier (sub); it never changes.
	ID string
	// Username is unique, compared exactly (the admin layer lower-cases it).
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	// PasswordHash is an argon2id PHC string (or an imported bcrypt hash, rehashed to
	// argon2id at the next login).
	PasswordHash string
	Disabled     bool
	Roles        []string
	Declared     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UserQuery selects a page of users, ordered by username.
type UserQuery struct {
	// Search, when set, keeps users whose username, email or name contains it, ignoring
	// case (ASCII). It is plain text: '%' and '_' match only themselves.
	Search string
	// After, when set, keeps users whose username sorts after it (keyset pagination).
	After string
	// Limit is the page size; 0 means 100.
	Limit int
}

// Users stores user accounts. Applications with their own user database implement this
// interface (and may leave ListUsers returning what they like).
type Users interface {
	// CreateUser returns ErrConflict if the id or username is taken.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// ListUsers returns all users ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// QueryUsers returns one page of the users matching q, ordered by username (byte order).
	QueryUsers(ctx context.Context, q UserQuery) ([]User, error)
	// UpdateUser replaces every field but ID and CreatedAt; ErrNotFound if absent,
	// ErrConflict if the new username is taken.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser returns ErrNotFound if absent. It also deletes the user's consents and
	// sessions and revokes the user's tokens.
	DeleteUser(ctx context.Context, id string) error
}

// Consent is what a user allowed a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Consents stores remembered consents, one per user and client.
type Consents interface {
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	// PutConsent creates or replaces the consent of (UserID, ClientID); CreatedAt of an
	// existing consent is kept.
	PutConsent(ctx context.Context, c Consent) error
	// ListConsents returns the user's consents ordered by client id.
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteConsent returns ErrNotFound if absent.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// AuthCode is an authorization code, stored by the SHA-256 hash of its value.
type AuthCode struct {
	Hash                []byte
	GrantID             string
	ClientID            string
	UserID              string
	RedirectURI         string
	Scopes              []string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	AuthTime            time.Time
	SessionID           string
	IssuedAt            time.Time
	ExpiresAt           time.Time
	// UsedAt is zero until the code is redeemed.
	UsedAt time.Time
}

// Codes stores authorization codes.
type Codes interface {
	// CreateCode returns ErrConflict if the hash exists.
	CreateCode(ctx context.Context, c AuthCode) error
	// ConsumeCode atomically marks the code used and returns it. A second call returns the
	// code with ErrAlreadyUsed, so the caller can revoke what the first use issued.
	// ErrNotFound if absent. Expiry is the caller's to check.
	ConsumeCode(ctx context.Context, hash []byte, now time.Time) (AuthCode, error)
}

// Session is a signed-in browser session, stored by the SHA-256 hash of its cookie value.
type Session struct {
	ID        string
	Hash      []byte
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	UserAgent string
	IP        string
}

// Sessions stores browser sessions.
type Sessions interface {
	// CreateSession returns ErrConflict if the id or hash exists.
	CreateSession(ctx context.Context, s Session) error
	// GetSessionByHash returns the session whatever its expiry.
	GetSessionByHash(ctx context.Context, hash []byte) (Session, error)
	// ListSessions returns the user's sessions ordered by CreatedAt.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// DeleteSession returns ErrNotFound if absent.
	DeleteSession(ctx context.Context, id string) error
}

// Key states, in the order a key goes through them.
const (
	// KeyNext is published in the JWKS but signs nothing yet, so verifiers that cache the
	// JWKS know it before the first token it signs.
	KeyNext = "next"
	// KeyCurrent signs new tokens. There is at most one current key per algorithm.
	KeyCurrent = "current"
	// KeyPrevious signs nothing and stays published until NotAfter, when every token it
	// signed has expired.
	KeyPrevious = "previous"
)

// SigningKey is a JWS signing key. The private key is stored sealed (AES-GCM, the kid as
// additional data); the public key is stored in clear for the JWKS.
type SigningKey struct {
	ID        string // kid
	Algorithm string // ES256, RS256, PS256, EdDSA
	State     string // KeyNext, KeyCurrent or KeyPrevious
	// Sealed is the sealed PKCS#8 DER private key.
	Sealed []byte
	// Public is the PKIX DER public key.
	Public    []byte
	CreatedAt time.Time
	// NotAfter is when a previous key may be deleted; zero for next and current keys.
	NotAfter time.Time
}

// Keys stores signing keys.
type Keys interface {
	// CreateKey returns ErrConflict if the kid exists.
	CreateKey(ctx context.Context, k SigningKey) error
	// ListKeys returns all keys ordered by CreatedAt, then ID.
	ListKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateKey replaces State and NotAfter; ErrNotFound if absent.
	UpdateKey(ctx context.Context, k SigningKey) error
	DeleteKey(ctx context.Context, id string) error
}

// AuditEvent is one security event. Details never hold secrets or token values.
type AuditEvent struct {
	ID       int64 // assigned by the store
	Time     time.Time
	Type     string // e.g. "token.issued", "client.created"
	Actor    string // who caused it: a client id, "cli", "config", …
	ClientID string
	Subject  string
	Details  map[string]string
}

// AuditFilter selects audit events; zero fields match everything. Events are listed newest
// first: by Time descending, then ID descending.
type AuditFilter struct {
	Type     string
	Actor    string
	ClientID string
	Subject  string
	// Since keeps events at or after it; Until keeps events before it.
	Since time.Time
	Until time.Time
	// BeforeID, when not zero, continues a listing after the event (BeforeTime, BeforeID):
	// it keeps events with Time before BeforeTime, or equal to it with ID below BeforeID.
	BeforeTime time.Time
	BeforeID   int64
	Limit      int // 0 means 100
}

// Audit stores the audit trail.
type Audit interface {
	AppendAudit(ctx context.Context, events ...AuditEvent) error
	// ListAudit returns matching events, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// DeleteAuditBefore deletes at most limit events older than before (retention) and
	// returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// Device code states (RFC 8628).
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceCode is a device authorization request (RFC 8628), stored by the SHA-256 hashes of
// its device code and of its normalized user code.
type DeviceCode struct {
	Hash         []byte
	UserCodeHash []byte
	ClientID     string
	Scopes       []string
	// Status is DevicePending, DeviceApproved or DeviceDenied.
	Status string
	// UserID and AuthTime are set when the user approves.
	UserID   string
	AuthTime time.Time
	// Interval is the polling interval in seconds; slow_down adds 5.
	Interval     int
	LastPolledAt time.Time
	IssuedAt     time.Time
	ExpiresAt    time.Time
	// UsedAt is set when the approved code is exchanged for tokens.
	UsedAt time.Time
}

// DeviceCodes stores device authorization requests.
type DeviceCodes interface {
	// CreateDeviceCode returns ErrConflict if the hash or user code hash exists.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// GetDeviceCodeByUserCode returns the request whatever its state or expiry.
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (DeviceCode, error)
	// DecideDeviceCode moves a pending request to DeviceApproved (with userID and authTime)
	// or DeviceDenied; ErrAlreadyUsed if it is not pending, ErrNotFound if absent.
	DecideDeviceCode(ctx context.Context, userCodeHash []byte, status, userID string, authTime time.Time) error
	// PollDeviceCode records a poll at now and returns the request as it was before: its
	// LastPolledAt is set to now, and when the previous poll was less than Interval seconds
	// before now, Interval grows by 5 (the caller answers slow_down). ErrNotFound if absent.
	PollDeviceCode(ctx context.Context, hash []byte, now time.Time) (DeviceCode, error)
	// ConsumeDeviceCode atomically marks an approved, unused request used and returns it;
	// the request with ErrAlreadyUsed when it was used before or is not approved.
	ConsumeDeviceCode(ctx context.Context, hash []byte, now time.Time) (DeviceCode, error)
}

// AdminToken is a bearer token of the admin API, stored by the SHA-256 hash of its value.
type AdminToken struct {
	ID   string
	Name string
	Hash []byte
	// CreatedBy is the audit actor that created it ("cli", an admin user…).
	CreatedBy string
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is when the token was last seen (recorded at most about once a minute);
	// zero if never.
	LastUsedAt time.Time
}

// AdminTokens stores admin API tokens.
type AdminTokens interface {
	// CreateAdminToken returns ErrConflict if the id or hash exists.
	CreateAdminToken(ctx context.Context, t AdminToken) error
	// GetAdminTokenByHash returns the token whatever its expiry; ErrNotFound if absent.
	GetAdminTokenByHash(ctx context.Context, hash []byte) (AdminToken, error)
	// ListAdminTokens returns every admin token ordered by CreatedAt, then ID.
	ListAdminTokens(ctx context.Context) ([]AdminToken, error)
	// DeleteAdminToken returns ErrNotFound if absent.
	DeleteAdminToken(ctx context.Context, id string) error
	// TouchAdminToken sets LastUsedAt to at when at is later than it; ErrNotFound if absent.
	TouchAdminToken(ctx context.Context, id string, at time.Time) error
}

// Store bundles the aggregates with transactions and housekeeping.
type Store interface {
	Clients
	Scopes
	Tokens
	TokenUsage
	Keys
	Audit
	Users
	Consents
	Codes
	Sessions
	DeviceCodes
	AdminTokens

	// InTx runs fn in a transaction: if fn returns an error (or panics) nothing it wrote
	// is kept. Calling InTx on the tx Store runs fn in the same transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// DeleteExpired deletes at most limit rows that expired before now (tokens, deny-list
	// entries, previous keys past NotAfter, codes, sessions, device codes, admin tokens with
	// a non-zero ExpiresAt) and returns how many it deleted.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
	Ping(ctx context.Context) error
	Close() error
}
