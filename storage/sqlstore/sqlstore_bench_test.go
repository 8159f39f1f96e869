package sqlstore

import (
	"context"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Run with: go test -run '^$' -bench . ./storage/sqlstore/

func BenchmarkSQLite(b *testing.B) {
	benchmarkStore(b, func(b *testing.B) *Store { return openSQLiteStore(b) })
}

func BenchmarkPostgres(b *testing.B) {
	benchmarkStore(b, func(b *testing.B) *Store { return openPostgresStore(b) })
}

func benchHash(i int) []byte {
	h := sha256.Sum256([]byte("ghr_bench_" + strconv.Itoa(i)))
	return h[:]
}

func benchmarkStore(b *testing.B, open func(b *testing.B) *Store) {
	ctx := context.Background()
	now := time.Now()
	seed := func(b *testing.B, s *Store) {
		b.Helper()
		if err := s.CreateClient(ctx, storage.Client{ID: "bench", Name: "Bench",
			SecretHash:   "sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
			GrantTypes:   []string{"client_credentials", "refresh_token"},
			Scopes:       []string{"openid", "profile", "api:read"},
			RedirectURIs: []string{"https://app.example/cb"}, TokenFormat: storage.TokenFormatJWT,
			CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		err := s.InTx(ctx, func(tx storage.Store) error {
			for i := range 1000 {
				if err := tx.CreateToken(ctx, storage.Token{ID: "seed-" + strconv.Itoa(i),
					Hash: benchHash(i), Kind: storage.KindRefresh, ClientID: "bench",
					Subject: "alice", Scopes: []string{"openid"}, IssuedAt: now,
					ExpiresAt: now.Add(time.Hour)}); err != nil {
					return err
				}
				if err := tx.RevokeJTI(ctx, storage.Revocation{JTI: "jti-" + strconv.Itoa(i),
					ClientID: "bench", ExpiresAt: now.Add(time.Hour), RevokedAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}

	b.Run("GetClient", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetClient(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetClientParallel", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetClient(ctx, "bench"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CreateToken", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			id := "new-" + strconv.Itoa(i)
			if err := s.CreateToken(ctx, storage.Token{ID: id, Hash: benchHash(-i),
				Kind: storage.KindRefresh, ClientID: "bench", Subject: "alice",
				Scopes: []string{"openid"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetTokenByHash", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.GetTokenByHash(ctx, benchHash(i%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IsRevoked", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		jtis := []string{"jti-1", "jti-999", "not-revoked"}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.IsRevoked(ctx, jtis[i%len(jtis)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
