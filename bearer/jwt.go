package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtClaims are the registered and RFC 9068 claims Verify reads from a JWT.
type jwtClaims struct {
	Iss      string           `json:"iss"`
	Sub      string           `json:"sub"`
	Aud      jwt.Audience     `json:"aud"`
	Exp      *jwt.NumericDate `json:"exp"`
	Nbf      *jwt.NumericDate `json:"nbf"`
	Iat      *jwt.NumericDate `json:"iat"`
	Jti      string           `json:"jti"`
	ClientID string           `json:"client_id"`
	Scope    scopeClaim       `json:"scope"`
	Scp      scopeClaim       `json:"scp"`
}

// scopeClaim reads a scope claim written as a space-separated string (RFC 9068, RFC 7662) or
// as an array of strings (the scp claim of some issuers).
type scopeClaim []string

func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = scopeList(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("scope is neither a string nor an array of strings")
	}
	*s = list
	return nil
}

func (v *Verifier) verifyJWT(ctx context.Context, raw string) (*Claims, error) {
	tok, err := jwt.ParseSigned(raw, v.algs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return nil, invalid("the signature algorithm is not allowed", err)
		}
		return nil, invalid("the token is malformed", err)
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("the token must have exactly one signature", nil)
	}
	h := tok.Headers[0]
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)
	ks := v.jwks.current(ctx)
	key, known, fits := findKey(ks, h.KeyID, alg)
	if !known {
		ks = v.jwks.refetch(ctx, ks)
		key, known, fits = findKey(ks, h.KeyID, alg)
	}
	switch {
	case !known:
		return nil, invalid("the token is signed with an unknown key", nil)
	case !fits:
		return nil, invalid("the signature algorithm does not match the key", nil)
	}

	var c jwtClaims
	var all map[string]any
	if err := tok.Claims(key.Key, &c, &all); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, invalid("the signature is invalid", nil)
		}
		return nil, invalid("the token's claims are malformed", err)
	}
	return v.checkClaims(&c, all)
}

// checkHeader checks typ (RFC 9068 section 2.1) and the presence of a kid, and refuses
// header parameters this package does not implement.
func checkHeader(h jose.Header) error {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return invalid("the token type is not at+jwt", nil)
	}
	if h.KeyID == "" {
		return invalid("the token has no key id", nil)
	}
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return invalid("the token header has unsupported parameters", nil)
		}
	}
	return nil
}

// findKey finds the key named kid that may verify alg: the JWK's alg, if it has one, must equal
// alg, and the key's type must fit alg. known reports whether kid is in the set at all.
func findKey(ks *keySet, kid string, alg jose.SignatureAlgorithm) (key jose.JSONWebKey, known, fits bool) {
	keys, known := ks.byKID[kid]
	for _, k := range keys {
		if (k.Algorithm == "" || k.Algorithm == string(alg)) && keyFits(alg, k.Key) {
			return k, true, true
		}
	}
	return jose.JSONWebKey{}, known, false
}

// checkClaims checks iss, aud, exp, nbf and iat.
func (v *Verifier) checkClaims(c *jwtClaims, all map[string]any) (*Claims, error) {
	if c.Iss != v.issuer {
		return nil, invalid("the token is from another issuer", nil)
	}
	if !c.Aud.Contains(v.audience) {
		return nil, invalid("the token is for another audience", nil)
	}
	if c.Exp == nil {
		return nil, invalid("the token has no expiry", nil)
	}
	now := v.now()
	exp := c.Exp.Time().UTC()
	if !now.Before(exp.Add(v.leeway)) {
		return nil, invalid("the token has expired", nil)
	}
	var nbf, iat time.Time
	if c.Nbf != nil {
		if nbf = c.Nbf.Time().UTC(); now.Add(v.leeway).Before(nbf) {
			return nil, invalid("the token is not valid yet", nil)
		}
	}
	if c.Iat != nil {
		if iat = c.Iat.Time().UTC(); now.Add(v.leeway).Before(iat) {
			return nil, invalid("the token was issued in the future", nil)
		}
	}
	scopes, scope := []string(c.Scope), ""
	switch s := all["scope"].(type) {
	case string:
		scope = s
	case nil:
		scopes = c.Scp
		scope = strings.Join(scopes, " ")
	default:
		scope = strings.Join(scopes, " ")
	}
	return &Claims{
		Issuer:    c.Iss,
		Subject:   c.Sub,
		ClientID:  c.ClientID,
		Scope:     scope,
		ID:        c.Jti,
		Audience:  []string(c.Aud),
		ExpiresAt: exp,
		IssuedAt:  iat,
		NotBefore: nbf,
		Scopes:    scopes,
		Raw:       all,
	}, nil
}
