package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// TestPersonalAccessTokenCallsProtectedAPI is the end to end: a personal access token
// created on /account calls an API protected by package bearer, which checks it by
// introspection. The API is the one of examples/protected-api, whose handler cannot be
// imported (package main): its bearer setup is repeated here.
func TestPersonalAccessTokenCallsProtectedAPI(t *testing.T) {
	f := newFlowEnv(t)
	f.CreateScope(t, storage.Scope{Name: "invoices:read", Description: "Read invoices"})
	// The API's introspection credentials: a confidential client (any grant will do).
	apiID, apiSecret := f.CreateClient(t, storage.Client{ID: "invoices-api", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"invoices:read"}})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := bearer.New(ctx, bearer.Config{Issuer: f.URL, Audience: f.URL,
		IntrospectionClientID: apiID, IntrospectionClientSecret: apiSecret, HTTPClient: f.Client})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /invoices", v.Middleware(bearer.RequireScope("invoices:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			c, _ := bearer.FromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"subject": c.Subject, "scopes": c.Scopes})
		}))))
	api := httptest.NewServer(mux)
	defer api.Close()

	a := f.newAgent(t)
	a.signIn()
	csrf := hidden(page(t, a.get("/account"), http.StatusOK).body).Get("csrf")
	pat := patFromPage(t, page(t, createPAT(a, csrf, "invoices script", "7", "invoices:read"), http.StatusOK).body)
	readOnly := patFromPage(t, page(t, createPAT(a, csrf, "other", "7", "read"), http.StatusOK).body)

	call := func(tok string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/invoices", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := call(pat)
	if status != http.StatusOK || body["subject"] != f.user.ID {
		t.Fatalf("API with the personal token: %d %v", status, body)
	}
	if status, _ := call(readOnly); status != http.StatusForbidden {
		t.Errorf("API with a token without the scope: %d", status)
	}
	if status, _ := call("ghp_not-a-token"); status != http.StatusUnauthorized {
		t.Errorf("API with garbage: %d", status)
	}
}
