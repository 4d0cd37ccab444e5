package orderer

import "time"

// placementPolicy says when a Raft leader hands leadership to the follower
// through which most of the channel's envelopes reach it. A follower that
// admits an envelope forwards it to the leader: one more message on both,
// and in series K of docs/performance.md 45 to 95 µs more CPU per
// transaction over the three orderers than when the orderer the Gateways
// submit to leads. Gateways keep to one orderer while it answers, so on
// most networks one orderer receives nearly every envelope.
type placementPolicy struct {
	// Window is how long each count of arrivals lasts.
	Window time.Duration
	// Windows is how many windows in a row one follower must dominate;
	// zero turns placement off.
	Windows int
	// MinEnvelopes is the fewest envelopes a window must count to be
	// judged: an idle channel stays where it is.
	MinEnvelopes int
	// SharePercent is the part of a window's envelopes, in percent, that
	// must arrive through one follower for it to dominate. Above 50, at
	// most one follower dominates, and the old leader, which then forwards
	// at most 100-SharePercent percent, cannot take leadership back unless
	// the traffic itself moves.
	SharePercent int
}

// defaultPlacement hands leadership over after 6 s in which at least two
// thirds of at least 20 envelopes a second came through one follower.
var defaultPlacement = placementPolicy{Window: 2 * time.Second, Windows: 3, MinEnvelopes: 40, SharePercent: 67}

// placement counts, on a leader, through which consenter each envelope
// arrived, and decides when to hand leadership over. It is used by one
// goroutine, the cutting loop, and reads no clock: the loop passes the
// time.
type placement struct {
	policy placementPolicy
	self   uint64

	windowStart time.Time
	total       int
	via         map[uint64]int
	// candidate dominated the last streak windows.
	candidate uint64
	streak    int
	// handovers counts the hand-overs decided since this node gained
	// leadership: as the count restarts when leadership moves, any still
	// counted did not happen (the follower could not take it), and each
	// doubles the windows the next one needs.
	handovers int
}

func newPlacement(policy placementPolicy, self uint64, now time.Time) *placement {
	return &placement{policy: policy, self: self, windowStart: now, via: map[uint64]int{}}
}

// reset starts counting afresh, as when this node gains or loses
// leadership.
func (p *placement) reset(now time.Time) {
	p.windowStart, p.total = now, 0
	clear(p.via)
	p.candidate, p.streak = 0, 0
	p.handovers = 0
}

// record counts one envelope that reached the cutter from consenter from
// (this node's own id for an envelope it admitted itself).
func (p *placement) record(from uint64) {
	p.total++
	p.via[from]++
}

// check ends the current window if it has lasted policy.Window, and
// returns the follower to hand leadership to once one has dominated
// policy.Windows windows in a row (twice as many after each hand-over that
// did not happen); 0 otherwise.
func (p *placement) check(now time.Time) uint64 {
	if p.policy.Windows <= 0 || now.Sub(p.windowStart) < p.policy.Window {
		return 0
	}
	var dominant uint64
	if p.total >= p.policy.MinEnvelopes {
		for id, n := range p.via {
			if id != p.self && n*100 >= p.policy.SharePercent*p.total {
				dominant = id
			}
		}
	}
	switch {
	case dominant == 0:
		p.candidate, p.streak = 0, 0
	case dominant == p.candidate:
		p.streak++
	default:
		p.candidate, p.streak = dominant, 1
	}
	p.windowStart, p.total = now, 0
	clear(p.via)
	if p.streak >= p.policy.Windows<<min(p.handovers, maxHandoverBackoff) {
		p.candidate, p.streak = 0, 0
		p.handovers++
		return dominant
	}
	return 0
}

// maxHandoverBackoff caps the doubling after hand-overs that did not
// happen: at most 2^5 = 32 times the windows.
const maxHandoverBackoff = 5
