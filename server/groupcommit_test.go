package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
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
