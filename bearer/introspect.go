package bearer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// introspector asks the issuer about opaque tokens (RFC 7662) and caches the answers by the
// token's SHA-256, so the cache never holds a token.
type introspector struct {
	endpoint string
	auth     string // the Authorization header value
	ttl      time.Duration

	mu       sync.Mutex
	entries  map[[32]byte]cacheEntry
	inflight map[[32]byte]*call
}

// cacheEntry is a cached answer: claims, or the error an inactive token got.
type cacheEntry struct {
	claims  *Claims
	err     error
	expires time.Time
}

// call is an introspection request in flight; others asking about the same token wait for it.
type call struct {
	done   chan struct{}
	claims *Claims
	err    error
}

// introspectionAnswer is an RFC 7662 section 2.2 response.
type introspectionAnswer struct {
	Active    bool             `json:"active"`
	Scope     scopeClaim       `json:"scope"`
	ClientID  string           `json:"client_id"`
	TokenType string           `json:"token_type"`
	Exp       *jwt.NumericDate `json:"exp"`
	Iat       *jwt.NumericDate `json:"iat"`
	Nbf       *jwt.NumericDate `json:"nbf"`
	Sub       string           `json:"sub"`
	Aud       jwt.Audience     `json:"aud"`
	Iss       string           `json:"iss"`
	Jti       string           `json:"jti"`
	// TokenUse is Gatehouse's answer to "access or refresh token?".
	TokenUse string `json:"token_use"`
}

func (v *Verifier) verifyOpaque(ctx context.Context, token string) (*Claims, error) {
	in := v.introspection
	key := sha256.Sum256([]byte(token))
	for {
		in.mu.Lock()
		if e, ok := in.entries[key]; ok {
			if v.now().Before(e.expires) {
				in.mu.Unlock()
				return e.result()
			}
			delete(in.entries, key)
		}
		if c, ok := in.inflight[key]; ok {
			in.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, unavailable("the token could not be checked", ctx.Err())
			}
			// The request that asked was cancelled: ask again, unless this one is too.
			if isCancelled(c.err) && ctx.Err() == nil {
				continue
			}
			if c.err != nil {
				return nil, c.err
			}
			cp := *c.claims
			return &cp, nil
		}
		c := &call{done: make(chan struct{})}
		in.inflight[key] = c
		in.mu.Unlock()

		claims, err := v.introspect(ctx, token)
		c.claims, c.err = claims, err
		in.mu.Lock()
		delete(in.inflight, key)
		in.store(key, claims, err, v.now())
		in.mu.Unlock()
		close(c.done)
		if err != nil {
			return nil, err
		}
		cp := *claims
		return &cp, nil
	}
}

func isCancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (e cacheEntry) result() (*Claims, error) {
	if e.err != nil {
		return nil, e.err
	}
	cp := *e.claims
	return &cp, nil
}

// store caches an answer: an active token until the earlier of the TTL and its expiry, an
// inactive one briefly, a failure to ask not at all. The caller holds mu.
func (in *introspector) store(key [32]byte, claims *Claims, err error, now time.Time) {
	if in.ttl <= 0 || errors.Is(err, ErrUnavailable) {
		return
	}
	e := cacheEntry{claims: claims, err: err, expires: now.Add(in.ttl)}
	if err != nil {
		e.expires = now.Add(min(in.ttl, inactiveIntrospectTTL))
	} else if !claims.ExpiresAt.IsZero() && claims.ExpiresAt.Before(e.expires) {
		e.expires = claims.ExpiresAt
	}
	if !now.Before(e.expires) {
		return
	}
	if len(in.entries) >= maxCacheEntries {
		for k, old := range in.entries {
			if !now.Before(old.expires) {
				delete(in.entries, k)
			}
		}
		// Still full of live answers: drop a tenth, in map order (which is unspecified).
		for k := range in.entries {
			if len(in.entries) < maxCacheEntries*9/10 {
				break
			}
			delete(in.entries, k)
		}
	}
	in.entries[key] = e
}

// introspect asks the issuer about token and checks the answer.
func (v *Verifier) introspect(ctx context.Context, token string) (*Claims, error) {
	in := v.introspection
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, unavailable("the token could not be checked", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.auth)
	resp, err := v.client.Do(req)
	if err != nil {
		// The URL in a *url.Error is the endpoint's, and the token travels in the body: the
		// message carries no token.
		return nil, unavailable("the token could not be checked", err)
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return nil, unavailable("the token could not be checked", fmt.Errorf("introspection: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable("the token could not be checked", fmt.Errorf("introspection endpoint answered status %d", resp.StatusCode))
	}
	var a introspectionAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, unavailable("the token could not be checked", fmt.Errorf("decode introspection answer: %w", err))
	}
	var all map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&all); err != nil {
		return nil, unavailable("the token could not be checked", fmt.Errorf("decode introspection answer: %w", err))
	}
	return v.checkIntrospection(&a, all)
}

// checkIntrospection accepts an active access token of this issuer for this audience. iss, aud
// and the times are checked when the answer has them; an answer without aud is accepted (the
// issuer vouched for the token).
func (v *Verifier) checkIntrospection(a *introspectionAnswer, all map[string]any) (*Claims, error) {
	if !a.Active {
		return nil, invalid("the token is not active", nil)
	}
	// Access tokens and personal access tokens call APIs; refresh tokens never do.
	if a.TokenUse != "" && a.TokenUse != "access_token" && a.TokenUse != "personal_access_token" {
		return nil, invalid("the token is not an access token", nil)
	}
	if strings.EqualFold(a.TokenType, "refresh_token") {
		return nil, invalid("the token is not an access token", nil)
	}
	iss := a.Iss
	if iss == "" {
		iss = v.issuer
	} else if iss != v.issuer {
		return nil, invalid("the token is from another issuer", nil)
	}
	if len(a.Aud) > 0 && !a.Aud.Contains(v.audience) {
		return nil, invalid("the token is for another audience", nil)
	}
	now := v.now()
	c := &Claims{Issuer: iss, Subject: a.Sub, ClientID: a.ClientID, ID: a.Jti, Audience: []string(a.Aud),
		Scopes: []string(a.Scope), Opaque: true, Raw: all}
	if s, ok := all["scope"].(string); ok {
		c.Scope = s
	} else {
		c.Scope = strings.Join(c.Scopes, " ")
	}
	if a.Exp != nil {
		if c.ExpiresAt = a.Exp.Time().UTC(); !now.Before(c.ExpiresAt.Add(v.leeway)) {
			return nil, invalid("the token has expired", nil)
		}
	}
	if a.Nbf != nil {
		if c.NotBefore = a.Nbf.Time().UTC(); now.Add(v.leeway).Before(c.NotBefore) {
			return nil, invalid("the token is not valid yet", nil)
		}
	}
	if a.Iat != nil {
		c.IssuedAt = a.Iat.Time().UTC()
	}
	return c, nil
}
