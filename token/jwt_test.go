package token

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestAccessTokenRoundTrip(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			k := keyFor(t, alg)
			want := testClaims()
			want.NotBefore = testNow.Add(-time.Minute)
			raw, err := SignAccessToken(k, want)
			if err != nil {
				t.Fatal(err)
			}
			if !LooksLikeJWT(raw) {
				t.Fatalf("LooksLikeJWT(%q) = false", raw)
			}
			header, payload, _ := splitJWT(t, raw)
			wantHeader := map[string]any{"alg": alg, "kid": k.ID, "typ": "at+jwt"}
			if !reflect.DeepEqual(header, wantHeader) {
				t.Errorf("header = %v, want %v", header, wantHeader)
			}
			if got := payload["aud"]; got != "https://api.example.com" {
				t.Errorf("single aud serialized as %#v, want a string", got)
			}

			got, err := ParseAccessToken(raw, keySetFor(t, k), testIssuer, testNow, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims = %+v\nwant   %+v", got, want)
			}
		})
	}
}

func TestAccessTokenThroughDER(t *testing.T) {
	// Keys stored as DER (as the database holds them) sign and verify like the originals.
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			orig := keyFor(t, alg)
			privDER, err := orig.PrivateDER()
			if err != nil {
				t.Fatal(err)
			}
			pubDER, err := orig.PublicDER()
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParsePrivateKey(orig.ID, alg, privDER)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKey(orig.ID, alg, pubDER)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := SignAccessToken(k, testClaims())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseAccessToken(raw, KeySet{pub.ID: pub}, testIssuer, testNow, 0); err != nil {
				t.Fatal(err)
			}
			// A token from the original key verifies with the parsed public key too.
			raw, err = SignAccessToken(orig, testClaims())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseAccessToken(raw, KeySet{pub.ID: pub}, testIssuer, testNow, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAccessTokenClaimEncoding(t *testing.T) {
	k := keyFor(t, ES256)
	keys := keySetFor(t, k)

	c := testClaims()
	c.Audience = []string{"a", "b"}
	c.Scope = ""
	raw, err := SignAccessToken(k, c)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := splitJWT(t, raw)
	if aud, ok := payload["aud"].([]any); !ok || len(aud) != 2 {
		t.Errorf("two audiences serialized as %#v, want an array", payload["aud"])
	}
	for _, name := range []string{"scope", "nbf"} {
		if _, ok := payload[name]; ok {
			t.Errorf("%s present although empty", name)
		}
	}
	for _, name := range []string{"iss", "sub", "exp", "iat", "jti", "client_id"} {
		if _, ok := payload[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	got, err := ParseAccessToken(raw, keys, testIssuer, testNow, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("claims = %+v\nwant   %+v", got, c)
	}

	c.Audience = nil
	raw, err = SignAccessToken(k, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, payload, _ := splitJWT(t, raw); payload["aud"] != nil {
		t.Errorf("no audience serialized as %#v", payload["aud"])
	}

	for _, bad := range []func(*AccessClaims){
		func(c *AccessClaims) { c.Issuer = "" },
		func(c *AccessClaims) { c.ExpiresAt = time.Time{} },
		func(c *AccessClaims) { c.IssuedAt = time.Time{} },
	} {
		c := testClaims()
		bad(&c)
		if _, err := SignAccessToken(k, c); err == nil {
			t.Errorf("SignAccessToken(%+v) succeeded", c)
		}
	}
}

func TestSignJWT(t *testing.T) {
	k := keyFor(t, RS256)
	claims := struct {
		Iss   string `json:"iss"`
		Nonce string `json:"nonce"`
	}{testIssuer, "n-0S6"}
	for _, typ := range []string{"JWT", "", "logout+jwt"} {
		raw, err := SignJWT(k, typ, claims)
		if err != nil {
			t.Fatal(err)
		}
		header, payload, _ := splitJWT(t, raw)
		if got, _ := header["typ"].(string); got != typ {
			t.Errorf("typ = %q, want %q", got, typ)
		}
		if header["kid"] != k.ID || header["alg"] != RS256 {
			t.Errorf("header = %v", header)
		}
		if payload["nonce"] != "n-0S6" {
			t.Errorf("payload = %v", payload)
		}
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(k.Public().Key); err != nil {
			t.Errorf("go-jose verify: %v", err)
		}
		// An ID token is not an access token.
		if _, err := ParseAccessToken(raw, keySetFor(t, k), testIssuer, testNow, 0); err == nil {
			t.Errorf("ParseAccessToken accepted typ %q", typ)
		}
	}
	if _, err := SignJWT(k, "JWT", map[string]any{"bad": func() {}}); err == nil {
		t.Error("SignJWT with unmarshalable claims succeeded")
	}
}

// customSigner hides the concrete key type, as an HSM or KMS signer would.
type customSigner struct{ inner crypto.Signer }

func (s customSigner) Public() crypto.PublicKey { return s.inner.Public() }
func (s customSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.inner.Sign(r, digest, opts)
}

func TestOpaqueCryptoSigner(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			base := keyFor(t, alg)
			k := &Key{ID: base.ID, Algorithm: alg, Private: customSigner{base.Private}}
			raw, err := SignAccessToken(k, testClaims())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseAccessToken(raw, keySetFor(t, base), testIssuer, testNow, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSignRejectsBadKeys(t *testing.T) {
	es, rs := keyFor(t, ES256), keyFor(t, RS256)
	for name, k := range map[string]*Key{
		"nil private":    {ID: "a", Algorithm: ES256},
		"empty kid":      {Algorithm: ES256, Private: es.Private},
		"alg mismatch":   {ID: "a", Algorithm: ES256, Private: rs.Private},
		"unsupported":    {ID: "a", Algorithm: "HS256", Private: es.Private},
		"ES256 with RSA": {ID: "a", Algorithm: RS256, Private: es.Private},
	} {
		if _, err := SignAccessToken(k, testClaims()); err == nil {
			t.Errorf("%s: SignAccessToken succeeded", name)
		}
		// The error is cached, not a panic, on the second call.
		if _, err := SignJWT(k, "JWT", map[string]string{}); err == nil {
			t.Errorf("%s: SignJWT succeeded", name)
		}
	}
	if _, err := SignAccessToken(nil, testClaims()); err == nil {
		t.Error("nil key: SignAccessToken succeeded")
	}
}

func TestSignConcurrent(t *testing.T) {
	// A fresh Key (no signers cached yet) used from many goroutines; run with -race.
	k, err := GenerateKey(ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys := keySetFor(t, k)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			raw, err := SignAccessToken(k, testClaims())
			if err == nil {
				_, err = ParseAccessToken(raw, keys, testIssuer, testNow, 0)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// signWith signs payload with go-jose directly, for tokens SignAccessToken would never make.
func signWith(t *testing.T, alg jose.SignatureAlgorithm, key any, headers map[jose.HeaderKey]any, payload string) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for name, v := range headers {
		opts = opts.WithHeader(name, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseAccessTokenRejects(t *testing.T) {
	es, rs, ed := keyFor(t, ES256), keyFor(t, RS256), keyFor(t, EdDSA)
	keys := keySetFor(t, es, rs, ed)

	valid, err := SignAccessToken(es, testClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	goodPayload := `{"iss":"` + testIssuer + `","sub":"u","exp":` + itoa(testNow.Add(time.Hour).Unix()) +
		`,"iat":` + itoa(testNow.Unix()) + `,"jti":"j","client_id":"c"}`
	atHeaders := func(kid string) map[jose.HeaderKey]any {
		return map[jose.HeaderKey]any{"kid": kid, "typ": "at+jwt"}
	}
	claimsToken := func(t *testing.T, mutate func(*AccessClaims)) string {
		c := testClaims()
		mutate(&c)
		raw, err := SignAccessToken(es, c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}

	pubDER, err := x509.MarshalPKIXPublicKey(es.Public().Key)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[0] ^= 1

	cases := []struct {
		name string
		raw  func(t *testing.T) string
		want string // substring of the error
	}{
		{"empty", func(*testing.T) string { return "" }, "parse"},
		{"garbage", func(*testing.T) string { return "not a token" }, "parse"},
		{"two segments", func(*testing.T) string { return parts[0] + "." + parts[1] }, "parse"},
		{"JSON serialization", func(*testing.T) string {
			return `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`
		}, "parse"},
		{"tampered signature", func(*testing.T) string {
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes)
		}, "signature does not verify"},
		{"tampered payload", func(*testing.T) string {
			return parts[0] + "." + b64(strings.Replace(goodPayload, `"sub":"u"`, `"sub":"admin"`, 1)) + "." + parts[2]
		}, "signature does not verify"},
		{"signature swapped from another token", func(t *testing.T) string {
			other := strings.Split(claimsToken(t, func(c *AccessClaims) { c.Subject = "other" }), ".")
			return parts[0] + "." + parts[1] + "." + other[2]
		}, "signature does not verify"},
		{"alg none", func(*testing.T) string {
			return b64(`{"alg":"none","kid":"`+es.ID+`","typ":"at+jwt"}`) + "." + b64(goodPayload) + "."
		}, "parse"},
		{"alg none with signature", func(*testing.T) string {
			return b64(`{"alg":"none","kid":"`+es.ID+`","typ":"at+jwt"}`) + "." + b64(goodPayload) + "." + parts[2]
		}, "parse"},
		{"HS256 with public key DER as secret", func(t *testing.T) string {
			return signWith(t, jose.HS256, pubDER, atHeaders(es.ID), goodPayload)
		}, "parse"},
		{"HS256 with public key PEM as secret", func(t *testing.T) string {
			return signWith(t, jose.HS256, pubPEM, atHeaders(es.ID), goodPayload)
		}, "parse"},
		{"ES384 header", func(*testing.T) string {
			return b64(`{"alg":"ES384","kid":"`+es.ID+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2]
		}, "parse"},
		{"unknown kid", func(t *testing.T) string {
			other, err := GenerateKey(ES256)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := SignAccessToken(other, testClaims())
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, "unknown kid"},
		{"no kid", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"typ": "at+jwt"}, goodPayload)
		}, "no kid"},
		{"kid of a key with another alg", func(t *testing.T) string {
			// Signed by the ES256 key but naming the RS256 key's kid.
			return signWith(t, jose.ES256, es.Private, atHeaders(rs.ID), goodPayload)
		}, "does not match key"},
		{"PS256 header on an RS256 key", func(t *testing.T) string {
			return signWith(t, jose.PS256, rs.Private, atHeaders(rs.ID), goodPayload)
		}, "does not match key"},
		{"typ JWT", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": es.ID, "typ": "JWT"}, goodPayload)
		}, "typ"},
		{"no typ", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": es.ID}, goodPayload)
		}, "typ"},
		{"typ not a string", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": es.ID, "typ": 1}, goodPayload)
		}, "typ"},
		{"crit header", func(t *testing.T) string {
			h := atHeaders(es.ID)
			h["crit"] = []string{"exp"}
			h["exp"] = 1
			return signWith(t, jose.ES256, es.Private, h, goodPayload)
		}, "crit"},
		{"wrong issuer", func(t *testing.T) string {
			return claimsToken(t, func(c *AccessClaims) { c.Issuer = "https://evil.example.com" })
		}, "issuer"},
		{"issuer with trailing slash", func(t *testing.T) string {
			return claimsToken(t, func(c *AccessClaims) { c.Issuer = testIssuer + "/" })
		}, "issuer"},
		{"expired", func(t *testing.T) string {
			return claimsToken(t, func(c *AccessClaims) { c.ExpiresAt = testNow.Add(-time.Minute) })
		}, "expired"},
		{"expires exactly now", func(t *testing.T) string {
			return claimsToken(t, func(c *AccessClaims) { c.ExpiresAt = testNow })
		}, "expired"},
		{"nbf in the future", func(t *testing.T) string {
			return claimsToken(t, func(c *AccessClaims) { c.NotBefore = testNow.Add(time.Minute) })
		}, "not valid before"},
		{"iat in the future", func(t *testing.T) string {
			return claimsToken(t, func(c *AccessClaims) { c.IssuedAt = testNow.Add(time.Minute) })
		}, "issued in the future"},
		{"no iat", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID),
				`{"iss":"`+testIssuer+`","exp":`+itoa(testNow.Add(time.Hour).Unix())+`}`)
		}, "no iat"},
		{"no exp", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID), `{"iss":"`+testIssuer+`","iat":`+itoa(testNow.Unix())+`}`)
		}, "no exp"},
		{"exp not a number", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID),
				`{"iss":"`+testIssuer+`","exp":"soon","iat":`+itoa(testNow.Unix())+`}`)
		}, "claims"},
		{"huge nbf", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID),
				`{"iss":"`+testIssuer+`","exp":`+itoa(testNow.Add(time.Hour).Unix())+`,"iat":`+itoa(testNow.Unix())+`,"nbf":9223372036854775807}`)
		}, "claims"},
		{"issuer claim in other case", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID),
				`{"ISS":"`+testIssuer+`","exp":`+itoa(testNow.Add(time.Hour).Unix())+`,"iat":`+itoa(testNow.Unix())+`}`)
		}, "issuer"},
		{"payload not an object", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID), `[1,2]`)
		}, "claims"},
		{"oversize", func(t *testing.T) string {
			return signWith(t, jose.ES256, es.Private, atHeaders(es.ID),
				`{"iss":"`+testIssuer+`","pad":"`+strings.Repeat("x", MaxJWTSize)+`"}`)
		}, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw(t)
			_, err := ParseAccessToken(raw, keys, testIssuer, testNow, 0)
			if err == nil {
				t.Fatalf("ParseAccessToken accepted %q", raw)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			assertNoKeyMaterial(t, err, es, rs, ed)
		})
	}
}

// assertNoKeyMaterial fails if err's text contains any part of a key's encodings.
func assertNoKeyMaterial(t *testing.T, err error, keys ...*Key) {
	t.Helper()
	for _, k := range keys {
		for _, der := range []func() ([]byte, error){k.PrivateDER, k.PublicDER} {
			b, derr := der()
			if derr != nil {
				t.Fatal(derr)
			}
			tail := b[len(b)-16:] // key bytes sit at the end of both encodings
			for _, enc := range []string{
				base64.StdEncoding.EncodeToString(tail)[:16],
				base64.RawURLEncoding.EncodeToString(tail)[:16],
				strings.ToLower(string(appendHex(nil, tail))),
			} {
				if strings.Contains(err.Error(), enc) {
					t.Errorf("error %q contains key material", err)
				}
			}
		}
	}
}

func appendHex(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestParseAccessTokenAccepts(t *testing.T) {
	es := keyFor(t, ES256)
	keys := keySetFor(t, es)
	goodPayload := `{"iss":"` + testIssuer + `","sub":"u","aud":["x","y"],"exp":` + itoa(testNow.Add(time.Hour).Unix()) +
		`.5,"iat":` + itoa(testNow.Unix()) + `,"jti":"j","client_id":"c","extra":{"x":1}}`
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"} {
		raw := signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": es.ID, "typ": typ}, goodPayload)
		c, err := ParseAccessToken(raw, keys, testIssuer, testNow, 0)
		if err != nil {
			t.Errorf("typ %q: %v", typ, err)
			continue
		}
		if !reflect.DeepEqual(c.Audience, []string{"x", "y"}) || c.ExpiresAt != testNow.Add(time.Hour) {
			t.Errorf("typ %q: claims %+v", typ, c)
		}
	}

	// Leeway forgives a little clock skew in both directions.
	leeway := 30 * time.Second
	for name, mutate := range map[string]func(*AccessClaims){
		"expired within leeway":   func(c *AccessClaims) { c.ExpiresAt = testNow.Add(-10 * time.Second) },
		"nbf within leeway":       func(c *AccessClaims) { c.NotBefore = testNow.Add(10 * time.Second) },
		"iat ahead within leeway": func(c *AccessClaims) { c.IssuedAt = testNow.Add(10 * time.Second) },
	} {
		c := testClaims()
		mutate(&c)
		raw, err := SignAccessToken(es, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseAccessToken(raw, keys, testIssuer, testNow, leeway); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := ParseAccessToken(raw, keys, testIssuer, testNow, 0); err == nil {
			t.Errorf("%s: accepted without leeway", name)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"a.b.c":                     true,
		"eyJhbGciOi.eyJpc3Mi.sig-_": true,
		"":                          false,
		"a.b":                       false,
		"a.b.c.d":                   false,
		"a..c":                      false,
		".b.c":                      false,
		"a.b.":                      false,
		"a.b.c=":                    false,
		"a.b+.c":                    false,
		"gha_abc":                   false,
		"a.b.c ":                    false,
	} {
		if got := LooksLikeJWT(s); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseAccessTokenClipsErrors(t *testing.T) {
	es := keyFor(t, ES256)
	long := strings.Repeat("k", 4000)
	raw := signWith(t, jose.ES256, es.Private, map[jose.HeaderKey]any{"kid": long, "typ": "at+jwt"}, `{}`)
	_, err := ParseAccessToken(raw, keySetFor(t, es), testIssuer, testNow, 0)
	if err == nil || !strings.Contains(err.Error(), "unknown kid") || len(err.Error()) > 200 {
		t.Errorf("error = %v", err)
	}
}
