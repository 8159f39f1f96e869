package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Personal access tokens are opaque bearer tokens a user makes for themselves (for scripts
// and CI), like GitHub's: prefixed "ghp_", stored as a SHA-256 hash with Kind
// storage.KindPersonal, shown once. They belong to no client: ClientID is empty, so no
// client's token list, consent or deletion touches them, and /oauth2/revoke ignores them
// (only the user, on the account page, or an operator, with the CLI, revokes them). They
// introspect like opaque access tokens, with token_use "personal_access_token". Their scopes
// are those of the stored catalogue: the OpenID Connect scopes are for clients that sign
// users in, so a personal token never carries them (and userinfo refuses it).

// Audit event types of personal access tokens.
const (
	EventPersonalTokenCreated = "personal_token.created"
	EventPersonalTokenRevoked = "personal_token.revoked"
)

// Limits of personal access tokens.
const (
	// DefaultPersonalTokenMaxLifetime is Options.PersonalTokenMaxLifetime's default.
	DefaultPersonalTokenMaxLifetime = 365 * 24 * time.Hour
	// DefaultPersonalTokenLifetime is the lifetime of a token created with lifetime 0 (or
	// the maximum, when that is shorter).
	DefaultPersonalTokenLifetime = 30 * 24 * time.Hour
	// MaxPersonalTokenName is the longest name, in characters.
	MaxPersonalTokenName = 100
	// personalTouchInterval: LastUsedAt is written at most this often per token.
	personalTouchInterval = time.Minute
)

// InvalidPersonalTokenError says why a personal access token cannot be created. Its
// message is meant for the user.
type InvalidPersonalTokenError struct {
	// Field is "user", "name", "scope" or "lifetime".
	Field  string
	Reason string
}

func (e *InvalidPersonalTokenError) Error() string { return e.Reason }

func invalidPersonal(field, format string, args ...any) error {
	return &InvalidPersonalTokenError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// PersonalTokens creates, lists and revokes personal access tokens in a Store. The Provider
// uses one (see its PersonalToken methods); tools without a Provider, such as the admin
// package behind the CLI, make their own, so the rules live in one place.
type PersonalTokens struct {
	Store storage.Store
	// Users is where the user is checked; default Store.
	Users storage.Users
	// Issuer is the audience of the tokens.
	Issuer string
	// MaxLifetime defaults to DefaultPersonalTokenMaxLifetime.
	MaxLifetime time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Actor is the audit actor; default the user.
	Actor string
}

func (pt *PersonalTokens) now() time.Time {
	if pt.Now == nil {
		return time.Now()
	}
	return pt.Now()
}

func (pt *PersonalTokens) maxLifetime() time.Duration {
	if pt.MaxLifetime <= 0 {
		return DefaultPersonalTokenMaxLifetime
	}
	return pt.MaxLifetime
}

func (pt *PersonalTokens) actor(userID string) string {
	if pt.Actor != "" {
		return pt.Actor
	}
	return userID
}

// Scopes returns the scopes a user may grant a personal access token: the stored catalogue
// without the OpenID Connect scopes, ordered by name.
func (pt *PersonalTokens) Scopes(ctx context.Context) ([]storage.Scope, error) {
	list, err := pt.Store.ListScopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	return slices.DeleteFunc(list, func(s storage.Scope) bool { return isUserScope(s.Name) }), nil
}

// Create makes a personal access token for an active user and returns its value, which is
// shown this once and stored only as a hash. The name is 1 to MaxPersonalTokenName printable
// characters (trimmed); scopes are at least one of Scopes; lifetime is positive and at most
// MaxLifetime, and 0 means DefaultPersonalTokenLifetime. Invalid input is an
// *InvalidPersonalTokenError; an unknown user is storage.ErrNotFound.
func (pt *PersonalTokens) Create(ctx context.Context, userID, name string, scopes []string, lifetime time.Duration) (string, storage.Token, error) {
	name = strings.TrimSpace(name)
	if err := checkPersonalName(name); err != nil {
		return "", storage.Token{}, err
	}
	maxLife := pt.maxLifetime()
	switch {
	case lifetime == 0:
		lifetime = min(DefaultPersonalTokenLifetime, maxLife)
	case lifetime < 0:
		return "", storage.Token{}, invalidPersonal("lifetime", "the expiry must be in the future")
	case lifetime > maxLife:
		return "", storage.Token{}, invalidPersonal("lifetime", "the expiry must be at most %s", days(maxLife))
	}
	allowed, err := pt.Scopes(ctx)
	if err != nil {
		return "", storage.Token{}, err
	}
	scopes, err = checkPersonalScopes(scopes, allowed)
	if err != nil {
		return "", storage.Token{}, err
	}
	value, err := token.NewOpaque(token.PrefixPersonal)
	if err != nil {
		return "", storage.Token{}, err
	}
	id, err := NewID()
	if err != nil {
		return "", storage.Token{}, fmt.Errorf("token id: %w", err)
	}
	now := pt.now().UTC().Truncate(time.Second)
	t := storage.Token{ID: id, Hash: token.Hash(value), Kind: storage.KindPersonal, Subject: userID,
		Scopes: scopes, Audience: []string{pt.Issuer}, IssuedAt: now, ExpiresAt: now.Add(lifetime), Name: name}
	err = pt.Store.InTx(ctx, func(tx storage.Store) error {
		users := pt.Users
		if users == nil {
			users = tx
		}
		u, err := users.GetUser(ctx, userID)
		if err != nil {
			return fmt.Errorf("user %s: %w", userID, err)
		}
		if u.Disabled {
			return invalidPersonal("user", "the user is disabled")
		}
		if err := tx.CreateToken(ctx, t); err != nil {
			return fmt.Errorf("store the token: %w", err)
		}
		return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: EventPersonalTokenCreated, Actor: pt.actor(userID),
			Subject: userID, Details: map[string]string{"id": id, "name": name, "scope": joinScopes(scopes),
				"expires_at": t.ExpiresAt.Format(time.RFC3339)}})
	})
	if err != nil {
		return "", storage.Token{}, err
	}
	t.Hash = nil
	return value, t, nil
}

// List returns the user's unrevoked, unexpired personal access tokens, oldest first, without
// their hashes.
func (pt *PersonalTokens) List(ctx context.Context, userID string) ([]storage.Token, error) {
	list, err := pt.Store.ListTokens(ctx, storage.TokenFilter{Subject: userID, Kind: storage.KindPersonal}, pt.now())
	if err != nil {
		return nil, fmt.Errorf("list personal access tokens: %w", err)
	}
	out := list[:0]
	for _, t := range list {
		// The filter already asks for the kind; this guards against a store that ignores it.
		if t.Kind == storage.KindPersonal {
			t.Hash = nil
			out = append(out, t)
		}
	}
	return out, nil
}

// Revoke revokes the user's personal access token id. A token of another user, or one that
// is revoked or expired already, is storage.ErrNotFound.
func (pt *PersonalTokens) Revoke(ctx context.Context, userID, id string) error {
	now := pt.now().UTC()
	return pt.Store.InTx(ctx, func(tx storage.Store) error {
		list, err := tx.ListTokens(ctx, storage.TokenFilter{Subject: userID, Kind: storage.KindPersonal}, now)
		if err != nil {
			return fmt.Errorf("list personal access tokens: %w", err)
		}
		i := slices.IndexFunc(list, func(t storage.Token) bool { return t.ID == id && t.Kind == storage.KindPersonal })
		if i < 0 {
			return fmt.Errorf("personal access token %q: %w", id, storage.ErrNotFound)
		}
		if err := tx.RevokeToken(ctx, id, now); err != nil {
			return fmt.Errorf("revoke personal access token %q: %w", id, err)
		}
		return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: EventPersonalTokenRevoked, Actor: pt.actor(userID),
			Subject: userID, Details: map[string]string{"id": id, "name": list[i].Name}})
	})
}

func checkPersonalName(name string) error {
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return invalidPersonal("name", "the token needs a name")
	}
	if n > MaxPersonalTokenName {
		return invalidPersonal("name", "the name must be at most %d characters", MaxPersonalTokenName)
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return invalidPersonal("name", "the name must hold printable characters only")
	}
	return nil
}

// checkPersonalScopes returns the requested scopes without duplicates, or why they cannot be
// granted.
func checkPersonalScopes(requested []string, allowed []storage.Scope) ([]string, error) {
	var out []string
	for _, s := range requested {
		if slices.Contains(out, s) {
			continue
		}
		if !slices.ContainsFunc(allowed, func(a storage.Scope) bool { return a.Name == s }) {
			if len(s) > 64 {
				s = s[:64] + "…"
			}
			return nil, invalidPersonal("scope", "the scope %q cannot be granted to a personal access token", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, invalidPersonal("scope", "choose at least one scope")
	}
	return out, nil
}

// days writes d in days when it is a whole number of them.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		if d == day {
			return "1 day"
		}
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// personalTokens returns the Provider's PersonalTokens.
func (p *Provider) personalTokens() *PersonalTokens {
	pt := &PersonalTokens{Store: p.store, Issuer: p.opts.Issuer, MaxLifetime: p.opts.PersonalTokenMaxLifetime, Now: p.now}
	if !p.usersInStore {
		pt.Users = p.users
	}
	return pt
}

// PersonalTokenMaxLifetime is the longest lifetime a personal access token may have.
func (p *Provider) PersonalTokenMaxLifetime() time.Duration { return p.opts.PersonalTokenMaxLifetime }

// PersonalTokenScopes returns the scopes a user may grant a personal access token.
func (p *Provider) PersonalTokenScopes(ctx context.Context) ([]storage.Scope, error) {
	return p.personalTokens().Scopes(ctx)
}

// CreatePersonalToken makes a personal access token for userID; see PersonalTokens.Create.
func (p *Provider) CreatePersonalToken(ctx context.Context, userID, name string, scopes []string, lifetime time.Duration) (string, storage.Token, error) {
	return p.personalTokens().Create(ctx, userID, name, scopes, lifetime)
}

// ListPersonalTokens lists userID's active personal access tokens.
func (p *Provider) ListPersonalTokens(ctx context.Context, userID string) ([]storage.Token, error) {
	return p.personalTokens().List(ctx, userID)
}

// RevokePersonalToken revokes userID's personal access token id; storage.ErrNotFound when
// the user has no such active token.
func (p *Provider) RevokePersonalToken(ctx context.Context, userID, id string) error {
	return p.personalTokens().Revoke(ctx, userID, id)
}

// touchPersonal records that a personal access token was used, at most once a
// personalTouchInterval per token. It never fails the caller: a failed write is logged.
func (p *Provider) touchPersonal(ctx context.Context, t *storage.Token) {
	if t.Kind != storage.KindPersonal {
		return
	}
	now := p.now().UTC()
	if t.LastUsedAt.After(now.Add(-personalTouchInterval)) {
		return
	}
	if err := p.store.TouchToken(ctx, t.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.log.WarnContext(ctx, "could not record the use of a personal access token", "token_id", t.ID, "err", err)
		return
	}
	t.LastUsedAt = now
}
