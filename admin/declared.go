package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// ScopeDecl is a scope declared in the configuration file.
type ScopeDecl struct {
	Name        string
	Description string
	Default     bool
}

// ClientDecl is a client declared in the configuration file.
type ClientDecl struct {
	ID string
	// Name defaults to ID.
	Name string
	// Secret is a plaintext secret chosen by the operator, stored argon2id-hashed; SecretHash
	// is an already hashed one (sha256$…, $argon2id$… or bcrypt), stored as is. A confidential
	// client has exactly one of them, a public client neither.
	Secret                 string
	SecretHash             string
	Public                 bool
	Trusted                bool
	GrantTypes             []string
	Scopes                 []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	TokenFormat            string
}

// UserDecl is a user declared in the configuration file. Only the declared fields are
// applied: roles, EmailVerified and the disabled state set with the CLI are left alone.
type UserDecl struct {
	// Username is the key: a declared user is matched by its (lower-cased) username.
	Username string
	// Password is a plaintext password, stored argon2id-hashed; PasswordHash is an argon2id
	// or bcrypt hash, stored as is. Exactly one of them.
	Password     string
	PasswordHash string
	Email        string
	Name         string
}

// Declarations are the scopes, clients and users of the configuration file. The admin
// package has its own types so that it does not import config; the command converts.
type Declarations struct {
	Scopes  []ScopeDecl
	Clients []ClientDecl
	Users   []UserDecl
}

// ApplyResult names what ApplyDeclared changed: scope names, client IDs and usernames.
type ApplyResult struct {
	ScopesCreated  []string
	ScopesUpdated  []string
	ClientsCreated []string
	ClientsUpdated []string
	UsersCreated   []string
	UsersUpdated   []string
}

// Changed reports whether anything was written.
func (r ApplyResult) Changed() bool {
	return len(r.ScopesCreated)+len(r.ScopesUpdated)+len(r.ClientsCreated)+len(r.ClientsUpdated)+
		len(r.UsersCreated)+len(r.UsersUpdated) > 0
}

// minDeclaredSecretLen is the shortest operator-chosen client secret accepted.
const minDeclaredSecretLen = 16

// ApplyDeclared makes the store match the declarations, idempotently: missing scopes,
// clients and users are created, changed ones updated, unchanged ones left alone (no write,
// no audit event), and nothing undeclared is deleted. Declared clients and users are marked
// Declared.
//
// A declared plaintext secret or password is hashed with argon2id only when the stored hash
// does not already verify it, so restarts do not rewrite clients and users. Every problem in
// the declarations is reported at once, with key paths such as "clients[1].scopes[0]";
// nothing is written then.
func (a *Admin) ApplyDeclared(ctx context.Context, d Declarations) (ApplyResult, error) {
	scopes, clients, decls, err := checkDeclarations(d)
	users, uerr := checkDeclaredUsers(d.Users)
	if err := joinProblems(err, uerr); err != nil {
		return ApplyResult{}, fmt.Errorf("admin: apply declared configuration: %w", err)
	}
	// Hash secrets before the transaction: argon2id is slow and the SQLite writer is single.
	if err := a.hashDeclaredSecrets(ctx, clients, decls); err != nil {
		return ApplyResult{}, fmt.Errorf("admin: apply declared configuration: %w", err)
	}
	if err := a.hashDeclaredPasswords(ctx, users, d.Users); err != nil {
		return ApplyResult{}, fmt.Errorf("admin: apply declared configuration: %w", err)
	}
	var res ApplyResult
	err = a.store.InTx(ctx, func(tx storage.Store) error {
		res = ApplyResult{}
		cat, err := catalogue(ctx, tx)
		if err != nil {
			return err
		}
		for _, s := range scopes {
			cat[s.Name] = true
		}
		var p problems
		for i := range clients {
			p.prefix = fmt.Sprintf("clients[%d]", i)
			checkScopesExist(&p, clients[i].Scopes, cat)
		}
		if err := p.err(); err != nil {
			return err
		}
		for _, s := range scopes {
			if err := a.applyScope(ctx, tx, s, &res); err != nil {
				return err
			}
		}
		for _, c := range clients {
			if err := a.applyClient(ctx, tx, c, &res); err != nil {
				return err
			}
		}
		for _, u := range users {
			if err := a.applyUser(ctx, tx, u, &res); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("admin: apply declared configuration: %w", err)
	}
	if len(res.ScopesCreated)+len(res.ScopesUpdated) > 0 {
		a.invalidateScopes()
	}
	for _, id := range slices.Concat(res.ClientsCreated, res.ClientsUpdated) {
		a.invalidateClient(id)
	}
	return res, nil
}

// checkDeclarations validates and normalizes the declarations. The returned clients have no
// secret hash yet.
func checkDeclarations(d Declarations) ([]storage.Scope, []storage.Client, []ClientDecl, error) {
	var p problems
	scopes := make([]storage.Scope, len(d.Scopes))
	seenScope := map[string]int{}
	for i, sd := range d.Scopes {
		p.prefix = fmt.Sprintf("scopes[%d]", i)
		s := storage.Scope{Name: strings.TrimSpace(sd.Name), Description: strings.TrimSpace(sd.Description), Default: sd.Default}
		checkScope(&p, &s)
		if j, dup := seenScope[s.Name]; dup {
			p.add("name", "scope %q is declared twice (also scopes[%d])", clip(s.Name), j)
		}
		seenScope[s.Name] = i
		scopes[i] = s
	}
	clients := make([]storage.Client, len(d.Clients))
	seenClient := map[string]int{}
	for i, cd := range d.Clients {
		p.prefix = fmt.Sprintf("clients[%d]", i)
		c := storage.Client{
			ID: cd.ID, Name: cd.Name, Public: cd.Public, Trusted: cd.Trusted,
			GrantTypes: slices.Clone(cd.GrantTypes), Scopes: slices.Clone(cd.Scopes),
			RedirectURIs: slices.Clone(cd.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(cd.PostLogoutRedirectURIs),
			TokenFormat: cd.TokenFormat, Declared: true,
		}
		normalizeClient(&c)
		checkClient(&p, &c)
		if j, dup := seenClient[c.ID]; dup && c.ID != "" {
			p.add("id", "client %q is declared twice (also clients[%d])", clip(c.ID), j)
		}
		seenClient[c.ID] = i
		checkDeclaredSecret(&p, cd)
		clients[i] = c
	}
	p.prefix = ""
	return scopes, clients, d.Clients, p.err()
}

func checkDeclaredSecret(p *problems, cd ClientDecl) {
	switch {
	case cd.Public && (cd.Secret != "" || cd.SecretHash != ""):
		p.add("secret", "a public client has no secret")
	case cd.Public:
	case cd.Secret != "" && cd.SecretHash != "":
		p.add("secret_hash", "secret and secret_hash are mutually exclusive")
	case cd.Secret == "" && cd.SecretHash == "":
		p.add("secret", "a confidential client needs a secret or a secret_hash")
	case cd.SecretHash != "" && !token.ValidHash(cd.SecretHash):
		p.add("secret_hash", "not a hash Gatehouse understands (sha256$…, $argon2id$… or bcrypt)")
	case cd.Secret != "" && len(cd.Secret) < minDeclaredSecretLen:
		p.add("secret", "must be at least %d characters", minDeclaredSecretLen)
	}
}

// hashDeclaredSecrets sets the SecretHash of each confidential client: the declared hash, or
// the stored hash when it verifies the declared secret with current parameters, or a new
// argon2id hash.
func (a *Admin) hashDeclaredSecrets(ctx context.Context, clients []storage.Client, decls []ClientDecl) error {
	for i := range clients {
		cd := decls[i]
		switch {
		case cd.Public:
			continue
		case cd.SecretHash != "":
			clients[i].SecretHash = cd.SecretHash
			continue
		}
		stored, err := a.store.GetClient(ctx, clients[i].ID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("get client %q: %w", clients[i].ID, err)
		}
		if err == nil && stored.SecretHash != "" {
			// A malformed stored hash (err != nil) is simply replaced.
			if ok, rehash, err := token.VerifySecret(stored.SecretHash, cd.Secret); err == nil && ok && !rehash {
				clients[i].SecretHash = stored.SecretHash
				continue
			}
		}
		h, err := token.HashPassword(cd.Secret)
		if err != nil {
			return fmt.Errorf("hash the secret of client %q: %w", clients[i].ID, err)
		}
		clients[i].SecretHash = h
	}
	return nil
}

func (a *Admin) applyScope(ctx context.Context, tx storage.Store, s storage.Scope, res *ApplyResult) error {
	old, err := tx.GetScope(ctx, s.Name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.CreatedAt = a.timestamp()
		if err := tx.CreateScope(ctx, s); err != nil {
			return fmt.Errorf("create scope %q: %w", s.Name, err)
		}
		res.ScopesCreated = append(res.ScopesCreated, s.Name)
		return a.audit(ctx, tx, s.CreatedAt, EventScopeCreated, "", scopeDetails(s))
	case err != nil:
		return fmt.Errorf("get scope %q: %w", s.Name, err)
	}
	s.CreatedAt = old.CreatedAt
	if s == old {
		return nil
	}
	res.ScopesUpdated = append(res.ScopesUpdated, s.Name)
	return a.writeScopeUpdate(ctx, tx, old, s)
}

func (a *Admin) applyClient(ctx context.Context, tx storage.Store, c storage.Client, res *ApplyResult) error {
	old, err := tx.GetClient(ctx, c.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		now := a.timestamp()
		c.CreatedAt, c.UpdatedAt = now, now
		if err := tx.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("create client %q: %w", c.ID, err)
		}
		res.ClientsCreated = append(res.ClientsCreated, c.ID)
		details := clientDetails(c)
		details["declared"] = "true"
		return a.audit(ctx, tx, now, EventClientCreated, c.ID, details)
	case err != nil:
		return fmt.Errorf("get client %q: %w", c.ID, err)
	}
	fields := changedFields(old, c)
	if len(fields) == 0 {
		return nil
	}
	c.CreatedAt, c.UpdatedAt = old.CreatedAt, a.timestamp()
	if err := tx.UpdateClient(ctx, c); err != nil {
		return fmt.Errorf("update client %q: %w", c.ID, err)
	}
	res.ClientsUpdated = append(res.ClientsUpdated, c.ID)
	details := clientDetails(c)
	details["declared"] = "true"
	details["changed"] = strings.Join(fields, " ")
	return a.audit(ctx, tx, c.UpdatedAt, EventClientUpdated, c.ID, details)
}
