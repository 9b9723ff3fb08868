package redisstore

import "time"

// SetWakeFallback sets the first fallback pause of s's waiters while its
// Board listens (see lease.Board.SetFallback): the tests that count a
// waiter's commands must not see it ask again because an announcement
// took longer than the usual pause to arrive on a loaded machine.
func SetWakeFallback(s *Store, d time.Duration) { s.board(s.Client).SetFallback(d) }
