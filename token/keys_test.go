package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestGenerateKey(t *testing.T) {
	for _, alg := range algorithms {
		k := keyFor(t, alg)
		if k.Algorithm != alg {
			t.Errorf("%s: Algorithm = %q", alg, k.Algorithm)
		}
		if id, err := base64.RawURLEncoding.DecodeString(k.ID); err != nil || len(id) != 16 {
			t.Errorf("%s: kid %q is not 16 bytes of base64url", alg, k.ID)
		}
		if err := checkKeyFits(alg, k.Private.Public()); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		pub := k.Public()
		if pub.ID != k.ID || pub.Algorithm != alg || pub.Key == nil {
			t.Errorf("%s: Public() = %+v", alg, pub)
		}
	}
	if rsaKey := keyFor(t, RS256).Private.(*rsa.PrivateKey); rsaKey.N.BitLen() != 2048 {
		t.Errorf("RSA key has %d bits", rsaKey.N.BitLen())
	}
	for _, alg := range []string{"", "none", "HS256", "ES384", "es256"} {
		if SupportedAlgorithm(alg) {
			t.Errorf("SupportedAlgorithm(%q) = true", alg)
		}
		if _, err := GenerateKey(alg); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", alg)
		}
	}
}

func TestParseKeysCheckType(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := func(k any) (priv, pub []byte) {
		t.Helper()
		priv, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		pub, err = x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
		if err != nil {
			t.Fatal(err)
		}
		return priv, pub
	}
	esPriv, esPub := der(keyFor(t, ES256).Private)
	rsPriv, rsPub := der(keyFor(t, RS256).Private)
	edPriv, edPub := der(ed)
	p384Priv, p384Pub := der(p384)
	smallPriv, smallPub := der(rsa1024)

	cases := []struct {
		alg       string
		priv, pub []byte
		ok        bool
	}{
		{ES256, esPriv, esPub, true},
		{RS256, rsPriv, rsPub, true},
		{PS256, rsPriv, rsPub, true},
		{EdDSA, edPriv, edPub, true},
		{ES256, rsPriv, rsPub, false},
		{ES256, edPriv, edPub, false},
		{ES256, p384Priv, p384Pub, false},
		{RS256, esPriv, esPub, false},
		{RS256, smallPriv, smallPub, false},
		{PS256, edPriv, edPub, false},
		{EdDSA, esPriv, esPub, false},
		{"HS256", esPriv, esPub, false},
		{ES256, []byte("junk"), []byte("junk"), false},
		{ES256, esPub, esPriv, false}, // swapped encodings
	}
	for i, tc := range cases {
		k, err := ParsePrivateKey("kid", tc.alg, tc.priv)
		if (err == nil) != tc.ok {
			t.Errorf("case %d: ParsePrivateKey(%s) err = %v, want ok=%v", i, tc.alg, err, tc.ok)
		}
		if err == nil && (k.ID != "kid" || k.Algorithm != tc.alg) {
			t.Errorf("case %d: key = %+v", i, k)
		}
		if _, err := ParsePublicKey("kid", tc.alg, tc.pub); (err == nil) != tc.ok {
			t.Errorf("case %d: ParsePublicKey(%s) err = %v, want ok=%v", i, tc.alg, err, tc.ok)
		}
	}
	if _, err := ParsePrivateKey("", ES256, esPriv); err == nil {
		t.Error("ParsePrivateKey with empty kid succeeded")
	}
	if _, err := ParsePublicKey("", ES256, esPub); err == nil {
		t.Error("ParsePublicKey with empty kid succeeded")
	}
}

func TestJWKS(t *testing.T) {
	var pubs []PublicKey
	for _, alg := range algorithms {
		pubs = append(pubs, keyFor(t, alg).Public())
	}
	doc, err := JWKS(pubs)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("go-jose cannot read %s: %v", doc, err)
	}
	if len(set.Keys) != len(pubs) {
		t.Fatalf("got %d keys, want %d", len(set.Keys), len(pubs))
	}
	for i, jwk := range set.Keys {
		want := pubs[i]
		if jwk.KeyID != want.ID || jwk.Algorithm != want.Algorithm || jwk.Use != "sig" {
			t.Errorf("key %d: kid %q alg %q use %q, want %q %q sig", i, jwk.KeyID, jwk.Algorithm, jwk.Use, want.ID, want.Algorithm)
		}
		if !jwk.IsPublic() || !jwk.Valid() {
			t.Errorf("key %d is not a valid public key", i)
		}
		// The published key verifies what the private key signs.
		raw, err := SignAccessToken(keyFor(t, want.Algorithm), testClaims())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseAccessToken(raw, KeySet{jwk.KeyID: {ID: jwk.KeyID, Algorithm: jwk.Algorithm, Key: jwk.Key}}, testIssuer, testNow, 0); err != nil {
			t.Errorf("key %d: %v", i, err)
		}
	}
	// No private parts leak into the document.
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	for i, k := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d has private member %q", i, private)
			}
		}
	}

	empty, err := JWKS(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(empty) != `{"keys":[]}` {
		t.Errorf("JWKS(nil) = %s", empty)
	}
	if _, err := JWKS([]PublicKey{{ID: "x", Algorithm: ES256, Key: keyFor(t, RS256).Public().Key}}); err == nil {
		t.Error("JWKS with a mismatched key succeeded")
	}
}
