package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// Error codes of the API's error responses.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeValidationFailed     = "validation_failed"
	CodeInvalidToken         = "invalid_token"
	CodeInsufficientScope    = "insufficient_scope"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePreconditionFailed   = "precondition_failed"
	CodeRequestTooLarge      = "request_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeServerError          = "server_error"
)

// FieldError is one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error response of the API: its HTTP status and body. The Client returns it
// for statuses it does not map to admin.ValidationErrors, storage.ErrNotFound or
// storage.ErrConflict; it unwraps to those where it can.
type Error struct {
	Status      int          `json:"-"`
	Code        string       `json:"error"`
	Description string       `json:"error_description,omitempty"`
	Fields      []FieldError `json:"fields,omitempty"`
	// wwwAuthenticate is the challenge of a 401 or 403.
	wwwAuthenticate string
	// cause is logged, never sent.
	cause error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("admin api: %d %s", e.Status, e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Unwrap lets errors.Is find storage.ErrNotFound in a 404 and storage.ErrConflict in a 409
// or 412, and errors.As find admin.ValidationErrors in a 400 with fields.
func (e *Error) Unwrap() []error {
	var out []error
	switch e.Status {
	case http.StatusNotFound:
		if e.Code == CodeNotFound {
			out = append(out, storage.ErrNotFound)
		}
	case http.StatusConflict, http.StatusPreconditionFailed:
		out = append(out, storage.ErrConflict)
	}
	if len(e.Fields) > 0 {
		ve := make(admin.ValidationErrors, len(e.Fields))
		for i, f := range e.Fields {
			ve[i] = &admin.ValidationError{Field: f.Field, Message: f.Message}
		}
		out = append(out, ve)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: fmt.Sprintf(format, args...)}
}

// invalidField is a 400 validation_failed about one field.
func invalidField(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Status: http.StatusBadRequest, Code: CodeValidationFailed, Description: field + ": " + msg,
		Fields: []FieldError{{Field: field, Message: msg}}}
}

// serverError is a 500 whose cause is logged, never sent, and never read as a 404 or 409.
func serverError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeServerError,
		Description: "the server could not complete the request", cause: err}
}

func errMethod(method string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
		Description: fmt.Sprintf("method %s is not allowed here", clip(method))}
}

// toError maps an error of the admin package (or of this one) to its response.
func toError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if ve, ok := errors.AsType[admin.ValidationErrors](err); ok {
		e := &Error{Status: http.StatusBadRequest, Code: CodeValidationFailed}
		msgs := make([]string, len(ve))
		for i, v := range ve {
			e.Fields = append(e.Fields, FieldError{Field: v.Field, Message: v.Message})
			msgs[i] = v.Error()
		}
		e.Description = "invalid input: " + strings.Join(msgs, "; ")
		return e
	}
	if v, ok := errors.AsType[*admin.ValidationError](err); ok {
		return invalidField(v.Field, "%s", v.Message)
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Description: describe(err)}
	case errors.Is(err, storage.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Description: describe(err)}
	}
	return serverError(err)
}

// describe turns an admin error into a description: the chain without the package prefixes
// and the sentinel's "storage: " ("get client \"x\": not found").
func describe(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "admin: ", "")
	s = strings.ReplaceAll(s, "storage: ", "")
	return s
}

// writeError writes err as the API's JSON error, logging causes of 5xx.
func (api *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if e.Status >= 500 {
		api.logError(r.Context(), r, err)
	}
	h := w.Header()
	if e.wwwAuthenticate != "" {
		h.Set("WWW-Authenticate", e.wwwAuthenticate)
	}
	writeJSON(w, e.Status, e)
}

// writeJSON writes v with status. Responses are never cached: they describe the current state
// and some hold a secret shown once.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"server_error","error_description":"the response could not be encoded"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// clip keeps echoed input short.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
