package adminapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/server/adminapi"
)

// TestOpenAPIInSync: the document is valid OpenAPI 3, every registered route is in it, and
// everything in it is a registered route.
func TestOpenAPIInSync(t *testing.T) {
	d, err := loadDoc()
	if err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	e := start(t)
	var documented []string
	for path, item := range d.Paths.Map() {
		rel, ok := strings.CutPrefix(path, adminapi.Prefix)
		if !ok {
			t.Errorf("documented path %s is outside %s", path, adminapi.Prefix)
			continue
		}
		for method, op := range item.Operations() {
			documented = append(documented, method+" "+rel)
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: no operationId or summary", method, path)
			}
			if op.Responses.Value("401") == nil || op.Responses.Value("403") == nil {
				t.Errorf("%s %s: 401 and 403 are not documented", method, path)
			}
		}
	}
	slices.Sort(documented)
	routes := e.api.Routes()
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(routes, r) {
			t.Errorf("the OpenAPI document has %s, which is not a route", r)
		}
	}
}

// TestOpenAPIServed: GET /admin/openapi.json serves the document on the admin listener, and
// nothing of the API is on the public listener.
func TestOpenAPIServed(t *testing.T) {
	e := start(t)
	resp, err := e.ts.Client.Get(e.ts.AdminURL + adminapi.PathOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s", adminapi.PathOpenAPI, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(buf.Bytes(), adminapi.OpenAPI()) {
		t.Error("the served document differs from the embedded one")
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("the admin listener's security headers are missing")
	}
	for _, path := range []string{adminapi.PathOpenAPI, adminapi.Prefix + "/clients"} {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.ts.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public listener GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestNoServerErrorOnBadInput sends malformed bodies, headers and parameters to every route:
// the answer is always a documented 4xx (the validator checks its shape), never a 500.
func TestNoServerErrorOnBadInput(t *testing.T) {
	e := start(t)
	bodies := []string{"", "{}", `{"a":`, "[]", `"s"`, "1e999", strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		"{\"name\":\"\xff\xfe\"}", `{"name":123,"scopes":{},"limit":-1}`, `{"expires_in":1e30}`, `{"expires_in":9223372036854775807}`,
		`{"retain":"-1h"}`, `{"password":"` + strings.Repeat("p", 2000) + `"}`, `{"id":"` + strings.Repeat("i", 300) + `"}`}
	params := []string{"x", "%00", "%2F%2F", strings.Repeat("z", 2000), "%ff"}
	for _, route := range e.api.Routes() {
		method, path, _ := strings.Cut(route, " ")
		for _, p := range params {
			full := adminapi.Prefix + strings.NewReplacer("{id}", p, "{name}", p, "{ref}", p, "{client_id}", p, "{grant_id}", p).Replace(path)
			for _, body := range bodies {
				for _, q := range []string{"", "?limit=abc", "?cursor=%00", "?since=0"} {
					r := e.do(method, full+q, req{body: body, header: map[string]string{"If-Match": `"0"`}})
					if r.status >= 500 || r.status < 200 {
						t.Fatalf("%s %s%s with %.40q: %d %s", method, full, q, body, r.status, r.body)
					}
				}
			}
		}
	}
}
