package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// dummyHash is compared against when the client does not exist, so that an unknown client
// costs the same as a wrong secret.
var dummyHash = token.HashGeneratedSecret("gatehouse-dummy-secret")

// authenticate checks the client's credentials: confidential clients must present their
// secret (client_secret_basic or client_secret_post); public clients must present none.
// Every failure is the same invalid_client, so a caller cannot tell which part was wrong.
func (p *Provider) authenticate(ctx context.Context, cred ClientCredentials) (*storage.Client, error) {
	// The error is built only on failure: the success path allocates nothing for it.
	const failed = "client authentication failed"
	fail := func(description string) (*storage.Client, error) {
		return nil, ErrInvalidClient("%s", description)
	}
	entry, err := p.cache.client(ctx, cred.ID)
	if errors.Is(err, storage.ErrNotFound) {
		_, _, _ = token.VerifySecret(dummyHash, cred.Secret)
		return fail(failed)
	}
	if err != nil {
		return nil, storageError(err)
	}
	c := &entry.client
	if c.Public {
		if cred.Method != AuthMethodNone {
			return fail("public clients do not authenticate with a secret")
		}
		return c, nil
	}
	if cred.Method == AuthMethodNone || cred.Secret == "" {
		return fail("the client must authenticate")
	}
	// A secret verified before (within the cache's lifetime) is checked against its SHA-256
	// digest, so an argon2id-hashed secret costs one slow hash per TTL, not per request.
	digest := sha256.Sum256([]byte(cred.Secret))
	if v := entry.verified.Load(); v != nil && subtle.ConstantTimeCompare(v[:], digest[:]) == 1 {
		return c, nil
	}
	ok, _, err := token.VerifySecret(c.SecretHash, cred.Secret)
	if err != nil {
		p.log.ErrorContext(ctx, "client has an unreadable secret hash", "client_id", c.ID, "err", err)
		return fail(failed)
	}
	if !ok {
		return fail(failed)
	}
	entry.verified.Store(&digest)
	return c, nil
}
