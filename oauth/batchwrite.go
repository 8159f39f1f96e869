package oauth

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// defaultWriteBatch bounds how many parts (token rows, transactions) one transaction of the
// tokenWriter writes.
const defaultWriteBatch = 64

// tokenWriter writes what token issuance writes with group commit: the opaque access tokens
// of the client credentials grant (create) and the transactions of the user grants and the
// authorization endpoint (inTx: redeeming a code or a refresh token with the tokens it
// issues, storing a code). What arrives while a transaction is being written queues up, and
// the next transaction writes all of it (at most maxBatch parts). On SQLite, whose one
// writer connection serialises every write, a transaction costs about as much as a
// single-row write (the commit appends the touched pages to the WAL, and every few thousand
// pages a checkpoint copies them into the database file and syncs it), so a batch of n parts
// costs far less than n commits, and the writer is handed over once per batch, not once per
// request.
//
// The callers do the writing themselves, leader and followers: a caller that finds no write
// in progress leads, writing its own part and those queued behind it; the others wait. When
// a leader is done it hands the lead to the oldest caller still waiting, if any. A caller
// that meets no contention writes at once, as if there were no writer; no goroutine is
// started and none is handed the work.
//
// Durability is unchanged: a caller returns only when the transaction that holds its part
// has committed, so no token is answered before it is stored. If a batch fails, nothing of
// it is kept, and a part that fails is retried on its own (writeRows), so it fails only its
// own request. A caller whose context ends while it waits gets the context's error: its part
// is dropped if it was still queued, and a transaction whose callers have all gone is
// cancelled.
type tokenWriter struct {
	store    storage.Store
	maxBatch int
	// maxLeaders is how many batches may be written at once: 1 where the store has one
	// writer (SQLite), more where concurrent transactions overlap their round trips and
	// commits (PostgreSQL).
	maxLeaders int

	mu      sync.Mutex
	queue   []*pendingToken // waiting callers, oldest first
	leaders int             // batches being written
}

// States of a pendingToken.
const (
	pendingQueued    int32 = iota // waiting in the queue
	pendingTaken                  // in a batch a leader is writing
	pendingLeading                // told to lead the next batch
	pendingAbandoned              // its caller left before a leader took it
)

type pendingToken struct {
	tok storage.Token
	// fn, when set, is a transaction's work (inTx) instead of a row to store.
	fn    func(tx storage.Store) error
	done  chan error    // the result, when a leader wrote the row (buffered)
	lead  chan struct{} // closed when the caller must lead
	state atomic.Int32
	batch *writeBatch // set (on a follower) before the state becomes pendingTaken
}

// writeBatch is one transaction's worth of rows. live counts the callers still waiting for
// it (plus one held by the leader while it takes rows); the transaction's context is
// cancelled when it drops to zero.
type writeBatch struct {
	live   atomic.Int32
	cancel context.CancelFunc
}

func (b *writeBatch) leave() {
	if b.live.Add(-1) == 0 {
		b.cancel()
	}
}

// WriteConcurrency is an optional interface of a storage.Store: how many write
// transactions it runs at once to advantage. The token writer writes that many batches at
// once; a store without the method gets one, right for a store with a single writer (SQLite,
// or the memory store's lock). storage/sqlstore implements it.
type WriteConcurrency interface {
	WriteConcurrency() int
}

func writeConcurrency(s storage.Store) int {
	if wc, ok := s.(WriteConcurrency); ok {
		return max(wc.WriteConcurrency(), 1)
	}
	return 1
}

func newTokenWriter(store storage.Store, maxBatch, maxLeaders int) *tokenWriter {
	if maxBatch <= 0 {
		maxBatch = defaultWriteBatch
	}
	return &tokenWriter{store: store, maxBatch: maxBatch, maxLeaders: max(maxLeaders, 1)}
}

// create stores t, grouped with the rows of concurrent callers, and returns when it is
// committed (nil) or has failed (the error of t's own write, or ctx's error).
func (w *tokenWriter) create(ctx context.Context, t storage.Token) error {
	if w.maxBatch == 1 {
		return w.store.CreateToken(ctx, t)
	}
	return w.submit(ctx, &pendingToken{tok: t})
}

// inTx runs fn in a transaction shared with the rows and transactions of concurrent callers,
// and returns when that transaction has committed (nil) or fn's own work has failed. fn may
// run more than once: if a shared transaction fails, it is rolled back and each of its parts
// runs again in a transaction of its own. fn must therefore keep no state across runs but
// what it sets afresh, and do nothing but store calls through tx (its effects elsewhere, such
// as audit events, belong after inTx returns). An error of fn is returned as it is.
//
// Transactions are grouped only on a store with one writer (maxLeaders 1), which runs them
// one after the other anyway. Where transactions run side by side (PostgreSQL), grouping them
// would run their work, signatures included, one after the other on one goroutine.
func (w *tokenWriter) inTx(ctx context.Context, fn func(tx storage.Store) error) error {
	if w.maxBatch == 1 || w.maxLeaders > 1 {
		return w.store.InTx(ctx, fn)
	}
	return w.submit(ctx, &pendingToken{fn: fn})
}

func (w *tokenWriter) submit(ctx context.Context, p *pendingToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.leaders < w.maxLeaders {
		w.leaders++
		w.mu.Unlock()
		p.state.Store(pendingLeading)
		return w.leadBatch(ctx, p)
	}
	p.done, p.lead = make(chan error, 1), make(chan struct{})
	w.queue = append(w.queue, p)
	w.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-p.lead:
		return w.leadBatch(ctx, p)
	case <-ctx.Done():
		if p.state.CompareAndSwap(pendingQueued, pendingAbandoned) {
			return ctx.Err()
		}
		if p.state.Load() == pendingLeading {
			// Told to lead at the moment it gave up: it still leads, so that the callers
			// behind it are written; leadBatch leaves its own row out.
			<-p.lead
			return w.leadBatch(ctx, p)
		}
		// A leader took the row: stop waiting for it, and let the batch know. The row may
		// still be committed; it is never answered, and expires like any other.
		p.batch.leave()
		return ctx.Err()
	}
}

// leadBatch writes the leader's row (unless its context has ended) with the rows queued
// behind it, answers the followers, and hands the lead on.
func (w *tokenWriter) leadBatch(ctx context.Context, self *pendingToken) (err error) {
	defer w.handOff()
	own := ctx.Err() == nil
	w.mu.Lock()
	if len(w.queue) == 0 {
		// Nobody waits yet. Let the goroutines that can run now go first: under load they
		// are requests on their way here, and they join this batch instead of each leading
		// one of their own (this tripled the batch size at 64 connections). On an idle
		// server Gosched returns at once.
		w.mu.Unlock()
		runtime.Gosched()
		w.mu.Lock()
	}
	n := min(len(w.queue), w.maxBatch-1)
	queued := make([]*pendingToken, n)
	copy(queued, w.queue)
	clear(w.queue[:n])
	w.queue = w.queue[n:]
	w.mu.Unlock()

	if n == 0 {
		// No contention: write the row on its own, with the caller's context.
		if !own {
			return ctx.Err()
		}
		return w.writeAlone(ctx, self)
	}
	bctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := &writeBatch{cancel: cancel}
	b.live.Store(1) // the leader's hold while it takes the rows
	rows := queued[:0]
	for _, p := range queued {
		p.batch = b
		b.live.Add(1)
		if !p.state.CompareAndSwap(pendingQueued, pendingTaken) {
			b.live.Add(-1) // abandoned while queued
			continue
		}
		rows = append(rows, p)
	}
	if own {
		b.live.Add(1)
		stop := context.AfterFunc(ctx, b.leave)
		defer stop()
		rows = append(rows, self)
	}
	b.leave()
	if len(rows) == 0 {
		return ctx.Err() // every caller left: nothing to write
	}
	errs := w.writeRows(bctx, rows)
	for i, p := range rows {
		if p != self {
			p.done <- errs[i]
		}
	}
	if !own {
		return ctx.Err()
	}
	return errs[len(errs)-1]
}

// handOff gives the lead to the oldest caller still waiting, or ends the leadership.
func (w *tokenWriter) handOff() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) > 0 {
		p := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		if p.state.CompareAndSwap(pendingQueued, pendingLeading) {
			close(p.lead)
			return
		}
	}
	w.queue = nil
	w.leaders--
}

// maxBatchRetries bounds how many times a failing batch is written again without the part
// that failed, before the rest is written part by part.
const maxBatchRetries = 3

// writeRows writes rows (token rows and transactions' work) in one transaction and returns
// each one's error. If the transaction fails at one part, nothing of it was kept: the others
// are written again together, without it, and then the failed part runs on its own (after
// them, so that a part that failed because of another one, such as the second of two
// redemptions of one refresh token, meets what the other did). So a part that cannot be
// written fails only its own request, and a request made to fail (a forged code) costs its
// batch one retry, not a transaction each. A failure outside any part (begin, commit) or
// more than maxBatchRetries failures, and each part runs on its own.
func (w *tokenWriter) writeRows(ctx context.Context, rows []*pendingToken) []error {
	errs := make([]error, len(rows))
	pending := make([]int, len(rows)) // indexes into rows of the parts still to write
	for i := range pending {
		pending[i] = i
	}
	var failed []int // parts to run on their own afterwards
	for try := 0; len(pending) > 1; try++ {
		at, err := w.safeTx(ctx, rows, pending)
		if err == nil {
			pending = nil
			break
		}
		if ctx.Err() != nil {
			// Every caller left (see writeBatch): nobody waits for an answer.
			for _, i := range pending {
				errs[i] = err
			}
			pending = nil
			break
		}
		if at < 0 || try >= maxBatchRetries {
			failed = append(failed, pending...)
			pending = nil
			break
		}
		failed = append(failed, pending[at])
		pending = append(pending[:at], pending[at+1:]...)
	}
	failed = append(failed, pending...) // a last single part
	slices.Sort(failed)
	for _, i := range failed {
		errs[i] = w.writeAlone(ctx, rows[i])
	}
	return errs
}

// safeTx writes the parts pending of rows in one transaction. On failure it returns the
// position in pending of the part that failed, or -1 if none did (the transaction itself
// failed), and the error.
func (w *tokenWriter) safeTx(ctx context.Context, rows []*pendingToken, pending []int) (at int, err error) {
	at = -1
	cur := -1
	defer func() {
		if v := recover(); v != nil {
			at, err = cur, fmt.Errorf("oauth: token store panicked: %v", v)
		}
	}()
	err = w.store.InTx(ctx, func(tx storage.Store) error {
		for k, i := range pending {
			cur = k
			p := rows[i]
			var err error
			if p.fn != nil {
				err = p.fn(tx)
			} else {
				err = tx.CreateToken(ctx, p.tok)
			}
			if err != nil {
				at = k
				return err
			}
		}
		cur = -1
		return nil
	})
	if err == nil {
		at = -1
	}
	return at, err
}

// writeAlone writes one row, or runs one transaction, on its own.
func (w *tokenWriter) writeAlone(ctx context.Context, p *pendingToken) (err error) {
	defer recoverStorePanic(&err)
	if p.fn != nil {
		return w.store.InTx(ctx, p.fn)
	}
	return w.store.CreateToken(ctx, p.tok)
}

// recoverStorePanic turns a panicking store into an error: a leader writes for other callers
// too, and must answer them and hand the lead on whatever the store does.
func recoverStorePanic(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("oauth: token store panicked: %v", v)
	}
}
