package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/gatehouse-auth/gatehouse/oauth"
)

// Header values, shared read-only slices assigned straight into the header map on the hot
// path (each has len == cap, so an Add elsewhere copies instead of writing into them).
var (
	hvJSON       = []string{"application/json;charset=UTF-8"}
	hvNoStore    = []string{"no-store"}
	hvNoCache    = []string{"no-cache"}
	hvAuthBasic  = []string{`Basic realm="gatehouse", charset="UTF-8"`}
	hvPublicDocs = []string{"public, max-age=300"}
)

// jsonEncoder is a reusable buffer with an encoder bound to it.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoderPool = sync.Pool{New: func() any {
	e := new(jsonEncoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// writeJSON encodes v into a pooled buffer and writes it with its Content-Length. noStore
// adds the Cache-Control and Pragma headers RFC 6749 5.1 requires on token responses.
func writeJSON(w http.ResponseWriter, status int, v any, noStore bool) error {
	e := encoderPool.Get().(*jsonEncoder)
	defer func() {
		if e.buf.Cap() <= maxPooledBuffer {
			encoderPool.Put(e)
		}
	}()
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = hvJSON
	h["Content-Length"] = []string{strconv.Itoa(e.buf.Len())}
	if noStore {
		h["Cache-Control"] = hvNoStore
		h["Pragma"] = hvNoCache
	}
	w.WriteHeader(status)
	_, err := w.Write(e.buf.Bytes())
	return err
}

// errorBody is an RFC 6749 5.2 error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Endpoint names, the endpoint label of gatehouse_oauth_errors_total.
const (
	epToken      = "token"
	epIntrospect = "introspect"
	epRevoke     = "revoke"
	epJWKS       = "jwks"
	epMetadata   = "metadata"
	epInternal   = "internal"
)

// writeError is the one error writer. An *oauth.Error is sent as it is (code, description,
// status); anything else is logged with its cause and sent as a 500 server_error that tells
// the client nothing more. 5xx causes are logged at Error level. A 401 carries
// WWW-Authenticate (RFC 6749 5.2). Error responses are never cached.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	ctx := r.Context()
	oe, ok := errors.AsType[*oauth.Error](err)
	if !ok || oe == nil {
		s.log.LogAttrs(ctx, slog.LevelError, "request failed", slog.String("request_id", RequestID(ctx)),
			slog.String("endpoint", endpoint), slog.Any("err", err))
		oe = oauth.ErrServer(err)
	} else if oe.Status >= 500 || oe.Status == 0 {
		s.log.LogAttrs(ctx, slog.LevelError, "request failed", slog.String("request_id", RequestID(ctx)),
			slog.String("endpoint", endpoint), slog.Any("err", oe))
	} else if oe.Cause != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "request refused", slog.String("request_id", RequestID(ctx)),
			slog.String("endpoint", endpoint), slog.Any("err", oe))
	}
	code, status, desc := oe.Code, oe.Status, oe.Description
	if code == "" || status < 400 || status > 599 {
		code, status, desc = oauth.CodeServerError, http.StatusInternalServerError, "the server could not complete the request"
	}
	if status == http.StatusUnauthorized {
		w.Header()["Www-Authenticate"] = hvAuthBasic
	}
	if ex := exchangeOf(ctx); ex != nil {
		ex.errCode = code
	}
	s.metrics.oauthErrors.WithLabelValues(endpoint, code).Inc()
	if err := writeJSON(w, status, errorBody{Error: code, Description: desc}, true); err != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "write error response", slog.Any("err", err))
	}
}
