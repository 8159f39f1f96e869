package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

func TestAdminTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, value, err := f.adm.CreateAdminToken(ctx, admin.AdminTokenInput{Name: " deploy ", Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "deploy" || tok.Hash != nil || tok.CreatedBy != "tester" || !tok.ExpiresAt.Equal(t0.Add(time.Hour)) ||
		!token.CheckOpaque(value, token.PrefixAdminToken) {
		t.Fatalf("created %+v %q", tok, value)
	}
	stored, err := f.store.GetAdminTokenByHash(ctx, token.Hash(value))
	if err != nil || stored.ID != tok.ID {
		t.Fatalf("not stored by hash: %v", err)
	}

	// Adversarial values: none authenticates, and none is a store error.
	other, _ := token.NewOpaque(token.PrefixAdminToken)
	for _, bad := range []string{"", "ghm_", other, value + "x", strings.ToUpper(value), token.PrefixPersonal + value[4:],
		value[:len(value)-1] + "?", string(token.Hash(value))} {
		if _, err := f.adm.AuthenticateAdminToken(ctx, bad); !errors.Is(err, admin.ErrInvalidAdminToken) {
			t.Errorf("AuthenticateAdminToken(%q) = %v", bad, err)
		}
	}

	// Use: recorded at most once a minute.
	got, err := f.adm.AuthenticateAdminToken(ctx, value)
	if err != nil || !got.LastUsedAt.Equal(t0) || got.Hash != nil {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	f.clock.t = t0.Add(59 * time.Second)
	if got, _ := f.adm.AuthenticateAdminToken(ctx, value); !got.LastUsedAt.Equal(t0) {
		t.Errorf("touched within the minute: %v", got.LastUsedAt)
	}
	f.clock.t = t0.Add(time.Minute)
	if got, _ := f.adm.AuthenticateAdminToken(ctx, value); !got.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("not touched after a minute: %v", got.LastUsedAt)
	}
	// Expiry is exclusive.
	f.clock.t = t0.Add(time.Hour - time.Microsecond)
	if _, err := f.adm.AuthenticateAdminToken(ctx, value); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	f.clock.t = t0.Add(time.Hour)
	if _, err := f.adm.AuthenticateAdminToken(ctx, value); !errors.Is(err, admin.ErrInvalidAdminToken) {
		t.Errorf("at expiry: %v", err)
	}

	// Input checks.
	for _, in := range []admin.AdminTokenInput{{Name: ""}, {Name: "x", Lifetime: -time.Second}, {Name: "x", Lifetime: time.Second},
		{Name: "x", Lifetime: admin.MaxAdminTokenLifetime + time.Hour}, {Name: strings.Repeat("n", 101)}, {Name: "a\nb"}} {
		var ve admin.ValidationErrors
		if _, _, err := f.adm.CreateAdminToken(ctx, in); !errors.As(err, &ve) {
			t.Errorf("CreateAdminToken(%+v) = %v", in, err)
		}
	}

	// Revoke: gone at once, twice is ErrNotFound, both audited once.
	if err := f.adm.RevokeAdminToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.t = t0
	if _, err := f.adm.AuthenticateAdminToken(ctx, value); !errors.Is(err, admin.ErrInvalidAdminToken) {
		t.Errorf("revoked: %v", err)
	}
	if err := f.adm.RevokeAdminToken(ctx, tok.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoke twice: %v", err)
	}
	for _, typ := range []string{admin.EventAdminTokenCreated, admin.EventAdminTokenRevoked} {
		events, _, err := f.adm.ListAudit(ctx, storage.AuditFilter{Type: typ})
		if err != nil || len(events) != 1 || events[0].Actor != "tester" || events[0].Details["admin_token_id"] != tok.ID {
			t.Errorf("%s events: %+v %v", typ, events, err)
		}
	}
	if list, err := f.adm.ListAdminTokens(ctx); err != nil || len(list) != 0 {
		t.Errorf("list after revoke: %+v %v", list, err)
	}
}

func TestPagesValidate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, limit := range []int{-1, admin.MaxPageSize + 1} {
		var ve admin.ValidationErrors
		if _, _, err := f.adm.QueryClients(ctx, storage.ClientQuery{Limit: limit}); !errors.As(err, &ve) {
			t.Errorf("QueryClients limit %d: %v", limit, err)
		}
		if _, _, err := f.adm.QueryUsers(ctx, storage.UserQuery{Limit: limit}); !errors.As(err, &ve) {
			t.Errorf("QueryUsers limit %d: %v", limit, err)
		}
		if _, _, err := f.adm.ListAudit(ctx, storage.AuditFilter{Limit: limit}); !errors.As(err, &ve) {
			t.Errorf("ListAudit limit %d: %v", limit, err)
		}
	}
	var ve admin.ValidationErrors
	if _, _, err := f.adm.QueryClients(ctx, storage.ClientQuery{Search: strings.Repeat("x", 201)}); !errors.As(err, &ve) {
		t.Errorf("long search: %v", err)
	}
	// An exact page: no next cursor.
	for i := range 3 {
		if _, _, err := f.adm.CreateClient(ctx, admin.ClientInput{ID: string(rune('a' + i)), GrantTypes: []string{"client_credentials"}}); err != nil {
			t.Fatal(err)
		}
	}
	items, next, err := f.adm.QueryClients(ctx, storage.ClientQuery{Limit: 3})
	if err != nil || len(items) != 3 || next != "" {
		t.Errorf("exact page: %d %q %v", len(items), next, err)
	}
	items, next, err = f.adm.QueryClients(ctx, storage.ClientQuery{Limit: 2})
	if err != nil || len(items) != 2 || next != "b" || items[0].SecretHash != "" {
		t.Errorf("first page: %+v %q %v", items, next, err)
	}
}
