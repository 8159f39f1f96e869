package oauth

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Revoke answers an RFC 7009 request. The token must have been issued to the calling client;
// an unknown, invalid or already expired token is not an error (RFC 7009 2.2), so the caller
// learns nothing about tokens it does not hold. JWT access tokens are revoked by putting their
// jti on a deny list until they expire. Personal access tokens belong to no client: the
// endpoint answers them like an unknown token and leaves them alone (the user revokes them on
// the account page, an operator with the CLI).
func (p *Provider) Revoke(ctx context.Context, req TokenHandleRequest) error {
	client, err := p.authenticate(ctx, req.Client)
	if err != nil {
		return err
	}
	t, err := p.lookup(ctx, req.Token)
	if err != nil || t == nil {
		return err
	}
	if t.stored != nil && t.stored.Kind == storage.KindPersonal {
		return nil
	}
	if t.clientID() != client.ID {
		return ErrUnauthorizedClient("the token was not issued to this client")
	}
	now := p.now().UTC()
	err = p.store.InTx(ctx, func(tx storage.Store) error {
		ev := storage.AuditEvent{Time: now, Type: EventTokenRevoked, Actor: client.ID, ClientID: client.ID}
		if c := t.jwt; c != nil {
			ev.Subject, ev.Details = c.Subject, map[string]string{"jti": c.ID, "format": "jwt"}
			if err := tx.RevokeJTI(ctx, storage.Revocation{JTI: c.ID, ClientID: c.ClientID, ExpiresAt: c.ExpiresAt.UTC(), RevokedAt: now}); err != nil {
				return err
			}
		} else {
			s := t.stored
			ev.Subject, ev.Details = s.Subject, map[string]string{"jti": s.ID, "format": "opaque", "kind": s.Kind}
			if err := tx.RevokeToken(ctx, s.ID, now); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, ev)
	})
	if err != nil {
		return storageError(err)
	}
	return nil
}
