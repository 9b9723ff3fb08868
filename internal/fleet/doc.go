// Package fleet holds the fleet test: several real processes sharing one
// token store refresh a rotating grant without ever using a refresh token
// twice. It has no code besides its tests.
package fleet
