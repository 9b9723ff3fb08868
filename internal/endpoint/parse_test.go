package endpoint_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// answer builds a response as net/http hands it over.
func answer(status int, contentType string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{
		Status:     strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode: status,
		Header:     h,
		Body:       http.NoBody,
		Request:    &http.Request{Method: http.MethodPost},
	}
}

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)

func TestParseToken(t *testing.T) {
	const hundredYears = 100 * 365 * 24 * time.Hour
	tests := []struct {
		name        string
		contentType string
		body        string
		want        oauth2.Token // AccessToken, TokenType, RefreshToken, ExpiresIn
		lifetime    time.Duration
		extra       map[string]any
	}{
		{
			name:        "json",
			contentType: jsonType,
			body:        `{"access_token":"AT","token_type":"Bearer","refresh_token":"RT","expires_in":3600,"scope":"read write","id_token":"IDT"}`,
			want:        oauth2.Token{AccessToken: "AT", TokenType: "Bearer", RefreshToken: "RT", ExpiresIn: 3600},
			lifetime:    time.Hour,
			extra:       map[string]any{"id_token": "IDT", "scope": "read write"},
		},
		{
			name:        "form",
			contentType: formType,
			body:        "access_token=AT&token_type=bearer&refresh_token=RT&expires_in=3600&scope=read+write&id_token=IDT",
			want:        oauth2.Token{AccessToken: "AT", TokenType: "bearer", RefreshToken: "RT", ExpiresIn: 3600},
			lifetime:    time.Hour,
			extra:       map[string]any{"id_token": "IDT", "scope": "read write"},
		},
		{
			name:        "text/plain form, GitHub without Accept",
			contentType: "text/plain; charset=utf-8",
			body:        "access_token=AT&scope=repo&token_type=bearer\n",
			want:        oauth2.Token{AccessToken: "AT", TokenType: "bearer"},
			extra:       map[string]any{"scope": "repo"},
		},
		{
			name: "form without a content type",
			body: "access_token=AT&refresh_token=RT",
			want: oauth2.Token{AccessToken: "AT", RefreshToken: "RT"},
		},
		{
			name:        "json behind a BOM and blanks, with charset",
			contentType: "application/json; charset=utf-8",
			body:        "\xef\xbb\xbf \n {\"access_token\":\"AT\",\"refresh_token\":\"RT\"}\n",
			want:        oauth2.Token{AccessToken: "AT", RefreshToken: "RT"},
		},
		{
			name:        "json mislabelled as html",
			contentType: "text/html",
			body:        `{"access_token":"AT"}`,
			want:        oauth2.Token{AccessToken: "AT"},
		},
		{
			name:        "no refresh_token",
			contentType: jsonType,
			body:        `{"access_token":"AT","token_type":"bearer","expires_in":60}`,
			want:        oauth2.Token{AccessToken: "AT", TokenType: "bearer", ExpiresIn: 60},
			lifetime:    time.Minute,
		},
		{
			name:        "expires_in string, as Azure DevOps and PayPal send it",
			contentType: jsonType,
			body:        `{"access_token":"AT","token_type":"jwt-bearer","expires_in":"3599","refresh_token":"RT"}`,
			want:        oauth2.Token{AccessToken: "AT", TokenType: "jwt-bearer", RefreshToken: "RT", ExpiresIn: 3599},
			lifetime:    3599 * time.Second,
		},
		{
			name:        "expires_in decimal string",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":"3599.0"}`,
			want:        oauth2.Token{AccessToken: "AT", ExpiresIn: 3599},
			lifetime:    3599 * time.Second,
		},
		{
			name:        "expires_in decimal number",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":90.5}`,
			want:        oauth2.Token{AccessToken: "AT", ExpiresIn: 90},
			lifetime:    90500 * time.Millisecond,
		},
		{
			name:        "expires_in negative",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":-5}`,
			want:        oauth2.Token{AccessToken: "AT"},
		},
		{
			name:        "expires_in zero",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":0}`,
			want:        oauth2.Token{AccessToken: "AT"},
		},
		{
			name:        "expires_in null",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":null}`,
			want:        oauth2.Token{AccessToken: "AT"},
		},
		{
			name:        "expires_in huge number",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":1e300}`,
			want:        oauth2.Token{AccessToken: "AT", ExpiresIn: int64(hundredYears / time.Second)},
			lifetime:    hundredYears,
		},
		{
			name:        "expires_in beyond float64",
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":"1e999"}`,
			want:        oauth2.Token{AccessToken: "AT", ExpiresIn: int64(hundredYears / time.Second)},
			lifetime:    hundredYears,
		},
		{
			name:        "expires_in huge in a form",
			contentType: formType,
			body:        "access_token=AT&expires_in=99999999999999999999999",
			want:        oauth2.Token{AccessToken: "AT", ExpiresIn: int64(hundredYears / time.Second)},
			lifetime:    hundredYears,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			tok, err := endpoint.Parse(answer(http.StatusOK, tt.contentType), []byte(tt.body), nil)
			after := time.Now()
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := oauth2.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken, ExpiresIn: tok.ExpiresIn}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(oauth2.Token{})); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
			switch {
			case tt.lifetime == 0 && !tok.Expiry.IsZero():
				t.Errorf("Expiry = %v, want zero", tok.Expiry)
			case tt.lifetime != 0 && (tok.Expiry.Before(before.Add(tt.lifetime)) || tok.Expiry.After(after.Add(tt.lifetime))):
				t.Errorf("Expiry = %v, want within [%v, %v]", tok.Expiry, before.Add(tt.lifetime), after.Add(tt.lifetime))
			}
			for k, want := range tt.extra {
				if got := tok.Extra(k); got != want {
					t.Errorf("Extra(%q) = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		code        string // want Retrieve.ErrorCode
		desc        string // want Retrieve.ErrorDescription
		dead        bool
		msg         string // want in Error(), beside the status
	}{
		{
			name:        "GitHub 200 with bad_refresh_token",
			status:      200,
			contentType: jsonType,
			body:        `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com/"}`,
			code:        "bad_refresh_token",
			desc:        "The refresh token passed is incorrect or expired.",
			dead:        true,
			msg:         "bad_refresh_token: The refresh token passed is incorrect or expired.",
		},
		{
			name:        "GitHub 200 form error",
			status:      200,
			contentType: formType,
			body:        "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
			code:        "bad_verification_code",
			desc:        "The code passed is incorrect or expired.",
			msg:         "bad_verification_code: The code passed is incorrect or expired.",
		},
		{
			name:        "200 error beside a token",
			status:      200,
			contentType: jsonType,
			body:        `{"access_token":"AT","error":"server_error"}`,
			code:        "server_error",
			msg:         "server_error",
		},
		{
			name:        "invalid_grant",
			status:      400,
			contentType: jsonType,
			body:        `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`,
			code:        "invalid_grant",
			desc:        "Token has been expired or revoked.",
			dead:        true,
			msg:         "invalid_grant: Token has been expired or revoked.",
		},
		{
			name:        "Azure DevOps PascalCase",
			status:      400,
			contentType: jsonType,
			body:        `{"Error":"invalid_grant","ErrorDescription":"Refresh token is expired"}`,
			code:        "invalid_grant",
			desc:        "Refresh token is expired",
			dead:        true,
			msg:         "invalid_grant: Refresh token is expired",
		},
		{
			name:        "snake_case wins over PascalCase",
			status:      400,
			contentType: jsonType,
			body:        `{"Error":"invalid_grant","error":"invalid_request","ErrorDescription":"pascal","error_description":"snake"}`,
			code:        "invalid_request",
			desc:        "snake",
			msg:         "invalid_request: snake",
		},
		{
			name:        "invalid_client 400",
			status:      400,
			contentType: jsonType,
			body:        `{"error":"invalid_client"}`,
			code:        "invalid_client",
			msg:         "invalid_client",
		},
		{
			// The client's credential is wrong: the application's to fix,
			// not the user's; the grant lives on.
			name:        "invalid_client 401",
			status:      401,
			contentType: jsonType,
			body:        `{"error":"invalid_client"}`,
			code:        "invalid_client",
			msg:         "invalid_client",
		},
		{
			name:        "unauthorized_client 401",
			status:      401,
			contentType: jsonType,
			body:        `{"error":"unauthorized_client"}`,
			code:        "unauthorized_client",
			msg:         "unauthorized_client",
		},
		{
			name:        "401 with another code",
			status:      401,
			contentType: jsonType,
			body:        `{"error":"invalid_token"}`,
			code:        "invalid_token",
			dead:        true,
			msg:         "invalid_token",
		},
		{
			name:   "401 empty",
			status: 401,
			dead:   true,
			msg:    "empty body",
		},
		{
			name:        "temporarily_unavailable",
			status:      503,
			contentType: jsonType,
			body:        `{"error":"temporarily_unavailable"}`,
			code:        "temporarily_unavailable",
			msg:         "temporarily_unavailable",
		},
		{
			name:        "HTML 200",
			status:      200,
			contentType: "text/html; charset=utf-8",
			body:        "<!DOCTYPE html><html><body>Sign in</body></html>",
			msg:         "an HTML page, not a token",
		},
		{
			name:        "HTML 500",
			status:      500,
			contentType: "text/html",
			body:        "\n  <html><body>Oops</body></html>",
			msg:         "an HTML page, not a token",
		},
		{
			name:        "html content type, text body",
			status:      502,
			contentType: "text/html",
			body:        "Bad Gateway",
			msg:         "an HTML page, not a token",
		},
		{
			name:   "empty",
			status: 200,
			msg:    "empty body",
		},
		{
			name:        "blank",
			status:      200,
			contentType: jsonType,
			body:        " \r\n\t",
			msg:         "empty body",
		},
		{
			name:        "array",
			status:      200,
			contentType: jsonType,
			body:        `[]`,
			msg:         "unrecognized body",
		},
		{
			name:        "null",
			status:      200,
			contentType: jsonType,
			body:        `null`,
			msg:         "unrecognized body",
		},
		{
			name:        "truncated json",
			status:      200,
			contentType: jsonType,
			body:        `{"access_token":`,
			msg:         "malformed JSON",
		},
		{
			name:        "access_token not a string",
			status:      200,
			contentType: jsonType,
			body:        `{"access_token":5}`,
			msg:         "malformed body: access_token is not a string",
		},
		{
			name:        "refresh_token not a string",
			status:      200,
			contentType: jsonType,
			body:        `{"access_token":"AT","refresh_token":["RT"]}`,
			msg:         "malformed body: refresh_token is not a string",
		},
		{
			name:        "no access_token",
			status:      200,
			contentType: jsonType,
			body:        `{"token_type":"bearer"}`,
			msg:         "malformed body: no access_token",
		},
		{
			name:        "empty access_token",
			status:      200,
			contentType: formType,
			body:        "access_token=&refresh_token=RT",
			msg:         "malformed body: no access_token",
		},
		{
			name:        "expires_in garbage",
			status:      200,
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":"soon"}`,
			msg:         "malformed body: expires_in is not a number",
		},
		{
			name:        "expires_in a bool",
			status:      200,
			contentType: jsonType,
			body:        `{"access_token":"AT","expires_in":true}`,
			msg:         "malformed body: expires_in is not a number",
		},
		{
			name:        "expires_in NaN",
			status:      200,
			contentType: formType,
			body:        "access_token=AT&expires_in=NaN",
			msg:         "malformed body: expires_in is not a number",
		},
		{
			name:        "error not a string",
			status:      400,
			contentType: jsonType,
			body:        `{"error":{"code":"x"}}`,
			msg:         "malformed body: error is not a string",
		},
		{
			name:        "500 with a token but no error code",
			status:      500,
			contentType: jsonType,
			body:        `{"access_token":"AT"}`,
			msg:         "no error code in the answer",
		},
		{
			name:        "302 empty",
			status:      302,
			msg:         "empty body",
			contentType: "",
		},
		{
			name:        "unrecognized",
			status:      200,
			contentType: "application/octet-stream",
			body:        "\x00\x01garbage",
			msg:         "unrecognized body",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := answer(tt.status, tt.contentType)
			tok, err := endpoint.Parse(resp, []byte(tt.body), nil)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", tok)
			}
			checkResponseError(t, err, tt.status, tt.code, tt.dead)
			var re *oauth2.RetrieveError
			errors.As(err, &re)
			if re.ErrorDescription != tt.desc {
				t.Errorf("ErrorDescription = %q, want %q", re.ErrorDescription, tt.desc)
			}
			status := resp.Status
			if want := "oauthrt: token endpoint answered " + status + ": " + tt.msg; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want it to start with %q", err, want)
			}
			_ = re.Error() // must not panic
		})
	}
}

// checkResponseError checks what every error answer promises.
func checkResponseError(t *testing.T, err error, status int, code string, dead bool) {
	t.Helper()
	var rerr *endpoint.ResponseError
	if !errors.As(err, &rerr) {
		t.Fatalf("error %v (%T) is no *endpoint.ResponseError", err, err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v does not wrap an *oauth2.RetrieveError", err)
	}
	if re.Response == nil {
		t.Fatal("RetrieveError.Response is nil")
	}
	if re.Response.StatusCode != status {
		t.Errorf("RetrieveError.Response.StatusCode = %d, want %d", re.Response.StatusCode, status)
	}
	if re.Response.Body != http.NoBody || re.Response.Request != nil {
		t.Errorf("RetrieveError.Response keeps Body %v, Request %v; want http.NoBody and nil", re.Response.Body, re.Response.Request)
	}
	if re.ErrorCode != code {
		t.Errorf("ErrorCode = %q, want %q", re.ErrorCode, code)
	}
	if got := errors.Is(err, oauthrt.ErrReauthRequired); got != dead {
		t.Errorf("errors.Is(err, ErrReauthRequired) = %v, want %v (err: %v)", got, dead, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "oauthrt: ") || !strings.Contains(msg, strconv.Itoa(status)) {
		t.Errorf("Error() = %q, want it to start with oauthrt: and name the status %d", msg, status)
	}
	if len(re.Body) > 512 {
		t.Errorf("RetrieveError.Body is %d bytes, want at most 512", len(re.Body))
	}
}

func TestParseNilHeaderAndResponse(t *testing.T) {
	resp := &http.Response{StatusCode: 200}
	tok, err := endpoint.Parse(resp, []byte(`{"access_token":"AT"}`), nil)
	if err != nil || tok.AccessToken != "AT" {
		t.Errorf("Parse with nil Header = %v, %v; want a token", tok, err)
	}
	_, err = endpoint.Parse(&http.Response{StatusCode: 400}, []byte("error=invalid_grant"), nil)
	checkResponseError(t, err, 400, "invalid_grant", true)
	if want := "oauthrt: token endpoint answered 400 Bad Request: invalid_grant"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	_, err = endpoint.Parse(nil, nil, nil)
	checkResponseError(t, err, 0, "", false)
}

func TestParseLongFieldsAreCut(t *testing.T) {
	desc := strings.Repeat("é", 300)
	body := fmt.Sprintf(`{"error":"invalid_request","error_description":%q,"pad":%q}`, desc, strings.Repeat("x", 2000))
	_, err := endpoint.Parse(answer(400, jsonType), []byte(body), nil)
	checkResponseError(t, err, 400, "invalid_request", false)
	msg := err.Error()
	if strings.Contains(msg, desc) || !strings.Contains(msg, strings.Repeat("é", 100)) {
		t.Errorf("Error() = %q, want the description cut to 200 bytes", msg)
	}
	if strings.Contains(msg, "xxx") {
		t.Errorf("Error() = %q contains the body", msg)
	}
	if strings.ContainsRune(msg, '\uFFFD') {
		t.Errorf("Error() = %q cuts a rune in two", msg)
	}
}

func TestParseRedactsSecrets(t *testing.T) {
	secrets := []string{"REFRESH-SECRET-1", "CLIENT-SECRET-2", "OLD-ACCESS-3", "p@ss w0rd&+", `q"u<o>te`, ""}
	tests := []struct {
		name        string
		status      int
		statusLine  string // "" for the usual one
		contentType string
		body        string
		leaks       []string // beside secrets: values only the body knew
	}{
		{
			name:        "echoed in the description",
			status:      400,
			contentType: jsonType,
			body:        `{"error":"invalid_grant","error_description":"refresh token REFRESH-SECRET-1 is not valid for CLIENT-SECRET-2 (OLD-ACCESS-3)"}`,
		},
		{
			name:        "new tokens beside an error",
			status:      200,
			contentType: jsonType,
			body:        `{"error":"x","access_token":"NEWSECRET","refresh_token":"NEWRT","id_token":"NEWIDTOKEN","error_description":"issued NEWSECRET"}`,
			leaks:       []string{"NEWSECRET", "NEWRT", "NEWIDTOKEN"},
		},
		{
			name:        "nested credentials",
			status:      400,
			contentType: jsonType,
			body:        `{"error":"x","data":{"client_secret":"NESTED-SECRET","tokens":["ARRAY-TOKEN"]},"debug":{"auth_code":{"v":"DEEP-CODE"}}}`,
			leaks:       []string{"NESTED-SECRET", "ARRAY-TOKEN", "DEEP-CODE"},
		},
		{
			name:        "echoed in a form",
			status:      400,
			contentType: formType,
			body:        "error=invalid_request&error_description=bad+CLIENT-SECRET-2&client_secret=CLIENT-SECRET-2&refresh_token=REFRESH-SECRET-1&password=FORM-PASSWORD",
			leaks:       []string{"FORM-PASSWORD"},
		},
		{
			name:        "form-encoded echo in HTML",
			status:      500,
			contentType: "text/html",
			body:        "<html>refresh_token=REFRESH-SECRET-1&pw=p%40ss+w0rd%26%2B&x=p%40ss%20w0rd%26%2B</html>",
			leaks:       []string{"p%40ss+w0rd%26%2B", "p%40ss%20w0rd%26%2B"},
		},
		{
			name:        "JSON-escaped echo in broken JSON",
			status:      400,
			contentType: jsonType,
			body:        `{"error_description":"q\"u\u003co\u003ete and q\"u<o>te", "access_token":"HALF`,
			leaks:       []string{`q\"u\u003co\u003ete`, `q\"u<o>te`},
		},
		{
			name:        "echo in an unrecognized body",
			status:      502,
			contentType: "application/octet-stream",
			body:        "upstream said OLD-ACCESS-3",
		},
		{
			name:        "echo in the status line",
			status:      400,
			statusLine:  "400 REFRESH-SECRET-1",
			contentType: jsonType,
			body:        `{"error":"invalid_grant","error_uri":"https://x/?t=CLIENT-SECRET-2"}`,
		},
		{
			name:        "credential in an unparsed pascal member",
			status:      400,
			contentType: jsonType,
			body:        `{"Error":"invalid_grant","ErrorDescription":"assertion CLIENT-SECRET-2","ClientAssertion":"PASCAL-ASSERTION"}`,
			leaks:       []string{"PASCAL-ASSERTION"},
		},
		{
			name:        "secret split by a newline is not joined",
			status:      400,
			contentType: jsonType,
			body:        `{"error":"x","error_description":"p@ss\nw0rd&+"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := answer(tt.status, tt.contentType)
			if tt.statusLine != "" {
				resp.Status = tt.statusLine
			}
			_, err := endpoint.Parse(resp, []byte(tt.body), secrets)
			if err == nil {
				t.Fatal("Parse: no error")
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("no RetrieveError in %v", err)
			}
			places := map[string]string{
				"Error()":                err.Error(),
				"%v %+v %#v":             fmt.Sprintf("%v %+v %#v", err, err, err),
				"Retrieve.Body":          string(re.Body),
				"Retrieve.Error()":       re.Error(),
				"Retrieve.Response":      fmt.Sprintf("%+v", *re.Response),
				"Retrieve.ErrorFields":   re.ErrorCode + re.ErrorDescription + re.ErrorURI,
				"wrapped %v %+v":         fmt.Sprintf("%v %+v", fmt.Errorf("x: %w", err), fmt.Errorf("x: %w", err)),
				"RetrieveError %+v %#v ": fmt.Sprintf("%+v %#v", re, re),
			}
			for where, s := range places {
				for _, secret := range append(secrets[:len(secrets):len(secrets)], tt.leaks...) {
					if secret != "" && strings.Contains(s, secret) {
						t.Errorf("%s contains %q: %s", where, secret, s)
					}
				}
			}
			if !strings.Contains(string(re.Body)+err.Error(), "[redacted]") {
				t.Errorf("nothing redacted; Body %q, Error %q", re.Body, err)
			}
		})
	}
}

// FuzzParse feeds Parse any status, Content-Type and body, and holds it to
// the package's promises: no panic; either a token with an access token
// (and a 2xx status) or a *ResponseError wrapping the *oauth2.RetrieveError,
// and ErrReauthRequired on a 401; an error text of bounded size, on one
// line, with no known secret and no credential of the body in it.
//
// The seeds are in testdata/fuzz/FuzzParse, beside those added here.
func FuzzParse(f *testing.F) {
	// secret is passed to Parse as a known secret, and planted in the
	// body (see below). It has no byte of "[redacted]", so no replacement
	// can put it together again.
	const secret = "SEKRIT-42"
	const prefix = "oauthrt: token endpoint answered "
	// maxErrorText bounds Error() and %+v, whatever the body's size (up
	// to MaxBody, 1 MiB). The message is the 33-byte prefix and at most
	// three parts (the status, then the error code and description or the
	// reason), each cut to maxFieldKept (200 bytes, redact.go) after
	// redaction, joined by two ": ": 33 + 3*200 + 2*2 = 637 bytes. 1024
	// leaves room for rewording, and still fails on any body echo past
	// the caps.
	const maxErrorText = 1024
	// maxRetrieveText bounds the RetrieveError's Error(), which callers
	// reach with errors.As: "oauth2: " and the code, description and URI
	// quoted with %q, each cut to maxBodyKept (512 bytes) and growing at
	// most 4 times when quoted (\xNN for a byte of invalid UTF-8):
	// 8 + 3*(3+4*512) = 6161 bytes; or, without a code, its fixed text,
	// the status (empty here) and Body (512 bytes).
	const maxRetrieveText = 8192
	for _, s := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, jsonType, `{"access_token":"AT","expires_in":"3599"}`},
		{200, formType, "access_token=AT&expires_in=1.5"},
		{400, jsonType, `{"Error":"invalid_grant","ErrorDescription":"SEKRIT-42"}`},
		{500, "text/html", "<html>SEKRIT-42</html>"},
		{200, "", "[]"},
		{401, "", ""},
		{200, jsonType, `{"error":"x","refresh_token":"SEKRIT-42"}`},
		{200, "text/plain", "SEKRIT-42"},
		// 3 thousands and 200: the secret planted after the body's 2nd byte.
		{3200, jsonType, `{"error":"bad","error_description":"x"}`},
	} {
		f.Add(s.status, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		// The last three digits are the status. The thousands, when
		// positive, plant the secret in the body: 1 before its first
		// byte, 2 after it, and so on round the body.
		code := status % 1000
		if at := status / 1000; at > 0 {
			at = (at - 1) % (len(body) + 1)
			body = slices.Concat(body[:at:at], []byte(secret), body[at:])
		}
		resp := &http.Response{StatusCode: code}
		if ct != "" {
			resp.Header = http.Header{"Content-Type": {ct}}
		}
		tok, err := endpoint.Parse(resp, body, []string{secret})
		if err == nil {
			if tok == nil || tok.AccessToken == "" {
				t.Fatalf("Parse = %v, nil; want a token with an access token", tok)
			}
			if code < 200 || code > 299 {
				t.Fatalf("Parse returned a token for status %d", code)
			}
			return
		}
		if tok != nil {
			t.Errorf("Parse returned a token and the error %v", err)
		}
		var rerr *endpoint.ResponseError
		if !errors.As(err, &rerr) || rerr.Retrieve == nil || rerr.Retrieve.Response == nil {
			t.Fatalf("error %#v is not a complete *ResponseError", err)
		}
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re != rerr.Retrieve {
			t.Errorf("errors.As finds %p, not the ResponseError's RetrieveError %p", re, rerr.Retrieve)
		}
		if code == http.StatusUnauthorized && !errors.Is(err, oauthrt.ErrReauthRequired) {
			t.Errorf("a 401 answer does not wrap ErrReauthRequired: %v", err)
		}

		text, plus, retrieve := err.Error(), fmt.Sprintf("%+v", err), re.Error()
		if !strings.HasPrefix(text, prefix) {
			t.Errorf("Error() = %q, want the prefix %q", text, prefix)
		}
		for where, s := range map[string]string{"Error()": text, "%+v": plus} {
			if len(s) > maxErrorText {
				t.Errorf("%s is %d bytes, more than %d (body %d bytes)", where, len(s), maxErrorText, len(body))
			}
			if strings.ContainsAny(s, "\r\n") {
				t.Errorf("%s is more than one line: %q", where, s)
			}
		}
		if len(retrieve) > maxRetrieveText {
			t.Errorf("RetrieveError.Error() is %d bytes, more than %d", len(retrieve), maxRetrieveText)
		}
		if len(re.Body) > 512 {
			t.Errorf("Body is %d bytes", len(re.Body))
		}

		places := map[string]string{
			"Error()":                        text,
			"%+v":                            plus,
			"RetrieveError.Error()":          retrieve,
			"RetrieveError.Body":             string(re.Body),
			"RetrieveError.ErrorCode":        re.ErrorCode,
			"RetrieveError.ErrorDescription": re.ErrorDescription,
			"RetrieveError.ErrorURI":         re.ErrorURI,
		}
		for where, s := range places {
			if strings.Contains(s, secret) {
				t.Errorf("%s contains the secret: %q", where, s)
			}
		}
		// The credentials the body carries are redacted too. What follows
		// the fixed prefix is made of parts each redacted on its own, so
		// only a value that cannot span two of them is looked for.
		for _, v := range bodyCredentials(body) {
			if strings.Contains(text[len(prefix):], v) {
				t.Errorf("Error() contains the body's credential %q: %q", v, text)
			}
		}
	})
}

// bodyCredentials returns the values of the access_token, refresh_token
// and id_token members of body when it is a JSON object, those that the
// error text can be searched for soundly: 24 bytes or more (no chance
// match with a status text), without ": " (which joins the message's
// parts) and without '[' or ']' (which "[redacted]" could supply).
func bodyCredentials(body []byte) []string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var vals []string
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		v, ok := m[k].(string)
		if ok && len(v) >= 24 && !strings.Contains(v, ": ") && !strings.ContainsAny(v, "[]") {
			vals = append(vals, v)
		}
	}
	return vals
}

// A JSON answer that does not parse cannot be redacted member by member;
// the credentials in it are blanked all the same.
func TestMalformedJSONBodyKeepsNoCredential(t *testing.T) {
	const tok = "0123456789abcdefghijklmnopqrstuvwxyz"
	for _, body := range []string{
		`{"access_token":"` + tok + `", garbage`,
		`{"refresh_token" : "` + tok,
		`{"id_token":"` + tok + `","x":`,
		`{"Access_Token":"a\"b` + tok + `",`,
	} {
		resp := &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}}}
		_, err := endpoint.Parse(resp, []byte(body), nil)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			t.Fatalf("%s: err = %v, want a RetrieveError", body, err)
		}
		if strings.Contains(string(re.Body), tok) || strings.Contains(err.Error(), tok) {
			t.Errorf("%s: the token survives in Body %q or error %q", body, re.Body, err)
		}
		if !strings.Contains(string(re.Body), "[redacted]") {
			t.Errorf("%s: Body %q was not redacted but dropped or mangled", body, re.Body)
		}
	}
}
