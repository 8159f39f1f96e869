package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Current argon2id parameters (OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on argon2id parameters read from a stored hash, so a bad row or config entry cannot make
// a single verification allocate gigabytes or spin for minutes.
const (
	argonMaxMemory  = 1 << 20 // KiB (1 GiB)
	argonMaxTime    = 64
	argonMaxThreads = 64
	argonMinSalt    = 8
	argonMaxSalt    = 1024
	argonMinKey     = 4
	argonMaxKey     = 1024
)

const (
	prefixSHA256   = "sha256$"
	prefixArgon2id = "$argon2id$"
)

// errMalformedHash is wrapped by every error about a stored hash VerifySecret cannot read.
var errMalformedHash = errors.New("token: malformed stored hash")

// NewClientSecret returns a new generated client secret: NewOpaque(PrefixClientSecret).
func NewClientSecret() (string, error) {
	return NewOpaque(PrefixClientSecret)
}

// HashGeneratedSecret returns "sha256$" + base64url(SHA-256(secret)) without padding. A single
// SHA-256 is safe only because generated secrets carry 256 bits of randomness; secrets chosen by
// people must use HashPassword.
func HashGeneratedSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return prefixSHA256 + base64.RawURLEncoding.EncodeToString(sum[:])
}

// HashPassword hashes password with argon2id and the current parameters and returns a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, salt and hash in unpadded standard base64.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("token: read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifySecret checks a presented secret against a stored hash in any supported form:
// "sha256$<base64 or hex of 32 bytes>", an argon2id PHC string, or bcrypt ($2a$, $2b$, $2y$).
// The comparison is constant time. A mismatch is ok=false with a nil error; err is set only when
// the stored hash is malformed (and never contains the hash or the secret).
//
// needsRehash is set only when ok is true, and then means the stored hash is bcrypt, or argon2id
// with parameters other than the current defaults, so the caller should store HashPassword(presented).
// It is never set for sha256$ hashes.
func VerifySecret(stored, presented string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(stored, prefixSHA256):
		want, err := parseSHA256Hash(stored)
		if err != nil {
			return false, false, err
		}
		got := sha256.Sum256([]byte(presented))
		return subtle.ConstantTimeCompare(want, got[:]) == 1, false, nil

	case strings.HasPrefix(stored, prefixArgon2id):
		p, err := parseArgon2id(stored)
		if err != nil {
			return false, false, err
		}
		got := argon2.IDKey([]byte(presented), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		if subtle.ConstantTimeCompare(p.key, got) != 1 {
			return false, false, nil
		}
		return true, p.memory != argonMemory || p.time != argonTime || p.threads != argonThreads, nil

	case isBcrypt(stored):
		err := bcrypt.CompareHashAndPassword([]byte(stored), []byte(presented))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: bcrypt: %v", errMalformedHash, err)
		}
	}
	return false, false, fmt.Errorf("%w: unknown format (want sha256$, $argon2id$ or bcrypt)", errMalformedHash)
}

// ValidHash reports whether s is a stored hash VerifySecret understands. Use it to validate
// configured secret hashes at start-up.
func ValidHash(s string) bool {
	switch {
	case strings.HasPrefix(s, prefixSHA256):
		_, err := parseSHA256Hash(s)
		return err == nil
	case strings.HasPrefix(s, prefixArgon2id):
		_, err := parseArgon2id(s)
		return err == nil
	case isBcrypt(s):
		_, err := bcrypt.Cost([]byte(s))
		return err == nil
	}
	return false
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// parseSHA256Hash decodes the digest of a "sha256$" hash. The digest may be given in base64
// (standard or URL alphabet, padded or not, as HashGeneratedSecret writes it) or in hex (as
// sha256sum prints it), so operators can compute it with common tools.
func parseSHA256Hash(s string) ([]byte, error) {
	enc := strings.TrimPrefix(s, prefixSHA256)
	if len(enc) == 2*sha256.Size {
		if b, err := hex.DecodeString(enc); err == nil {
			return b, nil
		}
	}
	if b, ok := decodeBase64Len(enc, sha256.Size); ok {
		return b, nil
	}
	return nil, fmt.Errorf("%w: sha256$ must be followed by 32 bytes in base64 or hex", errMalformedHash)
}

// decodeBase64Len decodes s in any of the four base64 variants and reports whether it held n bytes.
func decodeBase64Len(s string, n int) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == n {
			return b, true
		}
	}
	return nil, false
}

type argon2Params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseArgon2id parses $argon2id$v=19$m=<kib>,t=<passes>,p=<lanes>$<salt>$<hash>, with salt and
// hash in unpadded standard base64 as the PHC string format specifies.
func parseArgon2id(s string) (argon2Params, error) {
	var p argon2Params
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: argon2id: want $argon2id$v=19$m=,t=,p=$salt$hash", errMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: argon2id: unsupported version (want v=%d)", errMalformedHash, argon2.Version)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: argon2id: want parameters m=,t=,p=", errMalformedHash)
	}
	m, err1 := parseParam(params[0], "m=", argonMaxMemory)
	t, err2 := parseParam(params[1], "t=", argonMaxTime)
	l, err3 := parseParam(params[2], "p=", argonMaxThreads)
	if err := errors.Join(err1, err2, err3); err != nil {
		return p, fmt.Errorf("%w: argon2id: %v", errMalformedHash, err)
	}
	if t < 1 || l < 1 || m < 8*l {
		return p, fmt.Errorf("%w: argon2id: need t >= 1, p >= 1 and m >= 8*p", errMalformedHash)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < argonMinSalt || len(salt) > argonMaxSalt {
		return p, fmt.Errorf("%w: argon2id: salt must be %d to %d bytes in unpadded base64", errMalformedHash, argonMinSalt, argonMaxSalt)
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < argonMinKey || len(key) > argonMaxKey {
		return p, fmt.Errorf("%w: argon2id: hash must be %d to %d bytes in unpadded base64", errMalformedHash, argonMinKey, argonMaxKey)
	}
	p.memory, p.time, p.threads, p.salt, p.key = uint32(m), uint32(t), uint8(l), salt, key
	return p, nil
}

// parseParam parses "<name><decimal>" with a value no larger than limit.
func parseParam(s, name string, limit uint64) (uint64, error) {
	v, ok := strings.CutPrefix(s, name)
	if !ok {
		return 0, fmt.Errorf("want %q parameter", strings.TrimSuffix(name, "="))
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > limit || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("parameter %s must be a decimal number up to %d", strings.TrimSuffix(name, "="), limit)
	}
	return n, nil
}
