package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// joinProblems merges the ValidationErrors of several checks into one, in order.
func joinProblems(errs ...error) error {
	var all ValidationErrors
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ves ValidationErrors
		if !errors.As(err, &ves) {
			return err
		}
		all = append(all, ves...)
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// checkDeclaredUsers validates and normalizes the declared users. The returned users have no
// ID and no password hash yet.
func checkDeclaredUsers(decls []UserDecl) ([]storage.User, error) {
	var p problems
	users := make([]storage.User, len(decls))
	seen := map[string]int{}
	for i, ud := range decls {
		p.prefix = fmt.Sprintf("users[%d]", i)
		u := storage.User{Username: ud.Username, Email: ud.Email, Name: ud.Name, Declared: true}
		normalizeUser(&u)
		checkUser(&p, &u)
		if j, dup := seen[u.Username]; dup && u.Username != "" {
			p.add("username", "user %q is declared twice (also users[%d])", clip(u.Username), j)
		}
		seen[u.Username] = i
		if ud.Password == "" && ud.PasswordHash == "" {
			p.add("password", "a declared user needs a password or a password_hash")
		}
		checkPasswordInput(&p, ud.Password, ud.PasswordHash)
		users[i] = u
	}
	return users, p.err()
}

// hashDeclaredPasswords sets the PasswordHash of each declared user: the declared hash, or
// the stored hash when it verifies the declared password with current parameters, or a new
// argon2id hash.
func (a *Admin) hashDeclaredPasswords(ctx context.Context, users []storage.User, decls []UserDecl) error {
	for i := range users {
		ud := decls[i]
		if ud.PasswordHash != "" {
			users[i].PasswordHash = ud.PasswordHash
			continue
		}
		stored, err := a.store.GetUserByUsername(ctx, users[i].Username)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("get user %q: %w", users[i].Username, err)
		}
		if err == nil && stored.PasswordHash != "" {
			// A malformed stored hash (err != nil) is simply replaced.
			if ok, rehash, err := token.VerifySecret(stored.PasswordHash, ud.Password); err == nil && ok && !rehash {
				users[i].PasswordHash = stored.PasswordHash
				continue
			}
		}
		h, err := token.HashPassword(ud.Password)
		if err != nil {
			return fmt.Errorf("hash the password of user %q: %w", users[i].Username, err)
		}
		users[i].PasswordHash = h
	}
	return nil
}

// applyUser creates the declared user u or updates the declared fields of the stored one
// (username, email, name, password), taking over a user of that name created another way.
// Changing the email address clears EmailVerified; roles and the disabled state are kept.
func (a *Admin) applyUser(ctx context.Context, tx storage.Store, u storage.User, res *ApplyResult) error {
	old, err := tx.GetUserByUsername(ctx, u.Username)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		now := a.timestamp()
		u.CreatedAt, u.UpdatedAt = now, now
		if err := a.createUser(ctx, tx, &u); err != nil {
			return fmt.Errorf("create user %q: %w", u.Username, err)
		}
		res.UsersCreated = append(res.UsersCreated, u.Username)
		details := userDetails(u)
		details["declared"] = "true"
		return a.auditUser(ctx, tx, now, EventUserCreated, u, details)
	case err != nil:
		return fmt.Errorf("get user %q: %w", u.Username, err)
	}
	nu := old
	nu.Email, nu.Name, nu.PasswordHash, nu.Declared = u.Email, u.Name, u.PasswordHash, true
	if nu.Email != old.Email {
		nu.EmailVerified = false
	}
	fields := changedUserFields(old, nu)
	if len(fields) == 0 {
		return nil
	}
	nu.UpdatedAt = a.timestamp()
	if err := tx.UpdateUser(ctx, nu); err != nil {
		return fmt.Errorf("update user %q: %w", u.Username, err)
	}
	res.UsersUpdated = append(res.UsersUpdated, u.Username)
	details := userDetails(nu)
	details["declared"] = "true"
	details["changed"] = strings.Join(fields, " ")
	return a.auditUser(ctx, tx, nu.UpdatedAt, EventUserUpdated, nu, details)
}
