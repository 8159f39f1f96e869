package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// The audit trail. Security events are written in the same transaction as what they record,
// except token.issued: the token endpoint's hot path (client credentials with JWTs) writes
// nothing per token, so its events go to an Events sink (an AuditBatcher) that writes them in
// batches off the request path. Every stored event is also logged with LogAuditEvent: through
// AuditLogged after its transaction commits, or by the AuditBatcher after its batch is
// written.

// Audit event types written by this package. Other packages write their own (admin: client,
// scope, user and key changes; server: login, logout, consent.denied).
const (
	EventTokenIssued           = "token.issued"
	EventTokenRevoked          = "token.revoked"
	EventTokenReuseDetected    = "token.reuse_detected"
	EventConsentGranted        = "consent.granted"
	EventConsentRevoked        = "consent.revoked"
	EventAuthorizationApproved = "authorization.approved"
	EventDeviceApproved        = "device.approved"
	EventDeviceDenied          = "device.denied"
	EventLoginSucceeded        = "login.succeeded"
	EventLoginFailed           = "login.failed"
)

// Events receives the token.issued events of a Provider (Deps.Events). Record is called on
// the request path after the tokens are issued; it must not block and must not fail the
// request. AuditBatcher implements it.
type Events interface {
	Record(e storage.AuditEvent)
}

// LogAuditEvent logs e with the message "audit" and the attributes type, actor, client_id,
// subject and details (a group, keys sorted): token.issued at Debug (the access log already
// records each token request), every other type at Info. Details never hold secrets, so
// neither does the log.
func LogAuditEvent(ctx context.Context, log *slog.Logger, e storage.AuditEvent) {
	logAuditEvent(ctx, log, auditLevel(e.Type), e)
}

func auditLevel(typ string) slog.Level {
	if typ == EventTokenIssued {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func logAuditEvent(ctx context.Context, log *slog.Logger, level slog.Level, e storage.AuditEvent, extra ...slog.Attr) {
	if log == nil || !log.Enabled(ctx, level) {
		return
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	details := make([]any, len(keys))
	for i, k := range keys {
		details[i] = slog.String(k, e.Details[k])
	}
	attrs := append([]slog.Attr{slog.String("type", e.Type), slog.String("actor", e.Actor),
		slog.String("client_id", e.ClientID), slog.String("subject", e.Subject), slog.Group("details", details...)}, extra...)
	log.LogAttrs(ctx, level, "audit", attrs...)
}

// AuditLogged returns store with every audit event written through it also logged with
// LogAuditEvent: an AppendAudit outside a transaction once it succeeded, the events appended
// in an InTx once the transaction committed (nothing for a rolled-back one). A store that is
// already wrapped is returned as it is, so events are never logged twice; a nil log returns
// store unchanged. Unwrap returns the wrapped store.
func AuditLogged(store storage.Store, log *slog.Logger) storage.Store {
	if store == nil || log == nil {
		return store
	}
	if _, ok := store.(*auditLogStore); ok {
		return store
	}
	return &auditLogStore{Store: store, log: log}
}

// auditLogStore is the store AuditLogged returns.
type auditLogStore struct {
	storage.Store
	log *slog.Logger
}

// Unwrap returns the store that AuditLogged wrapped.
func (s *auditLogStore) Unwrap() storage.Store { return s.Store }

func (s *auditLogStore) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	if err := s.Store.AppendAudit(ctx, events...); err != nil {
		return err
	}
	for _, e := range events {
		LogAuditEvent(ctx, s.log, e)
	}
	return nil
}

func (s *auditLogStore) InTx(ctx context.Context, fn func(tx storage.Store) error) error {
	var pending *auditPending
	err := s.Store.InTx(ctx, func(tx storage.Store) error {
		// A fresh list for each call, should the store ever run fn again.
		pending = &auditPending{}
		return fn(&auditLogTx{Store: tx, pending: pending})
	})
	if err == nil && pending != nil {
		for _, e := range pending.events {
			LogAuditEvent(ctx, s.log, e)
		}
	}
	return err
}

// auditPending collects the events appended in one transaction.
type auditPending struct {
	mu     sync.Mutex
	events []storage.AuditEvent
}

// auditLogTx is the transaction's store inside auditLogStore.InTx: it remembers the events
// appended, to log them after the commit.
type auditLogTx struct {
	storage.Store
	pending *auditPending
}

func (t *auditLogTx) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	if err := t.Store.AppendAudit(ctx, events...); err != nil {
		return err
	}
	t.pending.mu.Lock()
	t.pending.events = append(t.pending.events, events...)
	t.pending.mu.Unlock()
	return nil
}

// InTx on the transaction's store runs fn in the same transaction: what fn appends is logged
// when the outer transaction commits.
func (t *auditLogTx) InTx(ctx context.Context, fn func(tx storage.Store) error) error {
	return t.Store.InTx(ctx, func(tx storage.Store) error {
		return fn(&auditLogTx{Store: tx, pending: t.pending})
	})
}

// AuditAppender is what an AuditBatcher writes to: storage.Audit has it.
type AuditAppender interface {
	AppendAudit(ctx context.Context, events ...storage.AuditEvent) error
}

// Defaults of AuditBatcherOptions.
const (
	DefaultAuditQueueSize    = 4096
	DefaultAuditBatchSize    = 256
	DefaultAuditInterval     = time.Second
	DefaultAuditRetryDelay   = 100 * time.Millisecond
	DefaultAuditWriteTimeout = 10 * time.Second
	DefaultAuditDrainTimeout = 5 * time.Second
)

// AuditBatcherOptions tune an AuditBatcher; zero fields take the defaults above.
type AuditBatcherOptions struct {
	// QueueSize bounds the events waiting to be written. When the queue is full, Record
	// drops the event and counts it (Dropped). It is also the most events a crash can lose.
	QueueSize int
	// BatchSize is the most events one AppendAudit call writes. As soon as this many are
	// queued, Run writes them without waiting for Interval.
	BatchSize int
	// Interval is how often Run writes what is queued: the longest an event waits.
	Interval time.Duration
	// RetryDelay is the pause before a failed write is tried again (once).
	RetryDelay time.Duration
	// WriteTimeout bounds each AppendAudit call that Run makes.
	WriteTimeout time.Duration
	// DrainTimeout bounds the final writes when Run's context ends.
	DrainTimeout time.Duration
	// Logger logs each written event (LogAuditEvent), drops (a warning at most once per
	// Interval) and failed writes. Nil logs nothing.
	Logger *slog.Logger
}

// AuditBatcher writes audit events in batches, off the request path: Record puts an event on
// a bounded queue and never blocks; Run writes the queue every Interval, or as soon as
// BatchSize events wait, with one AppendAudit call per batch. A failed write is retried once,
// then its events are logged at Warn and dropped (counted by Lost). When Run's context ends
// it writes what is queued (within DrainTimeout) and returns; events recorded after that are
// dropped. A crash loses what is queued: at most QueueSize + BatchSize events, in practice
// the events of the last Interval.
type AuditBatcher struct {
	out   AuditAppender
	log   *slog.Logger
	opts  AuditBatcherOptions
	queue chan storage.AuditEvent
	// kick tells Run that a full batch waits.
	kick chan struct{}
	// mu makes one writer at a time (Run's writes and Flush), and guards buf.
	mu  sync.Mutex
	buf []storage.AuditEvent

	closed  atomic.Bool
	dropped atomic.Uint64
	lost    atomic.Uint64
	written atomic.Uint64
	// reported is the Dropped count last logged (Run's goroutine only).
	reported uint64
}

// NewAuditBatcher returns a batcher that writes to out. Start its Run.
func NewAuditBatcher(out AuditAppender, opts AuditBatcherOptions) *AuditBatcher {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultAuditQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultAuditBatchSize
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultAuditInterval
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = DefaultAuditRetryDelay
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultAuditWriteTimeout
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultAuditDrainTimeout
	}
	// The batcher logs what it writes itself: through a logging store it would log twice.
	if l, ok := out.(*auditLogStore); ok {
		out = l.Store
	}
	return &AuditBatcher{out: out, log: opts.Logger, opts: opts,
		queue: make(chan storage.AuditEvent, opts.QueueSize), kick: make(chan struct{}, 1),
		buf: make([]storage.AuditEvent, 0, opts.BatchSize)}
}

// Record queues e to be written; a zero Time is set to now. It never blocks: when the queue
// is full, or Run has stopped, e is dropped and counted (Dropped).
func (b *AuditBatcher) Record(e storage.AuditEvent) {
	if b == nil {
		return
	}
	if b.closed.Load() {
		b.dropped.Add(1)
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	select {
	case b.queue <- e:
		if len(b.queue) >= b.opts.BatchSize {
			select {
			case b.kick <- struct{}{}:
			default:
			}
		}
	default:
		b.dropped.Add(1)
	}
}

// Dropped counts the events Record dropped because the queue was full or Run had stopped:
// a monotonic counter for metrics.
func (b *AuditBatcher) Dropped() uint64 { return b.dropped.Load() }

// Lost counts the events dropped because their write failed twice.
func (b *AuditBatcher) Lost() uint64 { return b.lost.Load() }

// Written counts the events written.
func (b *AuditBatcher) Written() uint64 { return b.written.Load() }

// Queued is the number of events waiting to be written.
func (b *AuditBatcher) Queued() int { return len(b.queue) }

// Run writes the queue every Interval, and whenever a full batch waits, until ctx ends; then
// it writes what is queued (within DrainTimeout, whatever ctx's deadline) and returns. Writes
// do not end with ctx: a batch being written when ctx ends is finished. End ctx after the
// last Record that matters (after the HTTP server has shut down): a Record racing with the
// end may be left unwritten.
func (b *AuditBatcher) Run(ctx context.Context) {
	t := time.NewTicker(b.opts.Interval)
	defer t.Stop()
	base := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			b.closed.Store(true)
			dctx, cancel := context.WithTimeout(base, b.opts.DrainTimeout)
			_ = b.Flush(dctx)
			b.reportDrops(dctx)
			cancel()
			return
		case <-t.C:
			b.flushTimed(base)
			b.reportDrops(base)
		case <-b.kick:
			b.flushTimed(base)
		}
	}
}

func (b *AuditBatcher) flushTimed(base context.Context) {
	ctx, cancel := context.WithTimeout(base, b.opts.WriteTimeout)
	defer cancel()
	_ = b.Flush(ctx)
}

// Flush writes the events queued when it is called, in batches of at most BatchSize, and
// returns the first write error (those events are dropped and counted by Lost, after one
// retry). Run calls it; tests and shutdown code may too.
func (b *AuditBatcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first error
	// Only what is queued now: under a steady stream Flush still returns.
	for n := len(b.queue); n > 0; {
		batch := b.buf[:0]
		for ; n > 0 && len(batch) < b.opts.BatchSize; n-- {
			batch = append(batch, <-b.queue)
		}
		if err := b.write(ctx, batch); err != nil && first == nil {
			first = err
		}
		clear(batch) // let the details maps go
	}
	return first
}

// write stores batch with one AppendAudit call, retried once after RetryDelay.
func (b *AuditBatcher) write(ctx context.Context, batch []storage.AuditEvent) error {
	err := b.out.AppendAudit(ctx, batch...)
	if err != nil && ctx.Err() == nil {
		t := time.NewTimer(b.opts.RetryDelay)
		select {
		case <-ctx.Done():
		case <-t.C:
			err = b.out.AppendAudit(ctx, batch...)
		}
		t.Stop()
	}
	if err != nil {
		b.lost.Add(uint64(len(batch)))
		if b.log != nil {
			b.log.LogAttrs(ctx, slog.LevelError, "audit: could not store events; they are only in this log",
				slog.Int("events", len(batch)), slog.Any("err", err))
			for _, e := range batch {
				logAuditEvent(ctx, b.log, slog.LevelWarn, e, slog.Bool("stored", false))
			}
		}
		return fmt.Errorf("oauth: write %d audit events: %w", len(batch), err)
	}
	b.written.Add(uint64(len(batch)))
	for _, e := range batch {
		LogAuditEvent(ctx, b.log, e)
	}
	return nil
}

// reportDrops logs the events dropped since the last report, if any.
func (b *AuditBatcher) reportDrops(ctx context.Context) {
	d := b.dropped.Load()
	if d == b.reported {
		return
	}
	if b.log != nil {
		b.log.LogAttrs(ctx, slog.LevelWarn, "audit: queue full, events dropped",
			slog.Uint64("dropped", d-b.reported), slog.Uint64("dropped_total", d), slog.Int("queue_size", b.opts.QueueSize))
	}
	b.reported = d
}

// tokenKinds names the tokens of a response for token.issued events, indexed by
// access | refresh<<1 | id<<2, so that recording allocates no string.
var tokenKinds = [8]string{"", "access_token", "refresh_token", "access_token refresh_token",
	"id_token", "access_token id_token", "refresh_token id_token", "access_token refresh_token id_token"}

// recordIssued sends the token.issued event of resp to Deps.Events. Details: grant_type,
// scope, tokens (the kinds issued), jti (the access token's id, never its value) and
// grant_id for grants made for a user; response_type for the authorization endpoint.
func (p *Provider) recordIssued(actor, grantType, responseType string, client *storage.Client, resp *TokenResponse) {
	if p.events == nil {
		return
	}
	k := 0
	if resp.AccessToken != "" {
		k |= 1
	}
	if resp.RefreshToken != "" {
		k |= 2
	}
	if resp.IDToken != "" {
		k |= 4
	}
	details := make(map[string]string, 6)
	details["grant_type"] = grantType
	details["scope"] = resp.Scope
	details["tokens"] = tokenKinds[k]
	if resp.tokenID != "" {
		details["jti"] = resp.tokenID
	}
	if resp.grantID != "" {
		details["grant_id"] = resp.grantID
	}
	if responseType != "" {
		details["response_type"] = responseType
	}
	p.events.Record(storage.AuditEvent{Time: p.now().UTC(), Type: EventTokenIssued, Actor: actor,
		ClientID: client.ID, Subject: resp.subject, Details: details})
}

// clipDetail shortens an untrusted value for an audit detail to at most n bytes (plus an
// ellipsis), valid UTF-8.
func clipDetail(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
