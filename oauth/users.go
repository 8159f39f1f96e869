package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// ErrLoginFailed is the one answer to a wrong username, a wrong password or a disabled
// account, so a caller cannot enumerate users.
var ErrLoginFailed = errors.New("invalid username or password")

// ThrottledError says sign-in attempts for the account or address are paused.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts; try again in %s", e.RetryAfter.Round(time.Second))
}

// Throttle slows down repeated sign-in failures per account and per client address. It is
// shared by the login page and the password grant. The default is in memory (per node).
type Throttle interface {
	// Wait returns how long the keys must still wait before another attempt (0: go ahead).
	Wait(ctx context.Context, now time.Time, keys ...string) time.Duration
	// Failed records a failed attempt for each key.
	Failed(ctx context.Context, now time.Time, keys ...string)
	// Succeeded clears the failures of each key.
	Succeeded(ctx context.Context, keys ...string)
}

// userKey and ipKey name throttle buckets.
func userKey(username string) string { return "user:" + strings.ToLower(username) }
func ipKey(ip string) string         { return "ip:" + ip }

// AuthenticateUser checks a username and password: throttled per account and per address,
// constant work for unknown users, bcrypt and old argon2id hashes rehashed on success. Every
// failure is ErrLoginFailed or a *ThrottledError.
func (p *Provider) AuthenticateUser(ctx context.Context, username, password, ip string) (storage.User, error) {
	now := p.now()
	keys := []string{userKey(username)}
	if ip != "" {
		keys = append(keys, ipKey(ip))
	}
	if wait := p.throttle.Wait(ctx, now, keys...); wait > 0 {
		return storage.User{}, &ThrottledError{RetryAfter: wait}
	}
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		p.throttle.Failed(ctx, now, keys...)
		return storage.User{}, ErrLoginFailed
	}
	lookup := username
	if p.usersInStore {
		// The built-in store keeps usernames lower-cased (the admin layer normalizes them).
		lookup = strings.ToLower(username)
	}
	u, err := p.users.GetUserByUsername(ctx, lookup)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, err
	}
	hash := u.PasswordHash
	if err != nil || hash == "" {
		hash = dummyPasswordHash()
	}
	ok, rehash, verr := token.VerifySecret(hash, password)
	if err != nil || u.PasswordHash == "" || verr != nil || !ok || u.Disabled {
		if verr != nil {
			p.log.ErrorContext(ctx, "user has an unreadable password hash", "user_id", u.ID, "err", verr)
		}
		p.throttle.Failed(ctx, now, keys...)
		return storage.User{}, ErrLoginFailed
	}
	p.throttle.Succeeded(ctx, userKey(username))
	if rehash {
		if h, err := token.HashPassword(password); err == nil {
			u.PasswordHash, u.UpdatedAt = h, now.UTC()
			if err := p.users.UpdateUser(ctx, u); err != nil {
				p.log.WarnContext(ctx, "could not rehash password", "user_id", u.ID, "err", err)
			}
		}
	}
	return u, nil
}

var (
	dummyOnce sync.Once
	dummyPW   string
)

// dummyPasswordHash is verified against for unknown users, so they cost as much as known ones.
func dummyPasswordHash() string {
	dummyOnce.Do(func() { dummyPW, _ = token.HashPassword("gatehouse-no-such-user") })
	return dummyPW
}

// memoryThrottle is the default Throttle: from the fifth failure on an account (the
// twentieth from an address) each further attempt waits twice as long as the last: 1 s,
// 2 s, 4 s… up to maxDelay.
type memoryThrottle struct {
	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	until    time.Time
	last     time.Time
}

const (
	freeUserFailures = 5
	freeIPFailures   = 20
	maxDelay         = 15 * time.Minute
	forgetAfter      = time.Hour
	maxThrottleKeys  = 100000
)

// NewMemoryThrottle returns the in-process Throttle.
func NewMemoryThrottle() Throttle { return &memoryThrottle{entries: map[string]*throttleEntry{}} }

func (t *memoryThrottle) Wait(_ context.Context, now time.Time, keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if e, ok := t.entries[k]; ok && now.Before(e.until) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	return wait
}

func (t *memoryThrottle) Failed(_ context.Context, now time.Time, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) > maxThrottleKeys {
		for k, e := range t.entries {
			if now.Sub(e.last) > forgetAfter {
				delete(t.entries, k)
			}
		}
	}
	for _, k := range keys {
		e := t.entries[k]
		if e == nil || now.Sub(e.last) > forgetAfter {
			e = &throttleEntry{}
			t.entries[k] = e
		}
		e.failures++
		e.last = now
		free := freeUserFailures
		if strings.HasPrefix(k, "ip:") {
			free = freeIPFailures
		}
		if over := e.failures - free; over >= 0 {
			d := time.Second << min(over, 20)
			e.until = now.Add(min(d, maxDelay))
		}
	}
}

func (t *memoryThrottle) Succeeded(_ context.Context, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.entries, k)
	}
}
