package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func concurrencyTests() []test {
	return []test{
		{"CreateClientSameID", testConcurrentCreateClient},
		{"CreateTokenSameHash", testConcurrentCreateToken},
		{"RevokeToken", testConcurrentRevokeToken},
		{"RevokeJTI", testConcurrentRevokeJTI},
		{"AppendAudit", testConcurrentAppendAudit},
		{"ReadModifyWriteTx", testConcurrentTx},
		{"CreateUserSameUsername", testConcurrentCreateUser},
		{"ConsumeCode", testConcurrentConsumeCode},
		{"UseToken", testConcurrentUseToken},
		{"ConsumeDeviceCode", testConcurrentConsumeDeviceCode},
		{"PollDeviceCode", testConcurrentPollDeviceCode},
		{"UpdateClientVersion", testConcurrentUpdateClientVersion},
	}
}

// exactlyOneUse checks that one call succeeded and every other returned ErrAlreadyUsed, and
// returns the index of the one that succeeded (-1 if none).
func exactlyOneUse(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: calls %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Errorf("%s: call %d: got %v, want nil or ErrAlreadyUsed", what, i, err)
		}
	}
	if winner < 0 {
		t.Errorf("%s: no call succeeded", what)
	}
	return winner
}

func testConcurrentCreateUser(t *testing.T, s storage.Store) {
	ctx := t.Context()
	user := func(i int) storage.User { return newUser("user-"+strconv.Itoa(i), "same") }
	errs := parallel(concurrency, func(i int) error { return s.CreateUser(ctx, user(i)) })
	winner := exactlyOne(t, "concurrent CreateUser of one username", errs)
	if winner < 0 {
		return
	}
	got, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	checkList(t, "users after concurrent creates", got, []storage.User{user(winner)}, userKey)
}

// testConcurrentConsumeCode redeems one code from every goroutine: one wins, and every other
// gets the code as the winner left it and ErrAlreadyUsed.
func testConcurrentConsumeCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	code := newCode("c1", "app", "alice")
	must(t, s.CreateCode(ctx, code), "CreateCode")
	when := func(i int) time.Time { return at(time.Duration(i+1) * time.Second) }
	got := make([]storage.AuthCode, concurrency)
	errs := parallel(concurrency, func(i int) error {
		var err error
		got[i], err = s.ConsumeCode(ctx, code.Hash, when(i))
		return err
	})
	winner := exactlyOneUse(t, "concurrent ConsumeCode of one code", errs)
	if winner < 0 {
		return
	}
	want := code
	want.UsedAt = when(winner)
	for i := range concurrency {
		checkEqual(t, fmt.Sprintf("code returned by concurrent ConsumeCode %d", i), got[i], want)
	}
	again, err := s.ConsumeCode(ctx, code.Hash, at(time.Hour))
	checkErr(t, "ConsumeCode after the race", err, storage.ErrAlreadyUsed)
	checkEqual(t, "code after the race", again, want)
}

// testConcurrentUseToken rotates one refresh token from every goroutine: one wins, and every
// other gets the token as the winner left it and ErrAlreadyUsed.
func testConcurrentUseToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := refreshToken("r1", "app", "alice", "g1")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	when := func(i int) time.Time { return at(time.Duration(i+1) * time.Second) }
	got := make([]storage.Token, concurrency)
	errs := parallel(concurrency, func(i int) error {
		var err error
		got[i], err = s.UseToken(ctx, tok.Hash, when(i))
		return err
	})
	winner := exactlyOneUse(t, "concurrent UseToken of one token", errs)
	if winner < 0 {
		return
	}
	want := tok
	want.UsedAt = when(winner)
	for i := range concurrency {
		checkEqual(t, fmt.Sprintf("token returned by concurrent UseToken %d", i), got[i], want)
	}
	stored, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token after the race", stored, want)
}

// testConcurrentConsumeDeviceCode exchanges one approved device code from every goroutine:
// one wins, and every other gets the request as the winner left it and ErrAlreadyUsed.
func testConcurrentConsumeDeviceCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	createUsers(t, s, "alice")
	dc := approvedDeviceCode("d1", "tv", "alice")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	when := func(i int) time.Time { return at(time.Duration(i+1) * time.Second) }
	got := make([]storage.DeviceCode, concurrency)
	errs := parallel(concurrency, func(i int) error {
		var err error
		got[i], err = s.ConsumeDeviceCode(ctx, dc.Hash, when(i))
		return err
	})
	winner := exactlyOneUse(t, "concurrent ConsumeDeviceCode of one device code", errs)
	if winner < 0 {
		return
	}
	want := dc
	want.UsedAt = when(winner)
	for i := range concurrency {
		checkEqual(t, fmt.Sprintf("device code returned by concurrent ConsumeDeviceCode %d", i), got[i], want)
	}
	checkDevice(t, s, "device code after the race", want)
}

// testConcurrentPollDeviceCode polls one device code from every goroutine, each at its own
// time, all within the interval of each other. Polls must not overlap: each sees the poll
// before it, so exactly one sees no previous poll, every other sees the time of another
// poll (each time seen once), and the interval grows by 5 at each poll but the first.
func testConcurrentPollDeviceCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "tv")
	dc := newDeviceCode("d1", "tv")
	must(t, s.CreateDeviceCode(ctx, dc), "CreateDeviceCode")
	when := func(i int) time.Time { return at(time.Duration(i+1) * time.Millisecond) }
	got := make([]storage.DeviceCode, concurrency)
	errs := parallel(concurrency, func(i int) error {
		var err error
		got[i], err = s.PollDeviceCode(ctx, dc.Hash, when(i))
		return err
	})
	for i, err := range errs {
		must(t, err, fmt.Sprintf("concurrent PollDeviceCode %d", i))
	}
	final, err := s.GetDeviceCodeByUserCode(ctx, dc.UserCodeHash)
	must(t, err, "GetDeviceCodeByUserCode")

	// Each time is seen by the next poll, or is the last poll's: the final LastPolledAt.
	seen := map[time.Time]int{final.LastPolledAt.UTC(): 1}
	var intervals []int
	firsts := 0
	for i, g := range got {
		want := dc
		want.LastPolledAt, want.Interval = g.LastPolledAt, g.Interval
		checkEqual(t, fmt.Sprintf("device code returned by concurrent PollDeviceCode %d (other fields)", i), g, want)
		if g.LastPolledAt.IsZero() {
			firsts++
		} else {
			seen[g.LastPolledAt.UTC()]++
		}
		intervals = append(intervals, g.Interval)
	}
	if firsts != 1 {
		t.Errorf("%d concurrent polls saw no previous poll, want exactly 1", firsts)
	}
	for i := range concurrency {
		if n := seen[when(i).UTC()]; n != 1 {
			t.Errorf("the time of poll %d was seen %d times (as a previous poll or the final one), want once", i, n)
		}
	}
	// The first poll and the second see 5, then each sees 5 more than the one before.
	slices.Sort(intervals)
	wantIntervals := []int{5}
	for i := range concurrency - 1 {
		wantIntervals = append(wantIntervals, 5*(i+1))
	}
	if !slices.Equal(intervals, wantIntervals) {
		t.Errorf("intervals seen by concurrent polls: %v, want %v", intervals, wantIntervals)
	}
	want := dc
	want.LastPolledAt, want.Interval = final.LastPolledAt, 5*concurrency
	checkEqual(t, "device code after concurrent polls", final, want)
}

// parallel runs fn(0) … fn(n-1) in n goroutines released at once, and returns their errors
// by index.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// exactlyOne checks that one call succeeded and every other returned ErrConflict, and
// returns the index of the one that succeeded (-1 if none).
func exactlyOne(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: calls %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("%s: call %d: got %v, want nil or ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Errorf("%s: no call succeeded", what)
	}
	return winner
}

func testConcurrentCreateClient(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := func(i int) storage.Client {
		c := fullClient("same")
		c.Name = "writer " + strconv.Itoa(i)
		return c
	}
	errs := parallel(concurrency, func(i int) error { return s.CreateClient(ctx, client(i)) })
	winner := exactlyOne(t, "concurrent CreateClient of one id", errs)
	if winner < 0 {
		return
	}
	got, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "clients after concurrent creates", got, []storage.Client{client(winner)}, clientKey)
}

func testConcurrentCreateToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	token := func(i int) storage.Token {
		tok := newToken("tok-"+strconv.Itoa(i), "app")
		tok.Hash = tokenHash("same")
		return tok
	}
	errs := parallel(concurrency, func(i int) error { return s.CreateToken(ctx, token(i)) })
	winner := exactlyOne(t, "concurrent CreateToken of one hash", errs)
	if winner < 0 {
		return
	}
	got, err := s.GetTokenByHash(ctx, tokenHash("same"))
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token after concurrent creates", got, token(winner))
	for i := range concurrency {
		if i != winner {
			checkErr(t, "RevokeToken of a token that lost the race", s.RevokeToken(ctx, token(i).ID, at(0)), storage.ErrNotFound)
		}
	}
}

func testConcurrentRevokeToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := newToken("t1", "app")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	when := func(i int) time.Time { return at(time.Duration(i+1) * time.Second) }
	errs := parallel(concurrency, func(i int) error { return s.RevokeToken(ctx, "t1", when(i)) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent RevokeToken %d: %v", i, err)
		}
	}
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	first := -1
	for i := range concurrency {
		if got.RevokedAt.Equal(when(i)) {
			first = i
		}
	}
	if first < 0 {
		t.Fatalf("RevokedAt after concurrent revocations is %s, not one of the times given", fmtTime(got.RevokedAt))
	}
	want := tok
	want.RevokedAt = when(first)
	checkEqual(t, "token after concurrent revocations", got, want)
	must(t, s.RevokeToken(ctx, "t1", at(time.Hour)), "RevokeToken after the race")
	again, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token revoked once more", again, want)
}

func testConcurrentRevokeJTI(t *testing.T, s storage.Store) {
	ctx := t.Context()
	errs := parallel(concurrency, func(i int) error {
		return s.RevokeJTI(ctx, storage.Revocation{JTI: "jti", ClientID: "app", ExpiresAt: at(time.Hour), RevokedAt: at(time.Duration(i) * time.Second)})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent RevokeJTI %d: %v", i, err)
		}
	}
	revoked, err := s.IsRevoked(ctx, "jti")
	must(t, err, "IsRevoked")
	if !revoked {
		t.Error("IsRevoked after concurrent RevokeJTI = false")
	}
}

func testConcurrentAppendAudit(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const each = 5
	errs := parallel(concurrency, func(i int) error {
		events := make([]storage.AuditEvent, each)
		for j := range events {
			events[j] = newEvent(fmt.Sprintf("w%d.%d", i, j), "app", at(time.Duration(i*each+j)*time.Second))
		}
		return s.AppendAudit(ctx, events...)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent AppendAudit %d: %v", i, err)
		}
	}
	got := listAll(t, s)
	if len(got) != concurrency*each {
		t.Fatalf("%d audit events after concurrent appends, want %d", len(got), concurrency*each)
	}
	checkIDs(t, got, nil)
	for k, e := range got {
		// Each event has its own time, so the order is fixed: the newest first.
		i := concurrency*each - 1 - k
		if want := fmt.Sprintf("w%d.%d", i/each, i%each); e.Type != want {
			t.Errorf("audit event %d: %s, want %s", k, e.Type, want)
		}
	}
}

// testConcurrentTx runs transactions that read a client, replace it with a record of their
// own and log an audit event, while other goroutines read. The final client must be whole
// (one writer's record, no mixture), the writer must be one whose transaction succeeded, and
// only successful transactions may leave an audit event.
func testConcurrentTx(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "shared")
	written := func(i int, prev storage.Client) storage.Client {
		c := prev
		n := strconv.Itoa(i)
		c.Name = "writer " + n
		c.SecretHash = "sha256$" + n
		c.Public, c.Trusted = i%2 == 0, i%2 == 1
		c.GrantTypes = []string{"g" + n}
		c.Scopes = []string{"s" + n, "s" + n + "b"}
		c.RedirectURIs = []string{"https://" + n + ".example/cb"}
		c.PostLogoutRedirectURIs = nil
		c.UpdatedAt = at(time.Duration(i+1) * time.Minute)
		return c
	}
	const readers = 4
	errs := parallel(concurrency+readers, func(i int) error {
		if i >= concurrency {
			for range 20 {
				c, err := s.GetClient(ctx, "shared")
				if err != nil {
					return fmt.Errorf("GetClient while transactions run: %w", err)
				}
				if c.ID != "shared" {
					return fmt.Errorf("GetClient returned client %q", c.ID)
				}
				if _, err := s.ListClients(ctx); err != nil {
					return fmt.Errorf("ListClients while transactions run: %w", err)
				}
			}
			return nil
		}
		return s.InTx(ctx, func(tx storage.Store) error {
			prev, err := tx.GetClient(ctx, "shared")
			if err != nil {
				return err
			}
			if err := tx.UpdateClient(ctx, written(i, prev)); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, storage.AuditEvent{Time: at(0), Type: "client.updated", ClientID: "shared", Details: map[string]string{"writer": strconv.Itoa(i)}})
		})
	})
	succeeded := map[string]bool{}
	for i, err := range errs {
		switch {
		case err == nil && i < concurrency:
			succeeded[strconv.Itoa(i)] = true
		case err != nil && (i >= concurrency || !errors.Is(err, storage.ErrConflict)):
			t.Errorf("goroutine %d: %v (only ErrConflict is allowed, and only for transactions)", i, err)
		}
	}
	if len(succeeded) == 0 {
		t.Fatal("no transaction succeeded")
	}

	got, err := s.GetClient(ctx, "shared")
	must(t, err, "GetClient")
	n, _ := strings.CutPrefix(got.Name, "writer ")
	i, convErr := strconv.Atoi(n)
	if !succeeded[n] || convErr != nil {
		t.Fatalf("final client was written by %q, which is not a successful transaction", got.Name)
	}
	// Every successful transaction counted: none was lost.
	final := written(i, fullClient("shared"))
	final.Version = 1 + int64(len(succeeded))
	checkEqual(t, "client after concurrent transactions", got, final)

	events := listAll(t, s)
	var writers []string
	for _, e := range events {
		writers = append(writers, e.Details["writer"])
	}
	slices.Sort(writers)
	want := slices.Sorted(maps.Keys(succeeded))
	if !slices.Equal(writers, want) {
		t.Errorf("audit events after concurrent transactions are from writers %q; the successful ones are %q", writers, want)
	}
}
