package policy

import "testing"

// BenchmarkEvaluateAnd2 is the endorsement check of the standard workload:
// AND('Org1MSP.peer','Org2MSP.peer') against the two endorsers.
func BenchmarkEvaluateAnd2(b *testing.B) {
	p := MustParseSignaturePolicy(`AND('Org1MSP.peer','Org2MSP.peer')`)
	ss := signers(b, "Org1MSP.peer", "Org2MSP.peer")
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Evaluate(ss); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateAnd2Missing is the same policy with one endorser, which
// builds the error.
func BenchmarkEvaluateAnd2Missing(b *testing.B) {
	p := MustParseSignaturePolicy(`AND('Org1MSP.peer','Org2MSP.peer')`)
	ss := signers(b, "Org1MSP.peer")
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Evaluate(ss); err == nil {
			b.Fatal("met")
		}
	}
}

// BenchmarkEvaluateFabricOrderFails is met, but Fabric's order gives the
// peer to the member principal, so the second greedy assignment decides.
func BenchmarkEvaluateFabricOrderFails(b *testing.B) {
	p := MustParseSignaturePolicy(`AND('Org1MSP.member','Org1MSP.peer','Org2MSP.peer')`)
	ss := signers(b, "Org1MSP.peer", "Org2MSP.peer", "Org1MSP.admin")
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Evaluate(ss); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	const text = `OR('Org1MSP.member', AND('Org2MSP.admin','Org3MSP.client'), OutOf(2, 'A.peer', 'B.peer', 'C.peer'))`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSignaturePolicy(text); err != nil {
			b.Fatal(err)
		}
	}
}
