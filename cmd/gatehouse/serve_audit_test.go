package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/sqlstore"
)

// TestServeAuditTrail: serve records token.issued events off the request path and writes
// those still queued when it stops, before it closes the database; the demo's declared
// changes are recorded by their actor and logged.
func TestServeAuditTrail(t *testing.T) {
	dir := t.TempDir()
	srv := startServe(t, "--demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--admin-listen", "off")
	m := srv.waitFor(t, curlRe)
	ctx := context.Background()
	cc := clientcredentials.Config{ClientID: "demo-machine", ClientSecret: m[1], TokenURL: m[2]}
	const n = 3
	for range n {
		if _, err := cc.Token(ctx); err != nil {
			t.Fatalf("token: %v\nstderr:\n%s", err, srv.stderr)
		}
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve returned %v\nstderr:\n%s", err, srv.stderr)
	}
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "gatehouse.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	issued, err := st.ListAudit(ctx, storage.AuditFilter{Type: "token.issued"})
	if err != nil {
		t.Fatal(err)
	}
	if len(issued) != n {
		t.Fatalf("%d token.issued events after %d tokens", len(issued), n)
	}
	for _, e := range issued {
		if e.Actor != "demo-machine" || e.ClientID != "demo-machine" || e.Details["grant_type"] != "client_credentials" ||
			e.Details["jti"] == "" {
			t.Errorf("event %+v", e)
		}
	}
	created, _ := st.ListAudit(ctx, storage.AuditFilter{Type: "client.created", ClientID: "demo-machine"})
	if len(created) != 1 || created[0].Actor != "demo" {
		t.Errorf("client.created events %+v", created)
	}
	// Events are logged (at Info; token.issued only at Debug), without the secret.
	logs := srv.stderr.String()
	if !strings.Contains(logs, `"msg":"audit","type":"client.created","actor":"demo"`) {
		t.Errorf("client.created not logged:\n%s", logs)
	}
	if strings.Contains(logs, m[1]) {
		t.Error("the log holds the client secret")
	}
}
