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
	"github.com/gatehouse-auth/gatehouse/token"
)

const day = 24 * time.Hour

// touchCounter counts TouchToken calls and passes them to the store it wraps.
type touchCounter struct {
	storage.Store
	mu      sync.Mutex
	touches int
}

func (c *touchCounter) TouchToken(ctx context.Context, id string, at time.Time) error {
	c.mu.Lock()
	c.touches++
	c.mu.Unlock()
	return c.Store.TouchToken(ctx, id, at)
}

func (c *touchCounter) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.touches }

// newPersonalFixture is the browser fixture (user u-alice, clients machine and web) with a
// Provider over a store that counts TouchToken calls.
func newPersonalFixture(t *testing.T, mutate func(*oauth.Options)) (*browserFixture, *touchCounter) {
	t.Helper()
	b := newBrowserFixture(t, nil)
	counter := &touchCounter{Store: b.store}
	opts := oauth.Options{Issuer: issuer, CacheTTL: -1, GrantTypes: []string{oauth.GrantClientCredentials, oauth.GrantRefreshToken}}
	if mutate != nil {
		mutate(&opts)
	}
	p, err := oauth.New(opts, oauth.Deps{Store: counter, Keys: b.keys, Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b.p = p
	return b, counter
}

func wantInvalidPersonal(t *testing.T, err error, field string) {
	t.Helper()
	var ie *oauth.InvalidPersonalTokenError
	if !errors.As(err, &ie) || ie.Field != field || ie.Reason == "" {
		t.Fatalf("err = %v, want an invalid %s", err, field)
	}
}

func TestPersonalTokenRules(t *testing.T) {
	b, _ := newPersonalFixture(t, nil)
	ctx := context.Background()
	// A stored scope named like an OpenID Connect scope is still not for personal tokens.
	if err := b.store.CreateScope(ctx, storage.Scope{Name: oauth.ScopeEmail}); err != nil {
		t.Fatal(err)
	}
	scopes, err := b.p.PersonalTokenScopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scopes {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "admin invoices:read invoices:write" {
		t.Fatalf("scopes = %v", names)
	}
	read := []string{"invoices:read"}
	for _, tc := range []struct {
		name     string
		scopes   []string
		lifetime time.Duration
		field    string
	}{
		{"", read, 0, "name"},
		{"   ", read, 0, "name"},
		{strings.Repeat("x", oauth.MaxPersonalTokenName+1), read, 0, "name"},
		{"ci\x00", read, 0, "name"},
		{"tab\there", read, 0, "name"},
		{"ci", nil, 0, "scope"},
		{"ci", []string{"openid"}, 0, "scope"},
		{"ci", []string{"email"}, 0, "scope"},
		{"ci", []string{oauth.ScopeOfflineAccess}, 0, "scope"},
		{"ci", []string{"invoices:read", "nope"}, 0, "scope"},
		{"ci", read, -time.Hour, "lifetime"},
		{"ci", read, 365*day + time.Second, "lifetime"},
	} {
		_, _, err := b.p.CreatePersonalToken(ctx, b.user.ID, tc.name, tc.scopes, tc.lifetime)
		wantInvalidPersonal(t, err, tc.field)
	}
	if _, _, err := b.p.CreatePersonalToken(ctx, "nobody", "ci", read, 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	// The longest name, the longest lifetime, and a repeated scope (kept once).
	name := strings.Repeat("é", oauth.MaxPersonalTokenName)
	value, tok, err := b.p.CreatePersonalToken(ctx, b.user.ID, name, []string{"invoices:read", "admin", "invoices:read"}, 365*day)
	if err != nil {
		t.Fatal(err)
	}
	now := b.clock.Now()
	if !strings.HasPrefix(value, token.PrefixPersonal) || !token.CheckOpaque(value, token.PrefixPersonal) {
		t.Fatalf("value = %q", value)
	}
	if tok.ID == "" || tok.Name != name || tok.Kind != storage.KindPersonal || tok.ClientID != "" || tok.Subject != b.user.ID ||
		strings.Join(tok.Scopes, " ") != "invoices:read admin" || len(tok.Audience) != 1 || tok.Audience[0] != issuer ||
		!tok.IssuedAt.Equal(now) || !tok.ExpiresAt.Equal(now.Add(365*day)) || tok.Hash != nil {
		t.Fatalf("token = %+v", tok)
	}
	stored, err := b.store.GetTokenByHash(ctx, token.Hash(value))
	if err != nil || stored.ID != tok.ID || stored.Kind != storage.KindPersonal || stored.Name != name {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	// Lifetime 0 is 30 days.
	_, tok, err = b.p.CreatePersonalToken(ctx, b.user.ID, " deploy ", read, 0)
	if err != nil || tok.Name != "deploy" || !tok.ExpiresAt.Equal(now.Add(30*day)) {
		t.Fatalf("default lifetime: %+v, %v", tok, err)
	}
	events, err := b.store.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventPersonalTokenCreated})
	if err != nil || len(events) != 2 {
		t.Fatalf("audit = %+v, %v", events, err)
	}
	ev := events[0]
	if ev.Subject != b.user.ID || ev.Actor != b.user.ID || ev.Details["id"] != tok.ID || ev.Details["name"] != "deploy" {
		t.Fatalf("audit event = %+v", ev)
	}
	for _, e := range events {
		for _, v := range e.Details {
			if strings.Contains(v, token.PrefixPersonal) {
				t.Fatalf("the audit trail holds a token value: %+v", e)
			}
		}
	}
	// A disabled user makes none.
	u := b.user
	u.Disabled = true
	if err := b.store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.p.CreatePersonalToken(ctx, b.user.ID, "ci", read, 0)
	wantInvalidPersonal(t, err, "user")
}

func TestPersonalTokenMaxLifetimeOption(t *testing.T) {
	b, _ := newPersonalFixture(t, func(o *oauth.Options) { o.PersonalTokenMaxLifetime = 7 * day })
	ctx := context.Background()
	if b.p.PersonalTokenMaxLifetime() != 7*day {
		t.Fatalf("max = %v", b.p.PersonalTokenMaxLifetime())
	}
	_, _, err := b.p.CreatePersonalToken(ctx, b.user.ID, "ci", []string{"admin"}, 8*day)
	wantInvalidPersonal(t, err, "lifetime")
	// The default lifetime is cut to the maximum.
	_, tok, err := b.p.CreatePersonalToken(ctx, b.user.ID, "ci", []string{"admin"}, 0)
	if err != nil || !tok.ExpiresAt.Equal(b.clock.Now().Add(7*day)) {
		t.Fatalf("token = %+v, %v", tok, err)
	}
	b2, _ := newPersonalFixture(t, nil)
	if b2.p.PersonalTokenMaxLifetime() != oauth.DefaultPersonalTokenMaxLifetime {
		t.Fatalf("default max = %v", b2.p.PersonalTokenMaxLifetime())
	}
}

func TestPersonalTokenIntrospectAndLastUsed(t *testing.T) {
	b, counter := newPersonalFixture(t, nil)
	ctx := context.Background()
	value, tok, err := b.p.CreatePersonalToken(ctx, b.user.ID, "ci", []string{"invoices:read", "admin"}, 7*day)
	if err != nil {
		t.Fatal(err)
	}
	introspect := func() *oauth.Introspection {
		t.Helper()
		in, err := b.p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", b.secret, "").Client, Token: value})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	created := b.clock.Now()
	in := introspect()
	if !in.Active || in.TokenType != "Bearer" || in.TokenUse != "personal_access_token" ||
		in.ClientID != "" || in.Sub != b.user.ID || in.Scope != "invoices:read admin" || in.Jti != tok.ID ||
		in.Iss != issuer || in.Exp != created.Add(7*day).Unix() || len(in.Aud) != 1 || in.Aud[0] != issuer {
		t.Fatalf("introspection = %+v", in)
	}
	if counter.count() != 1 {
		t.Fatalf("touches after the first use = %d", counter.count())
	}
	lastUsed := func() time.Time {
		t.Helper()
		list, err := b.p.ListPersonalTokens(ctx, b.user.ID)
		if err != nil || len(list) != 1 || list[0].ID != tok.ID || list[0].Hash != nil {
			t.Fatalf("list = %+v, %v", list, err)
		}
		return list[0].LastUsedAt
	}
	if got := lastUsed(); !got.Equal(created) {
		t.Fatalf("last used = %v, want %v", got, created)
	}
	// Within a minute of the recorded use nothing is written.
	introspect()
	b.clock.Advance(59 * time.Second)
	introspect()
	if counter.count() != 1 {
		t.Fatalf("touches within a minute = %d", counter.count())
	}
	b.clock.Advance(2 * time.Second)
	if in := introspect(); !in.Active {
		t.Fatal("inactive")
	}
	if counter.count() != 2 {
		t.Fatalf("touches after a minute = %d", counter.count())
	}
	if got := lastUsed(); !got.Equal(b.clock.Now()) {
		t.Fatalf("last used = %v, want %v", got, b.clock.Now())
	}
	// Access and refresh tokens are never touched.
	resp, err := b.p.Token(ctx, cc("machine", b.secret, "invoices:read"))
	if err != nil {
		t.Fatal(err)
	}
	if in, err := b.p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", b.secret, "").Client, Token: resp.AccessToken}); err != nil || !in.Active {
		t.Fatalf("access token: %+v, %v", in, err)
	}
	if counter.count() != 2 {
		t.Fatalf("touches = %d", counter.count())
	}
	// Userinfo-style lookups do not take personal tokens (they carry no openid scope).
	if in, err := b.p.LookupAccessToken(ctx, value); err != nil || in != nil {
		t.Fatalf("LookupAccessToken = %+v, %v", in, err)
	}
	// Expired: inactive.
	b.clock.Advance(7 * day)
	if in := introspect(); in.Active {
		t.Fatalf("expired token active: %+v", in)
	}
}

// failingTouch is a store whose TouchToken always fails.
type failingTouch struct{ storage.Store }

func (failingTouch) TouchToken(context.Context, string, time.Time) error {
	return errors.New("disk full")
}

func TestPersonalTokenTouchFailureIsIgnored(t *testing.T) {
	b := newBrowserFixture(t, nil)
	p, err := oauth.New(oauth.Options{Issuer: issuer, CacheTTL: -1, GrantTypes: []string{oauth.GrantClientCredentials}},
		oauth.Deps{Store: failingTouch{b.store}, Keys: b.keys, Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	value, _, err := p.CreatePersonalToken(ctx, b.user.ID, "ci", []string{"admin"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	in, err := p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", b.secret, "").Client, Token: value})
	if err != nil || !in.Active {
		t.Fatalf("introspect = %+v, %v", in, err)
	}
}

func TestPersonalTokenRevoke(t *testing.T) {
	b, _ := newPersonalFixture(t, nil)
	ctx := context.Background()
	bob := storage.User{ID: "u-bob", Username: "bob"}
	if err := b.store.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	value, tok, err := b.p.CreatePersonalToken(ctx, b.user.ID, "ci", []string{"invoices:read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, bobs, err := b.p.CreatePersonalToken(ctx, bob.ID, "bob's", []string{"admin"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	active := func(v string) bool {
		t.Helper()
		in, err := b.p.Introspect(ctx, oauth.TokenHandleRequest{Client: cc("machine", b.secret, "").Client, Token: v})
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}
	// Lists are per user.
	if list, err := b.p.ListPersonalTokens(ctx, b.user.ID); err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("alice's tokens = %+v, %v", list, err)
	}
	// Nobody revokes another user's token.
	if err := b.p.RevokePersonalToken(ctx, b.user.ID, bobs.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("revoke bob's token as alice: %v", err)
	}
	// It is not a refresh token.
	_, err = b.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: value,
		Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
	wantCode(t, err, oauth.CodeInvalidGrant)
	// /oauth2/revoke leaves it alone and answers like for an unknown token.
	if err := b.p.Revoke(ctx, oauth.TokenHandleRequest{Client: cc("machine", b.secret, "").Client, Token: value}); err != nil {
		t.Fatalf("revoke endpoint: %v", err)
	}
	if !active(value) {
		t.Fatal("the revocation endpoint revoked a personal access token")
	}
	if err := b.p.RevokePersonalToken(ctx, b.user.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if active(value) {
		t.Fatal("revoked token is active")
	}
	if list, err := b.p.ListPersonalTokens(ctx, b.user.ID); err != nil || len(list) != 0 {
		t.Fatalf("after revoke = %+v, %v", list, err)
	}
	if err := b.p.RevokePersonalToken(ctx, b.user.ID, tok.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	events, err := b.store.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventPersonalTokenRevoked})
	if err != nil || len(events) != 1 || events[0].Subject != b.user.ID || events[0].Details["id"] != tok.ID {
		t.Fatalf("audit = %+v, %v", events, err)
	}
	if list, err := b.p.ListPersonalTokens(ctx, bob.ID); err != nil || len(list) != 1 {
		t.Fatalf("bob's tokens = %+v, %v", list, err)
	}
}

func TestPersonalTokensWithoutProvider(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	pt := &oauth.PersonalTokens{Store: b.store, Issuer: "https://other.example", Now: b.clock.Now, Actor: "cli"}
	value, tok, err := pt.Create(ctx, b.user.ID, "ci", []string{"admin"}, 2*day)
	if err != nil || !strings.HasPrefix(value, token.PrefixPersonal) || tok.Audience[0] != "https://other.example" {
		t.Fatalf("create = %q %+v %v", value, tok, err)
	}
	events, _ := b.store.ListAudit(ctx, storage.AuditFilter{Type: oauth.EventPersonalTokenCreated})
	if len(events) != 1 || events[0].Actor != "cli" {
		t.Fatalf("audit = %+v", events)
	}
	if err := pt.Revoke(ctx, b.user.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
}
