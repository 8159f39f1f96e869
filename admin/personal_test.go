package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

func TestPersonalTokens(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.scope(t, "api:read", false)
	f.scope(t, "api:write", false)
	alice, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := f.adm.CreateUser(ctx, admin.UserInput{Username: "bob", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	in := admin.PersonalTokenInput{User: "alice", Name: "ci", Scopes: []string{"api:read"}, Lifetime: 30 * 24 * time.Hour}
	if _, _, err := f.adm.CreatePersonalToken(ctx, in); err == nil {
		t.Fatal("created without an issuer")
	}
	adm := f.adm.WithIssuer("https://auth.example.test")

	// The rules are oauth's, reported as ValidationErrors.
	for _, bad := range []admin.PersonalTokenInput{
		{User: "alice", Name: "", Scopes: []string{"api:read"}},
		{User: "alice", Name: "ci"},
		{User: "alice", Name: "ci", Scopes: []string{"openid"}},
		{User: "alice", Name: "ci", Scopes: []string{"api:read"}, Lifetime: 400 * 24 * time.Hour},
	} {
		var ve admin.ValidationErrors
		if _, _, err := adm.CreatePersonalToken(ctx, bad); !errors.As(err, &ve) || len(ve) != 1 {
			t.Errorf("CreatePersonalToken(%+v) = %v, want a validation error", bad, err)
		}
	}
	if _, _, err := adm.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: "nobody", Name: "ci", Scopes: []string{"api:read"}}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}

	tok, value, err := adm.CreatePersonalToken(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !token.CheckOpaque(value, token.PrefixPersonal) || tok.Subject != alice.ID || tok.Name != "ci" ||
		tok.Kind != storage.KindPersonal || tok.Audience[0] != "https://auth.example.test" ||
		!tok.ExpiresAt.Equal(tok.IssuedAt.Add(30*24*time.Hour)) {
		t.Fatalf("token = %+v, value %q", tok, value)
	}
	events := f.events(t, oauth.EventPersonalTokenCreated)
	if len(events) != 1 || events[0].Actor != "tester" || events[0].Subject != alice.ID {
		t.Fatalf("audit = %+v", events)
	}
	f.noHashes(t, value)
	_, _, err = adm.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: bob.ID, Name: "bob", Scopes: []string{"api:write"}})
	if err != nil {
		t.Fatal(err)
	}

	list, err := adm.ListPersonalTokens(ctx, "ALICE")
	if err != nil || len(list) != 1 || list[0].ID != tok.ID || list[0].Hash != nil {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if _, err := adm.ListPersonalTokens(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("list for an unknown user: %v", err)
	}
	// A token is revoked only as its user's.
	if _, err := adm.RevokePersonalToken(ctx, "bob", tok.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("revoke alice's token as bob's: %v", err)
	}
	got, err := adm.RevokePersonalToken(ctx, "alice", tok.ID)
	if err != nil || got.ID != tok.ID || got.Name != "ci" {
		t.Fatalf("revoke = %+v, %v", got, err)
	}
	if _, err := adm.RevokePersonalToken(ctx, "alice", tok.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	// Without a user, every user's tokens are searched.
	bobList, _ := adm.ListPersonalTokens(ctx, "bob")
	if len(bobList) != 1 {
		t.Fatalf("bob's tokens: %+v", bobList)
	}
	if got, err := adm.RevokePersonalToken(ctx, "", bobList[0].ID); err != nil || got.Subject != bob.ID {
		t.Fatalf("revoke without a user = %+v, %v", got, err)
	}
	if _, err := adm.RevokePersonalToken(ctx, "", "no-such-id"); !errors.Is(err, storage.ErrNotFound) || strings.Contains(err.Error(), "ghp_") {
		t.Fatalf("unknown id: %v", err)
	}
	if n := len(f.events(t, oauth.EventPersonalTokenRevoked)); n != 2 {
		t.Fatalf("%d revoked events", n)
	}
}
