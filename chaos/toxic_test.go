package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// startProxy starts a TCP proxy in this process in front of upstream,
// through which one child reaches the store's server, and returns it.
func startProxy(t *testing.T, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	px := toxiproxy.NewProxy(srv, "chaos-store", "127.0.0.1:0", upstream)
	if err := px.Start(); err != nil {
		t.Fatalf("starting the store proxy: %v", err)
	}
	t.Cleanup(px.Stop)
	return px
}

// A toxicStep is one change of the proxy's toxics, at a time after the
// run's start.
type toxicStep struct {
	at     time.Duration
	what   string   // for the report
	add    []string // toxics as toxiproxy's JSON
	remove []string // names of toxics to remove
}

// cutSchedule slows one child's store connections, then stops all data on
// them, then resets every connection, then heals: the faulty child holds
// leases and refreshes while its store answers late, then not at all (its
// lease lapses and the others must take over), then refuses it outright.
var cutSchedule = []toxicStep{
	{at: 300 * time.Millisecond, what: "latency 300ms",
		add: []string{`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":300,"jitter":50}}`}},
	{at: 1300 * time.Millisecond, what: "no data (timeout)",
		add: []string{
			`{"name":"hole-up","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`,
			`{"name":"hole-down","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`,
		}},
	{at: 3300 * time.Millisecond, what: "reset_peer",
		remove: []string{"hole-up", "hole-down"},
		add:    []string{`{"name":"reset","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`}},
	{at: 4000 * time.Millisecond, what: "healed", remove: []string{"slow", "reset"}},
}

// runCut applies cutSchedule from start, and returns when the proxy is
// healed, with a line saying what it did.
func runCut(t *testing.T, px *toxiproxy.Proxy, start time.Time) (healed time.Time, what string) {
	t.Helper()
	var did []string
	for _, step := range cutSchedule {
		time.Sleep(time.Until(start.Add(step.at))) // the fault's own schedule
		for _, name := range step.remove {
			if err := px.Toxics.RemoveToxic(context.Background(), name); err != nil {
				t.Errorf("removing toxic %s: %v", name, err)
			}
		}
		for _, js := range step.add {
			if _, err := px.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
				t.Errorf("adding toxic %s: %v", js, err)
			}
		}
		did = append(did, fmt.Sprintf("%s@%.1fs", step.what, step.at.Seconds()))
	}
	return time.Now(), strings.Join(did, ",")
}

// answering returns when a store handle of its own, opened through the
// proxy at via once the cut has healed (at healed), first reads a key.
// The proxy passes everything from then on, but the store's server may
// still be working off the connections the cut process opened and lost
// during the cut (PostgreSQL forks a backend for each: a few hundred of
// them keep it from answering new ones for seconds on two cores), and no
// client can do better than reach it once it answers.
func answering(b backend, place, via string, healed time.Time) (time.Time, error) {
	give := healed.Add(20 * time.Second)
	var last error
	for time.Now().Before(give) {
		ctx, cancel := context.WithDeadline(context.Background(), give)
		err := func() error {
			store, closeStore, err := b.open(place, ttl, via)
			if err != nil {
				return err
			}
			defer closeStore()
			_, err = store.Load(ctx, keys[0])
			return err
		}()
		cancel()
		if err == nil {
			return time.Now(), nil
		}
		last = err
		time.Sleep(10 * time.Millisecond) // a new try; the server has no signal to wait for
	}
	return time.Time{}, fmt.Errorf("not in 20s: %w", last)
}
