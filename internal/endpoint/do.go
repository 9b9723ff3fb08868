package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/secure"
	"golang.org/x/oauth2"
)

// MaxBody is the most of a token endpoint's answer [Do] reads. A longer
// body is an error answer.
const MaxBody = 1 << 20

// A Request is one call to a token endpoint.
type Request struct {
	// URL is the token endpoint's URL.
	URL string
	// Form is the body, sent as application/x-www-form-urlencoded. Nil
	// sends an empty body.
	Form url.Values
	// Header holds extra request headers, such as an Authorization header
	// for HTTP Basic client authentication. Nil adds none.
	Header http.Header
	// AllowInsecureHTTP lets the request go to a plain http:// URL whose
	// host is not a loopback address. false: such a URL is an error
	// wrapping oauthrt.ErrInsecureURL, and nothing is sent.
	AllowInsecureHTTP bool
	// Secrets are values that must never appear in an error: the refresh
	// token, the client secret, an assertion, the old access token. Empty
	// strings are ignored, and so are values shorter than 4 bytes, which
	// would redact ordinary words.
	Secrets []string
	// Dialect says how the endpoint words its error answers; the zero
	// Dialect is RFC 6749's.
	Dialect Dialect
	// Answered, when not nil, is given the header of every answer from
	// the endpoint, error answers too, before it is parsed: a DPoP
	// server hands out its nonces in any answer (RFC 9449 §8).
	Answered func(http.Header)
}

// A kind is the kind of endpoint a Request goes to, which errors name.
type kind int

const (
	tokenEndpoint kind = iota
	revocationEndpoint
)

func (k kind) String() string {
	if k == revocationEndpoint {
		return "revocation endpoint"
	}
	return "token endpoint"
}

// Do posts r.Form to r.URL with c (nil: [DefaultClient]) and parses the
// answer with [Parse].
//
// Whatever c's CheckRedirect, Do does not follow redirects: a 3xx is an
// error answer. An error from c comes back wrapped, so that
// errors.Is(err, context.Canceled) works; an answer the endpoint gave that
// is not a token comes back as a [*ResponseError]. Do reads at most
// [MaxBody] bytes of the answer and always closes it.
//
// A failure that may pass, so that the same request may succeed later,
// comes back wrapped in an [*oauthrt.TransientError] whose Err is the
// error described above, message included:
//
//   - an answer 429 or 5xx but 501 Not Implemented, unless its error
//     code says the grant is dead (invalid_grant, bad_refresh_token:
//     some servers send those with a 500);
//   - an answer whose error code is temporarily_unavailable, whatever its
//     status (RFC 6749 §4.1.2.1 defines the code for redirects from the
//     authorization endpoint, which cannot carry a 503; some token
//     endpoints answer it too);
//   - an error of c while ctx is live (the endpoint unreachable, the
//     connection broken, an attempt timed out), or an answer whose body
//     broke off.
//
// RetryAfter is the answer's Retry-After (delay-seconds or an HTTP date)
// when it has one. AnswerLost is set when the request may have reached
// the endpoint whole and no answer came back: the connection failed after
// the request was written (as [httptrace.ClientTrace.WroteRequest] tells),
// or the body of the answer broke off. When ctx itself is done, the error
// is not transient: the caller gave up, the endpoint did not fail.
func Do(ctx context.Context, c *http.Client, r Request) (*oauth2.Token, error) {
	return do(ctx, c, r, tokenEndpoint)
}

// Revoke posts r.Form to r.URL, an RFC 7009 revocation endpoint, as [Do]
// posts to a token endpoint, with the same client, redirect rules, limits
// and errors, transient ones included; but its errors never wrap
// oauthrt.ErrReauthRequired, and name the revocation endpoint. It returns
// nil for an answer 2xx without an error code, whatever its body (RFC
// 7009 §2.2: the endpoint answers 200 for a token it does not know, too),
// and for an error code that says the token is dead already
// (invalid_grant, invalid_token, or one of r.Dialect's DeadCodes).
func Revoke(ctx context.Context, c *http.Client, r Request) error {
	_, err := do(ctx, c, r, revocationEndpoint)
	return err
}

func do(ctx context.Context, c *http.Client, r Request, k kind) (*oauth2.Token, error) {
	if c == nil {
		c = DefaultClient()
	}
	red := newRedactor(r.Secrets)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(r.Form.Encode()))
	if err != nil {
		return nil, newTransportError(err, red, k)
	}
	if !r.AllowInsecureHTTP && !secure.Allowed(req.URL) {
		return nil, fmt.Errorf("%w to the %s at %s: use https, or set the Refresher's AllowInsecureHTTP", oauthrt.ErrInsecureURL, k, red.redact(secure.Host(req.URL)))
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	watchedCtx, watch := watchWrites(ctx)
	req = req.WithContext(watchedCtx)
	noRedirects := *c
	noRedirects.CheckRedirect = refuseRedirect
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, lost(ctx, newTransportError(err, red, k), watch.written.Load())
	}
	defer resp.Body.Close()
	// A client whose Transport wraps a client of its own (go-retryablehttp's
	// StandardClient) may have followed a redirect inside it, out of reach
	// of CheckRedirect above. An answer from another host is not the token
	// endpoint's, whatever it holds.
	if resp.Request != nil && resp.Request.URL != nil && resp.Request.URL.Host != req.URL.Host {
		return nil, fmt.Errorf("oauthrt: %s: the HTTP client followed a redirect to %s; token endpoints are never redirected: make the client's inner client refuse redirects (CheckRedirect returning http.ErrUseLastResponse)", k, red.redact(resp.Request.URL.Host))
	}

	if r.Answered != nil {
		r.Answered(resp.Header)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		// Headers came: the endpoint had the request, and its answer is lost.
		return nil, lost(ctx, newTransportError(fmt.Errorf("reading the answer: %w", err), red, k), true)
	}
	a := reply{resp: resp, red: red, dialect: r.Dialect, kind: k}
	if len(body) > MaxBody {
		return nil, transient(resp, a.fail(nil, "", "", "", "body larger than 1 MiB", nil), time.Now())
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, a.fail(nil, "", "", "", "a redirect, refused: a token endpoint is never redirected, so that credentials are posted only where configured", nil)
	}
	tok, err := r.Dialect.parse(resp, body, r.Secrets, k)
	if err != nil {
		return nil, transient(resp, err, time.Now())
	}
	return tok, nil
}

// lost returns err, a failure to get an answer, as a TransientError, with
// AnswerLost when the request may have reached the endpoint (written);
// or as it is when ctx is done: the caller gave up, not the endpoint.
func lost(ctx context.Context, err error, written bool) error {
	if ctx.Err() != nil {
		return err
	}
	return &oauthrt.TransientError{Err: err, AnswerLost: written}
}

// transient returns err, the error Parse (or Do) made of the answer resp,
// wrapped in a TransientError when another try may get a token: an answer
// temporarily_unavailable, or 429 or 5xx but 501, with no error code that
// says the grant is dead. RetryAfter is resp's Retry-After, measured from
// now.
func transient(resp *http.Response, err error, now time.Time) error {
	var re *ResponseError
	if !errors.As(err, &re) || re.reauth {
		return err
	}
	status := resp.StatusCode
	unavailable := re.Retrieve != nil && re.Retrieve.ErrorCode == "temporarily_unavailable"
	if !unavailable && status != http.StatusTooManyRequests && (status < 500 || status == http.StatusNotImplemented) {
		return err
	}
	wait, _ := ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	return &oauthrt.TransientError{Err: err, RetryAfter: wait}
}

// transportError is an error from the HTTP client, with a message that
// carries no secret.
type transportError struct {
	msg string
	err error
}

func newTransportError(err error, red *redactor, k kind) error {
	return &transportError{msg: "oauthrt: " + k.String() + ": " + red.redact(err.Error()), err: err}
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }
