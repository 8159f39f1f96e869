package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runEnv runs the command with an explicit environment and no data directory flags.
func runEnv(t *testing.T, environ []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmdEnv(&out, &errOut, environ)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestParseAdminURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8081":                "http://127.0.0.1:8081",
		"http://127.0.0.1:8081/":               "http://127.0.0.1:8081",
		"http://127.9.9.9:8081":                "http://127.9.9.9:8081",
		"http://[::1]:8081":                    "http://[::1]:8081",
		"http://localhost:8081":                "http://localhost:8081",
		"HTTP://LOCALHOST:8081":                "http://LOCALHOST:8081",
		" http://127.0.0.1:8081 ":              "http://127.0.0.1:8081",
		"https://admin.example.com":            "https://admin.example.com",
		"https://admin.example.com/gatehouse/": "https://admin.example.com/gatehouse",
		"https://10.0.0.5:8443":                "https://10.0.0.5:8443",
	} {
		u, err := parseAdminURL(in)
		if err != nil || u.String() != want {
			t.Errorf("parseAdminURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for in, want := range map[string]string{
		"http://admin.example.com":           "clear text",
		"http://10.0.0.5:8081":               "clear text",
		"http://0.0.0.0:8081":                "clear text",
		"http://[::]:8081":                   "clear text",
		"http://localhost.example.com:8081":  "clear text",
		"http://127.0.0.1.nip.io:8081":       "clear text",
		"http://2130706433:8081":             "clear text", // 127.0.0.1 as a number is not an IP literal
		"http://0x7f000001:8081":             "clear text",
		"ftp://127.0.0.1":                    "http",
		"127.0.0.1:8081":                     "URL",
		"localhost:8081":                     "http",
		"http://":                            "no host",
		"http://:8081":                       "no host",
		"https://user:pw@admin.example.com":  "credentials",
		"https://admin.example.com/?token=x": "query",
		"https://admin.example.com/#x":       "query or fragment",
		"":                                   "http",
	} {
		if _, err := parseAdminURL(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseAdminURL(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	// A refusal never repeats the password of a URL.
	if _, err := parseAdminURL("http://user:hunter2@admin.example.com/?x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v", err)
	}
}

func TestRemoteSettings(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("  ghm_fromfile \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), maxTokenFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	const url = "http://127.0.0.1:1"

	// settings runs remoteSettings on the "clients list" command with these arguments.
	settings := func(environ []string, args ...string) (*remote, string, error) {
		var out, errOut bytes.Buffer
		c := &cli{stdout: &out, stderr: &errOut, environ: environ}
		cmd, _, err := c.rootCmd().Find([]string{"clients", "list"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(args); err != nil {
			return nil, "", err
		}
		r, err := c.remoteSettings(cmd)
		return r, errOut.String(), err
	}

	for _, tt := range []struct {
		name     string
		environ  []string
		args     []string
		local    bool
		token    string
		warnings string
	}{
		{name: "nothing set: the database", local: true},
		{name: "a token in the environment alone is ignored", environ: []string{envAdminToken + "=x"}, local: true},
		{name: "url flag and token file", args: []string{"--admin-url", url, "--admin-token-file", tokenFile}, token: "ghm_fromfile"},
		{name: "url and token file from the environment", environ: []string{envAdminURL + "=" + url, envAdminTokenFile + "=" + tokenFile},
			token: "ghm_fromfile"},
		{name: "token from the environment", environ: []string{envAdminURL + "=" + url, envAdminToken + "=ghm_env"}, token: "ghm_env"},
		{name: "the file flag wins over the environment", environ: []string{envAdminURL + "=" + url, envAdminToken + "=ghm_env"},
			args: []string{"--admin-token-file", tokenFile}, token: "ghm_fromfile"},
		{name: "the token flag, with a warning", args: []string{"--admin-url", url, "--admin-token", "ghm_flag"}, token: "ghm_flag",
			warnings: "prefer --admin-token-file"},
	} {
		r, warnings, err := settings(tt.environ, tt.args...)
		switch {
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.local != (r == nil):
			t.Errorf("%s: remote = %+v", tt.name, r)
		case r != nil && (r.token != tt.token || r.url.String() != url):
			t.Errorf("%s: remote = %+v", tt.name, r)
		case !strings.Contains(warnings, tt.warnings) || tt.warnings == "" && warnings != "":
			t.Errorf("%s: warnings %q", tt.name, warnings)
		}
	}

	for _, tt := range []struct {
		name    string
		environ []string
		args    []string
		want    string
	}{
		{name: "no token", args: []string{"--admin-url", url}, want: "needs a token"},
		{name: "both token flags", args: []string{"--admin-url", url, "--admin-token", "x", "--admin-token-file", tokenFile},
			want: "mutually exclusive"},
		{name: "a token flag without a URL", args: []string{"--admin-token", "x"}, want: "--admin-token needs --admin-url"},
		{name: "a token file flag without a URL", args: []string{"--admin-token-file", tokenFile}, want: "needs --admin-url"},
		{name: "a missing token file", args: []string{"--admin-url", url, "--admin-token-file", filepath.Join(dir, "nope")},
			want: "no such file"},
		{name: "an empty token file", args: []string{"--admin-url", url, "--admin-token-file", empty}, want: "empty"},
		{name: "a huge token file", args: []string{"--admin-url", url, "--admin-token-file", big}, want: "too long"},
		{name: "a token with a space", args: []string{"--admin-url", url, "--admin-token", "a b"}, want: "space"},
		{name: "a token with a control character", environ: []string{envAdminURL + "=" + url, envAdminToken + "=a\x01b"}, want: "printable"},
		{name: "clear text to another host", args: []string{"--admin-url", "http://admin.example.com", "--admin-token", "x"},
			want: "--admin-url: refusing to send the admin token in clear text"},
		{name: "clear text from the environment", environ: []string{envAdminURL + "=http://192.168.1.2:8081", envAdminToken + "=x"},
			want: envAdminURL + ": refusing"},
		{name: "a database with a URL", args: []string{"--admin-url", url, "--admin-token", "x", "--database", "x.db"},
			want: "--database does not apply to the admin API"},
		{name: "a data directory with a URL", environ: []string{envAdminURL + "=" + url}, args: []string{"--data-dir", dir},
			want: "--data-dir does not apply to the admin API (" + envAdminURL + " is set)"},
		{name: "a configuration file with a URL", args: []string{"--admin-url", url, "--config", "x.yaml"}, want: "--config does not apply"},
	} {
		if _, _, err := settings(tt.environ, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestRemoteFlagsElsewhere: the admin URL does not change what other commands do, and an
// explicit --admin-url on a command of the database alone is refused rather than ignored.
func TestRemoteFlagsElsewhere(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "test.db")
	environ := []string{envAdminURL + "=https://admin.example.com", envAdminToken + "=secret-token-value", envAdminTokenFile + "="}
	// The configuration does not refuse the variables of remote mode as unknown.
	if out, errOut, err := runEnv(t, environ, "--data-dir", dir, "--database", db, "migrate"); err != nil {
		t.Fatalf("migrate with %s set: %v\n%s%s", envAdminURL, err, out, errOut)
	}
	_, _, err := runEnv(t, nil, "--data-dir", dir, "--database", db, "--admin-url", "http://127.0.0.1:1", "migrate")
	if err == nil || !strings.Contains(err.Error(), "gatehouse migrate works on the database directly, not through the admin API") {
		t.Errorf("migrate --admin-url = %v", err)
	}
	// --help shows the flags, and never a token from the environment.
	out, _, err := runEnv(t, environ, "clients", "list", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--admin-url", "--admin-token-file", "--admin-token", envAdminURL, envAdminTokenFile} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-token-value") || strings.Contains(out, "admin.example.com") {
		t.Errorf("--help shows a value from the environment:\n%s", out)
	}
}

func TestTidy(t *testing.T) {
	for in, want := range map[string]string{
		`update client "x": get client: sqlstore: get client: not found`:    `update client "x": not found`,
		`get user "a: \"b\": c": sqlstore: get user by username: not found`: `get user "a: \"b\": c": not found`,
		`personal access token "id": not found`:                             `personal access token "id": not found`,
		`create scope "read": scope "read" already exists: conflict`:        `create scope "read": scope "read" already exists`,
		`delete scope "read": scope is allowed to clients a, b: conflict`:   `delete scope "read": scope is allowed to clients a, b`,
		`something else`: `something else`,
	} {
		if got := tidy(in); got != want {
			t.Errorf("tidy(%s) = %s, want %s", in, got, want)
		}
	}
}
