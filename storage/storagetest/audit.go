package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func auditTests() []test {
	return []test{
		{"AppendList", testAuditAppendList},
		{"SameTime", testAuditSameTime},
		{"Filter", testAuditFilter},
		{"DefaultLimit", testAuditDefaultLimit},
		{"Copies", testAuditCopies},
		{"FilterFields", testAuditFilterFields},
		{"Pages", testAuditPages},
	}
}

// listAll returns every audit event (up to 10000), newest first.
func listAll(t *testing.T, s storage.Store) []storage.AuditEvent {
	t.Helper()
	events, err := s.ListAudit(t.Context(), storage.AuditFilter{Limit: 10000})
	must(t, err, "ListAudit")
	return events
}

// checkIDs checks that the events' ids are positive and distinct, and copies them into want
// (matched by position) so that the records can be compared whole.
func checkIDs(t *testing.T, got, want []storage.AuditEvent) {
	t.Helper()
	seen := map[int64]bool{}
	for i, e := range got {
		if e.ID <= 0 {
			t.Errorf("audit event %d (%s): ID = %d, want > 0", i, eventKey(e), e.ID)
		}
		if seen[e.ID] {
			t.Errorf("audit event %d (%s): ID %d is not unique", i, eventKey(e), e.ID)
		}
		seen[e.ID] = true
		if i < len(want) {
			want[i].ID = e.ID
		}
	}
}

func testAuditAppendList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.AppendAudit(ctx), "AppendAudit with no events")
	if got := listAll(t, s); len(got) != 0 {
		t.Fatalf("AppendAudit with no events stored %d", len(got))
	}

	e1 := newEvent("client.created", "app", at(0))
	e2 := newEvent("token.issued", "app", west(at(2*time.Second)))
	e2.Details = nil
	e3 := newEvent("token.revoked", "", at(time.Second))
	e3.Details = map[string]string{}
	e3.Actor, e3.Subject = "", ""
	e4 := newEvent("login.failed", "web", at(-time.Hour))
	e4.Details = map[string]string{"reason": "bad password", "ünï": "cødé"}
	must(t, s.AppendAudit(ctx, e1, e2, e3), "AppendAudit of three events")
	must(t, s.AppendAudit(ctx, e4), "AppendAudit of one event")

	got := listAll(t, s)
	want := []storage.AuditEvent{e2, e3, e1, e4}
	checkIDs(t, got, want)
	checkList(t, "ListAudit", got, want, eventKey)
	// Later appends have larger ids: e4 after e1, e2 and e3, which came in that order.
	if len(got) == 4 {
		id := map[string]int64{}
		for _, e := range got {
			id[e.Type] = e.ID
		}
		if !(id["client.created"] < id["token.issued"] && id["token.issued"] < id["token.revoked"] && id["token.revoked"] < id["login.failed"]) {
			t.Errorf("audit ids do not grow with the order of appends: %v", id)
		}
	}
}

// testAuditSameTime checks the tie-break of "newest first": among events with the same Time,
// the one appended later comes first.
func testAuditSameTime(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var want []storage.AuditEvent
	for i := range 5 {
		e := newEvent(fmt.Sprintf("same.%d", i), "app", at(0))
		if i%2 == 1 {
			e.Time = west(e.Time)
		}
		must(t, s.AppendAudit(ctx, e), "AppendAudit")
		want = append([]storage.AuditEvent{e}, want...)
	}
	got := listAll(t, s)
	checkIDs(t, got, want)
	checkList(t, "ListAudit of events with the same time", got, want, func(e storage.AuditEvent) string { return e.Type })
}

func testAuditFilter(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Ten events a minute apart, oldest first, of two types and three clients.
	var all []storage.AuditEvent
	for i := range 10 {
		typ := []string{"token.issued", "token.revoked"}[i%2]
		client := []string{"a", "b", ""}[i%3]
		all = append(all, newEvent(typ, client, at(time.Duration(i)*time.Minute)))
	}
	must(t, s.AppendAudit(ctx, all...), "AppendAudit")
	stored := listAll(t, s) // newest first, with ids
	if len(stored) != len(all) {
		t.Fatalf("ListAudit returned %d events, want %d", len(stored), len(all))
	}

	// expect returns the stored events (newest first) that match keep, at most limit.
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
		{"zero filter", storage.AuditFilter{}, stored},
		{"type", storage.AuditFilter{Type: "token.revoked"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Type == "token.revoked" })},
		{"client", storage.AuditFilter{ClientID: "b"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.ClientID == "b" })},
		{"unknown type", storage.AuditFilter{Type: "token"}, nil},
		{"type and client", storage.AuditFilter{Type: "token.issued", ClientID: "a"},
			expect(100, func(_ int, e storage.AuditEvent) bool { return e.Type == "token.issued" && e.ClientID == "a" })},
		// Since is inclusive: the event at exactly 6 minutes is in.
		{"since", storage.AuditFilter{Since: west(at(6 * time.Minute))},
			expect(100, func(i int, _ storage.AuditEvent) bool { return i >= 6 })},
		{"since between events", storage.AuditFilter{Since: at(6*time.Minute + time.Microsecond)},
			expect(100, func(i int, _ storage.AuditEvent) bool { return i >= 7 })},
		{"since after all", storage.AuditFilter{Since: at(time.Hour)}, nil},
		{"limit", storage.AuditFilter{Limit: 3},
			expect(3, func(int, storage.AuditEvent) bool { return true })},
		{"limit above count", storage.AuditFilter{Limit: 11}, stored},
		{"everything", storage.AuditFilter{Type: "token.issued", ClientID: "a", Since: at(2 * time.Minute), Limit: 1},
			expect(1, func(i int, e storage.AuditEvent) bool { return e.Type == "token.issued" && e.ClientID == "a" && i >= 2 })},
	} {
		got, err := s.ListAudit(ctx, tc.filter)
		must(t, err, "ListAudit "+tc.name)
		checkList(t, "ListAudit with filter "+tc.name, got, tc.want, eventKeyID)
	}
}

func testAuditDefaultLimit(t *testing.T, s storage.Store) {
	ctx := t.Context()
	events := make([]storage.AuditEvent, 105)
	for i := range events {
		events[i] = newEvent("bulk", "app", at(time.Duration(i)*time.Second))
	}
	must(t, s.AppendAudit(ctx, events...), "AppendAudit of 105 events")
	got, err := s.ListAudit(ctx, storage.AuditFilter{})
	must(t, err, "ListAudit")
	if len(got) != 100 {
		t.Fatalf("ListAudit with Limit 0 returned %d events, want 100", len(got))
	}
	// The 100 newest: events[104] down to events[5].
	if !got[0].Time.Equal(events[104].Time) || !got[99].Time.Equal(events[5].Time) {
		t.Errorf("ListAudit with Limit 0 returned events from %s to %s, want from %s to %s",
			fmtTime(got[0].Time), fmtTime(got[99].Time), fmtTime(events[104].Time), fmtTime(events[5].Time))
	}
}

func testAuditCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	e := newEvent("t", "app", at(0))
	want := []storage.AuditEvent{newEvent("t", "app", at(0))}
	must(t, s.AppendAudit(ctx, e), "AppendAudit")
	e.Details["ip"] = "mutated"
	e.Details["new"] = "mutated"
	got := listAll(t, s)
	checkIDs(t, got, want)
	checkList(t, "ListAudit after the caller changed its map", got, want, eventKey)
	if len(got) == 1 {
		got[0].Details["ip"] = "mutated"
		got[0].Details["new"] = "mutated"
	}
	got = listAll(t, s)
	checkList(t, "ListAudit after the caller changed a returned map", got, want, eventKey)
}
