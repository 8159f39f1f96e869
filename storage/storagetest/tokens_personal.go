package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// Tests of what personal access tokens need: Name and LastUsedAt round-trip, the Kind
// filter, and TouchToken.

func personalToken(id, subject string) storage.Token {
	tok := newToken(id, "")
	tok.Kind = storage.KindPersonal
	tok.Subject, tok.GrantID = subject, ""
	tok.Name = "ci deploy " + awkward
	return tok
}

func testTokenPersonalFields(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := personalToken("p1", "alice")
	tok.LastUsedAt = west(at(time.Minute))
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	checkEqual(t, "personal token", got, tok)
}

// testTokenKindFilter: Kind narrows ListTokens and RevokeTokens, and Kind alone is an
// empty filter.
func testTokenKindFilter(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	pat := personalToken("p1", "alice")
	access := newToken("a1", "app")
	access.Subject = "alice"
	must(t, s.CreateToken(ctx, pat), "CreateToken personal")
	must(t, s.CreateToken(ctx, access), "CreateToken access")

	list, err := s.ListTokens(ctx, storage.TokenFilter{Subject: "alice", Kind: storage.KindPersonal}, at(0))
	must(t, err, "ListTokens")
	if len(list) != 1 || list[0].ID != "p1" {
		t.Fatalf("ListTokens(kind personal) = %d tokens, want p1 only", len(list))
	}
	if _, err := s.ListTokens(ctx, storage.TokenFilter{Kind: storage.KindPersonal}, at(0)); err == nil {
		t.Error("ListTokens with only Kind set: no error")
	}
	if _, err := s.RevokeTokens(ctx, storage.TokenFilter{Kind: storage.KindPersonal}, at(0)); err == nil {
		t.Error("RevokeTokens with only Kind set: no error")
	}
	n, err := s.RevokeTokens(ctx, storage.TokenFilter{Subject: "alice", Kind: storage.KindPersonal}, at(time.Second))
	must(t, err, "RevokeTokens")
	if n != 1 {
		t.Fatalf("RevokeTokens(kind personal) revoked %d, want 1", n)
	}
	got, err := s.GetTokenByHash(ctx, access.Hash)
	must(t, err, "GetTokenByHash access")
	if !got.RevokedAt.IsZero() {
		t.Error("RevokeTokens with a Kind revoked a token of another kind")
	}
}

// testTokenTouch: TouchToken only moves LastUsedAt forward.
func testTokenTouch(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := personalToken("p1", "alice")
	must(t, s.CreateToken(ctx, tok), "CreateToken")
	first := west(at(time.Minute))
	must(t, s.TouchToken(ctx, "p1", first), "TouchToken")
	must(t, s.TouchToken(ctx, "p1", at(30*time.Second)), "TouchToken earlier")
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash")
	want := tok
	want.LastUsedAt = first
	checkEqual(t, "touched token", got, want)
	checkErr(t, "TouchToken of an unknown token", s.TouchToken(ctx, "nope", first), storage.ErrNotFound)

	// A rolled-back touch leaves the token as it was.
	err = s.InTx(ctx, func(tx storage.Store) error {
		must(t, tx.TouchToken(ctx, "p1", at(time.Hour)), "TouchToken in tx")
		return errBoom
	})
	checkErr(t, "InTx", err, errBoom)
	got, err = s.GetTokenByHash(ctx, tok.Hash)
	must(t, err, "GetTokenByHash after rollback")
	checkEqual(t, "token after a rolled-back touch", got, want)
}
