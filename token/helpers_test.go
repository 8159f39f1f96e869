package token

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

var algorithms = []string{ES256, RS256, PS256, EdDSA}

// testKeys generates one key per algorithm once per test binary (RSA generation is slow).
var testKeys = sync.OnceValues(func() (map[string]*Key, error) {
	keys := make(map[string]*Key, len(algorithms))
	for _, alg := range algorithms {
		k, err := GenerateKey(alg)
		if err != nil {
			return nil, err
		}
		keys[alg] = k
	}
	return keys, nil
})

func keyFor(tb testing.TB, alg string) *Key {
	tb.Helper()
	keys, err := testKeys()
	if err != nil {
		tb.Fatal(err)
	}
	return keys[alg]
}

func keySetFor(tb testing.TB, keys ...*Key) KeySet {
	tb.Helper()
	set := KeySet{}
	for _, k := range keys {
		set[k.ID] = k.Public()
	}
	return set
}

const testIssuer = "https://auth.example.com"

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testClaims() AccessClaims {
	return AccessClaims{
		Issuer:    testIssuer,
		Subject:   "user-123",
		Audience:  []string{"https://api.example.com"},
		ExpiresAt: testNow.Add(10 * time.Minute),
		IssuedAt:  testNow,
		ID:        "jti-abc",
		ClientID:  "client-1",
		Scope:     "read write",
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// splitJWT returns the decoded header and payload JSON and the raw signature segment.
func splitJWT(tb testing.TB, raw string) (header, payload map[string]any, sig string) {
	tb.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		tb.Fatalf("want 3 segments, got %d", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			tb.Fatal(err)
		}
	}
	return header, payload, parts[2]
}
