package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/identity"
)

func TestEvaluate(t *testing.T) {
	const (
		and12   = `AND('Org1MSP.peer','Org2MSP.peer')`
		twoOf3  = `OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')`
		nestedP = `OR('Org1MSP.member',AND('Org2MSP.admin','Org3MSP.client'))`
	)
	tests := []struct {
		name    string
		policy  string
		signers []string
		// err is the whole error text, or "" when the policy is met.
		err     string
		missing []string
	}{
		{name: "AND met", policy: and12, signers: []string{"Org1MSP.peer", "Org2MSP.peer"}},
		{name: "AND met in any order", policy: and12, signers: []string{"Org2MSP.peer", "Org1MSP.peer"}},
		{
			name: "AND missing one", policy: and12, signers: []string{"Org1MSP.peer"},
			err:     "policy: AND('Org1MSP.peer','Org2MSP.peer') not satisfied: missing Org2MSP.peer",
			missing: []string{"Org2MSP.peer"},
		},
		{
			name: "AND missing both", policy: and12, signers: nil,
			err:     "policy: AND('Org1MSP.peer','Org2MSP.peer') not satisfied: missing Org1MSP.peer, Org2MSP.peer",
			missing: []string{"Org1MSP.peer", "Org2MSP.peer"},
		},
		{
			name: "wrong role", policy: and12, signers: []string{"Org1MSP.peer", "Org2MSP.client"},
			err:     "policy: AND('Org1MSP.peer','Org2MSP.peer') not satisfied: missing Org2MSP.peer",
			missing: []string{"Org2MSP.peer"},
		},
		{
			name: "one signer counts once", policy: `AND('Org1MSP.peer','Org1MSP.peer')`, signers: []string{"Org1MSP.peer"},
			err:     "policy: AND('Org1MSP.peer','Org1MSP.peer') not satisfied: missing Org1MSP.peer (each signer counts once)",
			missing: []string{"Org1MSP.peer"},
		},
		{
			name: "the same identity twice counts once", policy: `AND('Org1MSP.peer','Org1MSP.peer')`,
			signers: []string{"Org1MSP.peer", "Org1MSP.peer"},
			err:     "policy: AND('Org1MSP.peer','Org1MSP.peer') not satisfied: missing Org1MSP.peer (each signer counts once)",
			missing: []string{"Org1MSP.peer"},
		},
		{name: "two identities with one role", policy: `AND('Org1MSP.peer','Org1MSP.peer')`, signers: []string{"Org1MSP.peer", "Org1MSP.peer#2"}},
		{
			name: "one identity with two roles counts once", policy: `AND('Org1MSP.admin','Org1MSP.peer')`,
			signers: []string{"Org1MSP.admin+peer"},
			err:     "policy: AND('Org1MSP.admin','Org1MSP.peer') not satisfied: missing Org1MSP.peer (each signer counts once)",
			missing: []string{"Org1MSP.peer"},
		},
		{name: "identities with two roles", policy: `AND('Org1MSP.admin','Org1MSP.peer')`, signers: []string{"Org1MSP.admin+peer", "Org1MSP.peer"}},
		{name: "OR met by the second rule", policy: `OR('Org1MSP.peer','Org2MSP.peer')`, signers: []string{"Org2MSP.peer"}},
		{
			name: "OR met by none", policy: `OR('Org1MSP.peer','Org2MSP.peer')`, signers: []string{"Org3MSP.peer"},
			err:     "policy: OR('Org1MSP.peer','Org2MSP.peer') not satisfied: need 1 of [Org1MSP.peer Org2MSP.peer], have 0; missing one of Org1MSP.peer, Org2MSP.peer",
			missing: []string{"Org1MSP.peer", "Org2MSP.peer"},
		},
		{
			name: "OR of one", policy: `OR('Org1MSP.admin')`, signers: []string{"Org1MSP.client"},
			err:     "policy: OR('Org1MSP.admin') not satisfied: missing Org1MSP.admin",
			missing: []string{"Org1MSP.admin"},
		},
		{name: "OutOf met", policy: twoOf3, signers: []string{"Org3MSP.peer", "Org1MSP.peer"}},
		{name: "OutOf met by more than enough", policy: twoOf3, signers: []string{"Org3MSP.peer", "Org1MSP.peer", "Org2MSP.peer"}},
		{
			name: "OutOf short by one", policy: twoOf3, signers: []string{"Org1MSP.peer"},
			err:     "policy: OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer') not satisfied: need 2 of [Org1MSP.peer Org2MSP.peer Org3MSP.peer], have 1 (Org1MSP.peer); missing one of Org2MSP.peer, Org3MSP.peer",
			missing: []string{"Org2MSP.peer", "Org3MSP.peer"},
		},
		{
			name: "OutOf short by two", policy: `OutOf(2,'A.peer','B.peer','C.peer')`, signers: nil,
			err:     "policy: OutOf(2,'A.peer','B.peer','C.peer') not satisfied: need 2 of [A.peer B.peer C.peer], have 0; missing 2 of A.peer, B.peer, C.peer",
			missing: []string{"A.peer", "B.peer", "C.peer"},
		},
		{
			name: "OutOf short by all it lacks", policy: `OutOf(3,'A.peer','B.peer','C.peer','D.peer')`, signers: []string{"A.peer", "B.peer"},
			err:     "policy: OutOf(3,'A.peer','B.peer','C.peer','D.peer') not satisfied: need 3 of [A.peer B.peer C.peer D.peer], have 2 (A.peer, B.peer); missing one of C.peer, D.peer",
			missing: []string{"C.peer", "D.peer"},
		},
		{name: "member is any role", policy: `AND('Org1MSP.member','Org2MSP.member')`, signers: []string{"Org1MSP.client", "Org2MSP.orderer"}},
		{
			name: "member is of its own organization", policy: `OR('Org1MSP.member')`, signers: []string{"Org2MSP.admin"},
			err:     "policy: OR('Org1MSP.member') not satisfied: missing Org1MSP.member",
			missing: []string{"Org1MSP.member"},
		},
		{
			name: "a role is not member", policy: `OR('Org1MSP.admin')`, signers: []string{"Org1MSP.peer"},
			err:     "policy: OR('Org1MSP.admin') not satisfied: missing Org1MSP.admin",
			missing: []string{"Org1MSP.admin"},
		},
		{name: "nested met by the leaf", policy: nestedP, signers: []string{"Org1MSP.client"}},
		{name: "nested met by the gate", policy: nestedP, signers: []string{"Org3MSP.client", "Org2MSP.admin"}},
		{
			name: "nested not met", policy: nestedP, signers: []string{"Org2MSP.admin"},
			err: "policy: OR('Org1MSP.member',AND('Org2MSP.admin','Org3MSP.client')) not satisfied: " +
				"need 1 of [Org1MSP.member AND('Org2MSP.admin','Org3MSP.client')], have 0; " +
				"missing one of Org1MSP.member, AND('Org2MSP.admin','Org3MSP.client') [missing Org3MSP.client]",
			missing: []string{"Org1MSP.member", "Org3MSP.client"},
		},
		{
			name: "AND of gates", policy: `AND(OR('A.peer','B.peer'),OR('C.peer','D.peer'))`, signers: []string{"B.peer"},
			err: "policy: AND(OR('A.peer','B.peer'),OR('C.peer','D.peer')) not satisfied: " +
				"missing OR('C.peer','D.peer') [need 1 of [C.peer D.peer], have 0; missing one of C.peer, D.peer]",
			missing: []string{"C.peer", "D.peer"},
		},
		{
			name: "lone principal", policy: `'Org1MSP.peer'`, signers: []string{"Org1MSP.admin"},
			err:     "policy: 'Org1MSP.peer' not satisfied: missing Org1MSP.peer",
			missing: []string{"Org1MSP.peer"},
		},
		{
			name: "missing principals are listed once", policy: `AND(OR('A.peer','B.peer'),OR('B.peer','A.peer'))`, signers: nil,
			missing: []string{"A.peer", "B.peer"},
			err:     "policy: AND(OR('A.peer','B.peer'),OR('B.peer','A.peer')) not satisfied: missing OR('A.peer','B.peer') [need 1 of [A.peer B.peer], have 0; missing one of A.peer, B.peer], OR('B.peer','A.peer') [need 1 of [B.peer A.peer], have 0; missing one of B.peer, A.peer]",
		},

		// Fabric's greedy evaluation rejects these; an assignment exists.
		{
			name: "member takes the peer first", policy: `AND('Org1MSP.member','Org1MSP.peer')`,
			signers: []string{"Org1MSP.peer", "Org1MSP.admin"},
		},
		{
			name: "a met OR keeps more signers than it needs", policy: `AND(OR('A.member','A.peer'),'A.peer')`,
			signers: []string{"A.peer", "A.peer#2"},
		},
		{
			name: "exact search rejects", policy: `AND('Org1MSP.member','Org1MSP.peer','Org1MSP.peer')`,
			signers: []string{"Org1MSP.peer", "Org1MSP.admin"},
			err:     "policy: AND('Org1MSP.member','Org1MSP.peer','Org1MSP.peer') not satisfied: missing Org1MSP.peer (each signer counts once)",
			missing: []string{"Org1MSP.peer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseSignaturePolicy(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Evaluate(signers(t, tt.signers...))
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Evaluate = nil, want %s", tt.err)
			}
			if err.Error() != tt.err {
				t.Errorf("Evaluate =\n\t%s\nwant\n\t%s", err, tt.err)
			}
			var ns *NotSatisfiedError
			if !errors.As(err, &ns) {
				t.Fatalf("error is %T, want *NotSatisfiedError", err)
			}
			if ns.Policy != p.String() {
				t.Errorf("Policy = %q", ns.Policy)
			}
			if got := strings.Join(principalStrings(ns.Missing), " "); got != strings.Join(tt.missing, " ") {
				t.Errorf("Missing = %s, want %s", got, strings.Join(tt.missing, " "))
			}
		})
	}
}

func TestEvaluateSkipsNilSigners(t *testing.T) {
	p := MustParseSignaturePolicy(`OR('A.peer')`)
	if err := p.Evaluate([]Signer{nil, signer(t, "A.peer"), nil}); err != nil {
		t.Fatal(err)
	}
}

func TestEvaluateManySigners(t *testing.T) {
	// More than 16 signers (deduplicated through a map) and more than 64
	// (several words per bit set), with the exact search needed: the member
	// leaves take the peer first in Fabric's order.
	const n = 70
	rules := []Expr{Signed("A", identity.RolePeer)}
	for range n - 1 {
		rules = append(rules, Signed("A", identity.RoleMember))
	}
	rules[0], rules[n-1] = rules[n-1], rules[0]
	p, err := NewSignaturePolicy(And(rules...))
	if err != nil {
		t.Fatal(err)
	}
	specs := []string{"A.peer"}
	for i := range n - 1 {
		specs = append(specs, fmt.Sprintf("A.admin#%d", i))
	}
	all := signers(t, specs...)
	all = append(all, all...) // every identity twice
	if err := p.Evaluate(all); err != nil {
		t.Fatalf("%d distinct signers: %v", n, err)
	}
	if greedyFabric(t, p, all) {
		t.Fatalf("expected Fabric's order to fail here, so that the exact search runs")
	}
	err = p.Evaluate(all[1:n])
	var ns *NotSatisfiedError
	if !errors.As(err, &ns) || len(ns.Missing) != 1 || ns.Missing[0].String() != "A.peer" {
		t.Fatalf("without the peer: %v", err)
	}
}

func TestEvaluationLimit(t *testing.T) {
	// 20 organizations with one peer each. Ten members and eleven peers need
	// 21 distinct signers, so no assignment exists; but every rule can be met
	// on its own, and the first OutOf has C(20,10) minimal ways to be met.
	var members, peers []Expr
	var specs []string
	for i := range 20 {
		msp := fmt.Sprintf("Org%dMSP", i)
		members = append(members, Signed(msp, identity.RoleMember))
		peers = append(peers, Signed(msp, identity.RolePeer))
		specs = append(specs, msp+".peer")
	}
	p, err := NewSignaturePolicy(And(OutOf(10, members...), OutOf(11, peers...)))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Evaluate(signers(t, specs...))
	var ns *NotSatisfiedError
	if !errors.As(err, &ns) || !errors.Is(err, ErrEvaluationLimit) {
		t.Fatalf("Evaluate = %v, want a NotSatisfiedError matching ErrEvaluationLimit", err)
	}
	if !strings.Contains(err.Error(), "gave up: evaluation limit reached") {
		t.Errorf("error does not say it gave up: %v", err)
	}
}

// TestEvaluateAgainstOracle compares Evaluate on random small policies and
// signer sets with a brute-force search over every assignment, and checks
// that everything Fabric's greedy evaluation accepts is accepted.
func TestEvaluateAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	msps := []string{"A", "B"}
	randPrincipal := func() Principal {
		return Principal{MSPID: msps[rng.IntN(len(msps))], Role: identity.Role(rng.IntN(5))}
	}
	var randExpr func(depth int, budget *int) Expr
	randExpr = func(depth int, budget *int) Expr {
		if depth >= 3 || *budget <= 1 || rng.IntN(3) == 0 {
			*budget--
			return &SignedBy{Principal: randPrincipal()}
		}
		k := 1 + rng.IntN(3)
		var rules []Expr
		for range k {
			if *budget <= 0 {
				break
			}
			rules = append(rules, randExpr(depth+1, budget))
		}
		return OutOf(1+rng.IntN(len(rules)), rules...)
	}
	cases := 20000
	if testing.Short() {
		cases = 2000
	}
	var accepted, greedyRejected, exactOnly int
	for i := range cases {
		budget := 6
		p, err := NewSignaturePolicy(randExpr(0, &budget))
		if err != nil {
			t.Fatal(err)
		}
		var ss []Signer
		for j := range rng.IntN(5) {
			s := &fakeSigner{id: fmt.Sprint(j), msp: msps[rng.IntN(len(msps))]}
			for r := identity.RoleAdmin; r <= identity.RoleOrderer; r++ {
				if rng.IntN(3) == 0 {
					s.roles = append(s.roles, r)
				}
			}
			ss = append(ss, s)
			if rng.IntN(6) == 0 {
				ss = append(ss, s) // a repeated identity
			}
		}
		rng.Shuffle(len(ss), func(a, b int) { ss[a], ss[b] = ss[b], ss[a] })

		want := oracle(p, ss)
		err = p.Evaluate(ss)
		if (err == nil) != want {
			t.Fatalf("case %d: %s with %s: Evaluate = %v, oracle says met = %v", i, p, describeSigners(ss), err, want)
		}
		// The exact search on its own, without the greedy fast paths.
		ev := newEvaluation(p, ss, nil)
		if ev.relaxed(p.root) {
			exact, xerr := ev.exact()
			if xerr != nil || exact != want {
				t.Fatalf("case %d: %s with %s: exact search = %v, %v; oracle says %v", i, p, describeSigners(ss), exact, xerr, want)
			}
			if exact && !ev.greedy(p.root, ev.rootUsed(), 0, nil, ev.weights()) && !ev.greedy(p.root, ev.rootUsed(), 0, nil, nil) {
				exactOnly++
			}
		} else if want {
			t.Fatalf("case %d: %s with %s: relaxed evaluation rejects, oracle accepts", i, p, describeSigners(ss))
		}
		greedy := greedyFabric(t, p, ss)
		if greedy && err != nil {
			t.Fatalf("case %d: %s with %s: Fabric accepts, Evaluate = %v", i, p, describeSigners(ss), err)
		}
		if want {
			accepted++
			if !greedy {
				greedyRejected++
			}
		}
		if err != nil {
			var ns *NotSatisfiedError
			if !errors.As(err, &ns) || len(ns.Missing) == 0 || errors.Is(err, ErrEvaluationLimit) {
				t.Fatalf("case %d: %s with %s: bad error %v", i, p, describeSigners(ss), err)
			}
		}
	}
	t.Logf("%d of %d cases met; %d of those rejected by Fabric's greedy order, %d found only by the exact search", accepted, cases, greedyRejected, exactOnly)
	if accepted == 0 || accepted == cases || greedyRejected == 0 || exactOnly == 0 {
		t.Fatalf("the random cases do not exercise every path")
	}
}

func describeSigners(ss []Signer) string {
	var parts []string
	for _, s := range ss {
		f := s.(*fakeSigner)
		var roles []string
		for _, r := range f.roles {
			roles = append(roles, r.String())
		}
		parts = append(parts, fmt.Sprintf("%s:%s.%s", f.id, f.msp, strings.Join(roles, "+")))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// oracle tries every assignment of distinct signers to leaves.
func oracle(p *SignaturePolicy, ss []Signer) bool {
	var distinct []Signer
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s.ID()] {
			seen[s.ID()] = true
			distinct = append(distinct, s)
		}
	}
	var leaves []*SignedBy
	var collect func(Expr)
	collect = func(e Expr) {
		switch e := e.(type) {
		case *SignedBy:
			leaves = append(leaves, e)
		case *Gate:
			for _, r := range e.Rules {
				collect(r)
			}
		}
	}
	root := p.Expr()
	collect(root)
	met := make(map[*SignedBy]bool)
	var eval func(Expr) bool
	eval = func(e Expr) bool {
		switch e := e.(type) {
		case *SignedBy:
			return met[e]
		case *Gate:
			c := 0
			for _, r := range e.Rules {
				if eval(r) {
					c++
				}
			}
			return c >= e.N
		}
		return false
	}
	used := make([]bool, len(distinct))
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(leaves) {
			return eval(root)
		}
		if try(i + 1) { // leaf i unassigned
			return true
		}
		for j, s := range distinct {
			if !used[j] && leaves[i].Principal.SatisfiedBy(s) {
				used[j], met[leaves[i]] = true, true
				ok := try(i + 1)
				used[j], met[leaves[i]] = false, false
				if ok {
					return true
				}
			}
		}
		return false
	}
	return try(0)
}

// greedyFabric is Fabric's cauthdsl evaluation written out independently:
// deduplicated signers in order, a leaf takes the first unused match, a
// gate evaluates every rule on a copy and keeps the signers of those met.
func greedyFabric(t testing.TB, p *SignaturePolicy, ss []Signer) bool {
	t.Helper()
	var distinct []Signer
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s.ID()] {
			seen[s.ID()] = true
			distinct = append(distinct, s)
		}
	}
	var eval func(Expr, []bool) bool
	eval = func(e Expr, used []bool) bool {
		switch e := e.(type) {
		case *SignedBy:
			for i, s := range distinct {
				if !used[i] && e.Principal.SatisfiedBy(s) {
					used[i] = true
					return true
				}
			}
			return false
		case *Gate:
			verified := 0
			tmp := make([]bool, len(used))
			for _, r := range e.Rules {
				copy(tmp, used)
				if eval(r, tmp) {
					verified++
					copy(used, tmp)
				}
			}
			return verified >= e.N
		}
		t.Fatalf("unknown node %T", e)
		return false
	}
	return eval(p.Expr(), make([]bool, len(distinct)))
}

func TestPrincipalSatisfiedBy(t *testing.T) {
	tests := []struct {
		principal, signer string
		want              bool
	}{
		{"Org1MSP.member", "Org1MSP.client", true},
		{"Org1MSP.member", "Org1MSP.admin", true},
		{"Org1MSP.member", "Org2MSP.admin", false},
		{"Org1MSP.peer", "Org1MSP.peer", true},
		{"Org1MSP.peer", "Org1MSP.orderer", false},
		{"Org1MSP.admin", "Org1MSP.client+admin", true},
		{"Org1MSP.peer", "Org1MSPX.peer", false},
	}
	for _, tt := range tests {
		p := principals(t, tt.principal)[0]
		if got := p.SatisfiedBy(signer(t, tt.signer)); got != tt.want {
			t.Errorf("%s satisfied by %s = %v, want %v", tt.principal, tt.signer, got, tt.want)
		}
	}
}

func TestEvaluateConcurrently(t *testing.T) {
	p := MustParseSignaturePolicy(`AND('Org1MSP.member','Org1MSP.peer')`)
	ok := signers(t, "Org1MSP.peer", "Org1MSP.admin")
	bad := signers(t, "Org1MSP.peer")
	done := make(chan error)
	for i := range 8 {
		go func() {
			for range 200 {
				if err := p.Evaluate(ok); err != nil {
					done <- err
					return
				}
				if err := p.Evaluate(bad); err == nil {
					done <- errors.New("accepted a single signer")
					return
				}
			}
			done <- nil
		}()
		_ = i
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
