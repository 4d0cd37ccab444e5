package policy

import "math/bits"

// maxExactWork bounds the work of one exact evaluation, counted in vector
// element operations: about 4 million, a few milliseconds.
const maxExactWork = 1 << 22

// demand counts, per distinct principal of the policy, how many of its
// leaves a set of met leaves holds.
type demand []int32

// exactSearch decides whether some assignment of distinct signers to leaves
// meets the policy, when Fabric's greedy assignment did not find one.
//
// A set of leaves can be given distinct signers exactly when its demand
// vector d passes Hall's condition: for every organization and every set T
// of that organization's principals, the leaves of T number no more than
// the signers that match some principal of T. (A signer only ever matches
// principals of its own organization, and leaves with the same principal
// are interchangeable, so these are all of Hall's sets that matter.)
// Feasible demands are closed downward, and the policy is monotone, so it
// is enough to compute, bottom up, the minimal feasible demands that meet
// each rule: a leaf's is its unit vector; a gate's come from adding the
// demands of n of its rules, like a 0/1 knapsack over the rules, keeping
// only feasible and minimal sums. The policy is met when the root has one.
type exactSearch struct {
	ev   *evaluation
	t    int     // distinct principals
	caps [][]int // caps[g][mask]: signers matching some principal of group g in mask
	work int
}

func (ev *evaluation) exact() (bool, error) {
	p := ev.p
	x := &exactSearch{ev: ev, t: len(p.principals), caps: make([][]int, len(p.groups))}
	union := make([]uint64, ev.words)
	for g, grp := range p.groups {
		caps := make([]int, 1<<len(grp.members))
		for mask := 1; mask < len(caps); mask++ {
			clear(union)
			for k, i := range grp.members {
				if mask&(1<<k) != 0 {
					for w, m := range ev.matchOf(i) {
						union[w] |= m
					}
				}
			}
			for _, w := range union {
				caps[mask] += bits.OnesCount64(w)
			}
		}
		x.caps[g] = caps
	}
	sets, err := x.minimal(p.root)
	if err != nil {
		return false, err
	}
	return len(sets) > 0, nil
}

func (x *exactSearch) spend(units int) error {
	x.work += units
	if x.work > maxExactWork {
		return ErrEvaluationLimit
	}
	return nil
}

// minimal returns the minimal feasible demands that meet nd.
func (x *exactSearch) minimal(nd *node) ([]demand, error) {
	if nd.leaf() {
		if !x.ev.relaxed(nd) {
			return nil, nil
		}
		d := make(demand, x.t)
		d[nd.principal] = 1
		return []demand{d}, nil
	}
	var children [][]demand
	for _, r := range nd.rules {
		s, err := x.minimal(r)
		if err != nil {
			return nil, err
		}
		if len(s) > 0 {
			children = append(children, s)
		}
	}
	if len(children) < nd.n {
		return nil, nil
	}
	// byCount[k] holds the minimal feasible demands meeting k of the rules
	// seen so far.
	byCount := make([][]demand, nd.n+1)
	byCount[0] = []demand{make(demand, x.t)}
	for j, c := range children {
		for k := min(j+1, nd.n); k >= 1; k-- {
			for _, a := range byCount[k-1] {
				for _, b := range c {
					if err := x.spend(x.t); err != nil {
						return nil, err
					}
					sum := make(demand, x.t)
					for i := range sum {
						sum[i] = a[i] + b[i]
					}
					if !x.feasible(sum, b) {
						continue
					}
					var err error
					if byCount[k], err = x.insert(byCount[k], sum); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return byCount[nd.n], nil
}

// feasible checks Hall's condition for d, which is a feasible demand plus
// added: only the organizations that added touches need checking.
func (x *exactSearch) feasible(d, added demand) bool {
	for g, grp := range x.ev.p.groups {
		touched := false
		for _, i := range grp.members {
			if added[i] != 0 {
				touched = true
				break
			}
		}
		if !touched {
			continue
		}
		caps := x.caps[g]
		for mask := 1; mask < len(caps); mask++ {
			var need int32
			for k, i := range grp.members {
				if mask&(1<<k) != 0 {
					need += d[i]
				}
			}
			if int(need) > caps[mask] {
				return false
			}
		}
	}
	return true
}

// insert adds d to a set of pairwise incomparable demands, unless the set
// holds one at most d, and drops those that d is at most.
func (x *exactSearch) insert(set []demand, d demand) ([]demand, error) {
	if err := x.spend(len(set) * x.t); err != nil {
		return nil, err
	}
	for _, o := range set {
		if lessEq(o, d) {
			return set, nil
		}
	}
	kept := set[:0]
	for _, o := range set {
		if !lessEq(d, o) {
			kept = append(kept, o)
		}
	}
	return append(kept, d), nil
}

func lessEq(a, b demand) bool {
	for i := range a {
		if a[i] > b[i] {
			return false
		}
	}
	return true
}
