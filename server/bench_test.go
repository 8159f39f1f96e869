package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// BenchmarkTokenEndpoint runs client credentials requests through the public handler (no
// network), with a JSON access log, as in production.
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, format := range []string{storage.TokenFormatJWT, storage.TokenFormatOpaque} {
		b.Run(format, func(b *testing.B) {
			ts := servertest.Start(b, servertest.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
			ts.CreateScope(b, storage.Scope{Name: "read", Default: true})
			id, secret := ts.CreateClient(b, storage.Client{Scopes: []string{"read"}, TokenFormat: format})
			h := ts.Server.Public()
			body := "grant_type=client_credentials&scope=read"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(id, secret)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
