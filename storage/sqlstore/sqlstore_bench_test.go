package sqlstore

import (
	"context"
	"crypto/sha256"
	"errors"
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
	// The single-use hot paths: each iteration consumes a fresh code or refresh token, from
	// batches written with the timer stopped.
	const batch = 1000
	refill := func(b *testing.B, s *Store, round int, write func(tx storage.Store, i int) error) {
		b.Helper()
		b.StopTimer()
		defer b.StartTimer()
		err := s.InTx(ctx, func(tx storage.Store) error {
			for i := range batch {
				if err := write(tx, round*batch+i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	writeCode := func(tx storage.Store, i int) error {
		return tx.CreateCode(ctx, storage.AuthCode{Hash: benchHash(-i - 1), GrantID: "grant-" + strconv.Itoa(i),
			ClientID: "bench", UserID: "alice", RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid", "profile"}, CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			CodeChallengeMethod: "S256", Nonce: "n-0S6_WzA2Mj", AuthTime: now, SessionID: "sess",
			IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	}
	writeRefresh := func(tx storage.Store, i int) error {
		return tx.CreateToken(ctx, storage.Token{ID: "rt-" + strconv.Itoa(i), Hash: benchHash(-i - 1),
			Kind: storage.KindRefresh, ClientID: "bench", Subject: "alice", Scopes: []string{"openid"},
			GrantID: "grant", AuthTime: now, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	b.Run("ConsumeCode", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%batch == 0 {
				refill(b, s, i/batch, writeCode)
			}
			if _, err := s.ConsumeCode(ctx, benchHash(-i-1), now); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("ConsumeCodeReplayed", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		refill(b, s, 0, writeCode)
		if _, err := s.ConsumeCode(ctx, benchHash(-1), now); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ConsumeCode(ctx, benchHash(-1), now); !errors.Is(err, storage.ErrAlreadyUsed) {
				b.Fatal(err)
			}
		}
	})
	b.Run("UseToken", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%batch == 0 {
				refill(b, s, i/batch, writeRefresh)
			}
			if _, err := s.UseToken(ctx, benchHash(-i-1), now); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	// RotateRefresh is what the refresh grant writes: use the old token and store the new
	// one, in one transaction.
	b.Run("RotateRefresh", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%batch == 0 {
				refill(b, s, i/batch, writeRefresh)
			}
			err := s.InTx(ctx, func(tx storage.Store) error {
				old, err := tx.UseToken(ctx, benchHash(-i-1), now)
				if err != nil {
					return err
				}
				next := old
				next.ID, next.Hash, next.UsedAt = "next-"+strconv.Itoa(i), benchHash(1_000_000+i), time.Time{}
				return tx.CreateToken(ctx, next)
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
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
