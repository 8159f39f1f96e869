package main

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

var adminTokenRe = regexp.MustCompile(`(?m)^Token: (ghm_\S+)$`)

func TestAdminTokensCommands(t *testing.T) {
	e := newTestEnv(t)
	out := e.ok(t, "admin-tokens", "create", "--name", "terraform")
	value := match(t, adminTokenRe, out)
	if !token.CheckOpaque(value, token.PrefixAdminToken) || !strings.Contains(out, "will not be shown again") {
		t.Fatalf("create printed:\n%s", out)
	}
	var created struct {
		ID, Name, Token string
		ExpiresAt       *time.Time `json:"expires_at"`
	}
	e.jsonOK(t, &created, "admin-tokens", "create", "--name", "ci", "--expires", "90d")
	if !token.CheckOpaque(created.Token, token.PrefixAdminToken) || created.ExpiresAt == nil ||
		time.Until(*created.ExpiresAt) < 89*24*time.Hour {
		t.Fatalf("create --json: %+v", created)
	}

	// Stored by hash only.
	st := e.store(t)
	stored, err := st.GetAdminTokenByHash(context.Background(), token.Hash(value))
	if err != nil || stored.Name != "terraform" || stored.CreatedBy != "cli" || !stored.ExpiresAt.IsZero() {
		t.Fatalf("stored: %+v %v", stored, err)
	}
	_ = st.Close()

	list := e.ok(t, "admin-tokens", "list")
	if !strings.Contains(list, "terraform") || !strings.Contains(list, "ci") || strings.Contains(list, value) ||
		strings.Contains(list, created.Token) || !strings.Contains(list, "never") {
		t.Errorf("list:\n%s", list)
	}
	var views []adminTokenView
	e.jsonOK(t, &views, "admin-tokens", "list")
	if len(views) != 2 || views[0].Token != "" {
		t.Errorf("list --json: %+v", views)
	}

	e.ok(t, "admin-tokens", "revoke", created.ID)
	if _, _, err := e.run(t, "admin-tokens", "revoke", created.ID); err == nil {
		t.Error("revoking twice succeeded")
	}
	if _, _, err := e.run(t, "admin-tokens", "create", "--name", "x", "--expires", "soon"); err == nil {
		t.Error("a bad --expires was accepted")
	}
	if _, _, err := e.run(t, "admin-tokens", "create"); err == nil {
		t.Error("create without --name succeeded")
	}
	if _, _, err := e.run(t, "admin-tokens", "create", "--name", ""); err == nil {
		t.Error("an empty name was accepted")
	}
}

var adminAPIIssuerRe = regexp.MustCompile(`Issuer:\s+(http://\S+)`)

// TestServeAdminAPI: serve mounts the admin API on the admin listener (only), creates the
// gatehouse:admin scope, and both an admin token made with the CLI and a client credentials
// token with that scope can use it.
func TestServeAdminAPI(t *testing.T) {
	e := newTestEnv(t)
	srv := startServe(t, "--data-dir", e.dir, "--database", e.db, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	issuer := srv.waitFor(t, adminAPIIssuerRe)[1]
	adminURL := srv.waitFor(t, adminRe)[1]
	value := match(t, adminTokenRe, e.ok(t, "admin-tokens", "create", "--name", "test"))

	ctx := context.Background()
	c := adminapi.NewClient(adminURL, value, nil)
	scopes, err := c.ListScopes(ctx)
	if err != nil {
		t.Fatalf("list scopes: %v\nstderr:\n%s", err, srv.stderr)
	}
	i := slices.IndexFunc(scopes, func(s storage.Scope) bool { return s.Name == adminapi.AdminScope })
	if i < 0 || scopes[i].Default {
		t.Fatalf("scopes: %+v", scopes)
	}
	cl, secret, err := c.CreateClient(ctx, admin.ClientInput{Name: "automation", GrantTypes: []string{"client_credentials"},
		Scopes: []string{adminapi.AdminScope}})
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: cl.ID, ClientSecret: secret, TokenURL: issuer + "/oauth2/token",
		Scopes: []string{adminapi.AdminScope}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byClient := adminapi.NewClient(adminURL, tok.AccessToken, nil)
	if _, err := byClient.ListKeys(ctx); err != nil {
		t.Errorf("client credentials token: %v", err)
	}
	events, _, err := c.ListAudit(ctx, adminapi.AuditQuery{Type: admin.EventClientCreated, ClientID: cl.ID})
	if err != nil || len(events) != 1 || !strings.HasPrefix(events[0].Actor, adminapi.ActorAdminToken) {
		t.Errorf("audit: %+v %v", events, err)
	}

	// Not on the public listener.
	for _, path := range []string{"/admin/api/v1/scopes", "/admin/openapi.json"} {
		req, _ := http.NewRequest(http.MethodGet, issuer+path, nil)
		req.Header.Set("Authorization", "Bearer "+value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(adminURL + "/admin/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin /admin/openapi.json: %d", resp.StatusCode)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(srv.stderr.String(), value) || strings.Contains(srv.stderr.String(), secret) {
		t.Error("the logs hold a token or secret")
	}
}
