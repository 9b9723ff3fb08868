package endpoint

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt/internal/pause"
	"golang.org/x/oauth2"
)

// Retries of [DoFresh] with the default client: as many, and with the
// same waits, as [DefaultClient]'s.
const (
	freshRetries = 3
	freshWaitMin = 250 * time.Millisecond
	freshWaitMax = 5 * time.Second
)

var singleAttemptClient = sync.OnceValue(func() *http.Client {
	return NewRetryClient(0, 0, 0)
})

// DoFresh is [Do] for a request that must not be sent twice as it is,
// because it carries a single-use credential: a private_key_jwt client
// assertion, whose jti a provider may refuse to see again (RFC 7523 §3).
// build makes the request anew for each attempt.
//
// With a nil c it retries what DefaultClient retries (connection errors,
// 429 and 5xx but 501, honouring Retry-After up to 30 seconds), as often
// and with the same waits, but with a newly built request each time. A
// client of the caller's is given one built request, and resends it as
// it is if it retries.
func DoFresh(ctx context.Context, c *http.Client, build func() (Request, error)) (*oauth2.Token, error) {
	retries := freshRetries
	if c != nil {
		retries = 0
	} else {
		c = singleAttemptClient()
	}
	for attempt := 0; ; attempt++ {
		r, err := build()
		if err != nil {
			return nil, err
		}
		tok, err := Do(ctx, c, r)
		if err == nil || attempt == retries {
			return tok, err
		}
		resp, cause, ok := answer(err)
		if !ok {
			return tok, err // refused before sending, or not the endpoint's answer
		}
		if again, _ := checkRetry(ctx, resp, cause); !again || !pause.For(ctx, backoff(freshWaitMin, freshWaitMax, attempt, resp)) {
			return tok, err
		}
	}
}

// answer recovers what checkRetry looks at from an error of Do: the
// answer of a ResponseError, or the client's error; ok is false for any
// other error, which no retry can cure.
func answer(err error) (resp *http.Response, cause error, ok bool) {
	var re *ResponseError
	if errors.As(err, &re) && re.Retrieve != nil && re.Retrieve.Response != nil {
		return re.Retrieve.Response, nil, true
	}
	var te *transportError
	if errors.As(err, &te) {
		return nil, te.err, true
	}
	return nil, nil, false
}
