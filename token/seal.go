package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// sealingKeyLen is the AES-256 key size.
const sealingKeyLen = 32

// Sealer encrypts and authenticates small payloads (private keys at rest, sealed request state)
// with AES-256-GCM. A Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != sealingKeyLen {
		return nil, fmt.Errorf("token: sealing key must be %d bytes, got %d", sealingKeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token: sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token: sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseSealingKey decodes a 32-byte key written as 64 hex characters or in base64 (standard or
// URL alphabet, padded or not). Surrounding white space is ignored. Errors never echo the input.
func ParseSealingKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*sealingKeyLen {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	if b, ok := decodeBase64Len(s, sealingKeyLen); ok {
		return b, nil
	}
	return nil, errors.New("token: sealing key must be 32 bytes written as 64 hex characters or in base64")
}

// NewSealingKey returns 32 random bytes in unpadded base64url, for a development key file.
func NewSealingKey() (string, error) {
	var key [sealingKeyLen]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", fmt.Errorf("token: read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(key[:]), nil
}

// Seal encrypts plaintext and binds it to kid (the additional authenticated data). The result is
// a random 12-byte nonce followed by the ciphertext and tag.
func (s *Sealer) Seal(kid string, plaintext []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("token: seal: read nonce: %w", err)
	}
	return s.aead.Seal(out, out, plaintext, []byte(kid)), nil
}

// Open decrypts data made by Seal with the same kid. It fails when the kid differs, the data was
// changed or the Sealer's key is not the one that sealed it.
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, fmt.Errorf("token: open %q: sealed data too short", kid)
	}
	plaintext, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("token: open %q: wrong key, wrong key id or tampered data: %w", kid, err)
	}
	return plaintext, nil
}
