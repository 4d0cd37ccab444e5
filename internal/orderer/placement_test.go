package orderer

import (
	"testing"
	"time"
)

// arrivals records n envelopes through each consenter, in proportion.
func arrivals(p *placement, counts map[uint64]int) {
	for from, n := range counts {
		for range n {
			p.record(from)
		}
	}
}

// TestPlacement runs the leader's decision through sequences of windows:
// when a follower carries at least SharePercent of at least MinEnvelopes
// envelopes for Windows windows in a row, and only then, leadership goes
// to it.
func TestPlacement(t *testing.T) {
	const self, a, b = 1, 2, 3
	policy := placementPolicy{Window: time.Second, Windows: 3, MinEnvelopes: 60, SharePercent: 67}
	type window map[uint64]int
	cases := []struct {
		name    string
		windows []window
		want    []uint64 // the decision after each window
	}{
		{"one follower carries everything", []window{{a: 300}, {a: 300}, {a: 300}, {a: 300}}, []uint64{0, 0, a, 0}},
		{"67% is enough", []window{{a: 201, self: 99}, {a: 67, b: 33}, {a: 134, self: 66}}, []uint64{0, 0, a}},
		{"just under two thirds is not", []window{{a: 66, self: 34}, {a: 66, self: 34}, {a: 66, self: 34}, {a: 66, self: 34}}, []uint64{0, 0, 0, 0}},
		{"an idle channel stays", []window{{a: 59}, {a: 59}, {a: 59}, {a: 59}}, []uint64{0, 0, 0, 0}},
		{"a window of mixed traffic breaks the streak", []window{{a: 300}, {a: 300}, {a: 100, b: 100, self: 100}, {a: 300}, {a: 300}, {a: 300}}, []uint64{0, 0, 0, 0, 0, a}},
		{"an idle window breaks the streak", []window{{a: 300}, {a: 300}, {}, {a: 300}, {a: 300}}, []uint64{0, 0, 0, 0, 0}},
		{"another follower starts its own streak", []window{{a: 300}, {a: 300}, {b: 300}, {b: 300}, {b: 300}}, []uint64{0, 0, 0, 0, b}},
		{"the leader's own envelopes never move it", []window{{self: 300}, {self: 300}, {self: 300}, {self: 300}}, []uint64{0, 0, 0, 0}},
		{"a hand-over that did not happen doubles the windows the next needs",
			[]window{{a: 300}, {a: 300}, {a: 300}, {a: 300}, {a: 300}, {a: 300}, {a: 300}, {a: 300}, {a: 300}},
			[]uint64{0, 0, a, 0, 0, 0, 0, 0, a}},
	}
	for _, tc := range cases {
		t0 := time.Unix(1_800_000_000, 0)
		p := newPlacement(policy, self, t0)
		for i, w := range tc.windows {
			arrivals(p, w)
			// Before the window has lasted its length, nothing is decided
			// and the count goes on.
			if got := p.check(t0.Add(time.Duration(i)*time.Second + 999*time.Millisecond)); got != 0 {
				t.Errorf("%s: window %d decided %d before it ended", tc.name, i, got)
			}
			if got := p.check(t0.Add(time.Duration(i+1) * time.Second)); got != tc.want[i] {
				t.Errorf("%s: after window %d: %d, want %d", tc.name, i, got, tc.want[i])
			}
		}
	}
}

// TestPlacementDoesNotFlap plays a network whose traffic stays put: 70%
// of it through orderer 2, 30% through orderer 3, which leads first.
// Leadership moves to 2 once, and 2, leading, never hands it back.
func TestPlacementDoesNotFlap(t *testing.T) {
	policy := defaultPlacement
	now := time.Unix(1_800_000_000, 0)
	leader := uint64(3)
	p := newPlacement(policy, leader, now)
	var moves []uint64
	for range 100 {
		counts := map[uint64]int{2: 700, 3: 300}
		arrivals(p, counts)
		now = now.Add(policy.Window)
		if to := p.check(now); to != 0 {
			moves = append(moves, to)
			leader = to
			p = newPlacement(policy, leader, now) // the new leader's own count
		}
	}
	if len(moves) != 1 || moves[0] != 2 {
		t.Fatalf("leadership moved %v, want once, to 2", moves)
	}
}

// TestPlacementOffAndReset: a zero policy never decides; reset forgets a
// streak under way.
func TestPlacementOffAndReset(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	off := newPlacement(placementPolicy{}, 1, t0)
	for i := range 10 {
		arrivals(off, map[uint64]int{2: 1000})
		if got := off.check(t0.Add(time.Duration(i+1) * time.Hour)); got != 0 {
			t.Fatalf("a placement that is off decided %d", got)
		}
	}

	policy := placementPolicy{Window: time.Second, Windows: 3, MinEnvelopes: 60, SharePercent: 67}
	p := newPlacement(policy, 1, t0)
	for i := range 2 {
		arrivals(p, map[uint64]int{2: 100})
		p.check(t0.Add(time.Duration(i+1) * time.Second))
	}
	p.reset(t0.Add(2 * time.Second)) // leadership changed
	for i := range 2 {
		arrivals(p, map[uint64]int{2: 100})
		if got := p.check(t0.Add(time.Duration(i+3) * time.Second)); got != 0 {
			t.Fatalf("window %d after reset decided %d: the streak before survived", i, got)
		}
	}
	arrivals(p, map[uint64]int{2: 100})
	if got := p.check(t0.Add(5 * time.Second)); got != 2 {
		t.Fatalf("third window after reset: %d, want 2", got)
	}

	// The hand-over happened (leadership moved and came back): the next
	// needs three windows again, not six.
	p.reset(t0.Add(5 * time.Second))
	for i := range 3 {
		arrivals(p, map[uint64]int{2: 100})
		got := p.check(t0.Add(time.Duration(i+6) * time.Second))
		if want := map[bool]uint64{true: 2}[i == 2]; got != want {
			t.Fatalf("window %d after a hand-over that happened: %d, want %d", i, got, want)
		}
	}
}
