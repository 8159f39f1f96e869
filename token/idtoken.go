package token

import (
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrUnknownKeyID is wrapped by ParseIDToken's error when the token names a kid that is not in
// the key set: the one failure that reloading the keys can cure.
var ErrUnknownKeyID = errors.New("token: unknown kid")

// IDClaims are the claims of an OpenID Connect ID token that ParseIDToken returns.
type IDClaims struct {
	Issuer          string    // iss
	Subject         string    // sub
	Audience        []string  // aud (a string or an array in the token)
	ExpiresAt       time.Time // exp; zero when absent
	IssuedAt        time.Time // iat; zero when absent
	Nonce           string    // nonce
	AuthorizedParty string    // azp
	SessionID       string    // sid (OpenID Connect Front/Back-Channel Logout); empty when absent
}

// idClaimsIn is what ParseIDToken reads; go-jose decodes it, matching names case-sensitively.
type idClaimsIn struct {
	Iss   string           `json:"iss"`
	Sub   string           `json:"sub"`
	Aud   jwt.Audience     `json:"aud"`
	Exp   *jwt.NumericDate `json:"exp"`
	Iat   *jwt.NumericDate `json:"iat"`
	Nonce string           `json:"nonce"`
	Azp   string           `json:"azp"`
	Sid   string           `json:"sid"`
}

// ParseIDToken verifies a compact JWS ID token signed by one of keys and returns its claims.
// The header checks are those of ParseAccessToken: the kid must name a key in keys (an unknown
// kid wraps ErrUnknownKeyID), the header alg must equal that key's Algorithm (asymmetric only;
// never none or HMAC), and crit, b64, jku, x5u and embedded keys are refused. typ must be "JWT"
// (any case, or "application/jwt") or absent. iss must equal issuer.
//
// The expiry is NOT checked: ParseIDToken serves id_token_hint (OpenID Connect RP-Initiated
// Logout), which may be expired. A caller that needs a live ID token checks ExpiresAt itself.
// Input longer than MaxJWTSize is rejected before parsing.
func ParseIDToken(raw string, keys KeySet, issuer string) (IDClaims, error) {
	tok, key, err := parseSigned(raw, keys, "ID token", checkIDTokenTyp)
	if err != nil {
		return IDClaims{}, err
	}
	var in idClaimsIn
	if err := tok.Claims(key.Key, &in); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return IDClaims{}, fmt.Errorf("token: ID token signature does not verify with key %q", key.ID)
		}
		return IDClaims{}, fmt.Errorf("token: ID token claims: %w", err)
	}
	if in.Iss != issuer {
		return IDClaims{}, fmt.Errorf("token: ID token issuer %q, want %q", clip(in.Iss), issuer)
	}
	c := IDClaims{
		Issuer:          in.Iss,
		Subject:         in.Sub,
		Audience:        []string(in.Aud),
		Nonce:           in.Nonce,
		AuthorizedParty: in.Azp,
		SessionID:       in.Sid,
	}
	if in.Exp != nil {
		c.ExpiresAt = in.Exp.Time().UTC()
	}
	if in.Iat != nil {
		c.IssuedAt = in.Iat.Time().UTC()
	}
	return c, nil
}

// checkIDTokenTyp accepts typ "JWT" (RFC 7519 5.1: any case, with or without the
// "application/" prefix) or no typ at all.
func checkIDTokenTyp(h jose.Header) error {
	v, present := h.ExtraHeaders[jose.HeaderType]
	if !present {
		return nil
	}
	typ, _ := v.(string)
	if !strings.EqualFold(typ, typJWT) && !strings.EqualFold(typ, "application/"+typJWT) {
		return fmt.Errorf("token: ID token typ %q, want %q or none", clip(typ), typJWT)
	}
	return nil
}
