package endpoint_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// A Dialect adds dead codes, members that carry the code, and codes that
// blame the client; without one, Parse reads as RFC 6749 (and GitHub)
// says.
func TestParseDialect(t *testing.T) {
	hubspot := endpoint.Dialect{DeadCodes: []string{"BAD_REFRESH_TOKEN"}, CodeMembers: []string{"status"}}
	slack := endpoint.Dialect{DeadCodes: []string{"invalid_refresh_token"}}
	github := endpoint.Dialect{ClientCodes: []string{"incorrect_client_credentials"}}
	tests := []struct {
		name        string
		dialect     endpoint.Dialect
		status      int
		contentType string
		body        string
		code, desc  string
		dead        bool
		client      bool // ClientRejected
		token       bool // a token, not an error
	}{
		{
			name: "HubSpot's status member", dialect: hubspot, status: 400, contentType: jsonType,
			body: `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token","correlationId":"c0ffee"}`,
			code: "BAD_REFRESH_TOKEN", desc: "missing or invalid refresh token", dead: true,
		},
		{
			name: "HubSpot's code without its dialect", status: 400, contentType: jsonType,
			body: `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}`,
		},
		{
			name: "code member, other code", dialect: hubspot, status: 400, contentType: jsonType,
			body: `{"status":"BAD_CLIENT_ID","message":"no such app"}`,
			code: "BAD_CLIENT_ID", desc: "no such app",
		},
		{
			name: "code member in a 200 without a token", dialect: hubspot, status: 200, contentType: jsonType,
			body: `{"status":"BAD_REFRESH_TOKEN"}`,
			code: "BAD_REFRESH_TOKEN", dead: true,
		},
		{
			name: "code member beside a token in a 200", dialect: hubspot, status: 200, contentType: jsonType,
			body:  `{"access_token":"AT","status":"active"}`,
			token: true,
		},
		{
			name: "error wins over a code member", dialect: hubspot, status: 400, contentType: jsonType,
			body: `{"error":"invalid_request","status":"BAD_REFRESH_TOKEN","error_description":"d"}`,
			code: "invalid_request", desc: "d",
		},
		{
			name: "code member that is no string", dialect: hubspot, status: 400, contentType: jsonType,
			body: `{"status":400}`,
		},
		{
			name: "code member named like a credential", dialect: endpoint.Dialect{CodeMembers: []string{"error_code"}}, status: 400, contentType: jsonType,
			body: `{"error_code":"token_revoked"}`,
			code: "token_revoked",
		},
		{
			name: "code member in a form", dialect: hubspot, status: 400, contentType: formType,
			body: `status=BAD_REFRESH_TOKEN`,
			code: "BAD_REFRESH_TOKEN", dead: true,
		},
		{
			name: "Slack's 200 ok false", dialect: slack, status: 200, contentType: jsonType,
			body: `{"ok":false,"error":"invalid_refresh_token"}`,
			code: "invalid_refresh_token", dead: true,
		},
		{
			name: "Slack's code without its dialect", status: 200, contentType: jsonType,
			body: `{"ok":false,"error":"invalid_refresh_token"}`,
			code: "invalid_refresh_token",
		},
		{
			name: "bad_refresh_token in any dialect", dialect: hubspot, status: 200, contentType: jsonType,
			body: `{"error":"bad_refresh_token"}`,
			code: "bad_refresh_token", dead: true,
		},
		{
			name: "a client code at 401 is not dead", dialect: github, status: 401, contentType: jsonType,
			body: `{"error":"incorrect_client_credentials"}`,
			code: "incorrect_client_credentials", client: true,
		},
		{
			name: "a client code at 200", dialect: github, status: 200, contentType: jsonType,
			body: `{"error":"incorrect_client_credentials"}`,
			code: "incorrect_client_credentials", client: true,
		},
		{
			name: "the same code at 401 without the dialect", status: 401, contentType: jsonType,
			body: `{"error":"incorrect_client_credentials"}`,
			code: "incorrect_client_credentials", dead: true,
		},
		{
			name:    "a code both dead and the client's blames the client",
			dialect: endpoint.Dialect{DeadCodes: []string{"x"}, ClientCodes: []string{"x"}}, status: 400, contentType: jsonType,
			body: `{"error":"x"}`,
			code: "x", client: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.dialect.Parse(answer(tt.status, tt.contentType), []byte(tt.body), nil)
			if tt.token {
				if err != nil || tok.AccessToken != "AT" {
					t.Fatalf("Parse = %v, %v; want the token", tok, err)
				}
				return
			}
			if tt.code == "" && err == nil {
				t.Fatalf("Parse = %v, nil; want an error", tok)
			}
			checkResponseError(t, err, tt.status, tt.code, tt.dead)
			var re *oauth2.RetrieveError
			errors.As(err, &re)
			if re.ErrorDescription != tt.desc {
				t.Errorf("ErrorDescription = %q, want %q", re.ErrorDescription, tt.desc)
			}
			if tt.code != "" && !strings.Contains(err.Error(), tt.code) {
				t.Errorf("Error() = %q does not name the code %q", err, tt.code)
			}
			if got := endpoint.ClientRejected(err); got != tt.client {
				t.Errorf("ClientRejected = %v, want %v", got, tt.client)
			}
		})
	}
}

// A code member's value and the message beside it are redacted like any
// other part of the answer.
func TestParseDialectRedacts(t *testing.T) {
	const secret = "REFRESH-SECRET-77"
	d := endpoint.Dialect{CodeMembers: []string{"status"}}
	body := `{"status":"BAD ` + secret + `","message":"refresh token ` + secret + ` unknown","refresh_token":"ECHOED-RT-99"}`
	_, err := d.Parse(answer(400, jsonType), []byte(body), []string{secret})
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("Parse err = %v, want a RetrieveError", err)
	}
	for where, s := range map[string]string{
		"Error()": err.Error(), "Body": string(re.Body), "ErrorCode": re.ErrorCode, "ErrorDescription": re.ErrorDescription,
	} {
		for _, leak := range []string{secret, "ECHOED-RT-99"} {
			if strings.Contains(s, leak) {
				t.Errorf("%s holds %q: %q", where, leak, s)
			}
		}
	}
	if re.ErrorCode != "BAD [redacted]" {
		t.Errorf("ErrorCode = %q, want the code with the secret redacted", re.ErrorCode)
	}
}
