package bearer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/bearer"
	"github.com/gatehouse-auth/gatehouse/token"
)

// FuzzVerify feeds arbitrary tokens to Verify and to the middleware's header parsing. Neither
// may panic, and only the real token (or an encoding of its signature that decodes to the same
// bytes) may be accepted. The verifier has no
// introspection (opaque inputs are refused offline) and a clock that never moves, so after
// New's fetch the rate limit keeps unknown kids from reaching the network.
func FuzzVerify(f *testing.F) {
	e := start(f)
	v := e.verifier(f, func(c *bearer.Config) {
		c.IntrospectionClientID, c.IntrospectionClientSecret = "", ""
		now := e.clock.Now()
		c.Now = func() time.Time { return now }
	})
	good := e.jwt(f, "invoices:read")
	want, err := v.Verify(context.Background(), good)
	if err != nil {
		f.Fatal(err)
	}
	kid := e.signer(f, token.ES256).ID
	f.Add(good)
	f.Add(unsignedToken(f, kid, e.claims()))
	f.Add(good[:strings.LastIndex(good, ".")+1])
	f.Add("gha_" + strings.Repeat("A", 49))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := bearer.FromContext(r.Context()); !ok {
			panic("no claims in the context")
		}
	}))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := v.Verify(context.Background(), s)
		if err == nil {
			if c == nil || c.ID != want.ID {
				t.Fatalf("Verify(%q) accepted", s)
			}
		} else if !errors.Is(err, bearer.ErrInvalidToken) {
			t.Fatalf("Verify(%q) = %v, want ErrInvalidToken", s, err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{"Bearer " + s}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusUnauthorized && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d", w.Code)
		}
	})
}
