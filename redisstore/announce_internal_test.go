package redisstore

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestParseAnnouncement reads announcements, and refuses payloads that
// are not one.
func TestParseAnnouncement(t *testing.T) {
	for _, tc := range []struct {
		payload, key, value string
		ok                  bool
	}{
		{payload: "1:k", key: "k", ok: true},
		{payload: "0:", key: "", ok: true},
		{payload: "0:value", key: "", value: "value", ok: true},
		{payload: "1:kvalue", key: "k", value: "value", ok: true},
		{payload: "3:a:bc", key: "a:b", value: "c", ok: true},
		{payload: "5:{}\x00\xff:", key: "{}\x00\xff:", ok: true},
		{payload: "12:" + "123456789012", key: "123456789012", ok: true},
		{payload: "999999999:k"},
		{payload: "9999999999:k"},
		{payload: "99999999999999999999:k"},
		{payload: ""},
		{payload: ":"},
		{payload: ":k"},
		{payload: "1"},
		{payload: "1:"},
		{payload: "2:k"},
		{payload: "k"},
		{payload: "01:k"},
		{payload: "00:"},
		{payload: "-1:k"},
		{payload: "+1:k"},
		{payload: " 1:k"},
		{payload: "1 :k"},
		{payload: "\uff11:k"},
	} {
		key, value, ok := parseAnnouncement(tc.payload)
		if ok != tc.ok || key != tc.key || string(value) != tc.value {
			t.Errorf("parseAnnouncement(%q) = %q, %q, %t; want %q, %q, %t", tc.payload, key, value, ok, tc.key, tc.value, tc.ok)
		}
		if ok && tc.value == "" && value != nil {
			t.Errorf("parseAnnouncement(%q) gave an empty value, want nil", tc.payload)
		}
	}
}

// FuzzParseAnnouncement checks that no payload makes parseAnnouncement
// panic, and that what it reads is what the scripts would have
// published.
func FuzzParseAnnouncement(f *testing.F) {
	for _, p := range []string{"1:k", "0:", "3:a:bc", "01:k", "9999999999:k", ":"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		key, value, ok := parseAnnouncement(p)
		if !ok {
			return
		}
		if again := strconv.Itoa(len(key)) + ":" + key + string(value); again != p {
			t.Errorf("parseAnnouncement(%q) = %q, %q, which announce publishes as %q", p, key, value, again)
		}
	})
}

// TestListenerUnsupported checks that a Board on a client that cannot
// hear every announcement (a Ring: it subscribes on the shard its hash
// of the channel picks) stops for good, rather than listen in vain.
func TestListenerUnsupported(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"one": "127.0.0.1:1"}})
	defer ring.Close()
	err := listener(ring, "oauthrt:released")(context.Background(),
		func() { t.Error("ready called") },
		func(string, []byte) { t.Error("announce called") })
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Listen on a Ring: err = %v, want errors.ErrUnsupported", err)
	}
}
