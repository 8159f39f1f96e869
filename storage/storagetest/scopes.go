package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func scopeTests() []test {
	return []test{
		{"CreateGet", testScopeCreateGet},
		{"CreateConflict", testScopeCreateConflict},
		{"NotFound", testScopeNotFound},
		{"List", testScopeList},
		{"Update", testScopeUpdate},
		{"Delete", testScopeDelete},
	}
}

func newScope(name string, def bool) storage.Scope {
	return storage.Scope{Name: name, Description: "Lets the app see " + name + ". " + awkward, Default: def, CreatedAt: at(time.Duration(len(name)) * time.Second)}
}

func testScopeCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	scopes := []storage.Scope{
		newScope("openid", true),
		newScope("profile", false),
		{Name: "bare", CreatedAt: west(at(0))},
	}
	for _, sc := range scopes {
		must(t, s.CreateScope(ctx, sc), "CreateScope "+sc.Name)
	}
	for _, sc := range scopes {
		got, err := s.GetScope(ctx, sc.Name)
		must(t, err, "GetScope "+sc.Name)
		checkEqual(t, "scope "+sc.Name, got, sc)
	}
}

func testScopeCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newScope("email", true)
	must(t, s.CreateScope(ctx, first), "CreateScope")
	checkErr(t, "CreateScope with a taken name", s.CreateScope(ctx, newScope("email", false)), storage.ErrConflict)
	got, err := s.GetScope(ctx, "email")
	must(t, err, "GetScope")
	checkEqual(t, "scope after a conflicting create", got, first)
}

func testScopeNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.CreateScope(ctx, newScope("present", false)), "CreateScope")
	_, err := s.GetScope(ctx, "absent")
	checkErr(t, "GetScope absent", err, storage.ErrNotFound)
	checkErr(t, "UpdateScope absent", s.UpdateScope(ctx, newScope("absent", true)), storage.ErrNotFound)
	checkErr(t, "DeleteScope absent", s.DeleteScope(ctx, "absent"), storage.ErrNotFound)
	_, err = s.GetScope(ctx, "absent")
	checkErr(t, "GetScope after UpdateScope of an absent scope", err, storage.ErrNotFound)
}

func testScopeList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	names := []string{"profile", "email", "openid", "address", "offline-access", "api-2", "api-10"}
	for i, name := range names {
		must(t, s.CreateScope(ctx, newScope(name, i%2 == 0)), "CreateScope "+name)
	}
	var want []storage.Scope
	for i, name := range names {
		want = append(want, newScope(name, i%2 == 0))
	}
	// Sorted by name: address, api-10, api-2, email, offline-access, openid, profile.
	want = []storage.Scope{want[3], want[6], want[5], want[1], want[4], want[2], want[0]}
	got, err := s.ListScopes(ctx)
	must(t, err, "ListScopes")
	checkList(t, "ListScopes", got, want, scopeKey)
}

func testScopeUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	orig := newScope("profile", false)
	must(t, s.CreateScope(ctx, orig), "CreateScope")
	must(t, s.CreateScope(ctx, newScope("other", false)), "CreateScope other")

	// Description and Default change; CreatedAt must be ignored.
	upd := storage.Scope{Name: "profile", Description: "new " + awkward, Default: true, CreatedAt: at(48 * time.Hour)}
	must(t, s.UpdateScope(ctx, upd), "UpdateScope")
	want := upd
	want.CreatedAt = orig.CreatedAt
	got, err := s.GetScope(ctx, "profile")
	must(t, err, "GetScope")
	checkEqual(t, "updated scope", got, want)

	back := storage.Scope{Name: "profile", Description: "", Default: false}
	must(t, s.UpdateScope(ctx, back), "UpdateScope back")
	want = back
	want.CreatedAt = orig.CreatedAt
	got, err = s.GetScope(ctx, "profile")
	must(t, err, "GetScope")
	checkEqual(t, "scope updated back", got, want)

	other, err := s.GetScope(ctx, "other")
	must(t, err, "GetScope other")
	checkEqual(t, "scope not updated", other, newScope("other", false))
}

func testScopeDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, name := range []string{"a", "b", "c"} {
		must(t, s.CreateScope(ctx, newScope(name, true)), "CreateScope "+name)
	}
	must(t, s.DeleteScope(ctx, "b"), "DeleteScope")
	_, err := s.GetScope(ctx, "b")
	checkErr(t, "GetScope after DeleteScope", err, storage.ErrNotFound)
	checkErr(t, "DeleteScope twice", s.DeleteScope(ctx, "b"), storage.ErrNotFound)
	got, err := s.ListScopes(ctx)
	must(t, err, "ListScopes")
	checkList(t, "ListScopes after DeleteScope", got, []storage.Scope{newScope("a", true), newScope("c", true)}, scopeKey)
	must(t, s.CreateScope(ctx, newScope("b", false)), "CreateScope after DeleteScope")
}
