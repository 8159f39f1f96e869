package oauth

import "context"

// pinnedKeys is the context key of a keyring snapshot pinned for one transaction.
type pinnedKeys struct{ k *Keyring }

// pin loads the keys now and returns a context in which k signs with that snapshot and never
// reads the store. Grants mint tokens inside a transaction; a reload there would read the
// store outside the transaction, which a backend holding one lock for its transactions (the
// memory store, or an embedder's) waits on forever.
func (k *Keyring) pin(ctx context.Context) (context.Context, error) {
	snap, err := k.snapshot(ctx)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, pinnedKeys{k}, snap), nil
}

// pinned returns the snapshot pinned in ctx for k, or nil.
func (k *Keyring) pinned(ctx context.Context) *keySnapshot {
	snap, _ := ctx.Value(pinnedKeys{k}).(*keySnapshot)
	return snap
}
