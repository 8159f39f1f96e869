package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// MaxJWTSize is the longest input ParseAccessToken accepts.
const MaxJWTSize = 16 << 10

// AccessClaims are RFC 9068 access-token claims.
type AccessClaims struct {
	Issuer    string    // iss
	Subject   string    // sub
	Audience  []string  // aud: a string when there is one, an array otherwise
	ExpiresAt time.Time // exp (whole seconds)
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf (omitted when zero)
	ID        string    // jti
	ClientID  string    // client_id
	Scope     string    // scope, space separated (omitted when empty)
}

// accessClaimsOut is the JSON form SignAccessToken writes. Aud holds a string, a []string or nil.
type accessClaimsOut struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      any    `json:"aud,omitempty"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf,omitempty"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
}

// accessClaimsIn is what ParseAccessToken reads. go-jose decodes it, matching names case-sensitively.
type accessClaimsIn struct {
	Iss      string           `json:"iss"`
	Sub      string           `json:"sub"`
	Aud      jwt.Audience     `json:"aud"`
	Exp      *jwt.NumericDate `json:"exp"`
	Iat      *jwt.NumericDate `json:"iat"`
	Nbf      *jwt.NumericDate `json:"nbf"`
	Jti      string           `json:"jti"`
	ClientID string           `json:"client_id"`
	Scope    string           `json:"scope"`
}

// SignAccessToken signs c as an RFC 9068 access token, with header typ "at+jwt", alg k.Algorithm
// and kid k.ID. Issuer, ExpiresAt and IssuedAt are required.
func SignAccessToken(k *Key, c AccessClaims) (string, error) {
	if c.Issuer == "" || c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() {
		return "", errors.New("token: sign access token: iss, exp and iat are required")
	}
	out := accessClaimsOut{
		Iss:      c.Issuer,
		Sub:      c.Subject,
		Exp:      c.ExpiresAt.Unix(),
		Iat:      c.IssuedAt.Unix(),
		Jti:      c.ID,
		ClientID: c.ClientID,
		Scope:    c.Scope,
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		out.Aud = c.Audience[0]
	default:
		out.Aud = c.Audience
	}
	if !c.NotBefore.IsZero() {
		out.Nbf = c.NotBefore.Unix()
	}
	payload, err := json.Marshal(&out)
	if err != nil {
		return "", fmt.Errorf("token: sign access token: %w", err)
	}
	return sign(k, typAccessToken, payload)
}

// SignJWT signs arbitrary claims (an ID token, say), marshalled with encoding/json, with header typ
// (omitted when empty), alg k.Algorithm and kid k.ID.
func SignJWT(k *Key, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: sign jwt: marshal claims: %w", err)
	}
	return sign(k, typ, payload)
}

func sign(k *Key, typ string, payload []byte) (string, error) {
	if k == nil {
		return "", errors.New("token: sign: no key")
	}
	s, err := k.signer(typ)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign with key %q: %w", k.ID, err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("token: sign with key %q: serialize: %w", k.ID, err)
	}
	return raw, nil
}

// ParseAccessToken verifies a compact JWS access token and returns its claims. The kid must name a
// key in keys, the header alg must equal that key's Algorithm (one of the supported asymmetric
// algorithms; never none or HMAC), and typ must be "at+jwt" or "application/at+jwt" (any case).
// Then iss must equal issuer, exp must be after now-leeway, nbf (if present) not after now+leeway,
// and iat must be present and not after now+leeway. Input longer than MaxJWTSize is rejected
// before parsing. Errors describe the failure but never include key material.
func ParseAccessToken(raw string, keys KeySet, issuer string, now time.Time, leeway time.Duration) (AccessClaims, error) {
	tok, key, err := parseSigned(raw, keys, "access token", checkAccessTokenTyp)
	if err != nil {
		return AccessClaims{}, err
	}
	var in accessClaimsIn
	if err := tok.Claims(key.Key, &in); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return AccessClaims{}, fmt.Errorf("token: access token signature does not verify with key %q", key.ID)
		}
		return AccessClaims{}, fmt.Errorf("token: access token claims: %w", err)
	}
	return in.validate(issuer, now, leeway)
}

// checkAccessTokenTyp accepts typ "at+jwt" (RFC 9068 2.1; any case, with or without the
// "application/" prefix).
func checkAccessTokenTyp(h jose.Header) error {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, typAccessToken) && !strings.EqualFold(typ, "application/"+typAccessToken) {
		return fmt.Errorf("token: access token typ %q, want %q", clip(typ), typAccessToken)
	}
	return nil
}

// parseSigned parses a compact JWS of the given kind ("access token", "ID token") and checks
// its header: one signature, a kid naming a key in keys (an unknown kid wraps
// ErrUnknownKeyID), an alg equal to that key's supported asymmetric algorithm (never none or
// HMAC), a typ accepted by checkTyp, and none of the header parameters we never set
// (critical extensions, unencoded payloads, key URLs, embedded keys). Input longer than
// MaxJWTSize is refused before parsing. It returns the token and its key; the caller verifies
// the signature by reading the claims.
func parseSigned(raw string, keys KeySet, kind string, checkTyp func(jose.Header) error) (*jwt.JSONWebToken, PublicKey, error) {
	if len(raw) > MaxJWTSize {
		return nil, PublicKey{}, fmt.Errorf("token: %s longer than %d bytes", kind, MaxJWTSize)
	}
	if !LooksLikeJWT(raw) {
		return nil, PublicKey{}, fmt.Errorf("token: parse %s: not a compact JWS (three base64url segments)", kind)
	}
	tok, err := jwt.ParseSigned(raw, supportedAlgorithms())
	if err != nil {
		return nil, PublicKey{}, fmt.Errorf("token: parse %s: %w", kind, err)
	}
	if len(tok.Headers) != 1 {
		return nil, PublicKey{}, fmt.Errorf("token: %s must have exactly one signature", kind)
	}
	h := tok.Headers[0]
	if h.KeyID == "" {
		return nil, PublicKey{}, fmt.Errorf("token: %s has no kid", kind)
	}
	key, ok := keys[h.KeyID]
	if !ok {
		return nil, PublicKey{}, fmt.Errorf("%w: %s signed with kid %q", ErrUnknownKeyID, kind, clip(h.KeyID))
	}
	if !SupportedAlgorithm(key.Algorithm) {
		return nil, PublicKey{}, fmt.Errorf("token: key %q has unsupported algorithm %q", h.KeyID, key.Algorithm)
	}
	if h.Algorithm != key.Algorithm {
		return nil, PublicKey{}, fmt.Errorf("token: %s alg %q does not match key %q (%s)", kind, h.Algorithm, h.KeyID, key.Algorithm)
	}
	if err := checkTyp(h); err != nil {
		return nil, PublicKey{}, err
	}
	for _, name := range []jose.HeaderKey{"crit", "b64", "jku", "x5u"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return nil, PublicKey{}, fmt.Errorf("token: %s header has unsupported %q", kind, name)
		}
	}
	if h.JSONWebKey != nil {
		return nil, PublicKey{}, fmt.Errorf("token: %s header embeds a key", kind)
	}
	return tok, key, nil
}

func (in *accessClaimsIn) validate(issuer string, now time.Time, leeway time.Duration) (AccessClaims, error) {
	if in.Iss != issuer {
		return AccessClaims{}, fmt.Errorf("token: access token issuer %q, want %q", clip(in.Iss), issuer)
	}
	if in.Exp == nil {
		return AccessClaims{}, errors.New("token: access token has no exp")
	}
	if in.Iat == nil {
		return AccessClaims{}, errors.New("token: access token has no iat")
	}
	exp, iat := in.Exp.Time().UTC(), in.Iat.Time().UTC()
	if !now.Before(exp.Add(leeway)) {
		return AccessClaims{}, fmt.Errorf("token: access token expired at %s", exp.Format(time.RFC3339))
	}
	if now.Add(leeway).Before(iat) {
		return AccessClaims{}, fmt.Errorf("token: access token issued in the future (%s)", iat.Format(time.RFC3339))
	}
	var nbf time.Time
	if in.Nbf != nil {
		nbf = in.Nbf.Time().UTC()
		if now.Add(leeway).Before(nbf) {
			return AccessClaims{}, fmt.Errorf("token: access token not valid before %s", nbf.Format(time.RFC3339))
		}
	}
	return AccessClaims{
		Issuer:    in.Iss,
		Subject:   in.Sub,
		Audience:  []string(in.Aud),
		ExpiresAt: exp,
		IssuedAt:  iat,
		NotBefore: nbf,
		ID:        in.Jti,
		ClientID:  in.ClientID,
		Scope:     in.Scope,
	}, nil
}

// clip shortens a string taken from a token before it goes into an error message.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// LooksLikeJWT is a cheap shape check: three non-empty base64url segments separated by dots. It
// tells a JWT from an opaque token; it proves nothing about validity.
func LooksLikeJWT(s string) bool {
	dots, segLen := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if segLen == 0 || dots == 2 {
				return false
			}
			dots++
			segLen = 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			segLen++
		default:
			return false
		}
	}
	return dots == 2 && segLen > 0
}
