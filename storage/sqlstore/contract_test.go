package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// runContract checks what the backends must get right in SQL: round trips (times, NULLs, nil
// and empty lists, booleans, bytes), error mapping, transactions and batched deletes.
func runContract(t *testing.T, open func(t *testing.T) *Store) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	us := func(tm time.Time) time.Time { return tm.UTC().Truncate(time.Microsecond) }

	t.Run("ClientRoundTrip", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		c := storage.Client{
			ID: "c1", Name: "One", SecretHash: "sha256$abc", Public: false, Trusted: true,
			GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{},
			RedirectURIs: []string{"https://a.example/cb"}, TokenFormat: storage.TokenFormatJWT,
			Declared: true, CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
		}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetClient(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		want := c
		want.CreatedAt, want.UpdatedAt, want.Version = us(c.CreatedAt), us(c.UpdatedAt), 1
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("GetClient:\n got %+v\nwant %+v", got, want)
		}
		if got.PostLogoutRedirectURIs != nil || got.Scopes == nil {
			t.Fatalf("nil and empty lists not kept apart: %#v %#v", got.PostLogoutRedirectURIs, got.Scopes)
		}
		if err := s.CreateClient(ctx, c); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate CreateClient: %v, want ErrConflict", err)
		}
		if _, err := s.GetClient(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetClient(nope): %v, want ErrNotFound", err)
		}
		c.Name, c.Public, c.Trusted, c.CreatedAt = "Uno", true, false, time.Time{}
		if err := s.UpdateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetClient(ctx, "c1")
		if got.Name != "Uno" || !got.Public || got.Trusted || !got.CreatedAt.Equal(us(t0)) {
			t.Fatalf("after update: %+v", got)
		}
		if err := s.UpdateClient(ctx, storage.Client{ID: "nope"}); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateClient(nope): %v", err)
		}
		if err := s.CreateClient(ctx, storage.Client{ID: "a0"}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListClients(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "a0" || list[1].ID != "c1" {
			t.Fatalf("ListClients: %v %+v", err, list)
		}
		if !list[0].CreatedAt.IsZero() || list[0].GrantTypes != nil {
			t.Fatalf("zero client did not round-trip: %+v", list[0])
		}
		tok := storage.Token{ID: "t1", Hash: []byte{1}, ClientID: "c1", ExpiresAt: t0}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTokenByHash(ctx, []byte{1}); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("token of deleted client: %v", err)
		}
		if err := s.DeleteClient(ctx, "c1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("DeleteClient twice: %v", err)
		}
	})

	t.Run("Scopes", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		for _, sc := range []storage.Scope{{Name: "profile", Default: true, CreatedAt: t0}, {Name: "email", Description: "E"}} {
			if err := s.CreateScope(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateScope(ctx, storage.Scope{Name: "email"}); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate scope: %v", err)
		}
		if err := s.UpdateScope(ctx, storage.Scope{Name: "email", Description: "mail", Default: true}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListScopes(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "email" || !list[0].Default || list[0].Description != "mail" {
			t.Fatalf("ListScopes: %v %+v", err, list)
		}
		got, err := s.GetScope(ctx, "profile")
		if err != nil || !got.Default || !got.CreatedAt.Equal(us(t0)) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("GetScope: %v %+v", err, got)
		}
		if err := s.DeleteScope(ctx, "profile"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetScope(ctx, "profile"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("deleted scope: %v", err)
		}
	})

	t.Run("Tokens", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		tok := storage.Token{ID: "t1", Hash: []byte("hash-1"), Kind: storage.KindRefresh,
			ClientID: "c", Subject: "u", Scopes: []string{"openid"}, Audience: []string{"api"},
			IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		dupID, dupHash := tok, tok
		dupID.Hash = []byte("other")
		dupHash.ID = "t2"
		for _, d := range []storage.Token{dupID, dupHash} {
			if err := s.CreateToken(ctx, d); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("duplicate token %s/%s: %v", d.ID, d.Hash, err)
			}
		}
		got, err := s.GetTokenByHash(ctx, []byte("hash-1"))
		if err != nil {
			t.Fatal(err)
		}
		want := tok
		want.IssuedAt, want.ExpiresAt = us(tok.IssuedAt), us(tok.ExpiresAt)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("GetTokenByHash:\n got %+v\nwant %+v", got, want)
		}
		if err := s.RevokeToken(ctx, "t1", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "t1", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetTokenByHash(ctx, []byte("hash-1"))
		if !got.RevokedAt.Equal(us(t0.Add(time.Minute))) {
			t.Fatalf("RevokedAt = %v, want the first revocation", got.RevokedAt)
		}
		if err := s.RevokeToken(ctx, "nope", t0); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("RevokeToken(nope): %v", err)
		}
		r := storage.Revocation{JTI: "j1", ClientID: "c", ExpiresAt: t0, RevokedAt: t0}
		for range 2 {
			if err := s.RevokeJTI(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for jti, want := range map[string]bool{"j1": true, "j2": false} {
			if got, err := s.IsRevoked(ctx, jti); err != nil || got != want {
				t.Fatalf("IsRevoked(%s) = %v, %v", jti, got, err)
			}
		}
	})

	t.Run("Keys", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		keys := []storage.SigningKey{
			{ID: "k2", Algorithm: "ES256", State: storage.KeyCurrent, Sealed: []byte{1, 2}, Public: []byte{3}, CreatedAt: t0},
			{ID: "k1", Algorithm: "RS256", State: storage.KeyNext, Sealed: []byte{4}, Public: []byte{5}, CreatedAt: t0},
			{ID: "k0", Algorithm: "EdDSA", State: storage.KeyNext, Sealed: []byte{6}, Public: []byte{7}, CreatedAt: t0.Add(time.Second)},
		}
		for _, k := range keys {
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateKey(ctx, keys[0]); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate key: %v", err)
		}
		k := keys[0]
		k.State, k.NotAfter = storage.KeyPrevious, t0.Add(time.Hour)
		if err := s.UpdateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 3 {
			t.Fatalf("ListKeys: %v %+v", err, list)
		}
		if list[0].ID != "k1" || list[1].ID != "k2" || list[2].ID != "k0" {
			t.Fatalf("ListKeys order: %s %s %s", list[0].ID, list[1].ID, list[2].ID)
		}
		if list[1].State != storage.KeyPrevious || !list[1].NotAfter.Equal(us(t0.Add(time.Hour))) ||
			!reflect.DeepEqual(list[1].Sealed, []byte{1, 2}) {
			t.Fatalf("updated key: %+v", list[1])
		}
		if err := s.UpdateKey(ctx, storage.SigningKey{ID: "nope"}); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateKey(nope): %v", err)
		}
		if err := s.DeleteKey(ctx, "k0"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		var events []storage.AuditEvent
		for i := range 10 {
			events = append(events, storage.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second),
				Type: []string{"token.issued", "client.created"}[i%2], Actor: "cli",
				ClientID: fmt.Sprintf("c%d", i%3), Details: map[string]string{"i": fmt.Sprint(i)}})
		}
		if err := s.AppendAudit(ctx, events...); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAudit(ctx, storage.AuditEvent{Type: "x"}); err != nil {
			t.Fatal(err)
		}
		all, err := s.ListAudit(ctx, storage.AuditFilter{})
		if err != nil || len(all) != 11 {
			t.Fatalf("ListAudit: %v, %d events", err, len(all))
		}
		if all[0].Details["i"] != "9" || !all[0].Time.Equal(us(t0.Add(9*time.Second))) || all[0].ID == 0 {
			t.Fatalf("newest first: %+v", all[0])
		}
		if all[10].Type != "x" || all[10].Details != nil {
			t.Fatalf("zero-time event last: %+v", all[10])
		}
		got, err := s.ListAudit(ctx, storage.AuditFilter{Type: "token.issued", ClientID: "c0",
			Since: t0.Add(time.Second), Limit: 5})
		if err != nil || len(got) != 1 || got[0].Details["i"] != "6" {
			t.Fatalf("filtered ListAudit: %v %+v", err, got)
		}
		if got, _ := s.ListAudit(ctx, storage.AuditFilter{Limit: 3}); len(got) != 3 {
			t.Fatalf("limit: %d events", len(got))
		}
		n, err := s.DeleteAuditBefore(ctx, t0.Add(5*time.Second), 3)
		if err != nil || n != 3 {
			t.Fatalf("DeleteAuditBefore = %d, %v", n, err)
		}
		n, err = s.DeleteAuditBefore(ctx, t0.Add(5*time.Second), 100)
		if err != nil || n != 2 {
			t.Fatalf("DeleteAuditBefore again = %d, %v", n, err)
		}
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		now := t0.Add(24 * time.Hour)
		err := s.InTx(ctx, func(tx storage.Store) error {
			for i := range 1203 {
				exp := now.Add(-time.Minute)
				if i%100 == 0 {
					exp = now.Add(time.Minute)
				}
				if err := tx.CreateToken(ctx, storage.Token{ID: fmt.Sprint("t", i), Hash: fmt.Appendf(nil, "h%d", i), ExpiresAt: exp}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := s.RevokeJTI(ctx, storage.Revocation{JTI: fmt.Sprint("j", i), ExpiresAt: now.Add(time.Duration(i-2) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range []storage.SigningKey{
			{ID: "prev-old", State: storage.KeyPrevious, NotAfter: now.Add(-time.Second)},
			{ID: "prev-new", State: storage.KeyPrevious, NotAfter: now.Add(time.Second)},
			{ID: "current", State: storage.KeyCurrent},
		} {
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		// 1203 tokens, 13 unexpired: 1190 expired tokens, 2 revocations, 1 key.
		n, err := s.DeleteExpired(ctx, now, 700)
		if err != nil || n != 700 {
			t.Fatalf("DeleteExpired(700) = %d, %v", n, err)
		}
		n, err = s.DeleteExpired(ctx, now, 10000)
		if err != nil || n != 490+2+1 {
			t.Fatalf("DeleteExpired(10000) = %d, %v", n, err)
		}
		if n, err := s.DeleteExpired(ctx, now, 10000); err != nil || n != 0 {
			t.Fatalf("DeleteExpired again = %d, %v", n, err)
		}
		if ok, _ := s.IsRevoked(ctx, "j2"); !ok {
			t.Fatal("unexpired revocation deleted")
		}
		keys, _ := s.ListKeys(ctx)
		if len(keys) != 2 {
			t.Fatalf("keys left: %+v", keys)
		}
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		errBoom := errors.New("boom")
		err := s.InTx(ctx, func(tx storage.Store) error {
			if err := tx.CreateClient(ctx, storage.Client{ID: "rolled-back"}); err != nil {
				return err
			}
			// Nested InTx shares the transaction; reads see the write.
			return tx.InTx(ctx, func(tx2 storage.Store) error {
				if _, err := tx2.GetClient(ctx, "rolled-back"); err != nil {
					return err
				}
				return errBoom
			})
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx error = %v, want the function's", err)
		}
		if _, err := s.GetClient(ctx, "rolled-back"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("rolled-back client: %v", err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic did not propagate")
				}
			}()
			_ = s.InTx(ctx, func(tx storage.Store) error {
				if err := tx.CreateClient(ctx, storage.Client{ID: "panicked"}); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if _, err := s.GetClient(ctx, "panicked"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("client written before a panic: %v", err)
		}
		err = s.InTx(ctx, func(tx storage.Store) error {
			if err := tx.Ping(ctx); err != nil {
				return err
			}
			if err := tx.CreateToken(ctx, storage.Token{ID: "t", Hash: []byte("h")}); err != nil {
				return err
			}
			if _, err := tx.GetTokenByHash(ctx, []byte("h")); err != nil {
				return err
			}
			if err := tx.RevokeJTI(ctx, storage.Revocation{JTI: "j"}); err != nil {
				return err
			}
			if ok, err := tx.IsRevoked(ctx, "j"); err != nil || !ok {
				return fmt.Errorf("IsRevoked in tx = %v, %v", ok, err)
			}
			if err := tx.AppendAudit(ctx, storage.AuditEvent{Type: "a"}, storage.AuditEvent{Type: "b"}); err != nil {
				return err
			}
			return tx.Close() // a no-op
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTokenByHash(ctx, []byte("h")); err != nil {
			t.Fatalf("committed token: %v", err)
		}
		if ev, _ := s.ListAudit(ctx, storage.AuditFilter{}); len(ev) != 2 {
			t.Fatalf("committed audit events: %d", len(ev))
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		t.Parallel()
		s, ctx := open(t), context.Background()
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					id := fmt.Sprintf("w%d-%d", w, i)
					err := s.InTx(ctx, func(tx storage.Store) error {
						if err := tx.CreateToken(ctx, storage.Token{ID: id, Hash: []byte(id)}); err != nil {
							return err
						}
						_, err := tx.GetTokenByHash(ctx, []byte(id))
						return err
					})
					if err == nil {
						_, err = s.GetTokenByHash(ctx, []byte(id))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n, err := s.DeleteExpired(ctx, time.Now(), 1000)
		if err != nil || n != 0 {
			t.Fatalf("tokens without expiry deleted: %d, %v", n, err)
		}
	})
}
