package token

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func newTestSealer(t *testing.T) *Sealer {
	t.Helper()
	enc, err := NewSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseSealingKey(enc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := newTestSealer(t)
	plaintext := []byte("private key bytes")
	sealed, err := s.Seal("kid-1", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plaintext) {
		t.Fatal("sealed data contains the plaintext")
	}
	again, err := s.Seal("kid-1", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same plaintext are equal (nonce reuse?)")
	}
	got, err := s.Open("kid-1", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plaintext) {
		t.Fatalf("Open = %q", got)
	}
	empty, err := s.Seal("kid-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open("kid-1", empty); err != nil || len(got) != 0 {
		t.Fatalf("empty round trip: %q, %v", got, err)
	}
}

func TestSealRejects(t *testing.T) {
	s := newTestSealer(t)
	sealed, err := s.Seal("kid-1", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("kid-2", sealed); err == nil {
		t.Error("Open with another kid succeeded")
	}
	if _, err := s.Open("", sealed); err == nil {
		t.Error("Open with an empty kid succeeded")
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x80
		if _, err := s.Open("kid-1", tampered); err == nil {
			t.Fatalf("Open succeeded after flipping byte %d", i)
		}
	}
	for _, n := range []int{0, 1, 12, 27, len(sealed) - 1} {
		if _, err := s.Open("kid-1", sealed[:n]); err == nil {
			t.Errorf("Open of %d bytes succeeded", n)
		}
	}
	if _, err := newTestSealer(t).Open("kid-1", sealed); err == nil {
		t.Error("Open with another key succeeded")
	}
}

func TestSealingKeys(t *testing.T) {
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Error("NewSealer accepted a 16-byte key")
	}
	raw := bytes.Repeat([]byte{0xfb}, 32) // 0xfb makes the std and URL alphabets differ
	for _, enc := range []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		" " + base64.RawURLEncoding.EncodeToString(raw) + "\n",
	} {
		got, err := ParseSealingKey(enc)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseSealingKey(%q) = %x, %v", enc, got, err)
		}
	}
	secret := hex.EncodeToString(raw[:31])
	for _, bad := range []string{"", "short", secret, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 48)), strings.Repeat("z", 64)} {
		_, err := ParseSealingKey(bad)
		if err == nil {
			t.Errorf("ParseSealingKey(%q) succeeded", bad)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error %q echoes the key", err)
		}
	}
	a, _ := NewSealingKey()
	b, _ := NewSealingKey()
	if a == b || len(a) != 43 {
		t.Errorf("NewSealingKey: %q, %q", a, b)
	}
}
