package holder

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	host, _ := os.Hostname()
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(sanitize(host)) + `/` + strconv.Itoa(os.Getpid()) + `/[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 100 {
		id := New()
		if !want.MatchString(id) {
			t.Fatalf("New() = %q, want %v", id, want)
		}
		if seen[id] {
			t.Fatalf("New() returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "unknown"},
		{"worker-7.example.com", "worker-7.example.com"},
		{"a b/c:d_é", "a-b-c-d---"}, // é is two bytes
		{strings.Repeat("h", 30), strings.Repeat("h", 24)},
		{strings.Repeat("é", 20), strings.Repeat("-", 24)},
	} {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The longest id must fit the SQL stores' VARCHAR(64) lease_holder.
func TestLongestFits(t *testing.T) {
	longest := strings.Repeat("h", maxHost) + "/" + strconv.FormatInt(1<<63-1, 10) + "/" + strings.Repeat("0", 16)
	if len(longest) > 64 {
		t.Errorf("the longest holder id has %d bytes, more than 64", len(longest))
	}
}
