//go:build !race

package scale_test

// raceDetector reports whether the race detector is on; see race_test.go.
const raceDetector = false
