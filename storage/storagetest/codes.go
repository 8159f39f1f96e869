package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func codeTests() []test {
	return []test{
		{"CreateConsume", testCodeCreateConsume},
		{"ConsumeTwice", testCodeConsumeTwice},
		{"CreateConflict", testCodeCreateConflict},
		{"NotFound", testCodeNotFound},
		{"ExpiredStillConsumable", testCodeExpired},
		{"WrittenUsed", testCodeWrittenUsed},
		{"Copies", testCodeCopies},
	}
}

// errPeek is what peekCode's transaction fails with, to undo the consumption.
var errPeek = errors.New("storagetest: peek")

// peekCode reads the code with hash through s without changing it: it consumes the code in a
// transaction it rolls back. It returns what ConsumeCode returned (for an unused code,
// UsedAt is the peek's time, at(999h)). Use it on the outer Store only.
func peekCode(t *testing.T, s storage.Store, hash []byte) (storage.AuthCode, error) {
	t.Helper()
	var code storage.AuthCode
	var consumeErr error
	err := s.InTx(t.Context(), func(tx storage.Store) error {
		code, consumeErr = tx.ConsumeCode(t.Context(), hash, at(999*time.Hour))
		return errPeek
	})
	if !errors.Is(err, errPeek) {
		t.Fatalf("InTx of a peek at a code: got %v, want the error fn returned", err)
	}
	return code, consumeErr
}

func testCodeCreateConsume(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	full := newCode("full", "app", "alice")
	full.Hash = allBytes(7)
	full.Scopes = append(full.Scopes, awkward)
	// A plain OAuth code: no PKCE, no nonce, no session, empty scopes.
	bare := storage.AuthCode{
		Hash:        codeHash("bare"),
		ClientID:    "app",
		UserID:      "alice",
		RedirectURI: "http://127.0.0.1:8080/callback",
		Scopes:      []string{},
		IssuedAt:    west(at(0)),
		ExpiresAt:   at(10 * time.Minute),
	}
	for _, c := range []storage.AuthCode{full, bare} {
		must(t, s.CreateCode(ctx, c), "CreateCode "+c.GrantID)
	}
	for i, c := range []storage.AuthCode{full, bare} {
		now := west(at(time.Duration(i+1) * time.Second))
		got, err := s.ConsumeCode(ctx, c.Hash, now)
		must(t, err, "ConsumeCode")
		want := c
		want.UsedAt = now
		checkEqual(t, "consumed code "+c.RedirectURI, got, want)
	}
}

// testCodeConsumeTwice checks that a second ConsumeCode returns the code, as the first left
// it, with ErrAlreadyUsed, and does not change it.
func testCodeConsumeTwice(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	c, other := newCode("c1", "app", "alice"), newCode("c2", "app", "alice")
	must(t, s.CreateCode(ctx, c), "CreateCode")
	must(t, s.CreateCode(ctx, other), "CreateCode other")

	first := west(at(10 * time.Second))
	got, err := s.ConsumeCode(ctx, c.Hash, first)
	must(t, err, "ConsumeCode")
	want := c
	want.UsedAt = first
	checkEqual(t, "consumed code", got, want)

	for _, now := range []time.Time{at(20 * time.Second), at(time.Second)} {
		got, err = s.ConsumeCode(ctx, c.Hash, now)
		checkErr(t, "ConsumeCode of a used code", err, storage.ErrAlreadyUsed)
		checkEqual(t, "code returned by a second ConsumeCode", got, want)
	}

	// The other code is still unused.
	now := at(30 * time.Second)
	got, err = s.ConsumeCode(ctx, other.Hash, now)
	must(t, err, "ConsumeCode of another code")
	want = other
	want.UsedAt = now
	checkEqual(t, "other code", got, want)
}

func testCodeCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app", "web")
	createUsers(t, s, "alice", "bob")
	first := newCode("c1", "app", "alice")
	must(t, s.CreateCode(ctx, first), "CreateCode")
	same := newCode("c1", "web", "bob")
	same.GrantID, same.RedirectURI, same.ExpiresAt = "another grant", "https://web.example/cb", at(time.Hour)
	checkErr(t, "CreateCode with a taken hash", s.CreateCode(ctx, same), storage.ErrConflict)

	// A used code still holds its hash.
	_, err := s.ConsumeCode(ctx, first.Hash, at(time.Second))
	must(t, err, "ConsumeCode")
	checkErr(t, "CreateCode with the hash of a used code", s.CreateCode(ctx, same), storage.ErrConflict)

	got, err := s.ConsumeCode(ctx, first.Hash, at(2*time.Second))
	checkErr(t, "ConsumeCode again", err, storage.ErrAlreadyUsed)
	want := first
	want.UsedAt = at(time.Second)
	checkEqual(t, "code after conflicting creates", got, want)
}

func testCodeNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	c := newCode("c1", "app", "alice")
	must(t, s.CreateCode(ctx, c), "CreateCode")
	for name, h := range map[string][]byte{
		"another hash":           codeHash("c2"),
		"a prefix of the hash":   c.Hash[:16],
		"the hash and one more":  append(append([]byte{}, c.Hash...), 0),
		"the hash with a change": append(append([]byte{}, c.Hash[:31]...), c.Hash[31]^1),
		"an empty hash":          {},
		"a nil hash":             nil,
	} {
		_, err := s.ConsumeCode(ctx, h, at(0))
		checkErr(t, "ConsumeCode with "+name, err, storage.ErrNotFound)
	}
	got, err := s.ConsumeCode(ctx, c.Hash, at(0))
	must(t, err, "ConsumeCode with the hash")
	want := c
	want.UsedAt = at(0)
	checkEqual(t, "code", got, want)
}

// testCodeExpired checks that ConsumeCode ignores ExpiresAt: expiry is the caller's to check.
func testCodeExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	c := newCode("old", "app", "alice")
	c.IssuedAt, c.ExpiresAt = at(-time.Hour), at(-59*time.Minute)
	must(t, s.CreateCode(ctx, c), "CreateCode of an expired code")
	got, err := s.ConsumeCode(ctx, c.Hash, at(0))
	must(t, err, "ConsumeCode of an expired code")
	want := c
	want.UsedAt = at(0)
	checkEqual(t, "expired code", got, want)
	got, err = s.ConsumeCode(ctx, c.Hash, at(time.Second))
	checkErr(t, "ConsumeCode of a used expired code", err, storage.ErrAlreadyUsed)
	checkEqual(t, "used expired code", got, want)
}

// testCodeWrittenUsed checks that a code written with UsedAt set counts as used.
func testCodeWrittenUsed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	c := newCode("used", "app", "alice")
	c.UsedAt = west(at(-time.Second))
	must(t, s.CreateCode(ctx, c), "CreateCode of a used code")
	got, err := s.ConsumeCode(ctx, c.Hash, at(0))
	checkErr(t, "ConsumeCode of a code written used", err, storage.ErrAlreadyUsed)
	checkEqual(t, "code written used", got, c)
}

func testCodeCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	c := newCode("c1", "app", "alice")
	want := newCode("c1", "app", "alice")
	want.UsedAt = at(0)
	must(t, s.CreateCode(ctx, c), "CreateCode")
	c.Hash[0] ^= 0xff
	c.Scopes[0] = "mutated"
	got, err := s.ConsumeCode(ctx, want.Hash, at(0))
	must(t, err, "ConsumeCode after the caller changed its slices")
	checkEqual(t, "code", got, want)
	got.Hash[0] ^= 0xff
	got.Scopes[1] = "mutated"
	again, err := s.ConsumeCode(ctx, want.Hash, at(time.Second))
	checkErr(t, "ConsumeCode after the caller changed returned slices", err, storage.ErrAlreadyUsed)
	checkEqual(t, "code", again, want)
}
