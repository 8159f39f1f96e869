package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Keyring loads signing keys from storage, unseals them, and caches the signers, the public
// key set and the JWKS document. Nodes share keys through the database; each node reloads its
// cache after KeyringOptions.TTL, and at once when it meets a kid it does not know.
//
// Keys go through three states (storage.KeyNext, KeyCurrent, KeyPrevious). Rotation promotes
// the next key, which every verifier has already seen in the JWKS, so a verifier that caches
// the JWKS never meets an unknown kid.
type Keyring struct {
	store  storage.Store
	sealer *token.Sealer
	now    func() time.Time
	ttl    time.Duration

	mu        sync.RWMutex
	snap      *keySnapshot
	lastForce time.Time
	loadMu    sync.Mutex
}

type keySnapshot struct {
	loaded  time.Time
	signers map[string]*token.Key // current key by algorithm
	public  token.KeySet
	jwks    []byte
	etag    string
	records []storage.SigningKey
}

// KeyringOptions tune a Keyring.
type KeyringOptions struct {
	// TTL is how long a node trusts its cached keys; default 10s.
	TTL time.Duration
	Now func() time.Time
}

// NewKeyring returns a Keyring over store, sealing private keys with sealer.
func NewKeyring(store storage.Store, sealer *token.Sealer, opts KeyringOptions) *Keyring {
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Keyring{store: store, sealer: sealer, now: opts.Now, ttl: opts.TTL}
}

// Ensure creates a current and a next key for each algorithm that lacks them.
func (k *Keyring) Ensure(ctx context.Context, algs ...string) error {
	err := k.store.InTx(ctx, func(tx storage.Store) error {
		keys, err := tx.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, alg := range algs {
			if !token.SupportedAlgorithm(alg) {
				return fmt.Errorf("keys: unsupported algorithm %q", alg)
			}
			hasCurrent, hasNext := false, false
			for _, r := range keys {
				if r.Algorithm != alg {
					continue
				}
				hasCurrent = hasCurrent || r.State == storage.KeyCurrent
				hasNext = hasNext || r.State == storage.KeyNext
			}
			if !hasCurrent {
				if _, err := k.create(ctx, tx, alg, storage.KeyCurrent); err != nil {
					return err
				}
			}
			if !hasNext {
				if _, err := k.create(ctx, tx, alg, storage.KeyNext); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = k.reload(ctx)
	return err
}

func (k *Keyring) create(ctx context.Context, tx storage.Store, alg, state string) (storage.SigningKey, error) {
	key, err := token.GenerateKey(alg)
	if err != nil {
		return storage.SigningKey{}, err
	}
	priv, err := key.PrivateDER()
	if err != nil {
		return storage.SigningKey{}, err
	}
	pub, err := key.PublicDER()
	if err != nil {
		return storage.SigningKey{}, err
	}
	sealed, err := k.sealer.Seal(key.ID, priv)
	if err != nil {
		return storage.SigningKey{}, err
	}
	rec := storage.SigningKey{ID: key.ID, Algorithm: alg, State: state, Sealed: sealed, Public: pub,
		CreatedAt: k.now().UTC()}
	if err := tx.CreateKey(ctx, rec); err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: store new key: %w", err)
	}
	return rec, nil
}

// Rotate promotes alg's next key to current, keeps the old current key published as previous
// for retain (the longest lifetime of a token it signed), and creates a new next key. It
// returns the new current key.
func (k *Keyring) Rotate(ctx context.Context, alg string, retain time.Duration) (storage.SigningKey, error) {
	promoted, _, err := k.rotate(ctx, alg, retain, 0)
	return promoted, err
}

// RotateIfDue rotates alg when its newest key (current or next) is older than period, and
// reports whether it rotated. The check runs inside the rotation's transaction, so nodes
// racing on it at worst leave one extra next key, which is published and harmless.
func (k *Keyring) RotateIfDue(ctx context.Context, alg string, period, retain time.Duration) (bool, error) {
	if period <= 0 {
		return false, nil
	}
	_, rotated, err := k.rotate(ctx, alg, retain, period)
	return rotated, err
}

// rotate rotates alg; with period > 0 only when its newest current or next key is older than
// period.
func (k *Keyring) rotate(ctx context.Context, alg string, retain, period time.Duration) (storage.SigningKey, bool, error) {
	if !token.SupportedAlgorithm(alg) {
		return storage.SigningKey{}, false, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	var promoted storage.SigningKey
	rotated := false
	err := k.store.InTx(ctx, func(tx storage.Store) error {
		keys, err := tx.ListKeys(ctx)
		if err != nil {
			return err
		}
		if period > 0 {
			var newest time.Time
			for _, r := range keys {
				if r.Algorithm == alg && (r.State == storage.KeyCurrent || r.State == storage.KeyNext) && r.CreatedAt.After(newest) {
					newest = r.CreatedAt
				}
			}
			if !newest.IsZero() && k.now().Sub(newest) < period {
				return nil
			}
		}
		var next *storage.SigningKey
		for i := range keys {
			r := keys[i]
			if r.Algorithm != alg {
				continue
			}
			switch r.State {
			case storage.KeyCurrent:
				r.State, r.NotAfter = storage.KeyPrevious, k.now().UTC().Add(retain)
				if err := tx.UpdateKey(ctx, r); err != nil {
					return err
				}
			case storage.KeyNext:
				if next == nil {
					next = &keys[i]
				}
			}
		}
		if next == nil {
			// No next key (a store filled by hand): the new current key is published at
			// the moment it starts signing.
			rec, err := k.create(ctx, tx, alg, storage.KeyCurrent)
			if err != nil {
				return err
			}
			promoted = rec
		} else {
			next.State = storage.KeyCurrent
			if err := tx.UpdateKey(ctx, *next); err != nil {
				return err
			}
			promoted = *next
		}
		rotated = true
		_, err = k.create(ctx, tx, alg, storage.KeyNext)
		return err
	})
	if err != nil {
		return storage.SigningKey{}, false, err
	}
	if rotated {
		if _, err := k.reload(ctx); err != nil {
			return storage.SigningKey{}, false, err
		}
	}
	return promoted, rotated, nil
}

// Signer returns the current signing key for alg.
func (k *Keyring) Signer(ctx context.Context, alg string) (*token.Key, error) {
	snap, err := k.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if key, ok := snap.signers[alg]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("keys: no current %s key", alg)
}

// PublicKeys returns the published verification keys.
func (k *Keyring) PublicKeys(ctx context.Context) (token.KeySet, error) {
	snap, err := k.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.public, nil
}

// reloadLimited reloads the keys unless it did so less than a second ago, and returns the
// published keys.
func (k *Keyring) reloadLimited(ctx context.Context) (token.KeySet, error) {
	k.mu.Lock()
	allowed := k.now().Sub(k.lastForce) >= time.Second
	if allowed {
		k.lastForce = k.now()
	}
	k.mu.Unlock()
	if !allowed {
		return k.PublicKeys(ctx)
	}
	snap, err := k.reload(ctx)
	if err != nil {
		return nil, err
	}
	return snap.public, nil
}

// JWKS returns the JSON Web Key Set document and its ETag.
func (k *Keyring) JWKS(ctx context.Context) (doc []byte, etag string, err error) {
	snap, err := k.snapshot(ctx)
	if err != nil {
		return nil, "", err
	}
	return snap.jwks, snap.etag, nil
}

// Records returns the stored key records (without reloading more often than the TTL).
func (k *Keyring) Records(ctx context.Context) ([]storage.SigningKey, error) {
	snap, err := k.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.records, nil
}

// Reload drops the cache and reads the keys again.
func (k *Keyring) Reload(ctx context.Context) error {
	_, err := k.reload(ctx)
	return err
}

func (k *Keyring) snapshot(ctx context.Context) (*keySnapshot, error) {
	if snap := k.pinned(ctx); snap != nil {
		return snap, nil
	}
	k.mu.RLock()
	snap := k.snap
	k.mu.RUnlock()
	if snap != nil && k.now().Sub(snap.loaded) < k.ttl {
		return snap, nil
	}
	return k.reload(ctx)
}

func (k *Keyring) reload(ctx context.Context) (*keySnapshot, error) {
	k.loadMu.Lock()
	defer k.loadMu.Unlock()
	records, err := k.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	k.mu.RLock()
	old := k.snap
	k.mu.RUnlock()
	snap := &keySnapshot{loaded: k.now(), signers: map[string]*token.Key{}, public: token.KeySet{}, records: records}
	// Newest first, so the newest current key wins if two nodes raced to create one.
	sorted := append([]storage.SigningKey(nil), records...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.After(sorted[j].CreatedAt) })
	var pubs []token.PublicKey
	for _, r := range sorted {
		pub, err := token.ParsePublicKey(r.ID, r.Algorithm, r.Public)
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", r.ID, err)
		}
		snap.public[r.ID] = pub
		pubs = append(pubs, pub)
		if r.State != storage.KeyCurrent || snap.signers[r.Algorithm] != nil {
			continue
		}
		if old != nil && old.signers[r.Algorithm] != nil && old.signers[r.Algorithm].ID == r.ID {
			snap.signers[r.Algorithm] = old.signers[r.Algorithm] // already unsealed
			continue
		}
		der, err := k.sealer.Open(r.ID, r.Sealed)
		if err != nil {
			return nil, fmt.Errorf("keys: unseal key %s (is keys.encryption_key the one it was sealed with?): %w", r.ID, err)
		}
		key, err := token.ParsePrivateKey(r.ID, r.Algorithm, der)
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", r.ID, err)
		}
		snap.signers[r.Algorithm] = key
	}
	if snap.jwks, err = token.JWKS(pubs); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(snap.jwks)
	snap.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	k.mu.Lock()
	k.snap = snap
	k.mu.Unlock()
	return snap, nil
}
