package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
)

func sessionTests() []test {
	return []test{
		{"CreateGet", testSessionCreateGet},
		{"CreateConflict", testSessionCreateConflict},
		{"NotFound", testSessionNotFound},
		{"List", testSessionList},
		{"Delete", testSessionDelete},
		{"Copies", testSessionCopies},
	}
}

func sessionKey(s storage.Session) string { return s.ID }

func testSessionCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createUsers(t, s, "alice")
	full := newSession("s1", "alice", at(0))
	full.Hash = allBytes(3)
	bare := storage.Session{ID: "s2", Hash: sessionHash("s2"), UserID: "alice", CreatedAt: west(at(time.Minute))}
	// Expired when written: returned all the same.
	expired := newSession("s3", "alice", at(-48*time.Hour))
	for _, se := range []storage.Session{full, bare, expired} {
		must(t, s.CreateSession(ctx, se), "CreateSession "+se.ID)
	}
	for _, se := range []storage.Session{full, bare, expired} {
		got, err := s.GetSessionByHash(ctx, se.Hash)
		must(t, err, "GetSessionByHash "+se.ID)
		checkEqual(t, "session "+se.ID, got, se)
	}
}

func testSessionCreateConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createUsers(t, s, "alice", "bob")
	first := newSession("s1", "alice", at(0))
	must(t, s.CreateSession(ctx, first), "CreateSession")

	sameID := newSession("s1", "bob", at(time.Minute))
	sameID.Hash = sessionHash("another value")
	checkErr(t, "CreateSession with a taken id", s.CreateSession(ctx, sameID), storage.ErrConflict)
	_, err := s.GetSessionByHash(ctx, sameID.Hash)
	checkErr(t, "GetSessionByHash of the refused session", err, storage.ErrNotFound)

	sameHash := newSession("s2", "bob", at(time.Minute))
	sameHash.Hash = first.Hash
	checkErr(t, "CreateSession with a taken hash", s.CreateSession(ctx, sameHash), storage.ErrConflict)
	checkErr(t, "DeleteSession of the refused session", s.DeleteSession(ctx, "s2"), storage.ErrNotFound)

	got, err := s.GetSessionByHash(ctx, first.Hash)
	must(t, err, "GetSessionByHash")
	checkEqual(t, "session after conflicting creates", got, first)
	list, err := s.ListSessions(ctx, "bob")
	must(t, err, "ListSessions")
	checkList(t, "ListSessions of the refused sessions' user", list, nil, sessionKey)
}

func testSessionNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createUsers(t, s, "alice")
	se := newSession("sid", "alice", at(0))
	must(t, s.CreateSession(ctx, se), "CreateSession")
	for name, h := range map[string][]byte{
		"the session id":         []byte("sid"),
		"another hash":           sessionHash("other"),
		"a prefix of the hash":   se.Hash[:16],
		"the hash and one more":  append(append([]byte{}, se.Hash...), 0),
		"the hash with a change": append(append([]byte{}, se.Hash[:31]...), se.Hash[31]^1),
		"an empty hash":          {},
		"a nil hash":             nil,
	} {
		_, err := s.GetSessionByHash(ctx, h)
		checkErr(t, "GetSessionByHash with "+name, err, storage.ErrNotFound)
	}
	checkErr(t, "DeleteSession absent", s.DeleteSession(ctx, "absent"), storage.ErrNotFound)
	checkErr(t, "DeleteSession with an empty id", s.DeleteSession(ctx, ""), storage.ErrNotFound)
	got, err := s.GetSessionByHash(ctx, se.Hash)
	must(t, err, "GetSessionByHash")
	checkEqual(t, "session", got, se)
}

func testSessionList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createUsers(t, s, "alice", "bob", "carol")
	// Ids in another order than CreatedAt, so that ordering by id fails. "s-b" is in a zone
	// west of UTC: its wall clock reads earlier than the others' though its instant is the
	// latest, so only ordering by instant passes. s-c and s-d are a microsecond apart.
	sessions := []storage.Session{
		newSession("s-a", "alice", at(time.Minute)),
		newSession("s-b", "alice", west(at(2*time.Hour))),
		newSession("s-c", "alice", at(-time.Hour+time.Microsecond)),
		newSession("s-d", "alice", at(-time.Hour)),
		// Expired sessions are listed too.
		newSession("s-e", "alice", at(-72*time.Hour)),
		newSession("s-f", "bob", at(0)),
	}
	for _, se := range sessions {
		must(t, s.CreateSession(ctx, se), "CreateSession "+se.ID)
	}
	got, err := s.ListSessions(ctx, "alice")
	must(t, err, "ListSessions")
	checkList(t, "ListSessions", got, []storage.Session{sessions[4], sessions[3], sessions[2], sessions[0], sessions[1]}, sessionKey)
	got, err = s.ListSessions(ctx, "bob")
	must(t, err, "ListSessions of another user")
	checkList(t, "ListSessions of another user", got, sessions[5:], sessionKey)
	got, err = s.ListSessions(ctx, "carol")
	must(t, err, "ListSessions of a user without sessions")
	checkList(t, "ListSessions of a user without sessions", got, nil, sessionKey)
}

func testSessionDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClients(t, s, "app")
	createUsers(t, s, "alice")
	a, b, c := newSession("a", "alice", at(0)), newSession("b", "alice", at(time.Minute)), newSession("c", "alice", at(2*time.Minute))
	for _, se := range []storage.Session{a, b, c} {
		must(t, s.CreateSession(ctx, se), "CreateSession "+se.ID)
	}
	// A code naming the session must not stop DeleteSession.
	code := newCode("c1", "app", "alice")
	code.SessionID = "b"
	must(t, s.CreateCode(ctx, code), "CreateCode")

	must(t, s.DeleteSession(ctx, "b"), "DeleteSession")
	_, err := s.GetSessionByHash(ctx, b.Hash)
	checkErr(t, "GetSessionByHash after DeleteSession", err, storage.ErrNotFound)
	checkErr(t, "DeleteSession twice", s.DeleteSession(ctx, "b"), storage.ErrNotFound)
	got, err := s.ListSessions(ctx, "alice")
	must(t, err, "ListSessions")
	checkList(t, "ListSessions after DeleteSession", got, []storage.Session{a, c}, sessionKey)

	// The id and the hash can be used again.
	must(t, s.CreateSession(ctx, b), "CreateSession after DeleteSession")
	again, err := s.GetSessionByHash(ctx, b.Hash)
	must(t, err, "GetSessionByHash")
	checkEqual(t, "re-created session", again, b)
}

func testSessionCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createUsers(t, s, "alice")
	se := newSession("s1", "alice", at(0))
	want := newSession("s1", "alice", at(0))
	must(t, s.CreateSession(ctx, se), "CreateSession")
	se.Hash[0] ^= 0xff
	got, err := s.GetSessionByHash(ctx, want.Hash)
	must(t, err, "GetSessionByHash after the caller changed its slices")
	checkEqual(t, "session", got, want)
	got.Hash[0] ^= 0xff
	list, err := s.ListSessions(ctx, "alice")
	must(t, err, "ListSessions")
	if len(list) > 0 {
		list[0].Hash[1] ^= 0xff
	}
	again, err := s.GetSessionByHash(ctx, want.Hash)
	must(t, err, "GetSessionByHash after the caller changed returned slices")
	checkEqual(t, "session", again, want)
}
