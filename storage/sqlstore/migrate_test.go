package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// TestMigrateV1ToV2 seeds a database at schema version 1 with the SQL of version 1, migrates
// it to version 2, and checks that every seeded row survives and works with the new methods;
// then migrates down to 1 and up again (hydra's migratest, in small).
func TestMigrateV1ToV2(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "g.db") },
		"postgres": func(t *testing.T) string { return postgresSchemaDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMigrateV1ToV2(t, dsn(t))
		})
	}
}

func testMigrateV1ToV2(t *testing.T, dsn string) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

	s, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 1 {
		t.Fatalf("Version = %d, %v; want 1", v, err)
	}
	// Version 1 rows, written with version 1's columns only.
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := s.w.ExecContext(ctx, adapt(s.dialect, query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec(`INSERT INTO clients (id, name, grant_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		"app", "App", `["authorization_code","refresh_token"]`, s.timeArg(t0), s.timeArg(t0))
	exec(`INSERT INTO scopes (name, description, is_default, created_at) VALUES (?, ?, ?, ?)`,
		"openid", "OpenID", true, s.timeArg(t0))
	tokenV1 := `INSERT INTO tokens (id, hash, kind, client_id, subject, scopes, audience, issued_at,
		expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	exec(tokenV1, "rt", []byte("rt-hash"), storage.KindRefresh, "app", "alice", `["openid"]`, `null`,
		s.timeArg(t0), s.timeArg(t0.Add(time.Hour)), nil)
	exec(tokenV1, "at", []byte("at-hash"), storage.KindAccess, "app", "alice", `["openid"]`, `["api"]`,
		s.timeArg(t0), s.timeArg(t0.Add(time.Hour)), s.timeArg(t0.Add(time.Minute)))
	exec(`INSERT INTO revoked_jtis (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)`,
		"jwt-1", "app", s.timeArg(t0.Add(time.Hour)), s.timeArg(t0))
	exec(`INSERT INTO signing_keys (id, algorithm, state, sealed, public, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"k1", "ES256", storage.KeyCurrent, []byte{1, 2, 3}, []byte{4, 5}, s.timeArg(t0))
	exec(`INSERT INTO audit_events (time, type, actor, client_id, subject, details) VALUES (?, ?, ?, ?, ?, ?)`,
		s.timeArg(t0), "client.created", "cli", "app", "", `{"k":"v"}`)

	// Up to 2 only: TestMigrateV2ToV3 takes over from there.
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 2 {
		t.Fatalf("Version after migrating = %d, %v; want 2", v, err)
	}
	// The store's queries are those of the latest schema: migrate the rest of the way (the
	// version 1 rows must survive every later migration too).
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	wantRT := storage.Token{ID: "rt", Hash: []byte("rt-hash"), Kind: storage.KindRefresh, ClientID: "app",
		Subject: "alice", Scopes: []string{"openid"}, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	wantAT := storage.Token{ID: "at", Hash: []byte("at-hash"), Kind: storage.KindAccess, ClientID: "app",
		Subject: "alice", Scopes: []string{"openid"}, Audience: []string{"api"}, IssuedAt: t0,
		ExpiresAt: t0.Add(time.Hour), RevokedAt: t0.Add(time.Minute)}
	checkV1 := func(s *Store, usedAt time.Time) {
		t.Helper()
		c, err := s.GetClient(ctx, "app")
		if err != nil || c.Name != "App" || !reflect.DeepEqual(c.GrantTypes, []string{"authorization_code", "refresh_token"}) || !c.CreatedAt.Equal(t0) {
			t.Fatalf("client: %+v, %v", c, err)
		}
		if sc, err := s.GetScope(ctx, "openid"); err != nil || !sc.Default {
			t.Fatalf("scope: %+v, %v", sc, err)
		}
		want := wantRT
		want.UsedAt = usedAt
		if got, err := s.GetTokenByHash(ctx, []byte("rt-hash")); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("refresh token: %v\n got %+v\nwant %+v", err, got, want)
		}
		if got, err := s.GetTokenByHash(ctx, []byte("at-hash")); err != nil || !reflect.DeepEqual(got, wantAT) {
			t.Fatalf("access token: %v\n got %+v\nwant %+v", err, got, wantAT)
		}
		if ok, err := s.IsRevoked(ctx, "jwt-1"); err != nil || !ok {
			t.Fatalf("deny list: %v, %v", ok, err)
		}
		if keys, err := s.ListKeys(ctx); err != nil || len(keys) != 1 || !reflect.DeepEqual(keys[0].Sealed, []byte{1, 2, 3}) {
			t.Fatalf("keys: %+v, %v", keys, err)
		}
		if ev, err := s.ListAudit(ctx, storage.AuditFilter{}); err != nil || len(ev) != 1 || ev[0].Details["k"] != "v" {
			t.Fatalf("audit: %+v, %v", ev, err)
		}
	}
	checkV1(s, time.Time{})

	// The version 1 rows work with the version 2 methods.
	list, err := s.ListTokens(ctx, storage.TokenFilter{Subject: "alice", ClientID: "app"}, t0)
	if err != nil || len(list) != 1 || list[0].ID != "rt" {
		t.Fatalf("ListTokens of version 1 tokens: %+v, %v", list, err)
	}
	used := t0.Add(2 * time.Minute)
	if got, err := s.UseToken(ctx, []byte("rt-hash"), used); err != nil || !got.UsedAt.Equal(used) {
		t.Fatalf("UseToken of a version 1 token: %+v, %v", got, err)
	}
	if _, err := s.UseToken(ctx, []byte("at-hash"), used); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("UseToken of a revoked version 1 token: %v", err)
	}
	if err := s.CreateUser(ctx, storage.User{ID: "alice", Username: "alice", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCode(ctx, storage.AuthCode{Hash: []byte("code"), ClientID: "app", UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, storage.Session{ID: "s", Hash: []byte("s"), UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConsent(ctx, storage.Consent{UserID: "alice", ClientID: "app"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Down to 1: the version 1 rows stay, the version 2 tables go.
	down, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	dp, err := down.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.DownTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := down.Version(ctx); err != nil || v != 1 {
		t.Fatalf("Version after migrating down = %d, %v; want 1", v, err)
	}
	var n int
	if err := down.w.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&n); err != nil || n != 2 {
		t.Fatalf("tokens after migrating down: %d, %v", n, err)
	}
	if _, err := down.w.ExecContext(ctx, "SELECT 1 FROM users"); err == nil {
		t.Fatal("users table survived migrating down")
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}

	// And up again, with Migrate as a server runs it.
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	up, err := Open(ctx, dsn, Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	checkV1(up, time.Time{}) // used_at went with the column
	if users, err := up.ListUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("users after down and up: %+v, %v", users, err)
	}
}

// TestMigrateV2ToV3 seeds a database at schema version 2 with the SQL of version 2, migrates
// it to version 3 (device codes), checks that the seeded rows survive and that the device
// code methods work, then migrates down to 2 and up again.
func TestMigrateV2ToV3(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "g.db") },
		"postgres": func(t *testing.T) string { return postgresSchemaDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMigrateV2ToV3(t, dsn(t))
		})
	}
}

func testMigrateV2ToV3(t *testing.T, dsn string) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

	s, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 2 {
		t.Fatalf("Version = %d, %v; want 2", v, err)
	}
	// Version 2 rows, written with version 2's columns only.
	exec := func(db querier, query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, adapt(s.dialect, query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec(s.w, `INSERT INTO clients (id, name, grant_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		"tv", "TV", `["urn:ietf:params:oauth:grant-type:device_code"]`, s.timeArg(t0), s.timeArg(t0))
	exec(s.w, `INSERT INTO users (id, username, created_at) VALUES (?, ?, ?)`, "alice", "alice", s.timeArg(t0))
	exec(s.w, `INSERT INTO auth_codes (hash, client_id, user_id, scopes, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		[]byte("code"), "tv", "alice", `["openid"]`, s.timeArg(t0), s.timeArg(t0.Add(time.Minute)))
	exec(s.w, `INSERT INTO sessions (id, hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		"s1", []byte("s1"), "alice", s.timeArg(t0), s.timeArg(t0.Add(time.Hour)))

	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if latest, _ := s.LatestVersion(); latest < 3 {
		t.Fatalf("latest version %d, want at least 3", latest)
	}
	if v, err := s.Version(ctx); err != nil || v < 3 {
		t.Fatalf("Version after migrating = %d, %v; want at least 3", v, err)
	}
	checkV2 := func(s *Store) {
		t.Helper()
		// In SQL: the store's queries are those of the latest schema, and this runs at
		// version 2 too, whose clients lack later columns.
		var name string
		if err := s.w.QueryRowContext(ctx, adapt(s.dialect, `SELECT name FROM clients WHERE id = ?`), "tv").Scan(&name); err != nil || name != "TV" {
			t.Fatalf("client: %q, %v", name, err)
		}
		if u, err := s.GetUser(ctx, "alice"); err != nil || !u.CreatedAt.Equal(t0) {
			t.Fatalf("user: %+v, %v", u, err)
		}
		if se, err := s.GetSessionByHash(ctx, []byte("s1")); err != nil || se.UserID != "alice" {
			t.Fatalf("session: %+v, %v", se, err)
		}
	}
	checkV2(s)

	// The device code methods work on the migrated schema, next to the version 2 rows.
	dc := storage.DeviceCode{Hash: []byte("device"), UserCodeHash: []byte("user code"), ClientID: "tv",
		Scopes: []string{"openid"}, Status: storage.DevicePending, Interval: 5, IssuedAt: t0,
		ExpiresAt: t0.Add(10 * time.Minute)}
	if err := s.CreateDeviceCode(ctx, dc); err != nil {
		t.Fatal(err)
	}
	if err := s.DecideDeviceCode(ctx, dc.UserCodeHash, storage.DeviceApproved, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PollDeviceCode(ctx, dc.Hash, t0.Add(time.Second)); err != nil || got.Status != storage.DeviceApproved {
		t.Fatalf("PollDeviceCode: %+v, %v", got, err)
	}
	if got, err := s.ConsumeDeviceCode(ctx, dc.Hash, t0.Add(2*time.Second)); err != nil || got.UserID != "alice" {
		t.Fatalf("ConsumeDeviceCode: %+v, %v", got, err)
	}
	// The code, then the device code expire.
	if n, err := s.DeleteExpired(ctx, t0.Add(time.Hour), 100); err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2 (the code and the device code)", n, err)
	}
	if err := s.CreateDeviceCode(ctx, dc); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Down to 2: the version 2 rows stay, the device codes go.
	down, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	dp, err := down.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.DownTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if v, err := down.Version(ctx); err != nil || v != 2 {
		t.Fatalf("Version after migrating down = %d, %v; want 2", v, err)
	}
	checkV2(down)
	if _, err := down.w.ExecContext(ctx, "SELECT 1 FROM device_codes"); err == nil {
		t.Fatal("device_codes table survived migrating down")
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}

	// And up again, with Migrate as a server runs it: an empty device_codes table.
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	up, err := Open(ctx, dsn, Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	checkV2(up)
	if _, err := up.GetDeviceCodeByUserCode(ctx, dc.UserCodeHash); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("device code after down and up: %v, want ErrNotFound", err)
	}
	if err := up.CreateDeviceCode(ctx, dc); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateV3ToV4 seeds a database at schema version 3 with tokens written with version 3's
// columns, migrates it to version 4 (token names and last use), checks that the tokens read
// back with an empty Name and a zero LastUsedAt and that the new methods work on them, then
// migrates down to 3 and up again.
func TestMigrateV3ToV4(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "g.db") },
		"postgres": func(t *testing.T) string { return postgresSchemaDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMigrateV3ToV4(t, dsn(t))
		})
	}
}

func testMigrateV3ToV4(t *testing.T, dsn string) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

	s, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 3 {
		t.Fatalf("Version = %d, %v; want 3", v, err)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := s.w.ExecContext(ctx, adapt(s.dialect, query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec(`INSERT INTO clients (id, name, grant_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		"app", "App", `["authorization_code"]`, s.timeArg(t0), s.timeArg(t0))
	tokenV3 := `INSERT INTO tokens (id, hash, kind, client_id, subject, scopes, audience, grant_id,
		issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	exec(tokenV3, "at", []byte("at-hash"), storage.KindAccess, "app", "alice", `["openid"]`, `["api"]`, "g1",
		s.timeArg(t0), s.timeArg(t0.Add(time.Hour)))
	exec(tokenV3, "rt", []byte("rt-hash"), storage.KindRefresh, "app", "alice", `["openid"]`, `null`, "g1",
		s.timeArg(t0), s.timeArg(t0.Add(time.Hour)))

	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 4 {
		t.Fatalf("Version after migrating = %d, %v; want 4", v, err)
	}
	if err := s.Migrate(ctx); err != nil { // the rest of the way, if there is more
		t.Fatal(err)
	}

	wantAT := storage.Token{ID: "at", Hash: []byte("at-hash"), Kind: storage.KindAccess, ClientID: "app",
		Subject: "alice", Scopes: []string{"openid"}, Audience: []string{"api"}, GrantID: "g1",
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	wantRT := storage.Token{ID: "rt", Hash: []byte("rt-hash"), Kind: storage.KindRefresh, ClientID: "app",
		Subject: "alice", Scopes: []string{"openid"}, GrantID: "g1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	checkV3 := func(s *Store) {
		t.Helper()
		for _, want := range []storage.Token{wantAT, wantRT} {
			if got, err := s.GetTokenByHash(ctx, want.Hash); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("token %s: %v\n got %+v\nwant %+v", want.ID, err, got, want)
			}
		}
	}
	checkV3(s)

	// The version 3 tokens work with the version 4 methods, next to a personal token.
	pat := storage.Token{ID: "pat", Hash: []byte("pat-hash"), Kind: storage.KindPersonal, Subject: "alice",
		Scopes: []string{"api"}, Name: "laptop", IssuedAt: t0.Add(time.Second), ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateToken(ctx, pat); err != nil {
		t.Fatal(err)
	}
	used := t0.Add(time.Minute)
	if err := s.TouchToken(ctx, "at", used); err != nil {
		t.Fatalf("TouchToken of a version 3 token: %v", err)
	}
	if got, err := s.GetTokenByHash(ctx, []byte("at-hash")); err != nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("touched version 3 token: %+v, %v", got, err)
	}
	list, err := s.ListTokens(ctx, storage.TokenFilter{Subject: "alice", Kind: storage.KindPersonal}, t0)
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], pat) {
		t.Fatalf("ListTokens(alice, personal): %+v, %v", list, err)
	}
	if n, err := s.RevokeTokens(ctx, storage.TokenFilter{Subject: "alice", Kind: storage.KindRefresh}, used); err != nil || n != 1 {
		t.Fatalf("RevokeTokens(alice, refresh) = %d, %v; want 1", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Down to 3: the tokens stay, the new columns and the index go.
	down, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	dp, err := down.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.DownTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if v, err := down.Version(ctx); err != nil || v != 3 {
		t.Fatalf("Version after migrating down = %d, %v; want 3", v, err)
	}
	var n int
	if err := down.w.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&n); err != nil || n != 3 {
		t.Fatalf("tokens after migrating down: %d, %v; want 3", n, err)
	}
	for _, col := range []string{"name", "last_used_at"} {
		if _, err := down.w.ExecContext(ctx, "SELECT "+col+" FROM tokens"); err == nil {
			t.Fatalf("column tokens.%s survived migrating down", col)
		}
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}

	// And up again, with Migrate as a server runs it: the names and last uses are gone.
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	up, err := Open(ctx, dsn, Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	wantRT.RevokedAt = used
	checkV3(up)
	pat.Name = ""
	if got, err := up.GetTokenByHash(ctx, pat.Hash); err != nil || !reflect.DeepEqual(got, pat) {
		t.Fatalf("personal token after down and up: %v\n got %+v\nwant %+v", err, got, pat)
	}
}

// TestMigrateV4ToV5 seeds a database at schema version 4 with clients and audit events
// written with version 4's columns, migrates it to version 5 (client versions, admin tokens,
// audit indexes), checks that the clients read back at version 1 and that the new methods
// work on the seeded rows, then migrates down to 4 and up again.
func TestMigrateV4ToV5(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "g.db") },
		"postgres": func(t *testing.T) string { return postgresSchemaDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMigrateV4ToV5(t, dsn(t))
		})
	}
}

func testMigrateV4ToV5(t *testing.T, dsn string) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

	s, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	exec := func(db querier, query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, adapt(s.dialect, query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	// Ids whose byte order differs from a linguistic collation's: "B" < "a" < "b".
	for _, id := range []string{"b", "B", "a"} {
		exec(s.w, `INSERT INTO clients (id, name, grant_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			id, "App "+id, `["authorization_code"]`, s.timeArg(t0), s.timeArg(t0))
	}
	audit := `INSERT INTO audit_events (time, type, actor, client_id, subject, details) VALUES (?, ?, ?, ?, ?, ?)`
	exec(s.w, audit, s.timeArg(t0), "client.created", "cli", "a", "", `null`)
	exec(s.w, audit, s.timeArg(t0), "token.issued", "a", "a", "alice", `null`)
	exec(s.w, audit, s.timeArg(t0.Add(time.Second)), "token.issued", "b", "b", "alice", `null`)

	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 5 {
		t.Fatalf("Version after migrating = %d, %v; want 5", v, err)
	}
	if err := s.Migrate(ctx); err != nil { // the rest of the way, if there is more
		t.Fatal(err)
	}

	checkClients := func(s *Store) {
		t.Helper()
		list, err := s.QueryClients(ctx, storage.ClientQuery{Limit: 10})
		var ids []string
		for _, c := range list {
			ids = append(ids, c.ID)
			if c.Version != 1 || c.Name != "App "+c.ID || !c.CreatedAt.Equal(t0) {
				t.Errorf("client %s: %+v", c.ID, c)
			}
		}
		if err != nil || !reflect.DeepEqual(ids, []string{"B", "a", "b"}) {
			t.Fatalf("QueryClients: %q, %v; want byte order", ids, err)
		}
	}
	checkClients(s)
	c, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	c.Name = "renamed"
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Fatalf("UpdateClient at version 1: %v", err)
	}
	if err := s.UpdateClient(ctx, c); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("UpdateClient at a stale version: %v, want ErrConflict", err)
	}
	if got, err := s.GetClient(ctx, "a"); err != nil || got.Version != 2 || got.Name != "renamed" {
		t.Fatalf("updated client: %+v, %v", got, err)
	}
	events, err := s.ListAudit(ctx, storage.AuditFilter{Subject: "alice"})
	if err != nil || len(events) != 2 || events[0].Actor != "b" || events[1].Actor != "a" {
		t.Fatalf("ListAudit(subject alice): %+v, %v", events, err)
	}
	next, err := s.ListAudit(ctx, storage.AuditFilter{Subject: "alice", BeforeTime: events[0].Time, BeforeID: events[0].ID})
	if err != nil || len(next) != 1 || next[0].ID != events[1].ID {
		t.Fatalf("ListAudit after a cursor: %+v, %v", next, err)
	}
	if events, err := s.ListAudit(ctx, storage.AuditFilter{Actor: "cli"}); err != nil || len(events) != 1 || events[0].Type != "client.created" {
		t.Fatalf("ListAudit(actor cli): %+v, %v", events, err)
	}
	tok := storage.AdminToken{ID: "adm", Name: "ops", Hash: []byte("adm-hash"), CreatedBy: "cli", CreatedAt: t0}
	if err := s.CreateAdminToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetAdminTokenByHash(ctx, tok.Hash); err != nil || !reflect.DeepEqual(got, tok) {
		t.Fatalf("admin token: %+v, %v", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Down to 4: the clients and events stay, the versions and admin tokens go.
	down, err := Open(ctx, dsn, Options{SkipMigrations: true, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	dp, err := down.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if v, err := down.Version(ctx); err != nil || v != 4 {
		t.Fatalf("Version after migrating down = %d, %v; want 4", v, err)
	}
	var n int
	if err := down.w.QueryRowContext(ctx, "SELECT count(*) FROM clients").Scan(&n); err != nil || n != 3 {
		t.Fatalf("clients after migrating down: %d, %v; want 3", n, err)
	}
	if err := down.w.QueryRowContext(ctx, "SELECT count(*) FROM audit_events").Scan(&n); err != nil || n != 3 {
		t.Fatalf("audit events after migrating down: %d, %v; want 3", n, err)
	}
	if _, err := down.w.ExecContext(ctx, "SELECT version FROM clients"); err == nil {
		t.Fatal("column clients.version survived migrating down")
	}
	if _, err := down.w.ExecContext(ctx, "SELECT 1 FROM admin_tokens"); err == nil {
		t.Fatal("admin_tokens table survived migrating down")
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}

	// And up again, with Migrate as a server runs it: every client back at version 1.
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	up, err := Open(ctx, dsn, Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if err := up.w.QueryRowContext(ctx, "SELECT count(*) FROM clients WHERE version = 1").Scan(&n); err != nil || n != 3 {
		t.Fatalf("clients at version 1 after down and up: %d, %v; want 3", n, err)
	}
	if _, err := up.GetAdminTokenByHash(ctx, tok.Hash); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("admin token after down and up: %v, want ErrNotFound", err)
	}
}
