package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// KeyInfo describes a signing key without its key material.
type KeyInfo struct {
	ID        string // kid
	Algorithm string
	// State is storage.KeyNext, KeyCurrent or KeyPrevious.
	State     string
	CreatedAt time.Time
	// NotAfter is when a previous key stops being published; zero otherwise.
	NotAfter time.Time
}

func keyInfo(k storage.SigningKey) KeyInfo {
	return KeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt, NotAfter: k.NotAfter}
}

// ListKeys returns the signing keys, oldest first. It reads the store, not the keyring's
// cache, and needs no encryption key.
func (a *Admin) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := a.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list keys: %w", err)
	}
	out := make([]KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = keyInfo(k)
	}
	return out, nil
}

// RotateKey promotes alg's next key to current, keeps the old current key published for
// retain (at least the lifetime of the tokens it signed), creates a new next key, and returns
// the new current key. It needs the keyring passed to New.
//
// The keyring rotates in its own transaction, so the key.rotated event is written right after
// it, in a second one.
func (a *Admin) RotateKey(ctx context.Context, alg string, retain time.Duration) (KeyInfo, error) {
	if a.keys == nil {
		return KeyInfo{}, errors.New("admin: rotate key: no keyring (is the encryption key configured?)")
	}
	var p problems
	if !token.SupportedAlgorithm(alg) {
		p.add("algorithm", "unsupported algorithm %q (want ES256, RS256, PS256 or EdDSA)", clip(alg))
	}
	if retain < 0 {
		p.add("retain", "must not be negative")
	}
	if err := p.err(); err != nil {
		return KeyInfo{}, fmt.Errorf("admin: rotate key: %w", err)
	}
	var previous string
	if keys, err := a.store.ListKeys(ctx); err == nil {
		for _, k := range keys {
			if k.Algorithm == alg && k.State == storage.KeyCurrent {
				previous = k.ID
			}
		}
	}
	rec, err := a.keys.Rotate(ctx, alg, retain)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("admin: rotate %s key: %w", alg, err)
	}
	details := map[string]string{"kid": rec.ID, "algorithm": alg, "retain": retain.String()}
	if previous != "" {
		details["previous_kid"] = previous
	}
	err = a.store.InTx(ctx, func(tx storage.Store) error {
		return a.audit(ctx, tx, a.timestamp(), EventKeyRotated, "", details)
	})
	if err != nil {
		return keyInfo(rec), fmt.Errorf("admin: rotate %s key: rotated to %s, but: %w", alg, rec.ID, err)
	}
	return keyInfo(rec), nil
}
