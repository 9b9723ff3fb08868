package endpoint

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/pause"
	"golang.org/x/oauth2"
)

// Retries of [DoFresh] with the default client: as many, and with the
// same waits, as [DefaultClient]'s.
const (
	freshRetries = defaultRetries
	freshWaitMin = defaultWaitMin
	freshWaitMax = defaultWaitMax
)

var singleAttemptClient = sync.OnceValue(func() *http.Client {
	return NewRetryClient(0, 0, 0)
})

// DoFresh is [Do] for a request that must not be sent twice as it is,
// because it carries a single-use credential: a private_key_jwt client
// assertion, whose jti a provider may refuse to see again (RFC 7523 §3).
// build makes the request anew for each attempt.
//
// With a nil c it retries what DefaultClient retries (a request the
// endpoint never got whole), as often and with the same waits, but with a
// newly built request each time. A client of the caller's is given one
// built request, and resends it as it is if it retries. Its errors are
// Do's, transient ones included.
func DoFresh(ctx context.Context, c *http.Client, build func() (Request, error)) (*oauth2.Token, error) {
	return fresh(ctx, c, build, Do)
}

// RevokeFresh is [Revoke] for a request with a single-use credential, as
// [DoFresh] is Do's.
func RevokeFresh(ctx context.Context, c *http.Client, build func() (Request, error)) error {
	_, err := fresh(ctx, c, build, revokeNoToken)
	return err
}

// DoFreshOver is [DoFresh] with a nil client, retries included, but
// sending each attempt with once, a client built by
// [SingleAttemptClientOver], in place of the shared one: a client that
// presents a TLS client certificate, say.
func DoFreshOver(ctx context.Context, once *http.Client, build func() (Request, error)) (*oauth2.Token, error) {
	return freshOver(ctx, once, freshRetries, build, Do)
}

// RevokeFreshOver is [RevokeFresh] as [DoFreshOver] is DoFresh.
func RevokeFreshOver(ctx context.Context, once *http.Client, build func() (Request, error)) error {
	_, err := freshOver(ctx, once, freshRetries, build, revokeNoToken)
	return err
}

func revokeNoToken(ctx context.Context, c *http.Client, r Request) (*oauth2.Token, error) {
	return nil, Revoke(ctx, c, r)
}

// fresh sends a request that build makes anew for each attempt with do:
// see DoFresh.
func fresh(ctx context.Context, c *http.Client, build func() (Request, error), do func(context.Context, *http.Client, Request) (*oauth2.Token, error)) (*oauth2.Token, error) {
	if c != nil {
		return freshOver(ctx, c, 0, build, do)
	}
	return freshOver(ctx, singleAttemptClient(), freshRetries, build, do)
}

// freshOver is fresh with c, trying again up to retries times.
func freshOver(ctx context.Context, c *http.Client, retries int, build func() (Request, error), do func(context.Context, *http.Client, Request) (*oauth2.Token, error)) (*oauth2.Token, error) {
	for attempt := 0; ; attempt++ {
		r, err := build()
		if err != nil {
			return nil, err
		}
		tok, err := do(ctx, c, r)
		if err == nil || attempt == retries || !unsent(ctx, err) ||
			!pause.For(ctx, backoff(freshWaitMin, freshWaitMax, attempt, nil)) {
			return tok, err
		}
	}
}

// unsent reports whether err, an error of Do, is a failure to reach the
// endpoint before the request was written that another attempt may cure,
// as checkRetry would retry it.
func unsent(ctx context.Context, err error) bool {
	var te *oauthrt.TransientError
	var cause *transportError
	return errors.As(err, &te) && !te.AnswerLost && errors.As(err, &cause) && retryable(ctx, cause.err)
}
