// Package admin holds Gatehouse's management use-cases: clients (create with a generated secret
// shown once, update, delete, rotate the secret), the scope catalogue, the users of the
// built-in user store (create, set the password, disable, delete), signing keys, and applying
// the scopes, clients and users declared in the configuration file idempotently. The CLI uses
// it now and the admin API will; neither duplicates its rules.
//
// Every change is validated first (a ValidationErrors lists every problem with its field) and
// written together with its audit event in one transaction. Storage errors are wrapped, so
// callers test them with errors.Is(err, storage.ErrNotFound) and storage.ErrConflict.
//
// Secret hashes, password hashes and key material never leave this package: clients are
// returned with an empty SecretHash, users with an empty PasswordHash, and keys as KeyInfo.
package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// Audit event types written by this package.
const (
	EventClientCreated       = "client.created"
	EventClientUpdated       = "client.updated"
	EventClientDeleted       = "client.deleted"
	EventClientSecretRotated = "client.secret_rotated"
	EventScopeCreated        = "scope.created"
	EventScopeUpdated        = "scope.updated"
	EventScopeDeleted        = "scope.deleted"
	EventKeyRotated          = "key.rotated"
)

// DefaultActor is the audit actor of an Admin made by New.
const DefaultActor = "admin"

// Invalidator drops cached clients and scopes after a change; *oauth.Provider is one.
type Invalidator interface {
	InvalidateClient(id string)
	InvalidateScopes()
}

// Admin runs management operations against a Store. Its zero value is not usable; call New.
// An Admin is safe for concurrent use; WithActor and WithInvalidator return modified copies.
type Admin struct {
	store storage.Store
	keys  *oauth.Keyring
	now   func() time.Time
	actor string
	inv   Invalidator
	// issuer is the audience of personal access tokens (WithIssuer).
	issuer string
}

// New returns an Admin over store. keys may be nil when no key operation is needed (ListKeys
// reads the store directly; RotateKey needs the keyring). now defaults to time.Now.
func New(store storage.Store, keys *oauth.Keyring, now func() time.Time) *Admin {
	if now == nil {
		now = time.Now
	}
	return &Admin{store: store, keys: keys, now: now, actor: DefaultActor}
}

// WithActor returns a copy of a that records actor (for example "cli", "config" or an admin
// user) as the Actor of the audit events it writes.
func (a *Admin) WithActor(actor string) *Admin {
	c := *a
	c.actor = actor
	return &c
}

// WithInvalidator returns a copy of a that tells inv about every client and scope change, so a
// Provider in the same process sees it at once rather than after its cache TTL.
func (a *Admin) WithInvalidator(inv Invalidator) *Admin {
	c := *a
	c.inv = inv
	return &c
}

// Actor returns the audit actor.
func (a *Admin) Actor() string { return a.actor }

// timestamp is the current time as stored: UTC, microsecond precision (what SQL backends keep),
// so that returned records equal the stored ones.
func (a *Admin) timestamp() time.Time {
	return a.now().UTC().Truncate(time.Microsecond)
}

// audit appends one event in tx.
func (a *Admin) audit(ctx context.Context, tx storage.Store, at time.Time, typ, clientID string, details map[string]string) error {
	return appendAudit(ctx, tx, storage.AuditEvent{Time: at, Type: typ, Actor: a.actor, ClientID: clientID, Details: details})
}

func appendAudit(ctx context.Context, tx storage.Store, ev storage.AuditEvent) error {
	if err := tx.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("write audit event %s: %w", ev.Type, err)
	}
	return nil
}

func (a *Admin) invalidateClient(id string) {
	if a.inv != nil {
		a.inv.InvalidateClient(id)
	}
}

func (a *Admin) invalidateScopes() {
	if a.inv != nil {
		a.inv.InvalidateScopes()
	}
}
