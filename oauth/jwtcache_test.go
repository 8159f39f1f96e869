package oauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// The verification cache (jwtcache.go) must never make a token active that a full check
// would find inactive.

func (f *fixture) introspect(t *testing.T, value string) *oauth.Introspection {
	t.Helper()
	in, err := f.p.Introspect(context.Background(), oauth.TokenHandleRequest{Client: cc("machine", f.secret, "").Client, Token: value})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (f *fixture) cachedJWT(t *testing.T) string {
	t.Helper()
	resp, err := f.p.Token(context.Background(), cc("machine", f.secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	before := oauth.VerifiedJWTs(f.p)
	if in := f.introspect(t, resp.AccessToken); !in.Active {
		t.Fatal("fresh token inactive")
	}
	if oauth.VerifiedJWTs(f.p) != before+1 {
		t.Fatal("a verified token was not cached")
	}
	// The second introspection is answered from the cache, with the same claims.
	if in := f.introspect(t, resp.AccessToken); !in.Active || in.ClientID != "machine" || in.Jti == "" {
		t.Fatalf("cached introspection = %+v", in)
	}
	return resp.AccessToken
}

func TestJWTCacheTampered(t *testing.T) {
	f := newFixture(t)
	v := f.cachedJWT(t)
	parts := strings.Split(v, ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tampered := []string{
		parts[0] + "." + flip(parts[1], 10) + "." + parts[2],                 // claims changed
		parts[0] + "." + parts[1] + "." + flip(parts[2], 5),                  // signature changed
		flip(parts[0], 3) + "." + parts[1] + "." + parts[2],                  // header changed
		parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-2],         // signature cut
		parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), // signature replaced
	}
	for _, x := range tampered {
		if in := f.introspect(t, x); in.Active {
			t.Fatalf("tampered token %q is active", x)
		}
	}
	if n := oauth.VerifiedJWTs(f.p); n != 1 {
		t.Fatalf("cache holds %d tokens; failed verifications must not be cached", n)
	}
	if in := f.introspect(t, v); !in.Active {
		t.Fatal("the genuine token became inactive")
	}
}

func TestJWTCacheExpired(t *testing.T) {
	f := newFixture(t)
	v := f.cachedJWT(t)
	// Within the leeway after exp a token is still active, cached or not (as the full check).
	f.clock.Advance(time.Hour + 4*time.Second)
	if in := f.introspect(t, v); !in.Active {
		t.Fatal("token inactive within the leeway")
	}
	f.clock.Advance(time.Second)
	if in := f.introspect(t, v); in.Active {
		t.Fatal("expired token active from the cache")
	}
	if n := oauth.VerifiedJWTs(f.p); n != 0 {
		t.Fatalf("expired entry kept: %d", n)
	}
}

func TestJWTCacheRevoked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Revoked through this Provider: inactive at once.
	v := f.cachedJWT(t)
	if err := f.p.Revoke(ctx, oauth.TokenHandleRequest{Client: cc("machine", f.secret, "").Client, Token: v}); err != nil {
		t.Fatal(err)
	}
	if in := f.introspect(t, v); in.Active {
		t.Fatal("revoked token active from the cache")
	}
	// Revoked in the store by someone else (another node, the CLI, the admin API): inactive
	// at once too, since the deny list is read on every introspection.
	w := f.cachedJWT(t)
	keys, _ := f.keys.PublicKeys(ctx)
	c, err := token.ParseAccessToken(w, keys, issuer, f.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.RevokeJTI(ctx, storage.Revocation{JTI: c.ID, ClientID: c.ClientID, ExpiresAt: c.ExpiresAt,
		RevokedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if in := f.introspect(t, w); in.Active {
		t.Fatal("token deny-listed in the store still active from the cache")
	}
}

func TestJWTCacheKeyRemoved(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := f.cachedJWT(t)
	// Rotate, keeping the old key published for 10 minutes only, then let it go.
	if _, err := f.keys.Rotate(ctx, token.ES256, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if in := f.introspect(t, v); !in.Active {
		t.Fatal("token inactive while its key is still published")
	}
	f.clock.Advance(11 * time.Minute)
	if _, err := f.store.DeleteExpired(ctx, f.clock.Now(), 100); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if in := f.introspect(t, v); in.Active {
		t.Fatal("token of a removed key active from the cache")
	}
	if n := oauth.VerifiedJWTs(f.p); n != 0 {
		t.Fatalf("entry of a removed key kept: %d", n)
	}
}
