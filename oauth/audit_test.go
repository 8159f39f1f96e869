package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
)

// fakeAudit records AppendAudit calls; fail, when set, decides whether a call fails (n counts
// calls from 1), and block, when set, makes every call wait for ctx.
type fakeAudit struct {
	mu     sync.Mutex
	calls  [][]storage.AuditEvent
	n      int
	fail   func(n int) bool
	block  bool
	called chan int // receives the batch size of each successful call, if not nil
}

func (f *fakeAudit) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	f.mu.Lock()
	f.n++
	n, fail, block := f.n, f.fail, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail != nil && fail(n) {
		return fmt.Errorf("call %d: %w", n, errFakeDown)
	}
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(events))
	f.mu.Unlock()
	if f.called != nil {
		f.called <- len(events)
	}
	return nil
}

var errFakeDown = errors.New("database down")

func (f *fakeAudit) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, c := range f.calls {
		out = append(out, len(c))
	}
	return out
}

func (f *fakeAudit) events() []storage.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.AuditEvent
	for _, c := range f.calls {
		out = append(out, c...)
	}
	return out
}

// logRecorder is a slog.Handler that keeps records.
type logRecorder struct {
	mu      sync.Mutex
	level   slog.Level
	records []slog.Record
}

func (h *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// lines returns the records as "LEVEL message key=value ..." (groups flattened as g.k=v).
func (h *logRecorder) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		var b strings.Builder
		b.WriteString(r.Level.String() + " " + r.Message)
		var walk func(prefix string, a slog.Attr)
		walk = func(prefix string, a slog.Attr) {
			if a.Value.Kind() == slog.KindGroup {
				for _, g := range a.Value.Group() {
					walk(prefix+a.Key+".", g)
				}
				return
			}
			fmt.Fprintf(&b, " %s%s=%s", prefix, a.Key, a.Value)
		}
		r.Attrs(func(a slog.Attr) bool { walk("", a); return true })
		out = append(out, b.String())
	}
	return out
}

func event(i int) storage.AuditEvent {
	return storage.AuditEvent{Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), Type: EventTokenIssued,
		Actor: "app", ClientID: "app", Subject: "app", Details: map[string]string{"n": fmt.Sprint(i)}}
}

// wait fails the test if ch does not deliver within a deadline generous for a loaded machine.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestAuditBatcherBatchSize(t *testing.T) {
	store := &fakeAudit{}
	b := NewAuditBatcher(store, AuditBatcherOptions{BatchSize: 3, QueueSize: 100})
	for i := range 7 {
		b.Record(event(i))
	}
	if b.Queued() != 7 {
		t.Fatalf("queued %d", b.Queued())
	}
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.sizes(); !slices.Equal(got, []int{3, 3, 1}) {
		t.Errorf("batches %v, want [3 3 1]", got)
	}
	// In order, unchanged.
	for i, e := range store.events() {
		if e.Details["n"] != fmt.Sprint(i) || e.Type != EventTokenIssued || !e.Time.Equal(event(i).Time) {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if b.Written() != 7 || b.Queued() != 0 || b.Dropped() != 0 || b.Lost() != 0 {
		t.Errorf("written %d queued %d dropped %d lost %d", b.Written(), b.Queued(), b.Dropped(), b.Lost())
	}
	// Nothing queued: no call.
	if err := b.Flush(context.Background()); err != nil || len(store.sizes()) != 3 {
		t.Errorf("empty flush: %v, %d calls", err, len(store.sizes()))
	}
}

// TestAuditBatcherFullBatch: Run writes as soon as BatchSize events wait, long before the
// interval.
func TestAuditBatcherFullBatch(t *testing.T) {
	store := &fakeAudit{called: make(chan int, 10)}
	b := NewAuditBatcher(store, AuditBatcherOptions{BatchSize: 4, Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	for i := range 4 {
		b.Record(event(i))
	}
	if n := wait(t, store.called, "the full batch"); n != 4 {
		t.Errorf("batch of %d, want 4", n)
	}
	cancel()
	wait(t, done, "Run to return")
}

// TestAuditBatcherInterval: fewer than BatchSize events are written by the next tick.
func TestAuditBatcherInterval(t *testing.T) {
	store := &fakeAudit{called: make(chan int, 10)}
	b := NewAuditBatcher(store, AuditBatcherOptions{Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	b.Record(event(0))
	b.Record(event(1))
	n := wait(t, store.called, "a timed write")
	if n == 1 { // the tick may fall between the two Records
		n += wait(t, store.called, "the second event")
	}
	if n != 2 {
		t.Errorf("%d events written", n)
	}
	cancel()
	wait(t, done, "Run to return")
}

func TestAuditBatcherDropsWhenFull(t *testing.T) {
	store := &fakeAudit{}
	rec := &logRecorder{level: slog.LevelDebug}
	b := NewAuditBatcher(store, AuditBatcherOptions{QueueSize: 2, Logger: slog.New(rec)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			b.Record(event(i)) // never blocks, even with nothing reading the queue
		}
	}()
	wait(t, done, "Record")
	if b.Dropped() != 3 || b.Queued() != 2 {
		t.Fatalf("dropped %d queued %d, want 3 and 2", b.Dropped(), b.Queued())
	}
	// The drops are reported once, with their number; no new drops, no new warning.
	b.reportDrops(context.Background())
	b.reportDrops(context.Background())
	var warnings []string
	for _, l := range rec.lines() {
		if strings.HasPrefix(l, "WARN") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "dropped=3") || !strings.Contains(warnings[0], "dropped_total=3") {
		t.Errorf("warnings %q", warnings)
	}
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.events(); len(got) != 2 || got[0].Details["n"] != "0" || got[1].Details["n"] != "1" {
		t.Errorf("stored %+v", got)
	}
	b.Record(event(9))
	if b.Queued() != 1 || b.Dropped() != 3 {
		t.Errorf("room again: queued %d dropped %d", b.Queued(), b.Dropped())
	}
}

// TestAuditBatcherShutdown: when Run's context ends, what is queued is written (with a
// context that is not the canceled one), and later events are dropped and counted.
func TestAuditBatcherShutdown(t *testing.T) {
	store := &fakeAudit{}
	b := NewAuditBatcher(store, AuditBatcherOptions{Interval: time.Hour})
	for i := range 5 {
		b.Record(event(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	cancel()
	wait(t, done, "Run to return")
	if got := store.sizes(); !slices.Equal(got, []int{5}) {
		t.Errorf("batches %v, want [5]", got)
	}
	b.Record(event(5))
	if b.Dropped() != 1 || b.Queued() != 0 || b.Written() != 5 {
		t.Errorf("after shutdown: dropped %d queued %d written %d", b.Dropped(), b.Queued(), b.Written())
	}
}

// TestAuditBatcherDrainTimeout: a store that hangs cannot hold the shutdown longer than
// DrainTimeout; its events are counted as lost.
func TestAuditBatcherDrainTimeout(t *testing.T) {
	store := &fakeAudit{block: true}
	b := NewAuditBatcher(store, AuditBatcherOptions{Interval: time.Hour, DrainTimeout: 10 * time.Millisecond})
	b.Record(event(0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	cancel()
	wait(t, done, "Run to return despite the hanging store")
	if b.Lost() != 1 || b.Written() != 0 {
		t.Errorf("lost %d written %d", b.Lost(), b.Written())
	}
}

func TestAuditBatcherRetry(t *testing.T) {
	t.Run("second try succeeds", func(t *testing.T) {
		store := &fakeAudit{fail: func(n int) bool { return n == 1 }}
		b := NewAuditBatcher(store, AuditBatcherOptions{RetryDelay: time.Nanosecond})
		b.Record(event(0))
		b.Record(event(1))
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := store.sizes(); !slices.Equal(got, []int{2}) || b.Lost() != 0 || b.Written() != 2 {
			t.Errorf("batches %v lost %d written %d", got, b.Lost(), b.Written())
		}
	})
	t.Run("both fail", func(t *testing.T) {
		store := &fakeAudit{fail: func(n int) bool { return n <= 2 }}
		rec := &logRecorder{level: slog.LevelInfo}
		b := NewAuditBatcher(store, AuditBatcherOptions{RetryDelay: time.Nanosecond, BatchSize: 2, Logger: slog.New(rec)})
		for i := range 3 {
			b.Record(event(i))
		}
		err := b.Flush(context.Background())
		if !errors.Is(err, errFakeDown) {
			t.Fatalf("Flush: %v", err)
		}
		// The first batch is dropped after two tries; the next one is written.
		if got := store.sizes(); !slices.Equal(got, []int{1}) || b.Lost() != 2 || b.Written() != 1 {
			t.Errorf("batches %v lost %d written %d", got, b.Lost(), b.Written())
		}
		lines := rec.lines()
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ERROR audit: could not store events") ||
			!strings.Contains(lines[0], "events=2") {
			t.Fatalf("log %q", lines)
		}
		// The lost events are in the log, at Warn (token.issued is at Debug otherwise).
		for i, l := range lines[1:] {
			if !strings.HasPrefix(l, "WARN audit type=token.issued") || !strings.Contains(l, fmt.Sprintf("details.n=%d", i)) ||
				!strings.Contains(l, "stored=false") {
				t.Errorf("lost event logged as %q", l)
			}
		}
	})
}

// TestAuditBatcherConcurrent: every event recorded by many goroutines while Run writes is
// either written or counted as dropped. Run with -race.
func TestAuditBatcherConcurrent(t *testing.T) {
	store := &fakeAudit{}
	b := NewAuditBatcher(store, AuditBatcherOptions{QueueSize: 64, BatchSize: 16, Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				b.Record(event(w*each + i))
			}
		})
	}
	wg.Go(func() { _ = b.Flush(ctx) }) // a concurrent Flush must not interleave with Run's
	wg.Wait()
	cancel()
	wait(t, done, "Run to return")
	if got := uint64(len(store.events())); got != b.Written() || got+b.Dropped() != writers*each {
		t.Errorf("written %d (stored %d) + dropped %d != %d", b.Written(), got, b.Dropped(), writers*each)
	}
	for _, s := range store.sizes() {
		if s > 16 {
			t.Errorf("batch of %d > BatchSize", s)
		}
	}
}

func TestAuditBatcherNil(t *testing.T) {
	var b *AuditBatcher
	b.Record(event(0)) // no panic: a typed nil in Deps.Events records nothing
}

// TestAuditBatcherUnwrapsLoggedStore: a batcher given a logging store logs each event once.
func TestAuditBatcherUnwrapsLoggedStore(t *testing.T) {
	rec := &logRecorder{level: slog.LevelDebug}
	log := slog.New(rec)
	store := memory.New()
	b := NewAuditBatcher(AuditLogged(store, log), AuditBatcherOptions{Logger: log})
	b.Record(event(0))
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines := rec.lines(); len(lines) != 1 || !strings.HasPrefix(lines[0], "DEBUG audit type=token.issued actor=app client_id=app subject=app details.n=0") {
		t.Errorf("log %q", lines)
	}
	if got, _ := store.ListAudit(context.Background(), storage.AuditFilter{}); len(got) != 1 {
		t.Errorf("stored %d", len(got))
	}
}

func TestAuditLogged(t *testing.T) {
	ctx := context.Background()
	rec := &logRecorder{level: slog.LevelDebug}
	log := slog.New(rec)
	inner := memory.New()
	s := AuditLogged(inner, log)
	if AuditLogged(s, slog.New(slog.DiscardHandler)) != s {
		t.Error("a wrapped store is wrapped again")
	}
	if AuditLogged(inner, nil) != storage.Store(inner) {
		t.Error("a nil logger wraps")
	}
	if u, ok := s.(interface{ Unwrap() storage.Store }); !ok || u.Unwrap() != storage.Store(inner) {
		t.Error("Unwrap")
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ev := func(typ string, details map[string]string) storage.AuditEvent {
		return storage.AuditEvent{Time: at, Type: typ, Actor: "cli", ClientID: "app", Subject: "u1", Details: details}
	}

	// Outside a transaction: logged once stored.
	if err := s.AppendAudit(ctx, ev("client.created", map[string]string{"name": "App", "b": "2"})); err != nil {
		t.Fatal(err)
	}
	// In a transaction: logged after the commit, not before.
	var during int
	err := s.InTx(ctx, func(tx storage.Store) error {
		if err := tx.AppendAudit(ctx, ev("consent.granted", nil)); err != nil {
			return err
		}
		// A nested InTx runs in the same transaction; its events wait for the outer commit.
		if err := tx.InTx(ctx, func(tx storage.Store) error { return tx.AppendAudit(ctx, ev("token.revoked", nil)) }); err != nil {
			return err
		}
		during = len(rec.lines())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if during != 1 {
		t.Errorf("%d lines logged before the commit, want 1", during)
	}
	// A rolled-back transaction logs nothing.
	errNo := errors.New("no")
	if err := s.InTx(ctx, func(tx storage.Store) error {
		if err := tx.AppendAudit(ctx, ev("client.deleted", nil)); err != nil {
			return err
		}
		return errNo
	}); !errors.Is(err, errNo) {
		t.Fatal(err)
	}
	// token.issued at Debug, the rest at Info; details sorted.
	if err := s.AppendAudit(ctx, ev(EventTokenIssued, map[string]string{"scope": "a b"})); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"INFO audit type=client.created actor=cli client_id=app subject=u1 details.b=2 details.name=App",
		"INFO audit type=consent.granted actor=cli client_id=app subject=u1",
		"INFO audit type=token.revoked actor=cli client_id=app subject=u1",
		"DEBUG audit type=token.issued actor=cli client_id=app subject=u1 details.scope=a b",
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Errorf("log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, _ := inner.ListAudit(ctx, storage.AuditFilter{}); len(got) != 4 {
		t.Errorf("stored %d events, want 4", len(got))
	}

	// At Info, token.issued is not logged.
	rec2 := &logRecorder{level: slog.LevelInfo}
	s2 := AuditLogged(memory.New(), slog.New(rec2))
	if err := s2.AppendAudit(ctx, ev(EventTokenIssued, nil)); err != nil || len(rec2.lines()) != 0 {
		t.Errorf("token.issued at Info: %v %q", err, rec2.lines())
	}
}

func TestClipDetail(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"alice", 10, "alice"},
		{"alice", 3, "ali…"},
		{"héllo", 2, "h…"}, // the cut é is dropped
		{"a\xffb", 10, "ab"},
	} {
		if got := clipDetail(tt.in, tt.n); got != tt.want {
			t.Errorf("clipDetail(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
