package admin_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

const pw = "correct horse battery staple"

func (f *fixture) user(t *testing.T, username string) storage.User {
	t.Helper()
	u, err := f.store.GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatalf("GetUserByUsername(%q): %v", username, err)
	}
	return u
}

// noHashes fails if an audit event of f carries a password hash or a password.
func (f *fixture) noHashes(t *testing.T, secrets ...string) {
	t.Helper()
	list, err := f.store.ListAudit(context.Background(), storage.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		for _, v := range e.Details {
			for _, s := range append(secrets, "$argon2id$", "$2a$") {
				if strings.Contains(v, s) {
					t.Errorf("audit event %s leaks %q: %v", e.Type, s, e.Details)
				}
			}
		}
	}
}

func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

var userIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, generated, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "  Alice@Example.com ", Password: pw,
		Email: "alice@example.com", EmailVerified: true, Name: "Alice Liddell", Roles: []string{"admin", "admin", "ops"}})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if generated != "" {
		t.Errorf("a password was generated although one was given")
	}
	if !userIDRe.MatchString(u.ID) || u.Username != "alice@example.com" || u.PasswordHash != "" ||
		!slices.Equal(u.Roles, []string{"admin", "ops"}) || !u.EmailVerified || u.Declared || u.Disabled {
		t.Errorf("created user = %+v", u)
	}
	if !u.CreatedAt.Equal(t0) || !u.UpdatedAt.Equal(t0) {
		t.Errorf("timestamps = %v, %v", u.CreatedAt, u.UpdatedAt)
	}
	stored := f.user(t, "alice@example.com")
	if stored.ID != u.ID || !strings.HasPrefix(stored.PasswordHash, "$argon2id$") || !verifies(t, stored.PasswordHash, pw) {
		t.Errorf("stored user = %+v", stored)
	}
	ev := f.events(t, admin.EventUserCreated)
	if len(ev) != 1 || ev[0].Subject != u.ID || ev[0].Actor != "tester" || ev[0].Details["username"] != "alice@example.com" {
		t.Errorf("user.created events = %+v", ev)
	}

	// The username is unique whatever its case.
	if _, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "ALICE@example.com", Password: pw}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("duplicate username = %v, want ErrConflict", err)
	}

	// Without a password, one is generated and returned once.
	bob, generated, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z2-7]{5}(-[a-z2-7]{5}){3}$`).MatchString(generated) {
		t.Errorf("generated password %q", generated)
	}
	if !verifies(t, f.user(t, "bob").PasswordHash, generated) || bob.ID == u.ID {
		t.Errorf("the generated password does not verify")
	}

	// An imported bcrypt hash is stored as is (the oauth package rehashes it at sign-in).
	h := bcryptHash(t, "carols password")
	if _, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "carol", PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	if got := f.user(t, "carol").PasswordHash; got != h {
		t.Errorf("imported hash stored as %q", got)
	}
	f.noHashes(t, pw, generated)
}

func TestCreateUserValidation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		in   admin.UserInput
		want []string
	}{
		{admin.UserInput{Username: "a b", Password: pw}, []string{"username"}},
		{admin.UserInput{Username: "", Password: pw}, []string{"username"}},
		{admin.UserInput{Username: strings.Repeat("x", 65), Password: pw}, []string{"username"}},
		{admin.UserInput{Username: "ümlaut", Password: pw}, []string{"username"}},
		{admin.UserInput{Username: "ok", Password: "short"}, []string{"password"}},
		{admin.UserInput{Username: "ok", Password: strings.Repeat("x", 1025)}, []string{"password"}},
		{admin.UserInput{Username: "ok", PasswordHash: token.HashGeneratedSecret("x")}, []string{"password_hash"}},
		{admin.UserInput{Username: "ok", PasswordHash: "$argon2id$nonsense"}, []string{"password_hash"}},
		{admin.UserInput{Username: "ok", Password: pw, PasswordHash: bcryptHash(t, pw)}, []string{"password_hash"}},
		{admin.UserInput{Username: "ok", Password: pw, Email: "not an email"}, []string{"email"}},
		{admin.UserInput{Username: "ok", Password: pw, EmailVerified: true}, []string{"email_verified"}},
		{admin.UserInput{Username: "ok", Password: pw, Name: "bad\nname"}, []string{"name"}},
		{admin.UserInput{Username: "ok", Password: pw, Roles: []string{"good", `b"ad`}}, []string{"roles[1]"}},
		{admin.UserInput{Username: "a b", Password: "x", Email: "@"}, []string{"username", "email", "password"}},
	}
	for _, tt := range tests {
		_, _, err := f.adm.CreateUser(context.Background(), tt.in)
		if got := fields(t, err); !slices.Equal(got, tt.want) {
			t.Errorf("CreateUser(%+v) fields = %v, want %v", tt.in, got, tt.want)
		}
	}
	if list, _ := f.store.ListUsers(context.Background()); len(list) != 0 {
		t.Errorf("invalid input stored %d users", len(list))
	}
}

func TestGetListUpdateUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "alice", Password: pw, Email: "a@example.com", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "bob", Password: pw}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{alice.ID, "alice", " ALICE "} {
		u, err := f.adm.GetUser(ctx, ref)
		if err != nil || u.ID != alice.ID || u.PasswordHash != "" {
			t.Errorf("GetUser(%q) = %+v, %v", ref, u, err)
		}
	}
	if _, err := f.adm.GetUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser(nobody) = %v, want ErrNotFound", err)
	}
	list, err := f.adm.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	for _, u := range list {
		if u.PasswordHash != "" {
			t.Errorf("ListUsers returns the hash of %s", u.Username)
		}
	}

	// A patch that changes nothing writes nothing.
	events := f.allEvents(t)
	same := "a@example.com"
	if _, err := f.adm.UpdateUser(ctx, "alice", admin.UserPatch{Email: &same}); err != nil {
		t.Fatal(err)
	}
	if f.allEvents(t) != events {
		t.Errorf("a no-op update wrote an audit event")
	}

	// Renaming keeps the ID; a new address is not verified.
	f.clock.t = t0.Add(time.Minute)
	name, email, roles := "Alice-Renamed", "new@example.com", []string{"admin"}
	u, err := f.adm.UpdateUser(ctx, alice.ID, admin.UserPatch{Username: &name, Email: &email, Roles: &roles})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != alice.ID || u.Username != "alice-renamed" || u.EmailVerified || !slices.Equal(u.Roles, roles) ||
		!u.UpdatedAt.Equal(f.clock.t) || u.PasswordHash != "" {
		t.Errorf("updated user = %+v", u)
	}
	if !verifies(t, f.user(t, "alice-renamed").PasswordHash, pw) {
		t.Errorf("the update lost the password")
	}
	ev := f.events(t, admin.EventUserUpdated)
	if len(ev) != 1 || ev[0].Details["changed"] != "username email email_verified roles" {
		t.Errorf("user.updated events = %+v", ev)
	}
	taken := "bob"
	if _, err := f.adm.UpdateUser(ctx, alice.ID, admin.UserPatch{Username: &taken}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("rename to a taken username = %v, want ErrConflict", err)
	}
	bad := "no spaces allowed"
	if _, err := f.adm.UpdateUser(ctx, alice.ID, admin.UserPatch{Username: &bad}); !slices.Equal(fields(t, err), []string{"username"}) {
		t.Errorf("rename to an invalid username = %v", err)
	}
}

// access gives user id a session and a refresh and access token.
func (f *fixture) access(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	s := storage.Session{ID: "sess-" + id, Hash: token.Hash("cookie-" + id), UserID: id, AuthTime: f.clock.t,
		CreatedAt: f.clock.t, ExpiresAt: f.clock.t.Add(time.Hour)}
	if err := f.store.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{storage.KindRefresh, storage.KindAccess} {
		tok := storage.Token{ID: kind + "-" + id, Hash: token.Hash(kind + id), Kind: kind, ClientID: "web", Subject: id,
			GrantID: "grant-" + id, IssuedAt: f.clock.t, ExpiresAt: f.clock.t.Add(time.Hour)}
		if err := f.store.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) sessions(t *testing.T, id string) int {
	t.Helper()
	list, err := f.store.ListSessions(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "alice", PasswordHash: bcryptHash(t, pw)})
	if err != nil {
		t.Fatal(err)
	}
	f.access(t, u.ID)
	if _, err := f.adm.SetPassword(ctx, "alice", "short"); !slices.Equal(fields(t, err), []string{"password"}) {
		t.Errorf("short password = %v", err)
	}
	out, err := f.adm.SetPassword(ctx, "ALICE", "a new password")
	if err != nil {
		t.Fatal(err)
	}
	stored := f.user(t, "alice")
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") || !verifies(t, stored.PasswordHash, "a new password") ||
		verifies(t, stored.PasswordHash, pw) {
		t.Errorf("stored hash %q", stored.PasswordHash)
	}
	// The browser sessions end; tokens stay.
	if out.Sessions != 1 || f.sessions(t, u.ID) != 0 {
		t.Errorf("SetPassword = %+v; %d sessions left", out, f.sessions(t, u.ID))
	}
	if tok, _ := f.store.GetTokenByHash(ctx, token.Hash(storage.KindRefresh+u.ID)); !tok.RevokedAt.IsZero() {
		t.Errorf("SetPassword revoked the refresh token")
	}
	ev := f.events(t, admin.EventUserPasswordSet)
	if len(ev) != 1 || ev[0].Subject != u.ID || ev[0].Details["sessions_ended"] != "1" {
		t.Errorf("user.password_set events = %+v", ev)
	}
	if _, err := f.adm.SetPassword(ctx, "ghost", "long enough"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetPassword(ghost) = %v", err)
	}
	f.noHashes(t, "a new password")
}

func TestDisableEnableDeleteUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "bob", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	f.access(t, u.ID)
	f.access(t, other.ID)

	f.clock.t = t0.Add(time.Minute)
	got, out, err := f.adm.DisableUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled || got.PasswordHash != "" || out != (admin.Signout{Sessions: 1, Tokens: 2}) {
		t.Errorf("DisableUser = %+v, %+v", got, out)
	}
	if !f.user(t, "alice").Disabled || f.sessions(t, u.ID) != 0 || f.sessions(t, other.ID) != 1 {
		t.Errorf("after disable: user %+v, sessions %d/%d", f.user(t, "alice"), f.sessions(t, u.ID), f.sessions(t, other.ID))
	}
	for _, kind := range []string{storage.KindRefresh, storage.KindAccess} {
		tok, err := f.store.GetTokenByHash(ctx, token.Hash(kind+u.ID))
		if err != nil || !tok.RevokedAt.Equal(f.clock.t) {
			t.Errorf("%s after disable: %+v, %v", kind, tok, err)
		}
		if tok, _ := f.store.GetTokenByHash(ctx, token.Hash(kind+other.ID)); !tok.RevokedAt.IsZero() {
			t.Errorf("another user's %s was revoked", kind)
		}
	}
	if denied, _ := f.store.IsRevoked(ctx, storage.KindAccess+"-"+u.ID); !denied {
		t.Errorf("the access token's jti is not deny-listed")
	}
	ev := f.events(t, admin.EventUserDisabled)
	if len(ev) != 1 || ev[0].Subject != u.ID || ev[0].Details["tokens_revoked"] != "2" || ev[0].Details["sessions_ended"] != "1" {
		t.Errorf("user.disabled events = %+v", ev)
	}

	// Disabling again finds nothing to end and writes nothing.
	events := f.allEvents(t)
	if _, out, err := f.adm.DisableUser(ctx, u.ID); err != nil || out != (admin.Signout{}) || f.allEvents(t) != events {
		t.Errorf("second DisableUser = %+v, %v; %d new events", out, err, f.allEvents(t)-events)
	}

	got, err = f.adm.EnableUser(ctx, "alice")
	if err != nil || got.Disabled || f.user(t, "alice").Disabled {
		t.Errorf("EnableUser = %+v, %v", got, err)
	}
	if ev := f.events(t, admin.EventUserEnabled); len(ev) != 1 || ev[0].Subject != u.ID {
		t.Errorf("user.enabled events = %+v", ev)
	}
	events = f.allEvents(t)
	if _, err := f.adm.EnableUser(ctx, "alice"); err != nil || f.allEvents(t) != events {
		t.Errorf("enabling an enabled user: %v, %d new events", err, f.allEvents(t)-events)
	}

	deleted, err := f.adm.DeleteUser(ctx, "bob")
	if err != nil || deleted.ID != other.ID {
		t.Fatalf("DeleteUser = %+v, %v", deleted, err)
	}
	if _, err := f.store.GetUser(ctx, other.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted user: %v", err)
	}
	if tok, _ := f.store.GetTokenByHash(ctx, token.Hash(storage.KindRefresh+other.ID)); tok.RevokedAt.IsZero() {
		t.Errorf("the deleted user's refresh token is not revoked")
	}
	if ev := f.events(t, admin.EventUserDeleted); len(ev) != 1 || ev[0].Subject != other.ID || ev[0].Details["username"] != "bob" {
		t.Errorf("user.deleted events = %+v", ev)
	}
	if _, err := f.adm.DeleteUser(ctx, "bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
	for _, op := range []func() error{
		func() error { _, _, err := f.adm.DisableUser(ctx, "bob"); return err },
		func() error { _, err := f.adm.EnableUser(ctx, "bob"); return err },
	} {
		if err := op(); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("operation on a deleted user = %v, want ErrNotFound", err)
		}
	}
}

func TestApplyDeclaredUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.adm = f.adm.WithActor("config")
	imported := bcryptHash(t, "bobs password")
	d := admin.Declarations{Users: []admin.UserDecl{
		{Username: "Alice", Password: pw, Email: "alice@example.com", Name: "Alice"},
		{Username: "bob", PasswordHash: imported},
	}}
	res, err := f.adm.ApplyDeclared(ctx, d)
	if err != nil {
		t.Fatalf("ApplyDeclared: %v", err)
	}
	if !slices.Equal(res.UsersCreated, []string{"alice", "bob"}) || len(res.UsersUpdated) != 0 || !res.Changed() {
		t.Errorf("ApplyDeclared = %+v", res)
	}
	alice := f.user(t, "alice")
	if !alice.Declared || !userIDRe.MatchString(alice.ID) || alice.Email != "alice@example.com" || alice.EmailVerified ||
		!strings.HasPrefix(alice.PasswordHash, "$argon2id$") || !verifies(t, alice.PasswordHash, pw) {
		t.Errorf("alice = %+v", alice)
	}
	if bob := f.user(t, "bob"); bob.PasswordHash != imported || !bob.Declared {
		t.Errorf("bob = %+v (password_hash must be stored as is)", bob)
	}
	if ev := f.events(t, admin.EventUserCreated); len(ev) != 2 || ev[0].Actor != "config" || ev[0].Details["declared"] != "true" {
		t.Errorf("user.created events = %+v", ev)
	}

	// Applying again writes nothing: the argon2id hash verifies the declared password.
	events := f.allEvents(t)
	f.clock.t = t0.Add(time.Hour)
	if res, err := f.adm.ApplyDeclared(ctx, d); err != nil || res.Changed() {
		t.Errorf("second ApplyDeclared = %+v, %v", res, err)
	}
	if f.allEvents(t) != events || f.user(t, "alice").PasswordHash != alice.PasswordHash {
		t.Errorf("second ApplyDeclared rewrote alice")
	}

	// Roles and the disabled state set with the CLI survive; a changed password is applied; an
	// undeclared user made with the CLI is left alone; a CLI user of a declared name is taken over.
	roles := []string{"admin"}
	if _, err := f.adm.UpdateUser(ctx, "alice", admin.UserPatch{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.adm.DisableUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "manual", Password: pw}); err != nil {
		t.Fatal(err)
	}
	carol, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "carol", Password: pw, Roles: []string{"ops"}})
	if err != nil {
		t.Fatal(err)
	}
	d.Users[0].Password = "a brand new password"
	d.Users = append(d.Users[:1], admin.UserDecl{Username: "carol", Password: pw, Name: "Carol"})
	res, err = f.adm.ApplyDeclared(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.UsersUpdated, []string{"alice", "carol"}) || len(res.UsersCreated) != 0 {
		t.Errorf("ApplyDeclared = %+v", res)
	}
	alice = f.user(t, "alice")
	if !verifies(t, alice.PasswordHash, "a brand new password") || !alice.Disabled || !slices.Equal(alice.Roles, roles) {
		t.Errorf("alice after update = %+v", alice)
	}
	if c := f.user(t, "carol"); c.ID != carol.ID || !c.Declared || c.Name != "Carol" || !slices.Equal(c.Roles, []string{"ops"}) ||
		!verifies(t, c.PasswordHash, pw) {
		t.Errorf("carol after takeover = %+v", c)
	}
	for _, name := range []string{"bob", "manual"} {
		f.user(t, name) // undeclared users are kept
	}
	ev := f.events(t, admin.EventUserUpdated)
	if len(ev) != 3 || ev[1].Details["changed"] != "password" || ev[2].Details["changed"] != "name declared" {
		t.Errorf("user.updated events = %+v", ev)
	}
	f.noHashes(t, pw, "a brand new password")
}

func TestApplyDeclaredUsersValidation(t *testing.T) {
	f := newFixture(t)
	d := admin.Declarations{
		Scopes: []admin.ScopeDecl{{Name: "bad scope"}},
		Users: []admin.UserDecl{
			{Username: "ok", Password: pw},
			{Username: "OK", Password: pw},
			{Username: "no spaces", Password: pw},
			{Username: "nopass"},
			{Username: "both", Password: pw, PasswordHash: bcryptHash(t, pw)},
			{Username: "short", Password: "short"},
			{Username: "sha", PasswordHash: token.HashGeneratedSecret("x")},
			{Username: "mail", Password: pw, Email: "nope"},
		},
	}
	_, err := f.adm.ApplyDeclared(context.Background(), d)
	want := []string{"scopes[0].name", "users[1].username", "users[2].username", "users[3].password",
		"users[4].password_hash", "users[5].password", "users[6].password_hash", "users[7].email"}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Errorf("ApplyDeclared fields = %v\nwant %v", got, want)
	}
	if list, _ := f.store.ListUsers(context.Background()); len(list) != 0 {
		t.Errorf("invalid declarations wrote %d users", len(list))
	}
}

// The OpenID Connect scopes are built into the oauth package: clients may be allowed them
// without catalogue entries, directly or declared.
func TestClientOpenIDScopesBuiltIn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oidcScopes := []string{"openid", "profile", "email", "offline_access"}
	c, _, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: "web", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: oidcScopes})
	if err != nil || !slices.Equal(c.Scopes, oidcScopes) {
		t.Fatalf("CreateClient with the OpenID Connect scopes = %+v, %v", c, err)
	}
	d := admin.Declarations{
		Scopes: []admin.ScopeDecl{{Name: "demo:read"}},
		Clients: []admin.ClientDecl{{ID: "demo-web", Secret: "a long enough secret", GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{"http://127.0.0.1:8080/demo/callback"}, Scopes: append(oidcScopes, "demo:read")}},
	}
	if _, err := f.adm.ApplyDeclared(ctx, d); err != nil {
		t.Fatalf("ApplyDeclared with the OpenID Connect scopes: %v", err)
	}
	if list, _ := f.store.ListScopes(ctx); len(list) != 1 {
		t.Errorf("the built-in scopes were stored: %+v", list)
	}
}
