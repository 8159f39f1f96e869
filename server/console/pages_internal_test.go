package console

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/admin"
	"github.com/gatehouse-auth/gatehouse/storage"
)

// samplePages returns representative data for every page: empty lists and full ones, field
// errors, a secret shown once, odd characters. Each page name maps to one or more variants.
func samplePages() map[string][]pageData {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	me := &storage.User{ID: "u1", Username: "root", Roles: []string{"admin"}}
	base := func(title, nav string) Page {
		return Page{Title: title, Nav: nav, CSRF: "tok", User: me}
	}
	withAll := func(p Page) Page {
		p.Notice, p.Error = "Done <b>.", "Problem & more"
		p.Secret = &Secret{Label: "Client secret of x", Value: "s3cr3t\"<>", Note: "Only a hash is stored."}
		return p
	}
	client := storage.Client{ID: "web/app?x=1#y", Name: "Web <App>", Trusted: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "read"}, RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"}, TokenFormat: "jwt", Declared: true, Version: 3,
		CreatedAt: now, UpdatedAt: now}
	form := formOf(client)
	errs := fieldErrors{}
	for f := range clientFields {
		errs[f] = []string{"bad " + f}
	}
	choices := func(p *clientPage) *clientPage {
		p.GrantTypes = admin.GrantTypes()
		p.TokenFormats = []string{"jwt", "opaque"}
		p.ScopeOptions = append(slices.Clone(builtinScopes), scopeOption{Name: "read", Description: "Read"})
		return p
	}
	token := storage.Token{ID: "tok1", Kind: storage.KindRefresh, ClientID: client.ID, Subject: "u2", Scopes: []string{"read"},
		GrantID: "g1", IssuedAt: now, ExpiresAt: now.Add(time.Hour), Name: "laptop"}
	user := storage.User{ID: "u2", Username: "alice", Email: "a@example.com", EmailVerified: true, Name: "Alice",
		Roles: []string{"ops", "admin"}, Disabled: true, Declared: true, CreatedAt: now, UpdatedAt: now}
	session := storage.Session{ID: "s1", UserID: "u2", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		UserAgent: "admin console: Mozilla", IP: "127.0.0.1"}
	event := auditEvent{AuditEvent: storage.AuditEvent{ID: 7, Time: now, Type: "client.created", Actor: "user:u1",
		ClientID: client.ID, Subject: "u2"}, Details: []detail{{"name", "Web"}, {"scopes", "a b"}}}
	keys := []admin.KeyInfo{{ID: "k1", Algorithm: "ES256", State: storage.KeyCurrent, CreatedAt: now},
		{ID: "k0", Algorithm: "ES256", State: storage.KeyPrevious, CreatedAt: now, NotAfter: now.Add(time.Hour)}}
	confirm := &confirmPage{Page: base("Delete client x", "clients"), What: "the client x", Action: pathClientDel, Field: "id",
		Value: "x", Cancel: clientURL("x"), Consequences: []string{"Tokens stop working."}}
	return map[string][]pageData{
		"login": {&loginPage{Page: Page{Title: "Sign in", CSRF: "tok"}}, &loginPage{Page: Page{Title: "Sign in", CSRF: "tok",
			Error: msgLoginFailed, Notice: whyMessages[whyExpired]}, Username: "root", Next: "/admin/keys"}},
		"error": {&errorPage{Page: Page{Title: "Not found"}, Message: "Gone.", Back: pathHome},
			&errorPage{Page: base("Conflict", ""), Message: "No.", Back: pathHome}},
		"dashboard": {&dashboardPage{Page: base("Dashboard", "dashboard"), Clients: "3", Users: "500+", Scopes: "0", Keys: "2", Failed: "0"},
			&dashboardPage{Page: withAll(base("Dashboard", "dashboard")), Recent: []auditEvent{event}}},
		"clients": {&clientsPage{Page: base("Clients", "clients")}, &clientsPage{Page: base("Clients", "clients"), Query: "we\"b",
			Clients: []storage.Client{client, {ID: "m", Public: true}}, After: "a", Next: "m"}},
		"client_new": {choices(&clientPage{Page: base("New client", "clients"), New: true}),
			choices(&clientPage{Page: withAll(base("New client", "clients")), New: true, Form: form, Errors: errs})},
		"client": {choices(&clientPage{Page: base("Client x", "clients"), Client: client, Form: form}),
			choices(&clientPage{Page: withAll(base("Client x", "clients")), Client: storage.Client{ID: "p", Public: true},
				Form: clientForm{Public: true, Scopes: []string{"gone"}}, Errors: errs})},
		"client_tokens": {&tokensPage{Page: base("Tokens of x", "clients"), Client: client, Now: now},
			&tokensPage{Page: withAll(base("Tokens of x", "clients")), Client: client, Tokens: []storage.Token{token, {ID: "t2"}}, Now: now}},
		"scopes": {&scopesPage{Page: base("Scopes", "scopes"), BuiltIn: builtinScopes},
			&scopesPage{Page: withAll(base("Scopes", "scopes")), Scopes: []storage.Scope{{Name: "read", Description: "R", Default: true},
				{Name: "a/b"}}, BuiltIn: builtinScopes, New: storage.Scope{Name: "x"}, Errors: fieldErrors{"name": {"bad"}, "description": {"bad"}},
				Edit: "read", EditErrors: fieldErrors{"description": {"too long"}}}},
		"users": {&usersPage{Page: base("Users", "users")}, &usersPage{Page: base("Users", "users"), Query: "a",
			Users: []storage.User{user, *me}, After: "a", Next: "b"}},
		"user_new": {&userNewPage{Page: base("New user", "users")}, &userNewPage{Page: withAll(base("New user", "users")),
			Form: userForm{Username: "x", Roles: "a b"}, Errors: fieldErrors{"username": {"bad"}, "email": {"bad"}, "roles": {"bad"},
				"password": {"short"}, "name": {"bad"}, "email_verified": {"bad"}}}},
		"user": {&userPage{Page: base("User alice", "users"), Target: user, Form: formOfUser(user), Now: now},
			&userPage{Page: withAll(base("User root", "users")), Target: *me, Self: true, Form: formOfUser(*me),
				Errors: fieldErrors{"roles": {"bad"}}, Sessions: []storage.Session{session}, Current: "s1",
				Consents: []consentItem{{Consent: storage.Consent{UserID: "u2", ClientID: "c", Scopes: []string{"read"}, UpdatedAt: now}, ClientName: "C"}},
				Tokens:   []storage.Token{token, {ID: "t2", Kind: storage.KindPersonal}}, Now: now}},
		"keys": {&keysPage{Page: base("Signing keys", "keys")}, &keysPage{Page: withAll(base("Signing keys", "keys")), Keys: keys,
			Algorithms: []string{"ES256"}, Retain: "24h5m0s"}},
		"audit": {&auditPage{Page: base("Audit trail", "audit"), Types: eventTypes, Errors: fieldErrors{}},
			&auditPage{Page: withAll(base("Audit trail", "audit")), Types: eventTypes, Events: []auditEvent{event, {AuditEvent: storage.AuditEvent{ID: 1}}},
				Filter: auditFilter{Type: "x", Actor: "user:u1", ClientID: "c", Subject: "s", Since: "2026-01-01", Until: "bad"},
				Errors: fieldErrors{"since": {"bad"}, "until": {"bad"}, "type": {"bad"}, "actor": {"bad"}, "client_id": {"bad"}, "subject": {"bad"}},
				Next:   "123.4", First: true}},
		"api_tokens": {&apiTokensPage{Page: base("Admin API tokens", "api_tokens"), Now: now},
			&apiTokensPage{Page: withAll(base("Admin API tokens", "api_tokens")), Now: now, Name: "ci\"", Days: "x",
				Errors: fieldErrors{"name": {"bad"}, "expires_in": {"bad"}},
				Tokens: []storage.AdminToken{{ID: "a1", Name: "terraform", CreatedBy: "cli", CreatedAt: now},
					{ID: "a2", Name: "old", CreatedAt: now, ExpiresAt: now.Add(-time.Hour), LastUsedAt: now}}}},
		"confirm": {confirm, &confirmPage{Page: base("Delete scope s", "scopes"), What: "the scope s", Action: pathScopeDel, Field: "name", Value: "s",
			Cancel: pathScopes}},
	}
}

// TestEveryTemplate executes every page's template with representative data: no template
// error, the title, the navigation for a signed-in administrator, the secret and the field
// errors where given, and every value escaped.
func TestEveryTemplate(t *testing.T) {
	ps, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	samples := samplePages()
	if got, want := slices.Sorted(maps.Keys(samples)), slices.Sorted(slices.Values(pageNames)); !slices.Equal(got, want) {
		t.Fatalf("samples for %v, pages %v", got, want)
	}
	for name, variants := range samples {
		for i, data := range variants {
			buf, err := ps.execute(name, data)
			if err != nil {
				t.Errorf("%s #%d: %v", name, i, err)
				continue
			}
			out := buf.String()
			p := data.page()
			if !strings.Contains(out, "<title>"+escape(p.Title)+" · Gatehouse admin</title>") || !strings.Contains(out, "<h1>") {
				t.Errorf("%s #%d: no title", name, i)
			}
			if (p.User != nil) != strings.Contains(out, `<nav aria-label="Console">`) {
				t.Errorf("%s #%d: navigation shown %v for user %v", name, i, !strings.Contains(out, "<nav"), p.User)
			}
			if p.Secret != nil && !strings.Contains(out, `value="s3cr3t&#34;&lt;&gt;"`) {
				t.Errorf("%s #%d: the secret is missing or not escaped", name, i)
			}
			for _, bad := range []string{"<b>.", "Web <App>", "ZgotmplZ", "<no value>"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s #%d: %q in the page", name, i, bad)
				}
			}
			if strings.Count(out, "<form") != strings.Count(out, "</form>") {
				t.Errorf("%s #%d: unbalanced forms", name, i)
			}
			// Every POST form carries the CSRF token.
			if forms, tokens := strings.Count(out, `method="post"`), strings.Count(out, `name="csrf" value="tok"`); forms != tokens {
				t.Errorf("%s #%d: %d POST forms, %d CSRF fields", name, i, forms, tokens)
			}
		}
	}
	// Field errors land in elements the fields point at.
	buf, _ := ps.execute("client_new", samples["client_new"][1])
	for f := range clientFields {
		if f == "public" || f == "trusted" {
			continue
		}
		if !strings.Contains(buf.String(), `aria-describedby="err-`+f+`"`) || !strings.Contains(buf.String(), `id="err-`+f+`"`) {
			t.Errorf("client form: no error element for %s", f)
		}
	}
	// A client id with URL syntax stays one query value in links.
	buf, _ = ps.execute("clients", samples["clients"][1])
	if !strings.Contains(buf.String(), `href="/admin/clients/view?id=web%2fapp%3fx%3d1%23y"`) &&
		!strings.Contains(buf.String(), `href="/admin/clients/view?id=web%2Fapp%3Fx%3D1%23y"`) {
		t.Errorf("client link: %s", buf.String())
	}
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// TestValidationErrors: admin field paths map to the form's fields, quoting the value.
func TestValidationErrors(t *testing.T) {
	err := admin.ValidationErrors{{Field: "redirect_uris[1]", Message: "must not contain a fragment (#)"},
		{Field: "grant_types", Message: "at least one"}, {Field: "weird", Message: "odd"}, {Field: "scopes[9]", Message: "out of range"}}
	fe, general, ok := validationErrors(err, clientFields, map[string][]string{"redirect_uris": {"a", "https://x#y"}})
	if !ok {
		t.Fatal("not recognized")
	}
	if got := fe["redirect_uris"]; len(got) != 1 || got[0] != `"https://x#y": must not contain a fragment (#)` {
		t.Errorf("redirect_uris %q", got)
	}
	if got := fe["scopes"]; len(got) != 1 || got[0] != "out of range" {
		t.Errorf("scopes %q", got)
	}
	if len(general) != 1 || general[0] != "weird: odd" {
		t.Errorf("general %q", general)
	}
	if _, _, ok := validationErrors(storage.ErrConflict, clientFields, nil); ok {
		t.Error("a conflict taken for a validation error")
	}
	for in, want := range map[string]int{"a[2]": 2, "a": -1, "a[x]": -1, "a[": -1} {
		if _, got := splitField(in); got != want {
			t.Errorf("splitField(%q) = %d", in, got)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "/admin/",
		"/admin/keys":                "/admin/keys",
		"/admin/audit?type=x":        "/admin/audit?type=x",
		"//evil.example/admin/":      "/admin/",
		"https://evil.example/":      "/admin/",
		"/admin\\@evil":              "/admin/",
		"/admin/login":               "/admin/",
		"/admin/logout":              "/admin/",
		"/account":                   "/admin/",
		"/admin/\r\nSet-Cookie: x=":  "/admin/",
		"/admin/../account":          "/admin/",
		"/admin/./keys":              "/admin/",
		"/admin//keys":               "/admin/",
		"/admin/keys#x":              "/admin/",
		"/admin/users/view?id=a%2Fb": "/admin/users/view?id=a%2Fb",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCursor(t *testing.T) {
	e := storage.AuditEvent{ID: 42, Time: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)}
	tm, id, ok := parseCursor(cursorOf(e))
	if !ok || id != 42 || !tm.Equal(e.Time) {
		t.Errorf("round trip: %v %d %v", tm, id, ok)
	}
	for _, bad := range []string{"", "1", "x.1", "1.x", "1.0", "1.-3"} {
		if _, _, ok := parseCursor(bad); ok {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}
