package oidc_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/storage/memory"
	"github.com/gatehouse-auth/gatehouse/token"
)

const issuer = "https://auth.example.test"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	store  storage.Store
	sealer *token.Sealer
	keys   *oauth.Keyring
	clock  *clock
	m      *oidc.Minter
	client *storage.Client
	alice  storage.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	store := memory.New()
	sk, err := token.NewSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := token.ParseSealingKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := token.NewSealer(raw)
	if err != nil {
		t.Fatal(err)
	}
	keys := oauth.NewKeyring(store, sealer, oauth.KeyringOptions{Now: clk.Now, TTL: time.Hour})
	if err := keys.Ensure(ctx, token.RS256, token.ES256, token.EdDSA); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, sealer: sealer, keys: keys, clock: clk,
		m:      oidc.NewMinter(issuer, keys, store, token.RS256, 5*time.Minute, clk.Now),
		client: &storage.Client{ID: "web", Name: "Web app"},
		alice: storage.User{ID: "u-alice", Username: "alice", Name: "Alice Liddell", Email: "alice@example.test",
			EmailVerified: true, CreatedAt: clk.Now().Add(-48 * time.Hour), UpdatedAt: clk.Now().Add(-24 * time.Hour)},
	}
	for _, u := range []storage.User{
		f.alice,
		{ID: "u-bob", Username: "bob", CreatedAt: clk.Now(), UpdatedAt: clk.Now()},
		{ID: "u-eve", Username: "eve", Name: "Eve", Disabled: true, CreatedAt: clk.Now(), UpdatedAt: clk.Now()},
	} {
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// verifier is a go-oidc verifier over every published key.
func (f *fixture) verifier(t *testing.T, alg, clientID string) *gooidc.IDTokenVerifier {
	t.Helper()
	set, err := f.keys.PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var pubs []crypto.PublicKey
	for _, k := range set {
		pubs = append(pubs, k.Key)
	}
	return gooidc.NewVerifier(issuer, &gooidc.StaticKeySet{PublicKeys: pubs},
		&gooidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{alg}, Now: f.clock.Now})
}

// decode returns a JWT's header and payload, unverified.
func decode(t *testing.T, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

// leftHalf is at_hash / c_hash computed independently of the package.
func leftHalf(alg, v string) string {
	var sum []byte
	if alg == token.EdDSA {
		s := sha512.Sum512([]byte(v))
		sum = s[:32]
	} else {
		s := sha256.Sum256([]byte(v))
		sum = s[:16]
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

func TestMintIDTokenVerifiesWithGoOIDC(t *testing.T) {
	for _, alg := range []string{token.RS256, token.ES256, token.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			m := oidc.NewMinter(issuer, f.keys, f.store, alg, 5*time.Minute, f.clock.Now)
			authTime := f.clock.Now().Add(-90 * time.Second)
			const accessToken, code = "eyJhbGciOi.access.token-value", "gha_code_0123456789"
			raw, err := m.MintIDToken(ctx, oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID,
				Scopes: []string{"openid", "profile", "email"}, Nonce: "n-0S6_WzA2Mj", AuthTime: authTime,
				AccessToken: accessToken, Code: code})
			if err != nil {
				t.Fatal(err)
			}
			idt, err := f.verifier(t, alg, "web").Verify(ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc rejected the ID token: %v", err)
			}
			if idt.Subject != f.alice.ID || idt.Nonce != "n-0S6_WzA2Mj" || !reflect.DeepEqual(idt.Audience, []string{"web"}) {
				t.Errorf("sub %q nonce %q aud %v", idt.Subject, idt.Nonce, idt.Audience)
			}
			if want := f.clock.Now().Add(5 * time.Minute); !idt.Expiry.Equal(want) || !idt.IssuedAt.Equal(f.clock.Now()) {
				t.Errorf("exp %v iat %v", idt.Expiry, idt.IssuedAt)
			}
			if err := idt.VerifyAccessToken(accessToken); err != nil {
				t.Errorf("go-oidc at_hash check: %v", err)
			}
			if err := idt.VerifyAccessToken(accessToken + "x"); err == nil {
				t.Error("go-oidc at_hash check passed for another access token")
			}

			header, p := decode(t, raw)
			if header["typ"] != "JWT" || header["alg"] != alg || header["kid"] == "" {
				t.Errorf("header %v", header)
			}
			want := map[string]any{
				"iss": issuer, "sub": f.alice.ID, "aud": "web", "azp": "web",
				"exp": float64(f.clock.Now().Add(5 * time.Minute).Unix()), "iat": float64(f.clock.Now().Unix()),
				"auth_time": float64(authTime.Unix()), "nonce": "n-0S6_WzA2Mj",
				"at_hash": leftHalf(alg, accessToken), "c_hash": leftHalf(alg, code),
				"name": "Alice Liddell", "preferred_username": "alice", "updated_at": float64(f.alice.UpdatedAt.Unix()),
				"email": "alice@example.test", "email_verified": true,
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("payload\n%v\nwant\n%v", p, want)
			}
			// HalfHash agrees with the independent computation.
			if h, err := oidc.HalfHash(alg, code); err != nil || h != leftHalf(alg, code) {
				t.Errorf("HalfHash = %q, %v", h, err)
			}
		})
	}
}

func TestMintIDTokenWrongAudienceRejected(t *testing.T) {
	f := newFixture(t)
	raw, err := f.m.MintIDToken(context.Background(), oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID,
		Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier(t, token.RS256, "other-client").Verify(context.Background(), raw); err == nil {
		t.Error("go-oidc accepted the ID token for another client")
	}
	f.clock.Advance(5*time.Minute + time.Second)
	if _, err := f.verifier(t, token.RS256, "web").Verify(context.Background(), raw); err == nil {
		t.Error("go-oidc accepted an expired ID token")
	}
}

func TestClaimsByScope(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	updated := float64(f.alice.UpdatedAt.Unix())
	cases := []struct {
		name   string
		user   string
		scopes []string
		want   map[string]any
	}{
		{"openid only", f.alice.ID, []string{"openid"}, map[string]any{"sub": f.alice.ID}},
		{"profile", f.alice.ID, []string{"openid", "profile"}, map[string]any{"sub": f.alice.ID,
			"name": "Alice Liddell", "preferred_username": "alice", "updated_at": updated}},
		{"email", f.alice.ID, []string{"openid", "email"}, map[string]any{"sub": f.alice.ID,
			"email": "alice@example.test", "email_verified": true}},
		{"other scopes release nothing", f.alice.ID, []string{"openid", "offline_access", "invoices:read"},
			map[string]any{"sub": f.alice.ID}},
		{"empty values left out", "u-bob", []string{"openid", "profile", "email"}, map[string]any{"sub": "u-bob",
			"preferred_username": "bob", "updated_at": float64(f.clock.Now().Unix())}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := f.store.GetUser(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			// ClaimsForScopes, through JSON as userinfo sends it.
			b, err := json.Marshal(oidc.ClaimsForScopes(u, tc.scopes))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ClaimsForScopes = %v, want %v", got, tc.want)
			}
			// The ID token carries the same user claims.
			raw, err := f.m.MintIDToken(ctx, oauth.IDTokenParams{Client: f.client, UserID: tc.user, Scopes: tc.scopes})
			if err != nil {
				t.Fatal(err)
			}
			_, p := decode(t, raw)
			for _, name := range []string{"iss", "aud", "azp", "exp", "iat"} {
				if _, ok := p[name]; !ok {
					t.Errorf("ID token lacks %s", name)
				}
				delete(p, name)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Errorf("ID token user claims = %v, want %v", p, tc.want)
			}
		})
	}
}

func TestEmailVerifiedFalseIsSent(t *testing.T) {
	u := storage.User{ID: "x", Email: "x@example.test"}
	got := oidc.ClaimsForScopes(u, []string{"openid", "email"})
	if v, ok := got["email_verified"]; !ok || v != false {
		t.Errorf("email_verified = %v, %v", v, ok)
	}
}

func TestMintIDTokenOptionalClaimsOmitted(t *testing.T) {
	f := newFixture(t)
	raw, err := f.m.MintIDToken(context.Background(), oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID,
		Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	_, p := decode(t, raw)
	for _, name := range []string{"nonce", "auth_time", "at_hash", "c_hash"} {
		if _, ok := p[name]; ok {
			t.Errorf("%s present although not set", name)
		}
	}
}

func TestMintIDTokenRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, p := range map[string]oauth.IDTokenParams{
		"unknown user":  {Client: f.client, UserID: "u-nobody", Scopes: []string{"openid"}},
		"disabled user": {Client: f.client, UserID: "u-eve", Scopes: []string{"openid"}},
	} {
		_, err := f.m.MintIDToken(ctx, p)
		var oe *oauth.Error
		if !errors.As(err, &oe) || oe.Code != oauth.CodeInvalidGrant {
			t.Errorf("%s: err = %v, want invalid_grant", name, err)
		}
	}
	for name, p := range map[string]oauth.IDTokenParams{
		"no client": {UserID: f.alice.ID},
		"no user":   {Client: f.client},
	} {
		if _, err := f.m.MintIDToken(ctx, p); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	// No key for the algorithm.
	m := oidc.NewMinter(issuer, f.keys, f.store, token.PS256, 0, f.clock.Now)
	if _, err := m.MintIDToken(ctx, oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID}); err == nil {
		t.Error("minted without a PS256 key")
	}
}

func TestUserInfo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	active := func(sub, scope string) *oauth.Introspection {
		return &oauth.Introspection{Active: true, Sub: sub, Scope: scope, ClientID: "web", Iss: issuer,
			TokenUse: storage.KindAccess, TokenType: "Bearer"}
	}
	got, err := f.m.UserInfo(ctx, active(f.alice.ID, "openid email"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sub": f.alice.ID, "email": "alice@example.test", "email_verified": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UserInfo = %v, want %v", got, want)
	}

	refresh := active(f.alice.ID, "openid")
	refresh.TokenUse = storage.KindRefresh
	otherIssuer := active(f.alice.ID, "openid")
	otherIssuer.Iss = "https://elsewhere.example.test"
	cases := []struct {
		name   string
		info   *oauth.Introspection
		code   string
		status int
	}{
		{"nil", nil, oauth.CodeInvalidToken, http.StatusUnauthorized},
		{"inactive", &oauth.Introspection{Active: false}, oauth.CodeInvalidToken, http.StatusUnauthorized},
		{"no openid scope", active(f.alice.ID, "profile email"), oauth.CodeInsufficientScope, http.StatusForbidden},
		{"openid as part of another scope", active(f.alice.ID, "openid:x profile"), oauth.CodeInsufficientScope, http.StatusForbidden},
		{"no scope", active(f.alice.ID, ""), oauth.CodeInsufficientScope, http.StatusForbidden},
		{"refresh token", refresh, oauth.CodeInvalidToken, http.StatusUnauthorized},
		{"other issuer", otherIssuer, oauth.CodeInvalidToken, http.StatusUnauthorized},
		{"no subject", active("", "openid"), oauth.CodeInvalidToken, http.StatusUnauthorized},
		{"unknown user", active("u-nobody", "openid"), oauth.CodeInvalidToken, http.StatusUnauthorized},
		{"disabled user", active("u-eve", "openid profile"), oauth.CodeInvalidToken, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := f.m.UserInfo(ctx, tc.info)
			var oe *oauth.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v (claims %v), want *oauth.Error", err, claims)
			}
			if oe.Code != tc.code || oe.Status != tc.status {
				t.Errorf("error %s/%d, want %s/%d", oe.Code, oe.Status, tc.code, tc.status)
			}
			if claims != nil {
				t.Errorf("claims %v returned with the error", claims)
			}
		})
	}
}

func TestParseIDTokenHint(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw, err := f.m.MintIDToken(ctx, oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID,
		Scopes: []string{"openid"}, Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("expired accepted", func(t *testing.T) {
		f.clock.Advance(24 * time.Hour)
		defer f.clock.Advance(-24 * time.Hour)
		if _, err := f.verifier(t, token.RS256, "web").Verify(ctx, raw); err == nil {
			t.Fatal("the token should be expired by now")
		}
		h, err := f.m.ParseIDTokenHint(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if h.Subject != f.alice.ID || h.ClientID != "web" || !reflect.DeepEqual(h.Audience, []string{"web"}) ||
			!h.ExpiresAt.Equal(f.clock.Now().Add(5*time.Minute-24*time.Hour)) {
			t.Errorf("hint = %+v", h)
		}
	})

	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), f.alice.ID, "u-bob", 1)))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x10

	otherIssuer, err := oidc.NewMinter("https://evil.example.test", f.keys, f.store, token.RS256, 0, f.clock.Now).
		MintIDToken(ctx, oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID, Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	es, err := f.keys.Signer(ctx, token.ES256)
	if err != nil {
		t.Fatal(err)
	}
	accessToken, err := token.SignAccessToken(es, token.AccessClaims{Issuer: issuer, Subject: f.alice.ID,
		ClientID: "web", ExpiresAt: f.clock.Now().Add(time.Hour), IssuedAt: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := f.keys.Signer(ctx, token.RS256)
	if err != nil {
		t.Fatal(err)
	}
	manyAud, err := token.SignJWT(rs, "JWT", map[string]any{"iss": issuer, "sub": f.alice.ID, "aud": []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	noSub, err := token.SignJWT(rs, "JWT", map[string]any{"iss": issuer, "aud": "web"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := token.GenerateKey(token.RS256)
	if err != nil {
		t.Fatal(err)
	}
	foreignSigned, err := token.SignJWT(foreign, "JWT", map[string]any{"iss": issuer, "sub": f.alice.ID, "aud": "web"})
	if err != nil {
		t.Fatal(err)
	}

	for name, bad := range map[string]string{
		"empty":               "",
		"garbage":             "not-a-jwt",
		"tampered payload":    parts[0] + "." + forged + "." + parts[2],
		"tampered signature":  parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig),
		"wrong issuer":        otherIssuer,
		"access token":        accessToken,
		"several audiences":   manyAud,
		"no subject":          noSub,
		"unpublished key":     foreignSigned,
		"signature stripped":  parts[0] + "." + parts[1] + ".",
		"extra segment":       raw + ".x",
		"header from another": strings.Split(accessToken, ".")[0] + "." + parts[1] + "." + parts[2],
	} {
		t.Run(name, func(t *testing.T) {
			h, err := f.m.ParseIDTokenHint(ctx, bad)
			if !errors.Is(err, oidc.ErrInvalidIDTokenHint) {
				t.Errorf("err = %v, want ErrInvalidIDTokenHint", err)
			}
			if !reflect.DeepEqual(h, oidc.IDTokenHint{}) {
				t.Errorf("hint %+v returned with the error", h)
			}
		})
	}
}

func TestParseIDTokenHintReloadsKeysForUnknownKid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Another node rotates twice: its current RS256 key is one this node has never loaded
	// (the Keyring's TTL is an hour and the clock stands still).
	other := oauth.NewKeyring(f.store, f.sealer, oauth.KeyringOptions{Now: f.clock.Now})
	rotateTwice := func() {
		t.Helper()
		for range 2 {
			if _, err := other.Rotate(ctx, token.RS256, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	mint := func() string {
		t.Helper()
		raw, err := oidc.NewMinter(issuer, other, f.store, token.RS256, 0, f.clock.Now).
			MintIDToken(ctx, oauth.IDTokenParams{Client: f.client, UserID: f.alice.ID, Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	rotateTwice()
	if h, err := f.m.ParseIDTokenHint(ctx, mint()); err != nil || h.Subject != f.alice.ID {
		t.Fatalf("hint %+v, %v", h, err)
	}
	// A second unknown kid within the same second is not worth another reload...
	rotateTwice()
	raw := mint()
	if _, err := f.m.ParseIDTokenHint(ctx, raw); !errors.Is(err, oidc.ErrInvalidIDTokenHint) {
		t.Fatalf("err = %v, want a rate-limited ErrInvalidIDTokenHint", err)
	}
	// ...but one a second later is.
	f.clock.Advance(time.Second)
	if _, err := f.m.ParseIDTokenHint(ctx, raw); err != nil {
		t.Fatal(err)
	}
}

func TestClaimsSupported(t *testing.T) {
	got := oidc.ClaimsSupported()
	for _, c := range []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "c_hash",
		"name", "preferred_username", "updated_at", "email", "email_verified"} {
		found := false
		for _, g := range got {
			found = found || g == c
		}
		if !found {
			t.Errorf("ClaimsSupported lacks %q", c)
		}
	}
}
