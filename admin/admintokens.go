package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Audit event types of admin API tokens.
const (
	EventAdminTokenCreated = "admin_token.created"
	EventAdminTokenRevoked = "admin_token.revoked"
)

// Limits of admin API tokens.
const (
	maxAdminTokenNameLen = 100
	// MaxAdminTokenLifetime is the longest lifetime of an expiring admin token (10 years).
	MaxAdminTokenLifetime = 10 * 365 * 24 * time.Hour
	// adminTokenTouchEvery is how stale LastUsedAt may get before a use records it.
	adminTokenTouchEvery = time.Minute
)

// ErrInvalidAdminToken is the error of AuthenticateAdminToken for a value that is not an
// active admin token: malformed, unknown, revoked or expired. It says nothing more, on
// purpose.
var ErrInvalidAdminToken = errors.New("admin: invalid admin token")

// AdminTokenInput is a new admin API token.
type AdminTokenInput struct {
	// Name says what the token is for ("terraform", "ci"): 1 to 100 printable characters.
	Name string
	// Lifetime is how long the token works; 0 means it does not expire.
	Lifetime time.Duration
}

// CreateAdminToken makes an admin API token and returns it with its value (prefix ghm_): this
// is the only time the value is available; only its SHA-256 hash is stored. Whoever holds it
// may do everything the admin API offers.
func (a *Admin) CreateAdminToken(ctx context.Context, in AdminTokenInput) (storage.AdminToken, string, error) {
	name := strings.TrimSpace(in.Name)
	var p problems
	if name == "" {
		p.add("name", "is required")
	} else {
		checkText(&p, "name", name, maxAdminTokenNameLen)
	}
	if in.Lifetime < 0 || in.Lifetime > MaxAdminTokenLifetime {
		p.add("expires_in", "must be between 0 (never expires) and %d days", MaxAdminTokenLifetime/(24*time.Hour))
	} else if in.Lifetime > 0 && in.Lifetime < time.Minute {
		p.add("expires_in", "must be at least a minute")
	}
	if err := p.err(); err != nil {
		return storage.AdminToken{}, "", fmt.Errorf("admin: create admin token: %w", err)
	}
	value, err := token.NewOpaque(token.PrefixAdminToken)
	if err != nil {
		return storage.AdminToken{}, "", fmt.Errorf("admin: create admin token: %w", err)
	}
	id, err := oauth.NewID()
	if err != nil {
		return storage.AdminToken{}, "", fmt.Errorf("admin: create admin token: %w", err)
	}
	now := a.timestamp()
	t := storage.AdminToken{ID: id, Name: name, Hash: token.Hash(value), CreatedBy: a.actor, CreatedAt: now}
	if in.Lifetime > 0 {
		t.ExpiresAt = now.Add(in.Lifetime).Truncate(time.Second)
	}
	err = a.store.InTx(ctx, func(tx storage.Store) error {
		if err := tx.CreateAdminToken(ctx, t); err != nil {
			return fmt.Errorf("store admin token: %w", err)
		}
		details := map[string]string{"admin_token_id": t.ID, "name": t.Name}
		if !t.ExpiresAt.IsZero() {
			details["expires_at"] = t.ExpiresAt.Format(time.RFC3339)
		}
		return appendAudit(ctx, tx, storage.AuditEvent{Time: now, Type: EventAdminTokenCreated, Actor: a.actor, Details: details})
	})
	if err != nil {
		return storage.AdminToken{}, "", fmt.Errorf("admin: create admin token: %w", err)
	}
	t.Hash = nil
	return t, value, nil
}

// ListAdminTokens returns every admin token, oldest first, without hashes (expired ones too,
// until the janitor deletes them).
func (a *Admin) ListAdminTokens(ctx context.Context) ([]storage.AdminToken, error) {
	list, err := a.store.ListAdminTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list admin tokens: %w", err)
	}
	for i := range list {
		list[i].Hash = nil
	}
	return list, nil
}

// RevokeAdminToken deletes admin token id, which stops working at once; storage.ErrNotFound
// if absent.
func (a *Admin) RevokeAdminToken(ctx context.Context, id string) error {
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		var name string
		list, err := tx.ListAdminTokens(ctx)
		if err != nil {
			return fmt.Errorf("list admin tokens: %w", err)
		}
		for _, t := range list {
			if t.ID == id {
				name = t.Name
			}
		}
		if err := tx.DeleteAdminToken(ctx, id); err != nil {
			return fmt.Errorf("delete admin token: %w", err)
		}
		return appendAudit(ctx, tx, storage.AuditEvent{Time: a.timestamp(), Type: EventAdminTokenRevoked, Actor: a.actor,
			Details: map[string]string{"admin_token_id": id, "name": name}})
	})
	if err != nil {
		return fmt.Errorf("admin: revoke admin token %q: %w", clip(id), err)
	}
	return nil
}

// AuthenticateAdminToken returns the active admin token whose value is value, without its
// hash, and records its use (at most about once a minute, so a busy script does not write on
// every request). Anything else is ErrInvalidAdminToken; other errors are the store's.
func (a *Admin) AuthenticateAdminToken(ctx context.Context, value string) (storage.AdminToken, error) {
	if !token.CheckOpaque(value, token.PrefixAdminToken) {
		return storage.AdminToken{}, ErrInvalidAdminToken
	}
	t, err := a.store.GetAdminTokenByHash(ctx, token.Hash(value))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.AdminToken{}, ErrInvalidAdminToken
	}
	if err != nil {
		return storage.AdminToken{}, fmt.Errorf("admin: look up admin token: %w", err)
	}
	now := a.timestamp()
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return storage.AdminToken{}, ErrInvalidAdminToken
	}
	if now.Sub(t.LastUsedAt) >= adminTokenTouchEvery {
		err := a.store.TouchAdminToken(ctx, t.ID, now)
		switch {
		case err == nil:
			t.LastUsedAt = now
		case errors.Is(err, storage.ErrNotFound):
			return storage.AdminToken{}, ErrInvalidAdminToken // revoked meanwhile
		default:
			// The use is still valid; recording it is best effort. The caller sees the
			// token with its old LastUsedAt.
		}
	}
	t.Hash = nil
	return t, nil
}
