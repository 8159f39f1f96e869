package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func clientTests() []test {
	return []test{
		{"CreateGet", testClientCreateGet},
		{"CreateConflict", testClientCreateConflict},
		{"NotFound", testClientNotFound},
		{"List", testClientList},
		{"Update", testClientUpdate},
		{"Delete", testClientDelete},
		{"DeleteDeletesTokens", testClientDeleteTokens},
		{"DeleteDeletesConsentsAndCodes", testClientDeleteConsents},
		{"Copies", testClientCopies},
		{"Version", testClientVersion},
		{"Query", testClientQuery},
		{"QueryPages", testClientQueryPages},
	}
}

func testClientCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, c := range []storage.Client{fullClient("full"), publicClient("public")} {
		must(t, s.CreateClient(ctx, c), "CreateClient "+c.ID)
		got, err := s.GetClient(ctx, c.ID)
		must(t, err, "GetClient "+c.ID)
		checkEqual(t, "client "+c.ID, got, c)
	}
}

func testClientCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := fullClient("dup")
	must(t, s.CreateClient(ctx, first), "CreateClient")
	second := publicClient("dup")
	checkErr(t, "CreateClient with a taken id", s.CreateClient(ctx, second), storage.ErrConflict)
	got, err := s.GetClient(ctx, "dup")
	must(t, err, "GetClient")
	checkEqual(t, "client after a conflicting create", got, first)
}

func testClientNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, fullClient("present")), "CreateClient")
	_, err := s.GetClient(ctx, "absent")
	checkErr(t, "GetClient absent", err, storage.ErrNotFound)
	_, err = s.GetClient(ctx, "")
	checkErr(t, "GetClient with an empty id", err, storage.ErrNotFound)
	checkErr(t, "UpdateClient absent", s.UpdateClient(ctx, fullClient("absent")), storage.ErrNotFound)
	checkErr(t, "DeleteClient absent", s.DeleteClient(ctx, "absent"), storage.ErrNotFound)
	_, err = s.GetClient(ctx, "absent")
	checkErr(t, "GetClient after UpdateClient of an absent client", err, storage.ErrNotFound)
}

func testClientList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var want []storage.Client
	for _, id := range []string{"charlie", "alpha", "delta-2", "bravo", "delta-10", "a1"} {
		c := fullClient(id)
		if id == "bravo" {
			c = publicClient(id)
		}
		must(t, s.CreateClient(ctx, c), "CreateClient "+id)
		want = append(want, c)
	}
	// Sorted by id: "a1" < "alpha" < "bravo" < "charlie" < "delta-10" < "delta-2".
	want = []storage.Client{want[5], want[1], want[3], want[0], want[4], want[2]}
	got, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "ListClients", got, want, clientKey)
}

func testClientUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	orig := fullClient("upd")
	must(t, s.CreateClient(ctx, orig), "CreateClient")
	must(t, s.CreateClient(ctx, fullClient("other")), "CreateClient other")

	// Every field changes, booleans flip, slices become nil or empty; ID and CreatedAt must
	// be ignored (CreatedAt passed here differs). Version 0 skips the version check; the
	// stored version goes from 1 to 2.
	upd := storage.Client{
		ID:                     "upd",
		Name:                   "renamed",
		SecretHash:             "",
		Public:                 true,
		Trusted:                false,
		GrantTypes:             []string{"refresh_token"},
		Scopes:                 nil,
		RedirectURIs:           []string{},
		PostLogoutRedirectURIs: []string{"https://new.example/bye", "https://new.example/bye2"},
		TokenFormat:            storage.TokenFormatOpaque,
		Declared:               false,
		CreatedAt:              at(24 * time.Hour),
		UpdatedAt:              west(at(2 * time.Hour)),
	}
	must(t, s.UpdateClient(ctx, upd), "UpdateClient")
	want := upd
	want.CreatedAt, want.Version = orig.CreatedAt, 2
	got, err := s.GetClient(ctx, "upd")
	must(t, err, "GetClient")
	checkEqual(t, "updated client", got, want)

	// And back: slices from empty to full, booleans flipped again.
	// The version read is the one to pass.
	back := fullClient("upd")
	back.UpdatedAt, back.Version = at(3*time.Hour), got.Version
	must(t, s.UpdateClient(ctx, back), "UpdateClient back")
	got, err = s.GetClient(ctx, "upd")
	must(t, err, "GetClient")
	back.Version = 3
	checkEqual(t, "client updated back", got, back)

	other, err := s.GetClient(ctx, "other")
	must(t, err, "GetClient other")
	checkEqual(t, "client not updated", other, fullClient("other"))
}

func testClientDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		must(t, s.CreateClient(ctx, fullClient(id)), "CreateClient "+id)
	}
	must(t, s.DeleteClient(ctx, "b"), "DeleteClient")
	_, err := s.GetClient(ctx, "b")
	checkErr(t, "GetClient after DeleteClient", err, storage.ErrNotFound)
	checkErr(t, "DeleteClient twice", s.DeleteClient(ctx, "b"), storage.ErrNotFound)
	got, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	checkList(t, "ListClients after DeleteClient", got, []storage.Client{fullClient("a"), fullClient("c")}, clientKey)

	// The id can be used again.
	must(t, s.CreateClient(ctx, publicClient("b")), "CreateClient after DeleteClient")
	again, err := s.GetClient(ctx, "b")
	must(t, err, "GetClient")
	checkEqual(t, "re-created client", again, publicClient("b"))
}

func testClientDeleteTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, fullClient("gone")), "CreateClient")
	must(t, s.CreateClient(ctx, fullClient("kept")), "CreateClient")
	gone := []storage.Token{newToken("g1", "gone"), newToken("g2", "gone")}
	gone[1].Kind = storage.KindRefresh
	kept := []storage.Token{newToken("k1", "kept")}
	for _, tok := range append(append([]storage.Token{}, gone...), kept...) {
		must(t, s.CreateToken(ctx, tok), "CreateToken "+tok.ID)
	}
	must(t, s.DeleteClient(ctx, "gone"), "DeleteClient")
	for _, tok := range gone {
		_, err := s.GetTokenByHash(ctx, tok.Hash)
		checkErr(t, "GetTokenByHash of a deleted client's token "+tok.ID, err, storage.ErrNotFound)
	}
	for _, tok := range kept {
		got, err := s.GetTokenByHash(ctx, tok.Hash)
		must(t, err, "GetTokenByHash of another client's token")
		checkEqual(t, "token "+tok.ID, got, tok)
	}
	// The deleted tokens' ids are free again.
	must(t, s.CreateClient(ctx, fullClient("gone")), "CreateClient again")
	must(t, s.CreateToken(ctx, gone[0]), "CreateToken with a deleted token's id and hash")
}

// testClientDeleteConsents checks that a client re-created with a deleted client's id does not
// inherit its consents (the consent page would be skipped) or its pending codes.
func testClientDeleteConsents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("u1", "alice")), "CreateUser")
	for _, id := range []string{"gone", "kept"} {
		must(t, s.CreateClient(ctx, fullClient(id)), "CreateClient")
		must(t, s.PutConsent(ctx, newConsent("u1", id)), "PutConsent")
		must(t, s.CreateCode(ctx, newCode(id, id, "u1")), "CreateCode")
		must(t, s.CreateDeviceCode(ctx, newDeviceCode(id, id)), "CreateDeviceCode")
	}
	must(t, s.DeleteClient(ctx, "gone"), "DeleteClient")
	must(t, s.CreateClient(ctx, fullClient("gone")), "CreateClient again")

	_, err := s.GetConsent(ctx, "u1", "gone")
	checkErr(t, "GetConsent of a deleted client", err, storage.ErrNotFound)
	_, err = s.ConsumeCode(ctx, codeHash("gone"), at(0))
	checkErr(t, "ConsumeCode of a deleted client", err, storage.ErrNotFound)
	_, err = s.GetDeviceCodeByUserCode(ctx, userCodeHash("gone"))
	checkErr(t, "GetDeviceCodeByUserCode of a deleted client", err, storage.ErrNotFound)

	_, err = s.GetConsent(ctx, "u1", "kept")
	must(t, err, "GetConsent of another client")
	_, err = s.ConsumeCode(ctx, codeHash("kept"), at(0))
	must(t, err, "ConsumeCode of another client")
	_, err = s.GetDeviceCodeByUserCode(ctx, userCodeHash("kept"))
	must(t, err, "GetDeviceCodeByUserCode of another client")
}

// testClientCopies checks that records are values: neither the caller's slices nor the
// returned ones alias what is stored.
func testClientCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := fullClient("copy")
	want := fullClient("copy")
	must(t, s.CreateClient(ctx, c), "CreateClient")
	c.GrantTypes[0], c.Scopes[0], c.RedirectURIs[0] = "mutated", "mutated", "mutated"
	got, err := s.GetClient(ctx, "copy")
	must(t, err, "GetClient")
	checkEqual(t, "client after the caller changed its slices", got, want)

	got.GrantTypes[0], got.Scopes[0], got.PostLogoutRedirectURIs[0] = "mutated", "mutated", "mutated"
	list, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	list[0].RedirectURIs[0] = "mutated"
	again, err := s.GetClient(ctx, "copy")
	must(t, err, "GetClient")
	checkEqual(t, "client after the caller changed returned slices", again, want)

	u := fullClient("copy")
	must(t, s.UpdateClient(ctx, u), "UpdateClient")
	u.Scopes[1] = "mutated"
	again, err = s.GetClient(ctx, "copy")
	must(t, err, "GetClient")
	want.Version = 2
	checkEqual(t, "client after the caller changed an updated slice", again, want)
}
