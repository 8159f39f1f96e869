package adminapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

func TestScopes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()
		r := e.do(http.MethodPost, adminapi.Prefix+"/scopes", req{body: `{"name":"api:read","description":"Read the API"}`})
		expect(t, r, http.StatusCreated, "")
		if r.header.Get("Location") != adminapi.Prefix+"/scopes/api:read" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		expect(t, e.do(http.MethodPost, adminapi.Prefix+"/scopes", req{body: `{"name":"api:read"}`}), 409, adminapi.CodeConflict)
		eb := expect(t, e.do(http.MethodPost, adminapi.Prefix+"/scopes", req{body: `{"name":"a b"}`}), 400, adminapi.CodeValidationFailed)
		if !eb.hasField("name") {
			t.Errorf("fields %+v", eb.Fields)
		}
		// The default flag.
		yes := true
		s, err := e.client.UpdateScope(ctx, "api:read", admin.ScopePatch{Default: &yes})
		if err != nil || !s.Default || s.Description != "Read the API" {
			t.Fatalf("set default: %+v %v", s, err)
		}
		s, err = e.client.GetScope(ctx, "api:read")
		if err != nil || !s.Default {
			t.Fatalf("get: %+v %v", s, err)
		}
		// A client without a scope parameter now gets the default scope at once (the
		// provider's cache was told).
		id, secret := e.ts.CreateClient(t, storage.Client{Scopes: []string{"api:read"}})
		if !e.tokenWorks(t, id, secret) {
			t.Error("the default scope is not granted")
		}
		list, err := e.client.ListScopes(ctx)
		if err != nil || len(list) != 2 { // with gatehouse:admin
			t.Fatalf("list: %+v %v", list, err)
		}
		// In use: 409; unused: 204; missing: 404.
		expect(t, e.do(http.MethodDelete, adminapi.Prefix+"/scopes/api:read", req{}), 409, adminapi.CodeConflict)
		if _, err := e.client.CreateScope(ctx, admin.ScopeInput{Name: "tmp"}); err != nil {
			t.Fatal(err)
		}
		if err := e.client.DeleteScope(ctx, "tmp"); err != nil {
			t.Fatal(err)
		}
		if err := e.client.DeleteScope(ctx, "tmp"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("delete missing: %v", err)
		}
		expect(t, e.do(http.MethodPatch, adminapi.Prefix+"/scopes/api:read", req{body: `{"default":"yes"}`}), 400, adminapi.CodeValidationFailed)
		events, _, _ := e.admin().ListAudit(ctx, storage.AuditFilter{Actor: adminapi.ActorAdminToken + e.tokenID})
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		for _, want := range []string{admin.EventScopeCreated, admin.EventScopeUpdated, admin.EventScopeDeleted} {
			if !slices.Contains(types, want) {
				t.Errorf("no %s by the admin token: %v", want, types)
			}
		}
	})
}

func TestKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()
		keys, err := e.client.ListKeys(ctx)
		if err != nil || len(keys) == 0 {
			t.Fatalf("list: %+v %v", keys, err)
		}
		var before string
		for _, k := range keys {
			if k.Algorithm == token.ES256 && k.State == storage.KeyCurrent {
				before = k.ID
			}
		}
		// Default algorithm (the access token one) and retention.
		cur, retain, err := e.client.RotateKey(ctx, "", 0)
		if err != nil || cur.Algorithm != token.ES256 || cur.State != storage.KeyCurrent || cur.ID == before || retain != 24*time.Hour {
			t.Fatalf("rotate: %+v %s %v", cur, retain, err)
		}
		// Tokens are signed with the new key at once: a client credentials token works.
		_, _, tok := e.machineClient(t, []string{adminapi.AdminScope}, adminapi.AdminScope)
		expect(t, e.do(http.MethodGet, adminapi.Prefix+"/keys", req{token: tok}), 200, "")
		_, retain, err = e.client.RotateKey(ctx, token.ES256, 48*time.Hour)
		if err != nil || retain != 48*time.Hour {
			t.Fatalf("rotate with retain: %s %v", retain, err)
		}
		eb := expect(t, e.do(http.MethodPost, adminapi.Prefix+"/keys/rotate", req{body: `{"algorithm":"HS256"}`}), 400, adminapi.CodeValidationFailed)
		if !eb.hasField("algorithm") {
			t.Errorf("fields %+v", eb.Fields)
		}
		expect(t, e.do(http.MethodPost, adminapi.Prefix+"/keys/rotate", req{body: `{"algorithm":"RS256"}`}), 400, adminapi.CodeValidationFailed)
		expect(t, e.do(http.MethodPost, adminapi.Prefix+"/keys/rotate", req{body: `{"retain":"1h"}`}), 400, adminapi.CodeValidationFailed)
		expect(t, e.do(http.MethodPost, adminapi.Prefix+"/keys/rotate", req{body: `{"retain":"soon"}`}), 400, adminapi.CodeValidationFailed)
		events, _, _ := e.admin().ListAudit(ctx, storage.AuditFilter{Type: admin.EventKeyRotated})
		if len(events) != 2 || events[0].Actor != adminapi.ActorAdminToken+e.tokenID {
			t.Errorf("key.rotated events: %+v", events)
		}
	})
}

func TestAudit(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()
		t0 := e.clock.now().UTC()
		for i := range 12 {
			if _, _, err := e.client.CreateClient(ctx, admin.ClientInput{ID: fmt.Sprintf("c%02d", i), GrantTypes: []string{"client_credentials"}}); err != nil {
				t.Fatal(err)
			}
			e.clock.advance(time.Second)
		}
		t1 := e.clock.now().UTC()
		e.clock.advance(time.Second)
		if err := e.client.DeleteClient(ctx, "c03"); err != nil {
			t.Fatal(err)
		}

		// Filters.
		byType, _, err := e.client.ListAudit(ctx, adminapi.AuditQuery{Type: admin.EventClientCreated})
		if err != nil || len(byType) != 12 {
			t.Fatalf("by type: %d %v", len(byType), err)
		}
		for i := 1; i < len(byType); i++ {
			if byType[i].Time.After(byType[i-1].Time) {
				t.Fatal("not newest first")
			}
		}
		byClient, _, _ := e.client.ListAudit(ctx, adminapi.AuditQuery{ClientID: "c03"})
		if len(byClient) != 2 || byClient[0].Type != admin.EventClientDeleted {
			t.Errorf("by client: %+v", byClient)
		}
		byActor, _, _ := e.client.ListAudit(ctx, adminapi.AuditQuery{Actor: adminapi.ActorAdminToken + e.tokenID})
		if len(byActor) != 13 {
			t.Errorf("by actor: %d", len(byActor))
		}
		if other, _, _ := e.client.ListAudit(ctx, adminapi.AuditQuery{Actor: "client:nobody"}); len(other) != 0 {
			t.Errorf("other actor: %d", len(other))
		}
		window, _, _ := e.client.ListAudit(ctx, adminapi.AuditQuery{Type: admin.EventClientCreated, Since: t0.Add(3 * time.Second), Until: t1})
		if len(window) != 9 {
			t.Errorf("since/until: %d events", len(window))
		}
		e.ts.CreateUser(t, "carol", "carol's password")
		u, err := e.client.GetUser(ctx, "carol")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.RevokeSessions(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		e.session(t, u.ID)
		if _, err := e.client.RevokeSessions(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		bySubject, _, _ := e.client.ListAudit(ctx, adminapi.AuditQuery{Subject: u.ID})
		if len(bySubject) != 1 || bySubject[0].Type != admin.EventSessionRevoked || bySubject[0].Details["sessions_ended"] != "1" {
			t.Errorf("by subject: %+v", bySubject)
		}

		// Paging walks every event exactly once, newest first.
		all, _, err := e.admin().ListAudit(ctx, storage.AuditFilter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 4, 100} {
			var got []int64
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				items, next, err := e.client.ListAudit(ctx, adminapi.AuditQuery{Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range items {
					got = append(got, ev.ID)
				}
				if cursor = next; next == "" {
					break
				}
			}
			var want []int64
			for _, ev := range all {
				want = append(want, ev.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: %v, want %v", limit, got, want)
			}
		}

		// Bad filters.
		for _, q := range []string{"since=yesterday", "limit=0", "limit=1000", "cursor=xyz", "until=2020-01-01T00:00:00Z&since=2021-01-01T00:00:00Z",
			"type=" + strings.Repeat("x", 300)} {
			expect(t, e.do(http.MethodGet, adminapi.Prefix+"/audit?"+q, req{}), 400, adminapi.CodeValidationFailed)
		}
		expect(t, e.do(http.MethodGet, adminapi.Prefix+"/audit?client="+url.QueryEscape("x"), req{}), 400, adminapi.CodeInvalidRequest)
	})
}

func TestAdminTokensAPI(t *testing.T) {
	e := start(t)
	ctx := e.ctx()
	tok, value, err := e.client.CreateAdminToken(ctx, admin.AdminTokenInput{Name: "terraform", Lifetime: 24 * time.Hour})
	if err != nil || !strings.HasPrefix(value, token.PrefixAdminToken) || tok.CreatedBy != adminapi.ActorAdminToken+e.tokenID ||
		tok.ExpiresAt.IsZero() {
		t.Fatalf("create: %+v %q %v", tok, value, err)
	}
	c2 := adminapi.NewClient(e.ts.AdminURL, value, e.hc)
	list, err := c2.ListAdminTokens(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list with the new token: %+v %v", list, err)
	}
	if strings.Contains(fmt.Sprint(list), value) {
		t.Error("the list holds a token value")
	}
	for _, body := range []string{`{"name":""}`, `{"name":"x","expires_in":-5}`, `{"name":"x","expires_in":10}`, `{"name":"` + strings.Repeat("n", 101) + `"}`} {
		expect(t, e.do(http.MethodPost, adminapi.Prefix+"/admin-tokens", req{body: body}), 400, adminapi.CodeValidationFailed)
	}
	if err := e.client.RevokeAdminToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ListAdminTokens(ctx); !adminapi.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("revoked token: %v", err)
	}
	if err := e.client.RevokeAdminToken(ctx, tok.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoke twice: %v", err)
	}
	events, _, _ := e.admin().ListAudit(ctx, storage.AuditFilter{Type: admin.EventAdminTokenRevoked})
	if len(events) != 1 || events[0].Details["admin_token_id"] != tok.ID || events[0].Details["name"] != "terraform" {
		t.Errorf("revocation event: %+v", events)
	}
}
