package oauthrt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// What a Transport does with the WWW-Authenticate challenges of a 401 or
// a 403 from the API. The error codes are those of the challenges whose
// scheme is Bearer (RFC 6750 §3) or DPoP (RFC 9449 §7.1, which reuses
// RFC 6750's codes); the first such challenge that carries an error
// code decides:
//
//   - insufficient_user_authentication (RFC 9470 §3, step-up), on a 401
//     or a 403: a *StepUpError; no refresh, no resend.
//   - insufficient_scope (RFC 6750 §3.1), on a 401 or a 403: an
//     *InsufficientScopeError; no refresh, no resend.
//   - insufficient_claims with a claims parameter, on a 401: a claims
//     challenge (Microsoft Entra ID's Continuous Access Evaluation, whose
//     header format is at
//     https://learn.microsoft.com/entra/identity-platform/claims-challenge,
//     read 2026-11-30): one refresh that carries the claims, whatever
//     token the store holds, then one resend, as the Azure SDK for Go's
//     bearer token policy does (it asks its credential for a token with
//     the claims, which skips the credential's cache, and sends the
//     request once more:
//     https://github.com/Azure/azure-sdk-for-go/blob/main/sdk/azcore/runtime/policy_bearer_token.go,
//     read 2026-11-30). A claims parameter that does not decode to a JSON
//     object, or none, leaves the 401 to the caller as it is (the SDK
//     fails the request then).
//   - invalid_request, on a 401: the 401 as it is (the request is at
//     fault, not the token).
//   - anything else, or no error code, on a 401: the token was rejected:
//     one refresh, one resend.
//
// A 403 without one of the first two goes to the Refresher's
// RejectionDetector, if it has one, and is otherwise the caller's, as
// any other status is.

// An answer says what RoundTrip does with a response from the API.
type answer struct {
	resend bool   // refresh the token (unless another request did), and send again
	claims string // a claims challenge's claims (JSON) to refresh with; "" for none
	err    error  // return this instead of the response
}

// mayChallenge reports whether resp may need more than to be returned
// as it is: it is a 401 or a 403, or the Refresher is a
// RejectionDetector. It is the hot path's only look at a response.
func (t *Transport) mayChallenge(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return true
	}
	_, ok := t.Refresher.(RejectionDetector)
	return ok
}

// challenge reads resp, the API's answer to a request that carried a
// token of key, and says what to do with it. A panic in the Refresher's
// TokenRejected counts as no rejection, and is reported to OnError and
// Logger: the response is the caller's.
func (t *Transport) challenge(key string, resp *http.Response) answer {
	if a, ok := t.challenged(key, resp); ok {
		return a
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return answer{resend: true}
	}
	if d, ok := t.Refresher.(RejectionDetector); ok {
		rej, err := guardValue("the Refresher's TokenRejected", func() (bool, error) { return d.TokenRejected(resp), nil })
		if err != nil {
			t.reportError(key, "oauthrt: the Refresher's TokenRejected panicked; the response is returned as it is", err)
		}
		return answer{resend: rej}
	}
	return answer{}
}

// challenged reports what the error code of resp's challenge calls for,
// when resp is a 401 or a 403 with one that decides (see the top of this
// file). It parses WWW-Authenticate only for a 401 or a 403.
func (t *Transport) challenged(key string, resp *http.Response) (answer, bool) {
	code := resp.StatusCode
	if code != http.StatusUnauthorized && code != http.StatusForbidden {
		return answer{}, false
	}
	c, ok := errorChallenge(parseChallenges(resp.Header.Values("Www-Authenticate")))
	if !ok {
		return answer{}, false
	}
	switch c.params["error"] {
	case "insufficient_user_authentication":
		return answer{err: &StepUpError{Key: key, ACRValues: c.params["acr_values"], MaxAge: maxAge(c.params), StatusCode: code}}, true
	case "insufficient_scope":
		return answer{err: &InsufficientScopeError{Key: key, Scope: c.params["scope"], StatusCode: code}}, true
	case "insufficient_claims":
		if code == http.StatusUnauthorized {
			claims, ok := decodeClaims(c.params["claims"])
			return answer{resend: ok, claims: claims}, true
		}
	case "invalid_request", "use_dpop_nonce":
		// A malformed request, or a DPoP nonce that send already asked
		// for once: a new token would not help.
		if code == http.StatusUnauthorized {
			return answer{}, true
		}
	}
	return answer{}, false
}

// last returns what RoundTrip returns for resp, the answer to the second
// and last send of a request: resp as it is, or the error of a step-up
// or scope challenge.
func (t *Transport) last(key string, resp *http.Response) (*http.Response, error) {
	a, _ := t.challenged(key, resp)
	return a.finish(resp)
}

// finish returns what RoundTrip returns for resp, the response a is
// about: resp itself, or a's error, with resp's body drained and closed.
func (a answer) finish(resp *http.Response) (*http.Response, error) {
	if a.err != nil {
		drainAndClose(resp.Body)
		return nil, a.err
	}
	return resp, nil
}

// token returns the token to send the request again with, in place of
// rejected: for a claims challenge, one that a refresh carrying the
// claims got.
func (a answer) token(ctx context.Context, t *Transport, s *keyState, rejected *oauth2.Token) (*cached, error) {
	if a.claims != "" {
		return s.claimsToken(ctx, t, rejected, a.claims)
	}
	return s.token(ctx, t, rejected)
}

// A StepUpError is what [Transport.RoundTrip] returns, instead of the
// response, when the API answers a 401 or a 403 whose challenge says
// insufficient_user_authentication (RFC 9470, OAuth 2.0 Step-Up
// Authentication Challenge): the token is good, but the user must sign in
// again, more strongly (ACRValues) or more recently (MaxAge), before the
// API serves the request. No refresh token can do that: the application
// must send the user through the authorization endpoint again, with
// acr_values and max_age set as asked, and save the token it gets. The
// Transport does not refresh the token, nor send the request again; the
// response's body is drained and closed.
type StepUpError struct {
	// Key is the store key of the token.
	Key string
	// ACRValues are the authentication context class references the API
	// asks for, space-separated as the challenge's acr_values sent them;
	// "" when it sent none.
	ACRValues string
	// MaxAge is how long ago the user may have authenticated at most,
	// from the challenge's max_age (seconds; one beyond what a Duration
	// holds is the longest Duration); negative (-1) when the challenge
	// has none, or one that is not a number of seconds.
	MaxAge time.Duration
	// StatusCode is the response's status: 401 or 403.
	StatusCode int
}

// Error names the key and the status, and what the challenge asks for;
// it holds no token.
func (e *StepUpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oauthrt: key %q: the API answered %d insufficient_user_authentication: the user must sign in again", e.Key, e.StatusCode)
	if e.ACRValues != "" {
		fmt.Fprintf(&b, ", with acr_values %q", e.ACRValues)
	}
	if e.MaxAge >= 0 {
		fmt.Fprintf(&b, ", with max_age %v", e.MaxAge)
	}
	return b.String()
}

// An InsufficientScopeError is what [Transport.RoundTrip] returns,
// instead of the response, when the API answers a 401 or a 403 whose
// challenge says insufficient_scope (RFC 6750 §3.1): the token is good,
// but was not granted what the request needs. A refresh would not widen
// it, so the Transport neither refreshes nor sends the request again;
// the response's body is drained and closed. The user must authorize the
// application again for Scope.
type InsufficientScopeError struct {
	// Key is the store key of the token.
	Key string
	// Scope is the scope the API says the request needs, from the
	// challenge's scope parameter; "" when it sent none.
	Scope string
	// StatusCode is the response's status: 403, or sometimes 401.
	StatusCode int
}

// Error names the key, the status and the scope asked for; it holds no
// token.
func (e *InsufficientScopeError) Error() string {
	if e.Scope == "" {
		return fmt.Sprintf("oauthrt: key %q: the API answered %d insufficient_scope: the token lacks the scope the request needs", e.Key, e.StatusCode)
	}
	return fmt.Sprintf("oauthrt: key %q: the API answered %d insufficient_scope: the request needs scope %q", e.Key, e.StatusCode, e.Scope)
}

type claimsCtx struct{}

// WithClaimsChallenge returns a copy of ctx that carries claims, the
// JSON object of a claims challenge (see [ClaimsChallenge]); "" carries
// none. The [Transport] sets it on the context of the refresh that a
// claims challenge calls for, and clears it on every other; Refreshers
// that add claims of their own (the entra package's ClientCapabilities)
// pass the merged claims on with it.
func WithClaimsChallenge(ctx context.Context, claims string) context.Context {
	return context.WithValue(ctx, claimsCtx{}, claims)
}

// ClaimsChallenge returns the claims that ctx carries for a token
// request, or "" when it carries none. A [Refresher] that finds claims
// must send them as the token request's claims parameter (OpenID Connect
// Core 1.0 §5.5), as the generic package's does, and must not answer
// with a token it holds: the token is wanted for these claims.
//
// The [Transport] sets them on the refresh that follows a 401 with a
// claims challenge: a Bearer or DPoP challenge with
// error="insufficient_claims" and a claims parameter (base64 of a JSON
// object), as Microsoft Entra ID's Continuous Access Evaluation sends
// (https://learn.microsoft.com/entra/identity-platform/claims-challenge,
// read 2026-11-30). They are the decoded JSON, as the challenge had it.
func ClaimsChallenge(ctx context.Context) string {
	s, _ := ctx.Value(claimsCtx{}).(string)
	return s
}

// withClaims returns ctx carrying claims for the Refresher, and nothing
// else: a flight's context carries the values of the request that
// started it, which may hold claims of its own.
func withClaims(ctx context.Context, claims string) context.Context {
	if claims == "" && ClaimsChallenge(ctx) == "" {
		return ctx
	}
	return WithClaimsChallenge(ctx, claims)
}

// decodeClaims decodes a claims challenge's claims parameter: base64, in
// the standard or the URL alphabet, padded or not (Microsoft's examples
// pad it; the Azure SDKs accept it either way). It reports false unless
// the result is a JSON object.
func decodeClaims(param string) (string, bool) {
	s := strings.TrimRight(strings.TrimSpace(param), "=")
	if s == "" {
		return "", false
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return "", false
		}
	}
	if trimmed := bytes.TrimSpace(b); len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return "", false
	}
	return string(b), true
}

// maxAge returns a step-up challenge's max_age (RFC 9470 §3: seconds),
// or -1 when it has none or it is not a number of seconds.
func maxAge(params map[string]string) time.Duration {
	v, ok := params["max_age"]
	if !ok {
		return -1
	}
	n, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && n > math.MaxInt64/uint64(time.Second):
		return math.MaxInt64 // digits beyond what a Duration holds
	case err != nil:
		return -1
	}
	return time.Duration(n) * time.Second
}

// A challenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1): an auth-scheme with a token68 or auth-params.
type challenge struct {
	scheme  string            // as sent: compare with strings.EqualFold
	params  map[string]string // names lower-cased; the first of a repeated name counts
	token68 string
}

// errorChallenge returns the first challenge of scheme Bearer or DPoP
// that carries an error code.
func errorChallenge(cs []challenge) (challenge, bool) {
	for _, c := range cs {
		if strings.EqualFold(c.scheme, "Bearer") || strings.EqualFold(c.scheme, "DPoP") {
			if _, ok := c.params["error"]; ok {
				return c, true
			}
		}
	}
	return challenge{}, false
}

// bearerError returns the error auth-param of the first Bearer challenge
// in the given WWW-Authenticate header values (RFC 6750 §3), or "" when
// there is none.
func bearerError(values []string) string {
	for _, c := range parseChallenges(values) {
		if e, ok := c.params["error"]; ok && strings.EqualFold(c.scheme, "Bearer") {
			return e
		}
	}
	return ""
}

// parseChallenges returns the challenges of the given WWW-Authenticate
// header values, in order. It accepts any input: a malformed header
// yields what could be made of it, never a panic.
func parseChallenges(values []string) []challenge {
	var cs []challenge
	for _, v := range values {
		cs = scanChallenges(v, cs)
	}
	return cs
}

// scanChallenges appends the challenges of one header value to cs: a
// scheme, then a token68 or auth-params (name=value), with challenges
// and params separated by commas. A bare token right after a scheme is
// its token68; anywhere else it starts a new challenge. Params before
// any scheme are dropped.
func scanChallenges(s string, cs []challenge) []challenge {
	cur := -1            // index in cs of the challenge being read
	afterScheme := false // nothing but spaces since the scheme of cs[cur]
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if c == ',' {
			afterScheme = false
			i++
			continue
		}
		name, j := readToken(s, i)
		if name == "" {
			afterScheme = false
			i++ // not a token character: skip it
			continue
		}
		k := skipSpace(s, j)
		if k >= len(s) || s[k] != '=' {
			if afterScheme {
				cs[cur].token68 = name
				afterScheme = false
			} else {
				cs = append(cs, challenge{scheme: name})
				cur, afterScheme = len(cs)-1, true
			}
			i = j
			continue
		}
		// name= starts an auth-param, unless the '='s end a token68
		// such as "abc==".
		eq := k
		for eq < len(s) && s[eq] == '=' {
			eq++
		}
		v := skipSpace(s, eq)
		if eq-k > 1 || v >= len(s) || s[v] == ',' {
			if afterScheme && j == k {
				cs[cur].token68 = s[i:eq]
			}
			afterScheme = false
			i = eq
			continue
		}
		afterScheme = false
		var val string
		if s[v] == '"' {
			val, i = readQuoted(s, v)
		} else {
			val, i = readToken(s, v)
			if val == "" {
				i = v + 1
			}
		}
		if cur < 0 {
			continue
		}
		lower := strings.ToLower(name)
		if _, dup := cs[cur].params[lower]; !dup {
			if cs[cur].params == nil {
				cs[cur].params = make(map[string]string, 4)
			}
			cs[cur].params[lower] = val
		}
	}
	return cs
}

// readToken returns the token (RFC 9110 tchar, plus '/' for token68
// values) starting at s[i], and the index after it.
func readToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && isTokenChar(s[j]) {
		j++
	}
	return s[i:j], j
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}

// readQuoted returns the unescaped content of the quoted-string starting
// at s[i] == '"', and the index after its closing quote (or len(s) when
// it is not closed).
func readQuoted(s string, i int) (string, int) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '"':
			return b.String(), j + 1
		case '\\':
			if j+1 < len(s) {
				j++
				b.WriteByte(s[j])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), len(s)
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}
