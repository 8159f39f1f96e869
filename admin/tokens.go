package admin

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Audit event types of token management.
const (
	// EventTokenRevoked is the type the token endpoint's revocation uses too.
	EventTokenRevoked = "token.revoked"
)

// redactToken returns t without its hash.
func redactToken(t storage.Token) storage.Token {
	t.Hash = nil
	return t
}

func redactTokens(list []storage.Token) []storage.Token {
	for i := range list {
		list[i] = redactToken(list[i])
	}
	return list
}

// GetToken returns the stored token id whatever its state, without its hash. JWT access
// tokens of the client credentials grant are not stored, so they are not found here.
func (a *Admin) GetToken(ctx context.Context, id string) (storage.Token, error) {
	t, err := a.store.GetToken(ctx, id)
	if err != nil {
		return storage.Token{}, fmt.Errorf("admin: get token %q: %w", clip(id), err)
	}
	return redactToken(t), nil
}

// ListUserTokens returns the active (unrevoked, unexpired) tokens issued for the user whose ID
// or username is ref: access and refresh tokens of every client, and personal access tokens,
// oldest first, without hashes.
func (a *Admin) ListUserTokens(ctx context.Context, ref string) ([]storage.Token, error) {
	u, err := findUser(ctx, a.store, ref)
	if err != nil {
		return nil, fmt.Errorf("admin: user %q: %w", clip(ref), err)
	}
	list, err := a.store.ListTokens(ctx, storage.TokenFilter{Subject: u.ID}, a.timestamp())
	if err != nil {
		return nil, fmt.Errorf("admin: list tokens of user %q: %w", clip(ref), err)
	}
	return redactTokens(list), nil
}

// ListClientTokens returns the active stored tokens of a client (opaque access tokens, the
// tokens of user grants, refresh tokens), oldest first, without hashes. JWTs of the client
// credentials grant are not stored and not listed; they end with the client or at expiry.
func (a *Admin) ListClientTokens(ctx context.Context, clientID string) ([]storage.Token, error) {
	if _, err := a.store.GetClient(ctx, clientID); err != nil {
		return nil, fmt.Errorf("admin: client %q: %w", clip(clientID), err)
	}
	list, err := a.store.ListTokens(ctx, storage.TokenFilter{ClientID: clientID}, a.timestamp())
	if err != nil {
		return nil, fmt.Errorf("admin: list tokens of client %q: %w", clip(clientID), err)
	}
	return redactTokens(list), nil
}

// RevokeToken revokes the stored token id (an access token is also put on the JWT deny list
// until it expires) and returns it. Revoking a revoked token changes nothing and writes no
// event; an unknown id is storage.ErrNotFound.
func (a *Admin) RevokeToken(ctx context.Context, id string) (storage.Token, error) {
	var t storage.Token
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		var err error
		if t, err = tx.GetToken(ctx, id); err != nil {
			return fmt.Errorf("get token: %w", err)
		}
		if !t.RevokedAt.IsZero() {
			return nil
		}
		now := a.timestamp()
		if err := tx.RevokeToken(ctx, t.ID, now); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if t.Kind == storage.KindAccess && now.Before(t.ExpiresAt) {
			r := storage.Revocation{JTI: t.ID, ClientID: t.ClientID, ExpiresAt: t.ExpiresAt, RevokedAt: now}
			if err := tx.RevokeJTI(ctx, r); err != nil {
				return fmt.Errorf("deny-list token: %w", err)
			}
		}
		t.RevokedAt = now
		ev := storage.AuditEvent{Time: now, Type: EventTokenRevoked, Actor: a.actor, ClientID: t.ClientID,
			Subject: t.Subject, Details: map[string]string{"jti": t.ID, "kind": t.Kind, "grant_id": t.GrantID}}
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return storage.Token{}, fmt.Errorf("admin: revoke token %q: %w", clip(id), err)
	}
	return redactToken(t), nil
}

// RevokeGrant revokes every token of one authorization (a grant id: the code's access and
// refresh tokens and every token rotated from them) and returns how many it revoked. A grant
// without tokens is storage.ErrNotFound.
func (a *Admin) RevokeGrant(ctx context.Context, grantID string) (int, error) {
	if grantID == "" {
		return 0, fmt.Errorf("admin: revoke grant: %w", ValidationErrors{{Field: "grant_id", Message: "must not be empty"}})
	}
	return a.revokeTokens(ctx, storage.TokenFilter{GrantID: grantID}, "grant", grantID, func(tx storage.Store) error {
		list, err := tx.ListTokens(ctx, storage.TokenFilter{GrantID: grantID}, a.timestamp())
		if err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		if len(list) == 0 {
			return fmt.Errorf("grant has no active tokens: %w", storage.ErrNotFound)
		}
		return nil
	})
}

// RevokeUserTokens revokes every token issued for the user whose ID or username is ref (all
// clients, and personal access tokens) and returns how many it revoked. The user's browser
// sessions stay; RevokeSessions ends those.
func (a *Admin) RevokeUserTokens(ctx context.Context, ref string) (int, error) {
	u, err := findUser(ctx, a.store, ref)
	if err != nil {
		return 0, fmt.Errorf("admin: user %q: %w", clip(ref), err)
	}
	return a.revokeTokens(ctx, storage.TokenFilter{Subject: u.ID}, "user", u.ID, nil)
}

// RevokeClientTokens revokes every stored token of a client and returns how many it revoked.
// JWTs of the client credentials grant are not stored: rotate the client's secret so it
// cannot get new ones, and they expire within the access token lifetime (or delete the
// client, which ends them at once).
func (a *Admin) RevokeClientTokens(ctx context.Context, clientID string) (int, error) {
	if _, err := a.store.GetClient(ctx, clientID); err != nil {
		return 0, fmt.Errorf("admin: client %q: %w", clip(clientID), err)
	}
	return a.revokeTokens(ctx, storage.TokenFilter{ClientID: clientID}, "client", clientID, nil)
}

// revokeTokens revokes the tokens f matches, with one token.revoked event naming what (by)
// and how many, unless none was revoked. check, when set, runs first in the transaction.
func (a *Admin) revokeTokens(ctx context.Context, f storage.TokenFilter, by, key string, check func(tx storage.Store) error) (int, error) {
	var n int
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		now := a.timestamp()
		var err error
		if n, err = tx.RevokeTokens(ctx, f, now); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if n == 0 {
			return nil
		}
		ev := storage.AuditEvent{Time: now, Type: EventTokenRevoked, Actor: a.actor, ClientID: f.ClientID,
			Subject: f.Subject, Details: map[string]string{"by": by, by + "_id": key, "tokens_revoked": strconv.Itoa(n)}}
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return 0, fmt.Errorf("admin: revoke tokens of %s %q: %w", by, clip(key), err)
	}
	return n, nil
}
