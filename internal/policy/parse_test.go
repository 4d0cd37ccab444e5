package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/identity"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, canonical string
	}{
		{`AND('Org1MSP.peer','Org2MSP.peer')`, `AND('Org1MSP.peer','Org2MSP.peer')`},
		{`AND('Org1MSP.peer', 'Org2MSP.peer')`, `AND('Org1MSP.peer','Org2MSP.peer')`},
		{`OR('Org1MSP.member', AND('Org2MSP.admin','Org3MSP.client'))`, `OR('Org1MSP.member',AND('Org2MSP.admin','Org3MSP.client'))`},
		{`OutOf(2, 'A.peer', 'B.peer', 'C.peer')`, `OutOf(2,'A.peer','B.peer','C.peer')`},
		{`and("A.peer", "B.orderer")`, `AND('A.peer','B.orderer')`},
		{`or('A.peer','B.peer')`, `OR('A.peer','B.peer')`},
		{`outof(2,'A.peer','B.peer','C.peer')`, `OutOf(2,'A.peer','B.peer','C.peer')`},
		{`OUTOF(2,'A.peer','B.peer','C.peer')`, `OutOf(2,'A.peer','B.peer','C.peer')`},
		{`Or('A.peer','B.peer')`, `OR('A.peer','B.peer')`},
		{"  OR (\n\t'A.admin' ,\r\n 'B.client' )  ", `OR('A.admin','B.client')`},
		// Fabric also takes the count as a string.
		{`OutOf('1', 'A.member', 'B.member')`, `OR('A.member','B.member')`},
		{`OutOf(02, 'A.member', 'B.member', 'C.member')`, `OutOf(2,'A.member','B.member','C.member')`},
		// OutOf of all its rules is AND, of one is OR.
		{`OutOf(3, 'A.peer','B.peer','C.peer')`, `AND('A.peer','B.peer','C.peer')`},
		{`OutOf(1, 'A.peer')`, `OR('A.peer')`},
		{`AND('A.peer')`, `OR('A.peer')`},
		{`'Org1MSP.member'`, `'Org1MSP.member'`},
		{`"Org1MSP.member"`, `'Org1MSP.member'`},
		{`OR('MSP.WITH.DOTS.member', 'MSP-WITH-DASHES.peer')`, `OR('MSP.WITH.DOTS.member','MSP-WITH-DASHES.peer')`},
		{`OR('A.peer','A.peer')`, `OR('A.peer','A.peer')`},
		{`AND(OR('A.peer','B.peer'),OutOf(2,'C.admin','D.admin','E.admin'))`, `AND(OR('A.peer','B.peer'),OutOf(2,'C.admin','D.admin','E.admin'))`},
		{nested(MaxDepth), nested(MaxDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := e.String(); got != tt.canonical {
				t.Errorf("String() = %s, want %s", got, tt.canonical)
			}
			if err := Validate(e); err != nil {
				t.Errorf("Validate: %v", err)
			}
			again, err := Parse(e.String())
			if err != nil || again.String() != tt.canonical {
				t.Errorf("canonical form does not parse back to itself: %v, %v", again, err)
			}
		})
	}
}

func TestParseTree(t *testing.T) {
	e, err := Parse(`OR('Org1MSP.member', OutOf(2, 'Org2MSP.admin', 'Org3MSP.client', 'Org3MSP.peer'))`)
	if err != nil {
		t.Fatal(err)
	}
	want := Or(
		Signed("Org1MSP", identity.RoleMember),
		OutOf(2,
			Signed("Org2MSP", identity.RoleAdmin),
			Signed("Org3MSP", identity.RoleClient),
			Signed("Org3MSP", identity.RolePeer)),
	)
	if e.String() != want.String() {
		t.Fatalf("got %s, want %s", e, want)
	}
	g, ok := e.(*Gate)
	if !ok || g.N != 1 || len(g.Rules) != 2 {
		t.Fatalf("root = %#v", e)
	}
	leaf, ok := g.Rules[0].(*SignedBy)
	if !ok || leaf.Principal != (Principal{MSPID: "Org1MSP", Role: identity.RoleMember}) {
		t.Fatalf("first rule = %#v", g.Rules[0])
	}
}

// nested returns depth gates nested around one principal.
func nested(depth int) string {
	return strings.Repeat("OR(", depth) + "'A.peer'" + strings.Repeat(")", depth)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		want   string
	}{
		{``, 0, "empty expression"},
		{"  \n ", 4, "empty expression"},
		{`AND('Org1MSP.peer' 'Org2MSP.peer')`, 19, "expected ',' or ')', found string 'Org2MSP.peer'"},
		{`AND('Org1MSP.peer'`, 18, "expected ',' or ')', found end of input"},
		{`AND('Org1MSP.peers')`, 13, `unknown role "peers"`},
		{`AND('Org1MSP.Peer')`, 13, `unknown role "Peer"`},
		{`AND('Org1MSP')`, 5, `principal "Org1MSP" is not MSPID.role`},
		{`AND('.peer')`, 5, "empty MSP id"},
		{`AND('Org 1.peer')`, 8, `invalid character ' ' in MSP id`},
		{`AND('Org_1.peer')`, 8, `invalid character '_' in MSP id`},
		{`OutOf(0, 'A.peer')`, 6, "OutOf n out of range: need 1 <= n <= 1 (the number of rules), got 0"},
		{`OutOf(3, 'A.peer', 'B.peer')`, 6, "OutOf n out of range: need 1 <= n <= 2 (the number of rules), got 3"},
		{`OutOf(-1, 'A.peer')`, 6, "OutOf n out of range"},
		{`OutOf(99999999999999999999, 'A.peer')`, 6, "OutOf n out of range"},
		{`OutOf('3', 'A.peer')`, 6, "OutOf n out of range"},
		{`OutOf('x', 'A.peer')`, 6, "expected the number of rules OutOf needs, found string 'x'"},
		{`OutOf(AND('A.peer'), 'A.peer')`, 6, "expected the number of rules OutOf needs"},
		{`OutOf(2)`, 7, "OutOf needs at least one rule after its count"},
		{`OutOf(1 'A.peer')`, 8, "expected ',' after the count of OutOf"},
		{`AND()`, 4, "AND needs at least one rule"},
		{`or( )`, 4, "OR needs at least one rule"},
		{`AND('A.peer',)`, 13, "expected a principal such as 'Org1MSP.peer' or AND, OR, OutOf, found ')'"},
		{`AND('A.peer') x`, 14, `unexpected "x" after the end of the expression`},
		{`AND('A.peer'))`, 13, "unexpected ')' after the end of the expression"},
		{`'A.peer' 'B.peer'`, 9, "after the end of the expression"},
		{`XOR('A.peer')`, 0, `unknown function "XOR" (want AND, OR or OutOf)`},
		{`AND(Org1MSP.peer)`, 4, "principal Org1MSP.peer must be quoted: 'Org1MSP.peer'"},
		{`AND 'A.peer'`, 4, "expected '(' after AND, found string 'A.peer'"},
		{`AND`, 3, "expected '(' after AND, found end of input"},
		{`AND('A.peer)`, 4, "unterminated string"},
		{`AND("A.peer')`, 4, "unterminated string"},
		{`AND('A.peer';'B.peer')`, 12, "unexpected character ';'"},
		{`AND('A.peer','B.peer') é`, 23, "unexpected non-ASCII character"},
		{`1`, 0, "expected a principal such as 'Org1MSP.peer' or AND, OR, OutOf, found number 1"},
		{`(`, 0, "expected a principal"},
		{`AND(`, 4, "unexpected end of input"},
		{`-`, 0, "unexpected character '-'"},
		{nested(MaxDepth + 1), 3 * MaxDepth, "gates nested deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error containing %q", tt.in, e, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			if !strings.HasPrefix(err.Error(), "policy: at offset ") {
				t.Errorf("error %q lacks the prefix", err)
			}
			if !strings.Contains(se.Msg, tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if se.Offset != tt.offset {
				t.Errorf("offset = %d, want %d (%v)", se.Offset, tt.offset, err)
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	_, err := Parse(`AND('Org1MSP.peer' 'Org2MSP.peer')`)
	const want = "policy: at offset 19: expected ',' or ')', found string 'Org2MSP.peer'"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestParsePrincipal(t *testing.T) {
	p, err := ParsePrincipal("Org1.MSP.orderer")
	if err != nil || p != (Principal{MSPID: "Org1.MSP", Role: identity.RoleOrderer}) {
		t.Fatalf("got %v, %v", p, err)
	}
	for _, bad := range []string{"", "Org1MSP", "Org1MSP.", ".peer", "Org1MSP.boss", "Org1 MSP.peer", "'Org1MSP.peer'"} {
		if _, err := ParsePrincipal(bad); err == nil || !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("ParsePrincipal(%q) error = %v", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	peer := Signed("A", identity.RolePeer)
	tests := []struct {
		e    Expr
		want string
	}{
		{nil, "policy: nil rule"},
		{(*Gate)(nil), "policy: nil rule"},
		{(*SignedBy)(nil), "policy: nil rule"},
		{And(), "policy: gate with no rules"},
		{OutOf(0, peer), "policy: gate needs N between 1 and 1, got 0"},
		{OutOf(3, peer, peer), "policy: gate needs N between 1 and 2, got 3"},
		{Or(peer, And(peer, nil)), "policy: nil rule at /1/1"},
		{Or(Signed("", identity.RolePeer)), "policy: rule at /0: empty MSP id"},
		{Signed("A B", identity.RolePeer), `policy: invalid character ' ' in MSP id "A B"`},
		{Or(Signed("A", identity.Role(9))), "policy: rule at /0: principal A.role(9): unknown role 9"},
	}
	for _, tt := range tests {
		err := Validate(tt.e)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate(%v) = %v, want %s", tt.e, err, tt.want)
		}
		if _, err := NewSignaturePolicy(tt.e); err == nil {
			t.Errorf("NewSignaturePolicy(%v) accepted an invalid tree", tt.e)
		}
	}

	deep := Expr(peer)
	for range MaxDepth {
		deep = Or(deep)
	}
	if err := Validate(deep); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if err := Validate(Or(deep)); err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Errorf("depth %d: %v", MaxDepth+1, err)
	}
}

func TestSignaturePolicyKeepsItsOwnTree(t *testing.T) {
	g := And(Signed("A", identity.RolePeer), Signed("B", identity.RolePeer))
	p, err := NewSignaturePolicy(g)
	if err != nil {
		t.Fatal(err)
	}
	g.Rules[0] = Signed("C", identity.RoleAdmin)
	got := p.Expr().(*Gate)
	got.N = 1
	if p.String() != `AND('A.peer','B.peer')` || p.Expr().String() != `AND('A.peer','B.peer')` {
		t.Fatalf("policy changed with its input or output: %s / %s", p, p.Expr())
	}
	if got := principalStrings(p.Principals()); strings.Join(got, " ") != "A.peer B.peer" {
		t.Fatalf("Principals() = %v", got)
	}
}
