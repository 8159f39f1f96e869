package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Defaults of NewMinter.
const (
	DefaultAlgorithm = token.RS256
	DefaultLifetime  = time.Hour
)

// Minter mints ID tokens and answers userinfo and id_token_hint questions for one issuer.
// It implements oauth.IDTokenMinter. A Minter is safe for concurrent use.
type Minter struct {
	issuer   string
	keys     *oauth.Keyring
	users    storage.Users
	alg      string
	lifetime time.Duration
	now      func() time.Time

	mu         sync.Mutex
	lastReload time.Time
}

var _ oauth.IDTokenMinter = (*Minter)(nil)

// NewMinter returns a Minter that signs ID tokens for issuer with keys' current alg key (an
// empty alg means RS256, which OpenID Connect requires every provider to support), valid for
// lifetime (0 means one hour), reading users from users. A nil now means time.Now.
func NewMinter(issuer string, keys *oauth.Keyring, users storage.Users, alg string, lifetime time.Duration, now func() time.Time) *Minter {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	if now == nil {
		now = time.Now
	}
	return &Minter{issuer: issuer, keys: keys, users: users, alg: alg, lifetime: lifetime, now: now}
}

// Algorithm returns the algorithm ID tokens are signed with (for discovery's
// id_token_signing_alg_values_supported).
func (m *Minter) Algorithm() string { return m.alg }

// idTokenClaims is the payload of an ID token.
type idTokenClaims struct {
	Iss      string `json:"iss"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	AuthTime int64  `json:"auth_time,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Azp      string `json:"azp,omitempty"`
	AtHash   string `json:"at_hash,omitempty"`
	CHash    string `json:"c_hash,omitempty"`
	userClaims
}

// MintIDToken signs an ID token for p.UserID and p.Client: iss, sub, aud and azp (the client
// id), exp, iat, auth_time (when p.AuthTime is set), nonce (when set), at_hash and c_hash
// (when p.AccessToken and p.Code are set), and the user's claims released by p.Scopes. A user
// who no longer exists or is disabled gives an *oauth.Error invalid_grant.
func (m *Minter) MintIDToken(ctx context.Context, p oauth.IDTokenParams) (string, error) {
	if p.Client == nil || p.Client.ID == "" {
		return "", errors.New("oidc: mint ID token: no client")
	}
	if p.UserID == "" {
		return "", errors.New("oidc: mint ID token: no user")
	}
	var u storage.User
	if p.User != nil && p.User.ID == p.UserID {
		u = *p.User // loaded by the caller, inside its transaction
	} else {
		var err error
		u, err = m.users.GetUser(ctx, p.UserID)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
			return "", oauth.ErrInvalidGrant("the user account is not available")
		}
		if err != nil {
			return "", fmt.Errorf("oidc: mint ID token: load user: %w", err)
		}
	}
	if u.Disabled {
		return "", oauth.ErrInvalidGrant("the user account is not available")
	}
	key, err := m.keys.Signer(ctx, m.alg)
	if err != nil {
		return "", fmt.Errorf("oidc: mint ID token: %w", err)
	}
	now := m.now().UTC().Truncate(time.Second)
	c := idTokenClaims{
		Iss:        m.issuer,
		Aud:        p.Client.ID,
		Exp:        now.Add(m.lifetime).Unix(),
		Iat:        now.Unix(),
		Nonce:      p.Nonce,
		Azp:        p.Client.ID,
		userClaims: claimsFor(u, p.Scopes),
	}
	if !p.AuthTime.IsZero() {
		c.AuthTime = p.AuthTime.Unix()
	}
	if p.AccessToken != "" {
		if c.AtHash, err = HalfHash(key.Algorithm, p.AccessToken); err != nil {
			return "", fmt.Errorf("oidc: mint ID token: at_hash: %w", err)
		}
	}
	if p.Code != "" {
		if c.CHash, err = HalfHash(key.Algorithm, p.Code); err != nil {
			return "", fmt.Errorf("oidc: mint ID token: c_hash: %w", err)
		}
	}
	raw, err := token.SignJWT(key, "JWT", &c)
	if err != nil {
		return "", fmt.Errorf("oidc: mint ID token: %w", err)
	}
	return raw, nil
}

// HalfHash computes at_hash and c_hash (OpenID Connect Core 3.1.3.6 and 3.3.2.11): the
// base64url encoding of the left half of the hash of value's ASCII octets, with the hash of
// the JWS algorithm alg: SHA-256 for ES256, RS256 and PS256, SHA-384 for the *384
// algorithms, and SHA-512 for the *512 algorithms and EdDSA (Ed25519 hashes with SHA-512;
// OpenID Connect practice, as in go-oidc).
func HalfHash(alg, value string) (string, error) {
	var sum []byte
	switch alg {
	case "ES256", "RS256", "PS256":
		s := sha256.Sum256([]byte(value))
		sum = s[:]
	case "ES384", "RS384", "PS384":
		s := sha512.Sum384([]byte(value))
		sum = s[:]
	case "ES512", "RS512", "PS512", "EdDSA":
		s := sha512.Sum512([]byte(value))
		sum = s[:]
	default:
		return "", fmt.Errorf("no hash for algorithm %q", alg)
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// mayReload reports whether a forced key reload is allowed now: at most one a second, so
// that a flood of hints naming unknown kids cannot hammer the database.
func (m *Minter) mayReload() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if !m.lastReload.IsZero() && now.Sub(m.lastReload) < time.Second && !now.Before(m.lastReload) {
		return false
	}
	m.lastReload = now
	return true
}
