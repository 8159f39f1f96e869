package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// fieldErrors are validation messages by form field ("redirect_uris"), shown next to it.
type fieldErrors map[string][]string

// fieldError is one field's messages for the "fielderr" template.
type fieldError struct {
	ID       string
	Messages []string
}

func fieldErr(fe fieldErrors, name string) fieldError {
	return fieldError{ID: "err-" + name, Messages: fe[name]}
}

// validationErrors sorts an admin.ValidationErrors by the form's fields: a problem with field
// "redirect_uris[1]" goes to "redirect_uris", quoting lists[ "redirect_uris"][1] (the value as
// the admin package saw it). Problems of other fields are returned as general, for the top of
// the page. ok is false when err is not a validation error.
func validationErrors(err error, fields map[string]bool, lists map[string][]string) (fe fieldErrors, general []string, ok bool) {
	var ves admin.ValidationErrors
	if !errors.As(err, &ves) {
		var ve *admin.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, false
		}
		ves = admin.ValidationErrors{ve}
	}
	fe = fieldErrors{}
	for _, ve := range ves {
		base, index := splitField(ve.Field)
		if !fields[base] {
			msg := ve.Message
			if ve.Field != "" {
				msg = ve.Field + ": " + msg
			}
			general = append(general, msg)
			continue
		}
		msg := ve.Message
		if l := lists[base]; index >= 0 && index < len(l) {
			msg = fmt.Sprintf("%q: %s", clip(l[index], 100), msg)
		}
		fe[base] = append(fe[base], msg)
	}
	return fe, general, true
}

// splitField splits "redirect_uris[2]" into "redirect_uris" and 2 (-1 without an index).
func splitField(f string) (string, int) {
	open := strings.IndexByte(f, '[')
	if open < 0 || !strings.HasSuffix(f, "]") {
		return f, -1
	}
	i, err := strconv.Atoi(f[open+1 : len(f)-1])
	if err != nil {
		return f, -1
	}
	return f[:open], i
}

// listLines splits a textarea into its non-empty trimmed lines, without duplicates, the way
// the admin package normalizes lists, so that its indices point at the same values.
func listLines(s string) []string {
	return dedupe(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }))
}

// listWords splits a text field on spaces and commas.
func listWords(s string) []string {
	return dedupe(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r' }))
}

// dedupe trims the elements, drops empty ones and duplicates, keeps the order.
func dedupe(in []string) []string {
	out := []string{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// checked reports whether a checkbox was ticked.
func checked(form map[string][]string, name string) bool {
	v := form[name]
	return len(v) > 0 && v[len(v)-1] != ""
}

// fail answers an error of an operation: a missing record is a 404 page, a conflict a 409
// page with the reason, a validation error not handled by the page a 400 with its messages,
// anything else a logged 500.
func (x *exchange) fail(err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		x.errorPage(http.StatusNotFound, "Not found", "It does not exist (any more). "+
			"It may have been deleted in the meantime.")
	case errors.Is(err, storage.ErrConflict):
		x.errorPage(http.StatusConflict, "Conflict", "The change was not made: "+reason(err)+".")
	default:
		if _, general, ok := validationErrors(err, nil, nil); ok {
			x.errorPage(http.StatusBadRequest, "Not accepted", strings.Join(general, "; "))
			return
		}
		x.c.serverError(x.w, x.r, err)
	}
}

// reason is an admin error's message without the "admin: …" operation prefixes and the
// storage sentinel, for a person to read.
func reason(err error) string {
	msg := err.Error()
	for _, s := range []string{": " + storage.ErrConflict.Error(), ": " + storage.ErrNotFound.Error()} {
		msg = strings.TrimSuffix(msg, s)
	}
	// "admin: delete scope "x": scope is allowed to clients a, b" → the last part.
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		msg = msg[i+2:]
	}
	return msg
}

// errorPage shows an error page with the navigation.
func (x *exchange) errorPage(status int, title, message string) {
	x.render(status, "error", &errorPage{Page: Page{Title: title}, Message: message, Back: pathHome})
}

// badRequest answers a malformed request (a missing id, a parameter out of range).
func (x *exchange) badRequest(message string) {
	x.errorPage(http.StatusBadRequest, "Bad request", message)
}

// param returns a required query (GET) or form (POST) parameter, or answers 400.
func (x *exchange) param(name string) (string, bool) {
	var v string
	if x.form != nil {
		v = x.form.Get(name)
	} else {
		v = x.r.URL.Query().Get(name)
	}
	if v == "" || len(v) > 1000 {
		x.badRequest("The request lacks a valid " + name + ".")
		return "", false
	}
	return v, true
}
