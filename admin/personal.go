package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// PersonalTokenInput is a new personal access token made by an operator for a user.
type PersonalTokenInput struct {
	// User is the user's ID or username.
	User string
	// Name is 1 to 100 printable characters.
	Name string
	// Scopes are at least one scope of the catalogue (not an OpenID Connect scope).
	Scopes []string
	// Lifetime is at most oauth.DefaultPersonalTokenMaxLifetime; 0 means 30 days.
	Lifetime time.Duration
}

// WithIssuer returns a copy of a that makes personal access tokens for issuer (their
// audience); CreatePersonalToken needs it.
func (a *Admin) WithIssuer(issuer string) *Admin {
	c := *a
	c.issuer = issuer
	return &c
}

// personalTokens is the one implementation of the rules, shared with the Provider.
func (a *Admin) personalTokens() *oauth.PersonalTokens {
	return &oauth.PersonalTokens{Store: a.store, Issuer: a.issuer, Now: a.now, Actor: a.actor}
}

// CreatePersonalToken makes a personal access token for a user, with the rules of the
// account page (oauth.PersonalTokens.Create), and returns it with its value: this is the
// only time the value is available. Invalid input is ValidationErrors; an unknown user is
// storage.ErrNotFound.
func (a *Admin) CreatePersonalToken(ctx context.Context, in PersonalTokenInput) (storage.Token, string, error) {
	if a.issuer == "" {
		return storage.Token{}, "", errors.New("admin: create personal access token: no issuer (use WithIssuer)")
	}
	u, err := findUser(ctx, a.store, in.User)
	if err != nil {
		return storage.Token{}, "", fmt.Errorf("admin: user %q: %w", clip(in.User), err)
	}
	value, t, err := a.personalTokens().Create(ctx, u.ID, in.Name, in.Scopes, in.Lifetime)
	if err != nil {
		return storage.Token{}, "", personalError("create personal access token", err)
	}
	return t, value, nil
}

// ListPersonalTokens returns the active personal access tokens of the user whose ID or
// username is userRef, oldest first, without hashes.
func (a *Admin) ListPersonalTokens(ctx context.Context, userRef string) ([]storage.Token, error) {
	u, err := findUser(ctx, a.store, userRef)
	if err != nil {
		return nil, fmt.Errorf("admin: user %q: %w", clip(userRef), err)
	}
	list, err := a.personalTokens().List(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return list, nil
}

// RevokePersonalToken revokes the active personal access token id and returns it. With
// userRef (an ID or username) only that user's tokens are considered; without it, every
// user's, which reads the token list of each user. An unknown token is storage.ErrNotFound.
func (a *Admin) RevokePersonalToken(ctx context.Context, userRef, id string) (storage.Token, error) {
	var users []storage.User
	if userRef != "" {
		u, err := findUser(ctx, a.store, userRef)
		if err != nil {
			return storage.Token{}, fmt.Errorf("admin: user %q: %w", clip(userRef), err)
		}
		users = []storage.User{u}
	} else {
		var err error
		if users, err = a.store.ListUsers(ctx); err != nil {
			return storage.Token{}, fmt.Errorf("admin: list users: %w", err)
		}
	}
	pt := a.personalTokens()
	for _, u := range users {
		list, err := pt.List(ctx, u.ID)
		if err != nil {
			return storage.Token{}, fmt.Errorf("admin: %w", err)
		}
		i := slices.IndexFunc(list, func(t storage.Token) bool { return t.ID == id })
		if i < 0 {
			continue
		}
		if err := pt.Revoke(ctx, u.ID, id); err != nil {
			return storage.Token{}, fmt.Errorf("admin: %w", err)
		}
		return list[i], nil
	}
	return storage.Token{}, fmt.Errorf("admin: personal access token %q: %w", clip(id), storage.ErrNotFound)
}

// personalError turns the oauth package's input errors into ValidationErrors.
func personalError(what string, err error) error {
	if ie, ok := errors.AsType[*oauth.InvalidPersonalTokenError](err); ok {
		return ValidationErrors{{Field: ie.Field, Message: ie.Reason}}
	}
	return fmt.Errorf("admin: %s: %w", what, err)
}
