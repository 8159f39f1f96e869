package token

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

var prefixes = []string{PrefixAccessToken, PrefixRefreshToken, PrefixCode, PrefixDeviceCode, PrefixPersonal, PrefixClientSecret}

func TestOpaque(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range prefixes {
		for range 50 {
			tok, err := NewOpaque(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if seen[tok] {
				t.Fatalf("duplicate token %q", tok)
			}
			seen[tok] = true
			if !strings.HasPrefix(tok, prefix) || len(tok) != len(prefix)+49 {
				t.Fatalf("token %q has the wrong shape", tok)
			}
			if !CheckOpaque(tok, prefix) {
				t.Fatalf("CheckOpaque(%q) = false", tok)
			}
			if LooksLikeJWT(tok) {
				t.Fatalf("LooksLikeJWT(%q) = true", tok)
			}
			for _, other := range prefixes {
				if other != prefix && CheckOpaque(tok, other) {
					t.Fatalf("CheckOpaque(%q, %q) = true", tok, other)
				}
			}
		}
	}
}

func TestCheckOpaqueRejects(t *testing.T) {
	tok, err := NewOpaque(PrefixRefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	body := tok[len(PrefixRefreshToken):]
	for name, s := range map[string]string{
		"empty":          "",
		"prefix only":    PrefixRefreshToken,
		"no prefix":      body,
		"short":          tok[:len(tok)-1],
		"long":           tok + "A",
		"upper prefix":   strings.ToUpper(PrefixRefreshToken) + body,
		"padding":        tok[:len(tok)-1] + "=",
		"bad char":       tok[:10] + "+" + tok[11:],
		"checksum":       tok[:len(tok)-1] + flip(tok[len(tok)-1]),
		"random changed": tok[:10] + flip(tok[10]) + tok[11:],
		"swapped halves": PrefixRefreshToken + body[6:] + body[:6],
	} {
		if CheckOpaque(s, PrefixRefreshToken) {
			t.Errorf("%s: CheckOpaque(%q) = true", name, s)
		}
	}
	// The last character of the random part carries 2 padding bits that must be zero, so only
	// every fourth letter of the alphabet may end it.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := len(PrefixRefreshToken) + opaqueRandomLen - 1
	for i, c := range alphabet {
		s := tok[:last] + string(c) + tok[last+1:]
		if s == tok {
			continue
		}
		var sum [opaqueChecksumLen]byte
		putChecksum(sum[:], []byte(s[:len(s)-opaqueChecksumLen]))
		s = s[:len(s)-opaqueChecksumLen] + string(sum[:])
		if got, want := CheckOpaque(s, PrefixRefreshToken), i%4 == 0; got != want {
			t.Errorf("random part ending in %q: CheckOpaque = %v, want %v", c, got, want)
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestHash(t *testing.T) {
	want := sha256.Sum256([]byte("ghr_x"))
	if got := Hash("ghr_x"); !bytes.Equal(got, want[:]) {
		t.Errorf("Hash = %x, want %x", got, want)
	}
}
