package storagetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func adminTokenTests() []test {
	return []test{
		{"CreateGet", testAdminTokenCreateGet},
		{"CreateConflict", testAdminTokenCreateConflict},
		{"NotFound", testAdminTokenNotFound},
		{"List", testAdminTokenList},
		{"Delete", testAdminTokenDelete},
		{"Touch", testAdminTokenTouch},
		{"Copies", testAdminTokenCopies},
	}
}

// adminTokenHash is the SHA-256 of the plaintext of the suite's admin token id.
func adminTokenHash(id string) []byte {
	h := sha256.Sum256([]byte("gha_" + id + "_0123456789abcdefghijklmnopqrstuvwxyz"))
	return h[:]
}

// newAdminToken returns an admin token created at createdAt that expires a day later.
func newAdminToken(id string, createdAt time.Time) storage.AdminToken {
	return storage.AdminToken{
		ID:        id,
		Name:      "token " + id + " " + awkward,
		Hash:      adminTokenHash(id),
		CreatedBy: "cli " + awkward,
		CreatedAt: createdAt,
		ExpiresAt: west(createdAt.Add(24 * time.Hour)),
	}
}

func adminTokenKey(t storage.AdminToken) string { return t.ID }

// getAdminToken returns the admin token of id's hash, failing the test if there is none.
func getAdminToken(t *testing.T, s storage.Store, id string) storage.AdminToken {
	t.Helper()
	got, err := s.GetAdminTokenByHash(t.Context(), adminTokenHash(id))
	must(t, err, "GetAdminTokenByHash "+id)
	return got
}

func testAdminTokenCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newAdminToken("full", at(0))
	full.LastUsedAt = at(time.Minute)
	bare := storage.AdminToken{ID: "bare", Hash: allBytes(7)} // never expires, never used
	expired := newAdminToken("expired", at(-48*time.Hour))    // returned all the same
	for _, tok := range []storage.AdminToken{full, bare, expired} {
		must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken "+tok.ID)
		got, err := s.GetAdminTokenByHash(ctx, tok.Hash)
		must(t, err, "GetAdminTokenByHash "+tok.ID)
		checkEqual(t, "admin token "+tok.ID, got, tok)
	}
}

func testAdminTokenCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newAdminToken("dup", at(0))
	must(t, s.CreateAdminToken(ctx, first), "CreateAdminToken")
	sameID := newAdminToken("dup", at(time.Hour))
	sameID.Hash = adminTokenHash("other")
	checkErr(t, "CreateAdminToken with a taken id", s.CreateAdminToken(ctx, sameID), storage.ErrConflict)
	sameHash := newAdminToken("other", at(time.Hour))
	sameHash.Hash = first.Hash
	checkErr(t, "CreateAdminToken with a taken hash", s.CreateAdminToken(ctx, sameHash), storage.ErrConflict)
	list, err := s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens")
	checkList(t, "admin tokens after conflicting creates", list, []storage.AdminToken{first}, adminTokenKey)
	_, err = s.GetAdminTokenByHash(ctx, adminTokenHash("other"))
	checkErr(t, "GetAdminTokenByHash of a token whose create conflicted", err, storage.ErrNotFound)
}

func testAdminTokenNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := newAdminToken("present", at(0))
	must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken")
	for name, hash := range map[string][]byte{
		"an unknown hash": adminTokenHash("absent"),
		"the plaintext":   []byte("gha_present_0123456789abcdefghijklmnopqrstuvwxyz"),
		"a prefix":        tok.Hash[:16],
		"a nil hash":      nil,
		"an empty hash":   {},
	} {
		_, err := s.GetAdminTokenByHash(ctx, hash)
		checkErr(t, "GetAdminTokenByHash of "+name, err, storage.ErrNotFound)
	}
	checkErr(t, "DeleteAdminToken absent", s.DeleteAdminToken(ctx, "absent"), storage.ErrNotFound)
	checkErr(t, "TouchAdminToken absent", s.TouchAdminToken(ctx, "absent", at(time.Hour)), storage.ErrNotFound)
	list, err := s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens")
	checkList(t, "admin tokens", list, []storage.AdminToken{tok}, adminTokenKey)
}

func testAdminTokenList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	list, err := s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens of none")
	if len(list) != 0 {
		t.Fatalf("ListAdminTokens on a fresh store: %d tokens", len(list))
	}
	// By CreatedAt (the instant), then ID.
	toks := []storage.AdminToken{
		newAdminToken("c", at(time.Hour)),
		newAdminToken("b", west(at(0))),
		newAdminToken("a", at(time.Hour)),
		newAdminToken("d", at(-time.Hour)),
		newAdminToken("e", at(time.Microsecond)),
	}
	for _, tok := range toks {
		must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken "+tok.ID)
	}
	list, err = s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens")
	checkList(t, "ListAdminTokens", list, []storage.AdminToken{toks[3], toks[1], toks[4], toks[2], toks[0]}, adminTokenKey)
}

func testAdminTokenDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	keep, gone := newAdminToken("keep", at(0)), newAdminToken("gone", at(time.Second))
	must(t, s.CreateAdminToken(ctx, keep), "CreateAdminToken")
	must(t, s.CreateAdminToken(ctx, gone), "CreateAdminToken")
	must(t, s.DeleteAdminToken(ctx, "gone"), "DeleteAdminToken")
	_, err := s.GetAdminTokenByHash(ctx, gone.Hash)
	checkErr(t, "GetAdminTokenByHash after DeleteAdminToken", err, storage.ErrNotFound)
	checkErr(t, "DeleteAdminToken twice", s.DeleteAdminToken(ctx, "gone"), storage.ErrNotFound)
	list, err := s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens")
	checkList(t, "ListAdminTokens after DeleteAdminToken", list, []storage.AdminToken{keep}, adminTokenKey)
	// The id and the hash are free again.
	must(t, s.CreateAdminToken(ctx, gone), "CreateAdminToken after DeleteAdminToken")
	checkEqual(t, "re-created admin token", getAdminToken(t, s, "gone"), gone)
}

func testAdminTokenTouch(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := newAdminToken("a1", at(0))
	bystander := newAdminToken("a2", at(0))
	must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken")
	must(t, s.CreateAdminToken(ctx, bystander), "CreateAdminToken")

	first := west(at(time.Minute))
	must(t, s.TouchAdminToken(ctx, "a1", first), "TouchAdminToken")
	want := tok
	want.LastUsedAt = first
	checkEqual(t, "touched admin token", getAdminToken(t, s, "a1"), want)
	checkEqual(t, "admin token not touched", getAdminToken(t, s, "a2"), bystander)

	// Earlier or equal times leave the first; a zero time too.
	must(t, s.TouchAdminToken(ctx, "a1", at(30*time.Second)), "TouchAdminToken earlier")
	must(t, s.TouchAdminToken(ctx, "a1", at(time.Minute)), "TouchAdminToken at the same instant")
	must(t, s.TouchAdminToken(ctx, "a1", time.Time{}), "TouchAdminToken at the zero time")
	checkEqual(t, "admin token touched earlier", getAdminToken(t, s, "a1"), want)

	// A later time moves it forward, by as little as a microsecond; an expired token can be
	// touched (expiry is the caller's to check).
	later := at(48*time.Hour + time.Microsecond)
	must(t, s.TouchAdminToken(ctx, "a1", later), "TouchAdminToken later")
	want.LastUsedAt = later
	checkEqual(t, "admin token touched later", getAdminToken(t, s, "a1"), want)

	// A touch in a rolled-back transaction is undone.
	err := s.InTx(ctx, func(tx storage.Store) error {
		must(t, tx.TouchAdminToken(ctx, "a1", at(72*time.Hour)), "TouchAdminToken in tx")
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	checkEqual(t, "admin token after a rolled-back touch", getAdminToken(t, s, "a1"), want)
}

func testAdminTokenCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := newAdminToken("copy", at(0))
	want := newAdminToken("copy", at(0))
	must(t, s.CreateAdminToken(ctx, tok), "CreateAdminToken")
	tok.Hash[0] ^= 0xff
	got := getAdminToken(t, s, "copy")
	checkEqual(t, "admin token after the caller changed its hash", got, want)
	got.Hash[1] ^= 0xff
	list, err := s.ListAdminTokens(ctx)
	must(t, err, "ListAdminTokens")
	list[0].Hash[2] ^= 0xff
	checkEqual(t, "admin token after the caller changed returned hashes", getAdminToken(t, s, "copy"), want)
}

func testGetToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	live := newToken("live", "app")
	revoked := newToken("revoked", "app")
	revoked.RevokedAt = at(time.Minute)
	expired := refreshToken("expired", "app", "alice", "g1")
	expired.ExpiresAt, expired.UsedAt = at(-time.Hour), at(-2*time.Hour)
	personal := personalToken("pat", "alice")
	for _, tok := range []storage.Token{live, revoked, expired, personal} {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	for _, tok := range []storage.Token{live, revoked, expired, personal} {
		got, err := s.GetToken(ctx, tok.ID)
		must(t, err, "GetToken "+tok.ID)
		checkEqual(t, "GetToken "+tok.ID, got, tok)
	}
	for _, id := range []string{"absent", "", "LIVE", "liv", tokenValue("live")} {
		_, err := s.GetToken(ctx, id)
		checkErr(t, "GetToken "+id, err, storage.ErrNotFound)
	}
	// It sees writes in a transaction, and the rows DeleteClient deletes are gone.
	err := s.InTx(ctx, func(tx storage.Store) error {
		must(t, tx.RevokeToken(ctx, "live", at(time.Hour)), "RevokeToken")
		got, err := tx.GetToken(ctx, "live")
		must(t, err, "GetToken in tx")
		if !got.RevokedAt.Equal(at(time.Hour)) {
			t.Errorf("GetToken in a transaction after RevokeToken: RevokedAt %s", fmtTime(got.RevokedAt))
		}
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	must(t, s.DeleteClient(ctx, "app"), "DeleteClient")
	_, err = s.GetToken(ctx, "live")
	checkErr(t, "GetToken of a deleted client's token", err, storage.ErrNotFound)
	got, err := s.GetToken(ctx, "pat")
	must(t, err, "GetToken of a personal token")
	checkEqual(t, "personal token", got, personal)
}
