package server

import "testing"

func TestPageCSP(t *testing.T) {
	for _, tc := range []struct {
		targets []string
		want    string
	}{
		{nil, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
		{[]string{"https://App.example:8443/cb?x=1#f", "https://app.example:8443/other"},
			"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' https://app.example:8443"},
		{[]string{"com.example.app:/oauth2/cb"}, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' com.example.app:"},
		{[]string{"http://[::1]:51000/cb"}, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' http:"},
		// Nothing that could end the directive or add one gets in.
		{[]string{"https://a.example;script-src *", "https://a.example%3Bx/", "ht tp://x", "", "/relative"},
			"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
	} {
		if got := pageCSP(tc.targets...); got != tc.want {
			t.Errorf("pageCSP(%q)\n got %s\nwant %s", tc.targets, got, tc.want)
		}
	}
}
