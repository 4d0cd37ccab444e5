package bench

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// latencyOf summarizes durations (sorted in place) by nearest rank.
func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		P50: ms(percentile(ds, 50)), P95: ms(percentile(ds, 95)), P99: ms(percentile(ds, 99)),
		Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds))),
	}
}

// percentile returns the nearest-rank p-th percentile of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	return ds[max(0, min(rank-1, len(ds)-1))]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// Phases splits the latency of committed transactions into the steps of
// the Gateway flow, in milliseconds.
type Phases struct {
	// Queued is from when the transaction was due to when it was sent:
	// zero in a closed loop; at a fixed rate, the wait for a free worker.
	Queued Latency `json:"queued"`
	// Endorse is the Gateway's Endorse call: simulation on the endorsing
	// peers and the endorsements' collection.
	Endorse Latency `json:"endorse"`
	// Order is the Gateway's Submit call, which returns once an orderer
	// has the transaction's block durable.
	Order Latency `json:"order"`
	// Commit is the wait for the commit status: the peer's validation
	// and commit of the block.
	Commit Latency `json:"commit"`
}

// Second is one second of a run, by the time transactions finished.
type Second struct {
	// T is the second's start, from the start of the measured window
	// (negative during the warm-up).
	T         int     `json:"t"`
	Sent      int     `json:"sent"`
	Committed int     `json:"committed"`
	Failed    int     `json:"failed"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
}

// summary is the measured part of a phase.
type summary struct {
	submitted, committed, failed int
	byCode                       map[string]int
	examples                     map[string]string // one message per failure code
	tps                          float64
	window                       time.Duration // from the window's start to the last measured answer
	latency                      Latency       // of committed (valid) transactions
	phases                       *Phases       // of committed submitted transactions
	series                       []Second
}

// summarize computes the figures of a phase's measured transactions and
// the per-second series of all of them.
func summarize(pr *phaseResult) summary {
	s := summary{byCode: map[string]int{}, examples: map[string]string{}}
	var lat, queued, endorse, order, commit []time.Duration
	var last time.Duration
	for i := range pr.results {
		r := &pr.results[i]
		if !r.measured {
			continue
		}
		s.submitted++
		last = max(last, r.done)
		if r.outcome == outcomeValid {
			s.committed++
			lat = append(lat, r.latency())
			if r.ordered > 0 {
				queued = append(queued, r.sent-r.due)
				endorse = append(endorse, r.endorsed-r.sent)
				order = append(order, r.ordered-r.endorsed)
				commit = append(commit, r.done-r.ordered)
			}
			continue
		}
		s.failed++
		s.byCode[r.outcome]++
		if _, ok := s.examples[r.outcome]; !ok {
			s.examples[r.outcome] = r.err
		}
	}
	if last > pr.warmEnd {
		s.window = last - pr.warmEnd
		s.tps = round(float64(s.committed)/s.window.Seconds(), 1)
	}
	s.latency = latencyOf(lat)
	if len(order) > 0 {
		s.phases = &Phases{Queued: latencyOf(queued), Endorse: latencyOf(endorse), Order: latencyOf(order), Commit: latencyOf(commit)}
	}
	s.series = series(pr)
	return s
}

// series bins every transaction of a phase by the second it finished in
// (sent: by the second it was due).
func series(pr *phaseResult) []Second {
	type bin struct {
		Second
		lat []time.Duration
	}
	bins := map[int]*bin{}
	get := func(t time.Duration) *bin {
		k := int(math.Floor((t - pr.warmEnd).Seconds()))
		b := bins[k]
		if b == nil {
			b = &bin{Second: Second{T: k}}
			bins[k] = b
		}
		return b
	}
	for i := range pr.results {
		r := &pr.results[i]
		get(r.due).Sent++
		b := get(r.done)
		if r.outcome == outcomeValid {
			b.Committed++
			b.lat = append(b.lat, r.latency())
		} else {
			b.Failed++
		}
	}
	keys := make([]int, 0, len(bins))
	for k := range bins {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]Second, 0, len(keys))
	for _, k := range keys {
		b := bins[k]
		if len(b.lat) > 0 {
			slices.Sort(b.lat)
			b.P50, b.P99 = ms(percentile(b.lat, 50)), ms(percentile(b.lat, 99))
		}
		out = append(out, b.Second)
	}
	return out
}
