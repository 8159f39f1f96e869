package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// manager is every operation the clients, scopes, users, keys and tokens commands run. The
// local manager runs them on the database through the admin package; the remote manager
// sends them to a running server's admin API (--admin-url). Both return the same records and
// the same kinds of error (storage.ErrNotFound, storage.ErrConflict, admin.ValidationErrors),
// so a command prints the same output whichever it was given.
type manager interface {
	CreateClient(ctx context.Context, in admin.ClientInput) (storage.Client, string, error)
	ListClients(ctx context.Context) ([]storage.Client, error)
	GetClient(ctx context.Context, id string) (storage.Client, error)
	UpdateClient(ctx context.Context, id string, patch admin.ClientPatch) (storage.Client, string, error)
	DeleteClient(ctx context.Context, id string) error
	RotateSecret(ctx context.Context, id string) (string, error)

	CreateScope(ctx context.Context, in admin.ScopeInput) (storage.Scope, error)
	ListScopes(ctx context.Context) ([]storage.Scope, error)
	UpdateScope(ctx context.Context, name string, patch admin.ScopePatch) (storage.Scope, error)
	DeleteScope(ctx context.Context, name string) error

	CreateUser(ctx context.Context, in admin.UserInput) (storage.User, string, error)
	ListUsers(ctx context.Context) ([]storage.User, error)
	GetUser(ctx context.Context, ref string) (storage.User, error)
	UpdateUser(ctx context.Context, ref string, patch admin.UserPatch) (storage.User, error)
	SetPassword(ctx context.Context, ref, password string) (admin.Signout, error)
	DisableUser(ctx context.Context, ref string) (storage.User, admin.Signout, error)
	EnableUser(ctx context.Context, ref string) (storage.User, error)
	DeleteUser(ctx context.Context, ref string) (storage.User, error)

	ListKeys(ctx context.Context) ([]admin.KeyInfo, error)
	// RotateKey rotates alg's keys ("" means the server's access token algorithm) and returns
	// the new current key and how long the previous one stays published.
	RotateKey(ctx context.Context, alg string) (admin.KeyInfo, time.Duration, error)

	CreatePersonalToken(ctx context.Context, in admin.PersonalTokenInput) (storage.Token, string, error)
	ListPersonalTokens(ctx context.Context, userRef string) ([]storage.Token, error)
	RevokePersonalToken(ctx context.Context, userRef, id string) (storage.Token, error)
}

// localManager runs the operations on the database, acting as "cli" in the audit trail.
type localManager struct {
	*admin.Admin
	s *session
}

var _ manager = (*localManager)(nil)

func newLocalManager(s *session) *localManager {
	return &localManager{Admin: admin.New(s.store, nil, time.Now).WithActor("cli").WithIssuer(s.cfg.Issuer), s: s}
}

// RotateKey opens the signing keys with the configured encryption key (it never makes one),
// and keeps the previous key published for the lifetime of the tokens it signed.
func (m *localManager) RotateKey(ctx context.Context, alg string) (admin.KeyInfo, time.Duration, error) {
	if alg == "" {
		alg = m.s.cfg.Keys.Algorithm
	}
	// Only the algorithms the server signs with, as the admin API: a key of another one
	// would be published and never used.
	if algs := signingAlgorithms(m.s.cfg); !slices.Contains(algs, alg) {
		return admin.KeyInfo{}, 0, admin.ValidationErrors{{Field: "algorithm",
			Message: fmt.Sprintf("%q is not an algorithm this server signs with (%s)", clip(alg), strings.Join(algs, ", "))}}
	}
	key, err := sealingKey(m.s.cfg, m.s.log, keyExisting)
	if err != nil {
		return admin.KeyInfo{}, 0, err
	}
	sealer, err := token.NewSealer(key)
	if err != nil {
		return admin.KeyInfo{}, 0, err
	}
	keys := oauth.NewKeyring(m.s.store, sealer, oauth.KeyringOptions{})
	retain := keyRetain(m.s.cfg, alg)
	cur, err := admin.New(m.s.store, keys, time.Now).WithActor("cli").RotateKey(ctx, alg, retain)
	return cur, retain, err
}

// withManager runs fn with the manager of the command line: remote when an admin API URL is
// set (--admin-url or GATEHOUSE_ADMIN_URL), else local on the database.
func (c *cli) withManager(cmd *cobra.Command, fn func(ctx context.Context, m manager) error) error {
	r, err := c.remoteSettings(cmd)
	if err != nil {
		return err
	}
	if r != nil {
		m, err := newRemoteManager(r)
		if err != nil {
			return err
		}
		return shown(remoteError(r, fn(cmd.Context(), m)))
	}
	s, err := c.openStore(cmd)
	if err != nil {
		return err
	}
	defer s.close()
	return shown(fn(cmd.Context(), newLocalManager(s)))
}

// shownError is an error with the text the command prints, the same in both modes; it
// unwraps to the error it replaces, so errors.Is and errors.As still see the cause.
type shownError struct {
	msg string
	err error
}

func (e *shownError) Error() string { return e.msg }
func (e *shownError) Unwrap() error { return e.err }

// shown gives the errors a user can fix one text in both modes:
//   - invalid input: every invalid field ("invalid input: redirect_uris[0]: …; scopes[0]: …"),
//     found with errors.As whether admin returned it or the admin API sent its fields;
//   - not found and conflicts: the admin error without its package prefixes ("get client
//     \"ghost\": not found"), which is also what the admin API sends as the description.
//
// Other errors are returned as they are.
func shown(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*shownError](err); ok {
		return err
	}
	if ve, ok := errors.AsType[admin.ValidationErrors](err); ok {
		return &shownError{msg: ve.Error(), err: err}
	}
	if v, ok := errors.AsType[*admin.ValidationError](err); ok {
		return &shownError{msg: admin.ValidationErrors{v}.Error(), err: err}
	}
	if desc, ok := apiDescription(err); ok {
		return &shownError{msg: tidy(desc), err: err}
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		return &shownError{msg: tidy(strings.NewReplacer("admin: ", "", "storage: ", "").Replace(err.Error())), err: err}
	}
	return err
}

// tidy shortens the text of a not-found or conflict error to what the user needs: the
// operation and what was not found ("update client \"x\": get client: sqlstore: get client:
// not found" is "update client \"x\": not found"), or the reason of a conflict without the
// sentinel's word ("create scope \"read\": scope \"read\" already exists").
func tidy(msg string) string {
	if rest, ok := strings.CutSuffix(msg, ": not found"); ok {
		return firstSegment(rest) + ": not found"
	}
	return strings.TrimSuffix(msg, ": conflict")
}

// firstSegment returns s up to its first ": " outside a quoted string (names are quoted
// with %q, and may hold ": ").
func firstSegment(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], ": "):
			return s[:i]
		}
	}
	return s
}

// clip keeps echoed input short, as the admin package and API do.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
