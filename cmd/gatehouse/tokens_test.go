package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

var (
	createdTokenRe = regexp.MustCompile(`(?m)^Created personal access token "ci" \(ID (\S+)\) for user alice\.$`)
	tokenRe        = regexp.MustCompile(`(?m)^Token: (ghp_\S+)$`)
)

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d": 24 * time.Hour, "720h": 720 * time.Hour, " 7d ": 7 * 24 * time.Hour} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "0d", "-1d", "1.5d", "30", "soon", "-5h", "999999999d"} {
		if _, err := parseLifetime(in); err == nil {
			t.Errorf("parseLifetime(%q) accepted", in)
		}
	}
}

func TestTokens(t *testing.T) {
	e := newTestEnv(t)
	e.ok(t, "scopes", "create", "api:read")
	e.ok(t, "scopes", "create", "api:write")
	e.ok(t, "users", "create", "--username", "alice", "--password", "correct horse battery")
	e.ok(t, "users", "create", "--username", "bob", "--password", "correct horse battery")
	alice := e.user(t, "alice")

	out := e.ok(t, "tokens", "list", "--user", "alice")
	if !strings.Contains(out, "No personal access tokens.") {
		t.Errorf("empty list:\n%s", out)
	}

	// create prints the value once, with its note.
	out = e.ok(t, "tokens", "create", "--user", "alice", "--name", "ci", "--scope", "api:read", "--expires", "30d")
	id := match(t, createdTokenRe, out)
	value := match(t, tokenRe, out)
	if !token.CheckOpaque(value, token.PrefixPersonal) || !strings.Contains(out, "will not be shown again") {
		t.Fatalf("create output:\n%s", out)
	}
	stored, err := e.store(t).GetTokenByHash(context.Background(), token.Hash(value))
	if err != nil || stored.ID != id || stored.Kind != storage.KindPersonal || stored.Subject != alice.ID ||
		stored.ExpiresAt.Sub(stored.IssuedAt) != 30*24*time.Hour || stored.ClientID != "" {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	if len(stored.Audience) != 1 || !strings.HasPrefix(stored.Audience[0], "http://") {
		t.Errorf("audience = %v, want the issuer", stored.Audience)
	}

	// --json carries the value; the note goes to standard error.
	var created tokenView
	e.jsonOK(t, &created, "tokens", "create", "--user", alice.ID, "--name", "deploy", "--scope", "api:read api:write", "--expires", "7d")
	if created.ID == "" || !strings.HasPrefix(created.Token, "ghp_") || created.UserID != alice.ID ||
		strings.Join(created.Scopes, " ") != "api:read api:write" || created.LastUsedAt != nil ||
		created.ExpiresAt.Sub(created.CreatedAt) != 7*24*time.Hour {
		t.Fatalf("json create = %+v", created)
	}

	// Refused: an OIDC scope, an unknown scope, too long, a bad duration, an unknown user, no name.
	for _, args := range [][]string{
		{"--user", "alice", "--name", "x", "--scope", "openid"},
		{"--user", "alice", "--name", "x", "--scope", "nope"},
		{"--user", "alice", "--name", "x", "--scope", "api:read", "--expires", "366d"},
		{"--user", "alice", "--name", "x", "--scope", "api:read", "--expires", "soon"},
		{"--user", "nobody", "--name", "x", "--scope", "api:read"},
		{"--user", "alice", "--scope", "api:read"},
	} {
		if out, _, err := e.run(t, append([]string{"tokens", "create"}, args...)...); err == nil || strings.Contains(out, "ghp_") {
			t.Errorf("tokens create %v: err %v, out %s", args, err, out)
		}
	}

	out = e.ok(t, "tokens", "list", "--user", "alice")
	if !strings.Contains(out, "ID") || !strings.Contains(out, "LAST USED") || !strings.Contains(out, id) ||
		!strings.Contains(out, created.ID) || strings.Contains(out, "ghp_") {
		t.Errorf("list:\n%s", out)
	}
	var list []tokenView
	e.jsonOK(t, &list, "tokens", "list", "--user", "alice")
	if len(list) != 2 {
		t.Fatalf("json list = %+v", list)
	}
	for _, v := range list {
		if v.ID != id && v.ID != created.ID || v.Token != "" || v.Name != "ci" && v.Name != "deploy" {
			t.Errorf("json list item = %+v", v)
		}
	}

	// revoke: not as another user's; by --user, and without it.
	if _, _, err := e.run(t, "tokens", "revoke", id, "--user", "bob"); err == nil {
		t.Error("revoked alice's token as bob's")
	}
	out = e.ok(t, "tokens", "revoke", id, "--user", "alice")
	if !strings.Contains(out, "Revoked personal access token") || !strings.Contains(out, id) {
		t.Errorf("revoke output:\n%s", out)
	}
	var revoked map[string]any
	e.jsonOK(t, &revoked, "tokens", "revoke", created.ID)
	if revoked["id"] != created.ID || revoked["revoked"] != true || revoked["user_id"] != alice.ID {
		t.Errorf("json revoke = %v", revoked)
	}
	if _, _, err := e.run(t, "tokens", "revoke", id); err == nil {
		t.Error("revoked twice")
	}
	if out := e.ok(t, "tokens", "list", "--user", "alice"); !strings.Contains(out, "No personal access tokens.") {
		t.Errorf("list after revoking:\n%s", out)
	}
	after, err := e.store(t).GetTokenByHash(context.Background(), token.Hash(value))
	if err != nil || after.RevokedAt.IsZero() {
		t.Fatalf("after revoke = %+v, %v", after, err)
	}
}
