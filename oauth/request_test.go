package oauth

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestParseTokenRequest(t *testing.T) {
	tests := []struct {
		name   string
		form   string
		auth   string
		code   string // expected error code, "" for success
		client ClientCredentials
	}{
		{name: "basic", form: "grant_type=client_credentials", auth: basic("app", "s3cret"),
			client: ClientCredentials{ID: "app", Secret: "s3cret", Method: AuthMethodBasic}},
		{name: "basic form-urlencoded credentials", form: "grant_type=client_credentials", auth: basic("a:b c", "p%ss:+"),
			client: ClientCredentials{ID: "a:b c", Secret: "p%ss:+", Method: AuthMethodBasic}},
		{name: "basic lower-case scheme", form: "grant_type=client_credentials", auth: strings.Replace(basic("app", "x"), "Basic", "basic", 1),
			client: ClientCredentials{ID: "app", Secret: "x", Method: AuthMethodBasic}},
		{name: "post", form: "grant_type=client_credentials&client_id=app&client_secret=s",
			client: ClientCredentials{ID: "app", Secret: "s", Method: AuthMethodPost}},
		{name: "public", form: "grant_type=authorization_code&client_id=app&code=x",
			client: ClientCredentials{ID: "app", Method: AuthMethodNone}},
		{name: "basic with matching client_id", form: "grant_type=client_credentials&client_id=app", auth: basic("app", "s"),
			client: ClientCredentials{ID: "app", Secret: "s", Method: AuthMethodBasic}},
		{name: "missing grant", form: "client_id=app&client_secret=s", code: CodeInvalidRequest},
		{name: "no client", form: "grant_type=client_credentials", code: CodeInvalidClient},
		{name: "two methods", form: "grant_type=client_credentials&client_secret=s", auth: basic("app", "s"), code: CodeInvalidRequest},
		{name: "client_id mismatch", form: "grant_type=client_credentials&client_id=other", auth: basic("app", "s"), code: CodeInvalidRequest},
		{name: "repeated grant_type", form: "grant_type=client_credentials&grant_type=password&client_id=a&client_secret=b", code: CodeInvalidRequest},
		{name: "repeated scope", form: "grant_type=client_credentials&client_id=a&client_secret=b&scope=x&scope=y", code: CodeInvalidRequest},
		{name: "bearer scheme", form: "grant_type=client_credentials", auth: "Bearer abc", code: CodeInvalidClient},
		{name: "bad base64", form: "grant_type=client_credentials", auth: "Basic !!!", code: CodeInvalidClient},
		{name: "no colon", form: "grant_type=client_credentials", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("app")), code: CodeInvalidClient},
		{name: "bad escape", form: "grant_type=client_credentials", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("a%zz:b")), code: CodeInvalidClient},
		{name: "oversize value", form: "grant_type=client_credentials&client_id=a&client_secret=" + strings.Repeat("x", maxParamLen+1), code: CodeInvalidRequest},
		{name: "long client id", form: "grant_type=client_credentials&client_secret=a&client_id=" + strings.Repeat("x", maxClientIDLen+1), code: CodeInvalidClient},
		{name: "invalid scope char", form: "grant_type=client_credentials&client_id=a&client_secret=b&scope=a%22b", code: CodeInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseTokenRequest(form, tt.auth)
			if tt.code != "" {
				var oe *Error
				if !errors.As(err, &oe) || oe.Code != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Client != tt.client {
				t.Errorf("client = %+v, want %+v", req.Client, tt.client)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	got, err := ParseScope("  a b  a c:d ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a,b,c:d" {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"a\\b", "é", "a\tb", "x\"y"} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) accepted", bad)
		}
	}
}

func TestParseTokenHandleRequest(t *testing.T) {
	form, _ := url.ParseQuery("token=abc&token_type_hint=access_token")
	req, err := ParseTokenHandleRequest(form, basic("rs", "pw"))
	if err != nil || req.Token != "abc" || req.TokenTypeHint != "access_token" || req.Client.ID != "rs" {
		t.Fatalf("req=%+v err=%v", req, err)
	}
	form, _ = url.ParseQuery("token_type_hint=access_token")
	if _, err := ParseTokenHandleRequest(form, basic("rs", "pw")); err == nil {
		t.Fatal("missing token accepted")
	}
	form, _ = url.ParseQuery("token=a&token=b")
	if _, err := ParseTokenHandleRequest(form, basic("rs", "pw")); err == nil {
		t.Fatal("repeated token accepted")
	}
}

// FuzzParseTokenRequest checks that the parser never panics and that every failure is an
// *Error with a code and a 4xx status.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=a+b", basic("app", "secret"))
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b", "")
	f.Add("grant_type=refresh_token&refresh_token=x&client_id=a", "")
	f.Add("grant_type=x&grant_type=y", "Basic Og==")
	f.Add("%zz=1", "Basic")
	f.Fuzz(func(t *testing.T, body, auth string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, err := ParseTokenRequest(form, auth)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || oe.Code == "" || oe.Status < 400 || oe.Status > 499 {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		if req.GrantType == "" || req.Client.ID == "" || req.Client.Method == "" {
			t.Fatalf("accepted incomplete request %+v", req)
		}
	})
}
