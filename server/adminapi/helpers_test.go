package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/oauth"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/server/servertest"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// clock is a test clock: the real time plus an offset the test moves forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is a running server with the admin API mounted on its admin listener.
type env struct {
	t     *testing.T
	ts    *servertest.Server
	api   *adminapi.API
	clock *clock
	// token is an admin token; tokenID its id (the audit actor is "admin-token:" + tokenID).
	token, tokenID string
	// client is an adminapi.Client authenticated with token.
	client *adminapi.Client
	// hc validates every admin API response against the OpenAPI document.
	hc *http.Client
	// rsID and rsSecret are a resource server client for introspection (made when needed).
	rsID, rsSecret string
}

// backend is a storage backend the tests run on.
type backend struct {
	name string
	opt  func(t *testing.T) servertest.Option
}

var backends = []backend{
	{"sqlite", func(t *testing.T) servertest.Option {
		return servertest.WithSQLite(filepath.Join(t.TempDir(), "gatehouse.db"))
	}},
	{"postgres", func(*testing.T) servertest.Option { return servertest.WithPostgres() }},
}

// eachBackend runs f on a SQLite file and on PostgreSQL (skipped when unreachable, except
// under CI=true).
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// start starts a server on SQLite with the admin API and an admin token.
func start(t *testing.T, opts ...servertest.Option) *env {
	return startOn(t, backends[0], opts...)
}

func startOn(t *testing.T, b backend, opts ...servertest.Option) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{}}
	base := []servertest.Option{
		b.opt(t),
		servertest.WithNow(e.clock.now),
		servertest.WithGrantTypes(oauth.GrantClientCredentials, oauth.GrantAuthorizationCode, oauth.GrantRefreshToken,
			oauth.GrantPassword),
		servertest.WithAdminMounts(func(ts *servertest.Server) map[string]http.Handler {
			api, err := adminapi.New(adminapi.Options{MaxBodyBytes: 64 << 10}, adminapi.Deps{Provider: ts.Provider, Store: ts.Store,
				Now: e.clock.now})
			if err != nil {
				t.Fatalf("adminapi.New: %v", err)
			}
			e.api = api
			return api.Mounts()
		}),
	}
	e.ts = servertest.Start(t, append(base, opts...)...)
	adm := admin.New(e.ts.Store, nil, e.clock.now).WithActor("cli")
	tok, value, err := adm.CreateAdminToken(context.Background(), admin.AdminTokenInput{Name: "tests"})
	if err != nil {
		t.Fatalf("create admin token: %v", err)
	}
	e.token, e.tokenID = value, tok.ID
	e.hc = &http.Client{Timeout: 30 * time.Second, Transport: newValidator(t, http.DefaultTransport)}
	t.Cleanup(e.hc.CloseIdleConnections)
	e.client = adminapi.NewClient(e.ts.AdminURL, e.token, e.hc)
	if _, err := adm.CreateScope(context.Background(), admin.ScopeInput{Name: adminapi.AdminScope}); err != nil {
		t.Fatalf("create admin scope: %v", err)
	}
	return e
}

func (e *env) ctx() context.Context { return e.t.Context() }

// admin returns an Admin on the server's store acting as "test".
func (e *env) admin() *admin.Admin {
	return admin.New(e.ts.Store, nil, e.clock.now).WithActor("test").WithInvalidator(e.ts.Provider).WithIssuer(e.ts.URL)
}

// response is a raw API answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorBody is the API's error answer.
type errorBody struct {
	Error       string                `json:"error"`
	Description string                `json:"error_description"`
	Fields      []adminapi.FieldError `json:"fields"`
}

func (r response) err(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	r.json(t, &e)
	return e
}

// req is a raw request option.
type req struct {
	token       string // "" means the env's admin token; "-" means none
	body        string // raw body; contentType defaults to application/json when set
	contentType string
	header      map[string]string
}

// do sends a raw request to the admin listener.
func (e *env) do(method, path string, r req) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(e.ctx(), method, e.ts.AdminURL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	switch r.token {
	case "":
		hr.Header.Set("Authorization", "Bearer "+e.token)
	case "-":
	default:
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.hc.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// expect checks a response's status, and for errors its code.
func expect(t *testing.T, r response, status int, code string) errorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code == "" {
		return errorBody{}
	}
	eb := r.err(t)
	if eb.Error != code {
		t.Fatalf("error %q, want %q: %s", eb.Error, code, r.body)
	}
	if eb.Description == "" {
		t.Errorf("error %q without a description", code)
	}
	return eb
}

// hasField reports whether the error names field.
func (eb errorBody) hasField(field string) bool {
	for _, f := range eb.Fields {
		if f.Field == field && f.Message != "" {
			return true
		}
	}
	return false
}

// machineClient creates a confidential client_credentials client with scopes and returns an
// access token it got from the token endpoint (clientcredentials), with the scopes asked.
func (e *env) machineClient(t *testing.T, allowed []string, asked ...string) (clientID, secret, accessToken string) {
	t.Helper()
	id, secret := e.ts.CreateClient(t, storage.Client{Scopes: allowed})
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.ts.URL + "/oauth2/token", Scopes: asked,
		AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(e.ctx(), oauth2.HTTPClient, e.ts.Client)
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	return id, secret, tok.AccessToken
}

// validator is a RoundTripper that checks every admin API response against the OpenAPI
// document: status documented, headers and body matching the schemas.
type validator struct {
	t      *testing.T
	next   http.RoundTripper
	router routers.Router
	errSch *openapi3.SchemaRef
}

// exercised records the documented operations the tests called ("METHOD /path").
var exercised sync.Map

// TestMain runs the tests and, when all of them ran and passed, checks that every documented
// operation was called at least once: an operation never called is never checked against its
// schema.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 || flag.Lookup("test.run").Value.String() != "" {
		os.Exit(code)
	}
	d, err := loadDoc()
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var missing []string
	for path, item := range d.Paths.Map() {
		for method := range item.Operations() {
			if _, ok := exercised.Load(method + " " + path); !ok {
				missing = append(missing, method+" "+path)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		fmt.Printf("FAIL: documented operations no test called:\n  %s\n", strings.Join(missing, "\n  "))
		os.Exit(1)
	}
	os.Exit(0)
}

var (
	docOnce sync.Once
	doc     *openapi3.T
	docErr  error
)

func loadDoc() (*openapi3.T, error) {
	docOnce.Do(func() {
		l := openapi3.NewLoader()
		doc, docErr = l.LoadFromData(adminapi.OpenAPI())
		if docErr == nil {
			docErr = doc.Validate(context.Background())
		}
	})
	return doc, docErr
}

func newValidator(t *testing.T, next http.RoundTripper) *validator {
	d, err := loadDoc()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	router, err := legacyrouter.NewRouter(d)
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	return &validator{t: t, next: next, router: router, errSch: d.Components.Schemas["Error"]}
}

func (v *validator) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(r)
	if err != nil || !strings.HasPrefix(r.URL.Path, adminapi.Prefix+"/") {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, rerr
	}
	route, params, ferr := v.router.FindRoute(v.routable(r))
	if ferr != nil {
		// Unknown route or method: the answer must still be the documented error shape.
		var x any
		if err := json.Unmarshal(body, &x); err != nil {
			v.t.Errorf("%s %s: %d answer is not JSON: %s", r.Method, r.URL.Path, resp.StatusCode, body)
		} else if err := v.errSch.Value.VisitJSON(x); err != nil {
			v.t.Errorf("%s %s: %d answer does not match the Error schema: %v", r.Method, r.URL.Path, resp.StatusCode, err)
		}
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		v.t.Errorf("%s %s: %d answer does not match the OpenAPI document: %v\n%s", r.Method, r.URL.Path, resp.StatusCode, err, body)
	}
	exercised.Store(route.Method+" "+route.Path, true)
	return resp, nil
}

// routable is r as the router wants it: the document has no servers, so only the path
// counts.
func (v *validator) routable(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	// The router splits the unescaped path; an escaped "/" in an id must stay one segment.
	c.URL = &url.URL{Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	c.Host = ""
	return c
}
