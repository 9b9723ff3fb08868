// Package chaos holds the chaos test of the fleet protocol: real
// processes sharing one token store are stopped, killed and cut from
// their store in the middle of refreshes, while a strict provider counts
// every refresh token presented twice. It has no code besides its tests,
// and is a module of its own so that the proxy it uses stays out of the
// root module's go.mod. See README.md.
package chaos
