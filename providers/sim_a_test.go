package providers

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// simsA are the simulators of group A's providers, each written from the
// provider's own documentation (cited on each spec), not from the
// catalog's facts.
var simsA = map[string]simSpec{
	// https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps:
	// an OAuth App's token answer has no refresh token, so there is no
	// refresh to simulate: answer is nil. Its documented errors
	// (troubleshooting-oauth-app-access-token-request-errors) are all
	// about the code exchange.
	"github": {
		auth: "post",
	},

	// https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens:
	// client_id and client_secret are parameters; the default answer is
	// form-encoded (authorizing-oauth-apps); each refresh returns a new
	// refresh token and ends the old one. The dead answer is not
	// documented: https://github.com/interlink-hq/interLink/pull/262 logs
	// it, HTTP 200 with bad_refresh_token.
	"github-app": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return formA(url.Values{
				"access_token":             {access},
				"expires_in":               {"28800"},
				"refresh_token":            {refresh},
				"refresh_token_expires_in": {"15811200"},
				"scope":                    {""},
				"token_type":               {"bearer"},
			})
		},
		rotates: true,
		dead:    deadA(200, "application/json", `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}`),
	},

	// https://docs.gitlab.com/api/oauth2/: the secret goes in the form;
	// the refresh answer is the documented example; a refresh invalidates
	// the old refresh token; GitLab revokes at /oauth/revoke. Errors are
	// Doorkeeper's RFC 6749 ones; the dead answer carries Doorkeeper's
	// standard invalid_grant description.
	"gitlab": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"access_token":  access,
				"token_type":    "bearer",
				"expires_in":    7200,
				"refresh_token": refresh,
				"created_at":    1628711391,
			})
		},
		rotates:    true,
		dead:       deadA(400, "application/json", `{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}`),
		revocation: true,
	},

	// https://developer.atlassian.com/cloud/bitbucket/oauth-2/: the client
	// authenticates with HTTP Basic (curl -u). The answer's shape is
	// from a Bitbucket engineer's thread
	// (https://community.developer.atlassian.com/t/oauth2-token-lifetime-expiration-clarification/22136);
	// whether the refresh token rotates is not documented, so the
	// simulator keeps it. The dead answer is the one quoted in
	// https://bitbucket.org/site/master/issues/16249, for a refresh token
	// Bitbucket did not know.
	"bitbucket": {
		auth: "basic",
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"access_token":  access,
				"scopes":        "repository account",
				"expires_in":    7200,
				"refresh_token": refresh,
				"token_type":    "bearer",
			})
		},
		dead: deadA(400, "application/json", `{"error_description": "Unsupported grant type: None", "error": "invalid_grant"}`),
	},

	// https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/:
	// client_id and client_secret in the body; refresh tokens rotate
	// (with a 10-minute reuse interval, announced at
	// https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172);
	// a dead refresh token is answered 403 invalid_grant.
	"atlassian": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"access_token":  access,
				"refresh_token": refresh,
				"expires_in":    3600,
				"scope":         "read:jira-work offline_access",
				"token_type":    "Bearer",
			})
		},
		rotates: true,
		dead:    deadA(403, "application/json", `{"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}`),
	},

	// https://learn.microsoft.com/azure/devops/integrate/get-started/authentication/azure-devops-oauth:
	// the client secret travels as a client_assertion and the refresh
	// token as an assertion (the harness reads that form for this
	// provider); the answer is JSON with access_token, token_type,
	// expires_in and refresh_token, and each refresh gives a new refresh
	// token to use next time. No dead answer is documented there: the
	// simulator serves the PascalCase error shape the vsts package reads
	// (standard OAuth code; the provider documents none).
	"azuredevops": {
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"access_token":  access,
				"token_type":    "jwt-bearer",
				"expires_in":    "3599",
				"refresh_token": refresh,
			})
		},
		rotates: true,
		dead:    deadA(400, "application/json", `{"Error":"invalid_grant","ErrorDescription":"Invalid refresh token"}`),
	},

	// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow:
	// the secret is a form parameter; each answer carries a new refresh
	// token, but the old one stays valid
	// (https://learn.microsoft.com/entra/identity-platform/refresh-tokens),
	// so the simulator does not refuse it. An expired refresh token is
	// invalid_grant with an AADSTS code. Package entra has its own
	// simulator; the harness does not serve this one.
	"entra": {
		vars: map[string]string{"tenant": "contoso.onmicrosoft.com"},
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"access_token":  access,
				"token_type":    "Bearer",
				"expires_in":    3599,
				"scope":         "https://graph.microsoft.com/User.Read offline_access",
				"refresh_token": refresh,
			})
		},
		dead: deadA(400, "application/json", `{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.","error_codes":[700082]}`),
	},

	// https://developers.google.com/identity/protocols/oauth2/web-server:
	// client_id and client_secret in the form; the refresh answer has no
	// refresh_token (the one held serves again); revocation at
	// https://oauth2.googleapis.com/revoke. The dead answer is quoted in
	// https://github.com/dolfim/django-gmailapi-backend/issues/9.
	"google": {
		auth: "post",
		answer: func(access, _ string) (string, string) {
			return jsonA(map[string]any{
				"access_token": access,
				"expires_in":   3920,
				"scope":        "https://www.googleapis.com/auth/drive.metadata.readonly",
				"token_type":   "Bearer",
			})
		},
		dead:       deadA(400, "application/json", "{\n  \"error\": \"invalid_grant\",\n  \"error_description\": \"Token has been expired or revoked.\"\n}"),
		revocation: true,
	},

	// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_understanding_refresh_token_oauth.htm:
	// client_id and client_secret in the form; the answer has
	// instance_url but no expires_in and, with rotation off (the
	// default, help.salesforce.com remoteaccess_oauth_refresh_token_flow),
	// no refresh_token; an expired refresh token is invalid_grant.
	// Revocation at /services/oauth2/revoke
	// (https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-revoking-tokens.html).
	"salesforce": {
		vars: map[string]string{"domain": "login.salesforce.com"},
		auth: "post",
		answer: func(access, _ string) (string, string) {
			return jsonA(map[string]any{
				"access_token": access,
				"signature":    "SSSbLO/gBhmmyNUvN18ODBDFYHzakxOMgqYtu+hDPsc=",
				"scope":        "refresh_token full",
				"instance_url": "https://yourInstance.salesforce.com",
				"id":           "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
				"token_type":   "Bearer",
				"issued_at":    "1278448384422",
			})
		},
		dead:       deadA(400, "application/json", `{"error":"invalid_grant","error_description":"expired access/refresh token"}`),
		revocation: true,
	},

	// https://docs.slack.dev/authentication/using-token-rotation and
	// https://docs.slack.dev/reference/methods/oauth.v2.access: Slack
	// prefers HTTP Basic and takes form parameters too; each refresh
	// revokes the refresh token used; errors come with HTTP 200 and
	// ok false. The answer's token_type is "bot" for a bot token, as
	// documented.
	"slack": {
		auth: "either",
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"ok":                    true,
				"app_id":                "A0KRD7HC3",
				"scope":                 "commands,incoming-webhook",
				"token_type":            "bot",
				"access_token":          access,
				"bot_user_id":           "U0KRQLJ9H",
				"refresh_token":         refresh,
				"expires_in":            43200,
				"team":                  map[string]any{"name": "Slack Softball Team", "id": "T9TK3CUKW"},
				"enterprise":            nil,
				"is_enterprise_install": false,
			})
		},
		rotates: true,
		dead:    deadA(200, "application/json", `{"ok":false,"error":"invalid_refresh_token"}`),
	},

	// https://developer.okta.com/docs/guides/refresh-tokens/main/: the
	// default custom authorization server; how the client authenticates
	// is the app's setting, so either is taken; rotation is per app, and
	// the simulator follows a web app's persistent refresh token, whose
	// answer repeats it. An expired refresh token is 400 invalid_grant
	// (https://support.okta.com/help/s/article/refresh-token-expiration-behavior).
	"okta": {
		vars: map[string]string{"domain": "example.okta.com"},
		auth: "either",
		answer: func(access, refresh string) (string, string) {
			return jsonA(map[string]any{
				"token_type":    "Bearer",
				"expires_in":    3600,
				"access_token":  access,
				"scope":         "offline_access openid",
				"refresh_token": refresh,
			})
		},
		dead:       deadA(400, "application/json", `{"error":"invalid_grant","error_description":"The refresh token is invalid or expired."}`),
		revocation: true,
	},
}

// jsonA returns a JSON answer holding m.
func jsonA(m map[string]any) (contentType, body string) {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return "application/json", string(b)
}

// formA returns a form-encoded answer holding v.
func formA(v url.Values) (contentType, body string) {
	return "application/x-www-form-urlencoded", v.Encode()
}

// deadA returns a simSpec's dead answer.
func deadA(status int, contentType, body string) (d struct {
	status      int
	contentType string
	body        string
}) {
	d.status, d.contentType, d.body = status, contentType, body
	return d
}

// TestGroupA checks the bookkeeping of group A: every provider has a
// simulator spec, and every fact either has its source (an address and
// the day it was read) or says what was looked at.
func TestGroupA(t *testing.T) {
	ids := map[string]bool{}
	for _, p := range groupA {
		t.Run(p.ID, func(t *testing.T) {
			if ids[p.ID] {
				t.Fatalf("ID %q appears twice", p.ID)
			}
			ids[p.ID] = true
			if _, ok := simsA[p.ID]; !ok {
				t.Errorf("no simsA entry")
			}
			if p.Name == "" || p.Docs == "" || p.AuthURL == "" || p.TokenURL == "" {
				t.Errorf("Name, Docs, AuthURL and TokenURL must all be set")
			}
			v := reflect.ValueOf(p).Elem()
			for i := range v.NumField() {
				f := v.Field(i)
				name := v.Type().Field(i).Name
				if !strings.HasPrefix(f.Type().Name(), "Fact[") {
					continue
				}
				known := f.FieldByName("Known").Bool()
				src := f.FieldByName("Source").Interface().(Source)
				note := f.FieldByName("Note").String()
				switch {
				case known && (!strings.HasPrefix(src.URL, "https://") || src.Read == ""):
					t.Errorf("%s is known without a source: %+v", name, src)
				case !known && note == "":
					t.Errorf("%s is unknown without a note of what was looked at", name)
				case !known && !f.FieldByName("Value").IsZero():
					t.Errorf("%s is unknown but has a value", name)
				}
			}
		})
	}
	for id := range simsA {
		if !ids[id] {
			t.Errorf("simsA has %q, which groupA lacks", id)
		}
	}
}
