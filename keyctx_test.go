package oauthrt_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// authzBase answers 200 and reports the Authorization header it was sent.
type authzBase struct{ got chan string }

func (b authzBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.got <- r.Header.Get("Authorization")
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

type otherKey struct{}

// TestWithKeyContext checks that WithKey's context is its parent in all
// but the key: values, deadline and cancellation pass through, and the
// Transport finds the key whether WithKey's context is the request's or
// lies under others, the newest WithKey winning.
func TestWithKeyContext(t *testing.T) {
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), otherKey{}, "v"), time.Now().Add(time.Hour))
	ctx := oauthrt.WithKey(parent, "a")
	if got := ctx.Value(otherKey{}); got != "v" {
		t.Errorf("Value(otherKey) = %v, want the parent's v", got)
	}
	if d1, _ := ctx.Deadline(); d1 != func() time.Time { d, _ := parent.Deadline(); return d }() {
		t.Errorf("Deadline = %v, want the parent's", d1)
	}
	cancel()
	select {
	case <-ctx.Done():
	default:
		t.Fatal("the parent's cancellation did not reach WithKey's context")
	}
	if ctx.Err() != context.Canceled {
		t.Errorf("Err = %v, want context.Canceled", ctx.Err())
	}

	store := &oauthrt.MemoryStore{}
	for _, k := range []string{"a", "b", "default"} {
		if err := store.Save(context.Background(), k, &oauth2.Token{AccessToken: "at-" + k, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	base := authzBase{got: make(chan string, 1)}
	tr := &oauthrt.Transport{Base: base, Store: store, Key: "default", Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		return nil, errors.New("no refresh expected")
	})}
	defer tr.Close()
	bg := context.Background()
	cases := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"no key", bg, "Bearer at-default"},
		{"WithKey", oauthrt.WithKey(bg, "a"), "Bearer at-a"},
		{"a value over WithKey", context.WithValue(oauthrt.WithKey(bg, "a"), otherKey{}, "v"), "Bearer at-a"},
		{"a cancel over WithKey", func() context.Context {
			c, cancel := context.WithCancel(oauthrt.WithKey(bg, "b"))
			t.Cleanup(cancel)
			return c
		}(), "Bearer at-b"},
		{"WithKey over WithKey", oauthrt.WithKey(oauthrt.WithKey(bg, "a"), "b"), "Bearer at-b"},
		{"WithKey under a value under WithKey", oauthrt.WithKey(context.WithValue(oauthrt.WithKey(bg, "b"), otherKey{}, "v"), "a"), "Bearer at-a"},
	}
	for _, c := range cases {
		req, err := http.NewRequestWithContext(c.ctx, "GET", "https://api.example/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if got := <-base.got; got != c.want {
			t.Errorf("%s: Authorization %q, want %q", c.name, got, c.want)
		}
	}
}

// keySink keeps WithKey's result on the heap, as a request's context is.
var keySink context.Context

// TestWithKeyAllocations checks that WithKey costs one allocation, where
// context.WithValue with a string costs two (the context, the boxed
// string).
func TestWithKeyAllocations(t *testing.T) {
	bg := context.Background()
	key := "tenant-" + strconv.Itoa(42) // built at run time, as a request's key is: a constant is boxed at compile time
	if n := testing.AllocsPerRun(100, func() { keySink = oauthrt.WithKey(bg, key) }); n != 1 {
		t.Errorf("WithKey: %v allocations, want 1", n)
	}
}
