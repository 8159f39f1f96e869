package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Prefixes of the opaque tokens Gatehouse issues.
const (
	PrefixAccessToken  = "gha_" // opaque access token
	PrefixRefreshToken = "ghr_"
	PrefixCode         = "ghc_" // authorization code
	PrefixDeviceCode   = "ghd_"
	PrefixPersonal     = "ghp_" // personal access token
	PrefixClientSecret = "ghs_"
	PrefixAdminToken   = "ghm_" // admin API token (management)
)

const (
	opaqueRandomBytes = 32
	opaqueRandomLen   = 43 // base64url, no padding, of 32 bytes
	opaqueChecksumLen = 6  // base64url, no padding, of a 4-byte CRC32
	opaqueBodyLen     = opaqueRandomLen + opaqueChecksumLen
)

// NewOpaque returns prefix + base64url(32 random bytes, no padding) + checksum, where the checksum
// is the 6-character base64url (no padding) encoding of the big-endian CRC32 (IEEE) of the prefix
// and random part. The checksum lets secret scanners recognise the tokens and lets us reject
// garbage before a database lookup; it is not a security feature.
func NewOpaque(prefix string) (string, error) {
	var random [opaqueRandomBytes]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("token: read random bytes: %w", err)
	}
	buf := make([]byte, len(prefix)+opaqueBodyLen)
	n := copy(buf, prefix)
	base64.RawURLEncoding.Encode(buf[n:], random[:])
	n += opaqueRandomLen
	putChecksum(buf[n:], buf[:n])
	return string(buf), nil
}

// CheckOpaque reports whether s has the shape of a token NewOpaque(prefix) made: the prefix, the
// right length, a canonical base64url random part and a valid checksum.
func CheckOpaque(s, prefix string) bool {
	if len(s) != len(prefix)+opaqueBodyLen || s[:len(prefix)] != prefix {
		return false
	}
	body := s[len(prefix):]
	var random [opaqueRandomBytes]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(random[:], []byte(body[:opaqueRandomLen])); err != nil || n != opaqueRandomBytes {
		return false
	}
	var want [opaqueChecksumLen]byte
	putChecksum(want[:], []byte(s[:len(s)-opaqueChecksumLen]))
	return string(want[:]) == s[len(s)-opaqueChecksumLen:]
}

// putChecksum writes the base64url CRC32 of data into dst, which has room for 6 bytes.
func putChecksum(dst, data []byte) {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
	base64.RawURLEncoding.Encode(dst, sum[:])
}

// Hash returns the SHA-256 of s. Tokens are stored and looked up by this hash, never in plaintext.
func Hash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
