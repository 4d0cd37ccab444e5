package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chorusledger/chorus/internal/identity"
)

// MaxDepth is how deeply gates may nest in a signature policy. The parser,
// NewSignaturePolicy and the Fabric envelope decoder refuse deeper policies,
// so that hostile input cannot exhaust the stack.
const MaxDepth = 64

// Expr is a node of a signature policy's syntax tree: a *SignedBy (a leaf
// naming one principal) or a *Gate (n out of its rules). AND and OR are
// gates: AND is a gate with N equal to the number of rules, OR a gate with N
// equal to 1.
type Expr interface {
	// String returns the canonical text of the expression (see the package
	// documentation).
	String() string
	expr()
}

// SignedBy is met by one signature of an identity matching Principal.
type SignedBy struct {
	Principal Principal
}

// Gate is met when at least N of Rules are met, each by different signers.
type Gate struct {
	N     int
	Rules []Expr
}

func (*SignedBy) expr() {}
func (*Gate) expr()     {}

// Signed returns a leaf for the principal mspID.role.
func Signed(mspID string, role identity.Role) *SignedBy {
	return &SignedBy{Principal: Principal{MSPID: mspID, Role: role}}
}

// And returns a gate met when every rule is met.
func And(rules ...Expr) *Gate { return &Gate{N: len(rules), Rules: rules} }

// Or returns a gate met when any rule is met.
func Or(rules ...Expr) *Gate { return &Gate{N: 1, Rules: rules} }

// OutOf returns a gate met when n of the rules are met.
func OutOf(n int, rules ...Expr) *Gate { return &Gate{N: n, Rules: rules} }

// String returns the principal quoted: 'Org1MSP.peer'.
func (s *SignedBy) String() string { return "'" + s.Principal.String() + "'" }

// String returns the gate in canonical form: OR(...) when N is 1, AND(...)
// when N is the number of rules, OutOf(N,...) otherwise; rules are separated
// by a comma without spaces.
func (g *Gate) String() string {
	var b strings.Builder
	writeExpr(&b, g)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *SignedBy:
		b.WriteByte('\'')
		b.WriteString(e.Principal.String())
		b.WriteByte('\'')
	case *Gate:
		switch {
		case e.N == 1:
			b.WriteString("OR(")
		case e.N == len(e.Rules):
			b.WriteString("AND(")
		default:
			b.WriteString("OutOf(")
			b.WriteString(strconv.Itoa(e.N))
			if len(e.Rules) > 0 {
				b.WriteByte(',')
			}
		}
		for i, r := range e.Rules {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, r)
		}
		b.WriteByte(')')
	case nil:
		b.WriteString("<nil>")
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

// gateName is how messages name a gate.
func gateName(g *Gate) string {
	switch {
	case g.N == 1:
		return "OR"
	case g.N == len(g.Rules):
		return "AND"
	}
	return "OutOf"
}

// Validate checks a syntax tree built by hand: no nil nodes, valid
// principals, 1 <= N <= len(Rules) for every gate, and at most MaxDepth
// nested gates. Errors name the offending rule by its path of rule indexes
// from the root, such as "/1/0". Parse only returns trees that pass.
func Validate(e Expr) error {
	return validate(e, "", 1)
}

func validate(e Expr, path string, depth int) error {
	where := func() string {
		if path == "" {
			return ""
		}
		return " at " + path
	}
	switch e := e.(type) {
	case *SignedBy:
		if e == nil {
			return fmt.Errorf("policy: nil rule%s", where())
		}
		if err := e.Principal.Validate(); err != nil {
			if path == "" {
				return err
			}
			return fmt.Errorf("policy: rule at %s: %w", path, unprefix(err))
		}
		return nil
	case *Gate:
		if e == nil {
			return fmt.Errorf("policy: nil rule%s", where())
		}
		if depth > MaxDepth {
			return fmt.Errorf("policy: gates nested deeper than %d%s", MaxDepth, where())
		}
		if len(e.Rules) == 0 {
			return fmt.Errorf("policy: gate with no rules%s", where())
		}
		if e.N < 1 || e.N > len(e.Rules) {
			return fmt.Errorf("policy: gate%s needs N between 1 and %d, got %d", where(), len(e.Rules), e.N)
		}
		for i, r := range e.Rules {
			if err := validate(r, path+"/"+strconv.Itoa(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return fmt.Errorf("policy: nil rule%s", where())
	default:
		return fmt.Errorf("policy: unknown rule type %T%s", e, where())
	}
}

// unprefix drops the package prefix of one of our own errors so that it can
// be wrapped without repeating "policy: ".
func unprefix(err error) error {
	return unprefixed{err}
}

type unprefixed struct{ err error }

func (u unprefixed) Error() string { return strings.TrimPrefix(u.err.Error(), "policy: ") }
func (u unprefixed) Unwrap() error { return u.err }

// cloneExpr returns a deep copy of a valid tree.
func cloneExpr(e Expr) Expr {
	switch e := e.(type) {
	case *SignedBy:
		c := *e
		return &c
	case *Gate:
		rules := make([]Expr, len(e.Rules))
		for i, r := range e.Rules {
			rules[i] = cloneExpr(r)
		}
		return &Gate{N: e.N, Rules: rules}
	}
	panic(fmt.Sprintf("policy: cloneExpr of %T", e))
}
