package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	maxDocumentSize = 1 << 20 // metadata, key set and introspection answers
	maxKeys         = 100
	minRSABits      = 2048
)

// metadata holds what the verifier needs from the issuer's metadata document.
type metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// discover reads the OpenID Provider configuration, or failing that the RFC 8414
// authorization server metadata, and checks that it names the configured issuer.
func (v *Verifier) discover(ctx context.Context) (*metadata, error) {
	trimmed := strings.TrimSuffix(v.issuer, "/")
	oidcURL := trimmed + "/.well-known/openid-configuration"
	// RFC 8414 section 3: the well-known segment goes between the host and the path.
	u, err := url.Parse(trimmed)
	if err != nil {
		return nil, fmt.Errorf("bearer: issuer: %w", err)
	}
	oauthURL := u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + u.EscapedPath()

	var md metadata
	body, status, err := v.get(ctx, oidcURL)
	if err == nil && status != http.StatusOK {
		body, status, err = v.get(ctx, oauthURL)
	}
	if err != nil {
		return nil, fmt.Errorf("bearer: discovery: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("bearer: discovery: %s and %s answered status %d", oidcURL, oauthURL, status)
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("bearer: discovery: decode metadata: %w", err)
	}
	if md.Issuer != v.issuer {
		return nil, fmt.Errorf("bearer: discovery: metadata names issuer %q, want %q", md.Issuer, v.issuer)
	}
	if md.JWKSURI == "" {
		return nil, errors.New("bearer: discovery: metadata has no jwks_uri")
	}
	if err := checkEndpoint(md.JWKSURI); err != nil {
		return nil, fmt.Errorf("bearer: discovery: jwks_uri: %w", err)
	}
	return &md, nil
}

// get fetches a JSON document of at most maxDocumentSize bytes.
func (v *Verifier) get(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", u, err)
	}
	return body, resp.StatusCode, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("document larger than %d bytes", maxDocumentSize)
	}
	return body, nil
}

// keySet is one fetched JWKS: the usable verification keys by kid.
type keySet struct {
	byKID   map[string][]jose.JSONWebKey
	fetched time.Time // last successful fetch or revalidation, on the verifier's clock
}

// jwksCache holds the issuer's key set. Readers load the current set without locking; fetches
// are serialized by sem, so a storm of unknown kids waits for one fetch instead of making many.
type jwksCache struct {
	uri     string
	client  *http.Client
	now     func() time.Time
	refresh time.Duration

	keys atomic.Pointer[keySet]
	// sem is a one-slot semaphore held during a fetch (a channel, so that waiting can be
	// abandoned when the request's context ends).
	sem chan struct{}
	// Guarded by sem.
	lastAttempt time.Time
	etag        string
}

func newJWKSCache(uri string, client *http.Client, now func() time.Time, refresh time.Duration) *jwksCache {
	return &jwksCache{uri: uri, client: client, now: now, refresh: refresh, sem: make(chan struct{}, 1)}
}

// init fetches the key set for the first time; it must succeed.
func (c *jwksCache) init(ctx context.Context) error {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	return c.fetchLocked(ctx)
}

// current returns the key set, first refreshing it if it is older than the refresh interval
// and no other request is already doing so (that request refreshes; this one goes on with the
// keys it has).
func (c *jwksCache) current(ctx context.Context) *keySet {
	ks := c.keys.Load()
	if c.now().Sub(ks.fetched) < c.refresh {
		return ks
	}
	select {
	case c.sem <- struct{}{}:
	default:
		return ks
	}
	defer func() { <-c.sem }()
	if cur := c.keys.Load(); cur != ks || c.now().Sub(c.lastAttempt) < minRefetchInterval {
		return cur
	}
	_ = c.fetchLocked(ctx) // on failure the old keys stay in use and the next try waits
	return c.keys.Load()
}

// refetch is called when a token names a kid that seen does not hold. It fetches the key set
// again unless another caller did since seen was loaded (then that result is used) or a fetch
// happened less than minRefetchInterval ago.
func (c *jwksCache) refetch(ctx context.Context, seen *keySet) *keySet {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return c.keys.Load()
	}
	defer func() { <-c.sem }()
	if cur := c.keys.Load(); cur != seen || c.now().Sub(c.lastAttempt) < minRefetchInterval {
		return cur
	}
	_ = c.fetchLocked(ctx)
	return c.keys.Load()
}

// fetchLocked fetches the key set (revalidating with the ETag) and installs it. The caller
// holds sem.
func (c *jwksCache) fetchLocked(ctx context.Context) error {
	c.lastAttempt = c.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.uri, nil)
	if err != nil {
		return fmt.Errorf("bearer: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	old := c.keys.Load()
	if old != nil && c.etag != "" {
		req.Header.Set("If-None-Match", c.etag)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("bearer: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && old != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocumentSize))
		c.keys.Store(&keySet{byKID: old.byKID, fetched: c.now()})
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bearer: jwks: %s answered status %d", c.uri, resp.StatusCode)
	}
	body, err := readLimited(resp.Body)
	if err != nil {
		return fmt.Errorf("bearer: jwks: %w", err)
	}
	byKID, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("bearer: jwks: %w", err)
	}
	c.etag = resp.Header.Get("ETag")
	c.keys.Store(&keySet{byKID: byKID, fetched: c.now()})
	return nil
}

// parseJWKS keeps the public signature keys of a JWK Set that have a kid. Keys it cannot use
// (encryption keys, symmetric or private keys, unknown key types) are skipped, so that one
// odd key does not hide the others.
func parseJWKS(body []byte) (map[string][]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	byKID := map[string][]jose.JSONWebKey{}
	n := 0
	for _, raw := range doc.Keys {
		if n == maxKeys {
			break
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") || !k.IsPublic() || !k.Valid() {
			continue
		}
		byKID[k.KeyID] = append(byKID[k.KeyID], k)
		n++
	}
	if n == 0 {
		return nil, errors.New("the key set has no usable signature key with a kid")
	}
	return byKID, nil
}

// keyFits reports whether key is the right type for alg: ES* need an ECDSA key on the matching
// curve, RS* and PS* an RSA key of at least 2048 bits, EdDSA an Ed25519 key.
func keyFits(alg jose.SignatureAlgorithm, key any) bool {
	switch alg {
	case jose.ES256:
		return isECDSA(key, elliptic.P256())
	case jose.ES384:
		return isECDSA(key, elliptic.P384())
	case jose.ES512:
		return isECDSA(key, elliptic.P521())
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N != nil && k.N.BitLen() >= minRSABits
	case jose.EdDSA:
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

func isECDSA(key any, curve elliptic.Curve) bool {
	k, ok := key.(*ecdsa.PublicKey)
	return ok && k.Curve == curve
}
