package adminapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

func expectUnauthorized(t *testing.T, r response) {
	t.Helper()
	expect(t, r, http.StatusUnauthorized, adminapi.CodeInvalidToken)
	if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") || !strings.Contains(h, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", h)
	}
}

func expectForbidden(t *testing.T, r response) {
	t.Helper()
	expect(t, r, http.StatusForbidden, adminapi.CodeInsufficientScope)
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, adminapi.AdminScope) {
		t.Errorf("WWW-Authenticate %q", h)
	}
}

func TestAuthRefused(t *testing.T) {
	e := start(t)
	opaque, err := token.NewOpaque(token.PrefixAdminToken)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]req{
		"no token":               {token: "-"},
		"garbage":                {token: "not-a-token"},
		"unknown admin token":    {token: opaque},
		"bad checksum":           {token: e.token[:len(e.token)-1] + otherChar(e.token[len(e.token)-1])},
		"basic scheme":           {token: "-", header: map[string]string{"Authorization": "Basic YTpi"}},
		"empty bearer":           {token: "-", header: map[string]string{"Authorization": "Bearer "}},
		"forged JWT":             {token: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		"overlong":               {token: strings.Repeat("a", 9000)},
		"admin token, lowercase": {token: strings.ToLower(e.token)},
	} {
		t.Run(name, func(t *testing.T) {
			expectUnauthorized(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", r))
		})
	}
	// Unknown routes and wrong methods answer 401 too: nothing is learnt without a token.
	expectUnauthorized(t, e.do(http.MethodGet, adminapi.Prefix+"/nope", req{token: "-"}))
	expectUnauthorized(t, e.do(http.MethodPut, adminapi.Prefix+"/clients", req{token: "-"}))
	// Nothing was written for the refused requests.
	if list, _, err := e.admin().ListAudit(e.ctx(), storage.AuditFilter{}); err != nil || len(list) != 2 {
		t.Errorf("audit after refusals: %d events (want the token and scope creation), %v", len(list), err)
	}
}

func TestAdminTokenExpiryRevocationAndLastUsed(t *testing.T) {
	e := start(t)
	adm := e.admin()
	tok, value, err := adm.CreateAdminToken(e.ctx(), admin.AdminTokenInput{Name: "short", Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, e.do(http.MethodGet, adminapi.Prefix+"/scopes", req{token: value}), http.StatusOK, "")
	list, err := adm.ListAdminTokens(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	var first time.Time
	for _, l := range list {
		if l.ID == tok.ID {
			first = l.LastUsedAt
		}
	}
	if first.IsZero() {
		t.Fatal("last use not recorded")
	}
	// Used again within the minute: not written again.
	e.clock.advance(30 * time.Second)
	expect(t, e.do(http.MethodGet, adminapi.Prefix+"/scopes", req{token: value}), http.StatusOK, "")
	if got := lastUsed(t, e, tok.ID); !got.Equal(first) {
		t.Errorf("last use rewritten within a minute: %v then %v", first, got)
	}
	e.clock.advance(time.Minute)
	expect(t, e.do(http.MethodGet, adminapi.Prefix+"/scopes", req{token: value}), http.StatusOK, "")
	if got := lastUsed(t, e, tok.ID); !got.After(first) {
		t.Errorf("last use not recorded after a minute: %v then %v", first, got)
	}
	// Expired.
	e.clock.advance(time.Hour)
	expectUnauthorized(t, e.do(http.MethodGet, adminapi.Prefix+"/scopes", req{token: value}))
	// Revoked.
	_, value2, err := adm.CreateAdminToken(e.ctx(), admin.AdminTokenInput{Name: "revoked"})
	if err != nil {
		t.Fatal(err)
	}
	list, _ = adm.ListAdminTokens(e.ctx())
	var id2 string
	for _, l := range list {
		if l.Name == "revoked" {
			id2 = l.ID
		}
	}
	expect(t, e.do(http.MethodDelete, adminapi.Prefix+"/admin-tokens/"+id2, req{}), http.StatusNoContent, "")
	expectUnauthorized(t, e.do(http.MethodGet, adminapi.Prefix+"/scopes", req{token: value2}))
}

func lastUsed(t *testing.T, e *env, id string) time.Time {
	t.Helper()
	list, err := e.admin().ListAdminTokens(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.ID == id {
			return l.LastUsedAt
		}
	}
	t.Fatalf("admin token %s gone", id)
	return time.Time{}
}

// TestClientCredentialsTokens: an access token of a client with gatehouse:admin works, with
// the client as the audit actor; without the scope it is 403; a user's token is 403, a
// personal access token 401.
func TestClientCredentialsTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		e.ts.CreateScope(t, storage.Scope{Name: "api:read"})

		// With the scope: works, and changes are audited as the client.
		adminID, _, adminTok := e.machineClient(t, []string{adminapi.AdminScope, "api:read"}, adminapi.AdminScope)
		c := adminapi.NewClient(e.ts.AdminURL, adminTok, e.hc)
		s, err := c.CreateScope(e.ctx(), admin.ScopeInput{Name: "made-by-client"})
		if err != nil {
			t.Fatalf("client with %s: %v", adminapi.AdminScope, err)
		}
		events, _, err := e.admin().ListAudit(e.ctx(), storage.AuditFilter{Type: admin.EventScopeCreated})
		if err != nil || len(events) == 0 || events[0].Actor != "client:"+adminID || events[0].Details["scope"] != s.Name {
			t.Fatalf("audit of the client's change: %+v, %v", events, err)
		}

		// Allowed the scope but did not ask for it: 403.
		_, _, plain := e.machineClient(t, []string{adminapi.AdminScope, "api:read"}, "api:read")
		expectForbidden(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: plain}))

		// Not allowed the scope at all: 403.
		_, _, other := e.machineClient(t, []string{"api:read"}, "api:read")
		expectForbidden(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: other}))

		// The scope taken away from the client: its tokens stop working at once.
		if _, _, err := e.admin().UpdateClient(e.ctx(), adminID, admin.ClientPatch{Scopes: &[]string{"api:read"}}); err != nil {
			t.Fatal(err)
		}
		expectForbidden(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: adminTok}))

		// A deleted client's token: 401.
		id2, _, tok2 := e.machineClient(t, []string{adminapi.AdminScope}, adminapi.AdminScope)
		expect(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: tok2}), http.StatusOK, "")
		if err := e.admin().DeleteClient(e.ctx(), id2); err != nil {
			t.Fatal(err)
		}
		expectUnauthorized(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: tok2}))

		// A token issued for a user (password grant), even with the scope: 403.
		e.ts.CreateUser(t, "alice", "correct horse battery")
		pid, psecret := e.ts.CreateClient(t, storage.Client{GrantTypes: []string{oauth.GrantPassword}, Scopes: []string{adminapi.AdminScope}})
		cfg := oauth2.Config{ClientID: pid, ClientSecret: psecret, Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader}, Scopes: []string{adminapi.AdminScope}}
		ctx := context.WithValue(e.ctx(), oauth2.HTTPClient, e.ts.Client)
		ut, err := cfg.PasswordCredentialsToken(ctx, "alice", "correct horse battery")
		if err != nil {
			t.Fatalf("password grant: %v", err)
		}
		expectForbidden(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: ut.AccessToken}))

		// A personal access token of a user: 401 (not an access token of a client).
		_, pat, err := e.admin().CreatePersonalToken(e.ctx(), admin.PersonalTokenInput{User: "alice", Name: "x", Scopes: []string{"api:read"}})
		if err != nil {
			t.Fatal(err)
		}
		expectUnauthorized(t, e.do(http.MethodGet, adminapi.Prefix+"/clients", req{token: pat}))

		// An admin token's changes are audited as the admin token.
		if _, err := e.client.CreateScope(e.ctx(), admin.ScopeInput{Name: "made-by-token"}); err != nil {
			t.Fatal(err)
		}
		events, _, _ = e.admin().ListAudit(e.ctx(), storage.AuditFilter{Type: admin.EventScopeCreated, Actor: adminapi.ActorAdminToken + e.tokenID})
		if len(events) != 1 || events[0].Details["scope"] != "made-by-token" {
			t.Errorf("audit of the admin token's change: %+v", events)
		}
	})
}

// TestClientErrors: the Client maps API errors back to the admin and storage errors.
func TestClientErrors(t *testing.T) {
	e := start(t)
	ctx := e.ctx()
	_, err := e.client.GetClient(ctx, "nope")
	if !errors.Is(err, storage.ErrNotFound) || !adminapi.IsStatus(err, http.StatusNotFound) {
		t.Errorf("missing client: %v", err)
	}
	_, _, err = e.client.CreateClient(ctx, admin.ClientInput{ID: "x", GrantTypes: []string{"bogus"}})
	var ve admin.ValidationErrors
	if !errors.As(err, &ve) || len(ve) == 0 || ve[0].Field != "grant_types[0]" {
		t.Errorf("validation: %v", err)
	}
	if _, _, err := e.client.CreateClient(ctx, admin.ClientInput{ID: "dup", GrantTypes: []string{"client_credentials"}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.client.CreateClient(ctx, admin.ClientInput{ID: "dup", GrantTypes: []string{"client_credentials"}})
	if !errors.Is(err, storage.ErrConflict) || !adminapi.IsStatus(err, http.StatusConflict) {
		t.Errorf("duplicate: %v", err)
	}
	bad := adminapi.NewClient(e.ts.AdminURL, "wrong", e.hc)
	_, err = bad.ListScopes(ctx)
	var ae *adminapi.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != adminapi.CodeInvalidToken {
		t.Errorf("bad token: %v", err)
	}
	// A server that is not there.
	gone := adminapi.NewClient("http://127.0.0.1:1", e.token, nil)
	if _, err := gone.ListScopes(context.Background()); err == nil {
		t.Error("no error from an unreachable server")
	}
}

// otherChar returns a base64url character other than c.
func otherChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
