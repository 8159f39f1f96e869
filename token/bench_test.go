package token

import (
	"testing"
)

func BenchmarkSignAccessToken(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			k := keyFor(b, alg)
			c := testClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := SignAccessToken(k, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseAccessToken(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			k := keyFor(b, alg)
			keys := keySetFor(b, k)
			raw, err := SignAccessToken(k, testClaims())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseAccessToken(raw, keys, testIssuer, testNow, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewOpaque(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewOpaque(PrefixRefreshToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckOpaque(b *testing.B) {
	tok, err := NewOpaque(PrefixRefreshToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !CheckOpaque(tok, PrefixRefreshToken) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkVerifySecretSHA256(b *testing.B) {
	secret, err := NewClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	stored := HashGeneratedSecret(secret)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := VerifySecret(stored, secret); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
