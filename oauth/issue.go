package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// userGrant is what a grant made for a user issues tokens from.
type userGrant struct {
	grantID  string
	user     *storage.User
	scopes   []string // of the grant (the refresh token keeps them all)
	access   []string // of the access token: scopes, or narrower on refresh
	authTime time.Time
	nonce    string
	code     string // for c_hash (hybrid flow)
	refresh  bool   // issue a refresh token
	// minted is an access token signed before the transaction (premint.go), or nil.
	minted *accessToken
}

// wantsRefresh reports whether a grant for client with scopes gets a refresh token: the
// client must be allowed the refresh_token grant, and an OpenID Connect request must have
// been granted offline_access (OIDC Core 11).
func (p *Provider) wantsRefresh(client *storage.Client, scopes []string) bool {
	if p.grants[GrantRefreshToken] == nil || !slices.Contains(client.GrantTypes, GrantRefreshToken) {
		return false
	}
	return !slices.Contains(scopes, ScopeOpenID) || slices.Contains(scopes, ScopeOfflineAccess)
}

// issueForUser mints the access token (always recorded, so revoking the grant can deny-list
// it), the refresh token and the ID token of a user grant, writing through tx.
func (p *Provider) issueForUser(ctx context.Context, tx storage.Store, client *storage.Client, g userGrant) (*TokenResponse, error) {
	if g.access == nil {
		g.access = g.scopes
	}
	at, err := p.userAccessToken(ctx, client, &g)
	if err != nil {
		return nil, err
	}
	rec := at.record()
	rec.GrantID, rec.AuthTime = g.grantID, g.authTime
	if err := tx.CreateToken(ctx, rec); err != nil {
		return nil, err
	}
	resp := &TokenResponse{AccessToken: at.value, TokenType: "Bearer", ExpiresIn: p.expiresIn(), Scope: joinScopes(g.access),
		subject: g.user.ID, tokenID: at.claims.ID, grantID: g.grantID}
	if g.refresh {
		v, err := token.NewOpaque(token.PrefixRefreshToken)
		if err != nil {
			return nil, ErrServer(err)
		}
		id, err := NewID()
		if err != nil {
			return nil, ErrServer(err)
		}
		now := p.now().UTC().Truncate(time.Second)
		if err := tx.CreateToken(ctx, storage.Token{ID: id, Hash: token.Hash(v), Kind: storage.KindRefresh,
			ClientID: client.ID, Subject: g.user.ID, Scopes: g.scopes, Audience: []string{p.opts.Issuer},
			GrantID: g.grantID, AuthTime: g.authTime, IssuedAt: now, ExpiresAt: now.Add(p.opts.RefreshTokenLifetime)}); err != nil {
			return nil, err
		}
		resp.RefreshToken = v
	}
	if slices.Contains(g.access, ScopeOpenID) && p.idTokens != nil {
		id, err := p.idTokens.MintIDToken(ctx, IDTokenParams{Client: client, UserID: g.user.ID, User: g.user,
			Scopes: g.access, Nonce: g.nonce, AuthTime: g.authTime, AccessToken: at.value, Code: g.code})
		if err != nil {
			return nil, storageError(err)
		}
		resp.IDToken = id
	}
	return resp, nil
}

// Approve answers an authorization request the user approved (after login and consent):
// it issues the code and, for the implicit and hybrid response types, the tokens, and
// returns the redirect to the client.
func (p *Provider) Approve(ctx context.Context, req *AuthorizeRequest, auth Authentication) (*Redirect, error) {
	client, err := p.Client(ctx, req.ClientID)
	if err != nil {
		return nil, storageError(err)
	}
	user, err := p.activeUser(ctx, nil, auth.UserID)
	if err != nil {
		return nil, err
	}
	grantID, err := NewID()
	if err != nil {
		return nil, ErrServer(err)
	}
	now := p.now().UTC()
	params := url.Values{}
	rt := strings.Fields(req.ResponseType)
	// Load the signing keys before the transaction (browser_keys.go).
	if ctx, err = p.keys.pin(ctx); err != nil {
		return nil, ErrServer(err)
	}
	// issued is what the front channel gets: the tokens, for the token.issued event.
	var issued TokenResponse
	// Group commit (batchwrite.go): the function may run twice, and sets what it returns
	// afresh each time.
	err = p.tokens.inTx(ctx, func(tx storage.Store) error {
		issued = TokenResponse{}
		var code string
		if slices.Contains(rt, "code") {
			if code, err = token.NewOpaque(token.PrefixCode); err != nil {
				return err
			}
			redirect := ""
			if req.RedirectURIGiven {
				redirect = req.RedirectURI
			}
			if err := tx.CreateCode(ctx, storage.AuthCode{Hash: token.Hash(code), GrantID: grantID, ClientID: client.ID,
				UserID: auth.UserID, RedirectURI: redirect, Scopes: req.Scopes, CodeChallenge: req.CodeChallenge,
				CodeChallengeMethod: req.CodeChallengeMethod, Nonce: req.Nonce, AuthTime: auth.AuthTime.UTC(),
				SessionID: auth.SessionID, IssuedAt: now, ExpiresAt: now.Add(p.opts.CodeLifetime)}); err != nil {
				return err
			}
			params.Set("code", code)
		}
		var accessToken string
		if slices.Contains(rt, "token") {
			resp, err := p.issueForUser(ctx, tx, &client, userGrant{grantID: grantID, user: &user,
				scopes: req.Scopes, authTime: auth.AuthTime.UTC()})
			if err != nil {
				return err
			}
			accessToken = resp.AccessToken
			issued = *resp
			params.Set("access_token", resp.AccessToken)
			params.Set("token_type", resp.TokenType)
			params.Set("expires_in", strconv.FormatInt(resp.ExpiresIn, 10))
			params.Set("scope", resp.Scope)
		}
		if slices.Contains(rt, "id_token") {
			if p.idTokens == nil {
				return ErrServer(errors.New("no ID token minter"))
			}
			id, err := p.idTokens.MintIDToken(ctx, IDTokenParams{Client: &client, UserID: user.ID, User: &user, Scopes: req.Scopes,
				Nonce: req.Nonce, AuthTime: auth.AuthTime.UTC(), AccessToken: accessToken, Code: code})
			if err != nil {
				return err
			}
			params.Set("id_token", id)
			issued.IDToken, issued.subject, issued.Scope = id, user.ID, joinScopes(req.Scopes)
		}
		return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: EventAuthorizationApproved, Actor: auth.UserID,
			ClientID: client.ID, Subject: auth.UserID, Details: map[string]string{"scope": joinScopes(req.Scopes),
				"response_type": req.ResponseType}})
	})
	if err != nil {
		return nil, storageError(err)
	}
	// Tokens sent through the front channel (implicit and hybrid flows): the user's approval
	// issued them, so the user is the actor.
	if issued.AccessToken != "" || issued.IDToken != "" {
		issued.grantID = grantID
		p.recordIssued(auth.UserID, GrantImplicit, req.ResponseType, &client, &issued)
	}
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", p.opts.Issuer)
	return &Redirect{URI: req.RedirectURI, Mode: req.ResponseMode, Params: params}, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
