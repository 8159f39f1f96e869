package storagetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// queryUsernames calls QueryUsers and returns the usernames.
func queryUsernames(t *testing.T, s storage.Store, q storage.UserQuery) []string {
	t.Helper()
	got, err := s.QueryUsers(t.Context(), q)
	must(t, err, fmt.Sprintf("QueryUsers(%+v)", q))
	names := []string{}
	for _, u := range got {
		names = append(names, u.Username)
	}
	return names
}

func testUserQuery(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Ids in another order than usernames, so that ordering or paging by id fails.
	users := []storage.User{
		{ID: "u1", Username: "delta", Email: "d@Example.COM", Name: "Dee Elta"},
		{ID: "u2", Username: "alpha", Email: "first@example.org", Name: "100% Alpha"},
		{ID: "u3", Username: "charlie_2", Email: "c2@example.net", Name: "Charlie Two"},
		{ID: "u4", Username: "bravo", Email: "", Name: `Bra\vo`},
		{ID: "u5", Username: "charlie10", Email: "c10@example.net", Name: "Charlie Ten!"},
		{ID: "u6", Username: "a1", Email: "a1@EXAMPLE.org", Name: ""},
	}
	for _, u := range users {
		u.CreatedAt = at(0)
		must(t, s.CreateUser(ctx, u), "CreateUser "+u.ID)
	}
	got, err := s.QueryUsers(ctx, storage.UserQuery{Search: "dee"})
	must(t, err, "QueryUsers")
	want := users[0]
	want.CreatedAt = at(0)
	checkList(t, "QueryUsers(dee)", got, []storage.User{want}, userKey)

	for _, tc := range []struct {
		q    storage.UserQuery
		want []string
	}{
		{storage.UserQuery{}, []string{"a1", "alpha", "bravo", "charlie10", "charlie_2", "delta"}},
		{storage.UserQuery{Search: "CHARLIE"}, []string{"charlie10", "charlie_2"}}, // username and name
		{storage.UserQuery{Search: "example.org"}, []string{"a1", "alpha"}},        // email, any case
		{storage.UserQuery{Search: "EXAMPLE.COM"}, []string{"delta"}},              // email, any case
		{storage.UserQuery{Search: "elta"}, []string{"delta"}},                     // username and name, once
		{storage.UserQuery{Search: "_"}, []string{"charlie_2"}},                    // literal
		{storage.UserQuery{Search: "e_2"}, []string{"charlie_2"}},                  // literal
		{storage.UserQuery{Search: "%"}, []string{"alpha"}},                        // literal
		{storage.UserQuery{Search: "0%"}, []string{"alpha"}},                       // literal
		{storage.UserQuery{Search: "%a"}, []string{}},                              // literal
		{storage.UserQuery{Search: `\v`}, []string{"bravo"}},                       // literal
		{storage.UserQuery{Search: "n!"}, []string{"charlie10"}},                   // literal
		{storage.UserQuery{Search: "zzz"}, []string{}},                             // nothing
		{storage.UserQuery{After: "alpha"}, []string{"bravo", "charlie10", "charlie_2", "delta"}},
		{storage.UserQuery{After: "b", Limit: 2}, []string{"bravo", "charlie10"}},
		{storage.UserQuery{After: "delta"}, []string{}},
		{storage.UserQuery{Search: "charlie", After: "charlie10"}, []string{"charlie_2"}},
		{storage.UserQuery{Search: "a", Limit: 1}, []string{"a1"}},
	} {
		if names := queryUsernames(t, s, tc.q); !slices.Equal(names, tc.want) {
			t.Errorf("QueryUsers(%+v) = %q, want %q", tc.q, names, tc.want)
		}
	}
}

// testUserQueryPages pages through the users with keyset pagination, with and without a
// search, and checks that the pages cover every matching user exactly once, in order.
func testUserQueryPages(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var all, even []string
	for i := range 104 {
		// Usernames in reverse order of ids.
		name := fmt.Sprintf("user-%03d", i)
		u := bareUser(fmt.Sprintf("id-%03d", 200-i), name)
		if i%2 == 0 {
			u.Email = name + "@Even.example"
			even = append(even, name)
		}
		must(t, s.CreateUser(ctx, u), "CreateUser "+name)
		all = append(all, name)
	}
	if names := queryUsernames(t, s, storage.UserQuery{}); !slices.Equal(names, all[:100]) {
		t.Errorf("QueryUsers with Limit 0 returned %d users, want the first 100", len(names))
	}
	for _, search := range []string{"", "@even."} {
		want := all
		if search != "" {
			want = even
		}
		for _, limit := range []int{1, 9, 52, 500} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("Search %q, Limit %d: paging does not end", search, limit)
				}
				names := queryUsernames(t, s, storage.UserQuery{Search: search, After: after, Limit: limit})
				if len(names) > limit {
					t.Fatalf("Search %q, Limit %d: a page of %d", search, limit, len(names))
				}
				got = append(got, names...)
				if len(names) < limit {
					break
				}
				after = names[len(names)-1]
			}
			if !slices.Equal(got, want) {
				t.Errorf("Search %q, Limit %d: the pages hold %d users, want each of %d once in order", search, limit, len(got), len(want))
			}
		}
	}
}
