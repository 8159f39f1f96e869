package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func keyTests() []test {
	return []test{
		{"CreateList", testKeyCreateList},
		{"CreateConflict", testKeyCreateConflict},
		{"Update", testKeyUpdate},
		{"Delete", testKeyDelete},
		{"Copies", testKeyCopies},
	}
}

func testKeyCreateList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Written out of order. "late" is in a zone west of UTC: its wall clock reads earlier
	// than the others' though its instant is the latest, so only ordering by instant passes.
	late := newKey("late", storage.KeyNext, west(at(2*time.Hour)), time.Time{})
	prev := newKey("prev", storage.KeyPrevious, at(-time.Hour), at(time.Hour))
	prev.Algorithm = "RS256"
	b := newKey("b-current", storage.KeyCurrent, at(0), time.Time{})
	a := newKey("a-current", storage.KeyCurrent, at(0), time.Time{})
	a.Algorithm, a.Sealed, a.Public = "EdDSA", []byte{}, nil
	for _, k := range []storage.SigningKey{late, b, prev, a} {
		must(t, s.CreateKey(ctx, k), "CreateKey "+k.ID)
	}
	got, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys", got, []storage.SigningKey{prev, a, b, late}, keyKey)
}

func testKeyCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newKey("kid", storage.KeyCurrent, at(0), time.Time{})
	must(t, s.CreateKey(ctx, first), "CreateKey")
	second := newKey("kid", storage.KeyNext, at(time.Hour), time.Time{})
	second.Sealed = []byte("other")
	checkErr(t, "CreateKey with a taken kid", s.CreateKey(ctx, second), storage.ErrConflict)
	got, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after a conflicting create", got, []storage.SigningKey{first}, keyKey)
}

func testKeyUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	orig := newKey("k1", storage.KeyCurrent, at(0), time.Time{})
	other := newKey("k2", storage.KeyNext, at(time.Minute), time.Time{})
	must(t, s.CreateKey(ctx, orig), "CreateKey")
	must(t, s.CreateKey(ctx, other), "CreateKey other")

	// State and NotAfter change; everything else passed here must be ignored.
	upd := storage.SigningKey{
		ID:        "k1",
		Algorithm: "PS256",
		State:     storage.KeyPrevious,
		Sealed:    []byte("not the sealed key"),
		Public:    nil,
		CreatedAt: at(time.Hour),
		NotAfter:  west(at(25 * time.Hour)),
	}
	must(t, s.UpdateKey(ctx, upd), "UpdateKey")
	want := orig
	want.State, want.NotAfter = upd.State, upd.NotAfter
	got, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after UpdateKey", got, []storage.SigningKey{want, other}, keyKey)

	// Back to a zero NotAfter.
	must(t, s.UpdateKey(ctx, orig), "UpdateKey back")
	got, err = s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after UpdateKey back", got, []storage.SigningKey{orig, other}, keyKey)

	checkErr(t, "UpdateKey absent", s.UpdateKey(ctx, newKey("absent", storage.KeyNext, at(0), time.Time{})), storage.ErrNotFound)
	got, err = s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after UpdateKey of an absent key", got, []storage.SigningKey{orig, other}, keyKey)
}

func testKeyDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	k1 := newKey("k1", storage.KeyPrevious, at(0), at(time.Hour))
	k2 := newKey("k2", storage.KeyCurrent, at(time.Minute), time.Time{})
	must(t, s.CreateKey(ctx, k1), "CreateKey")
	must(t, s.CreateKey(ctx, k2), "CreateKey")
	must(t, s.DeleteKey(ctx, "k1"), "DeleteKey")
	checkErr(t, "DeleteKey twice", s.DeleteKey(ctx, "k1"), storage.ErrNotFound)
	checkErr(t, "DeleteKey absent", s.DeleteKey(ctx, "absent"), storage.ErrNotFound)
	got, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after DeleteKey", got, []storage.SigningKey{k2}, keyKey)
	must(t, s.CreateKey(ctx, k1), "CreateKey after DeleteKey")
}

func testKeyCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	k := newKey("k1", storage.KeyCurrent, at(0), time.Time{})
	want := newKey("k1", storage.KeyCurrent, at(0), time.Time{})
	must(t, s.CreateKey(ctx, k), "CreateKey")
	k.Sealed[0] ^= 0xff
	k.Public[0] ^= 0xff
	got, err := s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after the caller changed its slices", got, []storage.SigningKey{want}, keyKey)
	got[0].Sealed[1] ^= 0xff
	got[0].Public[1] ^= 0xff
	got, err = s.ListKeys(ctx)
	must(t, err, "ListKeys")
	checkList(t, "ListKeys after the caller changed returned slices", got, []storage.SigningKey{want}, keyKey)
}
