package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/token"
)

func jcRaw(kid, alg string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"at+jwt"}`, alg, kid)))
	return h + ".e30.c2ln"
}

func TestJWTCacheBounded(t *testing.T) {
	c := newJWTCache()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := token.KeySet{"k1": {ID: "k1", Algorithm: token.ES256}}
	raw := jcRaw("k1", token.ES256)
	live := token.AccessClaims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	old := token.AccessClaims{IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	// A full cache of expired entries is emptied of them by the next insert.
	for i := range maxVerifiedJWTs {
		c.put(sha256.Sum256([]byte(fmt.Sprint("old", i))), raw, old, keys, now.Add(-90*time.Minute))
	}
	if len(c.m) != maxVerifiedJWTs {
		t.Fatalf("len = %d", len(c.m))
	}
	c.put(sha256.Sum256([]byte("new")), raw, live, keys, now)
	if len(c.m) != 1 {
		t.Fatalf("expired entries not evicted: len = %d", len(c.m))
	}
	// Live entries beyond the bound: the cache stays within it.
	for i := range maxVerifiedJWTs + 500 {
		c.put(sha256.Sum256([]byte(fmt.Sprint("live", i))), raw, live, keys, now)
		if len(c.m) > maxVerifiedJWTs {
			t.Fatalf("len = %d > %d", len(c.m), maxVerifiedJWTs)
		}
	}
}

func TestJWTCacheKeyChecks(t *testing.T) {
	c := newJWTCache()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	claims := token.AccessClaims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	keys := token.KeySet{"k1": {ID: "k1", Algorithm: token.ES256}}
	sum := sha256.Sum256([]byte("t"))
	// A header naming a key that is not in the set, or with another algorithm, is not cached.
	c.put(sum, jcRaw("k2", token.ES256), claims, keys, now)
	c.put(sum, jcRaw("k1", token.RS256), claims, keys, now)
	c.put(sum, "not-a-jws", claims, keys, now)
	if len(c.m) != 0 {
		t.Fatalf("len = %d", len(c.m))
	}
	c.put(sum, jcRaw("k1", token.ES256), claims, keys, now)
	if c.get(sum, keys, now) == nil {
		t.Fatal("entry not found")
	}
	// The same kid with another algorithm (a replaced key) does not match.
	if c.get(sum, token.KeySet{"k1": {ID: "k1", Algorithm: token.EdDSA}}, now) != nil {
		t.Fatal("entry used with a key of another algorithm")
	}
	if len(c.m) != 0 {
		t.Fatal("mismatched entry kept")
	}
	// Issued in the future (a clock set back): not used.
	c.put(sum, jcRaw("k1", token.ES256), claims, keys, now)
	if c.get(sum, keys, now.Add(-time.Minute)) != nil {
		t.Fatal("entry used before its iat")
	}
}
