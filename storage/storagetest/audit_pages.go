package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// testAuditFilterFields checks the filter fields of the admin API: Actor and Subject match
// exactly like Type and ClientID, Until is exclusive, and the fields combine.
func testAuditFilterFields(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Twelve events a minute apart, oldest first.
	var all []storage.AuditEvent
	for i := range 12 {
		e := newEvent([]string{"client.updated", "token.issued"}[i%2], []string{"a", "b", ""}[i%3], at(time.Duration(i)*time.Minute))
		e.Actor = []string{"cli", "admin:root", "a", "config"}[i%4]
		e.Subject = []string{"alice", "bob", "", "Alice", "alice%"}[i%5]
		all = append(all, e)
	}
	must(t, s.AppendAudit(ctx, all...), "AppendAudit")
	stored := listAll(t, s)
	if len(stored) != len(all) {
		t.Fatalf("ListAudit returned %d events, want %d", len(stored), len(all))
	}
	expect := func(limit int, keep func(i int, e storage.AuditEvent) bool) []storage.AuditEvent {
		var out []storage.AuditEvent
		for j, e := range stored {
			if keep(len(stored)-1-j, e) && len(out) < limit {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		filter storage.AuditFilter
		want   []storage.AuditEvent
	}{
		{"actor", storage.AuditFilter{Actor: "admin:root"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Actor == "admin:root" })},
		{"actor that is a client id", storage.AuditFilter{Actor: "a"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Actor == "a" })},
		{"actor prefix", storage.AuditFilter{Actor: "admin"}, nil},
		{"subject", storage.AuditFilter{Subject: "alice"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Subject == "alice" })},
		{"subject, case matters", storage.AuditFilter{Subject: "Alice"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Subject == "Alice" })},
		{"subject with a wildcard", storage.AuditFilter{Subject: "alice%"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Subject == "alice%" })},
		{"subject with a single-character wildcard", storage.AuditFilter{Subject: "alic_"}, nil},
		// Until is exclusive: the event at exactly 6 minutes is out.
		{"until", storage.AuditFilter{Until: west(at(6 * time.Minute))},
			expect(100, func(i int, _ storage.AuditEvent) bool { return i < 6 })},
		{"until between events", storage.AuditFilter{Until: at(6*time.Minute + time.Microsecond)},
			expect(100, func(i int, _ storage.AuditEvent) bool { return i <= 6 })},
		{"until before all", storage.AuditFilter{Until: at(-time.Hour)}, nil},
		{"since and until", storage.AuditFilter{Since: at(3 * time.Minute), Until: at(8 * time.Minute)},
			expect(100, func(i int, _ storage.AuditEvent) bool { return i >= 3 && i < 8 })},
		{"since equal to until", storage.AuditFilter{Since: at(3 * time.Minute), Until: at(3 * time.Minute)}, nil},
		{"actor and subject", storage.AuditFilter{Actor: "cli", Subject: "alice"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Actor == "cli" && e.Subject == "alice" })},
		{"every field", storage.AuditFilter{Type: "client.updated", Actor: "cli", ClientID: "a", Subject: "alice",
			Since: at(0), Until: at(time.Hour), Limit: 1},
			expect(1, func(_ int, e storage.AuditEvent) bool {
				return e.Type == "client.updated" && e.Actor == "cli" && e.ClientID == "a" && e.Subject == "alice"
			})},
		{"client and actor, limit", storage.AuditFilter{ClientID: "b", Actor: "admin:root", Limit: 1},
			expect(1, func(_ int, e storage.AuditEvent) bool { return e.ClientID == "b" && e.Actor == "admin:root" })},
	} {
		got, err := s.ListAudit(ctx, tc.filter)
		must(t, err, "ListAudit "+tc.name)
		checkList(t, "ListAudit with filter "+tc.name, got, tc.want, eventKeyID)
	}
	// Every case above that expects events finds some: the fixture covers them.
	for _, f := range []storage.AuditFilter{{Actor: "a"}, {Subject: "Alice"}, {Subject: "alice%"}, {Actor: "cli", Subject: "alice"}} {
		if got, _ := s.ListAudit(ctx, f); len(got) == 0 {
			t.Errorf("fixture: no event matches %+v", f)
		}
	}
}

// testAuditPages pages through the audit trail with the (BeforeTime, BeforeID) cursor, with
// many events at the same time and a few at the zero time (which come last), and checks that
// the pages cover every matching event exactly once, newest first.
func testAuditPages(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var events []storage.AuditEvent
	for i := range 40 {
		// Groups of five events at one time, the groups appended out of time order.
		tm := at(time.Duration((i/5)*7%8) * time.Second)
		if i%5 == 2 {
			tm = west(tm)
		}
		e := newEvent(fmt.Sprintf("e.%02d", i), "app", tm)
		e.Actor = []string{"cli", "admin"}[i%2]
		events = append(events, e)
	}
	for i := range 3 {
		e := newEvent(fmt.Sprintf("zero.%d", i), "app", time.Time{})
		e.Actor = "cli"
		events = append(events, e)
	}
	for i := 0; i < len(events); i += 6 {
		must(t, s.AppendAudit(ctx, events[i:min(i+6, len(events))]...), "AppendAudit")
	}
	stored := listAll(t, s)
	if len(stored) != len(events) {
		t.Fatalf("ListAudit returned %d events, want %d", len(stored), len(events))
	}
	for i, e := range stored {
		if i >= len(stored)-3 {
			if !e.Time.IsZero() {
				t.Errorf("event %d of %d: %s, want the events at the zero time last", i, len(stored), eventKey(e))
			}
		} else if e.Time.IsZero() {
			t.Errorf("event %d of %d: %s at the zero time, want those last", i, len(stored), eventKey(e))
		}
	}

	for _, base := range []storage.AuditFilter{{}, {Actor: "cli"}, {Actor: "admin", Since: at(2 * time.Second)}, {Until: at(5 * time.Second)}} {
		var want []storage.AuditEvent
		for _, e := range stored {
			if (base.Actor == "" || e.Actor == base.Actor) && (base.Since.IsZero() || !e.Time.Before(base.Since)) &&
				(base.Until.IsZero() || e.Time.Before(base.Until)) {
				want = append(want, e)
			}
		}
		for _, limit := range []int{1, 3, 5, 7, 100} {
			var got []storage.AuditEvent
			f := base
			f.Limit = limit
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("filter %+v: paging does not end", f)
				}
				page, err := s.ListAudit(ctx, f)
				must(t, err, "ListAudit")
				if len(page) > limit {
					t.Fatalf("filter %+v: a page of %d", f, len(page))
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				last := page[len(page)-1]
				f.BeforeTime, f.BeforeID = last.Time, last.ID
				if pages%2 == 1 {
					f.BeforeTime = west(f.BeforeTime) // the instant counts, not the zone
				}
			}
			checkList(t, fmt.Sprintf("pages of %d with filter %+v", limit, base), got, want, eventKeyID)
		}
	}

	// A cursor in the middle of events at one time continues with the older ones of that
	// time (smaller ids), then the older times.
	mid := stored[7]
	got, err := s.ListAudit(ctx, storage.AuditFilter{BeforeTime: mid.Time, BeforeID: mid.ID, Limit: 1000})
	must(t, err, "ListAudit after a cursor")
	checkList(t, "ListAudit after the 8th event", got, stored[8:], eventKeyID)
	// A cursor at the zero time continues with the zero-time events of smaller ids.
	zero := stored[len(stored)-2]
	got, err = s.ListAudit(ctx, storage.AuditFilter{BeforeTime: zero.Time, BeforeID: zero.ID})
	must(t, err, "ListAudit after a zero-time cursor")
	checkList(t, "ListAudit after a zero-time event", got, stored[len(stored)-1:], eventKeyID)
	// BeforeTime without BeforeID is no cursor.
	got, err = s.ListAudit(ctx, storage.AuditFilter{BeforeTime: mid.Time, Limit: 1000})
	must(t, err, "ListAudit with BeforeTime only")
	checkList(t, "ListAudit with BeforeTime only", got, stored, eventKeyID)
	// A cursor need not name an event: an id past every id keeps the whole time.
	got, err = s.ListAudit(ctx, storage.AuditFilter{BeforeTime: mid.Time, BeforeID: 1 << 62, Limit: 1000})
	must(t, err, "ListAudit after a made-up cursor")
	var from int
	for from < len(stored) && stored[from].Time.After(mid.Time) {
		from++
	}
	checkList(t, "ListAudit after a made-up cursor", got, stored[from:], eventKeyID)
}
