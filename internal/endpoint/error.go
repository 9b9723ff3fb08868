package endpoint

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// A ResponseError is a token endpoint's answer that is not a token: an
// error answer (an error member, or a status other than 2xx) or a
// malformed one. Its message names the status and the error code and
// description, never the body.
//
// It wraps [oauthrt.ErrReauthRequired] when the grant is dead: the error
// code is invalid_grant (or GitHub's bad_refresh_token), or the status is
// 401 with a code that does not blame the client. A 401 invalid_client or
// unauthorized_client (a wrong or expired client secret, a key the
// provider does not know) is the application's to fix, and no user
// authorizing again would help: it does not kill the grant.
type ResponseError struct {
	// Retrieve describes the answer as golang.org/x/oauth2 does. Its
	// Response is a copy of the answer without body or request, never
	// nil; its Body is the body with credentials redacted, cut to 512
	// bytes (nil when the body was too large); its ErrorCode,
	// ErrorDescription and ErrorURI are redacted, and empty when the
	// answer had none.
	Retrieve *oauth2.RetrieveError

	reauth bool
	cause  error
	msg    string
}

// newResponseError builds the error for resp. body is the body with
// credential members already redacted; red redacts the secrets.
func newResponseError(resp *http.Response, red *redactor, body []byte, code, desc, uri, reason string, cause error) *ResponseError {
	dead := code == "invalid_grant" || code == "bad_refresh_token" ||
		(resp.StatusCode == http.StatusUnauthorized && !blamesClient(code))
	r := *resp
	r.Body = http.NoBody
	r.Request = nil
	r.Status = red.redact(r.Status)
	var kept []byte
	if body != nil {
		kept = []byte(red.redactClip(string(body), maxBodyKept))
	}

	// The message's parts are redacted, lose their control characters,
	// and are redacted again: a secret that holds a control character
	// is found before it is changed, and one that the replacement would
	// join together after.
	short := func(s string) string {
		return red.redactClip(oneLine(red.redactClip(s, maxFieldKept)), maxFieldKept)
	}
	var msg strings.Builder
	msg.WriteString("oauthrt: token endpoint answered ")
	msg.WriteString(short(statusText(resp)))
	switch {
	case code != "":
		msg.WriteString(": " + short(code))
		if desc != "" {
			msg.WriteString(": " + short(desc))
		}
	case reason != "":
		msg.WriteString(": " + short(reason))
	}

	return &ResponseError{
		Retrieve: &oauth2.RetrieveError{
			Response:         &r,
			Body:             kept,
			ErrorCode:        red.redactClip(code, maxBodyKept),
			ErrorDescription: red.redactClip(desc, maxBodyKept),
			ErrorURI:         red.redactClip(uri, maxBodyKept),
		},
		reauth: dead,
		cause:  cause,
		msg:    msg.String(),
	}
}

// statusText returns resp.Status, or the code and its text when empty.
func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return strings.TrimSpace(strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode))
}

// Error names the status, and the error code and description or what is
// wrong with the answer.
func (e *ResponseError) Error() string {
	if e.msg == "" {
		return "oauthrt: token endpoint answered with an error"
	}
	return e.msg
}

// Unwrap returns [oauthrt.ErrReauthRequired] when the grant is dead, the
// [*oauth2.RetrieveError], and the parser's error if there was one.
func (e *ResponseError) Unwrap() []error {
	var errs []error
	if e.reauth {
		errs = append(errs, oauthrt.ErrReauthRequired)
	}
	if e.Retrieve != nil {
		errs = append(errs, e.Retrieve)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// blamesClient reports whether an error code says the client, not the
// grant, is at fault (RFC 6749 §5.2).
func blamesClient(code string) bool {
	return code == "invalid_client" || code == "unauthorized_client"
}

// ClientRejected reports whether err says the token endpoint rejected the
// client itself rather than the grant: the error code invalid_client or
// unauthorized_client, whatever the status, or a 401 with no error code
// at all. A Refresher that is not told how to authenticate the client
// uses it to try the other way. Any other code, invalid_grant above all,
// is not the client's fault: some servers (go-oauth2/oauth2 among them)
// answer a dead or reused refresh token with 401 invalid_grant, and
// presenting it again with the client authenticated another way would
// only show the server the dead token twice.
func ClientRejected(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	if re.ErrorCode != "" {
		return blamesClient(re.ErrorCode)
	}
	return re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized
}
