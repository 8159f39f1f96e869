package server

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse-auth/gatehouse/oauth"
)

const formContentType = "application/x-www-form-urlencoded"

// bodyPool recycles the buffers request bodies are read into.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps unusually large buffers out of the pools.
const maxPooledBuffer = 64 << 10

// readForm is the one decoder of the POST endpoints (token, introspection, revocation). It
// accepts only POST with an application/x-www-form-urlencoded body of at most
// Options.MaxBodyBytes and no URL query (RFC 6749 3.2, RFC 7009 2.1, RFC 7662 2.1: the
// parameters go in the body, where they stay out of access logs), and it reads the body only,
// never r.Form, which would merge the query in. Repeated parameters are refused by the oauth
// parsers. Every failure is an *oauth.Error with status 405, 413 or 400.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, methodNotAllowed(w)
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return nil, oauth.ErrInvalidRequest("parameters must be sent in the request body, not in the URL query")
	}
	if err := checkFormContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if len(r.Header.Values("Authorization")) > 1 {
		return nil, oauth.ErrInvalidRequest("the Authorization header is repeated")
	}
	return s.readBody(w, r)
}

// postedPageForm reads a page's POST form and checks its CSRF token; on failure it has
// answered with the error page and returns false.
func (s *Server) postedPageForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	form, err := s.readPageForm(w, r)
	if err != nil {
		s.errorPage(w, r, epPages, err)
		return nil, false
	}
	if !s.checkCSRF(r, form) {
		s.csrfFailed(w, r)
		return nil, false
	}
	return form, true
}

// readPageForm decodes the POST of a page form (login, consent, logout, account, and the
// authorization endpoint): POST, form content type, size limit, body only. The URL query is
// ignored, not refused, since a form without an action posts to the page's own URL.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, methodNotAllowed(w)
	}
	if err := checkFormContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	return s.readBody(w, r)
}

// readBody reads and parses a form body of at most Options.MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, bodyTooLarge(limit)
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			bodyPool.Put(buf)
		}
	}()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, bodyTooLarge(limit)
		}
		e := oauth.ErrInvalidRequest("the request body could not be read")
		e.Cause = err
		return nil, e
	}
	// buf.String copies, so the values stay valid after the buffer goes back to the pool.
	form, err := url.ParseQuery(buf.String())
	if err != nil {
		return nil, oauth.ErrInvalidRequest("the request body is not valid application/x-www-form-urlencoded data")
	}
	return form, nil
}

// checkFormContentType accepts application/x-www-form-urlencoded with an optional UTF-8
// charset parameter.
func checkFormContentType(ct string) error {
	if ct == formContentType {
		return nil
	}
	bad := oauth.ErrInvalidRequest("the Content-Type must be %s", formContentType)
	if ct == "" {
		return bad
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != formContentType {
		return bad
	}
	for k, v := range params {
		if k != "charset" {
			continue
		}
		if !strings.EqualFold(v, "utf-8") {
			return oauth.ErrInvalidRequest("the request body must be encoded in UTF-8")
		}
	}
	return nil
}

// methodNotAllowed is the 405 of the POST endpoints.
func methodNotAllowed(w http.ResponseWriter) *oauth.Error {
	w.Header().Set("Allow", http.MethodPost)
	return &oauth.Error{Code: oauth.CodeInvalidRequest, Status: http.StatusMethodNotAllowed,
		Description: "the endpoint accepts only POST requests"}
}

func bodyTooLarge(limit int64) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeInvalidRequest, Status: http.StatusRequestEntityTooLarge,
		Description: "the request body is larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}
