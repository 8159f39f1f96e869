package adminapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// readBody reads the request body, at most the configured size. An empty body is nil.
func (c *call) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.api.opts.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge,
				Description: fmt.Sprintf("the body is larger than %d bytes", c.api.opts.MaxBodyBytes)}
		}
		return nil, badRequest("the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
			Description: "the body must be JSON (Content-Type: application/json)"}
	}
	return body, nil
}

// decode reads the JSON object body into dst. Unknown fields, a second value, and values of
// the wrong type are 400s naming the field.
func (c *call) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := c.readBody(w, r)
	if err != nil {
		return err
	}
	if body == nil {
		return badRequest("a JSON object body is required")
	}
	return decodeObject(body, dst)
}

// decodeOptional is decode for actions whose body may be left out: dst keeps its zero value.
func (c *call) decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := c.readBody(w, r)
	if err != nil || body == nil {
		return err
	}
	return decodeObject(body, dst)
}

func decodeObject(body []byte, dst any) error {
	if body = bytes.TrimSpace(body); len(body) == 0 || body[0] != '{' {
		return badRequest("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the body must hold exactly one JSON object")
	}
	return nil
}

// jsonError describes a decoding error of the body.
func jsonError(err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return badRequest("the body is not valid JSON (at byte %d)", se.Offset)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return invalidField(field, "must be %s", typeName(te.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		e := badRequest("unknown field %q", clip(name))
		e.Fields = []FieldError{{Field: clip(name), Message: "unknown field"}}
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("the body is not valid JSON (it ends early)")
	}
	return badRequest("the body is not valid JSON")
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(typeName(t.Elem()), "a ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}

// query returns the URL's query parameters, refusing unknown and repeated ones.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query string is malformed")
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, badRequest("this route takes no query parameters")
			}
			return nil, badRequest("unknown query parameter %q (allowed: %s)", clip(k), strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, badRequest("query parameter %q is repeated", k)
		}
	}
	return q, nil
}

// noQuery refuses query parameters on routes that take none.
func noQuery(r *http.Request) error {
	_, err := query(r)
	return err
}

// limitParam reads the limit parameter; 0 when absent (the default page size).
func limitParam(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, invalidField("limit", "must be a positive integer")
	}
	return n, nil
}

// timeParam reads an RFC 3339 time parameter; zero when absent.
func timeParam(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalidField(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// Cursors are opaque to callers: base64url of a kind letter and the position.
const (
	cursorClients = "c"
	cursorUsers   = "u"
	cursorAudit   = "a"
)

func encodeCursor(kind, pos string) string {
	if pos == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + pos))
}

// decodeCursor returns the position of a cursor of kind; "" for no cursor.
func decodeCursor(q url.Values, kind string) (string, error) {
	s := q.Get("cursor")
	if s == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	k, pos, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok || k != kind || pos == "" {
		return "", invalidField("cursor", "is not a cursor of this list (pass next_cursor as it came)")
	}
	return pos, nil
}

// auditCursor is the position after an event: its time and id.
func auditCursor(t time.Time, id int64) string {
	return encodeCursor(cursorAudit, strconv.FormatInt(t.UnixNano(), 10)+":"+strconv.FormatInt(id, 10))
}

func decodeAuditCursor(q url.Values) (time.Time, int64, error) {
	pos, err := decodeCursor(q, cursorAudit)
	if err != nil || pos == "" {
		return time.Time{}, 0, err
	}
	ns, ids, _ := strings.Cut(pos, ":")
	n, err1 := strconv.ParseInt(ns, 10, 64)
	id, err2 := strconv.ParseInt(ids, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return time.Time{}, 0, invalidField("cursor", "is not a cursor of this list (pass next_cursor as it came)")
	}
	return time.Unix(0, n).UTC(), id, nil
}

// etag is the entity tag of a client version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads the If-Match header: present reports whether there is one; version is the
// version it requires, 0 for "*" (any). Weak tags never match (RFC 9110 13.1.1 uses the
// strong comparison).
func ifMatch(r *http.Request) (version int64, present bool, err error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return 0, false, nil
	}
	v := strings.TrimSpace(strings.Join(values, ","))
	if v == "*" {
		return 0, true, nil
	}
	if strings.Contains(v, ",") {
		return 0, true, badRequest("If-Match must hold one entity tag (the ETag of the resource) or *")
	}
	if strings.HasPrefix(v, "W/") {
		return 0, true, &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed,
			Description: "a weak entity tag never matches If-Match; send the ETag as it came"}
	}
	n, perr := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' || perr != nil || n < 1 {
		// A well-formed tag that is not one of ours cannot match.
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			return 0, true, &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed,
				Description: "If-Match does not match the client's current ETag"}
		}
		return 0, true, badRequest(`If-Match must be an entity tag such as "3", or *`)
	}
	return n, true, nil
}
