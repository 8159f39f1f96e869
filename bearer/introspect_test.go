package bearer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

func TestVerifyOpaque(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	raw := e.opaque(t, "invoices:read", "reports:read")
	if !strings.HasPrefix(raw, "gha_") {
		t.Fatalf("token %q... is not an opaque Gatehouse token", raw[:4])
	}
	calls := e.tr.introspect.Load()

	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify(opaque) = %v", err)
	}
	if !c.Opaque || c.Issuer != e.ts.URL || c.Subject != e.opaqueID || c.ClientID != e.opaqueID || c.ID == "" {
		t.Errorf("claims = %+v", c)
	}
	if !slices.Equal(c.Scopes, []string{"invoices:read", "reports:read"}) || !c.HasScope("reports:read") {
		t.Errorf("Scopes = %v", c.Scopes)
	}
	if c.ExpiresAt.IsZero() || c.Raw["active"] != true {
		t.Errorf("ExpiresAt = %v, Raw = %v", c.ExpiresAt, c.Raw)
	}
	// The answer is cached: no second request.
	c2, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.tr.introspect.Load() - calls; n != 1 {
		t.Errorf("introspection called %d times for two checks, want 1", n)
	}
	if c2 == c || c2.Subject != c.Subject {
		t.Errorf("cached claims: got the same pointer or different claims")
	}
}

// A revoked opaque token is refused once the cached answer expires (IntrospectionCacheTTL).
func TestVerifyOpaqueRevoked(t *testing.T) {
	e := start(t)
	v := e.verifier(t, func(c *bearer.Config) { c.IntrospectionCacheTTL = 20 * time.Second })
	raw := e.opaque(t, "invoices:read")
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	e.revoke(t, raw, e.opaqueID, e.opaqueSecret)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify within the cache TTL = %v, want the cached answer", err)
	}
	e.clock.Advance(21 * time.Second)
	_, err := v.Verify(context.Background(), raw)
	mustInvalid(t, err, "not active")

	// The inactive answer is cached briefly too.
	calls := e.tr.introspect.Load()
	_, err = v.Verify(context.Background(), raw)
	mustInvalid(t, err, "not active")
	if n := e.tr.introspect.Load() - calls; n != 0 {
		t.Errorf("introspection called %d times for a cached inactive answer, want 0", n)
	}
	e.clock.Advance(6 * time.Second)
	_, err = v.Verify(context.Background(), raw)
	mustInvalid(t, err, "not active")
	if n := e.tr.introspect.Load() - calls; n != 1 {
		t.Errorf("introspection called %d times after the inactive TTL, want 1", n)
	}
}

func TestVerifyOpaqueCacheOff(t *testing.T) {
	e := start(t)
	v := e.verifier(t, func(c *bearer.Config) { c.IntrospectionCacheTTL = -1 })
	raw := e.opaque(t)
	calls := e.tr.introspect.Load()
	for range 3 {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.tr.introspect.Load() - calls; n != 3 {
		t.Errorf("introspection called %d times without a cache, want 3", n)
	}
}

// Concurrent checks of one new token share one introspection request.
func TestVerifyOpaqueCoalesced(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	raw := e.opaque(t, "invoices:read")
	calls := e.tr.introspect.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			c, err := v.Verify(context.Background(), raw)
			if err == nil && !c.HasScope("invoices:read") {
				err = errors.New("scope missing")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.tr.introspect.Load() - calls; n != 1 {
		t.Errorf("introspection called %d times for 32 concurrent checks, want 1", n)
	}
}

func TestVerifyOpaqueWithoutIntrospection(t *testing.T) {
	e := start(t)
	v := e.verifier(t, func(c *bearer.Config) { c.IntrospectionClientID, c.IntrospectionClientSecret = "", "" })
	_, err := v.Verify(context.Background(), e.opaque(t))
	mustInvalid(t, err, "introspection is not configured")
	if n := e.tr.introspect.Load(); n != 0 {
		t.Errorf("introspection called %d times, want 0", n)
	}
}

func TestVerifyOpaqueUnavailable(t *testing.T) {
	e := start(t)
	raw := e.opaque(t)

	v := e.verifier(t)
	e.tr.failIntrospect.Store(true)
	_, err := v.Verify(context.Background(), raw)
	if !errors.Is(err, bearer.ErrUnavailable) || errors.Is(err, bearer.ErrInvalidToken) {
		t.Fatalf("Verify with introspection down = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), raw) {
		t.Fatalf("the error echoes the token: %v", err)
	}
	// Failures are not cached.
	e.tr.failIntrospect.Store(false)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify once introspection is back = %v", err)
	}

	// Wrong credentials are the resource server's problem, not the client's.
	bad := e.verifier(t, func(c *bearer.Config) { c.IntrospectionClientSecret = "wrong" })
	_, err = bad.Verify(context.Background(), raw)
	if !errors.Is(err, bearer.ErrUnavailable) {
		t.Fatalf("Verify with bad introspection credentials = %v, want ErrUnavailable", err)
	}
}

// Client ids and secrets are form-encoded before Basic authentication (RFC 6749 2.3.1).
func TestIntrospectionCredentialsEncoded(t *testing.T) {
	e := start(t)
	id, secret := e.ts.CreateClient(t, storage.Client{ID: "api:invoices/v1 + reports"})
	v := e.verifier(t, func(c *bearer.Config) { c.IntrospectionClientID, c.IntrospectionClientSecret = id, secret })
	if _, err := v.Verify(context.Background(), e.opaque(t)); err != nil {
		t.Fatalf("Verify with a client id that needs encoding = %v", err)
	}
}

// A refresh token is active at the introspection endpoint, but it is not an access token.
func TestVerifyOpaqueRefreshTokenRefused(t *testing.T) {
	e := start(t, servertest.WithGrantTypes(oauth.GrantClientCredentials, oauth.GrantPassword, oauth.GrantRefreshToken))
	const password = "correct horse battery staple"
	e.ts.CreateUser(t, "alice", password)
	id, secret := e.ts.CreateClient(t, storage.Client{GrantTypes: []string{oauth.GrantPassword, oauth.GrantRefreshToken},
		Scopes: []string{"invoices:read"}})
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"invoices:read"},
		Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + server.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := cfg.PasswordCredentialsToken(context.Background(), "alice", password)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	v := e.verifier(t)
	c, err := v.Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify(user access token) = %v", err)
	}
	if c.Subject == "" || c.Subject == id {
		t.Errorf("Subject = %q, want the user's id", c.Subject)
	}
	_, err = v.Verify(context.Background(), tok.RefreshToken)
	mustInvalid(t, err, "not an access token")
}
