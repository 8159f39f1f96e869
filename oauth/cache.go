package oauth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// cache keeps clients and the scope catalogue in memory for a short TTL. Nodes are
// stateless: a change made elsewhere is seen after at most the TTL, a change made through
// this Provider at once (Invalidate*).
type cache struct {
	store storage.Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*clientEntry
	scopes  *scopeEntry
}

type clientEntry struct {
	client   storage.Client
	loaded   time.Time
	err      error // ErrNotFound is cached too, so unknown ids cannot hammer the database
	verified atomic.Pointer[[32]byte]
}

type scopeEntry struct {
	byName map[string]storage.Scope
	loaded time.Time
}

// maxCachedClients bounds the cache; beyond it the map is cleared.
const maxCachedClients = 10000

func newCache(store storage.Store, ttl time.Duration, now func() time.Time) *cache {
	return &cache{store: store, ttl: ttl, now: now, clients: map[string]*clientEntry{}}
}

func (c *cache) client(ctx context.Context, id string) (*clientEntry, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.clients[id]
		c.mu.Unlock()
		if ok && c.now().Sub(e.loaded) < c.ttl {
			return e, e.err
		}
	}
	cl, err := c.store.GetClient(ctx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	e := &clientEntry{client: cl, loaded: c.now(), err: err}
	if c.ttl > 0 {
		c.mu.Lock()
		if len(c.clients) >= maxCachedClients {
			clear(c.clients)
		}
		c.clients[id] = e
		c.mu.Unlock()
	}
	return e, e.err
}

func (c *cache) invalidateClient(id string) {
	c.mu.Lock()
	delete(c.clients, id)
	c.mu.Unlock()
}

func (c *cache) scopeCatalogue(ctx context.Context) (map[string]storage.Scope, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e := c.scopes
		c.mu.Unlock()
		if e != nil && c.now().Sub(e.loaded) < c.ttl {
			return e.byName, nil
		}
	}
	list, err := c.store.ListScopes(ctx)
	if err != nil {
		return nil, err
	}
	e := &scopeEntry{byName: make(map[string]storage.Scope, len(list)), loaded: c.now()}
	for _, s := range list {
		e.byName[s.Name] = s
	}
	for _, s := range builtinScopes {
		if _, ok := e.byName[s.Name]; !ok {
			e.byName[s.Name] = s
		}
	}
	c.mu.Lock()
	c.scopes = e
	c.mu.Unlock()
	return e.byName, nil
}

func (c *cache) invalidateScopes() {
	c.mu.Lock()
	c.scopes = nil
	c.mu.Unlock()
}
