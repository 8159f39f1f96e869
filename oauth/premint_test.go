package oauth

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

func pmProvider(t *testing.T) (*Provider, storage.Store, *storage.Client, time.Time) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
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
	keys := NewKeyring(store, sealer, KeyringOptions{Now: clock})
	if err := keys.Ensure(ctx, token.ES256); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Issuer: "https://auth.example.test", CacheTTL: -1}, Deps{Store: store, Keys: keys, Now: clock, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	c := storage.Client{ID: "app", Public: true, TokenFormat: storage.TokenFormatJWT, Scopes: []string{"a", "b"},
		GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}}
	if err := store.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	return p, store, &c, now
}

func pmRefresh(t *testing.T, store storage.Store, now time.Time, id string, edit func(*storage.Token)) string {
	t.Helper()
	v, err := token.NewOpaque(token.PrefixRefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	rec := storage.Token{ID: id, Hash: token.Hash(v), Kind: storage.KindRefresh, ClientID: "app", Subject: "alice",
		Scopes: []string{"a", "b"}, GrantID: "g-" + id, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if edit != nil {
		edit(&rec)
	}
	if err := store.CreateToken(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPreMintRefresh(t *testing.T) {
	p, store, client, now := pmProvider(t)
	ctx := context.Background()

	v := pmRefresh(t, store, now, "ok", nil)
	m := p.preMintRefresh(ctx, client, v, nil)
	if m == nil || m.tokenID != "ok" || m.at.subject != "alice" || len(m.at.scopes) != 2 {
		t.Fatalf("pre-minted = %+v", m)
	}
	if n := p.preMintRefresh(ctx, client, v, []string{"b"}); n == nil || len(n.at.scopes) != 1 || n.at.scopes[0] != "b" {
		t.Fatalf("narrowed = %+v", n)
	}
	// Anything the transaction would refuse gets no early token.
	other := *client
	other.ID = "other"
	for name, value := range map[string]string{
		"used":    pmRefresh(t, store, now, "used", func(r *storage.Token) { r.UsedAt = now }),
		"revoked": pmRefresh(t, store, now, "revoked", func(r *storage.Token) { r.RevokedAt = now }),
		"expired": pmRefresh(t, store, now, "expired", func(r *storage.Token) { r.ExpiresAt = now }),
		"access":  pmRefresh(t, store, now, "access", func(r *storage.Token) { r.Kind = storage.KindAccess }),
		"grant":   pmRefresh(t, store, now, "nogrant", func(r *storage.Token) { r.GrantID = "" }),
		"unknown": "ghr_unknown",
	} {
		if p.preMintRefresh(ctx, client, value, nil) != nil {
			t.Errorf("%s: early token minted", name)
		}
	}
	if p.preMintRefresh(ctx, &other, v, nil) != nil {
		t.Error("early token for another client")
	}
	if p.preMintRefresh(ctx, client, v, []string{"c"}) != nil {
		t.Error("early token for a widened scope")
	}

	// The early token is used only for the record that was read, and only for the same
	// subject, client and scopes.
	if m.forToken(storage.Token{ID: "ok"}) == nil || m.forToken(storage.Token{ID: "else"}) != nil {
		t.Fatal("forToken matches by the record's id")
	}
	var none *preMinted
	if none.forToken(storage.Token{ID: "ok"}) != nil {
		t.Fatal("nil forToken")
	}
	alice := storage.User{ID: "alice"}
	g := userGrant{user: &alice, access: []string{"a", "b"}, minted: m.forToken(storage.Token{ID: "ok"})}
	if at, err := p.userAccessToken(ctx, client, &g); err != nil || at.value != m.at.value {
		t.Fatalf("matching grant: %v, same token %v", err, at.value == m.at.value)
	}
	for name, g := range map[string]userGrant{
		"subject": {user: &storage.User{ID: "bob"}, access: []string{"a", "b"}, minted: &m.at},
		"scopes":  {user: &alice, access: []string{"a"}, minted: &m.at},
	} {
		at, err := p.userAccessToken(ctx, client, &g)
		if err != nil || at.value == m.at.value || at.subject != g.user.ID {
			t.Errorf("%s: the early token was used for another grant (%v)", name, err)
		}
	}
	if at, err := p.userAccessToken(ctx, &other, &g); err != nil || at.value == m.at.value {
		t.Errorf("the early token was used for another client (%v)", err)
	}
}

// TestRefreshWithEarlyToken: the refresh grant answers the token signed before its
// transaction, rotates, and a replay of the old refresh token still revokes the grant.
func TestRefreshWithEarlyToken(t *testing.T) {
	p, store, _, now := pmProvider(t)
	ctx := context.Background()
	if err := store.CreateUser(ctx, storage.User{ID: "alice", Username: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	v := pmRefresh(t, store, now, "r1", nil)
	req := TokenRequest{GrantType: GrantRefreshToken, RefreshToken: v,
		Client: ClientCredentials{ID: "app", Method: AuthMethodNone}}
	resp, err := p.Token(ctx, req)
	if err != nil || resp.RefreshToken == "" || resp.AccessToken == "" {
		t.Fatalf("refresh: %+v, %v", resp, err)
	}
	keys, _ := p.keys.PublicKeys(ctx)
	claims, err := token.ParseAccessToken(resp.AccessToken, keys, p.opts.Issuer, now, 0)
	if err != nil || claims.Subject != "alice" || claims.Scope != "a b" {
		t.Fatalf("claims = %+v, %v", claims, err)
	}
	// The access token is recorded (so that revoking the grant deny-lists it).
	if rec, err := store.GetTokenByHash(ctx, token.Hash(resp.AccessToken)); err != nil || rec.ID != claims.ID || rec.GrantID != "g-r1" {
		t.Fatalf("access token row = %+v, %v", rec, err)
	}
	// Replaying the used refresh token: no early token, reuse detected, grant revoked.
	if _, err := p.Token(ctx, req); err == nil {
		t.Fatal("replay accepted")
	}
	if in, _ := p.lookup(ctx, resp.AccessToken); in != nil {
		t.Fatal("the grant's access token survived the replay")
	}
}
