package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// testClientVersion checks Client.Version: CreateClient stores 1 whatever is passed, every
// UpdateClient adds one, a stale or future version is ErrConflict and writes nothing, and
// version 0 skips the check.
func testClientVersion(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := fullClient("v")
	c.Version = 7
	must(t, s.CreateClient(ctx, c), "CreateClient with Version 7")
	want := fullClient("v")
	get := func(what string) storage.Client {
		t.Helper()
		got, err := s.GetClient(ctx, "v")
		must(t, err, "GetClient "+what)
		return got
	}
	checkEqual(t, "created client", get("after create"), want)
	list, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "ListClients", list, []storage.Client{want}, clientKey)
	page, err := s.QueryClients(ctx, storage.ClientQuery{})
	must(t, err, "QueryClients")
	checkList(t, "QueryClients", page, []storage.Client{want}, clientKey)

	// The version read is accepted once.
	upd := get("to update")
	upd.Name, upd.UpdatedAt = "first update", at(time.Hour)
	must(t, s.UpdateClient(ctx, upd), "UpdateClient at the stored version")
	want = upd
	want.Version = 2
	checkEqual(t, "client after an update", get("after update"), want)

	// A stale version (a lost update prevented) and a version never stored: ErrConflict,
	// and nothing written.
	for _, v := range []int64{1, 3, -1, 1 << 40} {
		stale := fullClient("v")
		stale.Name, stale.Version, stale.Public = "stale "+strconv.FormatInt(v, 10), v, true
		checkErr(t, fmt.Sprintf("UpdateClient at version %d (stored 2)", v), s.UpdateClient(ctx, stale), storage.ErrConflict)
		checkEqual(t, fmt.Sprintf("client after UpdateClient at version %d", v), get("after a conflict"), want)
	}

	// Version 0 skips the check and still counts.
	blind := fullClient("v")
	blind.Version, blind.Name = 0, "blind"
	must(t, s.UpdateClient(ctx, blind), "UpdateClient at version 0")
	want = blind
	want.Version = 3
	checkEqual(t, "client after an update at version 0", get("after a blind update"), want)

	// Absent is ErrNotFound whatever the version, not ErrConflict.
	for _, v := range []int64{0, 1, 3} {
		absent := fullClient("absent")
		absent.Version = v
		err := s.UpdateClient(ctx, absent)
		checkErr(t, fmt.Sprintf("UpdateClient of an absent client at version %d", v), err, storage.ErrNotFound)
		if errors.Is(err, storage.ErrConflict) {
			t.Errorf("UpdateClient of an absent client at version %d: %v also matches ErrConflict", v, err)
		}
	}

	// In a transaction: a conflict there is the same, and a rolled-back update does not count.
	err = s.InTx(ctx, func(tx storage.Store) error {
		stale := fullClient("v")
		stale.Version = 2
		checkErr(t, "UpdateClient at a stale version in a transaction", tx.UpdateClient(ctx, stale), storage.ErrConflict)
		cur, err := tx.GetClient(ctx, "v")
		if err != nil {
			return err
		}
		cur.Name = "rolled back"
		if err := tx.UpdateClient(ctx, cur); err != nil {
			return err
		}
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	checkEqual(t, "client after a rolled-back update", get("after a rollback"), want)

	// A deleted and re-created client starts again at 1.
	must(t, s.DeleteClient(ctx, "v"), "DeleteClient")
	must(t, s.CreateClient(ctx, publicClient("v")), "CreateClient again")
	checkEqual(t, "re-created client", get("after re-creating"), publicClient("v"))
}

// testConcurrentUpdateClientVersion runs UpdateClient from many goroutines at once. All of
// them passing the one version they read: exactly one succeeds, the others get ErrConflict.
// Then each retries read-modify-write until it succeeds: every version is taken by exactly
// one update, and no update is lost.
func testConcurrentUpdateClientVersion(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "shared")
	read, err := s.GetClient(ctx, "shared")
	must(t, err, "GetClient")
	errs := parallel(concurrency, func(i int) error {
		c := read
		c.Name = "writer " + strconv.Itoa(i)
		return s.UpdateClient(ctx, c)
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("concurrent UpdateClient at one version: goroutines %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("concurrent UpdateClient at one version, goroutine %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("concurrent UpdateClient at one version: none succeeded")
	}
	got, err := s.GetClient(ctx, "shared")
	must(t, err, "GetClient")
	if got.Version != 2 || got.Name != "writer "+strconv.Itoa(winner) {
		t.Fatalf("client after concurrent updates at one version: version %d, name %q; want 2, %q",
			got.Version, got.Name, "writer "+strconv.Itoa(winner))
	}

	// Read-modify-write with retries: each goroutine adds its tag to Scopes once.
	var mu sync.Mutex
	usedVersion := map[int64]int{} // version passed by a successful update -> writer
	errs = parallel(concurrency, func(i int) error {
		tag := "tag:" + strconv.Itoa(i)
		for range 100 * concurrency {
			c, err := s.GetClient(ctx, "shared")
			if err != nil {
				return err
			}
			c.Scopes = append(c.Scopes, tag)
			switch err := s.UpdateClient(ctx, c); {
			case err == nil:
				mu.Lock()
				defer mu.Unlock()
				if w, ok := usedVersion[c.Version]; ok {
					return fmt.Errorf("writers %d and %d both updated version %d", w, i, c.Version)
				}
				usedVersion[c.Version] = i
				return nil
			case !errors.Is(err, storage.ErrConflict):
				return err
			}
		}
		return errors.New("no update succeeded in many retries")
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	got, err = s.GetClient(ctx, "shared")
	must(t, err, "GetClient")
	if want := int64(2 + concurrency); got.Version != want {
		t.Errorf("version after %d more updates: %d, want %d", concurrency, got.Version, want)
	}
	var tags []string
	for _, sc := range got.Scopes {
		if strings.HasPrefix(sc, "tag:") {
			tags = append(tags, sc)
		}
	}
	slices.Sort(tags)
	var want []string
	for i := range concurrency {
		want = append(want, "tag:"+strconv.Itoa(i))
	}
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Errorf("writers' tags in the final client: %q, want each of %q once (an update was lost)", tags, want)
	}
}

// queryClients calls QueryClients and returns the ids.
func queryClientIDs(t *testing.T, s storage.Store, q storage.ClientQuery) []string {
	t.Helper()
	got, err := s.QueryClients(t.Context(), q)
	must(t, err, fmt.Sprintf("QueryClients(%+v)", q))
	ids := []string{}
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	return ids
}

func testClientQuery(t *testing.T, s storage.Store) {
	ctx := t.Context()
	names := map[string]string{
		"alpha-1":     "The Alpha app",
		"beta":        "ALPHABET soup",
		"gamma":       "plain",
		"pct":         "100% sure",
		"pct-like":    "1000 sure",
		"under_score": "x",
		"underscore":  "y",
		"bang":        "wow! 50%",
		"slash":       `back\slash`,
		"noslash":     "backslash",
		"unicode":     "Ünïcødé",
	}
	for id, name := range names {
		c := fullClient(id)
		c.Name = name
		must(t, s.CreateClient(ctx, c), "CreateClient "+id)
	}
	all := slices.Sorted(func(yield func(string) bool) {
		for id := range names {
			if !yield(id) {
				return
			}
		}
	})
	// The whole record comes back, at version 1.
	got, err := s.QueryClients(ctx, storage.ClientQuery{Search: "gamma"})
	must(t, err, "QueryClients")
	want := fullClient("gamma")
	want.Name = "plain"
	checkList(t, "QueryClients(gamma)", got, []storage.Client{want}, clientKey)

	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"", all},
		{"alpha", []string{"alpha-1", "beta"}}, // id or name, any case
		{"ALPHA", []string{"alpha-1", "beta"}}, // upper-case search
		{"aLpHaBeT", []string{"beta"}},         // mixed case, name only
		{"a-1", []string{"alpha-1"}},           // id only
		{"%", []string{"bang", "pct"}},         // literal, not "anything"
		{"0%", []string{"bang", "pct"}},        // not "0 then anything"
		{"_", []string{"under_score"}},         // literal, not "any one character"
		{"r_s", []string{"under_score"}},       // not "r, any, s"
		{"!", []string{"bang"}},                // a common LIKE escape character
		{"!!", nil},                            // not an escaped '!'
		{"! 5", []string{"bang"}},              // '!' then text
		{`\`, []string{"slash"}},               // the other common escape character
		{`k\s`, []string{"slash"}},             // not an escaped 's'
		{"%%", nil},                            // two literal '%'
		{"nïc", []string{"unicode"}},           // non-ASCII, same case
		{"nothing like it", nil},               // no match
		{"  ", nil},                            // spaces are text too
		{"SURE", []string{"pct", "pct-like"}},  // names only
		{"score", []string{"under_score", "underscore"}},
	} {
		if ids := queryClientIDs(t, s, storage.ClientQuery{Search: tc.search}); !slices.Equal(ids, tc.want) {
			t.Errorf("QueryClients(Search %q) = %q, want %q", tc.search, ids, tc.want)
		}
	}

	// After is exclusive and need not name a client; Limit cuts the page.
	for _, tc := range []struct {
		q    storage.ClientQuery
		want []string
	}{
		{storage.ClientQuery{After: "gamma"}, []string{"noslash", "pct", "pct-like", "slash", "under_score", "underscore", "unicode"}},
		{storage.ClientQuery{After: "h"}, []string{"noslash", "pct", "pct-like", "slash", "under_score", "underscore", "unicode"}},
		{storage.ClientQuery{After: "unicode"}, nil},
		{storage.ClientQuery{After: "pct", Limit: 2}, []string{"pct-like", "slash"}},
		{storage.ClientQuery{Limit: 1}, []string{"alpha-1"}},
		{storage.ClientQuery{Search: "E", After: "pct"}, []string{"pct-like", "under_score", "underscore", "unicode"}},
		{storage.ClientQuery{Search: "E", After: "pct", Limit: 2}, []string{"pct-like", "under_score"}},
	} {
		if ids := queryClientIDs(t, s, tc.q); !slices.Equal(ids, tc.want) {
			t.Errorf("QueryClients(%+v) = %q, want %q", tc.q, ids, tc.want)
		}
	}
}

// testClientQueryPages pages through the clients with keyset pagination, with and without a
// search, and checks that the pages cover every matching client exactly once, in order; and
// that a Limit of 0 means 100.
func testClientQueryPages(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var all, odd []string
	for i := range 103 {
		id := fmt.Sprintf("c-%03d", i)
		c := fullClient(id)
		if i%2 == 1 {
			c.Name = "Odd One"
			odd = append(odd, id)
		}
		must(t, s.CreateClient(ctx, c), "CreateClient "+id)
		all = append(all, id)
	}
	if ids := queryClientIDs(t, s, storage.ClientQuery{}); !slices.Equal(ids, all[:100]) {
		t.Errorf("QueryClients with Limit 0 returned %d clients (%q…), want the first 100", len(ids), ids[:min(len(ids), 3)])
	}
	for _, search := range []string{"", "odd one"} {
		want := all
		if search != "" {
			want = odd
		}
		for _, limit := range []int{1, 7, 51, 200} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("Search %q, Limit %d: paging does not end", search, limit)
				}
				ids := queryClientIDs(t, s, storage.ClientQuery{Search: search, After: after, Limit: limit})
				if len(ids) > limit {
					t.Fatalf("Search %q, Limit %d: a page of %d", search, limit, len(ids))
				}
				got = append(got, ids...)
				if len(ids) < limit {
					break
				}
				after = ids[len(ids)-1]
			}
			if !slices.Equal(got, want) {
				t.Errorf("Search %q, Limit %d: the pages hold %d clients, want each of %d once in order", search, limit, len(got), len(want))
			}
		}
	}
}
