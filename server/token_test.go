package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func TestClientCredentialsJWT(t *testing.T) {
	e := newEnv(t)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: e.clientID, ClientSecret: e.secret,
			TokenURL: e.URL + "/oauth2/token", Scopes: []string{"read", "write"}, AuthStyle: style}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("auth style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken != "" {
			t.Errorf("token_type %q refresh %q", tok.TokenType, tok.RefreshToken)
		}
		if got := tok.Extra("scope"); got != "read write" {
			t.Errorf("scope = %v", got)
		}
		if ttl := time.Until(tok.Expiry); ttl < 59*time.Minute || ttl > 61*time.Minute {
			t.Errorf("expires in %v", ttl)
		}
		kid, c := e.verifyJWT(t, tok.AccessToken)
		if kid == "" {
			t.Error("no kid")
		}
		if c.Issuer != e.URL || c.Subject != e.clientID || c.ClientID != e.clientID || c.Scope != "read write" {
			t.Errorf("claims %+v", c)
		}
		if !slices.Equal([]string(c.Audience), []string{e.URL}) {
			t.Errorf("aud = %v", c.Audience)
		}
		if c.ID == "" || c.Expiry == nil || c.IssuedAt == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) != time.Hour {
			t.Errorf("jti/exp/iat %+v", c.Claims)
		}
	}
}

func TestTokenResponseHeaders(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/oauth2/token", "grant_type=client_credentials&scope=read", e.clientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for k, want := range map[string]string{
		"Cache-Control":           "no-store",
		"Pragma":                  "no-cache",
		"Content-Type":            "application/json;charset=UTF-8",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("token endpoint sends CORS header %q", got)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	m := r.json(t)
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["scope"] != "read" {
		t.Errorf("body %s", r.body)
	}
	if _, ok := m["refresh_token"]; ok {
		t.Error("client credentials returned a refresh token")
	}
}

func TestOpaqueClient(t *testing.T) {
	e := newEnv(t)
	id, secret := e.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
		TokenFormat: storage.TokenFormatOpaque})
	tok := e.token(t, id, secret, "read")
	if !strings.HasPrefix(tok, "gha_") || strings.Count(tok, ".") != 0 {
		t.Fatalf("not an opaque token: %q", tok)
	}
	m := e.introspect(t, tok)
	if m["active"] != true || m["client_id"] != id || m["scope"] != "read" || m["token_type"] != "Bearer" {
		t.Errorf("introspection %v", m)
	}
}

func TestDefaultScope(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/oauth2/token", "grant_type=client_credentials", e.clientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := r.json(t)["scope"]; got != "read" {
		t.Errorf("scope = %v, want the default scope read", got)
	}
}

func TestTokenErrors(t *testing.T) {
	e := newEnv(t)
	noGrant, noGrantSecret := e.CreateClient(t, storage.Client{ID: "no-grant", Scopes: []string{"read"},
		GrantTypes: []string{"authorization_code"}})
	noDefault, noDefaultSecret := e.CreateClient(t, storage.Client{ID: "no-default", Scopes: []string{"write"}})
	cc := "grant_type=client_credentials"
	tests := []struct {
		name            string
		body            string
		id, secret      string // Basic credentials
		status          int
		code            string
		wwwAuthenticate bool
	}{
		{"wrong secret", cc, e.clientID, "ghs_wrong", 401, "invalid_client", true},
		{"wrong secret in body", cc + "&client_id=svc&client_secret=nope", "", "", 401, "invalid_client", true},
		{"unknown client", cc, "nobody", "secret", 401, "invalid_client", true},
		{"missing credentials", cc, "", "", 401, "invalid_client", true},
		{"client_id only", cc + "&client_id=svc", "", "", 401, "invalid_client", true},
		{"unknown grant", "grant_type=urn:example:magic", e.clientID, e.secret, 400, "unsupported_grant_type", false},
		{"password grant", "grant_type=password&username=a&password=b", e.clientID, e.secret, 400, "unsupported_grant_type", false},
		{"missing grant", "scope=read", e.clientID, e.secret, 400, "invalid_request", false},
		{"grant not allowed", cc, noGrant, noGrantSecret, 400, "unauthorized_client", false},
		{"scope not allowed", cc + "&scope=admin", e.clientID, e.secret, 400, "invalid_scope", false},
		{"unknown scope", cc + "&scope=nonexistent", e.clientID, e.secret, 400, "invalid_scope", false},
		{"bad scope syntax", cc + "&scope=%22quoted%22", e.clientID, e.secret, 400, "invalid_scope", false},
		{"no scope no default", cc, noDefault, noDefaultSecret, 400, "invalid_scope", false},
		{"duplicated parameter", cc + "&scope=read&scope=write", e.clientID, e.secret, 400, "invalid_request", false},
		{"duplicated grant_type", cc + "&" + cc, e.clientID, e.secret, 400, "invalid_request", false},
		{"basic and client_secret", cc + "&client_secret=" + url.QueryEscape(e.secret), e.clientID, e.secret, 400, "invalid_request", false},
		{"malformed body", cc + "&scope=%zz", e.clientID, e.secret, 400, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, "/oauth2/token", tt.body, tt.id, tt.secret)
			wantError(t, r, tt.status, tt.code)
			if has := r.header.Get("WWW-Authenticate") != ""; has != tt.wwwAuthenticate {
				t.Errorf("WWW-Authenticate present = %v", has)
			}
		})
	}
}
