package oauth_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Benchmarks of the protocol core on the memory store, so that they measure the protocol
// work (parsing, client authentication, minting, introspection, rotation) and not a database;
// server/bench_test.go runs the same paths over HTTP on SQLite and PostgreSQL. They use only
// the package's exported API. Run with `make bench-go` or
// go test -run '^$' -bench . -benchmem ./oauth/

const (
	benchIssuer   = "https://auth.example.com"
	benchScope    = "api:read"
	benchUser     = "alice"
	benchPassword = "correct horse battery staple"
)

// benchProvider is a Provider on the memory store with a client of each kind.
type benchProvider struct {
	p       *oauth.Provider
	store   storage.Store
	secrets map[string]string // by client id
}

// newBenchProvider makes a provider that signs access tokens with alg; cacheTTL is
// oauth.Options.CacheTTL (0: the default client cache, -1: none).
func newBenchProvider(b *testing.B, alg string, cacheTTL time.Duration) *benchProvider {
	b.Helper()
	ctx := context.Background()
	store := memory.New()
	b.Cleanup(func() { _ = store.Close() })
	enc, err := token.NewSealingKey()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := token.ParseSealingKey(enc)
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := token.NewSealer(raw)
	if err != nil {
		b.Fatal(err)
	}
	keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{})
	if err := keys.Ensure(ctx, alg); err != nil {
		b.Fatal(err)
	}
	p, err := oauth.New(oauth.Options{Issuer: benchIssuer, AccessTokenAlgorithm: alg, CacheTTL: cacheTTL,
		GrantTypes: []string{oauth.GrantClientCredentials, oauth.GrantRefreshToken, oauth.GrantPassword}},
		oauth.Deps{Store: store, Keys: keys, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	bp := &benchProvider{p: p, store: store, secrets: map[string]string{}}
	now := time.Now().UTC()
	if err := store.CreateScope(ctx, storage.Scope{Name: benchScope, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	argonSecret := "an operator-chosen secret"
	argonHash, err := token.HashPassword(argonSecret)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		id, format, hash string
		grants           []string
	}{
		{"jwt", storage.TokenFormatJWT, "", []string{oauth.GrantClientCredentials}},
		{"opaque", storage.TokenFormatOpaque, "", []string{oauth.GrantClientCredentials}},
		{"argon2id", storage.TokenFormatJWT, argonHash, []string{oauth.GrantClientCredentials}},
		{"rs", storage.TokenFormatJWT, "", []string{oauth.GrantClientCredentials}},
		{"app", storage.TokenFormatJWT, "", []string{oauth.GrantPassword, oauth.GrantRefreshToken}},
	} {
		hash, secret := c.hash, argonSecret
		if hash == "" {
			if secret, err = token.NewClientSecret(); err != nil {
				b.Fatal(err)
			}
			hash = token.HashGeneratedSecret(secret)
		}
		if err := store.CreateClient(ctx, storage.Client{ID: c.id, Name: c.id, SecretHash: hash, TokenFormat: c.format,
			GrantTypes: c.grants, Scopes: []string{benchScope}, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		bp.secrets[c.id] = secret
	}
	pw, err := token.HashPassword(benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.CreateUser(ctx, storage.User{ID: "user-1", Username: benchUser, PasswordHash: pw,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	return bp
}

func (bp *benchProvider) creds(id string) oauth.ClientCredentials {
	return oauth.ClientCredentials{ID: id, Secret: bp.secrets[id], Method: oauth.AuthMethodBasic}
}

func (bp *benchProvider) clientCredentials(b *testing.B, id string) *oauth.TokenResponse {
	b.Helper()
	resp, err := bp.p.Token(context.Background(), oauth.TokenRequest{GrantType: oauth.GrantClientCredentials,
		Client: bp.creds(id), Scope: benchScope, Scopes: []string{benchScope}})
	if err != nil {
		b.Fatal(err)
	}
	return resp
}

// BenchmarkParseTokenRequest is the pure parse of a client-credentials request with HTTP
// Basic client authentication.
func BenchmarkParseTokenRequest(b *testing.B) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read api:write"}}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("reporting-job:ghs_4jyVmHLJookPshrNlwa5X5GHk9oSkBo3RD_e0goaKKUaWH_Lg"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oauth.ParseTokenRequest(form, auth); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTokenHandleRequest(b *testing.B) {
	form := url.Values{"token": {"gha_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG_abc123"}, "token_type_hint": {"access_token"}}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("rs:ghs_4jyVmHLJookPshrNlwa5X5GHk9oSkBo3RD_e0goaKKUaWH_Lg"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oauth.ParseTokenHandleRequest(form, auth); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientAuthentication is client authentication alone, measured as the
// introspection of a malformed token (which costs nothing past authenticating the caller):
// a generated secret (one SHA-256) against an operator-chosen one (argon2id), with the client
// cache on (the default) and off (a store read per request).
func BenchmarkClientAuthentication(b *testing.B) {
	for _, cache := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		for _, secret := range []struct{ name, client string }{{"sha256", "jwt"}, {"argon2id", "argon2id"}} {
			b.Run(secret.name+"/"+cache.name, func(b *testing.B) {
				bp := newBenchProvider(b, token.ES256, cache.ttl)
				req := oauth.TokenHandleRequest{Client: bp.creds(secret.client), Token: "not-a-token"}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					in, err := bp.p.Introspect(ctx, req)
					if err != nil || in.Active {
						b.Fatal(in, err)
					}
				}
			})
		}
	}
}

// BenchmarkGrantClientCredentials is the whole grant: authenticate, resolve scopes, mint (and, for
// opaque tokens, store) the access token.
func BenchmarkGrantClientCredentials(b *testing.B) {
	for _, alg := range []string{token.ES256, token.RS256, token.PS256, token.EdDSA} {
		b.Run("jwt-"+alg, func(b *testing.B) {
			bp := newBenchProvider(b, alg, 0)
			b.ReportAllocs()
			for b.Loop() {
				bp.clientCredentials(b, "jwt")
			}
		})
	}
	b.Run("opaque", func(b *testing.B) {
		bp := newBenchProvider(b, token.ES256, 0)
		b.ReportAllocs()
		for b.Loop() {
			bp.clientCredentials(b, "opaque")
		}
	})
	b.Run("jwt-ES256-argon2id-secret", func(b *testing.B) {
		bp := newBenchProvider(b, token.ES256, 0)
		b.ReportAllocs()
		for b.Loop() {
			bp.clientCredentials(b, "argon2id")
		}
	})
	b.Run("jwt-ES256-uncached-client", func(b *testing.B) {
		bp := newBenchProvider(b, token.ES256, -1)
		b.ReportAllocs()
		for b.Loop() {
			bp.clientCredentials(b, "jwt")
		}
	})
}

// BenchmarkIntrospect is RFC 7662 introspection by a resource server of a JWT (signature,
// deny list, client still there) and of an opaque token (hash lookup).
func BenchmarkIntrospect(b *testing.B) {
	for _, format := range []string{"jwt", "opaque"} {
		b.Run(format, func(b *testing.B) {
			bp := newBenchProvider(b, token.ES256, 0)
			tok := bp.clientCredentials(b, format).AccessToken
			req := oauth.TokenHandleRequest{Client: bp.creds("rs"), Token: tok}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				in, err := bp.p.Introspect(ctx, req)
				if err != nil || !in.Active {
					b.Fatal(in, err)
				}
			}
		})
	}
}

// BenchmarkLookupAccessToken is the check behind userinfo and the bearer middleware's
// introspection, without client authentication.
func BenchmarkLookupAccessToken(b *testing.B) {
	for _, format := range []string{"jwt", "opaque"} {
		b.Run(format, func(b *testing.B) {
			bp := newBenchProvider(b, token.ES256, 0)
			tok := bp.clientCredentials(b, format).AccessToken
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				in, err := bp.p.LookupAccessToken(ctx, tok)
				if err != nil || in == nil || !in.Active {
					b.Fatal(in, err)
				}
			}
		})
	}
}

// BenchmarkRefreshToken is the refresh grant with rotation: each iteration presents the
// refresh token the previous one returned (use the old token, store the new one, mint a JWT).
func BenchmarkRefreshToken(b *testing.B) {
	bp := newBenchProvider(b, token.ES256, 0)
	ctx := context.Background()
	resp, err := bp.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantPassword, Client: bp.creds("app"),
		Username: benchUser, Password: benchPassword, Scope: benchScope, Scopes: []string{benchScope}})
	if err != nil {
		b.Fatal(err)
	}
	rt := resp.RefreshToken
	if rt == "" {
		b.Fatal("no refresh token from the password grant")
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := bp.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, Client: bp.creds("app"), RefreshToken: rt})
		if err != nil {
			b.Fatal(err)
		}
		rt = resp.RefreshToken
	}
}

// BenchmarkRevokeOpaque is RFC 7009 revocation of an opaque access token, one fresh token per
// iteration (issued with the timer stopped).
func BenchmarkRevokeOpaque(b *testing.B) {
	bp := newBenchProvider(b, token.ES256, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tok := bp.clientCredentials(b, "opaque").AccessToken
		b.StartTimer()
		if err := bp.p.Revoke(ctx, oauth.TokenHandleRequest{Client: bp.creds("opaque"), Token: tok}); err != nil {
			b.Fatal(err)
		}
	}
}
