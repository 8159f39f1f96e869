package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func userTests() []test {
	return []test{
		{"CreateGet", testUserCreateGet},
		{"CreateConflict", testUserCreateConflict},
		{"NotFound", testUserNotFound},
		{"UsernameExact", testUserUsernameExact},
		{"List", testUserList},
		{"Update", testUserUpdate},
		{"UpdateUsernameConflict", testUserUpdateConflict},
		{"Delete", testUserDelete},
		{"DeleteCascades", testUserDeleteCascades},
		{"Copies", testUserCopies},
		{"Query", testUserQuery},
		{"QueryPages", testUserQueryPages},
	}
}

func userKey(u storage.User) string { return u.ID }

// bareUser returns a user with empty strings, nil slices and the other booleans.
func bareUser(id, username string) storage.User {
	return storage.User{
		ID:            id,
		Username:      username,
		EmailVerified: false,
		Disabled:      true,
		Roles:         nil,
		Declared:      false,
		CreatedAt:     west(at(-2 * time.Hour)),
	}
}

func testUserCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newUser("u-full", "alice "+awkward)
	bare := bareUser("u-bare", "bob")
	empty := newUser("u-empty", "carol")
	empty.Roles = []string{}
	for _, u := range []storage.User{full, bare, empty} {
		must(t, s.CreateUser(ctx, u), "CreateUser "+u.ID)
	}
	for _, u := range []storage.User{full, bare, empty} {
		got, err := s.GetUser(ctx, u.ID)
		must(t, err, "GetUser "+u.ID)
		checkEqual(t, "user "+u.ID, got, u)
		got, err = s.GetUserByUsername(ctx, u.Username)
		must(t, err, "GetUserByUsername "+u.Username)
		checkEqual(t, "user "+u.ID+" by username", got, u)
	}
}

func testUserCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newUser("u1", "alice")
	must(t, s.CreateUser(ctx, first), "CreateUser")

	sameID := bareUser("u1", "bob")
	checkErr(t, "CreateUser with a taken id", s.CreateUser(ctx, sameID), storage.ErrConflict)
	_, err := s.GetUserByUsername(ctx, "bob")
	checkErr(t, "GetUserByUsername of the refused user", err, storage.ErrNotFound)

	sameName := bareUser("u2", "alice")
	checkErr(t, "CreateUser with a taken username", s.CreateUser(ctx, sameName), storage.ErrConflict)
	_, err = s.GetUser(ctx, "u2")
	checkErr(t, "GetUser of the refused user", err, storage.ErrNotFound)

	got, err := s.GetUser(ctx, "u1")
	must(t, err, "GetUser")
	checkEqual(t, "user after conflicting creates", got, first)
	list, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	checkList(t, "ListUsers after conflicting creates", list, []storage.User{first}, userKey)
}

func testUserNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("present", "present")), "CreateUser")
	_, err := s.GetUser(ctx, "absent")
	checkErr(t, "GetUser absent", err, storage.ErrNotFound)
	_, err = s.GetUser(ctx, "")
	checkErr(t, "GetUser with an empty id", err, storage.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "absent")
	checkErr(t, "GetUserByUsername absent", err, storage.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "")
	checkErr(t, "GetUserByUsername with an empty username", err, storage.ErrNotFound)
	checkErr(t, "UpdateUser absent", s.UpdateUser(ctx, newUser("absent", "absent")), storage.ErrNotFound)
	checkErr(t, "DeleteUser absent", s.DeleteUser(ctx, "absent"), storage.ErrNotFound)
	_, err = s.GetUser(ctx, "absent")
	checkErr(t, "GetUser after UpdateUser of an absent user", err, storage.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "absent")
	checkErr(t, "GetUserByUsername after UpdateUser of an absent user", err, storage.ErrNotFound)
}

// testUserUsernameExact checks that usernames compare exactly: case matters, and LIKE
// wildcards are plain characters.
func testUserUsernameExact(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := newUser("u1", "alice")
	abc := newUser("u2", "abc")
	must(t, s.CreateUser(ctx, alice), "CreateUser alice")
	must(t, s.CreateUser(ctx, abc), "CreateUser abc")
	for _, name := range []string{"Alice", "ALICE", "alice ", " alice", "alic", "a%", "a_c", "%", "_bc", "ab"} {
		_, err := s.GetUserByUsername(ctx, name)
		checkErr(t, "GetUserByUsername "+name, err, storage.ErrNotFound)
	}
	// A username that differs only in case is another username.
	upper := bareUser("u3", "Alice")
	must(t, s.CreateUser(ctx, upper), "CreateUser Alice next to alice")
	for _, want := range []storage.User{alice, abc, upper} {
		got, err := s.GetUserByUsername(ctx, want.Username)
		must(t, err, "GetUserByUsername "+want.Username)
		checkEqual(t, "user "+want.Username, got, want)
	}
}

func testUserList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Ids in another order than usernames, so that ordering by id fails.
	users := []storage.User{
		newUser("u1", "delta"),
		bareUser("u2", "alpha"),
		newUser("u3", "charlie2"),
		newUser("u4", "bravo"),
		newUser("u5", "charlie10"),
		newUser("u6", "a1"),
	}
	for _, u := range users {
		must(t, s.CreateUser(ctx, u), "CreateUser "+u.ID)
	}
	// Sorted by username: a1, alpha, bravo, charlie10, charlie2, delta.
	want := []storage.User{users[5], users[1], users[3], users[4], users[2], users[0]}
	got, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	checkList(t, "ListUsers", got, want, func(u storage.User) string { return u.Username })
}

func testUserUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	orig := newUser("upd", "alice")
	other := newUser("other", "bob")
	must(t, s.CreateUser(ctx, orig), "CreateUser")
	must(t, s.CreateUser(ctx, other), "CreateUser other")

	// Every field changes, the username too; ID and CreatedAt must be ignored (CreatedAt
	// passed here differs).
	upd := storage.User{
		ID:            "upd",
		Username:      "alice2",
		Email:         "",
		EmailVerified: false,
		Name:          "renamed",
		PasswordHash:  "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		Disabled:      true,
		Roles:         []string{},
		Declared:      false,
		CreatedAt:     at(24 * time.Hour),
		UpdatedAt:     west(at(2 * time.Hour)),
	}
	must(t, s.UpdateUser(ctx, upd), "UpdateUser")
	want := upd
	want.CreatedAt = orig.CreatedAt
	got, err := s.GetUser(ctx, "upd")
	must(t, err, "GetUser")
	checkEqual(t, "updated user", got, want)
	got, err = s.GetUserByUsername(ctx, "alice2")
	must(t, err, "GetUserByUsername of the new username")
	checkEqual(t, "updated user by its new username", got, want)
	_, err = s.GetUserByUsername(ctx, "alice")
	checkErr(t, "GetUserByUsername of the old username", err, storage.ErrNotFound)

	// The old username is free again.
	must(t, s.CreateUser(ctx, bareUser("new", "alice")), "CreateUser with the old username")

	// And back to full fields, keeping its own username: not a conflict.
	back := newUser("upd", "alice2")
	back.UpdatedAt = at(3 * time.Hour)
	must(t, s.UpdateUser(ctx, back), "UpdateUser keeping the username")
	got, err = s.GetUser(ctx, "upd")
	must(t, err, "GetUser")
	checkEqual(t, "user updated back", got, back)

	got, err = s.GetUser(ctx, "other")
	must(t, err, "GetUser other")
	checkEqual(t, "user not updated", got, other)
}

func testUserUpdateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice, bob := newUser("u1", "alice"), newUser("u2", "bob")
	must(t, s.CreateUser(ctx, alice), "CreateUser")
	must(t, s.CreateUser(ctx, bob), "CreateUser")
	upd := bareUser("u2", "alice")
	checkErr(t, "UpdateUser to a taken username", s.UpdateUser(ctx, upd), storage.ErrConflict)
	got, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	checkList(t, "ListUsers after a conflicting update", got, []storage.User{alice, bob}, userKey)
	byName, err := s.GetUserByUsername(ctx, "bob")
	must(t, err, "GetUserByUsername of the unchanged username")
	checkEqual(t, "user after a conflicting update", byName, bob)
}

func testUserDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		must(t, s.CreateUser(ctx, newUser(id, "name-"+id)), "CreateUser "+id)
	}
	must(t, s.DeleteUser(ctx, "b"), "DeleteUser")
	_, err := s.GetUser(ctx, "b")
	checkErr(t, "GetUser after DeleteUser", err, storage.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "name-b")
	checkErr(t, "GetUserByUsername after DeleteUser", err, storage.ErrNotFound)
	checkErr(t, "DeleteUser twice", s.DeleteUser(ctx, "b"), storage.ErrNotFound)
	got, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	checkList(t, "ListUsers after DeleteUser", got, []storage.User{newUser("a", "name-a"), newUser("c", "name-c")}, userKey)

	// The id and the username can be used again.
	must(t, s.CreateUser(ctx, bareUser("b", "name-b")), "CreateUser after DeleteUser")
	again, err := s.GetUserByUsername(ctx, "name-b")
	must(t, err, "GetUserByUsername")
	checkEqual(t, "re-created user", again, bareUser("b", "name-b"))
}

// testUserDeleteCascades checks that DeleteUser deletes the user's consents and sessions,
// revokes the user's tokens, and touches nothing of anyone else's.
func testUserDeleteCascades(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	createUsers(t, s, "gone", "kept")

	consents := []storage.Consent{newConsent("gone", "app"), newConsent("gone", "web"), newConsent("kept", "app")}
	for _, c := range consents {
		must(t, s.PutConsent(ctx, c), "PutConsent "+c.UserID+"/"+c.ClientID)
	}
	sessions := []storage.Session{newSession("s-gone-1", "gone", at(0)), newSession("s-gone-2", "gone", at(time.Minute)), newSession("s-kept", "kept", at(0))}
	for _, se := range sessions {
		must(t, s.CreateSession(ctx, se), "CreateSession "+se.ID)
	}
	// A code of the user (naming one of its sessions) must not stop DeleteUser.
	code := newCode("c-gone", "app", "gone")
	code.SessionID = "s-gone-1"
	must(t, s.CreateCode(ctx, code), "CreateCode")

	tok := func(id, subject, client string) storage.Token {
		tk := newToken(id, client)
		tk.Subject, tk.GrantID = subject, "grant-"+subject
		return tk
	}
	goneAccess := tok("t-gone-access", "gone", "app")
	goneRefresh := tok("t-gone-refresh", "gone", "web")
	goneRefresh.Kind = storage.KindRefresh
	goneRefresh.ExpiresAt = at(30 * 24 * time.Hour)
	// Revoked before: keeps its RevokedAt.
	goneRevoked := tok("t-gone-revoked", "gone", "app")
	goneRevoked.RevokedAt = west(at(-time.Minute))
	// Expired: revoked all the same.
	goneExpired := tok("t-gone-expired", "gone", "app")
	goneExpired.ExpiresAt = at(-time.Hour)
	keptTokens := []storage.Token{tok("t-kept", "kept", "app"), tok("t-client", "app", "app")}
	keptTokens[1].GrantID = ""
	for _, tk := range append([]storage.Token{goneAccess, goneRefresh, goneRevoked, goneExpired}, keptTokens...) {
		must(t, s.CreateToken(ctx, tk), "CreateToken "+tk.ID)
	}

	must(t, s.DeleteUser(ctx, "gone"), "DeleteUser of a user with consents, sessions, codes and tokens")

	_, err := s.GetUser(ctx, "gone")
	checkErr(t, "GetUser after DeleteUser", err, storage.ErrNotFound)
	list, err := s.ListConsents(ctx, "gone")
	must(t, err, "ListConsents of a deleted user")
	checkList(t, "ListConsents of a deleted user", list, nil, consentKey)
	for _, c := range consents[:2] {
		_, err := s.GetConsent(ctx, c.UserID, c.ClientID)
		checkErr(t, "GetConsent of a deleted user's consent to "+c.ClientID, err, storage.ErrNotFound)
	}
	sess, err := s.ListSessions(ctx, "gone")
	must(t, err, "ListSessions of a deleted user")
	checkList(t, "ListSessions of a deleted user", sess, nil, sessionKey)
	for _, se := range sessions[:2] {
		_, err := s.GetSessionByHash(ctx, se.Hash)
		checkErr(t, "GetSessionByHash of a deleted user's session "+se.ID, err, storage.ErrNotFound)
	}
	for _, want := range []storage.Token{goneAccess, goneRefresh, goneExpired} {
		got, err := s.GetTokenByHash(ctx, want.Hash)
		must(t, err, "GetTokenByHash of a deleted user's token "+want.ID)
		if got.RevokedAt.IsZero() {
			t.Errorf("token %s of a deleted user: RevokedAt is zero, want it revoked", want.ID)
		}
		want.RevokedAt = got.RevokedAt
		checkEqual(t, "token "+want.ID+" of a deleted user", got, want)
	}
	got, err := s.GetTokenByHash(ctx, goneRevoked.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token of a deleted user revoked before", got, goneRevoked)

	// Nobody else's records changed.
	kept, err := s.GetUser(ctx, "kept")
	must(t, err, "GetUser kept")
	checkEqual(t, "other user", kept, newUser("kept", "kept"))
	c, err := s.GetConsent(ctx, "kept", "app")
	must(t, err, "GetConsent of another user")
	checkEqual(t, "other user's consent", c, consents[2])
	se, err := s.GetSessionByHash(ctx, sessions[2].Hash)
	must(t, err, "GetSessionByHash of another user's session")
	checkEqual(t, "other user's session", se, sessions[2])
	for _, want := range keptTokens {
		got, err := s.GetTokenByHash(ctx, want.Hash)
		must(t, err, "GetTokenByHash "+want.ID)
		checkEqual(t, "token "+want.ID+" of another subject", got, want)
	}

	// The user's id and username are free again, and its new records are not touched.
	must(t, s.CreateUser(ctx, newUser("gone", "gone")), "CreateUser after DeleteUser")
	must(t, s.PutConsent(ctx, consents[0]), "PutConsent after DeleteUser")
	must(t, s.CreateSession(ctx, sessions[0]), "CreateSession with a deleted session's id and hash")
}

func testUserCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := newUser("copy", "copy")
	want := newUser("copy", "copy")
	must(t, s.CreateUser(ctx, u), "CreateUser")
	u.Roles[0] = "mutated"
	got, err := s.GetUser(ctx, "copy")
	must(t, err, "GetUser")
	checkEqual(t, "user after the caller changed its slices", got, want)

	got.Roles[1] = "mutated"
	byName, err := s.GetUserByUsername(ctx, "copy")
	must(t, err, "GetUserByUsername")
	byName.Roles[2] = "mutated"
	list, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	if len(list) > 0 {
		list[0].Roles[0] = "mutated"
	}
	again, err := s.GetUser(ctx, "copy")
	must(t, err, "GetUser")
	checkEqual(t, "user after the caller changed returned slices", again, want)

	upd := newUser("copy", "copy")
	must(t, s.UpdateUser(ctx, upd), "UpdateUser")
	upd.Roles[1] = "mutated"
	again, err = s.GetUser(ctx, "copy")
	must(t, err, "GetUser")
	checkEqual(t, "user after the caller changed an updated slice", again, want)
}
