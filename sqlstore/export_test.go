package sqlstore

import (
	"time"

	"golang.org/x/oauth2"
)

// SetWakeFallback sets the first fallback pause of s's waiters while its
// Board listens (see lease.Board.SetFallback): the tests that count a
// waiter's statements must not see it ask again because an announcement
// took longer than the usual pause to arrive on a loaded machine. s must
// have a Listener, on PostgreSQL or with an Announcer.
func SetWakeFallback(s *Store, d time.Duration) {
	_, dialect, table, err := s.setup()
	if err != nil {
		panic(err)
	}
	s.board(dialect, table).SetFallback(d)
}

// Announcement is the payload that announces the release of key's lease
// with the commit of the stored token b over prev (nil b: without one).
func Announcement(key string, prev *oauth2.Token, b []byte) string {
	return announcement(key, prev, b)
}

// Channel is the channel of the announcements about table.
func Channel(table string) string { return channelOf(table) }
