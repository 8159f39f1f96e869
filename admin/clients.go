package admin

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// ClientInput is a new client.
type ClientInput struct {
	// ID is generated when empty: a slug of Name and a random suffix ("billing-api-k3x9q2m7ha").
	ID string
	// Name defaults to the ID.
	Name string
	// Public clients (browser and native apps) have no secret; confidential ones get a
	// generated secret.
	Public  bool
	Trusted bool
	// GrantTypes: client_credentials, authorization_code, refresh_token, password, implicit,
	// urn:ietf:params:oauth:grant-type:device_code ("device_code" for short).
	GrantTypes []string
	// Scopes the client may request; each must exist in the catalogue or be one of the
	// OpenID Connect scopes (openid, profile, email, offline_access), which are built in.
	Scopes                 []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// TokenFormat is "jwt" (default) or "opaque".
	TokenFormat string
}

// ClientPatch changes the non-nil fields of a client. A nil slice pointer leaves the list as
// is; a pointer to an empty slice clears it.
type ClientPatch struct {
	Name                   *string
	Public                 *bool
	Trusted                *bool
	GrantTypes             *[]string
	Scopes                 *[]string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	TokenFormat            *string
	// Version, when not zero, is the version the caller read (the admin API's ETag): the
	// update fails with storage.ErrConflict, writing nothing, unless the client is still at it.
	Version int64
}

// Empty reports whether the patch changes nothing (Version is a condition, not a change).
func (p ClientPatch) Empty() bool {
	p.Version = 0
	return p == ClientPatch{}
}

// CreateClient validates in and stores a new client. For a confidential client it generates a
// secret, stores only its hash, and returns the secret: this is the only time it is available.
// A taken ID is storage.ErrConflict.
func (a *Admin) CreateClient(ctx context.Context, in ClientInput) (storage.Client, string, error) {
	c := storage.Client{
		ID: in.ID, Name: in.Name, Public: in.Public, Trusted: in.Trusted,
		GrantTypes: slices.Clone(in.GrantTypes), Scopes: slices.Clone(in.Scopes),
		RedirectURIs: slices.Clone(in.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(in.PostLogoutRedirectURIs),
		TokenFormat: in.TokenFormat,
	}
	generated := strings.TrimSpace(c.ID) == ""
	if generated {
		id, err := newClientID(in.Name)
		if err != nil {
			return storage.Client{}, "", fmt.Errorf("admin: create client: %w", err)
		}
		c.ID = id
	}
	normalizeClient(&c)
	var secret string
	if !c.Public {
		var err error
		if secret, err = token.NewClientSecret(); err != nil {
			return storage.Client{}, "", fmt.Errorf("admin: create client: %w", err)
		}
		c.SecretHash = token.HashGeneratedSecret(secret)
	}
	now := a.timestamp()
	c.CreatedAt, c.UpdatedAt = now, now
	c.Version = 1 // what CreateClient stores
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		if err := validateClient(ctx, tx, &c); err != nil {
			return err
		}
		if generated {
			if err := a.ensureFreeID(ctx, tx, &c, in.Name); err != nil {
				return err
			}
		} else if _, err := tx.GetClient(ctx, c.ID); err == nil {
			return fmt.Errorf("client %q already exists: %w", c.ID, storage.ErrConflict)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("check client id: %w", err)
		}
		if err := tx.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("store client %q: %w", c.ID, err)
		}
		return a.audit(ctx, tx, now, EventClientCreated, c.ID, clientDetails(c))
	})
	if err != nil {
		return storage.Client{}, "", fmt.Errorf("admin: create client: %w", err)
	}
	a.invalidateClient(c.ID)
	return redact(c), secret, nil
}

// validateClient checks a normalized client, including that its scopes exist in tx's
// catalogue, and reports every problem.
func validateClient(ctx context.Context, tx storage.Store, c *storage.Client) error {
	var p problems
	checkClient(&p, c)
	if len(c.Scopes) > 0 {
		cat, err := catalogue(ctx, tx)
		if err != nil {
			return err
		}
		checkScopesExist(&p, c.Scopes, cat)
	}
	return p.err()
}

// builtinScopes are the OpenID Connect scopes the oauth package knows without a catalogue
// entry; clients may be allowed them like any stored scope.
var builtinScopes = []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeOfflineAccess}

// catalogue returns the names of the scopes a client may be allowed: the stored ones and the
// built-in OpenID Connect ones.
func catalogue(ctx context.Context, tx storage.Store) (map[string]bool, error) {
	list, err := tx.ListScopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	cat := make(map[string]bool, len(list)+len(builtinScopes))
	for _, s := range builtinScopes {
		cat[s] = true
	}
	for _, s := range list {
		cat[s.Name] = true
	}
	return cat, nil
}

// ensureFreeID replaces c's generated ID with another while it is taken.
func (a *Admin) ensureFreeID(ctx context.Context, tx storage.Store, c *storage.Client, name string) error {
	for range 5 {
		_, err := tx.GetClient(ctx, c.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("check client id: %w", err)
		}
		id, err := newClientID(name)
		if err != nil {
			return err
		}
		if c.Name == c.ID {
			c.Name = id
		}
		c.ID = id
	}
	return fmt.Errorf("generate a free client id: %w", storage.ErrConflict)
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newClientID returns a readable slug of name with a 50-bit random suffix, or 16 random bytes in
// base64url when the name has no usable characters.
func newClientID(name string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	slug := slugify(name)
	if slug == "" {
		return oauth.NewID()
	}
	return slug + "-" + lowerBase32.EncodeToString(b[:])[:10], nil
}

// slugify keeps lower-case ASCII letters and digits of s, with single dashes between words,
// at most 32 characters.
func slugify(s string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && sb.Len() > 0 {
				sb.WriteByte('-')
			}
			dash = false
			sb.WriteRune(r)
		default:
			dash = true
		}
		if sb.Len() >= 32 {
			break
		}
	}
	return strings.TrimRight(sb.String()[:min(sb.Len(), 32)], "-")
}

// clientDetails are the audit details of a client: what it may do, never its secret.
func clientDetails(c storage.Client) map[string]string {
	return map[string]string{
		"name":         c.Name,
		"public":       strconv.FormatBool(c.Public),
		"trusted":      strconv.FormatBool(c.Trusted),
		"grant_types":  strings.Join(c.GrantTypes, " "),
		"scopes":       strings.Join(c.Scopes, " "),
		"token_format": c.TokenFormat,
	}
}

// redact returns c without its secret hash.
func redact(c storage.Client) storage.Client {
	c.SecretHash = ""
	return c
}

// GetClient returns a client (without its secret hash).
func (a *Admin) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := a.store.GetClient(ctx, id)
	if err != nil {
		return storage.Client{}, fmt.Errorf("admin: get client %q: %w", clip(id), err)
	}
	return redact(c), nil
}

// ListClients returns every client ordered by ID (without secret hashes).
func (a *Admin) ListClients(ctx context.Context) ([]storage.Client, error) {
	list, err := a.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list clients: %w", err)
	}
	for i := range list {
		list[i] = redact(list[i])
	}
	return list, nil
}

// UpdateClient applies patch to client id. Making a public client confidential generates a
// secret, returned as the second result (empty otherwise, and shown only this once); making a
// confidential client public drops its secret. A patch that changes nothing writes nothing.
func (a *Admin) UpdateClient(ctx context.Context, id string, patch ClientPatch) (storage.Client, string, error) {
	var (
		updated storage.Client
		secret  string
		changed bool
	)
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		old, err := tx.GetClient(ctx, id)
		if err != nil {
			return fmt.Errorf("get client: %w", err)
		}
		if patch.Version != 0 && old.Version != patch.Version {
			return fmt.Errorf("client is at version %d, not %d: %w", old.Version, patch.Version, storage.ErrConflict)
		}
		c := old
		applyPatch(&c, patch)
		normalizeClient(&c)
		if err := validateClient(ctx, tx, &c); err != nil {
			return err
		}
		switch {
		case c.Public:
			c.SecretHash = ""
		case old.Public:
			if secret, err = token.NewClientSecret(); err != nil {
				return err
			}
			c.SecretHash = token.HashGeneratedSecret(secret)
		}
		fields := changedFields(old, c)
		if len(fields) == 0 {
			updated = old
			return nil
		}
		changed = true
		c.UpdatedAt = a.timestamp()
		if err := tx.UpdateClient(ctx, c); err != nil {
			return fmt.Errorf("store client: %w", err)
		}
		c.Version++ // what UpdateClient stored
		details := clientDetails(c)
		details["changed"] = strings.Join(fields, " ")
		updated = c
		return a.audit(ctx, tx, c.UpdatedAt, EventClientUpdated, c.ID, details)
	})
	if err != nil {
		return storage.Client{}, "", fmt.Errorf("admin: update client %q: %w", clip(id), err)
	}
	if changed {
		a.invalidateClient(id)
	}
	return redact(updated), secret, nil
}

func applyPatch(c *storage.Client, p ClientPatch) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setL := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = slices.Clone(*v)
		}
	}
	set(&c.Name, p.Name)
	setB(&c.Public, p.Public)
	setB(&c.Trusted, p.Trusted)
	setL(&c.GrantTypes, p.GrantTypes)
	setL(&c.Scopes, p.Scopes)
	setL(&c.RedirectURIs, p.RedirectURIs)
	setL(&c.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs)
	set(&c.TokenFormat, p.TokenFormat)
}

// changedFields names the fields that differ between a and b, in snake case. The secret hash
// is "secret"; timestamps are ignored.
func changedFields(a, b storage.Client) []string {
	var out []string
	add := func(diff bool, name string) {
		if diff {
			out = append(out, name)
		}
	}
	add(a.Name != b.Name, "name")
	add(a.Public != b.Public, "public")
	add(a.Trusted != b.Trusted, "trusted")
	add(!slices.Equal(a.GrantTypes, b.GrantTypes), "grant_types")
	add(!slices.Equal(a.Scopes, b.Scopes), "scopes")
	add(!slices.Equal(a.RedirectURIs, b.RedirectURIs), "redirect_uris")
	add(!slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs), "post_logout_redirect_uris")
	add(a.TokenFormat != b.TokenFormat, "token_format")
	add(a.Declared != b.Declared, "declared")
	add(a.SecretHash != b.SecretHash, "secret")
	return out
}

// DeleteClient deletes a client and its tokens; storage.ErrNotFound if absent.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		c, err := tx.GetClient(ctx, id)
		if err != nil {
			return fmt.Errorf("get client: %w", err)
		}
		if err := tx.DeleteClient(ctx, id); err != nil {
			return fmt.Errorf("delete client: %w", err)
		}
		return a.audit(ctx, tx, a.timestamp(), EventClientDeleted, id, map[string]string{"name": c.Name})
	})
	if err != nil {
		return fmt.Errorf("admin: delete client %q: %w", clip(id), err)
	}
	a.invalidateClient(id)
	return nil
}

// RotateSecret replaces a confidential client's secret with a new generated one and returns it
// (shown only this once). The old secret stops working at once on this node, and on others
// after their client cache TTL.
func (a *Admin) RotateSecret(ctx context.Context, id string) (string, error) {
	secret, err := token.NewClientSecret()
	if err != nil {
		return "", fmt.Errorf("admin: rotate secret: %w", err)
	}
	err = a.store.InTx(ctx, func(tx storage.Store) error {
		c, err := tx.GetClient(ctx, id)
		if err != nil {
			return fmt.Errorf("get client: %w", err)
		}
		if c.Public {
			return ValidationErrors{{Field: "public", Message: "a public client has no secret to rotate"}}
		}
		c.SecretHash = token.HashGeneratedSecret(secret)
		c.UpdatedAt = a.timestamp()
		if err := tx.UpdateClient(ctx, c); err != nil {
			return fmt.Errorf("store client: %w", err)
		}
		return a.audit(ctx, tx, c.UpdatedAt, EventClientSecretRotated, id, nil)
	})
	if err != nil {
		return "", fmt.Errorf("admin: rotate secret of client %q: %w", clip(id), err)
	}
	a.invalidateClient(id)
	return secret, nil
}
