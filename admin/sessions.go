package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Audit event types of sessions and consents.
const (
	EventSessionRevoked = "session.revoked"
	// EventConsentRevoked is the type the account page's revocation uses too.
	EventConsentRevoked = "consent.revoked"
)

// ListSessions returns the unexpired browser sessions of the user whose ID or username is
// ref, oldest first, without their cookie hashes.
func (a *Admin) ListSessions(ctx context.Context, ref string) ([]storage.Session, error) {
	u, err := findUser(ctx, a.store, ref)
	if err != nil {
		return nil, fmt.Errorf("admin: user %q: %w", clip(ref), err)
	}
	list, err := a.store.ListSessions(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("admin: list sessions of user %q: %w", clip(ref), err)
	}
	now := a.timestamp()
	out := make([]storage.Session, 0, len(list))
	for _, s := range list {
		if now.Before(s.ExpiresAt) {
			s.Hash = nil
			out = append(out, s)
		}
	}
	return out, nil
}

// RevokeSession signs the user whose ID or username is ref out of one browser session.
// A session of another user, or none, is storage.ErrNotFound. Tokens issued to applications
// during the session stay valid (RevokeUserTokens ends those).
func (a *Admin) RevokeSession(ctx context.Context, ref, id string) error {
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		u, err := findUser(ctx, tx, ref)
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		sessions, err := tx.ListSessions(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		found := false
		for _, s := range sessions {
			found = found || s.ID == id
		}
		if !found {
			return fmt.Errorf("session %q of user %q: %w", clip(id), clip(ref), storage.ErrNotFound)
		}
		if err := tx.DeleteSession(ctx, id); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return a.auditUser(ctx, tx, a.timestamp(), EventSessionRevoked, u,
			map[string]string{"username": u.Username, "session_id": id, "sessions_ended": "1"})
	})
	if err != nil {
		return fmt.Errorf("admin: revoke session: %w", err)
	}
	return nil
}

// RevokeSessions signs the user whose ID or username is ref out of every browser session and
// returns how many it ended.
func (a *Admin) RevokeSessions(ctx context.Context, ref string) (int, error) {
	var n int
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		u, err := findUser(ctx, tx, ref)
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		if n, err = endSessions(ctx, tx, u.ID); err != nil || n == 0 {
			return err
		}
		return a.auditUser(ctx, tx, a.timestamp(), EventSessionRevoked, u,
			map[string]string{"username": u.Username, "sessions_ended": strconv.Itoa(n)})
	})
	if err != nil {
		return 0, fmt.Errorf("admin: revoke sessions of user %q: %w", clip(ref), err)
	}
	return n, nil
}

// ListConsents returns what the user whose ID or username is ref allowed each client,
// ordered by client id.
func (a *Admin) ListConsents(ctx context.Context, ref string) ([]storage.Consent, error) {
	u, err := findUser(ctx, a.store, ref)
	if err != nil {
		return nil, fmt.Errorf("admin: user %q: %w", clip(ref), err)
	}
	list, err := a.store.ListConsents(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("admin: list consents of user %q: %w", clip(ref), err)
	}
	return list, nil
}

// RevokeConsent forgets what the user whose ID or username is ref allowed clientID and
// revokes every token the client holds for the user (as the account page does), returning
// how many tokens it revoked. No such consent is storage.ErrNotFound.
func (a *Admin) RevokeConsent(ctx context.Context, ref, clientID string) (int, error) {
	var n int
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		u, err := findUser(ctx, tx, ref)
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		c, err := tx.GetConsent(ctx, u.ID, clientID)
		if err != nil {
			return fmt.Errorf("consent of client %q: %w", clip(clientID), err)
		}
		if err := tx.DeleteConsent(ctx, u.ID, clientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete consent: %w", err)
		}
		now := a.timestamp()
		if n, err = tx.RevokeTokens(ctx, storage.TokenFilter{Subject: u.ID, ClientID: clientID}, now); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		ev := storage.AuditEvent{Time: now, Type: EventConsentRevoked, Actor: a.actor, ClientID: clientID, Subject: u.ID,
			Details: map[string]string{"scope": strings.Join(c.Scopes, " "), "tokens_revoked": strconv.Itoa(n)}}
		return appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return 0, fmt.Errorf("admin: revoke consent of user %q for client %q: %w", clip(ref), clip(clientID), err)
	}
	return n, nil
}
