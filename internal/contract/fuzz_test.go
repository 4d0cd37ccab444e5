package contract_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
)

var definitionSeeds = []string{
	`{"name":"assets","version":"1.0","sequence":1}`,
	`{"name":"assets","version":"1.0","sequence":2,"endorsementPolicy":"AND('Org1MSP.peer','Org2MSP.peer')","packageHash":"` + hash32 + `","initRequired":true}`,
	`{"name":"token","version":"2","sequence":1,"endorsementPolicy":"/Channel/Endorsement"}`,
	`{"name":"_lifecycle","version":"1","sequence":1}`,
	`{"name":"a","version":"1","sequence":1,"endorsementPolicy":"OutOf(1,'A.peer',OR('B.admin','C.member'))"}`,
	`{"name":"a","version":"1","sequence":18446744073709551615}`,
	`{"name":"a","version":"1","sequence":1e3}`,
	`{"name":"a","NAME":"b","version":"1","sequence":1}`,
	`{"name":"a","version":"1","sequence":1} trailing`,
	`{"name":"a\u0000","version":"1","sequence":1}`,
	"{\"name\":\"a\xff\",\"version\":\"1\",\"sequence\":1}",
	`[{"name":"a"}]`,
	`{"name":"a","version":"1","sequence":1,"endorsementPolicy":"/Channel/\u00e9"}`,
	``,
}

// ParseDefinitionJSON never panics, and what it accepts is in canonical
// form: its JSON form parses back to the same definition.
func FuzzParseDefinitionJSON(f *testing.F) {
	for _, s := range definitionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		def, err := contract.ParseDefinitionJSON(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "contract: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if def.GetFormatVersion() != contract.DefinitionFormatVersion || def.GetSequence() == 0 || contract.IsSystem(def.GetName()) {
			t.Fatalf("accepted %v", def)
		}
		expr, ref := contract.EndorsementPolicyOf(def)
		if (expr == "") == (ref == "") {
			t.Fatalf("policy %q gives expr %q ref %q", def.GetEndorsementPolicy(), expr, ref)
		}
		var j contract.DefinitionJSON
		j.Name, j.Version, j.Sequence = def.GetName(), def.GetVersion(), def.GetSequence()
		j.EndorsementPolicy, j.InitRequired = def.GetEndorsementPolicy(), def.GetInitRequired()
		j.PackageHash = hex.EncodeToString(def.GetPackageHash())
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		again, err := contract.ParseDefinitionJSON(b)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", b, err)
		}
		if !proto.Equal(def, again) {
			t.Fatalf("canonical form changed: %v then %v", def, again)
		}
	})
}

// CommitDefinition, run as an endorser runs it, never panics, answers as
// ParseDefinitionJSON and the sequence rule say, and answers the same
// bytes twice.
func FuzzCommitDefinition(f *testing.F) {
	for _, s := range definitionSeeds {
		f.Add([]byte(s))
	}
	ch := contracttest.New(f)
	ch.Define("assets", "") // sequence 1
	admin := ch.Org1Admin
	inv := ch.Invocation(admin, contract.LifecycleName, "CommitDefinition")

	simulate := func(t *testing.T, arg []byte) (contract.Response, []byte) {
		snap := ch.DB.NewSnapshot()
		defer snap.Close()
		sim := ch.State.NewSimulator(snap)
		defer sim.Close()
		run := inv
		run.Args = [][]byte{[]byte("CommitDefinition"), arg}
		res, err := contract.Execute(ch.Registry, sim, run)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		_, rws, err := sim.Results()
		if err != nil {
			t.Fatalf("Results: %v", err)
		}
		return res.Response, rws
	}

	f.Fuzz(func(t *testing.T, arg []byte) {
		resp, rws := simulate(t, arg)
		if strings.Contains(resp.Message, "panicked") {
			t.Fatalf("panic: %s", resp.Message)
		}
		resp2, rws2 := simulate(t, arg)
		if resp.Status != resp2.Status || resp.Message != resp2.Message || !bytes.Equal(resp.Payload, resp2.Payload) || !bytes.Equal(rws, rws2) {
			t.Fatal("two simulations differ")
		}
		def, err := contract.ParseDefinitionJSON(arg)
		if err != nil {
			if want := strings.TrimPrefix(err.Error(), "contract: "); resp.Message != want {
				t.Fatalf("message %q, want %q", resp.Message, want)
			}
			return
		}
		next := uint64(1)
		if def.GetName() == "assets" {
			next = 2
		}
		// Nobody approved the fuzzed definition: a well-formed one of the
		// next sequence is refused for want of approvals, naming the
		// organizations; any other for its sequence.
		want := "is not the next sequence"
		if def.GetSequence() == next {
			want = "not enough organizations approved this definition (approved: none; not approved: Org1MSP, Org2MSP)"
		}
		if !resp.IsError() || !strings.Contains(resp.Message, want) {
			t.Fatalf("sequence %d of %s (next %d): response %d %q, want an error containing %q", def.GetSequence(), def.GetName(), next, resp.Status, resp.Message, want)
		}
	})
}
