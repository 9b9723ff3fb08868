package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestShow(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			fc := seedFleet(t, b)
			sec := fc.secrets
			tok, err := openedWith(t, b, fc.ring.aead).Load(context.Background(), "g/degraded")
			if err != nil {
				t.Fatal(err)
			}

			out := sec.mustRun(t, fc.env, "show", "g/degraded")
			for _, want := range []string{
				"degraded (3 failures)",
				"access token   " + accessPrint(tok) + " (fingerprint)",
				"refresh token  " + refreshPrint(tok) + " (fingerprint)",
				"expires in     3600s",
				"extra fields   id_token, scope",
				"sealed         yes, with key key-a",
				"next attempt",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("show g/degraded does not say %q:\n%s", want, out)
				}
			}
			if accessPrint(tok) == refreshPrint(tok) || len(accessPrint(tok)) != 12 {
				t.Fatalf("fingerprints %q and %q: want two of 12 hex digits", accessPrint(tok), refreshPrint(tok))
			}

			var got showJSON
			raw := sec.mustRun(t, fc.env, "show", "g/leased", "--json", "--provider", "atlassian")
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("show --json does not parse: %v\n%s", err, raw)
			}
			leased, err := openedWith(t, b, fc.ring.aead).Load(context.Background(), "g/leased")
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != "g/leased" || got.Health != "healthy" || got.TokenType != "Bearer" ||
				got.AccessTokenFP != accessPrint(leased) || got.RefreshTokenFP != refreshPrint(leased) || !got.HasRefreshToken ||
				got.ExpiresIn != 3600 || !slices.Equal(got.ExtraFields, []string{"id_token", "scope"}) ||
				got.Lease.Holder == "" || got.Lease.Until == "" || !got.Sealed || got.KeyID != "key-a" ||
				got.Expires == "" || got.Refreshed == "" || got.IdleLifetime == nil {
				t.Errorf("show g/leased --json: %+v", got)
			}
			for _, k := range []string{`"access_token":`, `"refresh_token":`, `"id_token":`} {
				if strings.Contains(raw, k) {
					t.Errorf("show --json has a member %s:\n%s", k, raw)
				}
			}

			for _, c := range []struct{ key, msg string }{
				{"g/nope", `no token under key "g/nope"`},
				{"g/damaged", "(damaged)"},
				{"g/wrongkey", "(wrong key)"},
				{"g/", `no token under key "g/"`},
			} {
				r := sec.run(t, fc.env, "show", c.key)
				if r.code != exitFailed || !strings.HasPrefix(r.stderr, "oauthrt: ") || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
					t.Errorf("show %s: exit %d, stdout %q, stderr %q; want exit 1 and a message with %q", c.key, r.code, r.stdout, r.stderr, c.msg)
				}
			}
			if r := sec.run(t, withStore(b), "show", "g/healthy"); r.code != exitFailed || !strings.Contains(r.stderr, "(no key)") {
				t.Errorf("show without a keyring: exit %d, stderr %q; want exit 1 and (no key)", r.code, r.stderr)
			}
		})
	}
}
