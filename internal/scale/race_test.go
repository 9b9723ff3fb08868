//go:build race

package scale_test

// raceDetector reports whether the race detector is on: it slows the
// stores' clients so much that an announcement can come after a waiter's
// fallback pause, which costs an ask more, so the counts are not the
// target's then.
const raceDetector = true
