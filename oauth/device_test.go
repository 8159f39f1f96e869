package oauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// newDeviceFixture adds the device grant and a public "tv" client allowed it.
func newDeviceFixture(t *testing.T) *browserFixture {
	t.Helper()
	b := newBrowserFixture(t, func(o *oauth.Options) {
		o.GrantTypes = append(o.GrantTypes, oauth.GrantDeviceCode)
	})
	b.addClient(t, storage.Client{ID: "tv", Name: "Living Room TV", Public: true,
		GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken},
		Scopes:     []string{"invoices:read", oauth.ScopeOpenID, oauth.ScopeOfflineAccess}})
	return b
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func tvClient() oauth.ClientCredentials {
	return oauth.ClientCredentials{ID: "tv", Method: oauth.AuthMethodNone}
}

func (b *browserFixture) deviceAuthorize(t *testing.T, scope string) *oauth.DeviceAuthorizationResponse {
	t.Helper()
	resp, err := b.p.DeviceAuthorize(context.Background(), oauth.DeviceAuthorizationRequest{Client: tvClient(), Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (b *browserFixture) poll(deviceCode string) (*oauth.TokenResponse, error) {
	return b.p.Token(context.Background(), oauth.TokenRequest{GrantType: oauth.GrantDeviceCode, DeviceCode: deviceCode,
		Client: tvClient()})
}

func TestParseDeviceAuthorizationRequest(t *testing.T) {
	req, err := oauth.ParseDeviceAuthorizationRequest(url.Values{"client_id": {"tv"}, "scope": {"a b"}}, "")
	if err != nil || req.Client.ID != "tv" || req.Client.Method != oauth.AuthMethodNone || req.Scope != "a b" {
		t.Fatalf("req = %+v, %v", req, err)
	}
	req, err = oauth.ParseDeviceAuthorizationRequest(url.Values{}, basicAuth("svc", "s3cret"))
	if err != nil || req.Client.ID != "svc" || req.Client.Secret != "s3cret" || req.Client.Method != oauth.AuthMethodBasic {
		t.Fatalf("basic: %+v, %v", req, err)
	}
	for name, tc := range map[string]struct {
		form url.Values
		auth string
		code string
	}{
		"no client":    {url.Values{}, "", oauth.CodeInvalidClient},
		"repeated":     {url.Values{"client_id": {"tv"}, "scope": {"a", "b"}}, "", oauth.CodeInvalidRequest},
		"bad scope":    {url.Values{"client_id": {"tv"}, "scope": {`a"b`}}, "", oauth.CodeInvalidScope},
		"two methods":  {url.Values{"client_secret": {"x"}}, basicAuth("svc", "s"), oauth.CodeInvalidRequest},
		"not basic":    {url.Values{}, "Bearer x", oauth.CodeInvalidClient},
		"long client":  {url.Values{"client_id": {strings.Repeat("c", 300)}}, "", oauth.CodeInvalidClient},
		"long param":   {url.Values{"client_id": {"tv"}, "x": {strings.Repeat("x", 5000)}}, "", oauth.CodeInvalidRequest},
		"id mismatch":  {url.Values{"client_id": {"other"}}, basicAuth("svc", "s"), oauth.CodeInvalidRequest},
		"bad base64":   {url.Values{}, "Basic !!!", oauth.CodeInvalidClient},
		"empty scopes": {url.Values{"client_id": {"tv"}, "scope": {"a\tb"}}, "", oauth.CodeInvalidScope},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := oauth.ParseDeviceAuthorizationRequest(tc.form, tc.auth)
			wantCode(t, err, tc.code)
		})
	}
}

func TestNormalizeUserCode(t *testing.T) {
	for in, want := range map[string]string{
		"WDJB-MJHT": "WDJBMJHT", "wdjb-mjht": "WDJBMJHT", " wdjb mjht ": "WDJBMJHT", "WDJBMJHT": "WDJBMJHT",
		"W-D-J-B-M-J-H-T": "WDJBMJHT",
		"WDJB-MJH":        "", "WDJB-MJHTX": "", "AEIO-UAEI": "", "WDJB_MJHT": "", "WDJB-MJH1": "", "": "",
		"ẀDJB-MJHT": "", strings.Repeat(" ", 40) + "WDJBMJHT": "",
	} {
		if got := oauth.NormalizeUserCode(in); got != want {
			t.Errorf("NormalizeUserCode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := oauth.FormatUserCode("WDJBMJHT"); got != "WDJB-MJHT" {
		t.Errorf("FormatUserCode = %q", got)
	}
}

var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestDeviceAuthorize(t *testing.T) {
	b := newDeviceFixture(t)
	ctx := context.Background()
	resp := b.deviceAuthorize(t, "invoices:read openid")
	if !strings.HasPrefix(resp.DeviceCode, "ghd_") || !userCodeRE.MatchString(resp.UserCode) ||
		resp.VerificationURI != issuer+"/device" ||
		resp.VerificationURIComplete != issuer+"/device?user_code="+resp.UserCode ||
		resp.ExpiresIn != 600 || resp.Interval != 5 {
		t.Fatalf("resp = %+v", resp)
	}
	// The codes are stored by hash only; the request is pending with the scopes.
	d, client, err := b.p.LookupUserCode(ctx, strings.ToLower(strings.ReplaceAll(resp.UserCode, "-", " ")))
	if err != nil {
		t.Fatal(err)
	}
	if client.ID != "tv" || d.Status != storage.DevicePending || strings.Join(d.Scopes, " ") != "invoices:read openid" ||
		!d.ExpiresAt.Equal(b.clock.Now().Add(10*time.Minute)) || d.Interval != 5 {
		t.Fatalf("stored %+v client %s", d, client.ID)
	}
	// User codes differ and use the whole alphabet over many draws.
	seen := map[string]bool{}
	letters := map[rune]bool{}
	for range 60 {
		r := b.deviceAuthorize(t, "")
		if seen[r.UserCode] || !userCodeRE.MatchString(r.UserCode) {
			t.Fatalf("user code %q repeated or malformed", r.UserCode)
		}
		seen[r.UserCode] = true
		for _, c := range strings.ReplaceAll(r.UserCode, "-", "") {
			letters[c] = true
		}
	}
	if len(letters) != 20 {
		t.Errorf("%d distinct letters in 480 draws", len(letters))
	}

	for name, tc := range map[string]struct {
		req  oauth.DeviceAuthorizationRequest
		code string
	}{
		"unknown client":   {oauth.DeviceAuthorizationRequest{Client: oauth.ClientCredentials{ID: "nope", Method: oauth.AuthMethodNone}}, oauth.CodeInvalidClient},
		"public w/ secret": {oauth.DeviceAuthorizationRequest{Client: oauth.ClientCredentials{ID: "tv", Secret: "x", Method: oauth.AuthMethodPost}}, oauth.CodeInvalidClient},
		"wrong secret":     {oauth.DeviceAuthorizationRequest{Client: oauth.ClientCredentials{ID: "web", Secret: "x", Method: oauth.AuthMethodBasic}}, oauth.CodeInvalidClient},
		"grant not listed": {oauth.DeviceAuthorizationRequest{Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}}, oauth.CodeUnauthorizedClient},
		"scope not allowed": {oauth.DeviceAuthorizationRequest{Client: tvClient(), Scope: "invoices:write"},
			oauth.CodeInvalidScope},
		"unknown scope": {oauth.DeviceAuthorizationRequest{Client: tvClient(), Scope: "nope"}, oauth.CodeInvalidScope},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.p.DeviceAuthorize(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}
}

func TestDeviceFlowApprove(t *testing.T) {
	b := newDeviceFixture(t)
	ctx := context.Background()
	resp := b.deviceAuthorize(t, "invoices:read offline_access")

	// Pending; polled again at once: slow_down, and the interval grows to 10 s.
	_, err := b.poll(resp.DeviceCode)
	wantCode(t, err, oauth.CodeAuthorizationPending)
	_, err = b.poll(resp.DeviceCode)
	wantCode(t, err, oauth.CodeSlowDown)
	b.clock.Advance(6 * time.Second)
	_, err = b.poll(resp.DeviceCode)
	wantCode(t, err, oauth.CodeSlowDown) // 6 s < 10 s; now 15 s
	b.clock.Advance(15 * time.Second)
	_, err = b.poll(resp.DeviceCode)
	wantCode(t, err, oauth.CodeAuthorizationPending)

	// Bad device codes and another client's polls.
	_, err = b.poll(resp.DeviceCode + "x")
	wantCode(t, err, oauth.CodeInvalidGrant)
	_, err = b.poll("")
	wantCode(t, err, oauth.CodeInvalidRequest)
	_, err = b.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantDeviceCode, DeviceCode: resp.DeviceCode,
		Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
	wantCode(t, err, oauth.CodeUnauthorizedClient) // web is not allowed the grant
	b.addClient(t, storage.Client{ID: "tv2", Public: true, GrantTypes: []string{oauth.GrantDeviceCode}})
	_, err = b.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantDeviceCode, DeviceCode: resp.DeviceCode,
		Client: oauth.ClientCredentials{ID: "tv2", Method: oauth.AuthMethodNone}})
	wantCode(t, err, oauth.CodeInvalidGrant)

	// The user approves.
	if err := b.p.DecideDevice(ctx, resp.UserCode, true, "", b.clock.Now()); err == nil {
		t.Fatal("decided without a user")
	}
	if err := b.p.DecideDevice(ctx, strings.ToLower(resp.UserCode), true, b.user.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// Decided once only.
	err = b.p.DecideDevice(ctx, resp.UserCode, false, b.user.ID, b.clock.Now())
	if !errors.Is(err, oauth.ErrBadUserCode) {
		t.Fatalf("second decision: %v", err)
	}
	if _, _, err := b.p.LookupUserCode(ctx, resp.UserCode); !errors.Is(err, oauth.ErrBadUserCode) {
		t.Fatalf("lookup after the decision: %v", err)
	}

	b.clock.Advance(20 * time.Second)
	tok, err := b.poll(resp.DeviceCode)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Scope != "invoices:read offline_access" || tok.TokenType != "Bearer" {
		t.Fatalf("tokens %+v", tok)
	}
	in, err := b.p.Introspect(ctx, oauth.TokenHandleRequest{Token: tok.AccessToken,
		Client: oauth.ClientCredentials{ID: "web", Secret: b.webSecret, Method: oauth.AuthMethodBasic}})
	if err != nil || !in.Active || in.Sub != b.user.ID || in.ClientID != "tv" {
		t.Fatalf("introspect %+v, %v", in, err)
	}
	// Tokens are issued once.
	b.clock.Advance(20 * time.Second)
	_, err = b.poll(resp.DeviceCode)
	wantCode(t, err, oauth.CodeInvalidGrant)
	// The refresh token works for the public client.
	if _, err := b.p.Token(ctx, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: tok.RefreshToken,
		Client: tvClient()}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	events, _ := b.store.ListAudit(ctx, storage.AuditFilter{Type: "device.approved"})
	if len(events) != 1 || events[0].Actor != b.user.ID || events[0].ClientID != "tv" {
		t.Fatalf("audit %+v", events)
	}
}

func TestDeviceFlowDenyExpireAndInactiveUser(t *testing.T) {
	b := newDeviceFixture(t)
	ctx := context.Background()

	denied := b.deviceAuthorize(t, "")
	if err := b.p.DecideDevice(ctx, denied.UserCode, false, b.user.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := b.poll(denied.DeviceCode)
	wantCode(t, err, oauth.CodeAccessDenied)
	if events, _ := b.store.ListAudit(ctx, storage.AuditFilter{Type: "device.denied"}); len(events) != 1 {
		t.Fatalf("audit %+v", events)
	}

	// openid without offline_access: no refresh token (no ID token minter in this fixture).
	noRefresh := b.deviceAuthorize(t, "openid invoices:read")
	if err := b.p.DecideDevice(ctx, noRefresh.UserCode, true, b.user.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	tok, err := b.poll(noRefresh.DeviceCode)
	if err != nil || tok.RefreshToken != "" {
		t.Fatalf("tokens %+v, %v", tok, err)
	}

	// A user disabled after approving gets nothing.
	gone := b.deviceAuthorize(t, "")
	if err := b.p.DecideDevice(ctx, gone.UserCode, true, b.user.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	u := b.user
	u.Disabled = true
	if err := b.store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err = b.poll(gone.DeviceCode)
	wantCode(t, err, oauth.CodeInvalidGrant)

	// Expiry: the code can neither be entered nor polled.
	late := b.deviceAuthorize(t, "")
	b.clock.Advance(10 * time.Minute)
	_, _, err = b.p.LookupUserCode(ctx, late.UserCode)
	var oe *oauth.Error
	if !errors.As(err, &oe) || !errors.Is(err, oauth.ErrBadUserCode) || !strings.Contains(oe.Description, "expired") {
		t.Fatalf("lookup of an expired code: %v", err)
	}
	if err := b.p.DecideDevice(ctx, late.UserCode, true, b.user.ID, b.clock.Now()); !errors.Is(err, oauth.ErrBadUserCode) {
		t.Fatalf("decide expired: %v", err)
	}
	_, err = b.poll(late.DeviceCode)
	wantCode(t, err, oauth.CodeExpiredToken)

	// Unknown and malformed codes.
	for _, c := range []string{"BCDF-GHJK", "not a code", ""} {
		if _, _, err := b.p.LookupUserCode(ctx, c); !errors.Is(err, oauth.ErrBadUserCode) {
			t.Errorf("lookup %q: %v", c, err)
		}
	}
}

func TestDeviceGrantDisabledAndThrottle(t *testing.T) {
	b := newBrowserFixture(t, nil) // GrantTypes without the device grant
	ctx := context.Background()
	b.addClient(t, storage.Client{ID: "tv", Public: true, GrantTypes: []string{oauth.GrantDeviceCode}})
	_, err := b.p.DeviceAuthorize(ctx, oauth.DeviceAuthorizationRequest{Client: tvClient()})
	wantCode(t, err, oauth.CodeUnsupportedGrantType)
	_, err = b.poll("ghd_x")
	wantCode(t, err, oauth.CodeUnsupportedGrantType)
	if b.p.Metadata().DeviceAuthorization {
		t.Error("metadata announces the device grant")
	}

	// The user code throttle: five free failures per key, then a wait.
	keys := []string{"device-ip:192.0.2.1", "device-session:s1"}
	for range 5 {
		if w := b.p.UserCodeWait(ctx, keys...); w != 0 {
			t.Fatalf("wait %s too early", w)
		}
		b.p.UserCodeFailed(ctx, keys...)
	}
	if w := b.p.UserCodeWait(ctx, keys...); w <= 0 {
		t.Fatal("no wait after five failures")
	}
	if w := b.p.UserCodeWait(ctx, "device-session:s2"); w != 0 {
		t.Fatalf("another session waits %s", w)
	}
}

func TestDeviceGrantDefault(t *testing.T) {
	f := newFixture(t) // default grant types, memory store
	m := f.p.Metadata()
	if !m.DeviceAuthorization || !strings.Contains(strings.Join(m.GrantTypes, " "), oauth.GrantDeviceCode) {
		t.Fatalf("metadata %+v", m)
	}
}
