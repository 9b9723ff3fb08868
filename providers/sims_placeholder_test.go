package providers

// The simulator specs of the catalog's two halves, declared empty until
// sim_a_test.go and sim_b_test.go declare them; this file goes at the
// merge.
var (
	simsA = map[string]simSpec{}
	simsB = map[string]simSpec{}
)
