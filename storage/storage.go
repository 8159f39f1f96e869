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
	Declared  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Clients stores OAuth clients.
type Clients interface {
	// CreateClient returns ErrConflict if the id is taken.
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns all clients ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient replaces every field but ID and CreatedAt; ErrNotFound if absent.
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient returns ErrNotFound if absent. It also deletes the client's tokens.
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
)

// Token is an opaque token (access or refresh), stored by the SHA-256 hash of its value.
type Token struct {
	// ID is the public identifier (the jti for introspection and revocation by id).
	ID string
	// Hash is SHA-256 of the token string; unique.
	Hash      []byte
	Kind      string
	ClientID  string
	Subject   string
	Scopes    []string
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// RevokedAt is zero while the token is not revoked.
	RevokedAt time.Time
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
	// RevokeToken sets RevokedAt once (a second call keeps the first time and returns nil);
	// ErrNotFound if absent.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// RevokeJTI adds a JWT id to the deny list; adding one twice is not an error.
	RevokeJTI(ctx context.Context, r Revocation) error
	// IsRevoked reports whether jti is on the deny list.
	IsRevoked(ctx context.Context, jti string) (bool, error)
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

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	Type     string
	ClientID string
	Since    time.Time
	Limit    int // 0 means 100
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

// Store bundles the aggregates with transactions and housekeeping.
type Store interface {
	Clients
	Scopes
	Tokens
	Keys
	Audit

	// InTx runs fn in a transaction: if fn returns an error (or panics) nothing it wrote
	// is kept. Calling InTx on the tx Store runs fn in the same transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// DeleteExpired deletes at most limit rows that expired before now (tokens, deny-list
	// entries, previous keys past NotAfter) and returns how many it deleted.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
	Ping(ctx context.Context) error
	Close() error
}
