package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
)

// bwStore is a memory store whose token writes can be held, to line rows up in the queue
// deterministically: a write of the token "gate" waits until gate is closed, a write of a
// token whose id starts with "hold" until hold is closed or its context ends (then it sends
// on aborted). A token whose id is "panic" panics. InTx records how many rows each
// transaction tried to write.
type bwStore struct {
	storage.Store
	gate, hold chan struct{}
	entered    chan string // the id of each write that starts waiting
	aborted    chan string // the id of each held write whose context ended

	mu     sync.Mutex
	txRows []int
}

func newBWStore() *bwStore {
	return &bwStore{Store: memory.New(), gate: make(chan struct{}), hold: make(chan struct{}),
		entered: make(chan string, 100), aborted: make(chan string, 100)}
}

func (s *bwStore) wait(ctx context.Context, t storage.Token) error {
	switch {
	case t.ID == "panic":
		panic("bwStore: boom")
	case t.ID == "gate":
		s.entered <- t.ID
		<-s.gate
	case strings.HasPrefix(t.ID, "hold"):
		s.entered <- t.ID
		select {
		case <-s.hold:
		case <-ctx.Done():
			s.aborted <- t.ID
			return ctx.Err()
		}
	}
	return nil
}

func (s *bwStore) CreateToken(ctx context.Context, t storage.Token) error {
	if err := s.wait(ctx, t); err != nil {
		return err
	}
	return s.Store.CreateToken(ctx, t)
}

func (s *bwStore) InTx(ctx context.Context, fn func(tx storage.Store) error) error {
	n := 0
	err := s.Store.InTx(ctx, func(tx storage.Store) error {
		return fn(&bwTx{Store: tx, s: s, n: &n})
	})
	s.mu.Lock()
	s.txRows = append(s.txRows, n)
	s.mu.Unlock()
	return err
}

func (s *bwStore) transactions() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.txRows...)
}

type bwTx struct {
	storage.Store
	s *bwStore
	n *int
}

func (tx *bwTx) CreateToken(ctx context.Context, t storage.Token) error {
	*tx.n++
	if err := tx.s.wait(ctx, t); err != nil {
		return err
	}
	return tx.Store.CreateToken(ctx, t)
}

func bwToken(id string) storage.Token {
	h := sha256.Sum256([]byte(id))
	now := time.Now().UTC().Truncate(time.Second)
	return storage.Token{ID: id, Hash: h[:], Kind: storage.KindAccess, ClientID: "c", Subject: "c",
		Scopes: []string{"read"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// bwEventually polls cond until it holds, failing after a deadline generous enough for a
// loaded machine.
func bwEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *tokenWriter) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

func (w *tokenWriter) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leaders == 0
}

func bwRecv(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return ""
	}
}

func bwStored(t *testing.T, s storage.Store, id string) bool {
	t.Helper()
	tok := bwToken(id)
	_, err := s.GetTokenByHash(context.Background(), tok.Hash)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// holdWriter starts a write of the "gate" token and returns once the writer is blocked in
// it, so that the rows created next queue up behind it.
func holdWriter(t *testing.T, w *tokenWriter, s *bwStore) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.create(context.Background(), bwToken("gate")) }()
	bwRecv(t, s.entered, "the writer to block on the gate")
	return done
}

func TestTokenWriterBatches(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 8, 1)
	gateDone := holdWriter(t, w, s)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- w.create(context.Background(), bwToken(fmt.Sprint("row-", i))) }()
	}
	bwEventually(t, "20 queued rows", func() bool { return w.queued() == n })
	close(s.gate)
	if err := <-gateDone; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The gate token went alone (no transaction); the rest in batches of at most 8.
	if got := s.transactions(); fmt.Sprint(got) != "[8 8 4]" {
		t.Fatalf("transactions wrote %v rows, want [8 8 4]", got)
	}
	for i := range n {
		if !bwStored(t, s, fmt.Sprint("row-", i)) {
			t.Fatalf("row-%d not stored", i)
		}
	}
	bwEventually(t, "the writer to stop", w.idle)
}

func TestTokenWriterFailureIsolation(t *testing.T) {
	s := newBWStore()
	ctx := context.Background()
	// A row whose hash is taken: it conflicts, and only its own request may fail.
	taken := bwToken("taken")
	if err := s.Store.CreateToken(ctx, taken); err != nil {
		t.Fatal(err)
	}
	bad := bwToken("bad")
	bad.Hash = taken.Hash
	w := newTokenWriter(s, 64, 1)
	gateDone := holdWriter(t, w, s)
	type result struct {
		id  string
		err error
	}
	results := make(chan result, 3)
	for _, tok := range []storage.Token{bwToken("good-1"), bad, bwToken("good-2")} {
		go func() { results <- result{tok.ID, w.create(ctx, tok)} }()
	}
	bwEventually(t, "3 queued rows", func() bool { return w.queued() == 3 })
	close(s.gate)
	if err := <-gateDone; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := <-results
		switch r.id {
		case "bad":
			if !errors.Is(r.err, storage.ErrConflict) {
				t.Fatalf("conflicting row: err = %v, want ErrConflict", r.err)
			}
		default:
			if r.err != nil {
				t.Fatalf("%s: %v", r.id, r.err)
			}
		}
	}
	if !bwStored(t, s, "good-1") || !bwStored(t, s, "good-2") {
		t.Fatal("good rows not stored")
	}
	if got, err := s.GetTokenByHash(ctx, taken.Hash); err != nil || got.ID != "taken" {
		t.Fatalf("the taken hash now holds %q, %v", got.ID, err)
	}
	// One transaction tried the batch and failed at the bad row; a second one wrote the two
	// good rows; the bad row was then tried on its own (outside a transaction).
	if got := s.transactions(); len(got) != 2 || got[1] != 2 {
		t.Fatalf("transactions = %v, want the batch, then the two good rows", got)
	}
}

func TestTokenWriterCancelWhileQueued(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 64, 1)
	gateDone := holdWriter(t, w, s)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.create(ctx, bwToken("cancelled")) }()
	bwEventually(t, "1 queued row", func() bool { return w.queued() == 1 })
	cancel()
	// The caller returns while the writer is still blocked: it does not wait for the writer.
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(s.gate)
	if err := <-gateDone; err != nil {
		t.Fatal(err)
	}
	bwEventually(t, "the writer to stop", w.idle)
	if bwStored(t, s, "cancelled") {
		t.Fatal("a row abandoned before a batch took it was written")
	}
	if got := s.transactions(); len(got) != 0 {
		t.Fatalf("transactions = %v, want none", got)
	}
	// An already cancelled context writes nothing.
	if err := w.create(ctx, bwToken("late")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if bwStored(t, s, "late") {
		t.Fatal("row of a cancelled request written")
	}
}

// TestTokenWriterCancelInFlight: a follower that leaves a batch being written does not cancel
// the batch for the others; when every caller has left, the transaction is cancelled.
func TestTokenWriterCancelInFlight(t *testing.T) {
	t.Run("one leaves", func(t *testing.T) {
		s := newBWStore()
		w := newTokenWriter(s, 64, 1)
		gateDone := holdWriter(t, w, s)
		ctx2, cancel2 := context.WithCancel(context.Background())
		defer cancel2()
		err1, err2 := make(chan error, 1), make(chan error, 1)
		// hold-1 is queued first, so it leads the next batch; hold-2 follows.
		go func() { err1 <- w.create(context.Background(), bwToken("hold-1")) }()
		bwEventually(t, "1 queued row", func() bool { return w.queued() == 1 })
		go func() { err2 <- w.create(ctx2, bwToken("hold-2")) }()
		bwEventually(t, "2 queued rows", func() bool { return w.queued() == 2 })
		close(s.gate)
		if err := <-gateDone; err != nil {
			t.Fatal(err)
		}
		if id := bwRecv(t, s.entered, "the batch to start"); id != "hold-2" {
			t.Fatalf("the batch wrote %s first, want the follower's row", id)
		}
		cancel2()
		// The follower returns at once, while its batch is still being written.
		if err := <-err2; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		close(s.hold)
		if err := <-err1; err != nil {
			t.Fatalf("the caller that stayed: %v", err)
		}
		if !bwStored(t, s, "hold-1") {
			t.Fatal("hold-1 not stored")
		}
		select {
		case id := <-s.aborted:
			t.Fatalf("the batch was cancelled (%s) while a caller waited", id)
		default:
		}
		bwEventually(t, "the writer to stop", w.idle)
	})
	t.Run("all leave", func(t *testing.T) {
		s := newBWStore()
		w := newTokenWriter(s, 64, 1)
		gateDone := holdWriter(t, w, s)
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 2)
		for _, id := range []string{"hold-1", "hold-2"} {
			go func() { errs <- w.create(ctx, bwToken(id)) }()
		}
		bwEventually(t, "2 queued rows", func() bool { return w.queued() == 2 })
		close(s.gate)
		if err := <-gateDone; err != nil {
			t.Fatal(err)
		}
		bwRecv(t, s.entered, "the batch to start")
		cancel()
		for range 2 {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		}
		bwRecv(t, s.aborted, "the transaction to be cancelled")
		bwEventually(t, "the writer to stop", w.idle)
		if bwStored(t, s, "hold-1") || bwStored(t, s, "hold-2") {
			t.Fatal("rows of a cancelled transaction stored")
		}
	})
}

// TestTokenWriterLeaderCancelled: a caller told to lead after its context ended still writes
// the rows queued behind it, but not its own.
func TestTokenWriterLeaderCancelled(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 64, 1)
	gateDone := holdWriter(t, w, s)
	ctx1, cancel1 := context.WithCancel(context.Background())
	p := &pendingToken{tok: bwToken("gone"), done: make(chan error, 1), lead: make(chan struct{})}
	// Queue a caller by hand, and cancel its context before it is told to lead: the state
	// machine must then have it lead without its row.
	w.mu.Lock()
	w.queue = append(w.queue, p)
	w.mu.Unlock()
	errFollower := make(chan error, 1)
	go func() { errFollower <- w.create(context.Background(), bwToken("after")) }()
	bwEventually(t, "2 queued rows", func() bool { return w.queued() == 2 })
	cancel1()
	close(s.gate)
	if err := <-gateDone; err != nil {
		t.Fatal(err)
	}
	<-p.lead
	if err := w.leadBatch(ctx1, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("leader err = %v, want context.Canceled", err)
	}
	if err := <-errFollower; err != nil {
		t.Fatalf("follower: %v", err)
	}
	if bwStored(t, s, "gone") || !bwStored(t, s, "after") {
		t.Fatal("want the follower's row stored and the cancelled leader's not")
	}
	bwEventually(t, "the writer to stop", w.idle)
}

func TestTokenWriterPanic(t *testing.T) {
	s := newBWStore()
	close(s.gate)
	w := newTokenWriter(s, 64, 1)
	ctx := context.Background()
	if err := w.create(ctx, bwToken("panic")); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("err = %v, want the panic as an error", err)
	}
	bwEventually(t, "the writer to stop", w.idle)
	if err := w.create(ctx, bwToken("after")); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
}

func TestTokenWriterConcurrent(t *testing.T) {
	s := newBWStore()
	close(s.gate)
	close(s.hold)
	w := newTokenWriter(s, 16, 1)
	const workers, each = 32, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				errs <- w.create(context.Background(), bwToken(fmt.Sprintf("w%d-%d", i, j)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range workers {
		for j := range each {
			if !bwStored(t, s, fmt.Sprintf("w%d-%d", i, j)) {
				t.Fatalf("w%d-%d not stored", i, j)
			}
		}
	}
	for _, n := range s.transactions() {
		if n > 16 {
			t.Fatalf("a transaction wrote %d rows, more than the bound 16", n)
		}
	}
	bwEventually(t, "the writer to stop", w.idle)
}

func TestTokenWriterUnbatched(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 1, 1)
	if err := w.create(context.Background(), bwToken("one")); err != nil {
		t.Fatal(err)
	}
	if !bwStored(t, s, "one") || len(s.transactions()) != 0 || !w.idle() {
		t.Fatal("maxBatch 1 should write directly")
	}
}

// TestTokenWriterLeaders: with room for several batches at once, as many leaders write at
// the same time, and no more.
func TestTokenWriterLeaders(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 64, 3)
	ctx := context.Background()
	errs := make(chan error, 10)
	// Three callers lead at once, each blocked in its own write; the rest queue.
	for i := range 3 {
		go func() { errs <- w.create(ctx, bwToken(fmt.Sprint("hold-lead-", i))) }()
	}
	for range 3 {
		bwRecv(t, s.entered, "three leaders")
	}
	for i := range 7 {
		go func() { errs <- w.create(ctx, bwToken(fmt.Sprint("row-", i))) }()
	}
	bwEventually(t, "7 queued rows", func() bool { return w.queued() == 7 })
	w.mu.Lock()
	leaders := w.leaders
	w.mu.Unlock()
	if leaders != 3 {
		t.Fatalf("leaders = %d, want 3", leaders)
	}
	close(s.hold)
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	bwEventually(t, "the writer to stop", w.idle)
	for i := range 7 {
		if !bwStored(t, s, fmt.Sprint("row-", i)) {
			t.Fatalf("row-%d not stored", i)
		}
	}
}

type bwConcurrentStore struct {
	storage.Store
	n int
}

func (s bwConcurrentStore) WriteConcurrency() int { return s.n }

func TestWriteConcurrencyOption(t *testing.T) {
	m := memory.New()
	for _, c := range []struct {
		s    storage.Store
		want int
	}{{m, 1}, {bwConcurrentStore{m, 4}, 4}, {bwConcurrentStore{m, 0}, 1}} {
		if got := writeConcurrency(c.s); got != c.want {
			t.Errorf("writeConcurrency(%T) = %d, want %d", c.s, got, c.want)
		}
	}
}

// queueTx queues n callers of inTx behind the gate, each running fn(i), and returns their
// errors once the gate opens.
func queueTx(t *testing.T, w *tokenWriter, s *bwStore, n int, fn func(i int) func(tx storage.Store) error) []error {
	t.Helper()
	gateDone := holdWriter(t, w, s)
	errs := make([]chan error, n)
	for i := range n {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- w.inTx(context.Background(), fn(i)) }()
		bwEventually(t, "a queued caller", func() bool { return w.queued() == i+1 })
	}
	close(s.gate)
	if err := <-gateDone; err != nil {
		t.Fatal(err)
	}
	out := make([]error, n)
	for i := range n {
		out[i] = <-errs[i]
	}
	bwEventually(t, "the writer to stop", w.idle)
	return out
}

// TestTokenWriterTransactions: transactions run together; one that fails is rolled back with
// its batch, the others are written again together, and it runs again on its own.
func TestTokenWriterTransactions(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 64, 1)
	ctx := context.Background()
	var mu sync.Mutex
	runs := map[int]int{}
	errBad := errors.New("bad request")
	errs := queueTx(t, w, s, 5, func(i int) func(tx storage.Store) error {
		return func(tx storage.Store) error {
			mu.Lock()
			runs[i]++
			mu.Unlock()
			if err := tx.CreateToken(ctx, bwToken(fmt.Sprint("tx-", i))); err != nil {
				return err
			}
			if i == 2 {
				return errBad // after a write: the batch must be rolled back
			}
			return tx.CreateToken(ctx, bwToken(fmt.Sprint("tx-", i, "-b")))
		}
	})
	for i, err := range errs {
		if i == 2 {
			if !errors.Is(err, errBad) {
				t.Fatalf("failing transaction: err = %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		if !bwStored(t, s, fmt.Sprint("tx-", i)) || !bwStored(t, s, fmt.Sprint("tx-", i, "-b")) {
			t.Fatalf("transaction %d not stored", i)
		}
	}
	if bwStored(t, s, "tx-2") {
		t.Fatal("the failed transaction's first write was kept")
	}
	// The first caller leads, and its own part comes last: the batch ran 1 and 2 (failing),
	// the retry 1, 3, 4 and 0, then 2 ran alone.
	want := map[int]int{0: 1, 1: 2, 2: 2, 3: 1, 4: 1}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range want {
		if runs[i] != n {
			t.Errorf("transaction %d ran %d times, want %d (runs %v)", i, runs[i], n, runs)
		}
	}
}

// TestTokenWriterDoubleRedemption: two transactions that redeem the same single-use record
// in one batch: exactly one succeeds, as if they had run one after the other.
func TestTokenWriterDoubleRedemption(t *testing.T) {
	s := newBWStore()
	ctx := context.Background()
	rt := bwToken("refresh")
	rt.Kind = storage.KindRefresh
	if err := s.Store.CreateToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	w := newTokenWriter(s, 64, 1)
	errs := queueTx(t, w, s, 2, func(i int) func(tx storage.Store) error {
		return func(tx storage.Store) error {
			if _, err := tx.UseToken(ctx, rt.Hash, time.Now()); err != nil {
				return err
			}
			return tx.CreateToken(ctx, bwToken(fmt.Sprint("issued-", i)))
		}
	})
	ok, used := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if !bwStored(t, s, fmt.Sprint("issued-", i)) {
				t.Fatalf("redemption %d succeeded but its token is not stored", i)
			}
		case errors.Is(err, storage.ErrAlreadyUsed):
			used++
			if bwStored(t, s, fmt.Sprint("issued-", i)) {
				t.Fatalf("redemption %d failed but its token is stored", i)
			}
		default:
			t.Fatalf("redemption %d: %v", i, err)
		}
	}
	if ok != 1 || used != 1 {
		t.Fatalf("%d succeeded and %d were refused, want 1 and 1", ok, used)
	}
}

// TestTokenWriterManyFailures: after maxBatchRetries failures the rest of the batch runs part
// by part; every good part is written, every bad one fails.
func TestTokenWriterManyFailures(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(s, 64, 1)
	ctx := context.Background()
	errBad := errors.New("bad request")
	bad := func(i int) bool { return i%2 == 1 }
	errs := queueTx(t, w, s, 10, func(i int) func(tx storage.Store) error {
		return func(tx storage.Store) error {
			if err := tx.CreateToken(ctx, bwToken(fmt.Sprint("m-", i))); err != nil {
				return err
			}
			if bad(i) {
				return errBad
			}
			return nil
		}
	})
	for i, err := range errs {
		if bad(i) != errors.Is(err, errBad) || !bad(i) && err != nil {
			t.Fatalf("part %d: err = %v", i, err)
		}
		if bwStored(t, s, fmt.Sprint("m-", i)) == bad(i) {
			t.Fatalf("part %d: stored = %v", i, !bad(i))
		}
	}
	// 1 batch + maxBatchRetries retries, then the 10 - maxBatchRetries - 1 parts left and
	// the failed ones one by one.
	if got := s.transactions(); len(got) != 1+maxBatchRetries+10 {
		t.Fatalf("transactions = %v", got)
	}
}

// bwParallelStore runs transactions side by side (no lock; fn writes straight to the store),
// as a store with concurrent writers does.
type bwParallelStore struct{ *bwStore }

func (s bwParallelStore) InTx(ctx context.Context, fn func(tx storage.Store) error) error {
	n := 0
	err := fn(&bwTx{Store: s.bwStore.Store, s: s.bwStore, n: &n})
	s.mu.Lock()
	s.txRows = append(s.txRows, n)
	s.mu.Unlock()
	return err
}

// TestTokenWriterTransactionsSideBySide: on a store with concurrent writers, transactions
// are not grouped (their work would run one after the other).
func TestTokenWriterTransactionsSideBySide(t *testing.T) {
	s := newBWStore()
	w := newTokenWriter(bwParallelStore{s}, 64, 2)
	ctx := context.Background()
	const n = 3 // more than the leaders: grouping would queue one
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- w.inTx(ctx, func(tx storage.Store) error {
				return tx.CreateToken(ctx, bwToken(fmt.Sprint("hold-", i)))
			})
		}()
	}
	// All are inside their own transaction at the same time.
	for range n {
		bwRecv(t, s.entered, "a transaction")
	}
	if w.queued() != 0 || !w.idle() {
		t.Fatal("transactions went through the queue")
	}
	close(s.hold)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := s.transactions(); fmt.Sprint(got) != "[1 1 1]" {
		t.Fatalf("transactions = %v, want three of one part", got)
	}
}
