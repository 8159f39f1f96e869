package adminapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

const usersPath = adminapi.Prefix + "/users"

// introspect reports whether the token is active, asked by a resource server client.
func (e *env) introspect(t *testing.T, value string) bool {
	t.Helper()
	if e.rsID == "" {
		e.rsID, e.rsSecret = e.ts.CreateClient(t, storage.Client{})
	}
	form := url.Values{"token": {value}}
	hr, _ := http.NewRequestWithContext(e.ctx(), http.MethodPost, e.ts.URL+"/oauth2/introspect", strings.NewReader(form.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.SetBasicAuth(e.rsID, e.rsSecret)
	resp, err := e.ts.Client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return out.Active
}

// userTokens signs username in with the password grant through a new client and returns
// the client id and the token (access and refresh, stored with a grant id).
func (e *env) userTokens(t *testing.T, username, password string, scopes ...string) (string, *oauth2.Token) {
	t.Helper()
	id, secret := e.ts.CreateClient(t, storage.Client{GrantTypes: []string{oauth.GrantPassword, oauth.GrantRefreshToken},
		Scopes: append([]string{oauth.ScopeOfflineAccess}, scopes...)})
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInHeader}, Scopes: append([]string{oauth.ScopeOfflineAccess}, scopes...)}
	tok, err := cfg.PasswordCredentialsToken(context.WithValue(e.ctx(), oauth2.HTTPClient, e.ts.Client), username, password)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	return id, tok
}

// session stores a browser session of user id and returns its id.
func (e *env) session(t *testing.T, userID string) string {
	t.Helper()
	id, err := oauth.NewID()
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.now().UTC().Truncate(time.Microsecond)
	err = e.ts.Store.CreateSession(e.ctx(), storage.Session{ID: id, Hash: token.Hash(id), UserID: userID, AuthTime: now,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), UserAgent: "test", IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()

		// Create with a generated password: in the answer once; the user can sign in with it.
		r := e.do(http.MethodPost, usersPath, req{body: `{"username":"Alice","email":"alice@example.com","name":"Alice A","roles":["admin"]}`})
		expect(t, r, http.StatusCreated, "")
		var created struct {
			ID, Username, Password string
		}
		r.json(t, &created)
		if created.Username != "alice" || created.Password == "" || strings.Contains(string(r.body), "password_hash") {
			t.Fatalf("created: %s", r.body)
		}
		if _, err := e.ts.Provider.AuthenticateUser(ctx, "alice", created.Password, "127.0.0.1"); err != nil {
			t.Fatalf("sign in with the generated password: %v", err)
		}
		// With a given password: none in the answer.
		u2, pw, err := e.client.CreateUser(ctx, admin.UserInput{Username: "bob", Password: "bob's long password"})
		if err != nil || pw != "" || u2.Username != "bob" {
			t.Fatalf("create bob: %+v %q %v", u2, pw, err)
		}
		// Validation and conflicts.
		eb := expect(t, e.do(http.MethodPost, usersPath, req{body: `{"username":"x y","email":"nope","password":"short"}`}), 400, adminapi.CodeValidationFailed)
		for _, f := range []string{"username", "email", "password"} {
			if !eb.hasField(f) {
				t.Errorf("no message for %s: %+v", f, eb.Fields)
			}
		}
		expect(t, e.do(http.MethodPost, usersPath, req{body: `{"username":"ALICE"}`}), 409, adminapi.CodeConflict)

		// Get by id and by username.
		for _, ref := range []string{created.ID, "alice", "Alice"} {
			u, err := e.client.GetUser(ctx, ref)
			if err != nil || u.ID != created.ID || u.PasswordHash != "" || !slices.Equal(u.Roles, []string{"admin"}) {
				t.Errorf("get %q: %+v %v", ref, u, err)
			}
		}
		if _, err := e.client.GetUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("get nobody: %v", err)
		}

		// Update.
		email := "alice@example.org"
		u, err := e.client.UpdateUser(ctx, "alice", admin.UserPatch{Email: &email})
		if err != nil || u.Email != email || u.EmailVerified {
			t.Fatalf("update: %+v %v", u, err)
		}
		taken := "bob"
		if _, err := e.client.UpdateUser(ctx, "alice", admin.UserPatch{Username: &taken}); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("rename to a taken username: %v", err)
		}
		expect(t, e.do(http.MethodPatch, usersPath+"/alice", req{body: `{"roles":["a b"]}`}), 400, adminapi.CodeValidationFailed)
		expect(t, e.do(http.MethodPatch, usersPath+"/alice", req{body: `{"password":"x"}`}), 400, adminapi.CodeInvalidRequest)

		// Sessions: list, end one, end all.
		s1 := e.session(t, created.ID)
		e.session(t, created.ID)
		e.session(t, created.ID)
		sessions, err := e.client.ListSessions(ctx, "alice")
		if err != nil || len(sessions) != 3 || sessions[0].UserAgent != "test" || sessions[0].Hash != nil {
			t.Fatalf("sessions: %+v %v", sessions, err)
		}
		if err := e.client.RevokeSession(ctx, "alice", s1); err != nil {
			t.Fatal(err)
		}
		if err := e.client.RevokeSession(ctx, "alice", s1); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("end an ended session: %v", err)
		}
		bobSession := e.session(t, u2.ID)
		if err := e.client.RevokeSession(ctx, "alice", bobSession); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("end another user's session through alice: %v", err)
		}
		if n, err := e.client.RevokeSessions(ctx, "alice"); err != nil || n != 2 {
			t.Errorf("end all: %d %v", n, err)
		}
		if list, _ := e.client.ListSessions(ctx, "alice"); len(list) != 0 {
			t.Errorf("sessions left: %v", list)
		}

		// Set a password: given, then generated; sessions end.
		e.session(t, created.ID)
		out, gen, err := e.client.SetPassword(ctx, "alice", "a brand new password")
		if err != nil || gen != "" || out.Sessions != 1 {
			t.Fatalf("set password: %+v %q %v", out, gen, err)
		}
		if _, err := e.ts.Provider.AuthenticateUser(ctx, "alice", "a brand new password", "127.0.0.1"); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}
		_, gen, err = e.client.SetPassword(ctx, "alice", "")
		if err != nil || gen == "" {
			t.Fatalf("generated password: %q %v", gen, err)
		}
		if _, err := e.ts.Provider.AuthenticateUser(ctx, "alice", gen, "127.0.0.1"); err != nil {
			t.Errorf("sign in with the generated password: %v", err)
		}
		eb = expect(t, e.do(http.MethodPost, usersPath+"/alice/password", req{body: `{"password":"short"}`}), 400, adminapi.CodeValidationFailed)
		if !eb.hasField("password") {
			t.Errorf("fields %+v", eb.Fields)
		}
		expect(t, e.do(http.MethodPost, usersPath+"/nobody/password", req{}), 404, adminapi.CodeNotFound)

		// Disable: sessions end, tokens revoked; enable.
		_, tok := e.userTokens(t, "alice", gen)
		e.session(t, created.ID)
		u, so, err := e.client.DisableUser(ctx, "alice")
		if err != nil || !u.Disabled || so.Sessions != 1 || so.Tokens < 2 {
			t.Fatalf("disable: %+v %+v %v", u, so, err)
		}
		if e.introspect(t, tok.AccessToken) || e.introspect(t, tok.RefreshToken) {
			t.Error("a disabled user's tokens are active")
		}
		if _, err := e.ts.Provider.AuthenticateUser(ctx, "alice", gen, "127.0.0.1"); err == nil {
			t.Error("a disabled user signed in")
		}
		if u, err = e.client.EnableUser(ctx, "alice"); err != nil || u.Disabled {
			t.Fatalf("enable: %+v %v", u, err)
		}

		// Delete: the user is returned, then gone.
		u, err = e.client.DeleteUser(ctx, "bob")
		if err != nil || u.Username != "bob" {
			t.Fatalf("delete: %+v %v", u, err)
		}
		expect(t, e.do(http.MethodGet, usersPath+"/bob", req{}), 404, adminapi.CodeNotFound)
		expect(t, e.do(http.MethodDelete, usersPath+"/bob", req{}), 404, adminapi.CodeNotFound)

		// Audit: each change by the admin token, about the user.
		events, _, err := e.admin().ListAudit(ctx, storage.AuditFilter{Actor: adminapi.ActorAdminToken + e.tokenID, Subject: created.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		for _, want := range []string{admin.EventUserCreated, admin.EventUserUpdated, admin.EventSessionRevoked, admin.EventUserPasswordSet,
			admin.EventUserDisabled, admin.EventUserEnabled} {
			if !slices.Contains(types, want) {
				t.Errorf("no %s event by the admin token (have %v)", want, types)
			}
		}
	})
}

func TestUsersPagination(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		var want []string
		for i := range 17 {
			name := fmt.Sprintf("user%02d", i)
			email := name + "@example.com"
			if i%4 == 0 {
				email = name + "@corp.example"
			}
			if _, _, err := e.admin().CreateUser(e.ctx(), admin.UserInput{Username: name, Email: email, PasswordHash: "$2a$10$" + strings.Repeat("a", 53)}); err != nil {
				t.Fatal(err)
			}
			want = append(want, name)
		}
		for _, limit := range []int{1, 4, 17, 50} {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("pagination does not end")
				}
				items, next, err := e.client.ListUsers(e.ctx(), adminapi.ListOptions{Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range items {
					got = append(got, u.Username)
				}
				if cursor = next; next == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: %v", limit, got)
			}
		}
		all, err := e.client.AllUsers(e.ctx(), "CORP")
		if err != nil || len(all) != 5 {
			t.Errorf("search by email: %d %v", len(all), err)
		}
	})
}

// TestConsentsAndTokens: a user's consents and grants can be listed and revoked, one token,
// one grant, everything of a user or of a client; revoked tokens stop introspecting.
func TestConsentsAndTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()
		e.ts.CreateScope(t, storage.Scope{Name: "api:read"})
		alice := e.ts.CreateUser(t, "alice", "alice's password")
		c1, t1 := e.userTokens(t, "alice", "alice's password", "api:read")
		c2, t2 := e.userTokens(t, "alice", "alice's password", "api:read")
		_, t3 := e.userTokens(t, "alice", "alice's password", "api:read")
		now := e.clock.now().UTC().Truncate(time.Microsecond)
		for _, c := range []string{c1, c2} {
			if err := e.ts.Store.PutConsent(ctx, storage.Consent{UserID: alice.ID, ClientID: c, Scopes: []string{"api:read"},
				CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}

		// Consents.
		consents, err := e.client.ListConsents(ctx, "alice")
		if err != nil || len(consents) != 2 {
			t.Fatalf("consents: %+v %v", consents, err)
		}
		// Tokens of the user: access and refresh of three grants.
		toks, err := e.client.ListUserTokens(ctx, alice.ID)
		if err != nil || len(toks) != 6 {
			t.Fatalf("user tokens: %d %v", len(toks), err)
		}
		for _, tk := range toks {
			if tk.Hash != nil || tk.GrantID == "" || tk.Subject != alice.ID {
				t.Errorf("token %+v", tk)
			}
		}
		// Revoking the consent of c1 revokes c1's tokens only.
		n, err := e.client.RevokeConsent(ctx, "alice", c1)
		if err != nil || n != 2 {
			t.Fatalf("revoke consent: %d %v", n, err)
		}
		if e.introspect(t, t1.AccessToken) || e.introspect(t, t1.RefreshToken) || !e.introspect(t, t2.AccessToken) {
			t.Error("revoking the consent of c1 did not revoke exactly c1's tokens")
		}
		if _, err := e.client.RevokeConsent(ctx, "alice", c1); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("revoke a revoked consent: %v", err)
		}
		events, _, _ := e.admin().ListAudit(ctx, storage.AuditFilter{Type: admin.EventConsentRevoked, ClientID: c1})
		if len(events) != 1 || events[0].Actor != adminapi.ActorAdminToken+e.tokenID || events[0].Subject != alice.ID {
			t.Errorf("consent.revoked event: %+v", events)
		}

		// Client tokens; one token by id; one grant.
		ct, err := e.client.ListClientTokens(ctx, c2)
		if err != nil || len(ct) != 2 {
			t.Fatalf("client tokens: %d %v", len(ct), err)
		}
		var access storage.Token
		for _, tk := range ct {
			if tk.Kind == storage.KindAccess {
				access = tk
			}
		}
		got, err := e.client.GetToken(ctx, access.ID)
		if err != nil || got.ID != access.ID || !got.RevokedAt.IsZero() {
			t.Fatalf("get token: %+v %v", got, err)
		}
		revoked, err := e.client.RevokeToken(ctx, access.ID)
		if err != nil || revoked.RevokedAt.IsZero() {
			t.Fatalf("revoke token: %+v %v", revoked, err)
		}
		if e.introspect(t, t2.AccessToken) || !e.introspect(t, t2.RefreshToken) {
			t.Error("revoking the access token by id: the JWT must be inactive, the refresh token not")
		}
		if n, err := e.client.RevokeGrant(ctx, access.GrantID); err != nil || n != 1 {
			t.Errorf("revoke grant: %d %v", n, err)
		}
		if e.introspect(t, t2.RefreshToken) {
			t.Error("the grant's refresh token is still active")
		}
		if _, err := e.client.RevokeGrant(ctx, access.GrantID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("revoke a revoked grant: %v", err)
		}
		if _, err := e.client.GetToken(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("get a missing token: %v", err)
		}
		// Everything of a user.
		if n, err := e.client.RevokeUserTokens(ctx, "alice"); err != nil || n != 2 {
			t.Errorf("revoke user tokens: %d %v", n, err)
		}
		if e.introspect(t, t3.AccessToken) {
			t.Error("user tokens still active")
		}
		// Everything of a client.
		c4, t4 := e.userTokens(t, "alice", "alice's password")
		if n, err := e.client.RevokeClientTokens(ctx, c4); err != nil || n != 2 {
			t.Errorf("revoke client tokens: %d %v", n, err)
		}
		if e.introspect(t, t4.AccessToken) {
			t.Error("client tokens still active")
		}
		if _, err := e.client.RevokeClientTokens(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("revoke tokens of a missing client: %v", err)
		}
		if _, err := e.client.ListUserTokens(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("tokens of a missing user: %v", err)
		}

		// Personal access tokens.
		pt, value, err := e.client.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: "alice", Name: "ci", Scopes: []string{"api:read"},
			Lifetime: 7 * 24 * time.Hour})
		if err != nil || !strings.HasPrefix(value, token.PrefixPersonal) || pt.Name != "ci" {
			t.Fatalf("create PAT: %+v %q %v", pt, value, err)
		}
		if !e.introspect(t, value) {
			t.Fatal("the new PAT is not active")
		}
		list, err := e.client.ListPersonalTokens(ctx, "alice")
		if err != nil || len(list) != 1 || list[0].ID != pt.ID {
			t.Fatalf("list PATs: %+v %v", list, err)
		}
		eb := expect(t, e.do(http.MethodPost, usersPath+"/alice/personal-tokens", req{body: `{"name":"","scopes":["nope"]}`}), 400, adminapi.CodeValidationFailed)
		if len(eb.Fields) == 0 {
			t.Error("no fields")
		}
		expect(t, e.do(http.MethodPost, usersPath+"/alice/personal-tokens", req{body: `{"name":"x","scopes":["api:read"],"expires_in":-1}`}), 400, adminapi.CodeValidationFailed)
		if _, err := e.client.RevokePersonalToken(ctx, "", pt.ID); err != nil {
			t.Fatalf("revoke PAT: %v", err)
		}
		if e.introspect(t, value) {
			t.Error("the revoked PAT is active")
		}
		pt2, _, err := e.client.CreatePersonalToken(ctx, admin.PersonalTokenInput{User: alice.ID, Name: "ci2", Scopes: []string{"api:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.RevokePersonalToken(ctx, "alice", pt2.ID); err != nil {
			t.Fatalf("revoke PAT of alice: %v", err)
		}
		if _, err := e.client.RevokePersonalToken(ctx, "alice", pt2.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("revoke a revoked PAT: %v", err)
		}
	})
}
