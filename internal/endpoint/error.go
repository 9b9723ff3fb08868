package endpoint

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// A ResponseError is a token or revocation endpoint's answer that is not
// what was asked for: an error answer (an error member, an error code in
// one of the Dialect's CodeMembers, or a status other than 2xx) or a
// malformed one. Its message names the status and the error code and
// description, never the body.
//
// A token endpoint's ResponseError wraps [oauthrt.ErrReauthRequired] when
// the grant is dead: the error code is invalid_grant (or GitHub's
// bad_refresh_token, or one of the Dialect's DeadCodes), or the status is
// 401 with a code that does not blame the client. A 401 invalid_client or
// unauthorized_client (a wrong or expired client secret, a key the
// provider does not know), or one of the Dialect's ClientCodes, is the
// application's to fix, and no user authorizing again would help: it does
// not kill the grant. A revocation endpoint's never wraps it: a failed
// revocation leaves the grant as it was.
type ResponseError struct {
	// Retrieve describes the answer as golang.org/x/oauth2 does. Its
	// Response is a copy of the answer without body or request, never
	// nil; its Body is the body with credentials redacted, cut to 512
	// bytes (nil when the body was too large); its ErrorCode,
	// ErrorDescription and ErrorURI are redacted, and empty when the
	// answer had none.
	Retrieve *oauth2.RetrieveError

	reauth bool
	client bool // the answer rejects the client: see ClientRejected
	cause  error
	msg    string
}

// A reply is what an error answer's ResponseError is made from, beside
// its body and its error members.
type reply struct {
	resp    *http.Response
	red     *redactor // redacts the secrets
	dialect Dialect
	kind    kind
}

// fail builds the error for the answer. body is the body with credential
// members already redacted.
func (a reply) fail(body []byte, code, desc, uri, reason string, cause error) *ResponseError {
	resp, red := a.resp, a.red
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
	msg.WriteString("oauthrt: " + a.kind.String() + " answered ")
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
		reauth: a.kind == tokenEndpoint && a.dialect.dead(resp.StatusCode, code),
		client: a.dialect.rejectsClient(resp.StatusCode, code),
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

// ClientRejected reports whether err says the endpoint rejected the
// client itself rather than the grant: the error code invalid_client or
// unauthorized_client, or one of the Dialect's ClientCodes, whatever the
// status, or a 401 with no error code at all. A Refresher that is not
// told how to authenticate the client uses it to try the other way. Any
// other code, invalid_grant above all, is not the client's fault: some
// servers (go-oauth2/oauth2 among them) answer a dead or reused refresh
// token with 401 invalid_grant, and presenting it again with the client
// authenticated another way would only show the server the dead token
// twice. A bare [*oauth2.RetrieveError] is judged by RFC 6749's codes.
func ClientRejected(err error) bool {
	var own *ResponseError
	if errors.As(err, &own) {
		return own.client
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	return Dialect{}.rejectsClient(status, re.ErrorCode)
}
