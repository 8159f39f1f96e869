package bearer_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/token"
)

func TestVerifyJWT(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	raw := e.jwt(t, "invoices:read", "reports:read")

	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify(valid token) = %v", err)
	}
	if c.Issuer != e.ts.URL || c.Subject != e.jwtID || c.ClientID != e.jwtID || c.ID == "" || c.Opaque {
		t.Errorf("claims = %+v", c)
	}
	if !slices.Equal(c.Audience, []string{e.ts.URL}) {
		t.Errorf("Audience = %v, want [%s]", c.Audience, e.ts.URL)
	}
	if c.Scope != "invoices:read reports:read" || !slices.Equal(c.Scopes, []string{"invoices:read", "reports:read"}) {
		t.Errorf("Scope = %q, Scopes = %v", c.Scope, c.Scopes)
	}
	if !c.HasScope("reports:read") || c.HasScope("invoices:write") || c.HasScope("") {
		t.Errorf("HasScope is wrong for %v", c.Scopes)
	}
	if d := c.ExpiresAt.Sub(c.IssuedAt); d != time.Hour {
		t.Errorf("exp - iat = %v, want 1h", d)
	}
	if c.Raw["jti"] != c.ID || c.Raw["client_id"] != e.jwtID {
		t.Errorf("Raw = %v", c.Raw)
	}
	var nilClaims *bearer.Claims
	if nilClaims.HasScope("x") {
		t.Error("nil Claims has a scope")
	}
}

func TestVerifyJWTRS256(t *testing.T) {
	e := start(t, servertest.WithProviderOptions(func(o *oauth.Options) { o.AccessTokenAlgorithm = token.RS256 }))
	v := e.verifier(t)
	raw := e.jwt(t, "invoices:read")
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify(RS256 token) = %v", err)
	}
	// The same token is refused when only ES256 is allowed.
	es := e.verifier(t, func(c *bearer.Config) { c.Algorithms = []string{"ES256"} })
	_, err := es.Verify(context.Background(), raw)
	mustInvalid(t, err, "algorithm is not allowed")
}

func TestVerifyJWTExpired(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	raw := e.jwt(t)
	// Within the leeway (30s) after exp the token is still accepted.
	e.clock.Advance(time.Hour + 20*time.Second)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify within the leeway = %v", err)
	}
	e.clock.Advance(20 * time.Second)
	_, err := v.Verify(context.Background(), raw)
	mustInvalid(t, err, "expired")
}

func TestVerifyJWTServerClockExpired(t *testing.T) {
	// A token minted two hours ago by the server's clock is expired now.
	past := time.Now().Add(-2 * time.Hour)
	e := start(t, servertest.WithNow(func() time.Time { return past }))
	v := e.verifier(t)
	_, err := v.Verify(context.Background(), e.jwt(t))
	mustInvalid(t, err, "expired")
}

func TestVerifyJWTRejects(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	kid := e.signer(t, token.ES256).ID
	good := e.jwt(t, "invoices:read")
	parts := strings.Split(good, ".")

	edit := func(f func(map[string]any)) map[string]any {
		c := e.claims()
		f(c)
		return c
	}
	// Flip a character in the middle of the signature (the last one may only carry padding bits).
	sig := []byte(parts[2])
	if i := len(sig) / 2; sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	// A payload with more scopes under the original signature.
	wider := strings.Split(e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { c["scope"] = "invoices:write" })), ".")
	future := time.Now().Add(10 * time.Minute).Unix()

	tests := []struct {
		name, token, reason string
	}{
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(sig), "signature is invalid"},
		{"tampered payload", parts[0] + "." + wider[1] + "." + parts[2], "signature is invalid"},
		{"alg none", unsignedToken(t, kid, e.claims()), "algorithm is not allowed"},
		{"wrong issuer", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { c["iss"] = "https://evil.example" })), "another issuer"},
		{"wrong audience", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { c["aud"] = "https://other.example" })), "another audience"},
		{"no audience", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { delete(c, "aud") })), "another audience"},
		{"no exp", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { delete(c, "exp") })), "no expiry"},
		{"nbf in the future", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { c["nbf"] = future })), "not valid yet"},
		{"iat in the future", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { c["iat"] = future })), "issued in the future"},
		{"typ JWT (an ID token, say)", e.sign(t, token.ES256, "JWT", e.claims()), "not at+jwt"},
		{"no typ", e.sign(t, token.ES256, "", e.claims()), "not at+jwt"},
		{"signed with an RS256 key but not allowed to", e.sign(t, token.RS256, "at+jwt", e.claims()), "algorithm is not allowed"},
		// The real RS256 key, but used for PS256: the JWK says alg RS256.
		{"alg differs from the key's alg", signWith(t, jose.PS256, e.signer(t, token.RS256).Private, e.signer(t, token.RS256).ID, e.claims()), "does not match the key"},
		{"EC algorithm on an RSA key", signWith(t, jose.ES256, e.signer(t, token.ES256).Private, e.signer(t, token.RS256).ID, e.claims()), "does not match the key"},
		{"too large", strings.Repeat("a", bearer.MaxTokenSize) + "." + "b.c", "too large"},
		{"not base64url", "a.b!.c", "not a JWT"},
		{"malformed header", "abc.def.ghi", "malformed"},
		{"no kid", signWith(t, jose.ES256, e.signer(t, token.ES256).Private, "", e.claims()), "no key id"},
		{"scope of the wrong type", e.sign(t, token.ES256, "at+jwt", edit(func(c map[string]any) { c["scope"] = 42 })), "claims are malformed"},
	}
	// RS256 is allowed by default; this verifier refuses it.
	es := e.verifier(t, func(c *bearer.Config) {
		c.Algorithms = []string{"ES256", "PS256"}
		c.IntrospectionClientID, c.IntrospectionClientSecret = "", ""
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := es.Verify(context.Background(), tt.token)
			mustInvalid(t, err, tt.reason)
		})
	}
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("Verify(good) = %v", err)
	}
}

func TestVerifyJWTClaimVariants(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	tests := []struct {
		name   string
		edit   func(map[string]any)
		scopes []string
	}{
		{"aud array containing the audience", func(c map[string]any) { c["aud"] = []string{"https://other.example", e.ts.URL} }, []string{"invoices:read"}},
		{"scp array instead of scope", func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"a", "b"} }, []string{"a", "b"}},
		{"no scope", func(c map[string]any) { delete(c, "scope") }, nil},
		{"nbf and iat inside the leeway", func(c map[string]any) { c["nbf"] = time.Now().Add(10 * time.Second).Unix() }, []string{"invoices:read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.claims()
			tt.edit(c)
			got, err := v.Verify(context.Background(), e.sign(t, token.ES256, "application/AT+JWT", c))
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if !slices.Equal(got.Scopes, tt.scopes) {
				t.Errorf("Scopes = %v, want %v", got.Scopes, tt.scopes)
			}
		})
	}
}

// An HS256 token whose HMAC key is the issuer's public key (the classic algorithm confusion)
// is refused, whichever way the public key is encoded.
func TestVerifyJWTHMACWithPublicKey(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	for _, alg := range []string{token.ES256, token.RS256} {
		k := e.signer(t, alg)
		der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
		if err != nil {
			t.Fatal(err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for _, secret := range [][]byte{der, pemBytes} {
			for _, hs := range []jose.SignatureAlgorithm{jose.HS256, jose.HS512} {
				raw := signWith(t, hs, secret, k.ID, e.claims())
				_, err := v.Verify(context.Background(), raw)
				mustInvalid(t, err, "algorithm is not allowed")
			}
		}
	}
}

func TestNewRefusesUnsafeAlgorithms(t *testing.T) {
	e := start(t)
	for _, alg := range []string{"none", "HS256", "HS384", "HS512", "", "es256", "RSA-OAEP"} {
		_, err := bearer.New(context.Background(), bearer.Config{Issuer: e.ts.URL, Audience: e.ts.URL, Algorithms: []string{alg}})
		if err == nil {
			t.Errorf("New(Algorithms: [%q]) succeeded", alg)
		}
	}
}

// A key rotated in while the verifier runs is picked up without a restart; a token signed by
// a key that the issuer never published is refused.
func TestKeyRotation(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	ctx := context.Background()
	keys := e.ts.Provider.Keys()
	fetches := e.tr.jwks.Load()

	before := e.jwt(t)
	// The first rotation promotes the next key, already in the JWKS the verifier holds.
	if _, err := keys.Rotate(ctx, token.ES256, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	second := e.jwt(t)
	if kidOf(t, second) == kidOf(t, before) {
		t.Fatal("rotation did not change the signing key")
	}
	for _, raw := range []string{before, second} {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatalf("Verify after the first rotation = %v", err)
		}
	}
	if n := e.tr.jwks.Load() - fetches; n != 0 {
		t.Errorf("JWKS fetched %d times for a pre-published key, want 0", n)
	}

	// The second rotation promotes a key the verifier has never seen: the unknown kid makes it
	// fetch the JWKS again (once the 10s rate limit allows it).
	if _, err := keys.Rotate(ctx, token.ES256, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	third := e.jwt(t)
	_, err := v.Verify(ctx, third)
	mustInvalid(t, err, "unknown key") // fetched less than 10s ago: no refetch yet
	if n := e.tr.jwks.Load() - fetches; n != 0 {
		t.Errorf("JWKS fetched %d times within the rate limit, want 0", n)
	}
	e.clock.Advance(11 * time.Second)
	if _, err := v.Verify(ctx, third); err != nil {
		t.Fatalf("Verify(token with a new kid) = %v", err)
	}
	if n := e.tr.jwks.Load() - fetches; n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
	for _, raw := range []string{before, second} {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Errorf("Verify(token of a previous key) = %v", err)
		}
	}

	// A key that is not in the JWKS: refused, after at most one more fetch.
	e.clock.Advance(11 * time.Second)
	_, err = v.Verify(ctx, e.rogueToken(t, "rogue"))
	mustInvalid(t, err, "unknown key")
	_, err = v.Verify(ctx, e.rogueToken(t, kidOf(t, third)))
	mustInvalid(t, err, "signature is invalid")
	if n := e.tr.jwks.Load() - fetches; n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

// Many concurrent tokens with unknown kids make one JWKS fetch, and then none until the rate
// limit allows.
func TestUnknownKidStorm(t *testing.T) {
	e := start(t)
	v := e.verifier(t)
	e.clock.Advance(11 * time.Second)
	fetches := e.tr.jwks.Load()
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = e.rogueToken(t, "rogue-"+string(rune('a'+i%26))+strings.Repeat("x", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(tokens))
	for _, raw := range tokens {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), raw)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, bearer.ErrInvalidToken) {
			t.Fatalf("Verify(rogue) = %v", err)
		}
	}
	if n := e.tr.jwks.Load() - fetches; n != 1 {
		t.Errorf("JWKS fetched %d times for %d unknown kids, want 1", n, len(tokens))
	}
	// Valid tokens still verify meanwhile.
	if _, err := v.Verify(context.Background(), e.jwt(t)); err != nil {
		t.Fatal(err)
	}
}

// The key set is refreshed periodically; when the refresh fails, the cached keys stay in use.
func TestJWKSPeriodicRefresh(t *testing.T) {
	e := start(t)
	v := e.verifier(t, func(c *bearer.Config) { c.JWKSRefreshInterval = time.Minute })
	raw := e.jwt(t)
	fetches := e.tr.jwks.Load()

	e.clock.Advance(61 * time.Second)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if n := e.tr.jwks.Load() - fetches; n != 1 {
		t.Errorf("JWKS fetched %d times after the refresh interval, want 1", n)
	}

	e.tr.failJWKS.Store(true)
	e.clock.Advance(61 * time.Second)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify while the JWKS is unreachable = %v", err)
	}
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if n := e.tr.jwks.Load() - fetches; n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (one failed try, then the rate limit)", n)
	}
}

func kidOf(t testing.TB, raw string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}
