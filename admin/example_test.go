package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

// account is a row of an application's own user table.
type account struct {
	ID       int
	Login    string
	FullName string
	Email    string
	Hash     string // bcrypt, as the application has always stored it
}

// appUsers puts the application's table behind storage.Users, so that Gatehouse signs its
// users in without copying them. Accounts are managed by the application, so the methods
// that create and delete them refuse.
type appUsers struct {
	mu       sync.Mutex
	accounts map[string]*account // by login
}

var errManagedByApp = errors.New("accounts are managed by the application")

func (s *appUsers) toUser(a *account) storage.User {
	return storage.User{ID: fmt.Sprint(a.ID), Username: a.Login, Name: a.FullName, Email: a.Email,
		EmailVerified: true, PasswordHash: a.Hash}
}

func (s *appUsers) GetUserByUsername(_ context.Context, username string) (storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[strings.ToLower(username)]
	if !ok {
		return storage.User{}, storage.ErrNotFound
	}
	return s.toUser(a), nil
}

func (s *appUsers) GetUser(_ context.Context, id string) (storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if fmt.Sprint(a.ID) == id {
			return s.toUser(a), nil
		}
	}
	return storage.User{}, storage.ErrNotFound
}

func (s *appUsers) ListUsers(context.Context) ([]storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.User
	for _, login := range slices.Sorted(maps.Keys(s.accounts)) {
		out = append(out, s.toUser(s.accounts[login]))
	}
	return out, nil
}

// QueryUsers pages through ListUsers: the users after q.After whose login, name or email
// contains q.Search (ignoring case), at most q.Limit (100 if zero).
func (s *appUsers) QueryUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	all, err := s.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []storage.User
	for _, u := range all {
		match := false
		for _, field := range []string{u.Username, u.Name, u.Email} {
			match = match || strings.Contains(strings.ToLower(field), strings.ToLower(q.Search))
		}
		if u.Username > q.After && match && len(out) < limit {
			out = append(out, u)
		}
	}
	return out, nil
}

// UpdateUser keeps the one change Gatehouse makes: a bcrypt hash replaced by argon2id after
// a successful sign-in.
func (s *appUsers) UpdateUser(_ context.Context, u storage.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[u.Username]
	if !ok || fmt.Sprint(a.ID) != u.ID {
		return storage.ErrNotFound
	}
	a.Hash = u.PasswordHash
	return nil
}

func (s *appUsers) CreateUser(context.Context, storage.User) error { return errManagedByApp }
func (s *appUsers) DeleteUser(context.Context, string) error       { return errManagedByApp }

// Example_customUserStore signs in the users of an application's own database: the
// application implements storage.Users over its table and passes it as oauth.Deps.Users;
// clients, tokens and keys stay in Gatehouse's store. (`gatehouse users` and
// admin.CreateUser manage the built-in store instead.) The bcrypt hash the application
// stored is verified as is and replaced by argon2id after the first successful sign-in.
func Example_customUserStore() {
	ctx := context.Background()
	hash, _ := bcrypt.GenerateFromPassword([]byte("down the rabbit hole"), bcrypt.MinCost)
	users := &appUsers{accounts: map[string]*account{
		"alice": {ID: 42, Login: "alice", FullName: "Alice Liddell", Email: "alice@example.com", Hash: string(hash)},
	}}

	store := memory.New() // clients, tokens, keys
	sealingKey, _ := token.ParseSealingKey("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	sealer, _ := token.NewSealer(sealingKey)
	keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{})
	if err := keys.Ensure(ctx, token.ES256); err != nil {
		log.Fatal(err)
	}
	p, err := oauth.New(oauth.Options{Issuer: "https://auth.example.com"},
		oauth.Deps{Store: store, Keys: keys, Sealer: sealer, Users: users})
	if err != nil {
		log.Fatal(err)
	}

	// What the sign-in page does with the submitted form.
	if _, err := p.AuthenticateUser(ctx, "alice", "wrong password", "203.0.113.7"); errors.Is(err, oauth.ErrLoginFailed) {
		fmt.Println("wrong password:", err)
	}
	u, err := p.AuthenticateUser(ctx, "alice", "down the rabbit hole", "203.0.113.7")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in: sub", u.ID, u.Name)
	fmt.Println("rehashed to argon2id:", strings.HasPrefix(users.accounts["alice"].Hash, "$argon2id$"))
	// Output:
	// wrong password: invalid username or password
	// signed in: sub 42 Alice Liddell
	// rehashed to argon2id: true
}
