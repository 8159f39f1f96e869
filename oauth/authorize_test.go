package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

const (
	webRedirect = "https://app.example.test/callback"
	verifier    = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-extra-entropy"
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// browserFixture adds a user, a confidential web client and a public native client.
type browserFixture struct {
	*fixture
	user      storage.User
	webSecret string
}

func newBrowserFixture(t *testing.T, mutate func(*oauth.Options)) *browserFixture {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	sk, _ := token.NewSealingKey()
	raw, _ := token.ParseSealingKey(sk)
	sealer, _ := token.NewSealer(raw)
	opts := oauth.Options{Issuer: issuer, CacheTTL: -1, GrantTypes: []string{oauth.GrantClientCredentials,
		oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantPassword}}
	if mutate != nil {
		mutate(&opts)
	}
	p, err := oauth.New(opts, oauth.Deps{Store: f.store, Keys: f.keys, Now: f.clock.Now, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	hash, _ := token.HashPassword("alice-password")
	u := storage.User{ID: "u-alice", Username: "alice", Email: "alice@example.test", PasswordHash: hash}
	if err := f.store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b := &browserFixture{fixture: f, user: u}
	b.webSecret, _ = token.NewClientSecret()
	f.addClient(t, storage.Client{ID: "web", SecretHash: token.HashGeneratedSecret(b.webSecret),
		GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantPassword},
		Scopes:       []string{"invoices:read", "invoices:write", oauth.ScopeOpenID, oauth.ScopeOfflineAccess},
		RedirectURIs: []string{webRedirect}})
	f.addClient(t, storage.Client{ID: "native", Public: true,
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, Scopes: []string{"invoices:read"},
		RedirectURIs: []string{"http://127.0.0.1/cb", "com.example.app:/cb"}})
	return b
}

func authParams(kv ...string) url.Values {
	v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"},
		"scope": {"invoices:read"}, "state": {"xyz"}, "code_challenge": {challenge(verifier)},
		"code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func TestValidateAuthorize(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	displayed := []struct {
		name   string
		params url.Values
	}{
		{"unknown client", authParams("client_id", "nobody")},
		{"no client", authParams("client_id", "")},
		{"unregistered redirect", authParams("redirect_uri", "https://evil.example/callback")},
		{"redirect prefix", authParams("redirect_uri", webRedirect+"/more")},
		{"redirect with query", authParams("redirect_uri", webRedirect+"?x=1")},
		{"confidential loopback port", authParams("redirect_uri", "http://127.0.0.1:9999/cb")},
		{"native other path", authParams("client_id", "native", "redirect_uri", "http://127.0.0.1:4000/other")},
		{"native localhost name", authParams("client_id", "native", "redirect_uri", "http://localhost:4000/cb")},
	}
	for _, tt := range displayed {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.p.ValidateAuthorize(ctx, tt.params)
			var oe *oauth.Error
			var re *oauth.RedirectError
			if errors.As(err, &re) || !errors.As(err, &oe) {
				t.Fatalf("err = %#v, want an error to display", err)
			}
		})
	}
	redirected := []struct {
		name   string
		params url.Values
		code   string
	}{
		{"no PKCE", authParams("code_challenge", "", "code_challenge_method", ""), oauth.CodeInvalidRequest},
		{"plain PKCE", authParams("code_challenge_method", "plain", "code_challenge", verifier), oauth.CodeInvalidRequest},
		{"short challenge", authParams("code_challenge", "abc"), oauth.CodeInvalidRequest},
		{"unknown response type", authParams("response_type", "code token2"), oauth.CodeUnsupportedResponseType},
		{"implicit not allowed", authParams("response_type", "token"), oauth.CodeUnauthorizedClient},
		{"scope not allowed", authParams("scope", "admin"), oauth.CodeInvalidScope},
		{"prompt none and login", authParams("prompt", "none login"), oauth.CodeInvalidRequest},
		{"bad max_age", authParams("max_age", "-1"), oauth.CodeInvalidRequest},
		{"request object", authParams("request", "eyJ"), "request_not_supported"},
		{"tokens in the query", authParams("response_type", "id_token", "response_mode", "query"), oauth.CodeInvalidRequest},
	}
	for _, tt := range redirected {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.p.ValidateAuthorize(ctx, tt.params)
			var re *oauth.RedirectError
			if !errors.As(err, &re) || re.Err.Code != tt.code {
				t.Fatalf("err = %v, want redirected %s", err, tt.code)
			}
			loc, _ := url.Parse(re.Redirect.Location())
			q := loc.Query()
			if re.Redirect.Mode == oauth.ModeFragment {
				q, _ = url.ParseQuery(loc.Fragment)
			}
			if q.Get("error") != tt.code || q.Get("state") != "xyz" || q.Get("iss") != issuer || !strings.HasPrefix(loc.String(), webRedirect) {
				t.Fatalf("redirect = %s", loc)
			}
		})
	}
	// Native apps: any port on the loopback address.
	req, err := b.p.ValidateAuthorize(ctx, authParams("client_id", "native", "redirect_uri", "http://127.0.0.1:51234/cb"))
	if err != nil || req.RedirectURI != "http://127.0.0.1:51234/cb" {
		t.Fatalf("loopback port: %v %+v", err, req)
	}
}

// authorize runs an approved authorization request and returns the code.
func (b *browserFixture) authorize(t *testing.T, params url.Values) string {
	t.Helper()
	ctx := context.Background()
	req, err := b.p.ValidateAuthorize(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.p.SealAuthorize(req)
	if err != nil {
		t.Fatal(err)
	}
	if req, err = b.p.OpenAuthorize(ctx, sealed); err != nil {
		t.Fatal(err)
	}
	red, err := b.p.Approve(ctx, req, oauth.Authentication{UserID: b.user.ID, AuthTime: b.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(red.Location())
	if loc.Query().Get("state") != "xyz" || loc.Query().Get("iss") != issuer {
		t.Fatalf("redirect = %s", loc)
	}
	return loc.Query().Get("code")
}

func (b *browserFixture) exchange(code, redirect, verifier string) (*oauth.TokenResponse, error) {
	return b.p.Token(context.Background(), oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode, Code: code,
		RedirectURI: redirect, CodeVerifier: verifier,
		Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
}

func (b *browserFixture) active(t *testing.T, v string) bool {
	t.Helper()
	in, err := b.p.Introspect(context.Background(), oauth.TokenHandleRequest{Token: v,
		Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
	if err != nil {
		t.Fatal(err)
	}
	return in.Active
}

func TestAuthorizationCodeFlow(t *testing.T) {
	b := newBrowserFixture(t, nil)
	code := b.authorize(t, authParams())
	// Adversarial exchanges first: each failure leaves the code unused.
	for name, try := range map[string]func() (*oauth.TokenResponse, error){
		"missing verifier":  func() (*oauth.TokenResponse, error) { return b.exchange(code, webRedirect, "") },
		"wrong verifier":    func() (*oauth.TokenResponse, error) { return b.exchange(code, webRedirect, verifier+"x") },
		"wrong redirect":    func() (*oauth.TokenResponse, error) { return b.exchange(code, webRedirect+"x", verifier) },
		"missing redirect":  func() (*oauth.TokenResponse, error) { return b.exchange(code, "", verifier) },
		"tampered code":     func() (*oauth.TokenResponse, error) { return b.exchange(code+"x", webRedirect, verifier) },
		"no code parameter": func() (*oauth.TokenResponse, error) { return b.exchange("", webRedirect, verifier) },
	} {
		if _, err := try(); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	// Another client cannot redeem it either (and does not burn it).
	_, err := b.p.Token(context.Background(), oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode, Code: code,
		RedirectURI: webRedirect, CodeVerifier: verifier, Client: cc("machine", b.secret, "").Client})
	wantCode(t, err, oauth.CodeUnauthorizedClient) // machine is not allowed the grant at all
	resp, err := b.exchange(code, webRedirect, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if resp.RefreshToken == "" || resp.Scope != "invoices:read" || resp.IDToken != "" {
		t.Fatalf("resp = %+v", resp)
	}
	if !b.active(t, resp.AccessToken) || !b.active(t, resp.RefreshToken) {
		t.Fatal("issued tokens inactive")
	}
	// Replay: refused, and what the code issued is revoked.
	_, err = b.exchange(code, webRedirect, verifier)
	wantCode(t, err, oauth.CodeInvalidGrant)
	if b.active(t, resp.AccessToken) || b.active(t, resp.RefreshToken) {
		t.Fatal("tokens of a replayed code still active")
	}
	events, _ := b.store.ListAudit(context.Background(), storage.AuditFilter{Type: "token.reuse_detected"})
	if len(events) != 1 {
		t.Fatalf("reuse audit events = %d", len(events))
	}
}

func TestCodeExpires(t *testing.T) {
	b := newBrowserFixture(t, nil)
	code := b.authorize(t, authParams())
	b.clock.Advance(61 * time.Second)
	_, err := b.exchange(code, webRedirect, verifier)
	wantCode(t, err, oauth.CodeInvalidGrant)
}

func TestPKCEDowngrade(t *testing.T) {
	b := newBrowserFixture(t, func(o *oauth.Options) { o.PKCEOptional = true })
	code := b.authorize(t, authParams("code_challenge", "", "code_challenge_method", ""))
	_, err := b.exchange(code, webRedirect, verifier)
	wantCode(t, err, oauth.CodeInvalidGrant)
	if _, err := b.exchange(code, webRedirect, ""); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	code := b.authorize(t, authParams("scope", "invoices:read invoices:write"))
	first, err := b.exchange(code, webRedirect, verifier)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt, scope string) (*oauth.TokenResponse, error) {
		return b.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: rt, Scope: scope,
			Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodPost}})
	}
	// Widening is refused and does not use the token up.
	_, err = refresh(first.RefreshToken, "invoices:read admin")
	wantCode(t, err, oauth.CodeInvalidScope)
	second, err := refresh(first.RefreshToken, "invoices:read")
	if err != nil {
		t.Fatal(err)
	}
	if second.Scope != "invoices:read" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("second = %+v", second)
	}
	// The rotated token keeps the grant's full scope.
	third, err := refresh(second.RefreshToken, "")
	if err != nil || third.Scope != "invoices:read invoices:write" {
		t.Fatalf("third = %+v, %v", third, err)
	}
	// Reuse of an old refresh token revokes the whole grant.
	_, err = refresh(first.RefreshToken, "")
	wantCode(t, err, oauth.CodeInvalidGrant)
	for _, v := range []string{third.AccessToken, third.RefreshToken, second.AccessToken} {
		if b.active(t, v) {
			t.Fatal("grant not revoked after reuse")
		}
	}
	_, err = refresh(third.RefreshToken, "")
	wantCode(t, err, oauth.CodeInvalidGrant)
}

func TestOpenIDRefreshNeedsOfflineAccess(t *testing.T) {
	b := newBrowserFixture(t, nil)
	code := b.authorize(t, authParams("scope", "openid invoices:read"))
	resp, err := b.exchange(code, webRedirect, verifier)
	if err != nil || resp.RefreshToken != "" {
		t.Fatalf("openid without offline_access got %+v, %v", resp, err)
	}
	code = b.authorize(t, authParams("scope", "openid offline_access"))
	if resp, err = b.exchange(code, webRedirect, verifier); err != nil || resp.RefreshToken == "" {
		t.Fatalf("offline_access got %+v, %v", resp, err)
	}
}

func TestPasswordGrantThrottle(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	pw := func(password string) error {
		_, err := b.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: "alice", Password: password,
			Scope: "invoices:read", RemoteIP: "192.0.2.1",
			Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
		return err
	}
	if err := pw("alice-password"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		wantCode(t, pw("wrong"), oauth.CodeInvalidGrant)
	}
	// Now even the right password waits.
	err := pw("alice-password")
	var oe *oauth.Error
	if !errors.As(err, &oe) || !strings.Contains(oe.Description, "try again") {
		t.Fatalf("throttled err = %v", err)
	}
	b.clock.Advance(2 * time.Second)
	if err := pw("alice-password"); err != nil {
		t.Fatalf("after the delay: %v", err)
	}
	// Unknown users and disabled users fail the same way.
	_, err = b.p.AuthenticateUser(ctx, "nobody", "x", "")
	if !errors.Is(err, oauth.ErrLoginFailed) {
		t.Fatal(err)
	}
}

func TestBcryptRehash(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	// A bcrypt hash, as another system would have stored it.
	hash, err := bcrypt.GenerateFromPassword([]byte("imported-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateUser(ctx, storage.User{ID: "u-bob", Username: "bob", PasswordHash: string(hash)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.p.AuthenticateUser(ctx, "bob", "imported-pw", ""); err != nil {
		t.Fatal(err)
	}
	u, _ := b.store.GetUser(ctx, "u-bob")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("not rehashed: %s", u.PasswordHash)
	}
}

func TestConsent(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	req, err := b.p.ValidateAuthorize(ctx, authParams("scope", "invoices:read invoices:write"))
	if err != nil {
		t.Fatal(err)
	}
	missing, _ := b.p.MissingConsent(ctx, req, b.user.ID)
	if len(missing) != 2 {
		t.Fatalf("missing = %v", missing)
	}
	if err := b.p.RecordConsent(ctx, b.user.ID, "web", []string{"invoices:read"}); err != nil {
		t.Fatal(err)
	}
	missing, _ = b.p.MissingConsent(ctx, req, b.user.ID)
	if len(missing) != 1 || missing[0] != "invoices:write" {
		t.Fatalf("missing after partial consent = %v", missing)
	}
	code := b.authorize(t, authParams())
	resp, _ := b.exchange(code, webRedirect, verifier)
	if err := b.p.RevokeConsent(ctx, b.user.ID, "web"); err != nil {
		t.Fatal(err)
	}
	if b.active(t, resp.AccessToken) || b.active(t, resp.RefreshToken) {
		t.Fatal("revoking consent left tokens active")
	}
}

func TestMatchRedirectURI(t *testing.T) {
	native := &storage.Client{Public: true, RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:8000/cb"}}
	for uri, want := range map[string]bool{
		"http://127.0.0.1/cb":        true,
		"http://127.0.0.1:1234/cb":   true,
		"http://[::1]:9/cb":          true,
		"http://127.0.0.1:1234/cb/x": false,
		"http://127.0.0.2:1234/cb":   false,
		"https://127.0.0.1:1234/cb":  false,
		"http://localhost:1234/cb":   false,
		"http://127.0.0.1:1/cb#f":    false,
		"http://u@127.0.0.1:1/cb":    false,
	} {
		if got := oauth.MatchRedirectURI(native, uri); got != want {
			t.Errorf("MatchRedirectURI(%q) = %v, want %v", uri, got, want)
		}
	}
}

// FuzzValidateAuthorize checks that no query makes the authorization endpoint panic, and that
// a redirected error never goes anywhere but a registered redirect URI.
func FuzzValidateAuthorize(f *testing.F) {
	f.Add(authParams().Encode())
	f.Add("client_id=web&redirect_uri=https%3A%2F%2Fevil&response_type=code")
	f.Add("client_id=native&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&response_type=token&prompt=none")
	f.Fuzz(func(t *testing.T, query string) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		b := sharedFuzzFixture(t)
		_, err = b.p.ValidateAuthorize(context.Background(), params)
		var re *oauth.RedirectError
		if errors.As(err, &re) {
			uri := re.Redirect.URI
			if uri != webRedirect && !strings.HasPrefix(uri, "http://127.0.0.1") && uri != "com.example.app:/cb" {
				t.Fatalf("redirected to %q", uri)
			}
		}
	})
}

var fuzzFixture *browserFixture

func sharedFuzzFixture(t *testing.T) *browserFixture {
	if fuzzFixture == nil {
		fuzzFixture = newBrowserFixture(t, nil)
	}
	return fuzzFixture
}

func TestPlainPKCEWhenAllowed(t *testing.T) {
	b := newBrowserFixture(t, func(o *oauth.Options) { o.AllowPlainPKCE = true })
	code := b.authorize(t, authParams("code_challenge_method", "plain", "code_challenge", verifier))
	if _, err := b.exchange(code, webRedirect, verifier+"x"); err == nil {
		t.Fatal("wrong plain verifier accepted")
	}
	if _, err := b.exchange(code, webRedirect, verifier); err != nil {
		t.Fatal(err)
	}
	if m := b.p.Metadata(); len(m.CodeChallengeMethods) != 2 {
		t.Fatalf("code_challenge_methods = %v", m.CodeChallengeMethods)
	}
}

// TestOpenAuthorizeRechecksGrant: a client that loses the grant while its user signs in gets
// unauthorized_client back, not a code.
func TestOpenAuthorizeRechecksGrant(t *testing.T) {
	b := newBrowserFixture(t, nil)
	ctx := context.Background()
	req, err := b.p.ValidateAuthorize(ctx, authParams())
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := b.p.SealAuthorize(req)
	c, _ := b.store.GetClient(ctx, "web")
	c.GrantTypes = []string{oauth.GrantPassword}
	if err := b.store.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err = b.p.OpenAuthorize(ctx, sealed)
	var re *oauth.RedirectError
	if !errors.As(err, &re) || re.Err.Code != oauth.CodeUnauthorizedClient {
		t.Fatalf("OpenAuthorize after the grant was removed: %v", err)
	}
}
