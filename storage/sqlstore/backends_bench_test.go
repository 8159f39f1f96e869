package sqlstore

import (
	"context"
	"crypto/sha256"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
)

// BenchmarkBackends runs each storage operation of the request paths on every backend side
// by side: the memory store (the floor: no database), SQLite and PostgreSQL (skipped when
// 127.0.0.1:5432 does not answer). Reads are what the token, introspection and browser paths
// do on every request that misses a cache; writes are what each grant records.
//
//	go test -run '^$' -bench Backends -benchmem ./storage/sqlstore/
//	go test -run '^$' -bench 'Backends/sqlite/' -benchmem ./storage/sqlstore/
func BenchmarkBackends(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) storage.Store
	}{
		{"memory", func(b *testing.B) storage.Store {
			s := memory.New()
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"sqlite", func(b *testing.B) storage.Store { return openSQLiteStore(b) }},
		{"postgres", func(b *testing.B) storage.Store { return openPostgresStore(b) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { benchOps(b, be.open) })
	}
}

// opsSeeded is the number of tokens, revocations and sessions written before each benchmark.
const opsSeeded = 1000

func opsHash(prefix string, i int) []byte {
	h := sha256.Sum256([]byte(prefix + strconv.Itoa(i)))
	return h[:]
}

// opsSeed writes a client, a scope catalogue, a user, a consent, signing keys, and
// opsSeeded refresh tokens, revoked JTIs and sessions.
func opsSeed(b *testing.B, s storage.Store, now time.Time) {
	b.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx storage.Store) error {
		if err := tx.CreateClient(ctx, storage.Client{ID: "bench", Name: "Bench",
			SecretHash:   "sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
			GrantTypes:   []string{"client_credentials", "authorization_code", "refresh_token"},
			Scopes:       []string{"openid", "profile", "api:read"},
			RedirectURIs: []string{"https://app.example/cb"}, TokenFormat: storage.TokenFormatJWT,
			CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for _, name := range []string{"api:read", "api:write", "reports:read", "reports:write", "admin"} {
			if err := tx.CreateScope(ctx, storage.Scope{Name: name, Description: "Scope " + name, CreatedAt: now}); err != nil {
				return err
			}
		}
		if err := tx.CreateUser(ctx, storage.User{ID: "user-1", Username: "alice", Email: "alice@example.com",
			Name: "Alice Example", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
			CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.PutConsent(ctx, storage.Consent{UserID: "user-1", ClientID: "bench",
			Scopes: []string{"openid", "profile", "api:read"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for i, alg := range []string{"ES256", "RS256"} {
			if err := tx.CreateKey(ctx, storage.SigningKey{ID: "kid-" + alg, Algorithm: alg, State: storage.KeyCurrent,
				Sealed: make([]byte, 180), Public: make([]byte, 91), CreatedAt: now.Add(time.Duration(i) * time.Second)}); err != nil {
				return err
			}
		}
		for i := range opsSeeded {
			if err := tx.CreateToken(ctx, storage.Token{ID: "seed-" + strconv.Itoa(i), Hash: opsHash("rt", i),
				Kind: storage.KindRefresh, ClientID: "bench", Subject: "user-1", Scopes: []string{"openid"},
				GrantID: "grant-" + strconv.Itoa(i), IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.RevokeJTI(ctx, storage.Revocation{JTI: "jti-" + strconv.Itoa(i), ClientID: "bench",
				ExpiresAt: now.Add(time.Hour), RevokedAt: now}); err != nil {
				return err
			}
			if err := tx.CreateSession(ctx, storage.Session{ID: "sess-" + strconv.Itoa(i), Hash: opsHash("sess", i),
				UserID: "user-1", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
				UserAgent: "Mozilla/5.0", IP: "127.0.0.1"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchOps(b *testing.B, open func(b *testing.B) storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	// run opens and seeds a store, then measures op.
	run := func(name string, op func(b *testing.B, s storage.Store)) {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			opsSeed(b, s, now)
			b.ReportAllocs()
			b.ResetTimer()
			op(b, s)
		})
	}
	check := func(b *testing.B, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}

	// Reads.
	run("GetClient", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			_, err := s.GetClient(ctx, "bench")
			check(b, err)
		}
	})
	run("ListScopes", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			_, err := s.ListScopes(ctx)
			check(b, err)
		}
	})
	run("GetUser", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			_, err := s.GetUser(ctx, "user-1")
			check(b, err)
		}
	})
	run("GetUserByUsername", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			_, err := s.GetUserByUsername(ctx, "alice")
			check(b, err)
		}
	})
	run("GetTokenByHash", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			_, err := s.GetTokenByHash(ctx, opsHash("rt", i%opsSeeded))
			check(b, err)
			i++
		}
	})
	run("IsRevokedMiss", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			revoked, err := s.IsRevoked(ctx, "not-revoked")
			if err != nil || revoked {
				b.Fatal(revoked, err)
			}
		}
	})
	run("GetSessionByHash", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			_, err := s.GetSessionByHash(ctx, opsHash("sess", i%opsSeeded))
			check(b, err)
			i++
		}
	})
	run("GetConsent", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			_, err := s.GetConsent(ctx, "user-1", "bench")
			check(b, err)
		}
	})
	run("ListKeys", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			_, err := s.ListKeys(ctx)
			check(b, err)
		}
	})
	run("Ping", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			check(b, s.Ping(ctx))
		}
	})
	run("GetClientParallel", func(b *testing.B, s storage.Store) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetClient(ctx, "bench"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})

	// Writes.
	run("InTxEmpty", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			check(b, s.InTx(ctx, func(storage.Store) error { return nil }))
		}
	})
	// CreateAccessToken is the row an opaque access token adds (client credentials).
	run("CreateAccessToken", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			i++
			check(b, s.CreateToken(ctx, storage.Token{ID: "at-" + strconv.Itoa(i), Hash: opsHash("at", i),
				Kind: storage.KindAccess, ClientID: "bench", Subject: "bench", Scopes: []string{"api:read"},
				Audience: []string{"https://auth.example.com"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}))
		}
	})
	// CreateAccessTokenParallel shows the writer: SQLite serializes writes on one connection.
	run("CreateAccessTokenParallel", func(b *testing.B, s storage.Store) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if err := s.CreateToken(ctx, storage.Token{ID: "atp-" + strconv.Itoa(i), Hash: opsHash("atp", i),
					Kind: storage.KindAccess, ClientID: "bench", Subject: "bench", Scopes: []string{"api:read"},
					IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	run("RevokeJTI", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			i++
			check(b, s.RevokeJTI(ctx, storage.Revocation{JTI: "new-jti-" + strconv.Itoa(i), ClientID: "bench",
				ExpiresAt: now.Add(time.Hour), RevokedAt: now}))
		}
	})
	run("CreateCode", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			i++
			check(b, s.CreateCode(ctx, opsCode(i, now)))
		}
	})
	// ConsumeCode and RotateRefresh use one fresh code or refresh token per iteration, from
	// batches written with the timer stopped.
	const batch = 500
	refill := func(b *testing.B, s storage.Store, round int, write func(tx storage.Store, i int) error) {
		b.StopTimer()
		defer b.StartTimer()
		check(b, s.InTx(ctx, func(tx storage.Store) error {
			for i := range batch {
				if err := write(tx, round*batch+i); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	run("ConsumeCode", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			if i%batch == 0 {
				refill(b, s, i/batch, func(tx storage.Store, j int) error { return tx.CreateCode(ctx, opsCode(-j-1, now)) })
			}
			_, err := s.ConsumeCode(ctx, opsHash("code", -i-1), now)
			check(b, err)
			i++
		}
	})
	run("RotateRefresh", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			if i%batch == 0 {
				refill(b, s, i/batch, func(tx storage.Store, j int) error {
					return tx.CreateToken(ctx, storage.Token{ID: "old-" + strconv.Itoa(j), Hash: opsHash("old", j),
						Kind: storage.KindRefresh, ClientID: "bench", Subject: "user-1", Scopes: []string{"api:read"},
						GrantID: "grant", AuthTime: now, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
				})
			}
			check(b, s.InTx(ctx, func(tx storage.Store) error {
				old, err := tx.UseToken(ctx, opsHash("old", i), now)
				if err != nil {
					return err
				}
				next := old
				next.ID, next.Hash, next.UsedAt = "next-"+strconv.Itoa(i), opsHash("next", i), time.Time{}
				return tx.CreateToken(ctx, next)
			}))
			i++
		}
	})
	run("CreateSession", func(b *testing.B, s storage.Store) {
		i := 0
		for b.Loop() {
			i++
			check(b, s.CreateSession(ctx, storage.Session{ID: "new-sess-" + strconv.Itoa(i), Hash: opsHash("new-sess", i),
				UserID: "user-1", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
				UserAgent: "Mozilla/5.0", IP: "127.0.0.1"}))
		}
	})
	run("PutConsent", func(b *testing.B, s storage.Store) {
		for b.Loop() {
			check(b, s.PutConsent(ctx, storage.Consent{UserID: "user-1", ClientID: "bench",
				Scopes: []string{"openid", "profile", "api:read"}, CreatedAt: now, UpdatedAt: now}))
		}
	})
	run("AppendAudit", func(b *testing.B, s storage.Store) {
		e := storage.AuditEvent{Time: now, Type: "login.succeeded", Actor: "user-1", Subject: "user-1", ClientID: "bench",
			Details: map[string]string{"ip": "127.0.0.1", "session_id": "sess-1"}}
		for b.Loop() {
			check(b, s.AppendAudit(ctx, e))
		}
	})
	// DeleteExpired is one janitor batch: 500 expired access tokens per iteration (written
	// with the timer stopped), deleted in one call.
	run("DeleteExpired500", func(b *testing.B, s storage.Store) {
		round := 0
		for b.Loop() {
			refill(b, s, round, func(tx storage.Store, j int) error {
				return tx.CreateToken(ctx, storage.Token{ID: "exp-" + strconv.Itoa(j), Hash: opsHash("exp", j),
					Kind: storage.KindAccess, ClientID: "bench", Subject: "bench", Scopes: []string{"api:read"},
					IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)})
			})
			round++
			n, err := s.DeleteExpired(ctx, now, batch)
			check(b, err)
			if n != batch {
				b.Fatalf("deleted %d rows, want %d", n, batch)
			}
		}
	})
}

func opsCode(i int, now time.Time) storage.AuthCode {
	return storage.AuthCode{Hash: opsHash("code", i), GrantID: "grant-" + strconv.Itoa(i), ClientID: "bench",
		UserID: "user-1", RedirectURI: "https://app.example/cb", Scopes: []string{"openid", "profile"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		Nonce: "n-0S6_WzA2Mj", AuthTime: now, SessionID: "sess-1", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
}
