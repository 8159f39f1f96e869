package admin_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fixed clock the test can move.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type fixture struct {
	store storage.Store
	clock *clock
	keys  *oauth.Keyring
	adm   *admin.Admin
	inv   *recorder
}

// recorder is an admin.Invalidator that records what it was told.
type recorder struct {
	clients []string
	scopes  int
}

func (r *recorder) InvalidateClient(id string) { r.clients = append(r.clients, id) }
func (r *recorder) InvalidateScopes()          { r.scopes++ }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { _ = store.Close() })
	clk := &clock{t: t0}
	sealer, err := token.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{Now: clk.now})
	inv := &recorder{}
	adm := admin.New(store, keys, clk.now).WithActor("tester").WithInvalidator(inv)
	return &fixture{store: store, clock: clk, keys: keys, adm: adm, inv: inv}
}

func (f *fixture) scope(t *testing.T, name string, def bool) {
	t.Helper()
	if _, err := f.adm.CreateScope(context.Background(), admin.ScopeInput{Name: name, Default: def}); err != nil {
		t.Fatalf("CreateScope(%q): %v", name, err)
	}
}

// events returns the audit events of type typ, oldest first.
func (f *fixture) events(t *testing.T, typ string) []storage.AuditEvent {
	t.Helper()
	list, err := f.store.ListAudit(context.Background(), storage.AuditFilter{Type: typ, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(list)
	return list
}

func (f *fixture) allEvents(t *testing.T) int {
	t.Helper()
	list, err := f.store.ListAudit(context.Background(), storage.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// fields returns the fields of the validation errors in err, or fails.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var ves admin.ValidationErrors
	if !errors.As(err, &ves) {
		t.Fatalf("error %v is not a ValidationErrors", err)
	}
	var out []string
	for _, e := range ves {
		out = append(out, e.Field)
	}
	return out
}

func verifies(t *testing.T, hash, secret string) bool {
	t.Helper()
	ok, _, err := token.VerifySecret(hash, secret)
	if err != nil {
		t.Fatalf("VerifySecret: %v", err)
	}
	return ok
}

func TestCreateClientConfidential(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.scope(t, "invoices:read", true)

	c, secret, err := f.adm.CreateClient(ctx, admin.ClientInput{
		Name:       "Billing API",
		GrantTypes: []string{"client_credentials"},
		Scopes:     []string{"invoices:read", "invoices:read"},
	})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if !strings.HasPrefix(c.ID, "billing-api-") || len(c.ID) != len("billing-api-")+10 {
		t.Errorf("generated ID = %q, want billing-api-<10 chars>", c.ID)
	}
	if !token.CheckOpaque(secret, token.PrefixClientSecret) {
		t.Errorf("secret %q is not a generated client secret", secret)
	}
	if c.SecretHash != "" {
		t.Errorf("returned client has a SecretHash")
	}
	if c.TokenFormat != storage.TokenFormatJWT || !slices.Equal(c.Scopes, []string{"invoices:read"}) || c.Name != "Billing API" {
		t.Errorf("client = %+v", c)
	}
	if !c.CreatedAt.Equal(t0) || !c.UpdatedAt.Equal(t0) {
		t.Errorf("timestamps = %v, %v, want %v", c.CreatedAt, c.UpdatedAt, t0)
	}
	stored, err := f.store.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.SecretHash, "sha256$") || !verifies(t, stored.SecretHash, secret) {
		t.Errorf("stored hash %q does not verify the returned secret", stored.SecretHash)
	}
	if stored.Declared {
		t.Errorf("a created client is marked declared")
	}
	ev := f.events(t, admin.EventClientCreated)
	if len(ev) != 1 || ev[0].Actor != "tester" || ev[0].ClientID != c.ID || !ev[0].Time.Equal(t0) {
		t.Fatalf("audit = %+v", ev)
	}
	for k, v := range ev[0].Details {
		if strings.Contains(v, secret) || strings.Contains(v, stored.SecretHash) {
			t.Errorf("audit detail %s leaks the secret", k)
		}
	}
	if !slices.Contains(f.inv.clients, c.ID) {
		t.Errorf("client cache not invalidated")
	}
}

func TestCreateClientPublicAndExplicitID(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c, secret, err := f.adm.CreateClient(ctx, admin.ClientInput{
		ID: "spa", Public: true,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example.com/callback", "http://127.0.0.1:5173/cb", "com.example.app:/oauth"},
		TokenFormat:  "opaque",
	})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if secret != "" {
		t.Errorf("public client got a secret")
	}
	if c.ID != "spa" || c.Name != "spa" || !c.Public || c.TokenFormat != storage.TokenFormatOpaque {
		t.Errorf("client = %+v", c)
	}
	stored, _ := f.store.GetClient(ctx, "spa")
	if stored.SecretHash != "" {
		t.Errorf("public client stored with a secret hash")
	}

	_, _, err = f.adm.CreateClient(ctx, admin.ClientInput{ID: "spa", Public: true, GrantTypes: []string{"implicit"},
		RedirectURIs: []string{"https://x.example/cb"}})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second CreateClient(spa) = %v, want ErrConflict", err)
	}
	if n := len(f.events(t, admin.EventClientCreated)); n != 1 {
		t.Errorf("%d client.created events, want 1", n)
	}
}

func TestCreateClientDeviceShortName(t *testing.T) {
	f := newFixture(t)
	c, _, err := f.adm.CreateClient(context.Background(), admin.ClientInput{ID: "tv", Public: true,
		GrantTypes: []string{"device_code", "refresh_token"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.GrantTypes, []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}) {
		t.Errorf("grant types = %v", c.GrantTypes)
	}
}

func TestCreateClientValidation(t *testing.T) {
	tests := []struct {
		name string
		in   admin.ClientInput
		want []string // fields
	}{
		{"no grant", admin.ClientInput{ID: "a"}, []string{"grant_types"}},
		{"unknown grant", admin.ClientInput{ID: "a", GrantTypes: []string{"client_credentials", "magic"}}, []string{"grant_types[1]"}},
		{"public client credentials", admin.ClientInput{ID: "a", Public: true, GrantTypes: []string{"client_credentials"}}, []string{"grant_types"}},
		{"refresh alone", admin.ClientInput{ID: "a", GrantTypes: []string{"client_credentials", "refresh_token"}}, []string{"grant_types"}},
		{"code without redirect", admin.ClientInput{ID: "a", GrantTypes: []string{"authorization_code"}}, []string{"redirect_uris"}},
		{"bad id", admin.ClientInput{ID: "has space", GrantTypes: []string{"client_credentials"}}, []string{"id"}},
		{"bad name", admin.ClientInput{ID: "a", Name: "x\x00y", GrantTypes: []string{"client_credentials"}}, []string{"name"}},
		{"bad scope name", admin.ClientInput{ID: "a", GrantTypes: []string{"client_credentials"}, Scopes: []string{`a"b`}}, []string{"scopes[0]"}},
		{"missing scope", admin.ClientInput{ID: "a", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "nope"}}, []string{"scopes[1]"}},
		{"token format", admin.ClientInput{ID: "a", GrantTypes: []string{"client_credentials"}, TokenFormat: "paseto"}, []string{"token_format"}},
		{"redirect uris", admin.ClientInput{ID: "a", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{
			"https://ok.example/cb", "http://example.com/cb", "https://x.example/cb#frag", "/relative", "javascript:alert(1)",
			"https://user:pw@x.example/cb", "https://x.example/a b",
		}}, []string{"redirect_uris[1]", "redirect_uris[2]", "redirect_uris[3]", "redirect_uris[4]", "redirect_uris[5]", "redirect_uris[6]"}},
		{"post logout uri", admin.ClientInput{ID: "a", GrantTypes: []string{"client_credentials"}, PostLogoutRedirectURIs: []string{"http://evil.example/"}}, []string{"post_logout_redirect_uris[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.scope(t, "read", false)
			_, secret, err := f.adm.CreateClient(context.Background(), tt.in)
			if got := fields(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("CreateClient fields = %v, want %v (err %v)", got, tt.want, err)
			}
			if secret != "" {
				t.Errorf("a failed CreateClient returned a secret")
			}
			if list, _ := f.store.ListClients(context.Background()); len(list) != 0 {
				t.Errorf("a failed CreateClient stored %d clients", len(list))
			}
			if n := len(f.events(t, admin.EventClientCreated)); n != 0 {
				t.Errorf("a failed CreateClient wrote %d events", n)
			}
		})
	}
}

func TestValidationErrorAs(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.adm.CreateClient(context.Background(), admin.ClientInput{ID: "a", TokenFormat: "x"})
	var ve *admin.ValidationError
	if !errors.As(err, &ve) || ve.Field != "grant_types" {
		t.Fatalf("errors.As(*ValidationError) = %v, %v", ve, err)
	}
	if !strings.Contains(err.Error(), "token_format") {
		t.Errorf("error %q does not mention every problem", err)
	}
}

func TestUpdateClient(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.scope(t, "read", false)
	f.scope(t, "write", false)
	c, secret, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.t = t0.Add(time.Hour)
	name, scopes := "Service", []string{"read", "write"}
	got, newSecret, err := f.adm.UpdateClient(ctx, "svc", admin.ClientPatch{Name: &name, Scopes: &scopes})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if newSecret != "" {
		t.Errorf("UpdateClient returned a secret for a confidential client")
	}
	if got.Name != "Service" || !slices.Equal(got.Scopes, scopes) || !got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(f.clock.t) {
		t.Errorf("updated = %+v", got)
	}
	stored, _ := f.store.GetClient(ctx, "svc")
	if stored.Name != "Service" || !verifies(t, stored.SecretHash, secret) {
		t.Errorf("stored = %+v (secret must still verify)", stored)
	}
	ev := f.events(t, admin.EventClientUpdated)
	if len(ev) != 1 || ev[0].Details["changed"] != "name scopes" {
		t.Fatalf("audit = %+v", ev)
	}

	// The same patch again changes nothing and writes nothing.
	before := f.allEvents(t)
	if _, _, err := f.adm.UpdateClient(ctx, "svc", admin.ClientPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if after := f.allEvents(t); after != before {
		t.Errorf("a no-op update wrote %d events", after-before)
	}

	// Invalid patches are refused and change nothing.
	bad := []string{"nope"}
	if _, _, err := f.adm.UpdateClient(ctx, "svc", admin.ClientPatch{Scopes: &bad}); !slices.Equal(fields(t, err), []string{"scopes[0]"}) {
		t.Errorf("UpdateClient(unknown scope) = %v", err)
	}
	pub := true
	if _, _, err := f.adm.UpdateClient(ctx, "svc", admin.ClientPatch{Public: &pub}); !slices.Equal(fields(t, err), []string{"grant_types"}) {
		t.Errorf("UpdateClient(public with client_credentials) = %v", err)
	}

	// Confidential to public drops the secret; back to confidential generates one.
	grants, uris := []string{"authorization_code"}, []string{"https://app.example/cb"}
	if _, s, err := f.adm.UpdateClient(ctx, "svc", admin.ClientPatch{Public: &pub, GrantTypes: &grants, RedirectURIs: &uris}); err != nil || s != "" {
		t.Fatalf("UpdateClient(public) = %q, %v", s, err)
	}
	if stored, _ := f.store.GetClient(ctx, "svc"); stored.SecretHash != "" || !stored.Public {
		t.Errorf("public client keeps a secret hash")
	}
	conf := false
	_, s, err := f.adm.UpdateClient(ctx, "svc", admin.ClientPatch{Public: &conf})
	if err != nil || s == "" {
		t.Fatalf("UpdateClient(confidential) = %q, %v", s, err)
	}
	if stored, _ := f.store.GetClient(ctx, "svc"); !verifies(t, stored.SecretHash, s) {
		t.Errorf("new secret does not verify")
	}

	if _, _, err := f.adm.UpdateClient(ctx, "ghost", admin.ClientPatch{Name: &name}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateClient(ghost) = %v, want ErrNotFound", err)
	}
}

func TestRotateSecret(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, old, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	f.inv.clients = nil
	secret, err := f.adm.RotateSecret(ctx, "svc")
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	stored, _ := f.store.GetClient(ctx, "svc")
	if verifies(t, stored.SecretHash, old) {
		t.Errorf("the old secret still verifies")
	}
	if !verifies(t, stored.SecretHash, secret) {
		t.Errorf("the new secret does not verify")
	}
	if ev := f.events(t, admin.EventClientSecretRotated); len(ev) != 1 || ev[0].ClientID != "svc" {
		t.Errorf("audit = %+v", ev)
	}
	if !slices.Equal(f.inv.clients, []string{"svc"}) {
		t.Errorf("invalidated %v", f.inv.clients)
	}

	if _, _, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: "pub", Public: true, GrantTypes: []string{"device_code"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.adm.RotateSecret(ctx, "pub"); !slices.Equal(fields(t, err), []string{"public"}) {
		t.Errorf("RotateSecret(public) = %v", err)
	}
	if _, err := f.adm.RotateSecret(ctx, "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RotateSecret(ghost) = %v, want ErrNotFound", err)
	}
}

func TestGetListDeleteClient(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, id := range []string{"b", "a"} {
		if _, _, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: id, GrantTypes: []string{"client_credentials"}}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.adm.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "a" || list[0].SecretHash != "" || list[1].SecretHash != "" {
		t.Errorf("ListClients = %+v", list)
	}
	if c, err := f.adm.GetClient(ctx, "a"); err != nil || c.SecretHash != "" {
		t.Errorf("GetClient = %+v, %v", c, err)
	}
	if _, err := f.adm.GetClient(ctx, "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient(ghost) = %v", err)
	}
	if err := f.adm.DeleteClient(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetClient(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted client still there: %v", err)
	}
	if ev := f.events(t, admin.EventClientDeleted); len(ev) != 1 || ev[0].ClientID != "a" {
		t.Errorf("audit = %+v", ev)
	}
	if err := f.adm.DeleteClient(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteClient = %v, want ErrNotFound", err)
	}
}

func TestScopes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s, err := f.adm.CreateScope(ctx, admin.ScopeInput{Name: "read", Description: "Read things", Default: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "read" || !s.Default || !s.CreatedAt.Equal(t0) {
		t.Errorf("scope = %+v", s)
	}
	if _, err := f.adm.CreateScope(ctx, admin.ScopeInput{Name: "read"}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("duplicate CreateScope = %v, want ErrConflict", err)
	}
	if _, err := f.adm.CreateScope(ctx, admin.ScopeInput{Name: "two words"}); !slices.Equal(fields(t, err), []string{"name"}) {
		t.Errorf("CreateScope(invalid) = %v", err)
	}
	no := false
	got, err := f.adm.UpdateScope(ctx, "read", admin.ScopePatch{Default: &no})
	if err != nil || got.Default || got.Description != "Read things" {
		t.Fatalf("UpdateScope = %+v, %v", got, err)
	}
	if ev := f.events(t, admin.EventScopeUpdated); len(ev) != 1 || ev[0].Details["changed"] != "default" {
		t.Errorf("audit = %+v", ev)
	}
	before := f.allEvents(t)
	if _, err := f.adm.UpdateScope(ctx, "read", admin.ScopePatch{Default: &no}); err != nil {
		t.Fatal(err)
	}
	if f.allEvents(t) != before {
		t.Errorf("a no-op scope update wrote an event")
	}
	if _, err := f.adm.UpdateScope(ctx, "ghost", admin.ScopePatch{Default: &no}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateScope(ghost) = %v", err)
	}

	if _, _, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.adm.DeleteScope(ctx, "read"); !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "svc") {
		t.Errorf("DeleteScope(in use) = %v, want ErrConflict naming svc", err)
	}
	if err := f.adm.DeleteClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if err := f.adm.DeleteScope(ctx, "read"); err != nil {
		t.Fatalf("DeleteScope: %v", err)
	}
	if list, _ := f.adm.ListScopes(ctx); len(list) != 0 {
		t.Errorf("scopes left: %+v", list)
	}
	if err := f.adm.DeleteScope(ctx, "read"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteScope(gone) = %v", err)
	}
	for _, typ := range []string{admin.EventScopeCreated, admin.EventScopeDeleted} {
		if ev := f.events(t, typ); len(ev) != 1 || ev[0].Details["scope"] != "read" || ev[0].Actor != "tester" {
			t.Errorf("%s audit = %+v", typ, ev)
		}
	}
	if f.inv.scopes < 3 {
		t.Errorf("scope cache invalidated %d times", f.inv.scopes)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.keys.Ensure(ctx, token.ES256); err != nil {
		t.Fatal(err)
	}
	keys, err := f.adm.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("ListKeys = %+v, want current and next", keys)
	}
	var next string
	for _, k := range keys {
		if k.State == storage.KeyNext {
			next = k.ID
		}
	}
	f.clock.t = t0.Add(time.Hour)
	retain := 65 * time.Minute
	cur, err := f.adm.RotateKey(ctx, token.ES256, retain)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if cur.ID != next || cur.State != storage.KeyCurrent {
		t.Errorf("RotateKey = %+v, want the next key %s promoted", cur, next)
	}
	keys, _ = f.adm.ListKeys(ctx)
	states := map[string]int{}
	for _, k := range keys {
		states[k.State]++
		if k.State == storage.KeyPrevious && !k.NotAfter.Equal(f.clock.t.Add(retain)) {
			t.Errorf("previous key NotAfter = %v, want %v", k.NotAfter, f.clock.t.Add(retain))
		}
	}
	if states[storage.KeyCurrent] != 1 || states[storage.KeyNext] != 1 || states[storage.KeyPrevious] != 1 {
		t.Errorf("key states = %v", states)
	}
	ev := f.events(t, admin.EventKeyRotated)
	if len(ev) != 1 || ev[0].Details["kid"] != cur.ID || ev[0].Details["algorithm"] != "ES256" {
		t.Errorf("audit = %+v", ev)
	}

	if _, err := f.adm.RotateKey(ctx, "HS256", time.Hour); !slices.Equal(fields(t, err), []string{"algorithm"}) {
		t.Errorf("RotateKey(HS256) = %v", err)
	}
	noKeys := admin.New(f.store, nil, f.clock.now)
	if _, err := noKeys.RotateKey(ctx, token.ES256, time.Hour); err == nil {
		t.Errorf("RotateKey without a keyring succeeded")
	}
	if list, err := noKeys.ListKeys(ctx); err != nil || len(list) != 3 {
		t.Errorf("ListKeys without a keyring = %d keys, %v", len(list), err)
	}
}

func TestRedirectURIsAccepted(t *testing.T) {
	ok := []string{
		"https://app.example.com/callback",
		"https://app.example.com:8443/cb?x=1",
		"http://127.0.0.1:5173/cb",
		"http://[::1]/cb",
		"http://localhost:3000/callback",
		"com.example.app:/oauth2redirect",
		"com.example.app://callback",
	}
	f := newFixture(t)
	c, _, err := f.adm.CreateClient(context.Background(), admin.ClientInput{ID: "native", Public: true,
		GrantTypes: []string{"authorization_code"}, RedirectURIs: ok, PostLogoutRedirectURIs: ok[:2]})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if !slices.Equal(c.RedirectURIs, ok) {
		t.Errorf("redirect URIs = %v", c.RedirectURIs)
	}
}
