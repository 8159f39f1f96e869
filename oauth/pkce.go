package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/storage"
)

// PKCE methods (RFC 7636).
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
)

// validVerifier reports whether s is 43 to 128 unreserved characters (RFC 7636 4.1); the same
// syntax holds for challenges.
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// checkPKCEParams reads code_challenge and code_challenge_method. PKCE is required for
// public clients and, unless Options.PKCEOptional, for every client using a response type
// with a code; plain only when Options.AllowPlainPKCE.
func (p *Provider) checkPKCEParams(client *storage.Client, req *AuthorizeRequest, params url.Values) *Error {
	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	hasCode := req.ResponseType == "code" || req.ResponseType == "code id_token"
	if challenge == "" {
		if method != "" {
			return ErrInvalidRequest("code_challenge_method without code_challenge")
		}
		if hasCode && (client.Public || !p.opts.PKCEOptional) {
			return ErrInvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256")
		}
		return nil
	}
	if !hasCode {
		return ErrInvalidRequest("code_challenge is only for response types that return a code")
	}
	if method == "" {
		method = PKCEPlain // RFC 7636 4.3 default
	}
	switch method {
	case PKCES256:
	case PKCEPlain:
		if !p.opts.AllowPlainPKCE {
			return ErrInvalidRequest("code_challenge_method plain is not allowed; use S256")
		}
	default:
		return ErrInvalidRequest("code_challenge_method %q is not supported", safeName(method))
	}
	if !validVerifier(challenge) {
		return ErrInvalidRequest("the code_challenge is malformed")
	}
	req.CodeChallenge, req.CodeChallengeMethod = challenge, method
	return nil
}

// verifyPKCE checks a token request's code_verifier against the code's challenge. A verifier
// sent for a code issued without a challenge is refused (RFC 9700 2.1.1: PKCE downgrade).
func verifyPKCE(code *storage.AuthCode, verifier string) *Error {
	if code.CodeChallenge == "" {
		if verifier != "" {
			return ErrInvalidGrant("code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	if verifier == "" {
		return ErrInvalidGrant("the code_verifier parameter is missing")
	}
	if !validVerifier(verifier) {
		return ErrInvalidGrant("the code_verifier is malformed")
	}
	got := verifier
	if code.CodeChallengeMethod == PKCES256 {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(code.CodeChallenge)) != 1 {
		return ErrInvalidGrant("the code_verifier does not match the code_challenge")
	}
	return nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
