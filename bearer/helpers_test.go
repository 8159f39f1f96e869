package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/server"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// clock is the verifier's clock: the real time plus an offset the test moves forward. The
// server keeps the real time.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// transport counts the verifier's requests by endpoint and can fail them on demand.
type transport struct {
	jwks, introspect, discovery atomic.Int64
	failJWKS, failIntrospect    atomic.Bool
	// hideOIDC answers 404 for the OpenID configuration, to exercise the RFC 8414 fallback.
	hideOIDC atomic.Bool
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.URL.Path {
	case server.PathJWKS:
		tr.jwks.Add(1)
		if tr.failJWKS.Load() {
			return nil, errors.New("test transport: JWKS unreachable")
		}
	case server.PathIntrospect:
		tr.introspect.Add(1)
		if tr.failIntrospect.Load() {
			return nil, errors.New("test transport: introspection unreachable")
		}
	case server.PathOIDCMetadata:
		tr.discovery.Add(1)
		if tr.hideOIDC.Load() {
			return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Header: http.Header{},
				Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
		}
	case server.PathOAuthMetadata:
		tr.discovery.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// env is a running Gatehouse with three clients: a machine client with JWT access tokens, one
// with opaque access tokens, and a resource server that may introspect.
type env struct {
	ts    *servertest.Server
	clock *clock
	tr    *transport

	jwtID, jwtSecret       string
	opaqueID, opaqueSecret string
	rsID, rsSecret         string
}

func start(t testing.TB, opts ...servertest.Option) *env {
	t.Helper()
	ts := servertest.Start(t, opts...)
	for _, s := range []string{"invoices:read", "invoices:write", "reports:read"} {
		// invoices:read is granted when a request names no scope.
		ts.CreateScope(t, storage.Scope{Name: s, Description: s, Default: s == "invoices:read"})
	}
	e := &env{ts: ts, clock: &clock{}, tr: &transport{}}
	scopes := []string{"invoices:read", "invoices:write", "reports:read"}
	e.jwtID, e.jwtSecret = ts.CreateClient(t, storage.Client{ID: "machine", Scopes: scopes})
	e.opaqueID, e.opaqueSecret = ts.CreateClient(t, storage.Client{ID: "machine-opaque", Scopes: scopes,
		TokenFormat: storage.TokenFormatOpaque})
	e.rsID, e.rsSecret = ts.CreateClient(t, storage.Client{ID: "invoices-api"})
	return e
}

// verifier returns a verifier of e's issuer with the test clock and transport, and the
// introspection credentials of the resource server.
func (e *env) verifier(t testing.TB, edit ...func(*bearer.Config)) *bearer.Verifier {
	t.Helper()
	cfg := bearer.Config{
		Issuer:                    e.ts.URL,
		Audience:                  e.ts.URL,
		HTTPClient:                &http.Client{Transport: e.tr, Timeout: 10 * time.Second},
		Now:                       e.clock.Now,
		IntrospectionClientID:     e.rsID,
		IntrospectionClientSecret: e.rsSecret,
	}
	for _, f := range edit {
		f(&cfg)
	}
	v, err := bearer.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("bearer.New: %v", err)
	}
	return v
}

// token gets an access token with the client credentials grant, through x/oauth2.
func (e *env) token(t testing.TB, id, secret string, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.ts.URL + server.PathToken,
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials token for %s: %v", id, err)
	}
	return tok.AccessToken
}

func (e *env) jwt(t testing.TB, scopes ...string) string {
	t.Helper()
	return e.token(t, e.jwtID, e.jwtSecret, scopes...)
}

func (e *env) opaque(t testing.TB, scopes ...string) string {
	t.Helper()
	return e.token(t, e.opaqueID, e.opaqueSecret, scopes...)
}

// revoke revokes tok at the server (RFC 7009), as the client it was issued to.
func (e *env) revoke(t testing.TB, tok, id, secret string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+server.PathRevoke, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.ts.Client.Do(req)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
}

// signer is the server's current signing key for alg.
func (e *env) signer(t testing.TB, alg string) *token.Key {
	t.Helper()
	k, err := e.ts.Provider.Keys().Signer(context.Background(), alg)
	if err != nil {
		t.Fatalf("signer %s: %v", alg, err)
	}
	return k
}

// claims are valid access-token claims for e, to be edited and signed by the test.
func (e *env) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.ts.URL, "sub": "machine", "aud": e.ts.URL, "client_id": "machine",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "test-jti", "scope": "invoices:read",
	}
}

// sign signs claims with the server's current key for alg (as Gatehouse would) and header typ.
func (e *env) sign(t testing.TB, alg, typ string, claims map[string]any) string {
	t.Helper()
	tok, err := token.SignJWT(e.signer(t, alg), typ, claims)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// signWith signs claims with any go-jose signing key, adding kid and typ at+jwt.
func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rogueToken is a well-formed access token signed by a key the issuer never published.
func (e *env) rogueToken(t testing.TB, kid string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, jose.ES256, k, kid, e.claims())
}

// unsignedToken builds an alg "none" token by hand: header and payload in base64url and an
// empty signature.
func unsignedToken(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid})
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// mustInvalid checks that err says the token is invalid, for the reason given.
func mustInvalid(t testing.TB, err error, reason string) {
	t.Helper()
	if !errors.Is(err, bearer.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken (%s)", err, reason)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("err = %v, want it to mention %q", err, reason)
	}
}
