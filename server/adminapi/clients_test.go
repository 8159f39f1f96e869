package adminapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/server/adminapi"
	"github.com/gatehouse-auth/gatehouse/storage"
)

const clientsPath = adminapi.Prefix + "/clients"

type clientBody struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Public       bool     `json:"public"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	RedirectURIs []string `json:"redirect_uris"`
	TokenFormat  string   `json:"token_format"`
	Version      int64    `json:"version"`
	ClientSecret string   `json:"client_secret"`
}

// tokenWorks reports whether the client credentials get a token (scope api:read) from the
// token endpoint.
func (e *env) tokenWorks(t *testing.T, id, secret string) bool {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.ts.URL + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInHeader, Scopes: []string{"api:read"}}
	_, err := cc.Token(context.WithValue(e.ctx(), oauth2.HTTPClient, e.ts.Client))
	if err != nil {
		t.Logf("token for %s: %v", id, err)
	}
	return err == nil
}

func TestClientsCRUD(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		e.ts.CreateScope(t, storage.Scope{Name: "api:read"})

		// Create: 201, the secret once, ETag and Location.
		r := e.do(http.MethodPost, clientsPath, req{body: `{"name":"Billing API","grant_types":["client_credentials"],"scopes":["api:read"]}`})
		expect(t, r, http.StatusCreated, "")
		var created clientBody
		r.json(t, &created)
		if !strings.HasPrefix(created.ID, "billing-api-") || created.ClientSecret == "" || created.Version != 1 || created.TokenFormat != "jwt" {
			t.Fatalf("created: %+v", created)
		}
		if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != clientsPath+"/"+created.ID {
			t.Errorf("headers: ETag %q Location %q", r.header.Get("ETag"), r.header.Get("Location"))
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Error("an answer holding a secret may be cached")
		}
		if !e.tokenWorks(t, created.ID, created.ClientSecret) {
			t.Fatal("the created client's secret does not work")
		}

		// Get: no secret, ever.
		r = e.do(http.MethodGet, clientsPath+"/"+created.ID, req{})
		expect(t, r, http.StatusOK, "")
		if strings.Contains(string(r.body), "secret") || r.header.Get("ETag") != `"1"` {
			t.Errorf("get: %s (ETag %q)", r.body, r.header.Get("ETag"))
		}

		// Update via the Go client, with the version read.
		ctx := e.ctx()
		c, err := e.client.GetClient(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		name := "Billing"
		updated, secret, err := e.client.UpdateClient(ctx, c.ID, admin.ClientPatch{Name: &name, Version: c.Version})
		if err != nil || updated.Name != "Billing" || updated.Version != 2 || secret != "" {
			t.Fatalf("update: %+v %q %v", updated, secret, err)
		}
		// The same stale version again: 412, storage.ErrConflict.
		_, _, err = e.client.UpdateClient(ctx, c.ID, admin.ClientPatch{Name: &name, Version: c.Version})
		if !errors.Is(err, storage.ErrConflict) || !adminapi.IsStatus(err, http.StatusPreconditionFailed) {
			t.Errorf("stale version: %v", err)
		}
		// If-Match: * matches any version; a weak or foreign tag does not.
		expect(t, e.do(http.MethodPatch, clientsPath+"/"+c.ID, req{body: `{"trusted":true}`, header: map[string]string{"If-Match": "*"}}), http.StatusOK, "")
		expect(t, e.do(http.MethodPatch, clientsPath+"/"+c.ID, req{body: `{"trusted":true}`, header: map[string]string{"If-Match": `W/"3"`}}),
			http.StatusPreconditionFailed, adminapi.CodePreconditionFailed)
		expect(t, e.do(http.MethodPatch, clientsPath+"/"+c.ID, req{body: `{"trusted":true}`, header: map[string]string{"If-Match": `"abc"`}}),
			http.StatusPreconditionFailed, adminapi.CodePreconditionFailed)
		expect(t, e.do(http.MethodPatch, clientsPath+"/"+c.ID, req{body: `{"trusted":true}`, header: map[string]string{"If-Match": `3`}}),
			http.StatusBadRequest, adminapi.CodeInvalidRequest)

		// Public → confidential makes a secret; confidential → public drops it.
		pub, _, err := e.client.CreateClient(ctx, admin.ClientInput{ID: "spa", Public: true, GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{"https://app.example.com/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		f := false
		_, secret, err = e.client.UpdateClient(ctx, pub.ID, admin.ClientPatch{Public: &f})
		if err != nil || secret == "" {
			t.Fatalf("made confidential: %q %v", secret, err)
		}

		// Rotate the secret: the new one works, the old one does not.
		newSecret, err := e.client.RotateSecret(ctx, created.ID)
		if err != nil || newSecret == "" || newSecret == created.ClientSecret {
			t.Fatalf("rotate: %q %v", newSecret, err)
		}
		if !e.tokenWorks(t, created.ID, newSecret) || e.tokenWorks(t, created.ID, created.ClientSecret) {
			t.Error("after rotation the new secret must work and the old one not")
		}
		r = e.do(http.MethodPost, clientsPath+"/spa/secret", req{body: `{}`})
		expect(t, r, http.StatusOK, "")
		if _, err := e.client.RotateSecret(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("rotate missing: %v", err)
		}

		// List and search.
		all, err := e.client.AllClients(ctx, "")
		if err != nil || len(all) != 2 {
			t.Fatalf("list: %d %v", len(all), err)
		}
		found, err := e.client.AllClients(ctx, "BILL")
		if err != nil || len(found) != 1 || found[0].ID != created.ID {
			t.Errorf("search: %+v %v", found, err)
		}

		// Delete: 204, then 404; its tokens stop working.
		expect(t, e.do(http.MethodDelete, clientsPath+"/"+created.ID, req{}), http.StatusNoContent, "")
		expect(t, e.do(http.MethodGet, clientsPath+"/"+created.ID, req{}), http.StatusNotFound, adminapi.CodeNotFound)
		expect(t, e.do(http.MethodDelete, clientsPath+"/"+created.ID, req{}), http.StatusNotFound, adminapi.CodeNotFound)
		if e.tokenWorks(t, created.ID, newSecret) {
			t.Error("a deleted client still gets tokens")
		}

		// Every change was audited with the admin token as the actor.
		events, _, err := e.admin().ListAudit(ctx, storage.AuditFilter{Actor: adminapi.ActorAdminToken + e.tokenID, ClientID: created.ID})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		for _, want := range []string{admin.EventClientCreated, admin.EventClientUpdated, admin.EventClientSecretRotated, admin.EventClientDeleted} {
			if !slices.Contains(types, want) {
				t.Errorf("no %s event by the admin token (have %v)", want, types)
			}
		}
	})
}

// TestClientIDsWithSpecialCharacters: ids may hold any visible ASCII, slashes too; they are
// path-escaped.
func TestClientIDsWithSpecialCharacters(t *testing.T) {
	e := start(t)
	for _, id := range []string{"a/b", "a?b", "a%2Fb", "a#x", "x:y@z", "...", "a/../b", "~!$&'()*+,;="} {
		_, _, err := e.client.CreateClient(e.ctx(), admin.ClientInput{ID: id, GrantTypes: []string{"client_credentials"}})
		if err != nil {
			t.Fatalf("create %q: %v", id, err)
		}
		c, err := e.client.GetClient(e.ctx(), id)
		if err != nil || c.ID != id {
			t.Errorf("get %q: %+v %v", id, c, err)
		}
		if err := e.client.DeleteClient(e.ctx(), id); err != nil {
			t.Errorf("delete %q: %v", id, err)
		}
	}
	// "." and ".." cannot be path segments, so they are not client ids.
	for _, id := range []string{".", ".."} {
		_, _, err := e.client.CreateClient(e.ctx(), admin.ClientInput{ID: id, GrantTypes: []string{"client_credentials"}})
		var ve admin.ValidationErrors
		if !errors.As(err, &ve) || ve[0].Field != "id" {
			t.Errorf("create %q: %v", id, err)
		}
	}

}

func TestClientValidation(t *testing.T) {
	e := start(t)
	cases := []struct {
		name, body string
		status     int
		code       string
		fields     []string
	}{
		{"bad redirect URI", `{"id":"c1","grant_types":["authorization_code"],"redirect_uris":["http://evil.example.com/cb"]}`,
			400, adminapi.CodeValidationFailed, []string{"redirect_uris[0]"}},
		{"fragment in redirect URI", `{"id":"c1","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb#x","javascript:alert(1)"]}`,
			400, adminapi.CodeValidationFailed, []string{"redirect_uris[0]", "redirect_uris[1]"}},
		{"unknown grant type", `{"id":"c1","grant_types":["client_credentials","magic"]}`,
			400, adminapi.CodeValidationFailed, []string{"grant_types[1]"}},
		{"no grant type", `{"id":"c1"}`, 400, adminapi.CodeValidationFailed, []string{"grant_types"}},
		{"unknown scope", `{"id":"c1","grant_types":["client_credentials"],"scopes":["nope"]}`,
			400, adminapi.CodeValidationFailed, []string{"scopes[0]"}},
		{"bad token format", `{"id":"c1","grant_types":["client_credentials"],"token_format":"xml"}`,
			400, adminapi.CodeValidationFailed, []string{"token_format"}},
		{"unknown field", `{"id":"c1","grant_types":["client_credentials"],"secret":"x"}`, 400, adminapi.CodeInvalidRequest, []string{"secret"}},
		{"wrong type", `{"id":"c1","grant_types":"client_credentials"}`, 400, adminapi.CodeValidationFailed, []string{"grant_types"}},
		{"wrong element type", `{"id":"c1","grant_types":[1]}`, 400, adminapi.CodeValidationFailed, nil},
		{"not JSON", `{"id":`, 400, adminapi.CodeInvalidRequest, nil},
		{"not an object", `["x"]`, 400, adminapi.CodeInvalidRequest, nil},
		{"null", `null`, 400, adminapi.CodeInvalidRequest, nil},
		{"two objects", `{"id":"c1","grant_types":["client_credentials"]}{}`, 400, adminapi.CodeInvalidRequest, nil},
		{"empty body", ``, 400, adminapi.CodeInvalidRequest, nil},
		{"control characters in name", `{"id":"c1","name":"a\u0000b","grant_types":["client_credentials"]}`,
			400, adminapi.CodeValidationFailed, []string{"name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eb := expect(t, e.do(http.MethodPost, clientsPath, req{body: tc.body}), tc.status, tc.code)
			for _, f := range tc.fields {
				if !eb.hasField(f) {
					t.Errorf("no message for field %s: %+v", f, eb.Fields)
				}
			}
		})
	}
	// Patch validation reports fields the same way and writes nothing.
	if _, _, err := e.client.CreateClient(e.ctx(), admin.ClientInput{ID: "ok", GrantTypes: []string{"client_credentials"}}); err != nil {
		t.Fatal(err)
	}
	eb := expect(t, e.do(http.MethodPatch, clientsPath+"/ok", req{body: `{"grant_types":["authorization_code"],"redirect_uris":["http://evil.example.com/cb"]}`}),
		400, adminapi.CodeValidationFailed)
	if !eb.hasField("redirect_uris[0]") {
		t.Errorf("patch fields: %+v", eb.Fields)
	}
	if c, _ := e.client.GetClient(e.ctx(), "ok"); c.Version != 1 {
		t.Errorf("a refused patch wrote: version %d", c.Version)
	}
	expect(t, e.do(http.MethodPatch, clientsPath+"/missing", req{body: `{"name":"x"}`}), 404, adminapi.CodeNotFound)

	// Media type, size, method, route, query.
	expect(t, e.do(http.MethodPost, clientsPath, req{body: `id=c1`, contentType: "application/x-www-form-urlencoded"}), 415, adminapi.CodeUnsupportedMediaType)
	expect(t, e.do(http.MethodPost, clientsPath, req{body: `{"id":"c1"}`, contentType: "text/plain"}), 415, adminapi.CodeUnsupportedMediaType)
	big := `{"id":"c1","name":"` + strings.Repeat("x", 70<<10) + `"}`
	expect(t, e.do(http.MethodPost, clientsPath, req{body: big}), 413, adminapi.CodeRequestTooLarge)
	r := e.do(http.MethodPut, clientsPath+"/ok", req{body: `{}`})
	expect(t, r, 405, adminapi.CodeMethodNotAllowed)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "DELETE") {
		t.Errorf("Allow %q", allow)
	}
	expect(t, e.do(http.MethodGet, adminapi.Prefix+"/nothing-here", req{}), 404, adminapi.CodeNotFound)
	expect(t, e.do(http.MethodGet, clientsPath+"?limit=0", req{}), 400, adminapi.CodeValidationFailed)
	expect(t, e.do(http.MethodGet, clientsPath+"?limit=501", req{}), 400, adminapi.CodeValidationFailed)
	expect(t, e.do(http.MethodGet, clientsPath+"?limit=x", req{}), 400, adminapi.CodeValidationFailed)
	expect(t, e.do(http.MethodGet, clientsPath+"?colour=red", req{}), 400, adminapi.CodeInvalidRequest)
	expect(t, e.do(http.MethodGet, clientsPath+"?q=a&q=b", req{}), 400, adminapi.CodeInvalidRequest)
	expect(t, e.do(http.MethodGet, clientsPath+"?cursor=!!!", req{}), 400, adminapi.CodeValidationFailed)
	expect(t, e.do(http.MethodGet, clientsPath+"?%zz", req{}), 400, adminapi.CodeInvalidRequest)
	expect(t, e.do(http.MethodGet, clientsPath+"/ok?x=1", req{}), 400, adminapi.CodeInvalidRequest)
	// A users cursor is not a clients cursor.
	_, next, err := e.client.ListUsers(e.ctx(), adminapi.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = next
	expect(t, e.do(http.MethodGet, clientsPath+"?cursor=dTphbGljZQ", req{}), 400, adminapi.CodeValidationFailed)
}

// TestClientsPagination: walking the pages returns every client exactly once, in id order,
// whatever the page size, with and without a search.
func TestClientsPagination(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()
		var want []string
		for i := range 23 {
			name := fmt.Sprintf("svc-%02d", i)
			if i%3 == 0 {
				name = fmt.Sprintf("Batch-%02d", i)
			}
			c, _, err := e.admin().CreateClient(ctx, admin.ClientInput{ID: strings.ToLower(name), Name: name,
				GrantTypes: []string{"client_credentials"}})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, c.ID)
		}
		slices.Sort(want)
		for _, limit := range []int{1, 5, 23, 100} {
			var got []string
			cursor, pages := "", 0
			for {
				items, next, err := e.client.ListClients(ctx, adminapi.ListOptions{Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if len(items) > limit {
					t.Fatalf("page of %d with limit %d", len(items), limit)
				}
				pages++
				for _, c := range items {
					got = append(got, c.ID)
				}
				if next == "" {
					break
				}
				if pages > 30 {
					t.Fatal("pagination does not end")
				}
				cursor = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: got %v, want %v", limit, got, want)
			}
			if wantPages := (23 + limit - 1) / limit; pages != wantPages {
				t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
			}
		}
		// Search, paged.
		var got []string
		cursor := ""
		for {
			items, next, err := e.client.ListClients(ctx, adminapi.ListOptions{Query: "batch", Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range items {
				got = append(got, c.ID)
			}
			if cursor = next; next == "" {
				break
			}
		}
		if len(got) != 8 || !slices.IsSorted(got) {
			t.Errorf("search pages: %v", got)
		}
	})
}

// TestConcurrentUpdates: two PATCHes with the same If-Match: one 200, one 412, and the winner's
// change is what is stored. Without If-Match, concurrent PATCHes of different fields either
// succeed or get 409: no success is ever lost.
func TestConcurrentUpdates(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startOn(t, b)
		ctx := e.ctx()
		c, _, err := e.client.CreateClient(ctx, admin.ClientInput{ID: "shared", GrantTypes: []string{"client_credentials"}})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			cur, err := e.client.GetClient(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{fmt.Sprintf("first-%d", round), fmt.Sprintf("second-%d", round)}
			statuses := make([]int, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 2 {
				wg.Go(func() {
					<-start
					_, _, err := e.client.UpdateClient(ctx, c.ID, admin.ClientPatch{Name: &names[i], Version: cur.Version})
					switch {
					case err == nil:
						statuses[i] = 200
					case adminapi.IsStatus(err, http.StatusPreconditionFailed):
						statuses[i] = 412
					default:
						t.Errorf("update %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			slices.Sort(statuses)
			if !slices.Equal(statuses, []int{200, 412}) {
				t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, statuses)
			}
			after, err := e.client.GetClient(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Version != cur.Version+1 || !slices.Contains(names, after.Name) {
				t.Fatalf("round %d: stored %q at version %d (was %d)", round, after.Name, after.Version, cur.Version)
			}
		}

		// Without If-Match: each goroutine changes its own field.
		yes := true
		opaque := storage.TokenFormatOpaque
		name := "renamed"
		uris := []string{"https://app.example.com/cb"}
		grants := []string{"client_credentials", "authorization_code"}
		patches := []admin.ClientPatch{{Name: &name}, {Trusted: &yes}, {TokenFormat: &opaque}, {RedirectURIs: &uris, GrantTypes: &grants}}
		ok := make([]bool, len(patches))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, p := range patches {
			wg.Go(func() {
				<-start
				_, _, err := e.client.UpdateClient(ctx, c.ID, p)
				switch {
				case err == nil:
					ok[i] = true
				case errors.Is(err, storage.ErrConflict) && adminapi.IsStatus(err, http.StatusConflict):
				default:
					t.Errorf("patch %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		final, err := e.client.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		applied := 0
		for i, done := range ok {
			if !done {
				continue
			}
			applied++
			var kept bool
			switch i {
			case 0:
				kept = final.Name == name
			case 1:
				kept = final.Trusted
			case 2:
				kept = final.TokenFormat == opaque
			case 3:
				kept = slices.Equal(final.RedirectURIs, uris)
			}
			if !kept {
				t.Errorf("patch %d answered 200 but its change was lost: %+v", i, final)
			}
		}
		if applied == 0 {
			t.Error("no concurrent patch succeeded")
		}
	})
}
