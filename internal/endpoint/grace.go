package endpoint

import (
	"time"

	"github.com/oauthrt/oauthrt"
)

// RotationGrace resolves a Refresher's rotation grace window as its field
// documents it: zero is [oauthrt.DefaultRotationGrace], and a negative
// value means the provider keeps none, which [oauthrt.RotationGracer]
// reads as 0.
func RotationGrace(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return oauthrt.DefaultRotationGrace
	case d < 0:
		return 0
	}
	return d
}
