package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func timeTests() []test {
	return []test{
		{"RoundTrip", testTimeRoundTrip},
		{"MicrosecondOrder", testTimeMicrosecondOrder},
	}
}

// instants are times the suite round-trips through every time field: microsecond
// precision, in zones east and west of UTC, across a UTC date change, a leap day, and years
// far from now.
func instants() []time.Time {
	far := time.FixedZone("UTC+14:00", 14*60*60)
	return []time.Time{
		at(0),
		west(at(0)),
		time.Date(2028, time.February, 29, 23, 59, 59, 999999000, time.FixedZone("UTC-08:00", -8*60*60)),
		time.Date(2027, time.January, 1, 0, 0, 0, 1000, far),
		time.Date(1999, time.December, 31, 23, 59, 59, 123456000, far),
		time.Date(2299, time.June, 30, 12, 0, 0, 654321000, time.FixedZone("UTC-03:30", -(3*60*60+30*60))),
	}
}

func testTimeRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for i, tm := range instants() {
		id := fmt.Sprintf("t%d", i)
		c := fullClient(id)
		c.CreatedAt, c.UpdatedAt = tm, west(tm)
		must(t, s.CreateClient(ctx, c), "CreateClient")
		gotC, err := s.GetClient(ctx, id)
		must(t, err, "GetClient")
		checkEqual(t, "client with time "+fmtTime(tm), gotC, c)

		sc := storage.Scope{Name: id, CreatedAt: tm}
		must(t, s.CreateScope(ctx, sc), "CreateScope")
		gotS, err := s.GetScope(ctx, id)
		must(t, err, "GetScope")
		checkEqual(t, "scope with time "+fmtTime(tm), gotS, sc)

		tok := newToken(id, id)
		tok.IssuedAt, tok.ExpiresAt, tok.AuthTime, tok.UsedAt = tm, tm, west(tm), tm
		must(t, s.CreateToken(ctx, tok), "CreateToken")
		must(t, s.RevokeToken(ctx, id, west(tm)), "RevokeToken")
		tok.RevokedAt = tm
		gotT, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash")
		checkEqual(t, "token with time "+fmtTime(tm), gotT, tok)

		k := newKey(id, storage.KeyPrevious, tm, west(tm))
		must(t, s.CreateKey(ctx, k), "CreateKey")
		if i > 0 {
			must(t, s.DeleteKey(ctx, fmt.Sprintf("t%d", i-1)), "DeleteKey")
		}
		keys, err := s.ListKeys(ctx)
		must(t, err, "ListKeys")
		checkList(t, "ListKeys with time "+fmtTime(tm), keys, []storage.SigningKey{k}, keyKey)

		u := newUser(id, id)
		u.CreatedAt, u.UpdatedAt = tm, west(tm)
		must(t, s.CreateUser(ctx, u), "CreateUser")
		gotU, err := s.GetUser(ctx, id)
		must(t, err, "GetUser")
		checkEqual(t, "user with time "+fmtTime(tm), gotU, u)

		cons := newConsent(id, id)
		cons.CreatedAt, cons.UpdatedAt = west(tm), tm
		must(t, s.PutConsent(ctx, cons), "PutConsent")
		gotCons, err := s.GetConsent(ctx, id, id)
		must(t, err, "GetConsent")
		checkEqual(t, "consent with time "+fmtTime(tm), gotCons, cons)

		se := newSession(id, id, tm)
		se.AuthTime, se.ExpiresAt = west(tm), tm
		must(t, s.CreateSession(ctx, se), "CreateSession")
		gotSe, err := s.GetSessionByHash(ctx, se.Hash)
		must(t, err, "GetSessionByHash")
		checkEqual(t, "session with time "+fmtTime(tm), gotSe, se)

		code := newCode(id, id, id)
		code.AuthTime, code.IssuedAt, code.ExpiresAt = tm, west(tm), tm
		must(t, s.CreateCode(ctx, code), "CreateCode")
		gotCode, err := s.ConsumeCode(ctx, code.Hash, west(tm))
		must(t, err, "ConsumeCode")
		code.UsedAt = tm
		checkEqual(t, "code with time "+fmtTime(tm), gotCode, code)

		dc := newDeviceCode(id, id)
		dc.IssuedAt, dc.ExpiresAt, dc.LastPolledAt = west(tm), tm, west(tm)
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
		checkDevice(t, s, "device code with time "+fmtTime(tm), dc)
		must(t, s.DecideDeviceCode(ctx, dc.UserCodeHash, storage.DeviceApproved, id, west(tm)), "DecideDeviceCode")
		dc.Status, dc.UserID, dc.AuthTime = storage.DeviceApproved, id, tm
		polled, err := s.PollDeviceCode(ctx, dc.Hash, west(tm))
		must(t, err, "PollDeviceCode")
		checkEqual(t, "device code returned by PollDeviceCode at "+fmtTime(tm), polled, dc)
		dc.LastPolledAt, dc.Interval = tm, dc.Interval+5
		used, err := s.ConsumeDeviceCode(ctx, dc.Hash, tm)
		must(t, err, "ConsumeDeviceCode")
		dc.UsedAt = tm
		checkEqual(t, "device code returned by ConsumeDeviceCode at "+fmtTime(tm), used, dc)
		checkDevice(t, s, "used device code with time "+fmtTime(tm), dc)

		e := newEvent(id, id, tm)
		must(t, s.AppendAudit(ctx, e), "AppendAudit")
		events, err := s.ListAudit(ctx, storage.AuditFilter{Type: id})
		must(t, err, "ListAudit")
		want := []storage.AuditEvent{e}
		checkIDs(t, events, want)
		checkList(t, "ListAudit with time "+fmtTime(tm), events, want, eventKey)
	}
}

// testTimeMicrosecondOrder checks that times one microsecond apart keep their order, and
// that an instant is compared as an instant whatever the zone it was written in.
func testTimeMicrosecondOrder(t *testing.T, s storage.Store) {
	ctx := t.Context()
	k1 := newKey("k1", storage.KeyNext, at(time.Microsecond), time.Time{})
	k2 := newKey("k2", storage.KeyCurrent, west(at(0)), time.Time{})
	must(t, s.CreateKey(ctx, k1), "CreateKey")
	must(t, s.CreateKey(ctx, k2), "CreateKey")
	keys, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys of keys a microsecond apart", keys, []storage.SigningKey{k2, k1}, keyKey)

	older := newEvent("older", "app", west(at(0)))
	newer := newEvent("newer", "app", at(time.Microsecond))
	must(t, s.AppendAudit(ctx, newer, older), "AppendAudit")
	want := []storage.AuditEvent{newer, older}
	events := listAll(t, s)
	checkIDs(t, events, want)
	checkList(t, "ListAudit of events a microsecond apart", events, want, eventKey)

	since, err := s.ListAudit(ctx, storage.AuditFilter{Since: west(at(time.Microsecond))})
	must(t, err, "ListAudit")
	checkList(t, "ListAudit since the newer event", since, want[:1], eventKey)
}
