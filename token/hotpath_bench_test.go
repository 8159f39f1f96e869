package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// Benchmarks of the token hot paths that bench_test.go does not cover: ID tokens, the
// argon2id secret check, token hashing, sealing, the JWKS document, and the bare signature
// primitives (to show what go-jose adds). Run with `make bench-go` or
// go test -run '^$' -bench . -benchmem ./token/

// benchIDClaims are the claims of a typical ID token.
func benchIDClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-123", "aud": "client-1", "exp": testNow.Add(10 * 60e9).Unix(),
		"iat": testNow.Unix(), "auth_time": testNow.Unix(), "nonce": "n-0S6_WzA2Mj", "azp": "client-1",
		"name": "Alice Example", "email": "alice@example.com", "email_verified": true,
	}
}

func BenchmarkSignIDToken(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			k := keyFor(b, alg)
			claims := benchIDClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := SignJWT(k, "JWT", claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseIDToken(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			k := keyFor(b, alg)
			keys := keySetFor(b, k)
			raw, err := SignJWT(k, "JWT", benchIDClaims())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseIDToken(raw, keys, testIssuer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifySecretArgon2id is the check of an operator-chosen client secret (and of a
// user password): what a generated secret's single SHA-256 avoids.
func BenchmarkVerifySecretArgon2id(b *testing.B) {
	const secret = "an operator-chosen secret"
	stored, err := HashPassword(secret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := VerifySecret(stored, secret); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkVerifySecretSHA256Mismatch is a wrong generated secret: the same cost as a match.
func BenchmarkVerifySecretSHA256Mismatch(b *testing.B) {
	secret, err := NewClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	stored := HashGeneratedSecret(secret)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := VerifySecret(stored, secret+"x"); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkHash is the lookup key of every opaque token, code and session.
func BenchmarkHash(b *testing.B) {
	tok, err := NewOpaque(PrefixAccessToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Hash(tok)
	}
}

func BenchmarkNewClientSecret(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewClientSecret(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal and BenchmarkOpen are the sealed authorization request that travels through
// the login and consent pages (about 300 bytes).
func BenchmarkSeal(b *testing.B) {
	s := benchSealer(b)
	plain := make([]byte, 300)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal("authz-request", plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := benchSealer(b)
	sealed, err := s.Seal("authz-request", make([]byte, 300))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open("authz-request", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSealer(b *testing.B) *Sealer {
	b.Helper()
	enc, err := NewSealingKey()
	if err != nil {
		b.Fatal(err)
	}
	key, err := ParseSealingKey(enc)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSealer(key)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkJWKS builds the JWKS document of one key per algorithm: the work that serving
// precomputed bytes saves on every request.
func BenchmarkJWKS(b *testing.B) {
	var pubs []PublicKey
	for _, alg := range algorithms {
		pubs = append(pubs, keyFor(b, alg).Public())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := JWKS(pubs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSignature is the signature primitive alone (standard library, no JOSE), the
// floor under BenchmarkSignAccessToken. HS256 is here for comparison only: Gatehouse signs
// with asymmetric keys, so that resource servers can verify without a shared secret.
func BenchmarkRawSignature(b *testing.B) {
	digest := sha256.Sum256([]byte("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20ifQ"))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		b.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	hk := make([]byte, 32)
	_, _ = rand.Read(hk)
	cases := []struct {
		name string
		sign func() error
	}{
		{"ES256", func() error { _, err := ecdsa.SignASN1(rand.Reader, ec, digest[:]); return err }},
		{"RS256", func() error { _, err := rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA256, digest[:]); return err }},
		{"PS256", func() error { _, err := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, digest[:], nil); return err }},
		{"EdDSA", func() error { _ = ed25519.Sign(ed, digest[:]); return nil }},
		{"HS256", func() error { m := hmac.New(sha256.New, hk); m.Write(digest[:]); _ = m.Sum(nil); return nil }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.sign(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
