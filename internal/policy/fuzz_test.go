package policy

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/identity"
)

var fuzzSeeds = []string{
	`AND('Org1MSP.peer','Org2MSP.peer')`,
	`OR('Org1MSP.member', AND('Org2MSP.admin','Org3MSP.client'))`,
	`OutOf(2, 'A.peer', 'B.peer', 'C.peer')`,
	`outof('1', "A.member", "B.member")`,
	`'Org1MSP.orderer'`,
	`AND('A.peer' 'B.peer')`,
	`OutOf(0, 'A.peer')`,
	`AND(`,
	`XOR('A.peer')`,
	``,
	nested(MaxDepth),
	nested(MaxDepth + 1),
}

// fuzzSigners is a fixed signer set for exercising Evaluate on whatever
// the fuzzer parses.
func fuzzSigners() []Signer {
	var out []Signer
	for _, msp := range []string{"A", "B", "Org1MSP", "Org2MSP"} {
		for r := identity.RoleAdmin; r <= identity.RoleOrderer; r++ {
			out = append(out, &fakeSigner{id: msp + r.String(), msp: msp, roles: []identity.Role{r}})
		}
	}
	return out
}

// FuzzParse checks that Parse never panics, that what it accepts has a
// canonical form that parses back to itself, survives Fabric's envelope,
// and evaluates without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	ss := fuzzSigners()
	f.Fuzz(func(t *testing.T, text string) {
		e, err := Parse(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(text) {
				t.Fatalf("Parse(%q): bad error %v", text, err)
			}
			return
		}
		canonical := e.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, text, err)
		}
		if again.String() != canonical {
			t.Fatalf("canonical form %q parses to %q", canonical, again.String())
		}
		p, err := NewSignaturePolicy(e)
		if err != nil {
			t.Fatalf("Parse accepted %q but NewSignaturePolicy refuses it: %v", text, err)
		}
		b, err := p.MarshalEnvelope()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalEnvelope(b)
		if err != nil || back.String() != canonical {
			t.Fatalf("envelope round trip of %q: %v, %v", canonical, back, err)
		}
		if err := p.Evaluate(ss); err != nil {
			var ns *NotSatisfiedError
			if !errors.As(err, &ns) || !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("Evaluate: bad error %v", err)
			}
		}
	})
}

// FuzzUnmarshalEnvelope checks that decoding arbitrary bytes as a Fabric
// SignaturePolicyEnvelope never panics, and that what decodes converts
// back to an envelope that decodes to the same policy.
func FuzzUnmarshalEnvelope(f *testing.F) {
	for _, s := range fuzzSeeds {
		if p, err := ParseSignaturePolicy(s); err == nil {
			b, err := p.MarshalEnvelope()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			if len(b) > 4 {
				f.Add(b[:len(b)/2])
				mutated := bytes.Clone(b)
				mutated[len(b)-1] ^= 0x7f
				f.Add(mutated)
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x12, 0x02, 0x08, 0x05, 0x1a, 0x00})             // signed_by 5, one empty identity
	f.Add([]byte{0x12, 0x04, 0x12, 0x02, 0x08, 0x00})             // n_out_of with n 0 and no rules
	f.Add([]byte{0x12, 0x02, 0x08, 0x7f, 0x1a, 0x02, 0x08, 0x02}) // bad index, IDENTITY principal
	ss := fuzzSigners()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalEnvelope(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if err := Validate(p.Expr()); err != nil {
			t.Fatalf("decoded an invalid tree: %v", err)
		}
		canonical := p.String()
		if again, err := ParseSignaturePolicy(canonical); err != nil || again.String() != canonical {
			t.Fatalf("canonical form %q does not parse back: %v", canonical, err)
		}
		out, err := p.MarshalEnvelope()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalEnvelope(out)
		if err != nil || back.String() != canonical {
			t.Fatalf("re-encoded envelope of %q: %v, %v", canonical, back, err)
		}
		_ = p.Evaluate(ss)
	})
}
