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
	"errors"
	"fmt"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// Supported JWS algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
	PS256 = "PS256"
	EdDSA = "EdDSA"
)

// rsaKeyBits is the size of generated RSA keys and the minimum accepted when parsing one.
const rsaKeyBits = 2048

// SupportedAlgorithm reports whether alg is one of ES256, RS256, PS256 and EdDSA.
func SupportedAlgorithm(alg string) bool {
	switch alg {
	case ES256, RS256, PS256, EdDSA:
		return true
	}
	return false
}

// supportedAlgorithms returns the allow-list handed to go-jose when parsing. It never contains
// "none" or an HMAC algorithm.
func supportedAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}
}

// Key is a private signing key. A Key is safe for concurrent use, but must not be modified after
// its first use: the first signature caches go-jose signers built from ID, Algorithm and Private.
type Key struct {
	ID        string // kid
	Algorithm string
	Private   crypto.Signer

	once      sync.Once
	signerErr error
	base      jose.SigningKey
	atSigner  jose.Signer // typ "at+jwt"
	jwtSigner jose.Signer // typ "JWT"
}

// Typ header values used by Gatehouse.
const (
	typAccessToken = "at+jwt"
	typJWT         = "JWT"
)

// GenerateKey creates a key for alg: ES256 uses P-256, RS256 and PS256 RSA 2048, EdDSA Ed25519.
// The kid is 16 random bytes in unpadded base64url.
func GenerateKey(alg string) (*Key, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256, PS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("token: generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("token: generate key id: %w", err)
	}
	return &Key{ID: base64.RawURLEncoding.EncodeToString(id[:]), Algorithm: alg, Private: priv}, nil
}

// PrivateDER returns the private key in PKCS #8 DER form.
func (k *Key) PrivateDER() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("token: marshal private key %q: %w", k.ID, err)
	}
	return der, nil
}

// PublicDER returns the public key in PKIX DER form.
func (k *Key) PublicDER() ([]byte, error) {
	if k.Private == nil {
		return nil, fmt.Errorf("token: marshal public key %q: no private key", k.ID)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
	if err != nil {
		return nil, fmt.Errorf("token: marshal public key %q: %w", k.ID, err)
	}
	return der, nil
}

// Public returns the public half of k.
func (k *Key) Public() PublicKey {
	var pub crypto.PublicKey
	if k.Private != nil {
		pub = k.Private.Public()
	}
	return PublicKey{ID: k.ID, Algorithm: k.Algorithm, Key: pub}
}

// ParsePrivateKey parses a PKCS #8 DER private key and checks that its type fits alg.
func ParsePrivateKey(id, alg string, pkcs8 []byte) (*Key, error) {
	if id == "" {
		return nil, errors.New("token: parse private key: empty key id")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("token: parse private key %q: %w", id, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("token: parse private key %q: %T cannot sign", id, parsed)
	}
	if err := checkKeyFits(alg, priv.Public()); err != nil {
		return nil, fmt.Errorf("token: parse private key %q: %w", id, err)
	}
	return &Key{ID: id, Algorithm: alg, Private: priv}, nil
}

// PublicKey is a public verification key.
type PublicKey struct {
	ID        string
	Algorithm string
	Key       crypto.PublicKey
}

// ParsePublicKey parses a PKIX DER public key and checks that its type fits alg.
func ParsePublicKey(id, alg string, pkix []byte) (PublicKey, error) {
	if id == "" {
		return PublicKey{}, errors.New("token: parse public key: empty key id")
	}
	pub, err := x509.ParsePKIXPublicKey(pkix)
	if err != nil {
		return PublicKey{}, fmt.Errorf("token: parse public key %q: %w", id, err)
	}
	if err := checkKeyFits(alg, pub); err != nil {
		return PublicKey{}, fmt.Errorf("token: parse public key %q: %w", id, err)
	}
	return PublicKey{ID: id, Algorithm: alg, Key: pub}, nil
}

// checkKeyFits reports an error unless pub is the kind of key alg signs with: a P-256 key for
// ES256, RSA of at least 2048 bits for RS256 and PS256, Ed25519 for EdDSA.
func checkKeyFits(alg string, pub crypto.PublicKey) error {
	switch alg {
	case ES256:
		if k, ok := pub.(*ecdsa.PublicKey); ok && k != nil && k.Curve == elliptic.P256() {
			return nil
		}
		return fmt.Errorf("ES256 needs a P-256 ECDSA key, got %s", describeKey(pub))
	case RS256, PS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok || k == nil || k.N == nil {
			return fmt.Errorf("%s needs an RSA key, got %s", alg, describeKey(pub))
		}
		if k.N.BitLen() < rsaKeyBits {
			return fmt.Errorf("%s needs an RSA key of at least %d bits, got %d", alg, rsaKeyBits, k.N.BitLen())
		}
		return nil
	case EdDSA:
		if k, ok := pub.(ed25519.PublicKey); ok && len(k) == ed25519.PublicKeySize {
			return nil
		}
		return fmt.Errorf("EdDSA needs an Ed25519 key, got %s", describeKey(pub))
	}
	return fmt.Errorf("unsupported algorithm %q", alg)
}

// describeKey names a key's type (and curve) without revealing any of it.
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k != nil && k.Curve != nil {
			return "ECDSA " + k.Curve.Params().Name
		}
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA"
	case ed25519.PublicKey:
		return "Ed25519"
	case nil:
		return "no key"
	}
	return fmt.Sprintf("%T", pub)
}

// KeySet maps kid to public key.
type KeySet map[string]PublicKey

// JWKS returns the JSON Web Key Set document {"keys":[…]} for keys, in the order given, each with
// its kid, alg and use "sig".
func JWKS(keys []PublicKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		if err := checkKeyFits(k.Algorithm, k.Key); err != nil {
			return nil, fmt.Errorf("token: jwks: key %q: %w", k.ID, err)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: jwks: %w", err)
	}
	return b, nil
}

// signer returns a go-jose signer that sets alg, kid and typ (typ omitted when empty). Signers for
// "at+jwt" and "JWT" are built once per Key; others are built per call.
func (k *Key) signer(typ string) (jose.Signer, error) {
	k.once.Do(k.initSigners)
	if k.signerErr != nil {
		return nil, k.signerErr
	}
	switch typ {
	case typAccessToken:
		return k.atSigner, nil
	case typJWT:
		return k.jwtSigner, nil
	}
	s, err := newSigner(k.base, typ)
	if err != nil {
		return nil, fmt.Errorf("token: key %q: %w", k.ID, err)
	}
	return s, nil
}

func (k *Key) initSigners() {
	k.signerErr = k.buildSigners()
	if k.signerErr != nil {
		k.signerErr = fmt.Errorf("token: key %q: %w", k.ID, k.signerErr)
	}
}

func (k *Key) buildSigners() error {
	if k.ID == "" {
		return errors.New("empty key id")
	}
	if k.Private == nil {
		return errors.New("no private key")
	}
	if err := checkKeyFits(k.Algorithm, k.Private.Public()); err != nil {
		return err
	}
	// go-jose signs with the standard key types directly; any other crypto.Signer (an HSM or a
	// KMS client, say) goes through its crypto.Signer adapter.
	var priv any
	switch p := k.Private.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		priv = p
	default:
		priv = cryptosigner.Opaque(p)
	}
	k.base = jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Algorithm),
		Key:       jose.JSONWebKey{Key: priv, KeyID: k.ID},
	}
	var err error
	if k.atSigner, err = newSigner(k.base, typAccessToken); err != nil {
		return err
	}
	k.jwtSigner, err = newSigner(k.base, typJWT)
	return err
}

func newSigner(key jose.SigningKey, typ string) (jose.Signer, error) {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(key, opts)
	if err != nil {
		return nil, fmt.Errorf("create signer: %w", err)
	}
	return s, nil
}
