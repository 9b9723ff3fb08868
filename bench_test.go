package oauthrt_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// canned answers every request with the same response, so that only the
// middleware's cost is measured.
type canned struct{ resp *http.Response }

func (c canned) RoundTrip(*http.Request) (*http.Response, error) { return c.resp, nil }

// hotPathTransports returns the three RoundTrippers the hot-path
// benchmarks compare: bare Base, oauthrt and x/oauth2, each with a valid
// token.
func hotPathTransports(b *testing.B) map[string]http.RoundTripper {
	base := canned{&http.Response{StatusCode: 200, Body: http.NoBody}}
	tok := &oauth2.Token{AccessToken: "access-token", RefreshToken: "refresh-token", Expiry: time.Now().Add(time.Hour)}
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "k", tok); err != nil {
		b.Fatal(err)
	}
	return map[string]http.RoundTripper{
		"base":    base,
		"oauthrt": &oauthrt.Transport{Base: base, Store: store, Key: "k", Refresher: &issuer{clock: newClock()}},
		"xoauth2": &oauth2.Transport{Base: base, Source: oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(tok))},
	}
}

func BenchmarkHotPath(b *testing.B) {
	for _, name := range []string{"base", "oauthrt", "xoauth2"} {
		rt := hotPathTransports(b)[name]
		req, _ := http.NewRequest("GET", "http://api.example/", nil)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest("GET", "http://api.example/", nil)
				for pb.Next() {
					if _, err := rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
