package token

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type testIDClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   any    `json:"aud,omitempty"`
	Exp   int64  `json:"exp,omitempty"`
	Iat   int64  `json:"iat,omitempty"`
	Nonce string `json:"nonce,omitempty"`
	Azp   string `json:"azp,omitempty"`
	Sid   string `json:"sid,omitempty"`
}

func TestParseIDTokenRoundTrip(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			k := keyFor(t, alg)
			raw, err := SignJWT(k, "JWT", testIDClaims{Iss: testIssuer, Sub: "user-1", Aud: "client-1",
				Exp: testNow.Add(time.Hour).Unix(), Iat: testNow.Unix(), Nonce: "n-0S6", Azp: "client-1", Sid: "s1"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseIDToken(raw, keySetFor(t, k), testIssuer)
			if err != nil {
				t.Fatal(err)
			}
			want := IDClaims{Issuer: testIssuer, Subject: "user-1", Audience: []string{"client-1"},
				ExpiresAt: testNow.Add(time.Hour), IssuedAt: testNow, Nonce: "n-0S6", AuthorizedParty: "client-1",
				SessionID: "s1"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims = %+v\nwant   %+v", got, want)
			}
		})
	}
}

func TestParseIDTokenAccepts(t *testing.T) {
	es := keyFor(t, ES256)
	keys := keySetFor(t, es)
	expired := `{"iss":"` + testIssuer + `","sub":"u","aud":["a","b"],"exp":` + itoa(testNow.Add(-24*time.Hour).Unix()) + `}`
	for name, headers := range map[string]map[jose.HeaderKey]any{
		"typ JWT":             {"kid": es.ID, "typ": "JWT"},
		"typ jwt":             {"kid": es.ID, "typ": "jwt"},
		"typ application/jwt": {"kid": es.ID, "typ": "application/jwt"},
		"no typ":              {"kid": es.ID},
	} {
		t.Run(name, func(t *testing.T) {
			raw := signWith(t, jose.ES256, es.Private, headers, expired)
			c, err := ParseIDToken(raw, keys, testIssuer)
			if err != nil {
				t.Fatal(err)
			}
			// Expired tokens are accepted (id_token_hint); the expiry is reported.
			if c.Subject != "u" || !reflect.DeepEqual(c.Audience, []string{"a", "b"}) ||
				!c.ExpiresAt.Equal(testNow.Add(-24*time.Hour)) || !c.IssuedAt.IsZero() {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestParseIDTokenRejects(t *testing.T) {
	es, rs, ed := keyFor(t, ES256), keyFor(t, RS256), keyFor(t, EdDSA)
	keys := keySetFor(t, es, rs, ed)
	payload := `{"iss":"` + testIssuer + `","sub":"u","aud":"c","exp":` + itoa(testNow.Unix()) + `}`
	jwtHeaders := func(kid string) map[jose.HeaderKey]any {
		return map[jose.HeaderKey]any{"kid": kid, "typ": "JWT"}
	}
	valid := signWith(t, jose.ES256, es.Private, jwtHeaders(es.ID), payload)
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	pubDER, err := es.PublicDER()
	if err != nil {
		t.Fatal(err)
	}
	access, err := SignAccessToken(es, testClaims())
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		raw  func(t *testing.T) string
		want string
	}{
		{"empty", func(*testing.T) string { return "" }, "parse"},
		{"garbage", func(*testing.T) string { return "a.b" }, "parse"},
		{"tampered signature", func(*testing.T) string {
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}, "signature does not verify"},
		{"tampered payload", func(*testing.T) string {
			return parts[0] + "." + b64(strings.Replace(payload, `"sub":"u"`, `"sub":"admin"`, 1)) + "." + parts[2]
		}, "signature does not verify"},
		{"alg none", func(*testing.T) string {
			return b64(`{"alg":"none","kid":"`+es.ID+`","typ":"JWT"}`) + "." + b64(payload) + "."
		}, "parse"},
		{"HS256 with the public key as secret", func(t *testing.T) string {
			return signWith(t, jose.HS256, pubDER, jwtHeaders(es.ID), payload)
		}, "parse"},
		{"unknown kid", func(t *testing.T) string {
			other, err := GenerateKey(ES256)
			if err != nil {
				t.Fatal(err)
			}
			return signWith(t, jose.ES256, other.Private, jwtHeaders(other.ID), payload)
		}, "unknown kid"},
		{"no kid", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"typ": "JWT"}, payload)
		}, "no kid"},
		{"kid of a key with another alg", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, jwtHeaders(rs.ID), payload)
		}, "does not match key"},
		{"access token", func(*testing.T) string { return access }, "typ"},
		{"typ logout+jwt", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": es.ID, "typ": "logout+jwt"}, payload)
		}, "typ"},
		{"typ not a string", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": es.ID, "typ": 1}, payload)
		}, "typ"},
		{"crit header", func(t *testing.T) string {
			h := jwtHeaders(es.ID)
			h["crit"] = []string{"exp"}
			h["exp"] = 1
			return signWith(t, jose.ES256, es.Private, h, payload)
		}, "crit"},
		{"wrong issuer", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, jwtHeaders(es.ID), strings.Replace(payload, testIssuer, "https://evil.example.com", 1))
		}, "issuer"},
		{"exp not a number", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, jwtHeaders(es.ID), `{"iss":"`+testIssuer+`","exp":"soon"}`)
		}, "claims"},
		{"oversize", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, jwtHeaders(es.ID), `{"iss":"`+testIssuer+`","pad":"`+strings.Repeat("x", MaxJWTSize)+`"}`)
		}, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw(t)
			c, err := ParseIDToken(raw, keys, testIssuer)
			if err == nil {
				t.Fatalf("ParseIDToken accepted %q", raw)
			}
			if !reflect.DeepEqual(c, IDClaims{}) {
				t.Errorf("claims %+v returned with error", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if got := errors.Is(err, ErrUnknownKeyID); got != (tc.name == "unknown kid") {
				t.Errorf("errors.Is(err, ErrUnknownKeyID) = %v", got)
			}
			assertNoKeyMaterial(t, err, es, rs, ed)
		})
	}
}

func FuzzParseIDToken(f *testing.F) {
	var keys []*Key
	for _, alg := range algorithms {
		keys = append(keys, keyFor(f, alg))
	}
	set := keySetFor(f, keys...)
	for _, k := range keys {
		raw, err := SignJWT(k, "JWT", testIDClaims{Iss: testIssuer, Sub: "u", Aud: []string{"a", "b"},
			Exp: testNow.Unix(), Iat: testNow.Unix(), Nonce: "n", Azp: "a"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add(b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(`{"iss":"x"}`) + ".")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ParseIDToken(raw, set, testIssuer)
		if err != nil {
			if !reflect.DeepEqual(c, IDClaims{}) {
				t.Fatalf("claims returned with error %v", err)
			}
			return
		}
		if c.Issuer != testIssuer || !LooksLikeJWT(raw) {
			t.Fatalf("accepted %q: %+v", raw, c)
		}
	})
}
