package token

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

func TestClientSecret(t *testing.T) {
	secret, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !CheckOpaque(secret, PrefixClientSecret) {
		t.Fatalf("CheckOpaque(%q) = false", secret)
	}
	stored := HashGeneratedSecret(secret)
	if !strings.HasPrefix(stored, "sha256$") || strings.Contains(stored, secret) || !ValidHash(stored) {
		t.Fatalf("HashGeneratedSecret = %q", stored)
	}
	assertVerify(t, stored, secret, true, false)
	assertVerify(t, stored, secret+"x", false, false)
	assertVerify(t, stored, "", false, false)
}

func TestVerifySHA256Encodings(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret"))
	for _, enc := range []string{
		base64.RawURLEncoding.EncodeToString(sum[:]),
		base64.URLEncoding.EncodeToString(sum[:]),
		base64.StdEncoding.EncodeToString(sum[:]),
		base64.RawStdEncoding.EncodeToString(sum[:]),
		hex.EncodeToString(sum[:]),
	} {
		stored := "sha256$" + enc
		if !ValidHash(stored) {
			t.Errorf("ValidHash(%q) = false", stored)
		}
		assertVerify(t, stored, "s3cret", true, false)
		assertVerify(t, stored, "S3cret", false, false)
	}
}

func TestHashPassword(t *testing.T) {
	stored, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=19456,t=2,p=1$") || !ValidHash(stored) {
		t.Fatalf("HashPassword = %q", stored)
	}
	parts := strings.Split(stored, "$")
	if salt, err := base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) != 16 {
		t.Errorf("salt %q: %v", parts[4], err)
	}
	if key, err := base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) != 32 {
		t.Errorf("hash %q: %v", parts[5], err)
	}
	again, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if again == stored {
		t.Error("two hashes of one password are equal (salt reuse?)")
	}
	assertVerify(t, stored, "correct horse", true, false)
	assertVerify(t, stored, "correct horse ", false, false)
	assertVerify(t, stored, "", false, false)
}

func TestVerifyArgon2idOtherParameters(t *testing.T) {
	// A hash made elsewhere with cheaper parameters verifies and asks to be rehashed.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 24)
	stored := "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	if !ValidHash(stored) {
		t.Fatalf("ValidHash(%q) = false", stored)
	}
	assertVerify(t, stored, "pw", true, true)
	assertVerify(t, stored, "px", false, false) // needsRehash only with a match
}

func TestVerifyBcrypt(t *testing.T) {
	hashed, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	stored := string(hashed) // $2a$
	for _, s := range []string{stored, "$2b$" + stored[4:], "$2y$" + stored[4:]} {
		if !ValidHash(s) {
			t.Errorf("ValidHash(%q) = false", s)
		}
		assertVerify(t, s, "hunter2", true, true)
		assertVerify(t, s, "hunter3", false, false)
	}
}

func TestVerifyMalformed(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	argon := func(v, params, salt, key string) string {
		return "$argon2id$" + v + "$" + params + "$" + salt + "$" + key
	}
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, stored := range []string{
		"",
		"plaintext",
		"sha256$",
		"sha256$abc",
		"sha256$" + base64.RawURLEncoding.EncodeToString(make([]byte, 31)),
		"sha256$" + strings.Repeat("g", 64),
		"SHA256$" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"$argon2id$",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		argon("v=16", "m=64,t=1,p=1", salt, key),
		argon("v=19", "m=64,t=1", salt, key),
		argon("v=19", "t=1,m=64,p=1", salt, key),
		argon("v=19", "m=64,t=0,p=1", salt, key),
		argon("v=19", "m=64,t=1,p=0", salt, key),
		argon("v=19", "m=4,t=1,p=1", salt, key),
		argon("v=19", "m=64,t=1,p=1000", salt, key),
		argon("v=19", "m=99999999999,t=1,p=1", salt, key),
		argon("v=19", "m=2097152,t=1,p=1", salt, key),
		argon("v=19", "m=-1,t=1,p=1", salt, key),
		argon("v=19", "m=+64,t=1,p=1", salt, key),
		argon("v=19", "m=064,t=1,p=1", salt, key),
		argon("v=19", "m=64,t=1,p=1", salt+"==", key),
		argon("v=19", "m=64,t=1,p=1", "c2FsdA", key), // 4-byte salt
		argon("v=19", "m=64,t=1,p=1", salt, ""),
		argon("v=19", "m=64,t=1,p=1", salt, key+"$extra"),
		"$2a$",
		"$2a$10$tooshort",
		"$2x$" + string(bcryptHash[4:]),
		"$2a$99" + string(bcryptHash[6:]),
		"$3a$" + string(bcryptHash[4:]),
	} {
		if ValidHash(stored) {
			t.Errorf("ValidHash(%q) = true", stored)
		}
		ok, rehash, err := VerifySecret(stored, "x")
		if ok || rehash || err == nil {
			t.Errorf("VerifySecret(%q) = %v, %v, %v; want a malformed-hash error", stored, ok, rehash, err)
			continue
		}
		if len(stored) > 12 && strings.Contains(err.Error(), stored) {
			t.Errorf("error %q echoes the stored hash", err)
		}
	}
}

func assertVerify(t *testing.T, stored, presented string, wantOK, wantRehash bool) {
	t.Helper()
	ok, rehash, err := VerifySecret(stored, presented)
	if err != nil || ok != wantOK || rehash != wantRehash {
		t.Errorf("VerifySecret(%q, %q) = %v, %v, %v; want %v, %v, nil", stored, presented, ok, rehash, err, wantOK, wantRehash)
	}
}
