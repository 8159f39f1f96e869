package oauth_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

// events is an oauth.Events that keeps what it is given.
type events struct {
	mu   sync.Mutex
	list []storage.AuditEvent
}

func (e *events) Record(ev storage.AuditEvent) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

func (e *events) take() []storage.AuditEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.list
	e.list = nil
	return out
}

// noSecrets fails if a token value appears in an event.
func noSecrets(t *testing.T, ev storage.AuditEvent, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for k, v := range ev.Details {
			if strings.Contains(v, s) {
				t.Errorf("detail %s holds a token or secret", k)
			}
		}
	}
}

func TestTokenIssuedClientCredentials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := &events{}
	p, err := oauth.New(oauth.Options{Issuer: issuer, CacheTTL: -1},
		oauth.Deps{Store: f.store, Keys: f.keys, Now: f.clock.Now, Sealer: f.sealer, Events: rec})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Token(ctx, cc("machine", f.secret, "invoices:read"))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := f.keys.PublicKeys(ctx)
	claims, err := token.ParseAccessToken(resp.AccessToken, keys, issuer, f.clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	ev := got[0]
	want := map[string]string{"grant_type": oauth.GrantClientCredentials, "scope": "invoices:read", "tokens": "access_token", "jti": claims.ID}
	if ev.Type != oauth.EventTokenIssued || ev.Actor != "machine" || ev.ClientID != "machine" || ev.Subject != "machine" ||
		!ev.Time.Equal(f.clock.Now()) || len(ev.Details) != len(want) {
		t.Fatalf("event %+v", ev)
	}
	for k, v := range want {
		if ev.Details[k] != v {
			t.Errorf("details[%s] = %q, want %q", k, ev.Details[k], v)
		}
	}
	noSecrets(t, ev, resp.AccessToken, f.secret)
	// Nothing is written: the event went to Events, not to the store.
	if list, _ := f.store.ListAudit(ctx, storage.AuditFilter{}); len(list) != 0 {
		t.Errorf("%d events stored on the client credentials path", len(list))
	}
	// A failed request records nothing.
	if _, err := p.Token(ctx, cc("machine", "wrong", "")); err == nil {
		t.Fatal("wrong secret accepted")
	}
	if n := len(rec.take()); n != 0 {
		t.Errorf("%d events for a failed request", n)
	}
}

func TestPasswordGrantAudit(t *testing.T) {
	rec := &events{}
	b := newBrowserFixture(t, nil)
	p, err := oauth.New(oauth.Options{Issuer: issuer, CacheTTL: -1, GrantTypes: []string{oauth.GrantRefreshToken, oauth.GrantPassword}},
		oauth.Deps{Store: b.store, Keys: b.keys, Now: b.clock.Now, Events: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pw := func(password string) (*oauth.TokenResponse, error) {
		return p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: "Alice", Password: password,
			Scope: "invoices:read", RemoteIP: "192.0.2.1",
			Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
	}
	if _, err := pw("wrong-password"); err == nil {
		t.Fatal("wrong password accepted")
	}
	failed, _ := b.store.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventLoginFailed})
	if len(failed) != 1 || failed[0].Actor != "web" || failed[0].ClientID != "web" || failed[0].Subject != "" ||
		failed[0].Details["username"] != "Alice" || failed[0].Details["ip"] != "192.0.2.1" || failed[0].Details["grant_type"] != "password" {
		t.Fatalf("login.failed %+v", failed)
	}
	noSecrets(t, failed[0], "wrong-password", b.webSecret)
	resp, err := pw("alice-password")
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := b.store.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventLoginSucceeded})
	if len(ok) != 1 || ok[0].Actor != b.user.ID || ok[0].Subject != b.user.ID || ok[0].ClientID != "web" ||
		ok[0].Details["grant_type"] != "password" || ok[0].Details["grant_id"] == "" {
		t.Fatalf("login.succeeded %+v", ok)
	}
	got := rec.take()
	if len(got) != 1 || got[0].Details["grant_type"] != "password" || got[0].Subject != b.user.ID || got[0].Actor != "web" ||
		got[0].Details["tokens"] != "access_token refresh_token" || got[0].Details["grant_id"] != ok[0].Details["grant_id"] {
		t.Fatalf("token.issued %+v", got)
	}
	noSecrets(t, got[0], resp.AccessToken, resp.RefreshToken, "alice-password", b.webSecret)

	// Refresh; then replaying the old refresh token is recorded with the grant type.
	web := oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}
	r2, err := p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: resp.RefreshToken, Client: web})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].Details["grant_type"] != oauth.GrantRefreshToken ||
		got[0].Details["grant_id"] != ok[0].Details["grant_id"] {
		t.Fatalf("refresh token.issued %+v", got)
	}
	if _, err := p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: resp.RefreshToken, Client: web}); err == nil {
		t.Fatal("reuse accepted")
	}
	reuse, _ := b.store.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventTokenReuseDetected})
	if len(reuse) != 1 || reuse[0].Actor != "web" || reuse[0].Subject != b.user.ID || reuse[0].Details["grant_type"] != oauth.GrantRefreshToken ||
		reuse[0].Details["tokens_revoked"] != "4" {
		t.Fatalf("token.reuse_detected %+v", reuse)
	}
	noSecrets(t, reuse[0], resp.RefreshToken, r2.RefreshToken, r2.AccessToken)
}

// discardEvents is an oauth.Events that drops everything: what recording costs the request.
type discardEvents struct{}

func (discardEvents) Record(storage.AuditEvent) {}

// BenchmarkClientCredentials measures the token endpoint's hot path in the oauth package
// (client authentication, scopes, an ES256 JWT): without token.issued events, with events
// built and discarded (the request path's own cost), and with an AuditBatcher that writes
// them to the store in the background (allocations there are counted too).
func BenchmarkClientCredentials(b *testing.B) {
	for _, name := range []string{"events=off", "events=discard", "events=batcher"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			store := memory.New()
			sk, _ := token.NewSealingKey()
			raw, _ := token.ParseSealingKey(sk)
			sealer, _ := token.NewSealer(raw)
			keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{})
			if err := keys.Ensure(ctx, token.ES256); err != nil {
				b.Fatal(err)
			}
			deps := oauth.Deps{Store: store, Keys: keys, Sealer: sealer, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			var batcher *oauth.AuditBatcher
			switch name {
			case "events=discard":
				deps.Events = discardEvents{}
			case "events=batcher":
				batcher = oauth.NewAuditBatcher(store, oauth.AuditBatcherOptions{Logger: deps.Logger})
				deps.Events = batcher
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); batcher.Run(rctx) }()
				b.Cleanup(func() { cancel(); <-done })
			}
			p, err := oauth.New(oauth.Options{Issuer: issuer}, deps)
			if err != nil {
				b.Fatal(err)
			}
			if err := store.CreateScope(ctx, storage.Scope{Name: "read", Default: true}); err != nil {
				b.Fatal(err)
			}
			secret, _ := token.NewClientSecret()
			if err := store.CreateClient(ctx, storage.Client{ID: "machine", SecretHash: token.HashGeneratedSecret(secret),
				GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"read"}, TokenFormat: storage.TokenFormatJWT,
				CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
			req := cc("machine", secret, "read")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Token(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if batcher != nil {
				b.ReportMetric(float64(batcher.Dropped()), "dropped")
			}
		})
	}
}
