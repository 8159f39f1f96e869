package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// TestOpaqueTokensGroupCommit: opaque access tokens requested concurrently are written with
// group commit (oauth/batchwrite.go); on each SQL backend every token answered is stored,
// and introspects active, and none is answered twice.
func TestOpaqueTokensGroupCommit(t *testing.T) {
	for name, opt := range map[string]func(t *testing.T) servertest.Option{
		"sqlite": func(t *testing.T) servertest.Option {
			return servertest.WithSQLite(filepath.Join(t.TempDir(), "gh.db"))
		},
		"postgres": func(*testing.T) servertest.Option { return servertest.WithPostgres() },
	} {
		t.Run(name, func(t *testing.T) {
			ts := servertest.Start(t, opt(t), servertest.WithLogger(slog.New(slog.DiscardHandler)))
			ts.CreateScope(t, storage.Scope{Name: "read", Default: true})
			id, secret := ts.CreateClient(t, storage.Client{Scopes: []string{"read"}, TokenFormat: storage.TokenFormatOpaque})
			post := func(path, body string) (int, map[string]any, error) {
				req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
				if err != nil {
					return 0, nil, err
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
				resp, err := ts.Client.Do(req)
				if err != nil {
					return 0, nil, err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return 0, nil, err
				}
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					return resp.StatusCode, nil, err
				}
				return resp.StatusCode, m, nil
			}
			const workers, each = 32, 8
			var (
				mu     sync.Mutex
				tokens = map[string]bool{}
				wg     sync.WaitGroup
			)
			for range workers {
				wg.Go(func() {
					for range each {
						status, m, err := post("/oauth2/token", "grant_type=client_credentials")
						if err != nil || status != http.StatusOK {
							t.Errorf("token: %d %v %v", status, m, err)
							return
						}
						v, _ := m["access_token"].(string)
						mu.Lock()
						if tokens[v] {
							t.Errorf("token %q answered twice", v)
						}
						tokens[v] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			if len(tokens) != workers*each {
				t.Fatalf("%d tokens, want %d", len(tokens), workers*each)
			}
			for v := range tokens {
				status, m, err := post("/oauth2/introspect", "token="+url.QueryEscape(v))
				if err != nil || status != http.StatusOK || m["active"] != true {
					t.Fatalf("introspect: %d %v %v", status, m, err)
				}
			}
		})
	}
}

// TestRefreshGroupCommit: refresh grants of many users at once share transactions (group
// commit); on each SQL backend every rotation succeeds, each new access token introspects
// active, and a replayed refresh token is refused and revokes its grant, whatever batch it
// lands in.
func TestRefreshGroupCommit(t *testing.T) {
	for name, opt := range map[string]func(t *testing.T) servertest.Option{
		"sqlite": func(t *testing.T) servertest.Option {
			return servertest.WithSQLite(filepath.Join(t.TempDir(), "gh.db"))
		},
		"postgres": func(*testing.T) servertest.Option { return servertest.WithPostgres() },
	} {
		t.Run(name, func(t *testing.T) {
			ts := servertest.Start(t, opt(t), servertest.WithLogger(slog.New(slog.DiscardHandler)))
			ts.CreateScope(t, storage.Scope{Name: "read"})
			app, _ := ts.CreateClient(t, storage.Client{Public: true, Scopes: []string{"read"},
				GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
				RedirectURIs: []string{"https://app.example/cb"}})
			rs, rsSecret := ts.CreateClient(t, storage.Client{Scopes: []string{"read"}})
			ctx := context.Background()
			const users, rotations = 24, 4
			first := make([]string, users)
			for i := range users {
				u := ts.CreateUser(t, fmt.Sprint("user", i), "pw-unused-here")
				v, err := token.NewOpaque(token.PrefixRefreshToken)
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now().UTC().Truncate(time.Second)
				if err := ts.Store.CreateToken(ctx, storage.Token{ID: fmt.Sprint("rt-", i), Hash: token.Hash(v),
					Kind: storage.KindRefresh, ClientID: app, Subject: u.ID, Scopes: []string{"read"},
					GrantID: fmt.Sprint("grant-", i), AuthTime: now, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
				first[i] = v
			}
			post := func(path, body, id, secret string) (int, map[string]any) {
				t.Helper()
				req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return 0, nil
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if secret != "" {
					req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
				}
				resp, err := ts.Client.Do(req)
				if err != nil {
					t.Error(err)
					return 0, nil
				}
				defer resp.Body.Close()
				var m map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
					t.Error(err)
				}
				return resp.StatusCode, m
			}
			refresh := func(v string) (int, map[string]any) {
				return post("/oauth2/token", "grant_type=refresh_token&client_id="+url.QueryEscape(app)+
					"&refresh_token="+url.QueryEscape(v), "", "")
			}
			last := make([]string, users)
			access := make([]string, users)
			var wg sync.WaitGroup
			for i := range users {
				wg.Go(func() {
					v := first[i]
					for range rotations {
						status, m := refresh(v)
						if status != http.StatusOK {
							t.Errorf("user %d: refresh: %d %v", i, status, m)
							return
						}
						v, _ = m["refresh_token"].(string)
						access[i], _ = m["access_token"].(string)
					}
					last[i] = v
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			for i := range users {
				if status, m := post("/oauth2/introspect", "token="+url.QueryEscape(access[i]), rs, rsSecret); status != http.StatusOK || m["active"] != true {
					t.Fatalf("user %d: access token: %d %v", i, status, m)
				}
			}
			// Replays, concurrent with good rotations: each replay is refused and revokes its
			// own grant only.
			for i := range users {
				wg.Go(func() {
					v := last[i]
					if i%2 == 1 {
						v = first[i] // used long ago
					}
					status, m := refresh(v)
					if replay := i%2 == 1; replay != (status != http.StatusOK) {
						t.Errorf("user %d (replay %v): %d %v", i, replay, status, m)
					}
				})
			}
			wg.Wait()
			for i := range users {
				status, m := post("/oauth2/introspect", "token="+url.QueryEscape(access[i]), rs, rsSecret)
				if status != http.StatusOK {
					t.Fatalf("introspect: %d %v", status, m)
				}
				if revoked := i%2 == 1; m["active"] == revoked {
					t.Errorf("user %d: access token active = %v after a replay of its grant = %v", i, m["active"], revoked)
				}
			}
		})
	}
}
