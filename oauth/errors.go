package oauth

import (
	"fmt"
	"log/slog"
	"net/http"
)

// Error codes of RFC 6749 (5.2, 4.1.2.1), RFC 6750, RFC 7009 and RFC 8628.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeUnsupportedTokenType    = "unsupported_token_type"
	CodeInvalidToken            = "invalid_token"
	CodeInsufficientScope       = "insufficient_scope"
	CodeAuthorizationPending    = "authorization_pending"
	CodeSlowDown                = "slow_down"
	CodeExpiredToken            = "expired_token"
)

// Error is an OAuth error response. Code and Description are sent to the client; Cause is
// logged by the server and never sent.
type Error struct {
	Code        string
	Description string
	Status      int
	Cause       error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Cause)
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

// LogValue logs the code, description and cause.
func (e *Error) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("code", e.Code), slog.String("description", e.Description)}
	if e.Cause != nil {
		attrs = append(attrs, slog.String("cause", e.Cause.Error()))
	}
	return slog.GroupValue(attrs...)
}

func newError(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Description: fmt.Sprintf(format, args...)}
}

// ErrInvalidRequest returns a 400 invalid_request.
func ErrInvalidRequest(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

// ErrInvalidClient returns a 401 invalid_client; the server adds WWW-Authenticate.
func ErrInvalidClient(format string, args ...any) *Error {
	return newError(CodeInvalidClient, http.StatusUnauthorized, format, args...)
}

// ErrInvalidGrant returns a 400 invalid_grant.
func ErrInvalidGrant(format string, args ...any) *Error {
	return newError(CodeInvalidGrant, http.StatusBadRequest, format, args...)
}

// ErrUnauthorizedClient returns a 400 unauthorized_client.
func ErrUnauthorizedClient(format string, args ...any) *Error {
	return newError(CodeUnauthorizedClient, http.StatusBadRequest, format, args...)
}

// ErrUnsupportedGrantType returns a 400 unsupported_grant_type.
func ErrUnsupportedGrantType(format string, args ...any) *Error {
	return newError(CodeUnsupportedGrantType, http.StatusBadRequest, format, args...)
}

// ErrInvalidScope returns a 400 invalid_scope.
func ErrInvalidScope(format string, args ...any) *Error {
	return newError(CodeInvalidScope, http.StatusBadRequest, format, args...)
}

// ErrServer wraps an internal failure as a 500 server_error that hides the cause.
func ErrServer(cause error) *Error {
	return &Error{Code: CodeServerError, Status: http.StatusInternalServerError,
		Description: "the server could not complete the request", Cause: cause}
}

// ErrUnavailable wraps a passing failure (database busy, timeout) as a 503.
func ErrUnavailable(cause error) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "the server is temporarily unable to handle the request", Cause: cause}
}
