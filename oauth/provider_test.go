package oauth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

const issuer = "https://auth.example.test"

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	sealer *token.Sealer
	store  storage.Store
	keys   *oauth.Keyring
	p      *oauth.Provider
	clock  *clock
	secret string // of "machine"
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	store := memory.New()
	sk, _ := token.NewSealingKey()
	raw, err := token.ParseSealingKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := token.NewSealer(raw)
	if err != nil {
		t.Fatal(err)
	}
	keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{Now: clk.Now})
	if err := keys.Ensure(ctx, token.ES256); err != nil {
		t.Fatal(err)
	}
	p, err := oauth.New(oauth.Options{Issuer: issuer, CacheTTL: -1},
		oauth.Deps{Store: store, Keys: keys, Now: clk.Now, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sealer: sealer, store: store, keys: keys, p: p, clock: clk}
	for _, s := range []storage.Scope{{Name: "invoices:read", Default: true}, {Name: "invoices:write"}, {Name: "admin"}} {
		if err := store.CreateScope(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	f.secret, _ = token.NewClientSecret()
	f.addClient(t, storage.Client{ID: "machine", SecretHash: token.HashGeneratedSecret(f.secret),
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"invoices:read", "invoices:write"}})
	return f
}

func (f *fixture) addClient(t *testing.T, c storage.Client) {
	t.Helper()
	if c.TokenFormat == "" {
		c.TokenFormat = storage.TokenFormatJWT
	}
	if err := f.store.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func cc(id, secret, scope string) oauth.TokenRequest {
	return oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, Scope: scope,
		Client: oauth.ClientCredentials{ID: id, Secret: secret, Method: oauth.AuthMethodBasic}}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestClientCredentialsJWT(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	resp, err := f.p.Token(ctx, cc("machine", f.secret, "invoices:write invoices:read"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 || resp.RefreshToken != "" || resp.Scope != "invoices:write invoices:read" {
		t.Fatalf("resp = %+v", resp)
	}
	keys, _ := f.keys.PublicKeys(ctx)
	claims, err := token.ParseAccessToken(resp.AccessToken, keys, issuer, f.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "machine" || claims.ClientID != "machine" || claims.Scope != resp.Scope ||
		claims.ID == "" || !claims.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) || len(claims.Audience) != 1 {
		t.Fatalf("claims = %+v", claims)
	}
	// No row is written for a JWT.
	if _, err := f.store.GetTokenByHash(ctx, token.Hash(resp.AccessToken)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("JWT stored: %v", err)
	}
	in, err := f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", f.secret, "").Client, Token: resp.AccessToken})
	if err != nil || !in.Active || in.Sub != "machine" || in.TokenType != "Bearer" || in.Iss != issuer {
		t.Fatalf("introspect = %+v, %v", in, err)
	}
	// Expired: inactive.
	f.clock.Advance(time.Hour + time.Minute)
	in, err = f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", f.secret, "").Client, Token: resp.AccessToken})
	if err != nil || in.Active {
		t.Fatalf("expired token introspects %+v, %v", in, err)
	}
}

func TestClientCredentialsOpaqueAndRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, _ := token.NewClientSecret()
	f.addClient(t, storage.Client{ID: "opaque", SecretHash: token.HashGeneratedSecret(secret), TokenFormat: storage.TokenFormatOpaque,
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"invoices:read"}})
	resp, err := f.p.Token(ctx, cc("opaque", secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.AccessToken, token.PrefixAccessToken) || resp.Scope != "invoices:read" {
		t.Fatalf("resp = %+v", resp)
	}
	rec, err := f.store.GetTokenByHash(ctx, token.Hash(resp.AccessToken))
	if err != nil || rec.ClientID != "opaque" {
		t.Fatalf("stored = %+v, %v", rec, err)
	}
	caller := oauth.ClientCredentials{ID: "machine", Secret: f.secret, Method: oauth.AuthMethodPost}
	in, _ := f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: caller, Token: resp.AccessToken})
	if !in.Active || in.ClientID != "opaque" || in.Scope != "invoices:read" {
		t.Fatalf("introspect = %+v", in)
	}
	// Another client may not revoke it.
	err = f.p.Revoke(ctx, oauth.TokenHandleRequest{Client: caller, Token: resp.AccessToken})
	wantCode(t, err, oauth.CodeUnauthorizedClient)
	owner := oauth.ClientCredentials{ID: "opaque", Secret: secret, Method: oauth.AuthMethodBasic}
	if err := f.p.Revoke(ctx, oauth.TokenHandleRequest{Client: owner, Token: resp.AccessToken}); err != nil {
		t.Fatal(err)
	}
	in, _ = f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: caller, Token: resp.AccessToken})
	if in.Active {
		t.Fatal("revoked token still active")
	}
	// Revoking again, or revoking garbage, is fine.
	for _, v := range []string{resp.AccessToken, "garbage", token.PrefixAccessToken + "x"} {
		if err := f.p.Revoke(ctx, oauth.TokenHandleRequest{Client: owner, Token: v}); err != nil {
			t.Fatalf("revoke %q: %v", v, err)
		}
	}
	events, _ := f.store.ListAudit(ctx, storage.AuditFilter{Type: "token.revoked"})
	if len(events) != 1 {
		t.Fatalf("audit events = %+v", events)
	}
}

func TestRevokeJWT(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	resp, err := f.p.Token(ctx, cc("machine", f.secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	owner := cc("machine", f.secret, "").Client
	if err := f.p.Revoke(ctx, oauth.TokenHandleRequest{Client: owner, Token: resp.AccessToken}); err != nil {
		t.Fatal(err)
	}
	in, _ := f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: owner, Token: resp.AccessToken})
	if in.Active {
		t.Fatal("revoked JWT still active")
	}
	// A tampered JWT is inactive and revoking it is a no-op.
	parts := strings.Split(resp.AccessToken, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	in, _ = f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: owner, Token: tampered})
	if in.Active {
		t.Fatal("tampered JWT active")
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addClient(t, storage.Client{ID: "public", Public: true, GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"invoices:read"}})
	other, _ := token.NewClientSecret()
	f.addClient(t, storage.Client{ID: "nogrant", SecretHash: token.HashGeneratedSecret(other), GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"invoices:read"}})
	f.addClient(t, storage.Client{ID: "nodefault", SecretHash: token.HashGeneratedSecret(other), GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"admin"}})
	tests := []struct {
		name string
		req  oauth.TokenRequest
		code string
	}{
		{"wrong secret", cc("machine", f.secret+"x", ""), oauth.CodeInvalidClient},
		{"unknown client", cc("nobody", f.secret, ""), oauth.CodeInvalidClient},
		{"no secret", oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, Client: oauth.ClientCredentials{ID: "machine", Method: oauth.AuthMethodNone}}, oauth.CodeInvalidClient},
		{"public client with a secret", cc("public", "x", ""), oauth.CodeInvalidClient},
		{"public client", oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, Client: oauth.ClientCredentials{ID: "public", Method: oauth.AuthMethodNone}}, oauth.CodeUnauthorizedClient},
		{"unknown grant", oauth.TokenRequest{GrantType: "urn:x", Client: cc("machine", f.secret, "").Client}, oauth.CodeUnsupportedGrantType},
		{"grant not allowed", cc("nogrant", other, ""), oauth.CodeUnauthorizedClient},
		{"scope not allowed", cc("machine", f.secret, "admin"), oauth.CodeInvalidScope},
		{"scope not in catalogue", cc("machine", f.secret, "nope"), oauth.CodeInvalidScope},
		{"no scope and no default", cc("nodefault", other, ""), oauth.CodeInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.p.Token(ctx, tt.req)
			wantCode(t, err, tt.code)
		})
	}
}

func TestOperatorSecretArgon2(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hash, err := token.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	f.addClient(t, storage.Client{ID: "ops", SecretHash: hash, GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"invoices:read"}})
	p, _ := oauth.New(oauth.Options{Issuer: issuer}, oauth.Deps{Store: f.store, Keys: f.keys, Now: f.clock.Now, Sealer: f.sealer})
	for i := 0; i < 3; i++ { // the second and third hit the verified-digest cache
		if _, err := p.Token(ctx, cc("ops", "correct horse battery staple", "")); err != nil {
			t.Fatal(err)
		}
		_, err := p.Token(ctx, cc("ops", "correct horse battery stapl", ""))
		wantCode(t, err, oauth.CodeInvalidClient)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before, err := f.p.Token(ctx, cc("machine", f.secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := f.keys.Records(ctx)
	var next string
	for _, r := range recs {
		if r.State == storage.KeyNext {
			next = r.ID
		}
	}
	promoted, err := f.keys.Rotate(ctx, token.ES256, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if promoted.ID != next {
		t.Fatalf("rotation promoted %s, want the published next key %s", promoted.ID, next)
	}
	after, err := f.p.Token(ctx, cc("machine", f.secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := f.keys.PublicKeys(ctx)
	if len(keys) != 3 {
		t.Fatalf("published keys = %d, want previous, current, next", len(keys))
	}
	for _, v := range []string{before.AccessToken, after.AccessToken} {
		in, err := f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", f.secret, "").Client, Token: v})
		if err != nil || !in.Active {
			t.Fatalf("token not active after rotation: %+v %v", in, err)
		}
	}
	c, _ := token.ParseAccessToken(after.AccessToken, token.KeySet{promoted.ID: keys[promoted.ID]}, issuer, f.clock.Now(), 0)
	if c.ID == "" {
		t.Fatal("new token not signed by the promoted key")
	}
	// Past its retention the previous key is deleted by the janitor and no longer published.
	f.clock.Advance(3 * time.Hour)
	if _, err := f.store.DeleteExpired(ctx, f.clock.Now(), 100); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ = f.keys.PublicKeys(ctx)
	if len(keys) != 2 {
		t.Fatalf("published keys after retention = %d, want 2", len(keys))
	}
	// Ensure is idempotent.
	if err := f.keys.Ensure(ctx, token.ES256); err != nil {
		t.Fatal(err)
	}
	recs, _ = f.store.ListKeys(ctx)
	if len(recs) != 2 {
		t.Fatalf("Ensure created keys again: %d", len(recs))
	}
}

func TestKeyringWrongSealingKey(t *testing.T) {
	f := newFixture(t)
	other, _ := token.NewSealingKey()
	raw, _ := token.ParseSealingKey(other)
	sealer, _ := token.NewSealer(raw)
	k := oauth.NewKeyring(f.store, sealer, oauth.KeyringOptions{})
	if _, err := k.Signer(context.Background(), token.ES256); err == nil || !strings.Contains(err.Error(), "encryption_key") {
		t.Fatalf("wrong sealing key: err = %v", err)
	}
}

// TestNewIDNeverLooksLikeAFlag: one id in 64 would start with '-' if NewID did not redraw,
// and `gatehouse tokens revoke -abc…` would then be read as flags.
func TestNewIDNeverLooksLikeAFlag(t *testing.T) {
	for i := 0; i < 5000; i++ {
		id, err := oauth.NewID()
		if err != nil || len(id) != 22 || id[0] == '-' {
			t.Fatalf("NewID() = %q, %v", id, err)
		}
	}
}

// TestDeletedClientTokensInactive: a JWT cannot be deleted with its client, so introspection
// checks that the client still exists.
func TestDeletedClientTokensInactive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, _ := token.NewClientSecret()
	f.addClient(t, storage.Client{ID: "doomed", SecretHash: token.HashGeneratedSecret(secret),
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"invoices:read"}})
	resp, err := f.p.Token(ctx, cc("doomed", secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	caller := cc("machine", f.secret, "").Client
	in, _ := f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: caller, Token: resp.AccessToken})
	if !in.Active {
		t.Fatal("token inactive before the client was deleted")
	}
	if err := f.store.DeleteClient(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	in, _ = f.p.Introspect(ctx, oauth.TokenHandleRequest{Client: caller, Token: resp.AccessToken})
	if in.Active {
		t.Fatal("a deleted client's JWT still introspects active")
	}
}
