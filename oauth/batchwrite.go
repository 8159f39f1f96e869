package oauth

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// defaultWriteBatch bounds how many token rows one transaction of the tokenWriter writes.
const defaultWriteBatch = 64

// tokenWriter stores the opaque access tokens of concurrent client-credentials requests
// with group commit: rows that arrive while a transaction is being written queue up, and
// the next transaction writes all of them (at most maxBatch). On SQLite, whose one writer
// connection serialises every write, a transaction costs about as much as a single-row
// write (the commit appends the touched pages to the WAL, and every thousand pages a
// checkpoint copies them into the database file and syncs it), so a batch of n rows costs
// far less than n commits.
//
// The callers do the writing themselves, leader and followers: a caller that finds no write
// in progress leads, writing its own row and those queued behind it; the others wait. When
// a leader is done it hands the lead to the oldest caller still waiting, if any. A caller
// that meets no contention writes its row at once, as if there were no writer; no goroutine
// is started and none is handed the work.
//
// Durability is unchanged: create returns only when the transaction that holds its row has
// committed, so no token is answered before it is stored. If a batch fails, each of its rows
// is written again on its own, so one bad row (a conflict) fails only its own request. A
// caller whose context ends while it waits gets the context's error: its row is dropped if
// it was still queued, and a transaction whose callers have all gone is cancelled.
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
	tok   storage.Token
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
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pendingToken{tok: t}
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
		return w.safeCreate(ctx, self.tok)
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

// writeRows writes rows in one transaction and returns each row's error. If the transaction
// fails (and ctx has not ended), nothing of it was kept, and each row is written again on
// its own, so that a row that cannot be stored fails only its own request.
func (w *tokenWriter) writeRows(ctx context.Context, rows []*pendingToken) []error {
	errs := make([]error, len(rows))
	if len(rows) == 1 {
		errs[0] = w.safeCreate(ctx, rows[0].tok)
		return errs
	}
	err := w.safeTx(ctx, rows)
	if err != nil && ctx.Err() == nil {
		for i, p := range rows {
			errs[i] = w.safeCreate(ctx, p.tok)
		}
		return errs
	}
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (w *tokenWriter) safeTx(ctx context.Context, rows []*pendingToken) (err error) {
	defer recoverStorePanic(&err)
	return w.store.InTx(ctx, func(tx storage.Store) error {
		for _, p := range rows {
			if err := tx.CreateToken(ctx, p.tok); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *tokenWriter) safeCreate(ctx context.Context, t storage.Token) (err error) {
	defer recoverStorePanic(&err)
	return w.store.CreateToken(ctx, t)
}

// recoverStorePanic turns a panicking store into an error: a leader writes for other callers
// too, and must answer them and hand the lead on whatever the store does.
func recoverStorePanic(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("oauth: token store panicked: %v", v)
	}
}
