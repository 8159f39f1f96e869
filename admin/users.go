package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Audit event types of users.
const (
	EventUserCreated     = "user.created"
	EventUserUpdated     = "user.updated"
	EventUserPasswordSet = "user.password_set"
	EventUserDisabled    = "user.disabled"
	EventUserEnabled     = "user.enabled"
	EventUserDeleted     = "user.deleted"
)

// Limits on user input.
const (
	// MinPasswordLen is the shortest password accepted (NIST SP 800-63B's minimum).
	MinPasswordLen = 8
	// MaxPasswordLen is the longest: what the sign-in page and the password grant accept.
	MaxPasswordLen = 1024
	maxUsernameLen = 64
	maxEmailLen    = 254
	maxRoleLen     = 64
)

// UserInput is a new user of the built-in user store.
type UserInput struct {
	// Username is lower-cased; 1 to 64 of a-z 0-9 . _ @ + -.
	Username string
	// Password is a plaintext password of at least MinPasswordLen characters, stored
	// argon2id-hashed. PasswordHash is an imported argon2id PHC string or bcrypt hash, stored
	// as is (a bcrypt hash is replaced by argon2id at the user's next sign-in). With neither,
	// CreateUser generates a password.
	Password     string
	PasswordHash string
	Email        string
	// EmailVerified is the email_verified claim: set it only when the address is known to
	// belong to the user.
	EmailVerified bool
	Name          string
	Roles         []string
}

// UserPatch changes the non-nil fields of a user. Passwords change with SetPassword.
type UserPatch struct {
	Username      *string
	Email         *string
	EmailVerified *bool
	Name          *string
	Roles         *[]string
}

// Empty reports whether the patch changes nothing.
func (p UserPatch) Empty() bool { return p == UserPatch{} }

// Signout is what ending a user's access did: browser sessions deleted, tokens revoked.
type Signout struct {
	Sessions int
	Tokens   int
}

// CreateUser validates in and stores a new user with a generated stable ID (the subject of
// its tokens). When in has neither a password nor a password hash, it generates a password
// and returns it: this is the only time it is available. A taken username is
// storage.ErrConflict. The returned user has no password hash.
func (a *Admin) CreateUser(ctx context.Context, in UserInput) (storage.User, string, error) {
	u := storage.User{Username: in.Username, Email: in.Email, EmailVerified: in.EmailVerified, Name: in.Name,
		Roles: slices.Clone(in.Roles)}
	normalizeUser(&u)
	var p problems
	checkUser(&p, &u)
	checkPasswordInput(&p, in.Password, in.PasswordHash)
	if err := p.err(); err != nil {
		return storage.User{}, "", fmt.Errorf("admin: create user: %w", err)
	}
	generated := ""
	switch {
	case in.PasswordHash != "":
		u.PasswordHash = in.PasswordHash
	default:
		password := in.Password
		if password == "" {
			var err error
			if password, err = NewPassword(); err != nil {
				return storage.User{}, "", fmt.Errorf("admin: create user: %w", err)
			}
			generated = password
		}
		// Hashed before the transaction: argon2id is slow and the SQLite writer is single.
		h, err := token.HashPassword(password)
		if err != nil {
			return storage.User{}, "", fmt.Errorf("admin: create user: %w", err)
		}
		u.PasswordHash = h
	}
	now := a.timestamp()
	u.CreatedAt, u.UpdatedAt = now, now
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		if err := a.createUser(ctx, tx, &u); err != nil {
			return err
		}
		return a.auditUser(ctx, tx, now, EventUserCreated, u, userDetails(u))
	})
	if err != nil {
		return storage.User{}, "", fmt.Errorf("admin: create user %q: %w", clip(u.Username), err)
	}
	return redactUser(u), generated, nil
}

// createUser gives u a free generated ID and stores it, refusing a taken username.
func (a *Admin) createUser(ctx context.Context, tx storage.Store, u *storage.User) error {
	if _, err := tx.GetUserByUsername(ctx, u.Username); err == nil {
		return fmt.Errorf("username %q is taken: %w", u.Username, storage.ErrConflict)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("check username: %w", err)
	}
	for range 5 {
		id, err := newUserID()
		if err != nil {
			return err
		}
		if _, err := tx.GetUser(ctx, id); errors.Is(err, storage.ErrNotFound) {
			u.ID = id
			break
		} else if err != nil {
			return fmt.Errorf("check user id: %w", err)
		}
	}
	if u.ID == "" {
		return fmt.Errorf("generate a free user id: %w", storage.ErrConflict)
	}
	if err := tx.CreateUser(ctx, *u); err != nil {
		return fmt.Errorf("store user: %w", err)
	}
	return nil
}

// newUserID returns 128 random bits in base64url: a subject identifier that never changes
// and says nothing about the user.
func newUserID() (string, error) { return oauth.NewID() }

// NewPassword returns a generated password: 100 random bits as four groups of five
// lower-case letters and digits ("k3x9q-2m7ha-…"), easy to type and read aloud.
func NewPassword() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	s := lowerBase32.EncodeToString(b[:])[:20]
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20], nil
}

// normalizeUser trims the user's fields, lower-cases the username and de-duplicates roles.
func normalizeUser(u *storage.User) {
	u.Username = NormalizeUsername(u.Username)
	u.Email = strings.TrimSpace(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	u.Roles = dedupe(u.Roles)
}

// NormalizeUsername returns the form usernames are stored in: trimmed and lower-cased.
// Sign-in forms should pass usernames through it.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validUsername reports whether s is 1 to 64 of a-z 0-9 . _ @ + -.
func validUsername(s string) bool {
	if s == "" || len(s) > maxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("._@+-", c) >= 0) {
			return false
		}
	}
	return true
}

// checkUser validates a normalized user's username, email, name and roles.
func checkUser(p *problems, u *storage.User) {
	if !validUsername(u.Username) {
		p.add("username", "%q must be 1 to %d characters from a-z 0-9 . _ @ + - (upper case is lowered)", clip(u.Username), maxUsernameLen)
	}
	if u.Email != "" && !looksLikeEmail(u.Email) {
		p.add("email", "%q is not an email address", clip(u.Email))
	}
	if u.Email == "" && u.EmailVerified {
		p.add("email_verified", "there is no email address to be verified")
	}
	checkText(p, "name", u.Name, maxNameLen)
	if len(u.Roles) > maxListLen {
		p.add("roles", "at most %d roles", maxListLen)
	}
	for i, r := range u.Roles {
		if !oauth.ValidScopeToken(r) || len(r) > maxRoleLen {
			p.add(fmt.Sprintf("roles[%d]", i), "%q must be 1 to %d visible ASCII characters without spaces, quotes or backslashes", clip(r), maxRoleLen)
		}
	}
}

// looksLikeEmail is a loose check: local@domain, at most 254 characters, no spaces or control
// characters. Whether the address works is for the user to prove.
func looksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > maxEmailLen {
		return false
	}
	for _, r := range s {
		if r <= 0x20 || r == 0x7f || strings.ContainsRune("<>\"\\,;", r) {
			return false
		}
	}
	domain := s[at+1:]
	return !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.Contains(domain, "..")
}

// checkPasswordInput checks a plaintext password and an imported hash, of which at most one
// may be given.
func checkPasswordInput(p *problems, password, hash string) {
	switch {
	case password != "" && hash != "":
		p.add("password_hash", "password and password_hash are mutually exclusive")
	case hash != "":
		if !validPasswordHash(hash) {
			p.add("password_hash", "must be an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or a bcrypt hash ($2a$, $2b$ or $2y$)")
		}
	case password != "":
		checkPassword(p, "password", password)
	}
}

func checkPassword(p *problems, field, password string) {
	switch n := len([]rune(password)); {
	case n < MinPasswordLen:
		p.add(field, "must be at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		p.add(field, "must be at most %d bytes", MaxPasswordLen)
	}
}

// validPasswordHash accepts the password hashes: argon2id and bcrypt. The sha256$ form of
// generated client secrets is refused, since a single unsalted SHA-256 of a password chosen
// by a person is quickly cracked.
func validPasswordHash(h string) bool {
	return (strings.HasPrefix(h, "$argon2id$") || strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") ||
		strings.HasPrefix(h, "$2y$")) && token.ValidHash(h)
}

// userDetails are the audit details of a user: never the password hash, nor the email address.
func userDetails(u storage.User) map[string]string {
	return map[string]string{
		"username": u.Username,
		"roles":    strings.Join(u.Roles, " "),
		"disabled": strconv.FormatBool(u.Disabled),
	}
}

// redactUser returns u without its password hash.
func redactUser(u storage.User) storage.User {
	u.PasswordHash = ""
	return u
}

// auditUser appends one event about u in tx.
func (a *Admin) auditUser(ctx context.Context, tx storage.Store, at time.Time, typ string, u storage.User, details map[string]string) error {
	return appendAudit(ctx, tx, storage.AuditEvent{Time: at, Type: typ, Actor: a.actor, Subject: u.ID, Details: details})
}

// findUser returns the user whose ID, or else whose (normalized) username, is ref.
func findUser(ctx context.Context, s storage.Users, ref string) (storage.User, error) {
	u, err := s.GetUser(ctx, ref)
	if err == nil || !errors.Is(err, storage.ErrNotFound) {
		return u, err
	}
	name := NormalizeUsername(ref)
	if !validUsername(name) {
		return storage.User{}, err
	}
	return s.GetUserByUsername(ctx, name)
}

// GetUser returns the user whose ID or username is ref (without its password hash).
func (a *Admin) GetUser(ctx context.Context, ref string) (storage.User, error) {
	u, err := findUser(ctx, a.store, ref)
	if err != nil {
		return storage.User{}, fmt.Errorf("admin: get user %q: %w", clip(ref), err)
	}
	return redactUser(u), nil
}

// ListUsers returns every user ordered by username (without password hashes).
func (a *Admin) ListUsers(ctx context.Context) ([]storage.User, error) {
	list, err := a.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list users: %w", err)
	}
	for i := range list {
		list[i] = redactUser(list[i])
	}
	return list, nil
}

// UpdateUser applies patch to the user whose ID or username is ref. A new username that is
// taken is storage.ErrConflict; the ID never changes. A patch that changes nothing writes
// nothing. Changing the email address clears EmailVerified unless the patch sets it.
func (a *Admin) UpdateUser(ctx context.Context, ref string, patch UserPatch) (storage.User, error) {
	var updated storage.User
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		old, err := findUser(ctx, tx, ref)
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		u := old
		u.Roles = slices.Clone(old.Roles)
		applyUserPatch(&u, patch)
		normalizeUser(&u)
		if u.Email != old.Email && patch.EmailVerified == nil {
			u.EmailVerified = false
		}
		var p problems
		checkUser(&p, &u)
		if err := p.err(); err != nil {
			return err
		}
		fields := changedUserFields(old, u)
		if len(fields) == 0 {
			updated = old
			return nil
		}
		if u.Username != old.Username {
			if _, err := tx.GetUserByUsername(ctx, u.Username); err == nil {
				return fmt.Errorf("username %q is taken: %w", u.Username, storage.ErrConflict)
			} else if !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("check username: %w", err)
			}
		}
		u.UpdatedAt = a.timestamp()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return fmt.Errorf("store user: %w", err)
		}
		updated = u
		details := userDetails(u)
		details["changed"] = strings.Join(fields, " ")
		return a.auditUser(ctx, tx, u.UpdatedAt, EventUserUpdated, u, details)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("admin: update user %q: %w", clip(ref), err)
	}
	return redactUser(updated), nil
}

func applyUserPatch(u *storage.User, p UserPatch) {
	if p.Username != nil {
		u.Username = *p.Username
	}
	if p.Email != nil {
		u.Email = *p.Email
	}
	if p.EmailVerified != nil {
		u.EmailVerified = *p.EmailVerified
	}
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Roles != nil {
		u.Roles = slices.Clone(*p.Roles)
	}
}

// changedUserFields names the fields that differ between a and b, in snake case. The
// password hash is "password"; timestamps are ignored.
func changedUserFields(a, b storage.User) []string {
	var out []string
	add := func(diff bool, name string) {
		if diff {
			out = append(out, name)
		}
	}
	add(a.Username != b.Username, "username")
	add(a.Email != b.Email, "email")
	add(a.EmailVerified != b.EmailVerified, "email_verified")
	add(a.Name != b.Name, "name")
	add(!slices.Equal(a.Roles, b.Roles), "roles")
	add(a.Disabled != b.Disabled, "disabled")
	add(a.Declared != b.Declared, "declared")
	add(a.PasswordHash != b.PasswordHash, "password")
	return out
}

// SetPassword replaces the password of the user whose ID or username is ref, and signs the
// user out of every browser session (OWASP: a password change ends the sessions). Tokens
// already issued to applications stay valid; DisableUser revokes those too.
func (a *Admin) SetPassword(ctx context.Context, ref, password string) (Signout, error) {
	var p problems
	checkPassword(&p, "password", password)
	if err := p.err(); err != nil {
		return Signout{}, fmt.Errorf("admin: set password: %w", err)
	}
	h, err := token.HashPassword(password)
	if err != nil {
		return Signout{}, fmt.Errorf("admin: set password: %w", err)
	}
	var out Signout
	err = a.store.InTx(ctx, func(tx storage.Store) error {
		u, err := findUser(ctx, tx, ref)
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		u.PasswordHash, u.UpdatedAt = h, a.timestamp()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return fmt.Errorf("store user: %w", err)
		}
		if out.Sessions, err = endSessions(ctx, tx, u.ID); err != nil {
			return err
		}
		details := map[string]string{"username": u.Username, "sessions_ended": strconv.Itoa(out.Sessions)}
		return a.auditUser(ctx, tx, u.UpdatedAt, EventUserPasswordSet, u, details)
	})
	if err != nil {
		return Signout{}, fmt.Errorf("admin: set the password of user %q: %w", clip(ref), err)
	}
	return out, nil
}

// endSessions deletes every browser session of user id.
func endSessions(ctx context.Context, tx storage.Store, id string) (int, error) {
	sessions, err := tx.ListSessions(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", err)
	}
	for _, s := range sessions {
		if err := tx.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("delete session: %w", err)
		}
	}
	return len(sessions), nil
}

// DisableUser disables the user whose ID or username is ref: sign-in is refused, every
// browser session is deleted and every token issued for the user is revoked (access tokens
// deny-listed), in one transaction. Disabling a disabled user ends whatever access is left
// and otherwise writes nothing.
func (a *Admin) DisableUser(ctx context.Context, ref string) (storage.User, Signout, error) {
	var (
		out Signout
		u   storage.User
	)
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		var err error
		out = Signout{}
		if u, err = findUser(ctx, tx, ref); err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		now := a.timestamp()
		changed := !u.Disabled
		if changed {
			u.Disabled, u.UpdatedAt = true, now
			if err := tx.UpdateUser(ctx, u); err != nil {
				return fmt.Errorf("store user: %w", err)
			}
		}
		if out.Sessions, err = endSessions(ctx, tx, u.ID); err != nil {
			return err
		}
		if out.Tokens, err = tx.RevokeTokens(ctx, storage.TokenFilter{Subject: u.ID}, now); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if !changed && out.Sessions == 0 && out.Tokens == 0 {
			return nil
		}
		details := userDetails(u)
		details["sessions_ended"] = strconv.Itoa(out.Sessions)
		details["tokens_revoked"] = strconv.Itoa(out.Tokens)
		return a.auditUser(ctx, tx, now, EventUserDisabled, u, details)
	})
	if err != nil {
		return storage.User{}, Signout{}, fmt.Errorf("admin: disable user %q: %w", clip(ref), err)
	}
	return redactUser(u), out, nil
}

// EnableUser lets a disabled user sign in again. Enabling an enabled user writes nothing.
func (a *Admin) EnableUser(ctx context.Context, ref string) (storage.User, error) {
	var u storage.User
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		var err error
		if u, err = findUser(ctx, tx, ref); err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		if !u.Disabled {
			return nil
		}
		u.Disabled, u.UpdatedAt = false, a.timestamp()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return fmt.Errorf("store user: %w", err)
		}
		return a.auditUser(ctx, tx, u.UpdatedAt, EventUserEnabled, u, userDetails(u))
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("admin: enable user %q: %w", clip(ref), err)
	}
	return redactUser(u), nil
}

// DeleteUser deletes the user whose ID or username is ref, with its consents and sessions,
// and revokes its tokens; storage.ErrNotFound if absent. A declared user comes back at the
// next start unless its declaration is removed too.
func (a *Admin) DeleteUser(ctx context.Context, ref string) (storage.User, error) {
	var u storage.User
	err := a.store.InTx(ctx, func(tx storage.Store) error {
		var err error
		if u, err = findUser(ctx, tx, ref); err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		if err := tx.DeleteUser(ctx, u.ID); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		return a.auditUser(ctx, tx, a.timestamp(), EventUserDeleted, u, map[string]string{"username": u.Username})
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("admin: delete user %q: %w", clip(ref), err)
	}
	return redactUser(u), nil
}
