package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/token"
)

// maxVerifiedJWTs bounds the verified-JWT cache (a few hundred bytes an entry).
const maxVerifiedJWTs = 10000

// jwtCache remembers the claims of JWT access tokens whose signature verified, keyed by the
// SHA-256 of the token, so that introspecting the same token again costs a hash and a map
// read instead of a signature check (ES256 verification is the largest part of an
// introspection).
//
// This is safe because a signature that verified once stays valid: only the facts around it
// change, and each is checked again on every use:
//   - time: an entry is used only while the claims' exp (and iat, nbf) still pass the same
//     checks as token.ParseAccessToken, and is dropped after exp;
//   - the key: an entry is used only while its kid is still among the published keys with the
//     same algorithm; once the key is removed the token is verified again, and fails;
//   - the deny list and the client: not cached here; Provider.lookup checks them every time.
//
// A token that differs in any byte (a tampered one) has another digest, so it never meets an
// entry; failed verifications are not cached.
type jwtCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*verifiedJWT
}

type verifiedJWT struct {
	claims token.AccessClaims
	kid    string
	alg    string
}

func newJWTCache() *jwtCache {
	return &jwtCache{m: make(map[[32]byte]*verifiedJWT)}
}

// get returns the claims verified before for the token with digest sum, if they may be used
// at now with keys; nil otherwise.
func (c *jwtCache) get(sum [32]byte, keys token.KeySet, now time.Time) *verifiedJWT {
	c.mu.RLock()
	e := c.m[sum]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	if k, ok := keys[e.kid]; !ok || k.Algorithm != e.alg || !claimsTimely(&e.claims, now) {
		c.mu.Lock()
		if c.m[sum] == e {
			delete(c.m, sum)
		}
		c.mu.Unlock()
		return nil
	}
	return e
}

// put remembers the claims of the token raw, which verified with one of keys.
func (c *jwtCache) put(sum [32]byte, raw string, claims token.AccessClaims, keys token.KeySet, now time.Time) {
	kid, alg, ok := jwsKeyID(raw)
	if !ok {
		return
	}
	if k, ok := keys[kid]; !ok || k.Algorithm != alg {
		return
	}
	e := &verifiedJWT{claims: claims, kid: kid, alg: alg}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerifiedJWTs {
		c.evict(now)
	}
	c.m[sum] = e
}

// evict drops the expired entries and, if that is not enough, some others (map order is
// random) until the cache is at most 90% full. Called with mu held.
func (c *jwtCache) evict(now time.Time) {
	for k, e := range c.m {
		if !claimsTimely(&e.claims, now) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < maxVerifiedJWTs*9/10 {
			break
		}
		delete(c.m, k)
	}
}

// claimsTimely repeats the time checks of token.ParseAccessToken (exp, iat and nbf, with the
// same leeway) on claims that verified before.
func claimsTimely(c *token.AccessClaims, now time.Time) bool {
	if !now.Before(c.ExpiresAt.Add(clockSkew)) || now.Add(clockSkew).Before(c.IssuedAt) {
		return false
	}
	return c.NotBefore.IsZero() || !now.Add(clockSkew).Before(c.NotBefore)
}

// jwsKeyID reads kid and alg from the protected header of a compact JWS. Called only on a
// token whose signature verified, so the header is one this server wrote.
func jwsKeyID(raw string) (kid, alg string, ok bool) {
	seg, _, found := strings.Cut(raw, ".")
	if !found {
		return "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", "", false
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		return "", "", false
	}
	return h.Kid, h.Alg, true
}

// tokenDigest is the cache key of a token.
func tokenDigest(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }
