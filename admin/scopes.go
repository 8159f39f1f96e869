package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// ScopeInput is a new scope.
type ScopeInput struct {
	Name        string
	Description string
	// Default scopes are granted when a request names none (and the client is allowed them).
	Default bool
}

// ScopePatch changes the non-nil fields of a scope.
type ScopePatch struct {
	Description *string
	Default     *bool
}

// CreateScope adds a scope to the catalogue; a taken name is storage.ErrConflict.
func (a *Admin) CreateScope(ctx context.Context, in ScopeInput) (storage.Scope, error) {
	s := storage.Scope{Name: strings.TrimSpace(in.Name), Description: strings.TrimSpace(in.Description),
		Default: in.Default, CreatedAt: a.timestamp()}
	var p problems
	checkScope(&p, &s)
	if err := p.err(); err != nil {
		return storage.Scope{}, fmt.Errorf("admin: create scope: %w", err)
	}
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		if _, err := tx.GetScope(ctx, s.Name); err == nil {
			return fmt.Errorf("scope %q already exists: %w", s.Name, storage.ErrConflict)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("check scope: %w", err)
		}
		if err := tx.CreateScope(ctx, s); err != nil {
			return fmt.Errorf("store scope: %w", err)
		}
		return a.audit(ctx, tx, s.CreatedAt, EventScopeCreated, "", scopeDetails(s))
	})
	if err != nil {
		return storage.Scope{}, fmt.Errorf("admin: create scope %q: %w", clip(s.Name), err)
	}
	a.invalidateScopes()
	return s, nil
}

func scopeDetails(s storage.Scope) map[string]string {
	return map[string]string{"scope": s.Name, "default": strconv.FormatBool(s.Default), "description": s.Description}
}

// GetScope returns one scope.
func (a *Admin) GetScope(ctx context.Context, name string) (storage.Scope, error) {
	s, err := a.store.GetScope(ctx, name)
	if err != nil {
		return storage.Scope{}, fmt.Errorf("admin: get scope %q: %w", clip(name), err)
	}
	return s, nil
}

// ListScopes returns the catalogue ordered by name.
func (a *Admin) ListScopes(ctx context.Context) ([]storage.Scope, error) {
	list, err := a.store.ListScopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list scopes: %w", err)
	}
	return list, nil
}

// UpdateScope applies patch to scope name. A patch that changes nothing writes nothing.
func (a *Admin) UpdateScope(ctx context.Context, name string, patch ScopePatch) (storage.Scope, error) {
	var (
		updated storage.Scope
		changed bool
	)
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		old, err := tx.GetScope(ctx, name)
		if err != nil {
			return fmt.Errorf("get scope: %w", err)
		}
		s := old
		if patch.Description != nil {
			s.Description = strings.TrimSpace(*patch.Description)
		}
		if patch.Default != nil {
			s.Default = *patch.Default
		}
		var p problems
		checkScope(&p, &s)
		if err := p.err(); err != nil {
			return err
		}
		updated = s
		if s == old {
			return nil
		}
		changed = true
		return a.writeScopeUpdate(ctx, tx, old, s)
	})
	if err != nil {
		return storage.Scope{}, fmt.Errorf("admin: update scope %q: %w", clip(name), err)
	}
	if changed {
		a.invalidateScopes()
	}
	return updated, nil
}

// writeScopeUpdate stores s (a changed version of old) with its audit event.
func (a *Admin) writeScopeUpdate(ctx context.Context, tx storage.Store, old, s storage.Scope) error {
	if err := tx.UpdateScope(ctx, s); err != nil {
		return fmt.Errorf("store scope: %w", err)
	}
	details := scopeDetails(s)
	var fields []string
	if old.Description != s.Description {
		fields = append(fields, "description")
	}
	if old.Default != s.Default {
		fields = append(fields, "default")
	}
	details["changed"] = strings.Join(fields, " ")
	return a.audit(ctx, tx, a.timestamp(), EventScopeUpdated, "", details)
}

// DeleteScope removes a scope from the catalogue: storage.ErrNotFound if absent, and
// storage.ErrConflict while clients are still allowed it (remove it from them first, so that
// deleting a scope never silently changes what a client may do).
func (a *Admin) DeleteScope(ctx context.Context, name string) error {
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		if _, err := tx.GetScope(ctx, name); err != nil {
			return fmt.Errorf("get scope: %w", err)
		}
		clients, err := tx.ListClients(ctx)
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		var users []string
		for _, c := range clients {
			if slices.Contains(c.Scopes, name) {
				users = append(users, c.ID)
			}
		}
		if len(users) > 0 {
			if len(users) > 5 {
				users = append(users[:5], fmt.Sprintf("and %d more", len(users)-5))
			}
			return fmt.Errorf("scope is allowed to clients %s: %w", strings.Join(users, ", "), storage.ErrConflict)
		}
		if err := tx.DeleteScope(ctx, name); err != nil {
			return fmt.Errorf("delete scope: %w", err)
		}
		return a.audit(ctx, tx, a.timestamp(), EventScopeDeleted, "", map[string]string{"scope": name})
	})
	if err != nil {
		return fmt.Errorf("admin: delete scope %q: %w", clip(name), err)
	}
	a.invalidateScopes()
	return nil
}
