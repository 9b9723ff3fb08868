package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// A Source is where a fact of the catalog comes from: a page of the
// provider's public documentation, and the day it was read.
type Source struct {
	// URL is the page's address.
	URL string
	// Read is the day the page was read, as YYYY-MM-DD.
	Read string
}

// A Fact is one thing the catalog knows, or does not know, about a
// provider, with where it comes from. The zero Fact is unknown.
type Fact[T any] struct {
	// Value is the fact; the zero value of T when Known is false.
	Value T
	// Known is false when no public source could be found for the fact:
	// the catalog does not act on it, and says "unknown".
	Known bool
	// Source is where Value comes from; empty when Known is false.
	Source Source
	// Note says more, in a sentence: a condition, a default the provider
	// lets customers change, or, for an unknown fact, what was looked at.
	Note string
}

// known returns a known fact.
func known[T any](v T, src Source, note string) Fact[T] {
	return Fact[T]{Value: v, Known: true, Source: src, Note: note}
}

// unknown returns a fact nobody could source; note says what was looked
// at.
func unknown[T any](note string) Fact[T] {
	return Fact[T]{Note: note}
}

// ExpiresIn says how a provider's token answers carry expires_in, and
// what to assume when they do not.
type ExpiresIn struct {
	// Sent is true when every token answer carries expires_in.
	Sent bool
	// Assume is the lifetime to give an access token whose answer has no
	// expires_in; zero means none: the token gets no Expiry, and is
	// refreshed once the API rejects it.
	Assume time.Duration
}

// A Provider is what the catalog knows of one OAuth2 provider: where its
// endpoints are, how clients authenticate, and the lifecycle of its
// grants, each lifecycle fact with its source. Get one with Lookup or All;
// do not modify it.
type Provider struct {
	// ID names the provider in Lookup: lowercase, such as "github".
	ID string
	// Name is the provider's name for people, such as "GitHub (OAuth App)".
	Name string
	// Docs is the provider's main OAuth2 documentation page.
	Docs string

	// AuthURL and TokenURL are the authorization and token endpoints.
	// They may hold placeholders in braces, such as {tenant} or {domain},
	// that Config.Vars fill, for providers with an endpoint per customer.
	AuthURL, TokenURL string
	// Revocation is the RFC 7009 revocation endpoint, with the same
	// placeholders as TokenURL; "" (known) when the provider has none,
	// and Note then says what it offers instead.
	Revocation Fact[string]
	// AuthMethod is how the client authenticates at the token endpoint.
	AuthMethod Fact[generic.AuthMethod]

	// Rotates is true when a refresh answer carries a new refresh token
	// and the old one stops working (after ReuseGrace).
	Rotates Fact[bool]
	// ReuseGrace is how long a rotated refresh token keeps working: zero
	// when it stops at once. It bounds the Refresher's
	// RotationGraceWindow.
	ReuseGrace Fact[time.Duration]
	// AccessLifetime is how long an access token lives; zero (known) when
	// it does not expire.
	AccessLifetime Fact[time.Duration]
	// IdleLifetime is how long a refresh token lives unused: a grant
	// idle for longer dies. Zero (known) when disuse does not end it.
	IdleLifetime Fact[time.Duration]
	// AbsoluteLifetime is how long a grant lives however it is used, from
	// the user's authorization; zero (known) when it has no limit.
	AbsoluteLifetime Fact[time.Duration]
	// RevokesOldAccess is true when a refresh revokes the access token it
	// replaces, so that requests still carrying it fail.
	RevokesOldAccess Fact[bool]
	// DeadGrant is how the token endpoint says a refresh token is dead,
	// beyond RFC 6749's invalid_grant: the Refresher uses it.
	DeadGrant Fact[generic.Dialect]
	// ExpiresIn says whether answers carry expires_in, and what to do
	// when they do not.
	ExpiresIn Fact[ExpiresIn]
	// KeepFields are the members of a token answer (or of the
	// authorization redirect) that must be kept with the token for the
	// API to be called, such as Salesforce's instance_url: the Refresher
	// carries them over from token to token.
	KeepFields Fact[[]string]
	// Throttle is the provider's documented limit on refreshes or token
	// requests, in words; "" (known) when it documents none.
	Throttle Fact[string]
}
