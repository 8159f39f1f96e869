package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

func TestIntrospect(t *testing.T) {
	e := newEnv(t)
	opaqueID, opaqueSecret := e.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
		TokenFormat: storage.TokenFormatOpaque})
	jwtTok := e.token(t, e.clientID, e.secret, "read", "write")
	opaqueTok := e.token(t, opaqueID, opaqueSecret, "read")

	m := e.introspect(t, jwtTok)
	if m["active"] != true || m["client_id"] != e.clientID || m["sub"] != e.clientID ||
		m["scope"] != "read write" || m["iss"] != e.URL || m["token_type"] != "Bearer" || m["jti"] == "" {
		t.Errorf("JWT introspection %v", m)
	}
	if exp, iat := m["exp"].(float64), m["iat"].(float64); exp-iat != 3600 {
		t.Errorf("exp %v iat %v", exp, iat)
	}
	m = e.introspect(t, opaqueTok)
	if m["active"] != true || m["client_id"] != opaqueID || m["scope"] != "read" {
		t.Errorf("opaque introspection %v", m)
	}

	fakeOpaque, err := token.NewOpaque(token.PrefixAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	forged := jwtTok[:len(jwtTok)-4] + "AAAA"
	for name, tok := range map[string]string{
		"garbage": "not-a-token", "unknown opaque": fakeOpaque, "bad signature": forged,
		"bad checksum": opaqueTok[:len(opaqueTok)-1] + "x",
	} {
		r := e.post(t, "/oauth2/introspect", url.Values{"token": {tok}}.Encode(), e.clientID, e.secret)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		if got := string(r.body); got != "{\"active\":false}\n" {
			t.Errorf("%s: body %q, want only active=false", name, got)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Errorf("%s: caching headers %v", name, r.header)
		}
	}

	// The caller must authenticate.
	wantError(t, e.post(t, "/oauth2/introspect", "token="+opaqueTok, e.clientID, "ghs_wrong"), 401, "invalid_client")
	wantError(t, e.post(t, "/oauth2/introspect", "token="+opaqueTok, "", ""), 401, "invalid_client")
	wantError(t, e.post(t, "/oauth2/introspect", "", e.clientID, e.secret), 400, "invalid_request")
	wantError(t, e.get(t, "/oauth2/introspect"), 405, "invalid_request")
}

func TestIntrospectExpired(t *testing.T) {
	c := newClock()
	e := newEnv(t, servertestNow(c))
	opaqueID, opaqueSecret := e.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
		TokenFormat: storage.TokenFormatOpaque})
	jwtTok := e.token(t, e.clientID, e.secret)
	opaqueTok := e.token(t, opaqueID, opaqueSecret)
	c.Add(time.Hour + time.Minute)
	for _, tok := range []string{jwtTok, opaqueTok} {
		if m := e.introspect(t, tok); m["active"] != false {
			t.Errorf("expired token is active: %v", m)
		}
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	opaqueID, opaqueSecret := e.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
		TokenFormat: storage.TokenFormatOpaque})
	other := e.token(t, e.clientID, e.secret)

	for _, c := range []struct{ name, id, secret string }{
		{"jwt", e.clientID, e.secret}, {"opaque", opaqueID, opaqueSecret},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := e.token(t, c.id, c.secret)
			if m := e.introspect(t, tok); m["active"] != true {
				t.Fatalf("fresh token inactive: %v", m)
			}
			r := e.post(t, "/oauth2/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}.Encode(), c.id, c.secret)
			if r.status != http.StatusOK || len(r.body) != 0 {
				t.Fatalf("revoke: %d %q", r.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			if m := e.introspect(t, tok); m["active"] != false {
				t.Errorf("revoked token is active: %v", m)
			}
			// Revoking again is fine.
			if r := e.post(t, "/oauth2/revoke", "token="+url.QueryEscape(tok), c.id, c.secret); r.status != http.StatusOK {
				t.Errorf("second revoke: %d %s", r.status, r.body)
			}
		})
	}

	// Unknown tokens are not an error (RFC 7009 2.2).
	if r := e.post(t, "/oauth2/revoke", "token=unknown-token", e.clientID, e.secret); r.status != http.StatusOK || len(r.body) != 0 {
		t.Errorf("revoke unknown: %d %q", r.status, r.body)
	}
	// Another client's token is refused and stays active.
	wantError(t, e.post(t, "/oauth2/revoke", "token="+other, opaqueID, opaqueSecret), 400, "unauthorized_client")
	if m := e.introspect(t, other); m["active"] != true {
		t.Errorf("token revoked by another client: %v", m)
	}
	// Client authentication is required.
	wantError(t, e.post(t, "/oauth2/revoke", "token="+other, e.clientID, "ghs_wrong"), 401, "invalid_client")
	wantError(t, e.post(t, "/oauth2/revoke", "", e.clientID, e.secret), 400, "invalid_request")

	// The audit trail records the revocations.
	events, err := e.Store.ListAudit(context.Background(), storage.AuditFilter{Type: "token.revoked"})
	if err != nil {
		t.Fatal(err)
	}
	var clients []string
	for _, ev := range events {
		clients = append(clients, ev.ClientID)
	}
	slices.Sort(clients)
	if !slices.Contains(clients, e.clientID) || !slices.Contains(clients, opaqueID) {
		t.Errorf("audit events for %v", clients)
	}
}
