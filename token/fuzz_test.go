package token

import (
	"strings"
	"testing"
	"time"
)

func FuzzParseAccessToken(f *testing.F) {
	var keys []*Key
	for _, alg := range algorithms {
		keys = append(keys, keyFor(f, alg))
	}
	set := keySetFor(f, keys...)
	for _, k := range keys {
		c := testClaims()
		c.Audience = []string{"a", "b"}
		c.NotBefore = testNow
		raw, err := SignAccessToken(k, c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		idToken, err := SignJWT(k, "JWT", map[string]any{"iss": testIssuer})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(idToken)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add(b64(`{"alg":"none","typ":"at+jwt"}`) + "." + b64(`{"iss":"x"}`) + ".")
	f.Add(`{"payload":"e30","signatures":[]}`)

	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ParseAccessToken(raw, set, testIssuer, testNow, time.Minute)
		if err != nil {
			if c.Issuer != "" || c.Subject != "" || !c.ExpiresAt.IsZero() {
				t.Fatalf("claims returned with error %v", err)
			}
			return
		}
		// Anything accepted went through the checks.
		if c.Issuer != testIssuer || c.IssuedAt.IsZero() || !testNow.Before(c.ExpiresAt.Add(time.Minute)) {
			t.Fatalf("accepted claims %+v", c)
		}
		if !LooksLikeJWT(raw) {
			t.Fatalf("accepted %q, which does not look like a JWT", raw)
		}
	})
}

func FuzzCheckOpaque(f *testing.F) {
	for _, prefix := range prefixes {
		tok, err := NewOpaque(prefix)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, prefix)
		f.Add(tok[:len(tok)-1]+"A", prefix)
	}
	f.Add("", "")
	f.Add("ghr_", "ghr_")
	f.Add(strings.Repeat("A", 49), "")

	f.Fuzz(func(t *testing.T, s, prefix string) {
		if !CheckOpaque(s, prefix) {
			return
		}
		if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+opaqueBodyLen {
			t.Fatalf("CheckOpaque(%q, %q) accepted the wrong shape", s, prefix)
		}
		// Any single-character change to the body is caught (CRC32 detects all 1-byte errors,
		// and the alphabet check catches the rest).
		body := []byte(s)
		i := len(prefix) + int(len(s))%opaqueBodyLen
		body[i] ^= 1
		if CheckOpaque(string(body), prefix) {
			t.Fatalf("CheckOpaque accepted %q after changing byte %d of %q", body, i, s)
		}
	})
}
