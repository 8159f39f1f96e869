package adminapi

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

// FuzzRequestParsing feeds the admin API's request parsers arbitrary input: JSON bodies into
// every request type, list cursors and If-Match headers. Each either accepts or answers an
// *Error with a 4xx status; nothing panics and nothing is a server error.
func FuzzRequestParsing(f *testing.F) {
	for _, s := range []string{
		`{"name":"web","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"]}`,
		`{"scopes":null,"public":true}`, `{"name":1}`, `{"x":1}`, `{} {}`, `[]`, `{"name":"\u0000"}`,
		`{"version":-1}`, `{"expires_in":1e400}`, "   ", `"`, `{"password":"` + string(make([]byte, 64)) + `"}`,
		"Y2xpZW50czp3ZWI", "YXVkaXQ6MTo1", `"3"`, `W/"3"`, `*`, `"a","b"`,
	} {
		f.Add(s)
	}
	targets := []func() any{
		func() any { return new(clientCreateJSON) }, func() any { return new(clientPatchJSON) },
		func() any { return new(scopeCreateJSON) }, func() any { return new(scopePatchJSON) },
		func() any { return new(userCreateJSON) }, func() any { return new(userPatchJSON) },
		func() any { return new(passwordRequestJSON) }, func() any { return new(disableJSON) },
		func() any { return new(personalTokenCreateJSON) }, func() any { return new(rotateKeyJSON) },
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Code == "" || e.Description == "" {
				t.Fatalf("%s(%q): %v (%#v), want a 4xx *Error", what, s, err, e)
			}
		}
		for _, newDst := range targets {
			check("decodeObject", decodeObject([]byte(s), newDst()))
		}
		q := url.Values{"cursor": {s}}
		_, err := decodeCursor(q, cursorAudit)
		check("decodeCursor", err)
		_, _, err = decodeAuditCursor(q)
		check("decodeAuditCursor", err)
		r := &http.Request{Header: http.Header{"If-Match": {s}}}
		_, _, err = ifMatch(r)
		check("ifMatch", err)
		q = url.Values{"limit": {s}}
		_, err = limitParam(q)
		check("limitParam", err)
		q = url.Values{"since": {s}}
		_, err = timeParam(q, "since")
		check("timeParam", err)
	})
}
