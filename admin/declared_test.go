package admin_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

func declarations() admin.Declarations {
	return admin.Declarations{
		Scopes: []admin.ScopeDecl{
			{Name: "orders:read", Description: "Read orders", Default: true},
			{Name: "orders:write"},
		},
		Clients: []admin.ClientDecl{
			{ID: "shop-backend", Secret: "correct horse battery staple", GrantTypes: []string{"client_credentials"},
				Scopes: []string{"orders:read", "orders:write"}},
			{ID: "shop-web", Name: "Shop", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
				Scopes: []string{"orders:read"}, RedirectURIs: []string{"https://shop.example/callback"}},
			{ID: "reports", SecretHash: token.HashGeneratedSecret("ghs_reports"), GrantTypes: []string{"client_credentials"},
				TokenFormat: "opaque"},
		},
	}
}

func TestApplyDeclaredIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.adm = f.adm.WithActor("config")

	res, err := f.adm.ApplyDeclared(ctx, declarations())
	if err != nil {
		t.Fatalf("ApplyDeclared: %v", err)
	}
	want := admin.ApplyResult{ScopesCreated: []string{"orders:read", "orders:write"},
		ClientsCreated: []string{"shop-backend", "shop-web", "reports"}}
	if !slices.Equal(res.ScopesCreated, want.ScopesCreated) || !slices.Equal(res.ClientsCreated, want.ClientsCreated) ||
		len(res.ScopesUpdated)+len(res.ClientsUpdated) != 0 {
		t.Errorf("ApplyDeclared = %+v, want %+v", res, want)
	}
	backend, err := f.store.GetClient(ctx, "shop-backend")
	if err != nil {
		t.Fatal(err)
	}
	if !backend.Declared || backend.Name != "shop-backend" || !strings.HasPrefix(backend.SecretHash, "$argon2id$") ||
		!verifies(t, backend.SecretHash, "correct horse battery staple") {
		t.Errorf("shop-backend = %+v", backend)
	}
	reports, _ := f.store.GetClient(ctx, "reports")
	if reports.SecretHash != token.HashGeneratedSecret("ghs_reports") || reports.TokenFormat != storage.TokenFormatOpaque {
		t.Errorf("reports = %+v (secret_hash must be stored as is)", reports)
	}
	web, _ := f.store.GetClient(ctx, "shop-web")
	if web.SecretHash != "" || web.Name != "Shop" {
		t.Errorf("shop-web = %+v", web)
	}
	created := f.events(t, admin.EventClientCreated)
	if len(created) != 3 || created[0].Actor != "config" {
		t.Errorf("client.created events = %+v", created)
	}

	// Applying the same declarations again writes nothing: in particular the argon2id hash of
	// the plaintext secret is not recomputed.
	events := f.allEvents(t)
	f.clock.t = t0.Add(time.Hour)
	res, err = f.adm.ApplyDeclared(ctx, declarations())
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("second ApplyDeclared changed %+v", res)
	}
	if n := f.allEvents(t); n != events {
		t.Errorf("second ApplyDeclared wrote %d events", n-events)
	}
	again, _ := f.store.GetClient(ctx, "shop-backend")
	if again.SecretHash != backend.SecretHash || !again.UpdatedAt.Equal(backend.UpdatedAt) {
		t.Errorf("shop-backend was rewritten")
	}
}

func TestApplyDeclaredUpdates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.adm.ApplyDeclared(ctx, declarations()); err != nil {
		t.Fatal(err)
	}
	// An undeclared client made with the CLI survives.
	if _, _, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: "manual", GrantTypes: []string{"client_credentials"}}); err != nil {
		t.Fatal(err)
	}
	old, _ := f.store.GetClient(ctx, "shop-backend")

	d := declarations()
	d.Scopes[1].Default = true
	d.Clients[0].Secret = "a brand new secret value"
	d.Clients[1].RedirectURIs = append(d.Clients[1].RedirectURIs, "http://localhost:3000/callback")
	d.Clients = d.Clients[:2] // "reports" no longer declared: kept, not deleted
	f.clock.t = t0.Add(time.Hour)
	res, err := f.adm.ApplyDeclared(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.ScopesUpdated, []string{"orders:write"}) || !slices.Equal(res.ClientsUpdated, []string{"shop-backend", "shop-web"}) ||
		len(res.ScopesCreated)+len(res.ClientsCreated) != 0 {
		t.Errorf("ApplyDeclared = %+v", res)
	}
	backend, _ := f.store.GetClient(ctx, "shop-backend")
	if verifies(t, backend.SecretHash, "correct horse battery staple") || !verifies(t, backend.SecretHash, "a brand new secret value") {
		t.Errorf("the declared secret change was not applied")
	}
	if !backend.CreatedAt.Equal(old.CreatedAt) || !backend.UpdatedAt.Equal(f.clock.t) {
		t.Errorf("timestamps = %v, %v", backend.CreatedAt, backend.UpdatedAt)
	}
	for _, id := range []string{"manual", "reports"} {
		if _, err := f.store.GetClient(ctx, id); err != nil {
			t.Errorf("undeclared client %s: %v", id, err)
		}
	}
	ev := f.events(t, admin.EventClientUpdated)
	if len(ev) != 2 || ev[0].Details["changed"] != "secret" || ev[1].Details["changed"] != "redirect_uris" {
		t.Errorf("client.updated events = %+v", ev)
	}
	for _, e := range ev {
		for _, v := range e.Details {
			if strings.Contains(v, "brand new") || strings.Contains(v, "$argon2id$") {
				t.Errorf("audit leaks the secret: %v", e.Details)
			}
		}
	}
	if s, _ := f.store.GetScope(ctx, "orders:write"); !s.Default {
		t.Errorf("scope default not updated")
	}
}

func TestApplyDeclaredTakesOverAndRepairs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	d := admin.Declarations{
		Scopes:  []admin.ScopeDecl{{Name: "s"}},
		Clients: []admin.ClientDecl{{ID: "svc", SecretHash: token.HashGeneratedSecret("ghs_x"), GrantTypes: []string{"client_credentials"}, Scopes: []string{"s"}}},
	}
	if _, err := f.adm.ApplyDeclared(ctx, d); err != nil {
		t.Fatal(err)
	}
	// Someone rotates the declared client's secret with the CLI: the next start restores the
	// declared one.
	if _, err := f.adm.RotateSecret(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	res, err := f.adm.ApplyDeclared(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.ClientsUpdated, []string{"svc"}) {
		t.Errorf("ApplyDeclared = %+v", res)
	}
	if c, _ := f.store.GetClient(ctx, "svc"); !verifies(t, c.SecretHash, "ghs_x") {
		t.Errorf("declared secret not restored")
	}
}

func TestApplyDeclaredValidation(t *testing.T) {
	d := admin.Declarations{
		Scopes: []admin.ScopeDecl{{Name: "ok"}, {Name: "bad scope"}, {Name: "ok"}},
		Clients: []admin.ClientDecl{
			{ID: "a", Secret: "long enough secret!", GrantTypes: []string{"client_credentials"}, Scopes: []string{"ok", "unknown"}},
			{ID: "a", Secret: "long enough secret!", GrantTypes: []string{"client_credentials"}},
			{ID: "pub", Public: true, Secret: "long enough secret!", GrantTypes: []string{"device_code"}},
			{ID: "nosecret", GrantTypes: []string{"client_credentials"}},
			{ID: "both", Secret: "long enough secret!", SecretHash: token.HashGeneratedSecret("x"), GrantTypes: []string{"client_credentials"}},
			{ID: "badhash", SecretHash: "md5$abc", GrantTypes: []string{"client_credentials"}},
			{ID: "short", Secret: "short", GrantTypes: []string{"client_credentials"}},
			{ID: "", GrantTypes: []string{"client_credentials"}, Secret: "long enough secret!"},
		},
	}
	f := newFixture(t)
	_, err := f.adm.ApplyDeclared(context.Background(), d)
	want := []string{
		"scopes[1].name", "scopes[2].name",
		"clients[1].id", "clients[2].secret", "clients[3].secret", "clients[4].secret_hash",
		"clients[5].secret_hash", "clients[6].secret", "clients[7].id",
	}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Errorf("ApplyDeclared fields = %v\nwant %v", got, want)
	}
	if list, _ := f.store.ListScopes(context.Background()); len(list) != 0 {
		t.Errorf("invalid declarations wrote scopes")
	}

	// Scopes must exist in the catalogue or be declared.
	d = admin.Declarations{Clients: []admin.ClientDecl{{ID: "a", Secret: "long enough secret!",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"unknown"}}}}
	_, err = f.adm.ApplyDeclared(context.Background(), d)
	if got := fields(t, err); !slices.Equal(got, []string{"clients[0].scopes[0]"}) {
		t.Errorf("ApplyDeclared fields = %v", got)
	}
	if errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a validation error is ErrNotFound")
	}
	if list, _ := f.store.ListClients(context.Background()); len(list) != 0 {
		t.Errorf("invalid declarations wrote clients")
	}
}
