// Package scale measures what a refresh costs on every store backend, end
// to end through real Transports: the round trips to the store per
// refresh, for one process and for four sharing the store, and the
// throughput of a fleet whose keys all expire at once. It has no code
// besides its tests and benchmarks; the trips are counted with
// internal/tripcount.
package scale
