package oidc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/token"
)

// ErrInvalidIDTokenHint is wrapped by ParseIDTokenHint's error when the hint itself is bad
// (malformed, not signed by our keys, another issuer, no subject or client). Any other error
// is a failure of the server (the keys could not be loaded).
var ErrInvalidIDTokenHint = errors.New("oidc: invalid id_token_hint")

// IDTokenHint is what an id_token_hint tells about the logout it asks for.
type IDTokenHint struct {
	// Subject is the user the ID token was issued for.
	Subject string
	// ClientID is the client it was issued to: azp, or the only audience.
	ClientID string
	// Audience is the token's aud.
	Audience []string
	// SessionID is the sid claim, if any.
	SessionID string
	// ExpiresAt is the token's exp (zero if absent); it may be in the past.
	ExpiresAt time.Time
}

// ParseIDTokenHint verifies the id_token_hint of an RP-Initiated Logout request (OpenID
// Connect RP-Initiated Logout 1.0, section 2): signed by one of the published keys, issued by
// this issuer, typ JWT or none. Expired tokens are accepted, as the specification allows.
// When the token names a kid this node does not know yet, the keys are reloaded (at most
// once a second) and the check runs once more.
func (m *Minter) ParseIDTokenHint(ctx context.Context, raw string) (IDTokenHint, error) {
	keys, err := m.keys.PublicKeys(ctx)
	if err != nil {
		return IDTokenHint{}, fmt.Errorf("oidc: id_token_hint: %w", err)
	}
	c, err := token.ParseIDToken(raw, keys, m.issuer)
	if errors.Is(err, token.ErrUnknownKeyID) && m.mayReload() {
		if rerr := m.keys.Reload(ctx); rerr != nil {
			return IDTokenHint{}, fmt.Errorf("oidc: id_token_hint: reload keys: %w", rerr)
		}
		if keys, err = m.keys.PublicKeys(ctx); err != nil {
			return IDTokenHint{}, fmt.Errorf("oidc: id_token_hint: %w", err)
		}
		c, err = token.ParseIDToken(raw, keys, m.issuer)
	}
	if err != nil {
		return IDTokenHint{}, fmt.Errorf("%w: %w", ErrInvalidIDTokenHint, err)
	}
	if c.Subject == "" {
		return IDTokenHint{}, fmt.Errorf("%w: no subject", ErrInvalidIDTokenHint)
	}
	clientID := c.AuthorizedParty
	if clientID == "" && len(c.Audience) == 1 {
		clientID = c.Audience[0]
	}
	if clientID == "" {
		return IDTokenHint{}, fmt.Errorf("%w: names no single client (no azp, %d audiences)", ErrInvalidIDTokenHint, len(c.Audience))
	}
	return IDTokenHint{Subject: c.Subject, ClientID: clientID, Audience: c.Audience, SessionID: c.SessionID,
		ExpiresAt: c.ExpiresAt}, nil
}
