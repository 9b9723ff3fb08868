package providers

import (
	"slices"
	"strings"
)

// catalog holds every provider, sorted by ID.
var catalog = func() []*Provider {
	all := slices.Concat(groupA, groupB)
	slices.SortFunc(all, func(a, b *Provider) int { return strings.Compare(a.ID, b.ID) })
	return all
}()

// All returns every provider of the catalog, sorted by ID. The Providers
// are shared: do not modify them.
func All() []*Provider { return slices.Clone(catalog) }

// Lookup returns the provider whose ID is id, and whether there is one.
func Lookup(id string) (*Provider, bool) {
	i, ok := slices.BinarySearchFunc(catalog, id, func(p *Provider, id string) int { return strings.Compare(p.ID, id) })
	if !ok {
		return nil, false
	}
	return catalog[i], true
}
