package providers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTemplateFillAndMatch(t *testing.T) {
	tmpl, err := parseTemplate("https://{domain}/oauth2/{server}/v1/token?x={domain}")
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.String(); got != "https://{domain}/oauth2/{server}/v1/token?x={domain}" {
		t.Errorf("String = %q", got)
	}
	if diff := cmp.Diff([]string{"domain", "server"}, tmpl.names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}

	part, err := tmpl.fill(map[string]string{"server": "default", "unused": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := part.String(); got != "https://{domain}/oauth2/default/v1/token?x={domain}" {
		t.Errorf("partly filled = %q", got)
	}
	if _, err := part.url(); err == nil {
		t.Error("url() of a template with placeholders left succeeded")
	}
	full, err := part.fill(map[string]string{"domain": "acme.okta.com"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := full.url(); err != nil || u != "https://acme.okta.com/oauth2/default/v1/token?x=acme.okta.com" {
		t.Errorf("url() = %q, %v", u, err)
	}

	for _, tt := range []struct {
		url  string
		want map[string]string // nil: no match
	}{
		{"https://acme.okta.com/oauth2/default/v1/token?x=acme.okta.com", map[string]string{"domain": "acme.okta.com"}},
		{"https://a-b.example/oauth2/default/v1/token?x=a-b.example", map[string]string{"domain": "a-b.example"}},
		{"https://acme.okta.com/oauth2/default/v1/token?x=other.okta.com", nil}, // a name with two values
		{"https://evil.example:8443/oauth2/default/v1/token?x=evil.example:8443", nil},
		{"https://user@evil.example/oauth2/default/v1/token?x=user@evil.example", nil},
		{"https://evil.example/x/oauth2/default/v1/token?x=evil.example/x", nil},
		{"https://evil.example%2f/oauth2/default/v1/token?x=evil.example%2f", nil},
		{"https://../oauth2/default/v1/token?x=..", nil},
		{"https://.evil/oauth2/default/v1/token?x=.evil", nil},
		{"https:///oauth2/default/v1/token?x=", nil},
		{"http://acme.okta.com/oauth2/default/v1/token?x=acme.okta.com", nil}, // the scheme is literal
		{"https://acme.okta.com/oauth2/other/v1/token?x=acme.okta.com", nil},  // so is what Vars filled
		{"https://acme.okta.com/oauth2/default/v1/token?x=acme.okta.com#", nil},
	} {
		got, ok := part.match(tt.url)
		if ok != (tt.want != nil) {
			t.Errorf("match(%q) = %v, want %v", tt.url, ok, tt.want != nil)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("match(%q) (-want +got):\n%s", tt.url, diff)
		}
	}

	for _, bad := range []string{"evil.example/x", "a:1", "u@h", "..", ".x", "a..b", "", "a%2f", "a?b", "a#b", "ü.example"} {
		if _, err := tmpl.fill(map[string]string{"domain": bad}); err == nil {
			t.Errorf("fill with %q succeeded", bad)
		}
	}
	for _, bad := range []string{"https://{}/token", "https://{a/token", "https://a}/token", "https://{a{b}}/token"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q) succeeded", bad)
		}
	}
}
