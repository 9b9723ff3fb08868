// Package scenario drives a real oauthrt.Transport through the refreshes
// the metrics packages count, for their tests.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Run sends requests for six keys through a Transport whose OnRefresh and
// OnError are the given hooks, checks what each request got, and closes
// the Transport, so that every hook call has returned when Run does.
//
// The hooks see, in any order:
//
//   - "fresh": nothing; its token is good.
//   - "expired": one expired/refreshed event, however many of its eight
//     concurrent requests shared the refresh.
//   - "revoked": one rejected/refreshed event; the API answers 401 to its
//     token, which has not expired.
//   - "flaky": one expired/failed event; the token endpoint fails.
//   - "dead": one expired/reauth_required event; the grant is dead, and
//     the second request fails on that without another refresh.
//   - "unsaved": one expired/refreshed event, and one *oauthrt.SaveError
//     to OnError: the store fails to save the new token once.
func Run(t testing.TB, onRefresh func(oauthrt.RefreshEvent), onError func(key string, err error)) {
	t.Helper()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer at-revoked" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "token revoked", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer api.Close()

	store := &onceFailingStore{failKey: "unsaved"}
	for key, expiry := range map[string]time.Time{
		"fresh":   now.Add(time.Hour),
		"expired": now.Add(-time.Minute),
		"revoked": now.Add(time.Hour),
		"flaky":   now.Add(-time.Minute),
		"dead":    now.Add(-time.Minute),
		"unsaved": now.Add(-time.Minute),
	} {
		tok := &oauth2.Token{AccessToken: "at-" + key, RefreshToken: "rt-" + key, Expiry: expiry}
		if err := store.MemoryStore.Save(context.Background(), key, tok); err != nil {
			t.Fatal(err)
		}
	}

	refresher := oauthrt.RefresherFunc(func(_ context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
		switch tok.RefreshToken {
		case "rt-flaky":
			return nil, errors.New("token endpoint: 503 Service Unavailable")
		case "rt-dead":
			return nil, fmt.Errorf("token endpoint: invalid_grant: %w", oauthrt.ErrReauthRequired)
		}
		return &oauth2.Token{AccessToken: "new-" + tok.AccessToken, Expiry: now.Add(time.Hour)}, nil
	})

	tr := &oauthrt.Transport{
		Base:      api.Client().Transport,
		Store:     store,
		Refresher: refresher,
		Now:       func() time.Time { return now }, // the clock stands still: no refresh ahead of expiry
		OnRefresh: onRefresh,
		OnError:   onError,
	}
	client := &http.Client{Transport: tr}
	get := func(key string) error {
		req, err := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), http.MethodGet, api.URL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}

	for _, key := range []string{"fresh", "revoked", "unsaved"} {
		if err := get(key); err != nil {
			t.Errorf("key %s: %v", key, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := get("expired"); err != nil {
				t.Errorf("key expired: %v", err)
			}
		})
	}
	wg.Wait()
	if err := get("flaky"); err == nil || errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("key flaky: got %v, want a transient refresh error", err)
	}
	for range 2 {
		if err := get("dead"); !errors.Is(err, oauthrt.ErrReauthRequired) {
			t.Errorf("key dead: got %v, want ErrReauthRequired", err)
		}
	}

	// OnRefresh runs after the requests went on; Close waits for it.
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	tr.CloseIdleConnections()
}

// onceFailingStore is a MemoryStore whose first Save or Commit under
// failKey fails. The Transport saves refreshed tokens with Commit, since
// a MemoryStore is an oauthrt.Committer.
type onceFailingStore struct {
	oauthrt.MemoryStore
	failKey string
	failed  atomic.Bool
}

func (s *onceFailingStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if key == s.failKey && s.failed.CompareAndSwap(false, true) {
		return errors.New("store: disk full")
	}
	return s.MemoryStore.Save(ctx, key, tok)
}

func (s *onceFailingStore) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	if key == s.failKey && s.failed.CompareAndSwap(false, true) {
		return errors.New("store: disk full")
	}
	return s.MemoryStore.Commit(ctx, key, prev, tok)
}
