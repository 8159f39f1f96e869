package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func consentTests() []test {
	return []test{
		{"PutGet", testConsentPutGet},
		{"PutReplaces", testConsentPutReplaces},
		{"NotFound", testConsentNotFound},
		{"List", testConsentList},
		{"Delete", testConsentDelete},
		{"Copies", testConsentCopies},
	}
}

func consentKey(c storage.Consent) string { return c.UserID + "/" + c.ClientID }

func testConsentPutGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	createUsers(t, s, "alice", "bob")
	full := newConsent("alice", "app")
	full.Scopes = append(full.Scopes, awkward)
	empty := newConsent("alice", "web")
	empty.Scopes = []string{}
	bare := storage.Consent{UserID: "bob", ClientID: "app", CreatedAt: at(0)}
	for _, c := range []storage.Consent{full, empty, bare} {
		must(t, s.PutConsent(ctx, c), "PutConsent "+consentKey(c))
	}
	for _, c := range []storage.Consent{full, empty, bare} {
		got, err := s.GetConsent(ctx, c.UserID, c.ClientID)
		must(t, err, "GetConsent "+consentKey(c))
		checkEqual(t, "consent "+consentKey(c), got, c)
	}
}

// testConsentPutReplaces checks that PutConsent of an existing consent replaces Scopes and
// UpdatedAt and keeps CreatedAt, and touches no other consent.
func testConsentPutReplaces(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	createUsers(t, s, "alice", "bob")
	orig := newConsent("alice", "app")
	others := []storage.Consent{newConsent("alice", "web"), newConsent("bob", "app")}
	for _, c := range append([]storage.Consent{orig}, others...) {
		must(t, s.PutConsent(ctx, c), "PutConsent "+consentKey(c))
	}

	upd := storage.Consent{
		UserID:    "alice",
		ClientID:  "app",
		Scopes:    []string{"openid", "email", "offline_access"},
		CreatedAt: at(48 * time.Hour),
		UpdatedAt: west(at(time.Hour)),
	}
	must(t, s.PutConsent(ctx, upd), "PutConsent of an existing consent")
	want := upd
	want.CreatedAt = orig.CreatedAt
	got, err := s.GetConsent(ctx, "alice", "app")
	must(t, err, "GetConsent")
	checkEqual(t, "replaced consent", got, want)

	// Down to no scopes, and with a zero CreatedAt passed: still kept.
	fewer := storage.Consent{UserID: "alice", ClientID: "app", Scopes: nil, UpdatedAt: at(2 * time.Hour)}
	must(t, s.PutConsent(ctx, fewer), "PutConsent with no scopes")
	want = fewer
	want.CreatedAt = orig.CreatedAt
	got, err = s.GetConsent(ctx, "alice", "app")
	must(t, err, "GetConsent")
	checkEqual(t, "consent replaced again", got, want)

	for _, c := range others {
		got, err := s.GetConsent(ctx, c.UserID, c.ClientID)
		must(t, err, "GetConsent "+consentKey(c))
		checkEqual(t, "consent not replaced "+consentKey(c), got, c)
	}
}

func testConsentNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	createUsers(t, s, "alice", "bob")
	must(t, s.PutConsent(ctx, newConsent("alice", "app")), "PutConsent")
	for _, k := range [][2]string{{"alice", "web"}, {"bob", "app"}, {"app", "alice"}, {"alice", ""}, {"", "app"}, {"absent", "absent"}} {
		_, err := s.GetConsent(ctx, k[0], k[1])
		checkErr(t, "GetConsent "+k[0]+"/"+k[1], err, storage.ErrNotFound)
		checkErr(t, "DeleteConsent "+k[0]+"/"+k[1], s.DeleteConsent(ctx, k[0], k[1]), storage.ErrNotFound)
	}
	got, err := s.GetConsent(ctx, "alice", "app")
	must(t, err, "GetConsent")
	checkEqual(t, "consent", got, newConsent("alice", "app"))
}

func testConsentList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	clients := []string{"delta", "alpha", "charlie2", "bravo", "charlie10", "a1"}
	createClients(t, s, clients...)
	createUsers(t, s, "alice", "bob", "carol")
	var want []storage.Consent
	for i, id := range clients {
		c := newConsent("alice", id)
		c.Scopes = []string{"scope-" + id}
		c.CreatedAt = at(time.Duration(-i) * time.Minute)
		must(t, s.PutConsent(ctx, c), "PutConsent "+id)
		want = append(want, c)
		must(t, s.PutConsent(ctx, newConsent("bob", id)), "PutConsent of another user "+id)
	}
	// Sorted by client id: a1, alpha, bravo, charlie10, charlie2, delta.
	want = []storage.Consent{want[5], want[1], want[3], want[4], want[2], want[0]}
	got, err := s.ListConsents(ctx, "alice")
	must(t, err, "ListConsents")
	checkList(t, "ListConsents", got, want, consentKey)

	none, err := s.ListConsents(ctx, "carol")
	must(t, err, "ListConsents of a user without consents")
	checkList(t, "ListConsents of a user without consents", none, nil, consentKey)
	none, err = s.ListConsents(ctx, "absent")
	must(t, err, "ListConsents of an unknown user")
	checkList(t, "ListConsents of an unknown user", none, nil, consentKey)
}

func testConsentDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	createUsers(t, s, "alice", "bob")
	for _, c := range []storage.Consent{newConsent("alice", "app"), newConsent("alice", "web"), newConsent("bob", "app")} {
		must(t, s.PutConsent(ctx, c), "PutConsent "+consentKey(c))
	}
	must(t, s.DeleteConsent(ctx, "alice", "app"), "DeleteConsent")
	_, err := s.GetConsent(ctx, "alice", "app")
	checkErr(t, "GetConsent after DeleteConsent", err, storage.ErrNotFound)
	checkErr(t, "DeleteConsent twice", s.DeleteConsent(ctx, "alice", "app"), storage.ErrNotFound)
	got, err := s.ListConsents(ctx, "alice")
	must(t, err, "ListConsents")
	checkList(t, "ListConsents after DeleteConsent", got, []storage.Consent{newConsent("alice", "web")}, consentKey)
	other, err := s.GetConsent(ctx, "bob", "app")
	must(t, err, "GetConsent of another user to the same client")
	checkEqual(t, "consent of another user", other, newConsent("bob", "app"))

	// A consent given again after DeleteConsent is new: it takes the CreatedAt passed.
	again := newConsent("alice", "app")
	again.CreatedAt = at(time.Hour)
	must(t, s.PutConsent(ctx, again), "PutConsent after DeleteConsent")
	got1, err := s.GetConsent(ctx, "alice", "app")
	must(t, err, "GetConsent")
	checkEqual(t, "consent given again", got1, again)
}

func testConsentCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	c := newConsent("alice", "app")
	want := newConsent("alice", "app")
	must(t, s.PutConsent(ctx, c), "PutConsent")
	c.Scopes[0] = "mutated"
	got, err := s.GetConsent(ctx, "alice", "app")
	must(t, err, "GetConsent")
	checkEqual(t, "consent after the caller changed its slices", got, want)
	got.Scopes[1] = "mutated"
	list, err := s.ListConsents(ctx, "alice")
	must(t, err, "ListConsents")
	if len(list) > 0 {
		list[0].Scopes[2] = "mutated"
	}
	again, err := s.GetConsent(ctx, "alice", "app")
	must(t, err, "GetConsent")
	checkEqual(t, "consent after the caller changed returned slices", again, want)
}
