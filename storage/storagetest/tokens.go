package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func tokenTests() []test {
	return []test{
		{"CreateGet", testTokenCreateGet},
		{"CreateConflict", testTokenCreateConflict},
		{"OnlyHashesMatch", testTokenOnlyHashes},
		{"Revoke", testTokenRevoke},
		{"RevokeJTI", testRevokeJTI},
		{"Copies", testTokenCopies},
		{"Use", testTokenUse},
		{"UseRevoked", testTokenUseRevoked},
		{"UseNotFound", testTokenUseNotFound},
		{"UseExpired", testTokenUseExpired},
		{"WrittenUsed", testTokenWrittenUsed},
		{"RevokeTokens", testRevokeTokens},
		{"RevokeTokensDenyListExpires", testRevokeTokensDenyListExpires},
		{"RevokeTokensEmptyFilter", testRevokeTokensEmptyFilter},
		{"ListTokens", testListTokens},
		{"ListTokensOrder", testListTokensOrder},
		{"PersonalFields", testTokenPersonalFields},
		{"KindFilter", testTokenKindFilter},
		{"Touch", testTokenTouch},
		{"GetToken", testGetToken},
	}
}

// createClients creates a client for each id, for tests that need tokens to belong somewhere.
func createClients(t *testing.T, s storage.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		must(t, s.CreateClient(t.Context(), fullClient(id)), "CreateClient "+id)
	}
}

func testTokenCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	access := newToken("at1", "app")
	refresh := storage.Token{
		ID:        "rt1",
		Hash:      tokenHash("rt1"),
		Kind:      storage.KindRefresh,
		ClientID:  "app",
		Subject:   "",
		Scopes:    []string{},
		Audience:  nil,
		GrantID:   "",
		AuthTime:  time.Time{},
		IssuedAt:  west(at(-time.Hour)),
		ExpiresAt: at(30 * 24 * time.Hour),
	}
	// Already expired and revoked when written: stored and returned all the same.
	revoked := newToken("at2", "app")
	revoked.Hash = allBytes(0)
	revoked.ExpiresAt = at(-time.Minute)
	revoked.RevokedAt = west(at(-2 * time.Minute))
	for _, tok := range []storage.Token{access, refresh, revoked} {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	for _, tok := range []storage.Token{access, refresh, revoked} {
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash "+tok.ID)
		checkEqual(t, "token "+tok.ID, got, tok)
	}
}

func testTokenCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	first := newToken("t1", "app")
	must(t, s.CreateToken(ctx, first), "CreateToken")

	sameID := newToken("t1", "app")
	sameID.Hash = tokenHash("another value")
	checkErr(t, "CreateToken with a taken id", s.CreateToken(ctx, sameID), storage.ErrConflict)
	_, err := s.GetTokenByHash(ctx, sameID.Hash)
	checkErr(t, "GetTokenByHash of the refused token", err, storage.ErrNotFound)

	sameHash := newToken("t2", "app")
	sameHash.Hash = first.Hash
	sameHash.Subject = "someone else"
	checkErr(t, "CreateToken with a taken hash", s.CreateToken(ctx, sameHash), storage.ErrConflict)
	checkErr(t, "RevokeToken of the refused token", s.RevokeToken(ctx, "t2", at(0)), storage.ErrNotFound)

	got, err := s.GetTokenByHash(ctx, first.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token after conflicting creates", got, first)
}

// testTokenOnlyHashes checks that lookups take hashes: the plaintext a client presents finds
// nothing, nor does part of a hash.
func testTokenOnlyHashes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := newToken("secret", "app")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	for name, h := range map[string][]byte{
		"the plaintext token":    []byte(tokenValue("secret")),
		"the token id":           []byte("secret"),
		"a prefix of the hash":   tok.Hash[:16],
		"the hash and one more":  append(append([]byte{}, tok.Hash...), 0),
		"another hash":           tokenHash("other"),
		"the hash with a change": append(append([]byte{}, tok.Hash[:31]...), tok.Hash[31]^1),
		"an empty hash":          {},
		"a nil hash":             nil,
	} {
		_, err := s.GetTokenByHash(ctx, h)
		checkErr(t, "GetTokenByHash with "+name, err, storage.ErrNotFound)
	}
	got, err := s.GetTokenByHash(ctx, tokenHash("secret"))
	must(t, err, "GetTokenByHash with the hash")
	checkEqual(t, "token", got, tok)
}

func testTokenRevoke(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok, other := newToken("t1", "app"), newToken("t2", "app")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	must(t, s.CreateToken(ctx, other), "CreateToken other")

	first := west(at(5 * time.Minute))
	must(t, s.RevokeToken(ctx, "t1", first), "RevokeToken")
	want := tok
	want.RevokedAt = first
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash of a revoked token")
	checkEqual(t, "revoked token", got, want)

	// Revoking again keeps the first time, whether the second is later or earlier.
	must(t, s.RevokeToken(ctx, "t1", at(10*time.Minute)), "RevokeToken twice")
	must(t, s.RevokeToken(ctx, "t1", at(time.Minute)), "RevokeToken three times")
	got, err = s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "token revoked three times", got, want)

	got, err = s.GetTokenByHash(ctx, other.Hash)
	must(t, err, "GetTokenByHash other")
	checkEqual(t, "token not revoked", got, other)

	checkErr(t, "RevokeToken absent", s.RevokeToken(ctx, "absent", at(0)), storage.ErrNotFound)
}

func testRevokeJTI(t *testing.T, s storage.Store) {
	ctx := t.Context()
	revoked, err := s.IsRevoked(ctx, "jti-1")
	must(t, err, "IsRevoked of an unknown jti")
	if revoked {
		t.Error("IsRevoked of an unknown jti = true")
	}
	r := storage.Revocation{JTI: "jti-1", ClientID: "app", ExpiresAt: west(at(time.Hour)), RevokedAt: at(0)}
	must(t, s.RevokeJTI(ctx, r), "RevokeJTI")
	must(t, s.RevokeJTI(ctx, r), "RevokeJTI twice")
	later := r
	later.RevokedAt, later.ExpiresAt = at(time.Minute), at(2*time.Hour)
	must(t, s.RevokeJTI(ctx, later), "RevokeJTI again with other times")
	// A jti whose token has expired is still listed until DeleteExpired removes it.
	must(t, s.RevokeJTI(ctx, storage.Revocation{JTI: "jti-old", ExpiresAt: at(-time.Hour), RevokedAt: at(-2 * time.Hour)}), "RevokeJTI expired")

	for jti, want := range map[string]bool{"jti-1": true, "jti-old": true, "jti-2": false, "JTI-1": false, "jti": false, "": false} {
		got, err := s.IsRevoked(ctx, jti)
		must(t, err, "IsRevoked "+jti)
		if got != want {
			t.Errorf("IsRevoked(%q) = %v, want %v", jti, got, want)
		}
	}
}

func testTokenCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	tok := newToken("t1", "app")
	want := newToken("t1", "app")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	tok.Hash[0] ^= 0xff
	tok.Scopes[0], tok.Audience[0] = "mutated", "mutated"
	got, err := s.GetTokenByHash(ctx, want.Hash)
	must(t, err, "GetTokenByHash after the caller changed its slices")
	checkEqual(t, "token", got, want)

	got.Hash[0] ^= 0xff
	got.Scopes[1], got.Audience[1] = "mutated", "mutated"
	again, err := s.GetTokenByHash(ctx, want.Hash)
	must(t, err, "GetTokenByHash after the caller changed returned slices")
	checkEqual(t, "token", again, want)
}
