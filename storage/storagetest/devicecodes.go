package storagetest

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Tests of device authorization requests (RFC 8628).

func deviceCodeTests() []test {
	return []test{
		{"CreateGet", testDeviceCreateGet},
		{"CreateConflict", testDeviceCreateConflict},
		{"NotFound", testDeviceNotFound},
		{"Decide", testDeviceDecide},
		{"DecideBadStatus", testDeviceDecideBadStatus},
		{"Poll", testDevicePoll},
		{"PollAnyState", testDevicePollAnyState},
		{"Consume", testDeviceConsume},
		{"ConsumeNotApproved", testDeviceConsumeNotApproved},
		{"ConsumeExpired", testDeviceConsumeExpired},
		{"WrittenUsed", testDeviceWrittenUsed},
		{"Copies", testDeviceCopies},
	}
}

// deviceHash is the SHA-256 of the plaintext of the suite's device code name.
func deviceHash(name string) []byte {
	h := sha256.Sum256([]byte("ghd_" + name + "_0123456789abcdefghijklmnopqrstuvwxyz"))
	return h[:]
}

// userCodeHash is the SHA-256 of the normalized user code of the suite's device code name.
func userCodeHash(name string) []byte {
	h := sha256.Sum256([]byte("WDJBMJHT" + name))
	return h[:]
}

// newDeviceCode returns a pending, never polled device request of clientID, issued at at(0)
// and valid for ten minutes, with a polling interval of 5 seconds.
func newDeviceCode(name, clientID string) storage.DeviceCode {
	return storage.DeviceCode{
		Hash:         deviceHash(name),
		UserCodeHash: userCodeHash(name),
		ClientID:     clientID,
		Scopes:       []string{"openid", "offline_access", "with space", "comma,inside"},
		Status:       storage.DevicePending,
		Interval:     5,
		IssuedAt:     at(0),
		ExpiresAt:    west(at(10 * time.Minute)),
	}
}

// approvedDeviceCode returns newDeviceCode approved by userID, who signed in a minute before.
func approvedDeviceCode(name, clientID, userID string) storage.DeviceCode {
	d := newDeviceCode(name, clientID)
	d.Status, d.UserID, d.AuthTime = storage.DeviceApproved, userID, west(at(-time.Minute))
	return d
}

// checkDevice reads the request with userCodeHash and compares it with want.
func checkDevice(t *testing.T, s storage.Store, what string, want storage.DeviceCode) {
	t.Helper()
	got, err := s.GetDeviceCodeByUserCode(t.Context(), want.UserCodeHash)
	if err != nil {
		t.Errorf("GetDeviceCodeByUserCode of %s: %v", what, err)
		return
	}
	checkEqual(t, what, got, want)
}

func testDeviceCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv", "cli")
	createUsers(t, s, "alice")
	// Every field set, binary hashes with every byte value.
	full := approvedDeviceCode("full", "tv", "alice")
	full.Hash, full.UserCodeHash = allBytes(11), allBytes(200)
	full.Scopes = append(full.Scopes, awkward)
	full.Interval = 15
	full.LastPolledAt = west(at(30 * time.Second))
	full.UsedAt = at(31 * time.Second)
	// Pending, empty scopes, no interval.
	bare := storage.DeviceCode{
		Hash:         deviceHash("bare"),
		UserCodeHash: userCodeHash("bare"),
		ClientID:     "cli",
		Scopes:       []string{},
		Status:       storage.DevicePending,
		IssuedAt:     west(at(0)),
		ExpiresAt:    at(15 * time.Minute),
	}
	// Denied and expired when written: returned all the same.
	denied := newDeviceCode("denied", "tv")
	denied.Status, denied.Scopes = storage.DeviceDenied, nil
	denied.IssuedAt, denied.ExpiresAt = at(-time.Hour), at(-50*time.Minute)
	for _, dc := range []storage.DeviceCode{full, bare, denied} {
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode "+dc.ClientID+" "+dc.Status)
	}
	for i, dc := range []storage.DeviceCode{full, bare, denied} {
		checkDevice(t, s, fmt.Sprintf("device code %d (%s)", i, dc.Status), dc)
	}
}

func testDeviceCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv", "other")
	createUsers(t, s, "alice")
	first := newDeviceCode("d1", "tv")
	must(t, s.CreateDeviceCode(ctx, first), "CreateDeviceCode")

	sameHash := newDeviceCode("d2", "other")
	sameHash.Hash = first.Hash
	checkErr(t, "CreateDeviceCode with a taken hash", s.CreateDeviceCode(ctx, sameHash), storage.ErrConflict)
	_, err := s.GetDeviceCodeByUserCode(ctx, sameHash.UserCodeHash)
	checkErr(t, "GetDeviceCodeByUserCode of the request refused for its hash", err, storage.ErrNotFound)

	sameUserCode := newDeviceCode("d3", "other")
	sameUserCode.UserCodeHash = first.UserCodeHash
	checkErr(t, "CreateDeviceCode with a taken user code hash", s.CreateDeviceCode(ctx, sameUserCode), storage.ErrConflict)
	_, err = s.ConsumeDeviceCode(ctx, sameUserCode.Hash, at(0))
	checkErr(t, "ConsumeDeviceCode of the request refused for its user code", err, storage.ErrNotFound)

	// A used request still holds both hashes.
	must(t, s.DecideDeviceCode(ctx, first.UserCodeHash, storage.DeviceApproved, "alice", at(-time.Minute)), "DecideDeviceCode")
	_, err = s.ConsumeDeviceCode(ctx, first.Hash, at(time.Minute))
	must(t, err, "ConsumeDeviceCode")
	checkErr(t, "CreateDeviceCode with the hash of a used request", s.CreateDeviceCode(ctx, sameHash), storage.ErrConflict)
	checkErr(t, "CreateDeviceCode with the user code of a used request", s.CreateDeviceCode(ctx, sameUserCode), storage.ErrConflict)

	want := first
	want.Status, want.UserID, want.AuthTime, want.UsedAt = storage.DeviceApproved, "alice", at(-time.Minute), at(time.Minute)
	checkDevice(t, s, "device code after conflicting creates", want)
}

func testDeviceNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := newDeviceCode("d1", "tv")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	variants := func(h []byte) map[string][]byte {
		return map[string][]byte{
			"another hash":           deviceHash("d2"),
			"a prefix of the hash":   h[:16],
			"the hash and one more":  append(append([]byte{}, h...), 0),
			"the hash with a change": append(append([]byte{}, h[:31]...), h[31]^1),
			"an empty hash":          {},
			"a nil hash":             nil,
		}
	}
	byUserCode := variants(dc.UserCodeHash)
	// The device code is no user code.
	byUserCode["the device code hash"] = dc.Hash
	for name, h := range byUserCode {
		_, err := s.GetDeviceCodeByUserCode(ctx, h)
		checkErr(t, "GetDeviceCodeByUserCode with "+name, err, storage.ErrNotFound)
		err = s.DecideDeviceCode(ctx, h, storage.DeviceApproved, "alice", at(0))
		checkErr(t, "DecideDeviceCode with "+name, err, storage.ErrNotFound)
	}
	byHash := variants(dc.Hash)
	// The user code is no device code.
	byHash["the user code hash"] = dc.UserCodeHash
	for name, h := range byHash {
		_, err := s.PollDeviceCode(ctx, h, at(time.Second))
		checkErr(t, "PollDeviceCode with "+name, err, storage.ErrNotFound)
		_, err = s.ConsumeDeviceCode(ctx, h, at(time.Second))
		checkErr(t, "ConsumeDeviceCode with "+name, err, storage.ErrNotFound)
	}
	checkDevice(t, s, "device code after lookups of other keys", dc)
}

// testDeviceDecide approves one request and denies another: only pending requests can be
// decided, once.
func testDeviceDecide(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice", "bob")
	yes, no, other := newDeviceCode("yes", "tv"), newDeviceCode("no", "tv"), newDeviceCode("other", "tv")
	for _, dc := range []storage.DeviceCode{yes, no, other} {
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	}

	authTime := west(at(-30 * time.Second))
	must(t, s.DecideDeviceCode(ctx, yes.UserCodeHash, storage.DeviceApproved, "alice", authTime), "DecideDeviceCode approving")
	wantYes := yes
	wantYes.Status, wantYes.UserID, wantYes.AuthTime = storage.DeviceApproved, "alice", authTime
	checkDevice(t, s, "approved device code", wantYes)

	// The user who denies is not recorded here, so either way of keeping it passes.
	must(t, s.DecideDeviceCode(ctx, no.UserCodeHash, storage.DeviceDenied, "", time.Time{}), "DecideDeviceCode denying")
	wantNo := no
	wantNo.Status = storage.DeviceDenied
	checkDevice(t, s, "denied device code", wantNo)

	// A second decision, either way, changes nothing.
	for _, c := range []struct {
		dc     storage.DeviceCode
		status string
	}{
		{yes, storage.DeviceApproved}, {yes, storage.DeviceDenied},
		{no, storage.DeviceApproved}, {no, storage.DeviceDenied},
	} {
		err := s.DecideDeviceCode(ctx, c.dc.UserCodeHash, c.status, "bob", at(time.Minute))
		checkErr(t, fmt.Sprintf("DecideDeviceCode(%s) of a decided request", c.status), err, storage.ErrAlreadyUsed)
	}
	checkDevice(t, s, "approved device code after a second decision", wantYes)
	checkDevice(t, s, "denied device code after a second decision", wantNo)

	// Used requests cannot be decided either.
	_, err := s.ConsumeDeviceCode(ctx, yes.Hash, at(time.Minute))
	must(t, err, "ConsumeDeviceCode")
	err = s.DecideDeviceCode(ctx, yes.UserCodeHash, storage.DeviceDenied, "bob", at(time.Minute))
	checkErr(t, "DecideDeviceCode of a used request", err, storage.ErrAlreadyUsed)
	wantYes.UsedAt = at(time.Minute)
	checkDevice(t, s, "used device code after a decision", wantYes)

	checkDevice(t, s, "undecided device code", other)
}

// testDeviceDecideBadStatus checks that DecideDeviceCode takes only DeviceApproved and
// DeviceDenied: any other status is an error and writes nothing.
func testDeviceDecideBadStatus(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := newDeviceCode("d1", "tv")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	for _, status := range []string{"", storage.DevicePending, "APPROVED", "used", awkward} {
		if err := s.DecideDeviceCode(ctx, dc.UserCodeHash, status, "alice", at(0)); err == nil {
			t.Errorf("DecideDeviceCode with status %q returned nil, want an error", status)
		}
	}
	checkDevice(t, s, "device code after decisions with bad statuses", dc)
	must(t, s.DecideDeviceCode(ctx, dc.UserCodeHash, storage.DeviceApproved, "alice", at(0)), "DecideDeviceCode")
}

// testDevicePoll polls a request at chosen times: a poll less than Interval seconds after the
// previous one grows Interval by 5; a poll Interval seconds or more after it does not.
func testDevicePoll(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	dc := newDeviceCode("d1", "tv")
	other := newDeviceCode("d2", "tv")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	must(t, s.CreateDeviceCode(ctx, other), "CreateDeviceCode other")

	stored := dc
	poll := func(what string, now time.Time, wantInterval int) {
		t.Helper()
		got, err := s.PollDeviceCode(ctx, dc.Hash, now)
		must(t, err, "PollDeviceCode "+what)
		// The request as it was before the poll.
		checkEqual(t, "device code returned by PollDeviceCode "+what, got, stored)
		stored.LastPolledAt, stored.Interval = now, wantInterval
		checkDevice(t, s, "device code after PollDeviceCode "+what, stored)
	}
	t0 := west(at(5 * time.Second))
	// The first poll has no previous one: no slow_down.
	poll("first", t0, 5)
	// Within 5 seconds: slow_down, the interval becomes 10.
	t1 := t0.Add(5*time.Second - time.Microsecond)
	poll("too soon", t1, 10)
	// Exactly 10 seconds later is not too soon.
	t2 := t1.Add(10 * time.Second)
	poll("after exactly the interval", t2, 10)
	// Later than that is fine too.
	t3 := at(time.Hour)
	poll("much later", t3, 10)
	// Immediately again, twice: 15, then 20.
	poll("again at once", t3, 15)
	t4 := t3.Add(14 * time.Second)
	poll("again within the interval", t4, 20)
	// An interval later, nothing grows.
	t5 := t4.Add(20 * time.Second)
	poll("an interval later", t5, 20)

	checkDevice(t, s, "device code never polled", other)
}

// testDevicePollAnyState polls approved, denied, used and expired requests: a poll records
// its time whatever the state, and returns the state, so the caller can answer.
func testDevicePollAnyState(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	approved := approvedDeviceCode("approved", "tv", "alice")
	approved.LastPolledAt = at(-time.Minute)
	denied := newDeviceCode("denied", "tv")
	denied.Status = storage.DeviceDenied
	used := approvedDeviceCode("used", "tv", "alice")
	used.UsedAt = at(-time.Second)
	used.LastPolledAt = west(at(-2 * time.Second))
	expired := newDeviceCode("expired", "tv")
	expired.ExpiresAt = at(-time.Second)
	expired.LastPolledAt = at(-10 * time.Second)
	for _, dc := range []storage.DeviceCode{approved, denied, used, expired} {
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode "+dc.Status)
	}
	now := west(at(0))
	for i, c := range []struct {
		dc           storage.DeviceCode
		wantInterval int
	}{{approved, 5}, {denied, 5}, {used, 10}, {expired, 5}} {
		what := fmt.Sprintf("device code %d (%s)", i, c.dc.Status)
		got, err := s.PollDeviceCode(ctx, c.dc.Hash, now)
		must(t, err, "PollDeviceCode of "+what)
		checkEqual(t, "PollDeviceCode of "+what, got, c.dc)
		want := c.dc
		want.LastPolledAt, want.Interval = now, c.wantInterval
		checkDevice(t, s, what+" after a poll", want)
	}
}

// testDeviceConsume exchanges an approved request once: a second exchange returns it as
// the first left it, with ErrAlreadyUsed.
func testDeviceConsume(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := newDeviceCode("d1", "tv")
	other := approvedDeviceCode("d2", "tv", "alice")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	must(t, s.CreateDeviceCode(ctx, other), "CreateDeviceCode other")
	authTime := west(at(20 * time.Second))
	must(t, s.DecideDeviceCode(ctx, dc.UserCodeHash, storage.DeviceApproved, "alice", authTime), "DecideDeviceCode")
	polled := at(25 * time.Second)
	_, err := s.PollDeviceCode(ctx, dc.Hash, polled)
	must(t, err, "PollDeviceCode")

	first := west(at(30 * time.Second))
	got, err := s.ConsumeDeviceCode(ctx, dc.Hash, first)
	must(t, err, "ConsumeDeviceCode")
	want := dc
	want.Status, want.UserID, want.AuthTime = storage.DeviceApproved, "alice", authTime
	want.LastPolledAt = polled
	want.UsedAt = first
	checkEqual(t, "device code returned by ConsumeDeviceCode", got, want)

	for _, now := range []time.Time{at(40 * time.Second), at(time.Second)} {
		got, err = s.ConsumeDeviceCode(ctx, dc.Hash, now)
		checkErr(t, "ConsumeDeviceCode of a used request", err, storage.ErrAlreadyUsed)
		checkEqual(t, "device code returned by a second ConsumeDeviceCode", got, want)
	}
	checkDevice(t, s, "used device code", want)

	// The other request is still unused.
	now := at(50 * time.Second)
	got, err = s.ConsumeDeviceCode(ctx, other.Hash, now)
	must(t, err, "ConsumeDeviceCode of another request")
	wantOther := other
	wantOther.UsedAt = now
	checkEqual(t, "other device code", got, wantOther)
}

// testDeviceConsumeNotApproved tries to exchange pending and denied requests: each returns
// the request as stored with ErrAlreadyUsed and stays unused, and a pending one can still be
// approved and exchanged afterwards.
func testDeviceConsumeNotApproved(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	pending := newDeviceCode("pending", "tv")
	denied := newDeviceCode("denied", "tv")
	denied.Status = storage.DeviceDenied
	for _, dc := range []storage.DeviceCode{pending, denied} {
		must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
		got, err := s.ConsumeDeviceCode(ctx, dc.Hash, at(time.Second))
		checkErr(t, "ConsumeDeviceCode of a "+dc.Status+" request", err, storage.ErrAlreadyUsed)
		checkEqual(t, "device code returned by ConsumeDeviceCode of a "+dc.Status+" request", got, dc)
		checkDevice(t, s, dc.Status+" device code after ConsumeDeviceCode", dc)
	}

	must(t, s.DecideDeviceCode(ctx, pending.UserCodeHash, storage.DeviceApproved, "alice", at(2*time.Second)), "DecideDeviceCode")
	got, err := s.ConsumeDeviceCode(ctx, pending.Hash, at(3*time.Second))
	must(t, err, "ConsumeDeviceCode after approval")
	want := pending
	want.Status, want.UserID, want.AuthTime, want.UsedAt = storage.DeviceApproved, "alice", at(2*time.Second), at(3*time.Second)
	checkEqual(t, "device code approved after a refused exchange", got, want)
}

// testDeviceConsumeExpired checks that ConsumeDeviceCode ignores ExpiresAt: expiry is the
// caller's to check.
func testDeviceConsumeExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := approvedDeviceCode("old", "tv", "alice")
	dc.IssuedAt, dc.ExpiresAt = at(-time.Hour), at(-50*time.Minute)
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode of an expired request")
	got, err := s.ConsumeDeviceCode(ctx, dc.Hash, at(0))
	must(t, err, "ConsumeDeviceCode of an expired request")
	want := dc
	want.UsedAt = at(0)
	checkEqual(t, "expired device code", got, want)
}

// testDeviceWrittenUsed checks that a request written with UsedAt set counts as used.
func testDeviceWrittenUsed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := approvedDeviceCode("used", "tv", "alice")
	dc.UsedAt = west(at(-time.Second))
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode of a used request")
	got, err := s.ConsumeDeviceCode(ctx, dc.Hash, at(0))
	checkErr(t, "ConsumeDeviceCode of a request written used", err, storage.ErrAlreadyUsed)
	checkEqual(t, "device code written used", got, dc)
}

func testDeviceCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := approvedDeviceCode("d1", "tv", "alice")
	want := approvedDeviceCode("d1", "tv", "alice")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	dc.Hash[0] ^= 0xff
	dc.UserCodeHash[0] ^= 0xff
	dc.Scopes[0] = "mutated"
	got, err := s.GetDeviceCodeByUserCode(ctx, want.UserCodeHash)
	must(t, err, "GetDeviceCodeByUserCode after the caller changed its slices")
	checkEqual(t, "device code", got, want)
	got.Hash[1] ^= 0xff
	got.UserCodeHash[1] ^= 0xff
	got.Scopes[1] = "mutated"
	polled, err := s.PollDeviceCode(ctx, want.Hash, at(time.Second))
	must(t, err, "PollDeviceCode after the caller changed returned slices")
	checkEqual(t, "device code returned by PollDeviceCode", polled, want)
	want.LastPolledAt = at(time.Second)
	polled.Hash[2] ^= 0xff
	polled.Scopes[2] = "mutated"
	used, err := s.ConsumeDeviceCode(ctx, want.Hash, at(2*time.Second))
	must(t, err, "ConsumeDeviceCode after the caller changed returned slices")
	want.UsedAt = at(2 * time.Second)
	checkEqual(t, "device code returned by ConsumeDeviceCode", used, want)
	used.UserCodeHash[3] ^= 0xff
	used.Scopes[3] = "mutated"
	checkDevice(t, s, "device code after the caller changed returned slices", want)
}
