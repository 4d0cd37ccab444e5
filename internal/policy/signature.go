package policy

import (
	"math/bits"
	"strconv"
	"strings"

	"github.com/chorusledger/chorus/internal/identity"
)

// Policy is anything signers can be checked against: a *SignaturePolicy, an
// *ImplicitPolicy, or a caller's own kind. Evaluate returns nil when the
// signers meet the policy and otherwise an error, a *NotSatisfiedError for
// the policies of this package. The signers' signatures must already have
// been verified. Implementations must be safe for concurrent use.
type Policy interface {
	Evaluate(signers []Signer) error
}

// SignaturePolicy is a validated signature expression ready to evaluate. It
// is immutable and safe for concurrent use.
type SignaturePolicy struct {
	expr       Expr // a private copy; never handed out
	text       string
	root       *node
	principals []Principal // distinct, in order of first appearance
	groups     []mspGroup  // principals by organization
	gateDepth  int         // gates on the longest path from the root
}

// node is one rule of the compiled tree.
type node struct {
	id        int // preorder index
	n         int // threshold of a gate
	principal int // a leaf's index in SignaturePolicy.principals
	rules     []*node
}

func (nd *node) leaf() bool { return nd.rules == nil }

// mspGroup lists the principals of one organization: at most one per role,
// so at most five.
type mspGroup struct {
	mspID   string
	members []int // indexes into SignaturePolicy.principals
	roles   []identity.Role
}

// ParseSignaturePolicy parses a signature expression such as
// AND('Org1MSP.peer','Org2MSP.peer') and returns it ready to evaluate.
func ParseSignaturePolicy(text string) (*SignaturePolicy, error) {
	e, err := Parse(text)
	if err != nil {
		return nil, err
	}
	return compile(e), nil
}

// MustParseSignaturePolicy is ParseSignaturePolicy for constant expressions
// in programs and tests: it panics if text does not parse.
func MustParseSignaturePolicy(text string) *SignaturePolicy {
	p, err := ParseSignaturePolicy(text)
	if err != nil {
		panic(err)
	}
	return p
}

// NewSignaturePolicy validates a syntax tree (see Validate) and returns it
// ready to evaluate. The policy keeps its own copy of the tree.
func NewSignaturePolicy(e Expr) (*SignaturePolicy, error) {
	if err := Validate(e); err != nil {
		return nil, err
	}
	return compile(e), nil
}

// compile builds the evaluation tree of a valid expression.
func compile(e Expr) *SignaturePolicy {
	p := &SignaturePolicy{expr: cloneExpr(e)}
	p.text = p.expr.String()
	index := make(map[Principal]int)
	var id int
	var build func(e Expr, depth int) *node
	build = func(e Expr, depth int) *node {
		nd := &node{id: id}
		id++
		switch e := e.(type) {
		case *SignedBy:
			i, ok := index[e.Principal]
			if !ok {
				i = len(p.principals)
				index[e.Principal] = i
				p.principals = append(p.principals, e.Principal)
			}
			nd.principal = i
		case *Gate:
			p.gateDepth = max(p.gateDepth, depth+1)
			nd.n = e.N
			nd.rules = make([]*node, len(e.Rules))
			for i, r := range e.Rules {
				nd.rules[i] = build(r, depth+1)
			}
		}
		return nd
	}
	p.root = build(p.expr, 0)
	for i, pr := range p.principals {
		g := -1
		for j := range p.groups {
			if p.groups[j].mspID == pr.MSPID {
				g = j
				break
			}
		}
		if g < 0 {
			g = len(p.groups)
			p.groups = append(p.groups, mspGroup{mspID: pr.MSPID})
		}
		p.groups[g].members = append(p.groups[g].members, i)
		p.groups[g].roles = append(p.groups[g].roles, pr.Role)
	}
	return p
}

// String returns the canonical text of the policy.
func (p *SignaturePolicy) String() string { return p.text }

// Expr returns a copy of the policy's syntax tree.
func (p *SignaturePolicy) Expr() Expr { return cloneExpr(p.expr) }

// Principals returns the distinct principals the policy names, in order of
// first appearance.
func (p *SignaturePolicy) Principals() []Principal {
	return append([]Principal(nil), p.principals...)
}

// Evaluate reports whether the signers meet the policy: nil if they do, a
// *NotSatisfiedError naming what was missing if they do not. Signers with
// the same ID count once, and each signer meets at most one principal (see
// the package documentation for the exact rule).
func (p *SignaturePolicy) Evaluate(signers []Signer) error {
	var buf [48]uint64
	ev := newEvaluation(p, signers, buf[:])

	// Fast path: Fabric's greedy assignment. When it succeeds an assignment
	// exists, so the policy is met.
	if ev.greedy(p.root, ev.rootUsed(), 0, nil, nil) {
		return nil
	}
	// If the policy fails even when signers may be reused, no assignment
	// can exist.
	if !ev.relaxed(p.root) {
		return ev.notSatisfied(nil)
	}
	// A second greedy assignment that gives each leaf the matching signer
	// of fewest uses settles most of what is left; then the exact search.
	weight := ev.weights()
	if ev.greedy(p.root, ev.rootUsed(), 0, nil, weight) {
		return nil
	}
	ok, err := ev.exact()
	if ok {
		return nil
	}
	return ev.notSatisfied(err)
}

// evaluation holds the state of one Evaluate call. Signers are numbered in
// the order given, skipping repeated IDs; sets of signers are bit sets of
// words uint64 each.
type evaluation struct {
	p       *SignaturePolicy
	words   int
	match   []uint64 // principal i is met by the signers in match[i*words:(i+1)*words]
	scratch []uint64 // the root's used set, then one temporary set per gate depth
}

// newEvaluation numbers the signers and computes which principals each
// meets. It uses buf for its bit sets when buf is large enough. (It returns
// a value, not a pointer, so that buf can stay on the caller's stack.)
func newEvaluation(p *SignaturePolicy, signers []Signer, buf []uint64) evaluation {
	ev := evaluation{p: p}
	ev.words = (len(signers) + 63) / 64
	if ev.words == 0 {
		ev.words = 1
	}
	need := ev.words * (len(p.principals) + 1 + p.gateDepth)
	if need > len(buf) {
		buf = make([]uint64, need)
	} else {
		buf = buf[:need]
		clear(buf)
	}
	ev.match = buf[:ev.words*len(p.principals)]
	ev.scratch = buf[ev.words*len(p.principals):]

	var seenSmall [16]string
	var seenMap map[string]struct{}
	seen := seenSmall[:0]
	if len(signers) > len(seenSmall) {
		seenMap = make(map[string]struct{}, len(signers))
	}
	bit := 0
	for _, s := range signers {
		if s == nil {
			continue
		}
		id := s.ID()
		if seenMap != nil {
			if _, dup := seenMap[id]; dup {
				continue
			}
			seenMap[id] = struct{}{}
		} else {
			dup := false
			for _, o := range seen {
				if o == id {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			seen = append(seen, id)
		}
		mspID := s.MSPID()
		for _, g := range p.groups {
			if g.mspID != mspID {
				continue
			}
			for k, i := range g.members {
				if r := g.roles[k]; r == identity.RoleMember || s.HasRole(r) {
					ev.match[i*ev.words+bit/64] |= 1 << (bit % 64)
				}
			}
			break
		}
		bit++
	}
	return ev
}

func (ev *evaluation) matchOf(i int) []uint64 { return ev.match[i*ev.words : (i+1)*ev.words] }

func (ev *evaluation) rootUsed() []uint64 {
	u := ev.scratch[:ev.words]
	clear(u)
	return u
}

func (ev *evaluation) level(depth int) []uint64 {
	return ev.scratch[(depth+1)*ev.words : (depth+2)*ev.words]
}

// greedy is Fabric's evaluation (cauthdsl): a leaf takes the first unused
// signer that matches it; a gate tries every rule in order, each on a copy
// of the used set, keeps the signers of the rules that were met, and is met
// if at least n were. If weight is not nil, a leaf takes instead the unused
// matching signer of least weight, the first of those if several. If sat is
// not nil it records each node's result.
func (ev *evaluation) greedy(nd *node, used []uint64, depth int, sat []bool, weight []int) bool {
	if nd.leaf() {
		m := ev.matchOf(nd.principal)
		pick := -1
		for w := range used {
			free := m[w] &^ used[w]
			if weight == nil {
				if free != 0 {
					pick = w*64 + bits.TrailingZeros64(free)
					break
				}
				continue
			}
			for ; free != 0; free &= free - 1 {
				b := w*64 + bits.TrailingZeros64(free)
				if pick < 0 || weight[b] < weight[pick] {
					pick = b
				}
			}
		}
		if pick < 0 {
			return false
		}
		used[pick/64] |= 1 << (pick % 64)
		if sat != nil {
			sat[nd.id] = true
		}
		return true
	}
	tmp := ev.level(depth)
	verified := 0
	for _, r := range nd.rules {
		copy(tmp, used)
		if ev.greedy(r, tmp, depth+1, sat, weight) {
			verified++
			copy(used, tmp)
		}
	}
	ok := verified >= nd.n
	if sat != nil {
		sat[nd.id] = ok
	}
	return ok
}

// weights returns, per signer, how many of the policy's distinct principals
// it matches.
func (ev *evaluation) weights() []int {
	weight := make([]int, ev.words*64)
	for i := range ev.p.principals {
		for w, m := range ev.matchOf(i) {
			for ; m != 0; m &= m - 1 {
				weight[w*64+bits.TrailingZeros64(m)]++
			}
		}
	}
	return weight
}

// relaxed evaluates the policy as if one signer could meet any number of
// principals.
func (ev *evaluation) relaxed(nd *node) bool {
	if nd.leaf() {
		for _, w := range ev.matchOf(nd.principal) {
			if w != 0 {
				return true
			}
		}
		return false
	}
	met := 0
	for i, r := range nd.rules {
		if ev.relaxed(r) {
			met++
			if met >= nd.n {
				return true
			}
		}
		if met+len(nd.rules)-i-1 < nd.n {
			return false
		}
	}
	return false
}

// notSatisfied explains a failed evaluation, following the greedy
// assignment that gives each leaf the matching signer of fewest uses.
func (ev *evaluation) notSatisfied(cause error) *NotSatisfiedError {
	sat := make([]bool, ev.p.countNodes())
	ev.greedy(ev.p.root, ev.rootUsed(), 0, sat, ev.weights())
	e := &NotSatisfiedError{Policy: ev.p.text}
	e.Detail = ev.explain(ev.p.root, sat, &e.Missing)
	if cause != nil {
		e.Detail += " (gave up: evaluation limit reached)"
		e.Causes = []error{cause}
	}
	return e
}

func (p *SignaturePolicy) countNodes() int {
	var count func(*node) int
	count = func(nd *node) int {
		c := 1
		for _, r := range nd.rules {
			c += count(r)
		}
		return c
	}
	return count(p.root)
}

// explain describes what an unmet node lacks and appends the principals of
// its unmet leaves to missing.
func (ev *evaluation) explain(nd *node, sat []bool, missing *[]Principal) string {
	if nd.leaf() {
		return "missing " + ev.missingLeaf(nd, missing)
	}
	var b strings.Builder
	var met, unmet []*node
	for _, r := range nd.rules {
		if sat[r.id] {
			met = append(met, r)
		} else {
			unmet = append(unmet, r)
		}
	}
	short := ev.p.nodeString
	if nd.n < len(nd.rules) {
		b.WriteString("need ")
		b.WriteString(strconv.Itoa(nd.n))
		b.WriteString(" of [")
		for i, r := range nd.rules {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(short(r))
		}
		b.WriteString("], have ")
		b.WriteString(strconv.Itoa(len(met)))
		if len(met) > 0 {
			b.WriteString(" (")
			for i, r := range met {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(short(r))
			}
			b.WriteByte(')')
		}
		b.WriteString("; ")
	}
	b.WriteString("missing ")
	switch lack := nd.n - len(met); {
	case lack == len(unmet):
	case lack == 1:
		b.WriteString("one of ")
	default:
		b.WriteString(strconv.Itoa(lack))
		b.WriteString(" of ")
	}
	for i, r := range unmet {
		if i > 0 {
			b.WriteString(", ")
		}
		if r.leaf() {
			b.WriteString(ev.missingLeaf(r, missing))
			continue
		}
		b.WriteString(short(r))
		b.WriteString(" [")
		b.WriteString(ev.explain(r, sat, missing))
		b.WriteByte(']')
	}
	return b.String()
}

// missingLeaf names an unmet leaf and records its principal.
func (ev *evaluation) missingLeaf(nd *node, missing *[]Principal) string {
	pr := ev.p.principals[nd.principal]
	*missing = appendPrincipals(*missing, pr)
	if ev.relaxed(nd) {
		// A matching signer exists but was counted for another principal.
		return pr.String() + " (each signer counts once)"
	}
	return pr.String()
}

// nodeString names a rule in messages: a principal without quotes, a gate
// in canonical form.
func (p *SignaturePolicy) nodeString(nd *node) string {
	if nd.leaf() {
		return p.principals[nd.principal].String()
	}
	var b strings.Builder
	writeExpr(&b, p.nodeExpr(nd))
	return b.String()
}

// nodeExpr rebuilds the syntax tree of a compiled node.
func (p *SignaturePolicy) nodeExpr(nd *node) Expr {
	if nd.leaf() {
		return &SignedBy{Principal: p.principals[nd.principal]}
	}
	g := &Gate{N: nd.n, Rules: make([]Expr, len(nd.rules))}
	for i, r := range nd.rules {
		g.Rules[i] = p.nodeExpr(r)
	}
	return g
}
