package oauth

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// errReuse carries the grant to revoke out of a rolled-back transaction: a replayed code or
// refresh token revokes everything its grant issued (RFC 9700 2.1.1, 4.14.2), and that
// revocation must commit although the request fails.
type errReuse struct {
	grantID string
	// what was replayed: the grant type of the request (authorization_code, refresh_token).
	grantType string
	// subject is the user of the grant.
	subject string
	err     *Error
}

func (e *errReuse) Error() string { return e.err.Error() }

// redeem runs fn in a transaction; on reuse it revokes the grant afterwards.
func (p *Provider) redeem(ctx context.Context, clientID string, fn func(tx storage.Store) (*TokenResponse, error)) (*TokenResponse, error) {
	// Load the signing keys before the transaction (browser_keys.go).
	ctx, kerr := p.keys.pin(ctx)
	if kerr != nil {
		return nil, ErrServer(kerr)
	}
	var resp *TokenResponse
	// Shared with the transactions of concurrent requests (group commit, batchwrite.go), so
	// fn may run twice: it sets resp afresh each time.
	err := p.tokens.inTx(ctx, func(tx storage.Store) error {
		var err error
		resp, err = fn(tx)
		return err
	})
	var reuse *errReuse
	if errors.As(err, &reuse) {
		now := p.now().UTC()
		rerr := p.store.InTx(ctx, func(tx storage.Store) error {
			n, err := tx.RevokeTokens(ctx, storage.TokenFilter{GrantID: reuse.grantID}, now)
			if err != nil {
				return err
			}
			return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: EventTokenReuseDetected, Actor: clientID,
				ClientID: clientID, Subject: reuse.subject, Details: map[string]string{"grant_id": reuse.grantID,
					"grant_type": reuse.grantType, "tokens_revoked": itoa(n)}})
		})
		if rerr != nil {
			return nil, storageError(rerr)
		}
		p.log.WarnContext(ctx, "reuse detected: grant revoked", "client_id", clientID, "grant_id", reuse.grantID)
		return nil, reuse.err
	}
	if err != nil {
		return nil, storageError(err)
	}
	return resp, nil
}

// activeUser loads the user a grant was made for, through tx when the users live in the
// store; a deleted or disabled user ends the grant.
func (p *Provider) activeUser(ctx context.Context, tx storage.Store, id string) (storage.User, error) {
	var users storage.Users = p.users
	if p.usersInStore && tx != nil {
		users = tx
	}
	u, err := users.GetUser(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled {
		return storage.User{}, ErrInvalidGrant("the user is no longer active")
	}
	return u, err
}

// authorizationCodeGrant is RFC 6749 4.1.3 with PKCE (RFC 7636).
type authorizationCodeGrant struct{}

func (authorizationCodeGrant) Type() string           { return GrantAuthorizationCode }
func (authorizationCodeGrant) allowsPublic() bool     { return true }
func (authorizationCodeGrant) scopeFromRequest() bool { return false }

func (authorizationCodeGrant) handle(ctx context.Context, p *Provider, req *TokenRequest, client *storage.Client, _ []string) (*TokenResponse, error) {
	if req.Code == "" {
		return nil, ErrInvalidRequest("the code parameter is missing")
	}
	invalid := ErrInvalidGrant("the authorization code is invalid, expired or was issued to another client")
	if !token.CheckOpaque(req.Code, token.PrefixCode) {
		return nil, invalid
	}
	return p.redeem(ctx, client.ID, func(tx storage.Store) (*TokenResponse, error) {
		code, err := tx.ConsumeCode(ctx, token.Hash(req.Code), p.now().UTC())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil, invalid
		case errors.Is(err, storage.ErrAlreadyUsed):
			if code.ClientID != client.ID {
				return nil, invalid // not this client's grant to revoke
			}
			return nil, &errReuse{grantID: code.GrantID, grantType: GrantAuthorizationCode, subject: code.UserID,
				err: ErrInvalidGrant("the authorization code was already used; the tokens it issued are revoked")}
		case err != nil:
			return nil, err
		}
		// Any failure below rolls the consumption back.
		if code.ClientID != client.ID || !p.now().Before(code.ExpiresAt) {
			return nil, invalid
		}
		if code.RedirectURI != req.RedirectURI && (code.RedirectURI != "" || req.RedirectURI != "" && !slices.Contains(client.RedirectURIs, req.RedirectURI)) {
			return nil, ErrInvalidGrant("the redirect_uri does not match the authorization request")
		}
		if perr := verifyPKCE(&code, req.CodeVerifier); perr != nil {
			return nil, perr
		}
		u, err := p.activeUser(ctx, tx, code.UserID)
		if err != nil {
			return nil, err
		}
		return p.issueForUser(ctx, tx, client, userGrant{grantID: code.GrantID, user: &u, scopes: code.Scopes,
			authTime: code.AuthTime, nonce: code.Nonce, refresh: p.wantsRefresh(client, code.Scopes)})
	})
}

// refreshTokenGrant is RFC 6749 6 with rotation: every use returns a new refresh token, and
// presenting a used one revokes the whole grant.
type refreshTokenGrant struct{}

func (refreshTokenGrant) Type() string           { return GrantRefreshToken }
func (refreshTokenGrant) allowsPublic() bool     { return true }
func (refreshTokenGrant) scopeFromRequest() bool { return false }

func (refreshTokenGrant) handle(ctx context.Context, p *Provider, req *TokenRequest, client *storage.Client, _ []string) (*TokenResponse, error) {
	if req.RefreshToken == "" {
		return nil, ErrInvalidRequest("the refresh_token parameter is missing")
	}
	invalid := ErrInvalidGrant("the refresh token is invalid, expired or was issued to another client")
	if !token.CheckOpaque(req.RefreshToken, token.PrefixRefreshToken) {
		return nil, invalid
	}
	requested, err := parsedScopes(req.Scopes, req.Scope)
	if err != nil {
		return nil, err
	}
	// Sign the access token before the write transaction (premint.go).
	pre := p.preMintRefresh(ctx, client, req.RefreshToken, requested)
	return p.redeem(ctx, client.ID, func(tx storage.Store) (*TokenResponse, error) {
		old, err := tx.UseToken(ctx, token.Hash(req.RefreshToken), p.now().UTC())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil, invalid
		case errors.Is(err, storage.ErrAlreadyUsed):
			if old.Kind != storage.KindRefresh || old.ClientID != client.ID || old.GrantID == "" {
				return nil, invalid
			}
			return nil, &errReuse{grantID: old.GrantID, grantType: GrantRefreshToken, subject: old.Subject,
				err: ErrInvalidGrant("the refresh token was already used; the grant is revoked")}
		case err != nil:
			return nil, err
		}
		if old.Kind != storage.KindRefresh || old.ClientID != client.ID || !p.now().Before(old.ExpiresAt) {
			return nil, invalid
		}
		// The scope may be narrowed, never widened (RFC 6749 6); the new refresh token keeps
		// the grant's scopes.
		access := old.Scopes
		if len(requested) > 0 {
			for _, s := range requested {
				if !slices.Contains(old.Scopes, s) {
					return nil, ErrInvalidScope("the scope %q was not granted", s)
				}
			}
			access = requested
		}
		u, err := p.activeUser(ctx, tx, old.Subject)
		if err != nil {
			return nil, err
		}
		return p.issueForUser(ctx, tx, client, userGrant{grantID: old.GrantID, user: &u, scopes: old.Scopes,
			access: access, authTime: old.AuthTime, refresh: true, minted: pre.forToken(old)})
	})
}

// passwordGrant is RFC 6749 4.3, for clients explicitly allowed it (legacy; RFC 9700 2.4
// says not to use it). It shares the login page's brute-force throttle.
type passwordGrant struct{}

func (passwordGrant) Type() string           { return GrantPassword }
func (passwordGrant) allowsPublic() bool     { return true }
func (passwordGrant) scopeFromRequest() bool { return true }

func (passwordGrant) handle(ctx context.Context, p *Provider, req *TokenRequest, client *storage.Client, scopes []string) (*TokenResponse, error) {
	if req.Username == "" || req.Password == "" {
		return nil, ErrInvalidRequest("the username and password parameters are required")
	}
	u, err := p.AuthenticateUser(ctx, req.Username, req.Password, req.RemoteIP)
	var th *ThrottledError
	switch {
	case errors.As(err, &th):
		return nil, ErrInvalidGrant("%s", th.Error())
	case errors.Is(err, ErrLoginFailed):
		// Audited like a failed sign-in on the login page (throttled attempts are not: they
		// cost nothing, and a row each would let a flood fill the database). The client
		// sent the credentials, so it is the actor.
		ev := storage.AuditEvent{Time: p.now().UTC(), Type: EventLoginFailed, Actor: client.ID, ClientID: client.ID,
			Details: map[string]string{"username": clipDetail(req.Username, maxAuditUsername), "ip": req.RemoteIP,
				"grant_type": GrantPassword}}
		if aerr := p.store.AppendAudit(ctx, ev); aerr != nil {
			p.log.ErrorContext(ctx, "append audit event", "type", ev.Type, "err", aerr)
		}
		return nil, ErrInvalidGrant("invalid username or password")
	case err != nil:
		return nil, storageError(err)
	}
	grantID, err := NewID()
	if err != nil {
		return nil, ErrServer(err)
	}
	return p.redeem(ctx, client.ID, func(tx storage.Store) (*TokenResponse, error) {
		resp, err := p.issueForUser(ctx, tx, client, userGrant{grantID: grantID, user: &u, scopes: scopes,
			authTime: p.now().UTC(), refresh: p.wantsRefresh(client, scopes)})
		if err != nil {
			return nil, err
		}
		// The sign-in is recorded with the tokens, in their transaction.
		return resp, tx.AppendAudit(ctx, storage.AuditEvent{Time: p.now().UTC(), Type: EventLoginSucceeded, Actor: u.ID,
			ClientID: client.ID, Subject: u.ID, Details: map[string]string{"ip": req.RemoteIP, "grant_type": GrantPassword,
				"grant_id": grantID}})
	})
}

// maxAuditUsername bounds the username recorded by a failed sign-in.
const maxAuditUsername = 256
