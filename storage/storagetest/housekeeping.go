package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func housekeepingTests() []test {
	return []test{
		{"DeleteExpiredInBatches", func(t *testing.T, s storage.Store) { testDeleteExpired(t, s, 5) }},
		{"DeleteExpiredAtOnce", func(t *testing.T, s storage.Store) { testDeleteExpired(t, s, 1000) }},
		{"DeleteExpiredOneByOne", func(t *testing.T, s storage.Store) { testDeleteExpired(t, s, 1) }},
		{"DeleteAuditBeforeInBatches", func(t *testing.T, s storage.Store) { testDeleteAuditBefore(t, s, 3) }},
		{"DeleteAuditBeforeAtOnce", func(t *testing.T, s storage.Store) { testDeleteAuditBefore(t, s, 1000) }},
	}
}

// expiryFixture is what testDeleteExpired writes: rows due for deletion at now, and rows
// that must stay.
type expiryFixture struct {
	now                   time.Time
	dueTokens, keptTokens []string
	dueJTIs, keptJTIs     []string
	dueKeys, keptKeys     []string // kept keys in ListKeys order
	dueCodes, keptCodes   []string
	dueSess, keptSess     []string
	dueDevs, keptDevs     []string
	dueAdmins, keptAdmins []string
}

func writeExpiryFixture(t *testing.T, s storage.Store) expiryFixture {
	t.Helper()
	ctx := t.Context()
	f := expiryFixture{now: west(at(0))}
	createClients(t, s, "app")

	// name -> ExpiresAt (or NotAfter); the zero time means "never".
	tokens := map[string]time.Time{
		"due-t0": f.now.Add(-time.Microsecond), "due-t1": f.now.Add(-time.Minute), "due-t2": f.now.Add(-time.Hour),
		"due-t3": at(-24 * time.Hour), "due-t4": f.now.Add(-2 * time.Minute),
		"keep-t-now": f.now, "keep-t-soon": f.now.Add(time.Microsecond), "keep-t-later": at(time.Hour),
		"keep-t-zero": {},
	}
	for id, exp := range tokens {
		tok := newToken(id, "app")
		tok.IssuedAt, tok.ExpiresAt = at(-48*time.Hour), exp
		if id == "due-t1" || id == "keep-t-later" {
			tok.RevokedAt = at(-time.Hour)
		}
		must(t, s.CreateToken(ctx, tok), "CreateToken "+id)
	}
	jtis := map[string]time.Time{
		"due-j0": f.now.Add(-time.Microsecond), "due-j1": at(-time.Hour), "due-j2": at(-2 * time.Hour), "due-j3": at(-3 * time.Hour),
		"keep-j-now": f.now, "keep-j-later": at(time.Hour), "keep-j-zero": {},
	}
	for jti, exp := range jtis {
		must(t, s.RevokeJTI(ctx, storage.Revocation{JTI: jti, ClientID: "app", ExpiresAt: exp, RevokedAt: at(-48 * time.Hour)}), "RevokeJTI "+jti)
	}
	keys := []storage.SigningKey{
		newKey("due-k0", storage.KeyPrevious, at(-72*time.Hour), f.now.Add(-time.Microsecond)),
		newKey("due-k1", storage.KeyPrevious, at(-71*time.Hour), at(-time.Hour)),
		newKey("due-k2", storage.KeyPrevious, at(-70*time.Hour), at(-24*time.Hour)),
		newKey("keep-k-now", storage.KeyPrevious, at(-69*time.Hour), f.now),
		newKey("keep-k-later", storage.KeyPrevious, at(-68*time.Hour), at(time.Hour)),
		newKey("keep-k-zero", storage.KeyPrevious, at(-67*time.Hour), time.Time{}),
		// Only previous keys expire, whatever the NotAfter of the others says.
		newKey("keep-k-current", storage.KeyCurrent, at(-66*time.Hour), at(-time.Hour)),
		newKey("keep-k-next", storage.KeyNext, at(-65*time.Hour), at(-time.Hour)),
	}
	for _, k := range keys {
		must(t, s.CreateKey(ctx, k), "CreateKey "+k.ID)
	}
	split := func(names []string) (due, kept []string) {
		for _, n := range names {
			if n[:4] == "due-" {
				due = append(due, n)
			} else {
				kept = append(kept, n)
			}
		}
		return due, kept
	}
	var keyIDs []string
	for _, k := range keys {
		keyIDs = append(keyIDs, k.ID)
	}

	createUsers(t, s, "alice")
	codes := map[string]time.Time{
		"due-c0": f.now.Add(-time.Microsecond), "due-c1": at(-time.Hour), "due-c2": at(-10 * time.Minute),
		"keep-c-now": f.now, "keep-c-later": at(time.Minute), "keep-c-zero": {},
	}
	for name, exp := range codes {
		c := newCode(name, "app", "alice")
		c.IssuedAt, c.ExpiresAt = at(-48*time.Hour), exp
		// Used or not makes no difference.
		if name == "due-c1" || name == "keep-c-later" {
			c.UsedAt = at(-47 * time.Hour)
		}
		must(t, s.CreateCode(ctx, c), "CreateCode "+name)
	}
	sessions := map[string]time.Time{
		"due-s0": f.now.Add(-time.Microsecond), "due-s1": at(-time.Hour), "due-s2": at(-24 * time.Hour),
		"keep-s-now": f.now, "keep-s-later": at(24 * time.Hour), "keep-s-zero": {},
	}
	i := 0
	for id, exp := range sessions {
		se := newSession(id, "alice", at(time.Duration(-48*60+i)*time.Minute))
		se.ExpiresAt = exp
		must(t, s.CreateSession(ctx, se), "CreateSession "+id)
		i++
	}
	devices := map[string]time.Time{
		"due-d0": f.now.Add(-time.Microsecond), "due-d1": at(-time.Hour), "due-d2": at(-5 * time.Minute),
		"due-d3":     at(-48 * time.Hour),
		"keep-d-now": f.now, "keep-d-later": at(10 * time.Minute), "keep-d-zero": {},
	}
	for name, exp := range devices {
		dc := newDeviceCode(name, "app")
		dc.IssuedAt, dc.ExpiresAt = at(-72*time.Hour), exp
		// Whatever the state, an expired request goes.
		switch name {
		case "due-d1", "keep-d-later":
			dc.Status, dc.UserID, dc.AuthTime = storage.DeviceApproved, "alice", at(-71*time.Hour)
			dc.UsedAt = at(-70 * time.Hour)
		case "due-d2":
			dc.Status = storage.DeviceDenied
		}
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode "+name)
	}
	f.dueTokens, f.keptTokens = split(slices.Sorted(maps.Keys(tokens)))
	f.dueJTIs, f.keptJTIs = split(slices.Sorted(maps.Keys(jtis)))
	f.dueKeys, f.keptKeys = split(keyIDs)
	f.dueCodes, f.keptCodes = split(slices.Sorted(maps.Keys(codes)))
	f.dueSess, f.keptSess = split(slices.Sorted(maps.Keys(sessions)))
	f.dueDevs, f.keptDevs = split(slices.Sorted(maps.Keys(devices)))
	// Admin tokens expire like the rest; one that never expires (zero ExpiresAt) stays.
	admins := map[string]time.Time{
		"due-a0": f.now.Add(-time.Microsecond), "due-a1": at(-time.Hour), "due-a2": at(-72 * time.Hour),
		"keep-a-now": f.now, "keep-a-later": at(time.Hour), "keep-a-zero": {},
	}
	for id, exp := range admins {
		tok := newAdminToken(id, at(-96*time.Hour))
		tok.ExpiresAt = exp
		if id == "due-a1" {
			tok.LastUsedAt = at(-2 * time.Hour) // used or not makes no difference
		}
		must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken "+id)
	}
	f.dueAdmins, f.keptAdmins = split(slices.Sorted(maps.Keys(admins)))
	return f
}

// due is how many rows the fixture has due.
func (f expiryFixture) due() int {
	return len(f.dueTokens) + len(f.dueJTIs) + len(f.dueKeys) + len(f.dueCodes) + len(f.dueSess) +
		len(f.dueDevs) + len(f.dueAdmins)
}

// check checks that the due rows are gone, if gone, and that the kept rows are there.
func (f expiryFixture) check(t *testing.T, s storage.Store, gone bool) {
	t.Helper()
	ctx := t.Context()
	for _, ids := range []struct {
		names   []string
		present bool
	}{{f.dueTokens, !gone}, {f.keptTokens, true}} {
		for _, id := range ids.names {
			_, err := s.GetTokenByHash(ctx, tokenHash(id))
			switch {
			case ids.present && err != nil:
				t.Errorf("token %s: %v, want it kept", id, err)
			case !ids.present && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("token %s: got %v, want ErrNotFound (deleted)", id, err)
			}
		}
	}
	for _, ids := range []struct {
		names   []string
		present bool
	}{{f.dueJTIs, !gone}, {f.keptJTIs, true}} {
		for _, jti := range ids.names {
			got, err := s.IsRevoked(ctx, jti)
			must(t, err, "IsRevoked")
			if got != ids.present {
				t.Errorf("IsRevoked(%s) = %v, want %v", jti, got, ids.present)
			}
		}
	}
	keys, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	var got []string
	for _, k := range keys {
		got = append(got, k.ID)
	}
	want := f.keptKeys
	if !gone {
		want = append(append([]string{}, f.dueKeys...), f.keptKeys...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("keys: got %q, want %q", got, want)
	}
	for _, ids := range []struct {
		names   []string
		present bool
	}{{f.dueCodes, !gone}, {f.keptCodes, true}} {
		for _, name := range ids.names {
			_, err := peekCode(t, s, codeHash(name))
			switch {
			case ids.present && err != nil && !errors.Is(err, storage.ErrAlreadyUsed):
				t.Errorf("code %s: %v, want it kept", name, err)
			case !ids.present && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("code %s: got %v, want ErrNotFound (deleted)", name, err)
			}
		}
	}
	for _, ids := range []struct {
		names   []string
		present bool
	}{{f.dueSess, !gone}, {f.keptSess, true}} {
		for _, id := range ids.names {
			_, err := s.GetSessionByHash(ctx, sessionHash(id))
			switch {
			case ids.present && err != nil:
				t.Errorf("session %s: %v, want it kept", id, err)
			case !ids.present && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("session %s: got %v, want ErrNotFound (deleted)", id, err)
			}
		}
	}
	for _, ids := range []struct {
		names   []string
		present bool
	}{{f.dueDevs, !gone}, {f.keptDevs, true}} {
		for _, name := range ids.names {
			_, err := s.GetDeviceCodeByUserCode(ctx, userCodeHash(name))
			switch {
			case ids.present && err != nil:
				t.Errorf("device code %s: %v, want it kept", name, err)
			case !ids.present && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("device code %s: got %v, want ErrNotFound (deleted)", name, err)
			}
		}
	}
	for _, ids := range []struct {
		names   []string
		present bool
	}{{f.dueAdmins, !gone}, {f.keptAdmins, true}} {
		for _, id := range ids.names {
			_, err := s.GetAdminTokenByHash(ctx, adminTokenHash(id))
			switch {
			case ids.present && err != nil:
				t.Errorf("admin token %s: %v, want it kept", id, err)
			case !ids.present && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("admin token %s: got %v, want ErrNotFound (deleted)", id, err)
			}
		}
	}
}

// deleteAll calls del until it returns 0, checking that each call deletes between 1 and
// limit rows while some are due, and that it deletes the due rows and no more.
func deleteAll(t *testing.T, what string, due, limit int, del func() (int, error)) {
	t.Helper()
	total := 0
	for {
		n, err := del()
		must(t, err, what)
		if n < 0 || n > limit {
			t.Fatalf("%s with limit %d returned %d", what, limit, n)
		}
		if n == 0 {
			if total < due {
				t.Fatalf("%s returned 0 with %d of %d due rows deleted", what, total, due)
			}
			return
		}
		total += n
		if total > due {
			t.Fatalf("%s deleted %d rows in all, but only %d are due", what, total, due)
		}
	}
}

func testDeleteExpired(t *testing.T, s storage.Store, limit int) {
	ctx := t.Context()
	f := writeExpiryFixture(t, s)

	n, err := s.DeleteExpired(ctx, f.now, 0)
	must(t, err, "DeleteExpired with limit 0")
	if n != 0 {
		t.Errorf("DeleteExpired with limit 0 deleted %d rows", n)
	}
	f.check(t, s, false)

	deleteAll(t, "DeleteExpired", f.due(), limit, func() (int, error) { return s.DeleteExpired(ctx, f.now, limit) })
	f.check(t, s, true)
}

func testDeleteAuditBefore(t *testing.T, s storage.Store, limit int) {
	ctx := t.Context()
	before := west(at(0))
	var due, kept []storage.AuditEvent
	for i := range 7 {
		due = append(due, newEvent(fmt.Sprintf("due.%d", i), "app", before.Add(-time.Duration(i*i+1)*time.Microsecond*997)))
	}
	// "Older than before" is strict: an event at before stays.
	for i, tm := range []time.Time{before, at(time.Microsecond), at(time.Hour)} {
		kept = append(kept, newEvent(fmt.Sprintf("kept.%d", i), "app", tm))
	}
	// Appended out of time order, so that a backend cannot rely on ids to find old events.
	must(t, s.AppendAudit(ctx, append(append([]storage.AuditEvent{}, kept[:1]...), due...)...), "AppendAudit")
	must(t, s.AppendAudit(ctx, kept[1:]...), "AppendAudit")

	n, err := s.DeleteAuditBefore(ctx, before, 0)
	must(t, err, "DeleteAuditBefore with limit 0")
	if n != 0 {
		t.Errorf("DeleteAuditBefore with limit 0 deleted %d events", n)
	}
	if got := listAll(t, s); len(got) != len(due)+len(kept) {
		t.Errorf("%d events after DeleteAuditBefore with limit 0, want %d", len(got), len(due)+len(kept))
	}

	deleteAll(t, "DeleteAuditBefore", len(due), limit, func() (int, error) { return s.DeleteAuditBefore(ctx, before, limit) })
	got := listAll(t, s)
	want := []storage.AuditEvent{kept[2], kept[1], kept[0]}
	checkIDs(t, got, want)
	checkList(t, "audit events after DeleteAuditBefore", got, want, eventKey)
}
