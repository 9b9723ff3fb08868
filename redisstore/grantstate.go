package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/redis/go-redis/v9"
)

// grantState is the JSON form of an [oauthrt.GrantState]; zero fields are
// left out, and times are UTC with nanoseconds (RFC 3339).
type grantState struct {
	DeadToken    string     `json:"dead_token,omitempty"`
	DeadCode     string     `json:"dead_code,omitempty"`
	DeadAt       *time.Time `json:"dead_at,omitempty"`
	NextAttempt  *time.Time `json:"next_attempt,omitempty"`
	Failures     int        `json:"failures,omitempty"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// LoadGrantState returns the key's grant state, or the zero
// [oauthrt.GrantState] and no error when none is kept. Its times come
// back in UTC, to the nanosecond.
func (s *Store) LoadGrantState(ctx context.Context, key string) (oauthrt.GrantState, error) {
	c, err := s.client()
	if err != nil {
		return oauthrt.GrantState{}, err
	}
	if err := ctx.Err(); err != nil {
		return oauthrt.GrantState{}, fmt.Errorf("oauthrt: redisstore: loading the grant state of key %q: %w", key, err)
	}
	b, err := c.Get(ctx, s.stateKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return oauthrt.GrantState{}, nil
	}
	if err != nil {
		return oauthrt.GrantState{}, fmt.Errorf("oauthrt: redisstore: loading the grant state of key %q: %w", key, err)
	}
	st, err := parseGrantState(key, b)
	if err != nil {
		return oauthrt.GrantState{}, fmt.Errorf("oauthrt: redisstore: %w", err)
	}
	return st, nil
}

// parseGrantState decodes the grant state b of key. Its error does not
// quote b.
func parseGrantState(key string, b []byte) (oauthrt.GrantState, error) {
	var g grantState
	if err := json.Unmarshal(b, &g); err != nil {
		return oauthrt.GrantState{}, fmt.Errorf("the grant state of key %q is not JSON (%T)", key, err)
	}
	return oauthrt.GrantState{
		DeadToken:    g.DeadToken,
		DeadCode:     g.DeadCode,
		DeadAt:       timeOrZero(g.DeadAt),
		NextAttempt:  timeOrZero(g.NextAttempt),
		Failures:     g.Failures,
		FailingSince: timeOrZero(g.FailingSince),
	}, nil
}

// SaveGrantState replaces the key's grant state with st, in one SET of a
// JSON object without expiry; the zero st deletes it. It leaves the key's
// token as it is, and takes keys that have none.
func (s *Store) SaveGrantState(ctx context.Context, key string, st oauthrt.GrantState) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: saving the grant state of key %q: %w", key, err)
	}
	sk := s.stateKey(key)
	if st.IsZero() {
		err = c.Del(ctx, sk).Err()
	} else {
		var b []byte
		b, err = json.Marshal(grantState{
			DeadToken:    st.DeadToken,
			DeadCode:     st.DeadCode,
			DeadAt:       utcOrNil(st.DeadAt),
			NextAttempt:  utcOrNil(st.NextAttempt),
			Failures:     st.Failures,
			FailingSince: utcOrNil(st.FailingSince),
		})
		if err == nil {
			err = c.Set(ctx, sk, b, 0).Err()
		}
	}
	if err != nil {
		return fmt.Errorf("oauthrt: redisstore: saving the grant state of key %q: %w", key, err)
	}
	return nil
}
