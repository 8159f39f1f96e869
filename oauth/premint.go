package oauth

import (
	"context"
	"slices"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// preMinted is an access token signed before the transaction that redeems a refresh token.
//
// The redemption runs in a write transaction, and on SQLite every write transaction holds the
// one writer connection: an ES256 signature made inside it (tens of microseconds, most of the
// work of the grant after the commit) keeps every other write waiting. So the refresh grant
// reads the refresh token first (a read, on the reader pool), signs the new access token, and
// then redeems the token in the transaction, which uses the early token only if it redeemed
// the very record that was read. The fields the token is made from (subject, client, scopes)
// never change once a refresh token is stored, so the early token is the one the transaction
// would have made; otherwise (a token replaced, used or revoked in between) it is dropped,
// never answered, and the transaction mints as before.
type preMinted struct {
	tokenID string // of the refresh token read
	at      accessToken
}

// preMintRefresh reads the refresh token value and, if it looks redeemable by client,
// returns the access token its redemption will issue. Any doubt returns nil: the
// transaction then decides, and mints, as without it.
func (p *Provider) preMintRefresh(ctx context.Context, client *storage.Client, value string, requested []string) *preMinted {
	old, err := p.store.GetTokenByHash(ctx, token.Hash(value))
	if err != nil || old.Kind != storage.KindRefresh || old.ClientID != client.ID || old.GrantID == "" ||
		!old.UsedAt.IsZero() || !old.RevokedAt.IsZero() || !p.now().Before(old.ExpiresAt) {
		return nil
	}
	access := old.Scopes
	if len(requested) > 0 {
		for _, s := range requested {
			if !slices.Contains(old.Scopes, s) {
				return nil
			}
		}
		access = requested
	}
	at, err := p.mintAccessToken(ctx, client, old.Subject, access)
	if err != nil {
		return nil
	}
	return &preMinted{tokenID: old.ID, at: at}
}

// forToken returns the early access token if it was made for the refresh token rec (which
// the transaction has just redeemed), else nil.
func (m *preMinted) forToken(rec storage.Token) *accessToken {
	if m == nil || m.tokenID != rec.ID {
		return nil
	}
	return &m.at
}

// userAccessToken is the access token of a user grant: the one signed before the transaction
// when it was made for this grant's user and scopes, else a new one.
func (p *Provider) userAccessToken(ctx context.Context, client *storage.Client, g *userGrant) (accessToken, error) {
	if m := g.minted; m != nil && m.subject == g.user.ID && m.clientID == client.ID && slices.Equal(m.scopes, g.access) {
		return *m, nil
	}
	return p.mintAccessToken(ctx, client, g.user.ID, g.access)
}
