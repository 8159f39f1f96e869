package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/storage"
	"github.com/gatehouse-auth/gatehouse/token"
)

// The device authorization grant (RFC 8628): a device without a browser asks for a device
// code and a user code, shows the user code, and polls the token endpoint while the user
// enters the code on the /device page of a browser where they are signed in.

// Device flow defaults.
const (
	// DefaultDeviceCodeLifetime is how long a device code and its user code are valid.
	DefaultDeviceCodeLifetime = 10 * time.Minute
	// DefaultDevicePollInterval is the polling interval announced to devices.
	DefaultDevicePollInterval = 5 * time.Second
	// DevicePath is the verification page, relative to the issuer.
	DevicePath = "/device"
)

// User codes: 8 letters from an alphabet without vowels (no words) or look-alikes, shown as
// two groups of four (RFC 8628 6.1): 20^8 ≈ 2.6·10^10 codes.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
	// maxUserCodeInput bounds what a user may type, separators included.
	maxUserCodeInput = 32
)

// ErrBadUserCode is the cause of every *Error LookupUserCode and DecideDevice return for a
// user code that cannot be used (malformed, unknown, expired or already decided), so that
// callers can tell a wrong guess from a failure: errors.Is(err, ErrBadUserCode).
var ErrBadUserCode = errors.New("oauth: the user code cannot be used")

func badUserCode(desc string) *Error {
	return &Error{Code: CodeInvalidRequest, Status: http.StatusBadRequest, Description: desc, Cause: ErrBadUserCode}
}

// DeviceAuthorizationRequest is a parsed device authorization request (RFC 8628 3.1).
type DeviceAuthorizationRequest struct {
	Client ClientCredentials
	// Scope is the raw scope parameter; empty when omitted. Scopes is it parsed.
	Scope  string
	Scopes []string
}

// DeviceAuthorizationResponse is the device authorization response (RFC 8628 3.2).
type DeviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval,omitempty"`
}

// ParseDeviceAuthorizationRequest parses a device authorization request from the POST body's
// form values and the Authorization header ("" when absent). It is pure: no storage, no clock.
func ParseDeviceAuthorizationRequest(form url.Values, authorization string) (DeviceAuthorizationRequest, error) {
	if err := checkForm(form); err != nil {
		return DeviceAuthorizationRequest{}, err
	}
	client, err := parseClientAuth(form, authorization)
	if err != nil {
		return DeviceAuthorizationRequest{}, err
	}
	req := DeviceAuthorizationRequest{Client: client, Scope: form.Get("scope")}
	if req.Scopes, err = ParseScope(req.Scope); err != nil {
		return DeviceAuthorizationRequest{}, err
	}
	return req, nil
}

// deviceEnabled reports whether the device grant is enabled.
func (p *Provider) deviceEnabled() bool { return p.grants[GrantDeviceCode] != nil }

// DeviceAuthorize answers a device authorization request: it authenticates the client (public
// clients too), checks that the client may use the device grant, resolves the scopes (the
// OpenID Connect ones included: a user approves) and stores a new device code.
func (p *Provider) DeviceAuthorize(ctx context.Context, req DeviceAuthorizationRequest) (*DeviceAuthorizationResponse, error) {
	if !p.deviceEnabled() {
		return nil, ErrUnsupportedGrantType("the device authorization grant is not enabled")
	}
	client, err := p.authenticate(ctx, req.Client)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(client.GrantTypes, GrantDeviceCode) {
		return nil, ErrUnauthorizedClient("the client is not allowed the device authorization grant")
	}
	requested, err := parsedScopes(req.Scopes, req.Scope)
	if err != nil {
		return nil, err
	}
	scopes, err := p.resolveScopes(ctx, client, requested)
	if err != nil {
		return nil, err
	}
	now := p.now().UTC().Truncate(time.Second)
	interval := int(p.opts.DevicePollInterval / time.Second)
	// A user code collision (one in billions among live codes) is retried with a new one.
	for attempt := 0; ; attempt++ {
		deviceCode, err := token.NewOpaque(token.PrefixDeviceCode)
		if err != nil {
			return nil, ErrServer(err)
		}
		userCode, err := newUserCode()
		if err != nil {
			return nil, ErrServer(err)
		}
		err = p.store.CreateDeviceCode(ctx, storage.DeviceCode{Hash: token.Hash(deviceCode),
			UserCodeHash: userCodeHash(userCode), ClientID: client.ID, Scopes: scopes, Status: storage.DevicePending,
			Interval: interval, IssuedAt: now, ExpiresAt: now.Add(p.opts.DeviceCodeLifetime)})
		if errors.Is(err, storage.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, storageError(err)
		}
		shown := FormatUserCode(userCode)
		verify := strings.TrimSuffix(p.opts.Issuer, "/") + DevicePath
		return &DeviceAuthorizationResponse{DeviceCode: deviceCode, UserCode: shown, VerificationURI: verify,
			VerificationURIComplete: verify + "?" + url.Values{"user_code": {shown}}.Encode(),
			ExpiresIn:               int(p.opts.DeviceCodeLifetime / time.Second), Interval: interval}, nil
	}
}

// newUserCode returns userCodeLen letters of userCodeAlphabet drawn uniformly with
// crypto/rand (bytes of 240 and above are rejected, so the modulo is unbiased).
func newUserCode() (string, error) {
	const limit = 256 - 256%len(userCodeAlphabet)
	out := make([]byte, 0, userCodeLen)
	var buf [16]byte
	for len(out) < userCodeLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < userCodeLen {
				out = append(out, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// NormalizeUserCode turns what a user typed into the stored form: upper case, without
// dashes and spaces. It returns "" when the result is not a well-formed user code.
func NormalizeUserCode(s string) string {
	if len(s) > maxUserCodeInput {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r < 0x80 && strings.IndexByte(userCodeAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != userCodeLen {
		return ""
	}
	return b.String()
}

// FormatUserCode shows a normalized user code as two groups of four: "WDJB-MJHT".
func FormatUserCode(normalized string) string {
	if len(normalized) != userCodeLen {
		return normalized
	}
	return normalized[:4] + "-" + normalized[4:]
}

// userCodeHash is the stored form of a normalized user code.
func userCodeHash(normalized string) []byte { return token.Hash(normalized) }

// LookupUserCode finds the pending device request of a user code as typed by the user, and
// its client. A code that is malformed, unknown, expired or already decided is a *Error
// whose Description can be shown to the user and whose cause is ErrBadUserCode.
func (p *Provider) LookupUserCode(ctx context.Context, userCode string) (storage.DeviceCode, storage.Client, error) {
	d, err := p.pendingUserCode(ctx, userCode)
	if err != nil {
		return storage.DeviceCode{}, storage.Client{}, err
	}
	client, err := p.Client(ctx, d.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.DeviceCode{}, storage.Client{}, badUserCode("the application that asked for this code no longer exists")
	}
	if err != nil {
		return storage.DeviceCode{}, storage.Client{}, storageError(err)
	}
	return d, client, nil
}

func (p *Provider) pendingUserCode(ctx context.Context, userCode string) (storage.DeviceCode, error) {
	if !p.deviceEnabled() {
		return storage.DeviceCode{}, ErrUnsupportedGrantType("the device authorization grant is not enabled")
	}
	unknown := badUserCode("that code is not valid; check the code shown on your device and try again")
	n := NormalizeUserCode(userCode)
	if n == "" {
		return storage.DeviceCode{}, unknown
	}
	d, err := p.store.GetDeviceCodeByUserCode(ctx, userCodeHash(n))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.DeviceCode{}, unknown
	case err != nil:
		return storage.DeviceCode{}, storageError(err)
	case !p.now().Before(d.ExpiresAt):
		return storage.DeviceCode{}, badUserCode("that code has expired; start again on your device")
	case d.Status != storage.DevicePending:
		return storage.DeviceCode{}, badUserCode("that code was already used; start again on your device")
	}
	return d, nil
}

// DecideDevice records the signed-in user's answer to the device request of userCode:
// approve lets the device's next poll get tokens for userID, deny makes it fail with
// access_denied. The decision is audited (device.approved or device.denied).
func (p *Provider) DecideDevice(ctx context.Context, userCode string, approve bool, userID string, authTime time.Time) error {
	if userID == "" {
		return ErrInvalidRequest("a signed-in user is required")
	}
	d, err := p.pendingUserCode(ctx, userCode)
	if err != nil {
		return err
	}
	status, event := storage.DeviceDenied, EventDeviceDenied
	if approve {
		status, event = storage.DeviceApproved, EventDeviceApproved
	}
	now := p.now().UTC()
	err = p.store.InTx(ctx, func(tx storage.Store) error {
		if err := tx.DecideDeviceCode(ctx, d.UserCodeHash, status, userID, authTime.UTC()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, storage.AuditEvent{Time: now, Type: event, Actor: userID, ClientID: d.ClientID,
			Subject: userID, Details: map[string]string{"scope": joinScopes(d.Scopes)}})
	})
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		return badUserCode("that code was already used; start again on your device")
	case errors.Is(err, storage.ErrNotFound):
		return badUserCode("that code is not valid; check the code shown on your device and try again")
	case err != nil:
		return storageError(err)
	}
	return nil
}

// UserCodeWait returns how long the throttle keys (say, of the browser's address and
// session) must still wait before another user code may be tried; 0 means go ahead. The
// device page shares the Provider's sign-in Throttle.
func (p *Provider) UserCodeWait(ctx context.Context, keys ...string) time.Duration {
	return p.throttle.Wait(ctx, p.now(), keys...)
}

// UserCodeFailed records a wrong user code for the throttle keys.
func (p *Provider) UserCodeFailed(ctx context.Context, keys ...string) {
	p.throttle.Failed(ctx, p.now(), keys...)
}

// deviceCodeGrant is RFC 8628 3.4: the device polls with its device code until the user
// has decided.
type deviceCodeGrant struct{}

func (deviceCodeGrant) Type() string           { return GrantDeviceCode }
func (deviceCodeGrant) allowsPublic() bool     { return true }
func (deviceCodeGrant) scopeFromRequest() bool { return false }

// Device polling errors (RFC 8628 3.5), all 400.
func errDevice(code, format string, args ...any) *Error {
	return newError(code, http.StatusBadRequest, format, args...)
}

func (deviceCodeGrant) handle(ctx context.Context, p *Provider, req *TokenRequest, client *storage.Client, _ []string) (*TokenResponse, error) {
	if req.DeviceCode == "" {
		return nil, ErrInvalidRequest("the device_code parameter is missing")
	}
	invalid := ErrInvalidGrant("the device code is invalid or was issued to another client")
	if !token.CheckOpaque(req.DeviceCode, token.PrefixDeviceCode) {
		return nil, invalid
	}
	hash := token.Hash(req.DeviceCode)
	// Polls are recorded to the second, so a device polling on a steady ticker is not told
	// to slow down for a few milliseconds of network jitter.
	now := p.now().UTC().Truncate(time.Second)
	d, err := p.store.PollDeviceCode(ctx, hash, now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, invalid
	case err != nil:
		return nil, storageError(err)
	case d.ClientID != client.ID:
		return nil, invalid
	case !p.now().Before(d.ExpiresAt):
		return nil, errDevice(CodeExpiredToken, "the device code has expired; start again")
	}
	switch d.Status {
	case storage.DeviceDenied:
		return nil, errDevice(CodeAccessDenied, "the user denied the request")
	case storage.DevicePending:
		if !d.LastPolledAt.IsZero() && now.Sub(d.LastPolledAt) < time.Duration(d.Interval)*time.Second {
			return nil, errDevice(CodeSlowDown, "polling too fast; wait %d seconds between requests", d.Interval+5)
		}
		return nil, errDevice(CodeAuthorizationPending, "the user has not yet approved the request")
	case storage.DeviceApproved:
	default:
		return nil, ErrServer(fmt.Errorf("device code in unknown state %q", d.Status))
	}
	grantID, err := NewID()
	if err != nil {
		return nil, ErrServer(err)
	}
	return p.redeem(ctx, client.ID, func(tx storage.Store) (*TokenResponse, error) {
		d, err := tx.ConsumeDeviceCode(ctx, hash, p.now().UTC())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil, invalid
		case errors.Is(err, storage.ErrAlreadyUsed):
			return nil, ErrInvalidGrant("the device code was already used")
		case err != nil:
			return nil, err
		}
		u, err := p.activeUser(ctx, tx, d.UserID)
		if err != nil {
			return nil, err
		}
		return p.issueForUser(ctx, tx, client, userGrant{grantID: grantID, user: &u, scopes: d.Scopes,
			authTime: d.AuthTime, refresh: p.wantsRefresh(client, d.Scopes)})
	})
}
