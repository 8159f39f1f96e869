package server_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// TestSQLBackends runs the machine flow (JWT and opaque tokens, introspection, revocation)
// and the browser flow over HTTP (login, consent, code with PKCE, refresh rotation and reuse
// detection) against the real server on SQLite and on PostgreSQL: the same binary behaves
// the same on both.
func TestSQLBackends(t *testing.T) {
	for name, opt := range map[string]func(t *testing.T) servertest.Option{
		"sqlite": func(t *testing.T) servertest.Option {
			return servertest.WithSQLite(filepath.Join(t.TempDir(), "gh.db"))
		},
		"postgres": func(*testing.T) servertest.Option { return servertest.WithPostgres() },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFlowEnv(t, opt(t))

			// Machine client: JWT and opaque access tokens.
			jwtTok := f.token(t, f.clientID, f.secret, "read")
			f.verifyJWT(t, jwtTok)
			id, secret := f.CreateClient(t, storage.Client{ID: "opaque", Scopes: []string{"read"},
				TokenFormat: storage.TokenFormatOpaque})
			opaqueTok := f.token(t, id, secret)
			for _, tok := range []string{jwtTok, opaqueTok} {
				if m := f.introspect(t, tok); m["active"] != true {
					t.Errorf("introspect: %v", m)
				}
			}
			for _, rv := range []struct{ tok, id, secret string }{{opaqueTok, id, secret}, {jwtTok, f.clientID, f.secret}} {
				if r := f.post(t, "/oauth2/revoke", "token="+rv.tok, rv.id, rv.secret); r.status != http.StatusOK {
					t.Fatalf("revoke: %d %s", r.status, r.body)
				}
				if m := f.introspect(t, rv.tok); m["active"] != false {
					t.Errorf("revoked token: %v", m)
				}
			}

			// Browser: code with PKCE, then refresh rotation and reuse detection.
			a := f.newAgent(t)
			verifier := oauth2.GenerateVerifier()
			code := f.code(t, a, f.authParams(webClient, verifier))
			conf := f.oauth2Config(webClient, f.webSecret, oauth2.AuthStyleInHeader)
			tok, err := conf.Exchange(bg, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if _, err := conf.Exchange(bg, code, oauth2.VerifierOption(verifier)); err == nil {
				t.Fatal("code replay accepted")
			}
			if m := f.introspect(t, tok.AccessToken); m["active"] != false {
				t.Errorf("access token still active after code replay: %v", m)
			}
			code = f.code(t, a, f.authParams(webClient, verifier))
			if tok, err = conf.Exchange(bg, code, oauth2.VerifierOption(verifier)); err != nil {
				t.Fatalf("exchange: %v", err)
			}
			old := tok.RefreshToken
			tok.Expiry = tok.Expiry.Add(-24 * 3600e9) // force a refresh
			fresh, err := conf.TokenSource(bg, tok).Token()
			if err != nil || fresh.RefreshToken == old {
				t.Fatalf("refresh: %v (rotated: %v)", err, fresh != nil && fresh.RefreshToken != old)
			}
			stale := &oauth2.Token{RefreshToken: old}
			if _, err := conf.TokenSource(bg, stale).Token(); err == nil {
				t.Fatal("reused refresh token accepted")
			}
			if m := f.introspect(t, fresh.RefreshToken); m["active"] != false {
				t.Errorf("grant not revoked after refresh token reuse: %v", m)
			}
		})
	}
}
