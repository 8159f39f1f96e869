package oauth

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// MissingConsent returns the scopes of req that userID has not yet allowed the client:
// none for trusted clients (unless prompt=consent), all of them for prompt=consent.
func (p *Provider) MissingConsent(ctx context.Context, req *AuthorizeRequest, userID string) ([]string, error) {
	client, err := p.Client(ctx, req.ClientID)
	if err != nil {
		return nil, storageError(err)
	}
	if req.HasPrompt("consent") {
		return slices.Clone(req.Scopes), nil
	}
	if client.Trusted {
		return nil, nil
	}
	c, err := p.store.GetConsent(ctx, userID, req.ClientID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, storageError(err)
	}
	var missing []string
	for _, s := range req.Scopes {
		if !slices.Contains(c.Scopes, s) {
			missing = append(missing, s)
		}
	}
	return missing, nil
}

// RecordConsent remembers that userID allowed clientID the scopes (added to what was allowed
// before).
func (p *Provider) RecordConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	now := p.now().UTC()
	return p.store.InTx(ctx, func(tx storage.Store) error {
		c, err := tx.GetConsent(ctx, userID, clientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		merged := slices.Clone(c.Scopes)
		for _, s := range scopes {
			if !slices.Contains(merged, s) {
				merged = append(merged, s)
			}
		}
		if err := tx.PutConsent(ctx, storage.Consent{UserID: userID, ClientID: clientID, Scopes: merged, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: EventConsentGranted, Actor: userID,
			ClientID: clientID, Subject: userID, Details: map[string]string{"scope": joinScopes(scopes)}})
	})
}

// RevokeConsent forgets the consent and revokes every token the client holds for the user.
func (p *Provider) RevokeConsent(ctx context.Context, userID, clientID string) error {
	now := p.now().UTC()
	return p.store.InTx(ctx, func(tx storage.Store) error {
		if err := tx.DeleteConsent(ctx, userID, clientID); err != nil {
			return err
		}
		n, err := tx.RevokeTokens(ctx, storage.TokenFilter{Subject: userID, ClientID: clientID}, now)
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: EventConsentRevoked, Actor: userID,
			ClientID: clientID, Subject: userID, Details: map[string]string{"tokens_revoked": itoa(n)}})
	})
}

// Consents lists what userID has allowed.
func (p *Provider) Consents(ctx context.Context, userID string) ([]storage.Consent, error) {
	return p.store.ListConsents(ctx, userID)
}
