package contract_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

const hash32 = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"

// commitDef has both organizations approve the definition given as JSON
// (when it can be approved), then submits CommitDefinition by creator.
func commitDef(ch *contracttest.Channel, creator *identity.Identity, def string) *contract.Result {
	approveAll(ch, def)
	return ch.Submit(creator, contract.LifecycleName, "CommitDefinition", def)
}

// approveAll submits ApproveForMyOrg for the definition by both
// organizations' admins; approvals that fail are left to the commit to
// report.
func approveAll(ch *contracttest.Channel, def string) {
	for _, admin := range []*identity.Identity{ch.Org1Admin, ch.Org2Admin} {
		ch.Submit(admin, contract.LifecycleName, "ApproveForMyOrg", def)
	}
}

func TestLifecycleCommitAndReadBack(t *testing.T) {
	ch := contracttest.New(t)
	res := commitDef(ch, ch.Org2Admin, `{"name":"assets","version":"1.0","sequence":1,
		"endorsementPolicy":"and('Org1MSP.peer', 'Org2MSP.peer')","packageHash":"`+hash32+`","initRequired":true}`)
	wantOK(t, res.Response)
	want := contract.DefinitionJSON{
		Name: "assets", Version: "1.0", Sequence: 1,
		EndorsementPolicy: "AND('Org1MSP.peer','Org2MSP.peer')", // canonical
		PackageHash:       hash32, InitRequired: true,
	}
	var got contract.DefinitionJSON
	if err := json.Unmarshal(res.Payload, &got); err != nil || got != want {
		t.Errorf("payload %s (%v), want %+v", res.Payload, err, want)
	}
	if res.Event != nil {
		t.Errorf("event %v", res.Event)
	}

	// Read back through StateDefinitions, the validator's way.
	def, err := ch.Definitions().Definition("assets")
	if err != nil {
		t.Fatal(err)
	}
	wantDef := &lifecyclepb.ContractDefinition{
		FormatVersion: 1, Name: "assets", Version: "1.0", Sequence: 1,
		EndorsementPolicy: "AND('Org1MSP.peer','Org2MSP.peer')",
		PackageHash:       mustHex(t, hash32), InitRequired: true,
	}
	if !proto.Equal(def, wantDef) {
		t.Errorf("definition %v, want %v", def, wantDef)
	}
	// Stored as the deterministic encoding.
	stored, _, err := ch.State.Get(ch.DB, contract.LifecycleName, contract.DefinitionKey("assets"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := envelope.Marshal(wantDef); string(stored) != string(b) {
		t.Error("stored definition is not the deterministic encoding")
	}
	if expr, ref := contract.EndorsementPolicyOf(def); expr != "AND('Org1MSP.peer','Org2MSP.peer')" || ref != "" {
		t.Errorf("EndorsementPolicyOf = %q, %q", expr, ref)
	}

	// The next sequence, with a channel policy reference and no hash.
	wantOK(t, commitDef(ch, ch.Org1Admin, `{"name":"assets","version":"1.1","sequence":2,"endorsementPolicy":"/Channel/Endorsement"}`).Response)
	def, err = ch.Definitions().Definition("assets")
	if err != nil {
		t.Fatal(err)
	}
	if def.GetSequence() != 2 || def.GetVersion() != "1.1" || def.GetPackageHash() != nil || def.GetInitRequired() {
		t.Errorf("sequence 2: %v", def)
	}
	if expr, ref := contract.EndorsementPolicyOf(def); expr != "" || ref != "Endorsement" {
		t.Errorf("EndorsementPolicyOf = %q, %q", expr, ref)
	}

	if _, err := ch.Definitions().Definition("other"); !errors.Is(err, contract.ErrNotDefined) ||
		err.Error() != "contract: contract other is not defined on channel mychannel" {
		t.Errorf("undefined: %v", err)
	}
	if _, err := ch.Definitions().Definition("not/valid"); !errors.Is(err, contract.ErrNotDefined) {
		t.Errorf("invalid name: %v", err)
	}
}

func TestLifecycleAdminOnly(t *testing.T) {
	ch := contracttest.New(t)
	def := `{"name":"assets","version":"1","sequence":1}`
	for _, tc := range []struct {
		who  *identity.Identity
		name string
	}{
		{ch.Org1Client, "Org1MSP.client"},
		{ch.Org1Peer, "Org1MSP.peer"},
		{ch.Org2Client, "Org2MSP.client"},
	} {
		res := commitDef(ch, tc.who, def)
		wantError(t, res.Response, contract.StatusError)
		if want := "only an organization admin may commit a contract definition; the caller is " + tc.name; res.Message != want {
			t.Errorf("message %q, want %q", res.Message, want)
		}
	}
	wantOK(t, commitDef(ch, ch.Org2Admin, def).Response)
}

func TestLifecycleSequence(t *testing.T) {
	ch := contracttest.New(t)
	def := func(seq int) string {
		b, _ := json.Marshal(contract.DefinitionJSON{Name: "assets", Version: "1", Sequence: uint64(seq)})
		return string(b)
	}
	wantError(t, commitDef(ch, ch.Org1Admin, def(2)).Response, 500,
		"sequence 2 is not the next sequence of contract assets (it is not defined yet: the first sequence is 1)")
	wantError(t, commitDef(ch, ch.Org1Admin, def(0)).Response, 500, "contract assets: the sequence must be at least 1")
	wantOK(t, commitDef(ch, ch.Org1Admin, def(1)).Response)
	wantError(t, commitDef(ch, ch.Org1Admin, def(1)).Response, 500, "sequence 1 is not the next sequence of contract assets (current 1)")
	wantError(t, commitDef(ch, ch.Org1Admin, def(3)).Response, 500, "sequence 3 is not the next sequence of contract assets (current 1)")
	wantOK(t, commitDef(ch, ch.Org1Admin, def(2)).Response)

	// Two commits of the same sequence endorsed on the same state: the
	// second in the block conflicts.
	approveAll(ch, def(3))
	a, err := ch.Invoke(ch.Org1Admin, contract.LifecycleName, "CommitDefinition", def(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ch.Invoke(ch.Org2Admin, contract.LifecycleName, "CommitDefinition", def(3))
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, a.Result.Response)
	wantOK(t, b.Result.Response)
	codes := ch.Commit(a, b)
	if codes[0] != peerpb.TxValidationCode_VALID || codes[1] != peerpb.TxValidationCode_MVCC_READ_CONFLICT {
		t.Errorf("codes %v, want VALID, MVCC_READ_CONFLICT", codes)
	}
}

func TestParseDefinitionJSON(t *testing.T) {
	good := map[string]*lifecyclepb.ContractDefinition{
		`{"name":"assets","version":"1.0","sequence":1}`: {
			FormatVersion: 1, Name: "assets", Version: "1.0", Sequence: 1, EndorsementPolicy: "/Channel/Endorsement",
		},
		` {"name":"a.b+c-d_e","version":"v1.0.0-rc.1+build_7","sequence":7,"endorsementPolicy":"OutOf(2,'A.peer','B.peer',\"C.peer\")","packageHash":"` + strings.ToUpper(hash32) + `","initRequired":false} `: {
			FormatVersion: 1, Name: "a.b+c-d_e", Version: "v1.0.0-rc.1+build_7", Sequence: 7,
			EndorsementPolicy: "OutOf(2,'A.peer','B.peer','C.peer')", PackageHash: mustHex(t, hash32),
		},
		`{"name":"x","version":"1","sequence":18446744073709551615,"endorsementPolicy":"/Channel/My_Policy-2.0"}`: {
			FormatVersion: 1, Name: "x", Version: "1", Sequence: 1<<64 - 1, EndorsementPolicy: "/Channel/My_Policy-2.0",
		},
		`{"name":"x","version":"1","sequence":1,"endorsementPolicy":"\"Org1MSP.member\""}`: {
			FormatVersion: 1, Name: "x", Version: "1", Sequence: 1, EndorsementPolicy: "'Org1MSP.member'",
		},
	}
	for in, want := range good {
		got, err := contract.ParseDefinitionJSON([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}

	bad := map[string]string{
		``:       "not valid JSON",
		`[]`:     "not valid JSON",
		`null x`: "followed by more data",
		`{} {}`:  "followed by more data",
		`{"name":"assets","version":"1","sequence":1,"extra":1}`:                                                `unknown field "extra"`,
		`{"name":"assets","version":"1","sequence":"1"}`:                                                        "not valid JSON",
		`{"name":"assets","version":"1","sequence":-1}`:                                                         "not valid JSON",
		`{"name":"assets","version":"1","sequence":1.5}`:                                                        "not valid JSON",
		`{"version":"1","sequence":1}`:                                                                          "the definition has no name",
		`{"name":"_lifecycle","version":"1","sequence":1}`:                                                      `contract name "_lifecycle" begins with '_', which is reserved for system contracts`,
		`{"name":"my contract","version":"1","sequence":1}`:                                                     `"my contract" is not a valid contract name`,
		`{"name":"` + strings.Repeat("n", 65) + `","version":"1","sequence":1}`:                                 "is not a valid contract name",
		`{"name":"assets","sequence":1}`:                                                                        "contract assets: the version is empty",
		`{"name":"assets","version":"1 0","sequence":1}`:                                                        `the version "1 0" contains ' '`,
		`{"name":"assets","version":"` + strings.Repeat("1", 129) + `","sequence":1}`:                           "at most 128",
		`{"name":"assets","version":"1"}`:                                                                       "the sequence must be at least 1",
		`{"name":"assets","version":"1","sequence":1,"endorsementPolicy":"AND('Org1MSP.peer' 'Org2MSP.peer')"}`: "the endorsement policy does not parse: policy: at offset 19",
		`{"name":"assets","version":"1","sequence":1,"endorsementPolicy":"MAJORITY Endorsement"}`:               "the endorsement policy does not parse",
		`{"name":"assets","version":"1","sequence":1,"endorsementPolicy":"/Channel/"}`:                          "no policy name after /Channel/",
		`{"name":"assets","version":"1","sequence":1,"endorsementPolicy":"/Channel/Application/Endorsement"}`:   `the channel policy name "Application/Endorsement" contains '/'`,
		`{"name":"assets","version":"1","sequence":1,"endorsementPolicy":"/Other/Endorsement"}`:                 "neither a signature expression nor a channel policy reference /Channel/<Name>",
		`{"name":"assets","version":"1","sequence":1,"packageHash":"xyz"}`:                                      "the package hash is not hex",
		`{"name":"assets","version":"1","sequence":1,"packageHash":"abcd"}`:                                     "the package hash has 2 bytes; a SHA-256 hash has 32",
	}
	for in, want := range bad {
		_, err := contract.ParseDefinitionJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "contract: ") {
			t.Errorf("%s: error %v, want one containing %q", in, err, want)
		}
	}
}

// CommitDefinition answers with ParseDefinitionJSON's message, without
// the package prefix.
func TestLifecycleRejectsBadDefinitions(t *testing.T) {
	ch := contracttest.New(t)
	res := commitDef(ch, ch.Org1Admin, `{"name":"_mine","version":"1","sequence":1}`)
	wantError(t, res.Response, 500)
	if res.Message != `contract name "_mine" begins with '_', which is reserved for system contracts` {
		t.Errorf("message %q", res.Message)
	}
	wantError(t, commitDef(ch, ch.Org1Admin, `{"name":"assets","version":"1","sequence":1,"endorsementPolicy":"AND("}`).Response,
		500, "contract assets: the endorsement policy does not parse")
	wantError(t, ch.Submit(ch.Org1Admin, contract.LifecycleName, "CommitDefinition").Response,
		500, "CommitDefinition takes 1 argument (the definition as JSON); got 0")
}

func TestLifecycleQueries(t *testing.T) {
	ch := contracttest.New(t)
	query := func(args ...string) *contract.Result {
		return ch.Submit(ch.Org1Client, contract.LifecycleName, args...)
	}
	res := query("QueryDefinitions")
	wantOK(t, res.Response)
	if string(res.Payload) != "[]" {
		t.Errorf("no definitions: %s", res.Payload)
	}
	wantError(t, query("QueryDefinition", "assets").Response, contract.StatusNotFound,
		"contract assets is not defined on channel mychannel")

	for _, name := range []string{"zeta", "assets", "Beta", "assets2"} {
		ch.Define(name, "")
	}
	ch.Define("assets", "OR('Org1MSP.peer')")

	res = query("QueryDefinition", "assets")
	wantOK(t, res.Response)
	if want := `{"name":"assets","version":"1.0","sequence":2,"endorsementPolicy":"OR('Org1MSP.peer')","packageHash":"` +
		hex.EncodeToString(contracttest.PackageHash("assets")) + `","initRequired":false}`; string(res.Payload) != want {
		t.Errorf("QueryDefinition: %s, want %s", res.Payload, want)
	}
	res = query("QueryDefinitions")
	wantOK(t, res.Response)
	var all []contract.DefinitionJSON
	if err := json.Unmarshal(res.Payload, &all); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range all {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "Beta,assets,assets2,zeta" {
		t.Errorf("QueryDefinitions names %q, want sorted", names)
	}

	wantError(t, query("QueryDefinition").Response, 500, "QueryDefinition takes 1 argument (name); got 0")
	wantError(t, query("QueryDefinitions", "x").Response, 500, "QueryDefinitions takes no arguments; got 1")
	wantError(t, query("Approve").Response, 500, `unknown function "Approve" of _lifecycle`)
}

func TestEndorsementPolicyOfDefault(t *testing.T) {
	if expr, ref := contract.EndorsementPolicyOf(&lifecyclepb.ContractDefinition{}); expr != "" || ref != contract.DefaultEndorsementPolicy {
		t.Errorf("empty policy: %q, %q", expr, ref)
	}
	if expr, ref := contract.EndorsementPolicyOf(nil); expr != "" || ref != "Endorsement" {
		t.Errorf("nil definition: %q, %q", expr, ref)
	}
}

func TestDefinitionDecoding(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "put", putter())
	// Write bad records straight into _lifecycle, as only a broken peer
	// would, and read them back.
	put := func(key string, value []byte) {
		tx := &contracttest.Tx{Invocation: ch.Invocation(ch.Org1Admin, "none")}
		sim := ch.State.NewSimulator(ch.DB)
		if err := sim.PutState(contract.LifecycleName, key, value); err != nil {
			t.Fatal(err)
		}
		_, b, err := sim.Results()
		if err != nil {
			t.Fatal(err)
		}
		tx.RWSetBytes = b
		commitValid(t, ch, tx)
	}
	newer, _ := envelope.Marshal(&lifecyclepb.ContractDefinition{FormatVersion: 2, Name: "newer", Version: "1", Sequence: 1})
	unversioned, _ := envelope.Marshal(&lifecyclepb.ContractDefinition{Name: "unversioned", Version: "1", Sequence: 1})
	other, _ := envelope.Marshal(&lifecyclepb.ContractDefinition{FormatVersion: 1, Name: "someone", Version: "1", Sequence: 1})
	put("definitions/garbage", []byte{0xff, 0xff})
	put("definitions/newer", newer)
	put("definitions/unversioned", unversioned)
	put("definitions/misnamed", other)
	for name, want := range map[string]string{
		"garbage":     "contract: the stored definition of garbage does not decode",
		"newer":       "contract: the definition of newer has format version 2, newer than this peer reads (1): upgrade the peer",
		"unversioned": "contract: the stored definition of unversioned has no format version",
		"misnamed":    `contract: the definition stored for misnamed names contract "someone"`,
	} {
		_, err := ch.Definitions().Definition(name)
		if err == nil || !strings.HasPrefix(err.Error(), want) || errors.Is(err, contract.ErrNotDefined) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
		// Execute refuses to run under such a definition.
		if _, err := ch.Invoke(ch.Org1Client, name, "F"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Execute %s: %v", name, err)
		}
	}
	wantError(t, ch.Submit(ch.Org1Client, contract.LifecycleName, "QueryDefinitions").Response, 500, "does not decode")
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLifecycleApprovals(t *testing.T) {
	ch := contracttest.New(t)
	d1 := `{"name":"token","version":"1.0","sequence":1,"endorsementPolicy":"OR('Org1MSP.peer','Org2MSP.peer')","packageHash":"` + hash32 + `"}`
	other := `{"name":"token","version":"1.1","sequence":1,"endorsementPolicy":"OR('Org1MSP.peer','Org2MSP.peer')","packageHash":"` + hash32 + `"}`

	wantError(t, ch.Submit(ch.Org1Client, contract.LifecycleName, "ApproveForMyOrg", d1).Response, 500,
		"only an organization admin may approve a contract definition; the caller is Org1MSP.client")
	wantOK(t, ch.Submit(ch.Org1Admin, contract.LifecycleName, "ApproveForMyOrg", d1).Response)
	// Org2 approves something else: it does not count for d1.
	wantOK(t, ch.Submit(ch.Org2Admin, contract.LifecycleName, "ApproveForMyOrg", other).Response)

	res := ch.Submit(ch.Org1Admin, contract.LifecycleName, "CheckCommitReadiness", d1)
	wantOK(t, res.Response)
	if got := string(res.Payload); got != `{"approvals":{"Org1MSP":true,"Org2MSP":false}}` {
		t.Errorf("CheckCommitReadiness: %s", got)
	}
	wantError(t, ch.Submit(ch.Org1Admin, contract.LifecycleName, "CommitDefinition", d1).Response, 500,
		"contract token sequence 1 cannot be committed: not enough organizations approved this definition (approved: Org1MSP; not approved: Org2MSP): MAJORITY of 2 organizations needs 2 approvals, have 1")

	// Org2 approves d1 after all: its approval of the sequence is replaced.
	wantOK(t, ch.Submit(ch.Org2Admin, contract.LifecycleName, "ApproveForMyOrg", d1).Response)
	res = ch.Submit(ch.Org1Admin, contract.LifecycleName, "QueryApprovals", "token", "1")
	wantOK(t, res.Response)
	var approvals map[string]*contract.DefinitionJSON
	if err := json.Unmarshal(res.Payload, &approvals); err != nil || approvals["Org1MSP"] == nil || approvals["Org2MSP"] == nil || approvals["Org2MSP"].Version != "1.0" {
		t.Fatalf("QueryApprovals: %s (%v)", res.Payload, err)
	}
	wantOK(t, ch.Submit(ch.Org2Admin, contract.LifecycleName, "CommitDefinition", d1).Response)
	// Approving a sequence already committed is refused.
	wantError(t, ch.Submit(ch.Org1Admin, contract.LifecycleName, "ApproveForMyOrg", d1).Response, 500,
		"sequence 1 is not the next sequence of contract token (current 1)")
}
