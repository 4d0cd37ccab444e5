package peer_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/peer"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// vfWant is the expected outcome of one transaction: its code and
// substrings of its reason.
type vfWant struct {
	code   peerpb.TxValidationCode
	reason []string
}

func vfValid() vfWant { return vfWant{code: peerpb.TxValidationCode_VALID} }

func vfInvalid(code peerpb.TxValidationCode, reason ...string) vfWant {
	return vfWant{code: code, reason: reason}
}

func vfCheck(t *testing.T, res *peer.ValidationResult, want []vfWant) {
	t.Helper()
	if len(res.Codes) != len(want) || len(res.Reasons) != len(want) || len(res.TxIDs) != len(want) {
		t.Fatalf("%d codes, %d reasons, %d ids for %d transactions", len(res.Codes), len(res.Reasons), len(res.TxIDs), len(want))
	}
	for i, w := range want {
		t.Logf("tx %d: %v %s", i, res.Codes[i], res.Reasons[i])
		if res.Codes[i] != w.code {
			t.Errorf("tx %d: code %v, want %v (reason %q)", i, res.Codes[i], w.code, res.Reasons[i])
			continue
		}
		if w.code == peerpb.TxValidationCode_VALID && res.Reasons[i] != "" {
			t.Errorf("tx %d: VALID with reason %q", i, res.Reasons[i])
		}
		if w.code != peerpb.TxValidationCode_VALID && res.Reasons[i] == "" {
			t.Errorf("tx %d: %v without a reason", i, w.code)
		}
		for _, s := range w.reason {
			if !strings.Contains(res.Reasons[i], s) {
				t.Errorf("tx %d: reason %q does not say %q", i, res.Reasons[i], s)
			}
		}
	}
}

const (
	vcVALID        = peerpb.TxValidationCode_VALID
	vcNIL          = peerpb.TxValidationCode_NIL_ENVELOPE
	vcBadPayload   = peerpb.TxValidationCode_BAD_PAYLOAD
	vcBadCreator   = peerpb.TxValidationCode_BAD_CREATOR_SIGNATURE
	vcInvalidTx    = peerpb.TxValidationCode_INVALID_ENDORSER_TRANSACTION
	vcInvalidCfg   = peerpb.TxValidationCode_INVALID_CONFIG_TRANSACTION
	vcBadTxID      = peerpb.TxValidationCode_BAD_PROPOSAL_TXID
	vcDuplicate    = peerpb.TxValidationCode_DUPLICATE_TXID
	vcPolicy       = peerpb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE
	vcMVCC         = peerpb.TxValidationCode_MVCC_READ_CONFLICT
	vcPhantom      = peerpb.TxValidationCode_PHANTOM_READ_CONFLICT
	vcUnknownType  = peerpb.TxValidationCode_UNKNOWN_TX_TYPE
	vcWrongChannel = peerpb.TxValidationCode_TARGET_CHAIN_NOT_FOUND
	vcBadRWSet     = peerpb.TxValidationCode_BAD_RWSET
	vcIllegalWrite = peerpb.TxValidationCode_ILLEGAL_WRITESET
	vcUndefined    = peerpb.TxValidationCode_INVALID_CHAINCODE
	vcOther        = peerpb.TxValidationCode_INVALID_OTHER_REASON
)

// TestValidate runs one block per case through Prepare and Finish against
// the fixture's committed state: the definitions of vfDefinitions and the
// keys asset1 and asset2 of assets at version 1:0.
func TestValidate(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{Workers: 2})
	expired := f.newBundle(func() time.Time { return time.Now().Add(2 * time.Hour) }, nil)
	ns := func(name string, items ...any) envelope.NsRWSet {
		return envelope.NsRWSet{Namespace: name, KV: vfKV(items...)}
	}
	defineNewcc := []envelope.NsRWSet{ns("_lifecycle", vfWrite("definitions/newcc", string(vfDefinition(t, "newcc", 1, "OR('Org1MSP.peer')"))))}
	redefineAssets := []envelope.NsRWSet{ns("_lifecycle", vfWrite("definitions/assets", string(vfDefinition(t, "assets", 2, "OR('Org1MSP.peer')"))))}

	tests := []struct {
		name   string
		bundle *channelconfig.Bundle // nil: the fixture's
		// build returns the block's envelopes and the ids already in the
		// ledger.
		build func() ([][]byte, []string)
		want  []vfWant
	}{
		{
			name:  "valid with both endorsements",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{})}, nil },
			want:  []vfWant{vfValid()},
		},
		{
			name: "only Org1 endorses",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "endorsement policy of assets (AND('Org1MSP.peer','Org2MSP.peer')) not satisfied: missing Org2MSP.peer")},
		},
		{
			name:  "no endorsements",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{endorsers: vfNoEndorsers})}, nil },
			want:  []vfWant{vfInvalid(vcPolicy, "Org1MSP.peer", "Org2MSP.peer")},
		},
		{
			name: "the same endorser twice counts once",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer, f.org1Peer}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer")},
		},
		{
			name: "two peers of Org1 do not make Org2",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer, f.org1Peer2}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer")},
		},
		{
			name: "a client's endorsement is no peer's",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer, f.org2Client}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer")},
		},
		{
			name:  "forged creator signature",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{forgeCreator: true})}, nil },
			want:  []vfWant{vfInvalid(vcBadCreator, "signature of the creator Org1MSP CN=client.org1", "does not verify")},
		},
		{
			name:  "forged endorsement signature",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{forgeEndorsement: 2})}, nil },
			want: []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer",
				"endorsement 1 by Org2MSP CN=peer0.org2 (peer) ignored: signature does not verify")},
		},
		{
			name:   "many refused endorsements are counted, not all named",
			bundle: expired,
			build: func() ([][]byte, []string) {
				var rogues []*identity.SigningIdentity
				for range 7 {
					rogues = append(rogues, vfIssue(t, f.org1CA, "expired.org1", identity.RolePeer, time.Hour))
				}
				return [][]byte{f.env(vfTx{endorsers: append(rogues, f.org1Peer, f.rogueClient, f.rogueClient)})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer", "endorsement 3 ignored: certificate for CN=expired.org1 expired", "; 4 more endorsements ignored")},
		},
		{
			name: "a refused endorser is named once",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.rogueClient, f.rogueClient, f.org1Peer}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer; endorsement 0 ignored: certificate for CN=client.org1 is issued by an unknown CA (CN=ca.rogue), not by a CA of Org1MSP")},
		},
		{
			name: "forged endorsement beside two good ones",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer, f.org1Peer2, f.org2Peer}, forgeEndorsement: 2})}, nil
			},
			want: []vfWant{vfValid()},
		},
		{
			// A failed signature does not stand for its endorser: the same
			// endorser's good signature, before or after it, still counts.
			name: "an endorser's forged signature before its good one",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer, f.org2Peer, f.org2Peer}, forgeEndorsement: 2})}, nil
			},
			want: []vfWant{vfValid()},
		},
		{
			name: "an endorser's forged signature after its good one",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer, f.org2Peer, f.org2Peer}, forgeEndorsement: 3})}, nil
			},
			want: []vfWant{vfValid()},
		},
		{
			name: "endorser from an unknown CA",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{endorsers: []*identity.SigningIdentity{f.org2Peer, f.rogueClient}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "missing Org1MSP.peer", "endorsement 1 ignored", "unknown CA")},
		},
		{
			name:  "creator from an unknown CA",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{creator: f.rogueClient})}, nil },
			want:  []vfWant{vfInvalid(vcBadCreator, "creator: ", "unknown CA")},
		},
		{
			name:   "expired creator",
			bundle: expired,
			build:  func() ([][]byte, []string) { return [][]byte{f.env(vfTx{creator: f.shortClient})}, nil },
			want:   []vfWant{vfInvalid(vcBadCreator, "creator: ", "expired")},
		},
		{
			name:   "creator valid at the bundle's clock",
			bundle: expired,
			build:  func() ([][]byte, []string) { return [][]byte{f.env(vfTx{})}, nil },
			want:   []vfWant{vfValid()},
		},
		{
			name:  "bad transaction id",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{txID: strings.Repeat("ab", 32)})}, nil },
			want:  []vfWant{vfInvalid(vcBadTxID, "is not hex(SHA-256(nonce ‖ creator))")},
		},
		{
			name:  "wrong channel",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{channel: "otherchannel"})}, nil },
			want:  []vfWant{vfInvalid(vcWrongChannel, `"otherchannel"`)},
		},
		{
			name:  "nil and undecodable envelopes",
			build: func() ([][]byte, []string) { return [][]byte{nil, []byte("garbage"), f.env(vfTx{})}, nil },
			want:  []vfWant{vfInvalid(vcNIL), vfInvalid(vcBadPayload), vfValid()},
		},
		{
			name:  "unknown header type",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{typ: commonpb.HeaderType_CONFIG_UPDATE})}, nil },
			want:  []vfWant{vfInvalid(vcUnknownType, "CONFIG_UPDATE")},
		},
		{
			name: "duplicate of a transaction in the ledger",
			build: func() ([][]byte, []string) {
				env, id := f.tx(vfTx{})
				return [][]byte{env}, []string{id}
			},
			want: []vfWant{vfInvalid(vcDuplicate, "already in the ledger")},
		},
		{
			name: "duplicate within the block",
			build: func() ([][]byte, []string) {
				env, _ := f.tx(vfTx{})
				return [][]byte{env, env}, nil
			},
			want: []vfWant{vfValid(), vfInvalid(vcDuplicate, "transaction 0 of this block")},
		},
		{
			name: "duplicate of an invalid transaction of the block",
			build: func() ([][]byte, []string) {
				nonce := []byte("the same nonce, twenty-four")
				return [][]byte{f.env(vfTx{nonce: nonce, status: 500}), f.env(vfTx{nonce: nonce})}, nil
			},
			want: []vfWant{vfInvalid(vcInvalidTx, "status 500"), vfInvalid(vcDuplicate, "transaction 0 of this block")},
		},
		{
			name: "a forged envelope does not take the id of an honest one",
			build: func() ([][]byte, []string) {
				nonce := []byte("the same nonce, twenty-four")
				return [][]byte{f.env(vfTx{nonce: nonce, forgeCreator: true}), f.env(vfTx{nonce: nonce})}, nil
			},
			want: []vfWant{vfInvalid(vcBadCreator), vfValid()},
		},
		{
			name: "MVCC conflict between two transactions of the block",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfRead("asset1", vfV10), vfWrite("asset1", "changed"))}
				rw2 := []envelope.NsRWSet{ns("assets", vfRead("asset1", vfV10), vfWrite("asset1", "changed again"))}
				return [][]byte{f.env(vfTx{rw: rw}), f.env(vfTx{rw: rw2})}, nil
			},
			want: []vfWant{vfValid(), vfInvalid(vcMVCC, `key "asset1" in namespace "assets"`, "written by transaction 0 of this block")},
		},
		{
			name: "stale read",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfRead("asset1", nil), vfWrite("asset1", "x"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcMVCC, `key "asset1"`, "1:0")},
		},
		{
			name: "phantom against committed state",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfRange("asset", "asset~", vfRead("asset1", vfV10)), vfWrite("count", "1"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcPhantom, `key "asset2" inserted`)},
		},
		{
			name: "phantom from an earlier transaction of the block",
			build: func() ([][]byte, []string) {
				insert := []envelope.NsRWSet{ns("assets", vfWrite("asset3", "three"))}
				scan := []envelope.NsRWSet{ns("assets", vfRange("asset", "asset~", vfRead("asset1", vfV10), vfRead("asset2", vfV10)), vfWrite("count", "2"))}
				return [][]byte{f.env(vfTx{rw: insert}), f.env(vfTx{rw: scan})}, nil
			},
			want: []vfWant{vfValid(), vfInvalid(vcPhantom, `key "asset3" inserted by transaction 0 of this block`)},
		},
		{
			name: "an invalid transaction's writes do not conflict",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfRead("asset1", vfV10), vfWrite("asset1", "changed"))}
				return [][]byte{f.env(vfTx{rw: rw, endorsers: vfNoEndorsers}), f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy), vfValid()},
		},
		{
			name:  "undefined contract",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{contract: "nosuch"})}, nil },
			want:  []vfWant{vfInvalid(vcUndefined, "contract nosuch is not defined on channel mychannel")},
		},
		{
			name: "write to an undefined namespace",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfWrite("k", "v")), ns("nosuch", vfWrite("k", "v"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcUndefined, "contract nosuch is not defined on channel mychannel")},
		},
		{
			name: "write to another namespace whose policy is met",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfWrite("k", "v")), ns("lenient", vfWrite("k", "v"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfValid()},
		},
		{
			name: "write to another namespace whose policy is not met",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfWrite("k", "v")), ns("audit", vfWrite("k", "v"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "endorsement policy of audit (AND('Org1MSP.peer','Org2MSP.admin')) not satisfied: missing Org2MSP.admin")},
		},
		{
			name: "read of another namespace needs no policy",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfWrite("k", "v")), ns("audit", vfRead("k", nil))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfValid()},
		},
		{
			name: "illegal _lifecycle write",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("_lifecycle", vfWrite("definitions/assets", "x")), ns("assets", vfWrite("k", "v"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcIllegalWrite, "contract assets may not write to the _lifecycle namespace")},
		},
		{
			name: "lifecycle transaction",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{contract: "_lifecycle", rw: defineNewcc})}, nil
			},
			want: []vfWant{vfValid()},
		},
		{
			name: "lifecycle transaction endorsed by one organization",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{contract: "_lifecycle", rw: defineNewcc, endorsers: []*identity.SigningIdentity{f.org1Peer}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "endorsement policy of _lifecycle (/Channel/LifecycleEndorsement = MAJORITY Endorsement) not satisfied")},
		},
		{
			name: "definition changed earlier in the block",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{contract: "_lifecycle", rw: redefineAssets}), f.env(vfTx{}), f.env(vfTx{contract: "lenient"})}, nil
			},
			want: []vfWant{vfValid(), vfInvalid(vcMVCC, "the definition of contract assets was changed by transaction 0 of this block"), vfValid()},
		},
		{
			name:  "channel policy reference met",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{contract: "chanpol"})}, nil },
			want:  []vfWant{vfValid()},
		},
		{
			name: "channel policy reference not met",
			build: func() ([][]byte, []string) {
				return [][]byte{f.env(vfTx{contract: "chanpol", endorsers: []*identity.SigningIdentity{f.org2Peer}})}, nil
			},
			want: []vfWant{vfInvalid(vcPolicy, "endorsement policy of chanpol (/Channel/Endorsement = MAJORITY Endorsement) not satisfied", "Org1MSP")},
		},
		{
			name:  "definition whose policy does not parse",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{contract: "broken"})}, nil },
			want:  []vfWant{vfInvalid(vcUndefined, "contract broken: endorsement policy")},
		},
		{
			name:  "response status 500",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{status: 500})}, nil },
			want:  []vfWant{vfInvalid(vcInvalidTx, "status 500", "a failed simulation never commits")},
		},
		{
			name:  "response status 399 is a success",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{status: 399})}, nil },
			want:  []vfWant{vfValid()},
		},
		{
			name:  "action header is not the payload's signature header",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{actionHeader: []byte{}})}, nil },
			want:  []vfWant{vfInvalid(vcInvalidTx, "the transaction action's header is not the payload's signature header")},
		},
		{
			name:  "private data",
			build: func() ([][]byte, []string) { return [][]byte{f.env(vfTx{private: true})}, nil },
			want:  []vfWant{vfInvalid(vcOther, "private data is not supported")},
		},
		{
			name: "invalid namespace",
			build: func() ([][]byte, []string) {
				rw := []envelope.NsRWSet{ns("assets", vfWrite("k", "v")), ns("no/slash", vfWrite("k", "v"))}
				return [][]byte{f.env(vfTx{rw: rw})}, nil
			},
			want: []vfWant{vfInvalid(vcBadRWSet, "no/slash")},
		},
		{
			name: "config transaction beside others",
			build: func() ([][]byte, []string) {
				next := proto.CloneOf(f.cfg)
				next.Sequence = 1
				return [][]byte{f.configEnv(next), f.env(vfTx{})}, nil
			},
			want: []vfWant{vfInvalid(vcInvalidCfg, "only transaction of its block"), vfValid()},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			envs, seen := tc.build()
			block := f.block(envs...)
			res := f.validate(block, tc.bundle, seen...)
			vfCheck(t, res, tc.want)
			if res.Block != block.Header.Number {
				t.Errorf("result of block %d, want %d", res.Block, block.Header.Number)
			}
			if res.Config != nil {
				t.Errorf("a block of transactions gave a configuration")
			}
		})
	}
}

// TestValidateResult checks what the committer takes from a result: the
// valid writes, the ids, and the events of valid transactions only.
func TestValidateResult(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{})
	event := func(name string) *peerpb.ChaincodeEvent {
		return &peerpb.ChaincodeEvent{ChaincodeId: "assets", EventName: name, Payload: []byte(name)}
	}
	kvOf := func(key, value string) []envelope.NsRWSet {
		return []envelope.NsRWSet{{Namespace: "assets", KV: vfKV(vfWrite(key, value))}}
	}
	env0, id0 := f.tx(vfTx{rw: kvOf("a", "alpha"), event: event("Created")})
	env1, id1 := f.tx(vfTx{rw: kvOf("b", "beta"), event: event("Refused"), endorsers: vfNoEndorsers})
	env2, id2 := f.tx(vfTx{rw: kvOf("c", "gamma")})
	env3, id3 := f.tx(vfTx{rw: kvOf("d", "delta"), event: event("Updated")})
	block := f.block(env0, env1, env2, env3)
	res := f.validate(block, nil)
	vfCheck(t, res, []vfWant{vfValid(), vfInvalid(vcPolicy), vfValid(), vfValid()})
	if want := []string{id0, id1, id2, id3}; !slices.Equal(res.TxIDs, want) {
		t.Errorf("ids %q, want %q", res.TxIDs, want)
	}
	if len(res.Events) != 2 {
		t.Fatalf("%d events, want 2: %v", len(res.Events), res.Events)
	}
	for i, want := range []struct {
		num  int
		id   string
		name string
	}{{0, id0, "Created"}, {3, id3, "Updated"}} {
		got := res.Events[i]
		if got.TxNum != want.num || got.TxID != want.id || got.Event.GetEventName() != want.name {
			t.Errorf("event %d: tx %d %s %q, want tx %d %s %q", i, got.TxNum, got.TxID, got.Event.GetEventName(), want.num, want.id, want.name)
		}
	}

	// The updates commit the valid writes at (block, tx number).
	b := f.db.NewBatch()
	defer b.Close()
	if err := res.Updates.WriteTo(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, value string
		tx         uint64
	}{{"a", "alpha", 0}, {"b", "", 0}, {"c", "gamma", 2}, {"d", "delta", 3}} {
		v, ver, err := f.state.Get(f.db, "assets", c.key)
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != c.value || (c.value != "" && (ver.BlockNum != block.Header.Number || ver.TxNum != c.tx)) {
			t.Errorf("key %s: %q at %v, want %q at %d:%d", c.key, v, ver, c.value, block.Header.Number, c.tx)
		}
	}
}

// TestValidateConfigBlock checks config blocks: the genesis block, a later
// configuration, and the ones refused.
func TestValidateConfigBlock(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{})
	genesis, err := channelconfig.GenesisBlock(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	prep := f.v.Prepare(genesis, f.bundle)
	if prep.Config() == nil {
		t.Fatal("Prepared.Config is nil for the genesis block")
	}
	res, err := f.v.Finish(prep, f.db, f.definitions(), vfSeen())
	if err != nil {
		t.Fatal(err)
	}
	vfCheck(t, res, []vfWant{vfValid()})
	if res.Config == nil || res.Config.GetSequence() != 0 {
		t.Fatalf("genesis configuration %v", res.Config)
	}

	next := proto.CloneOf(f.cfg)
	next.Sequence = 1
	res = f.validate(f.block(f.configEnv(next)), nil)
	vfCheck(t, res, []vfWant{vfValid()})
	if res.Config == nil || res.Config.GetSequence() != 1 || len(res.Events) != 0 {
		t.Fatalf("configuration %v, events %v", res.Config, res.Events)
	}

	for _, c := range []struct {
		name   string
		mutate func(*configpb.ChannelConfig)
		reason string
	}{
		{"stale sequence", func(c *configpb.ChannelConfig) { c.Sequence = 0 }, "sequence 0 does not follow the channel's sequence 0"},
		{"another channel", func(c *configpb.ChannelConfig) { c.Sequence, c.ChannelId = 1, "otherchannel" }, `configuration is of channel "otherchannel"`},
		{"invalid configuration", func(c *configpb.ChannelConfig) { c.Sequence, c.OrdererOrganizations = 1, nil }, "orderer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := proto.CloneOf(f.cfg)
			c.mutate(cfg)
			env := f.configEnv(cfg)
			if cfg.ChannelId != vfChannel {
				// The envelope is for this channel; only the configuration
				// inside names another.
				e, err := envelope.ParseEnvelope(env)
				if err != nil {
					t.Fatal(err)
				}
				e.ChannelHeader.ChannelId = vfChannel
				e.Payload.Header.ChannelHeader = vfMarshal(t, e.ChannelHeader)
				env = vfMarshal(t, &commonpb.Envelope{Payload: vfMarshal(t, e.Payload)})
			}
			res := f.validate(f.block(env), nil)
			vfCheck(t, res, []vfWant{vfInvalid(vcInvalidCfg, c.reason)})
			if res.Config != nil {
				t.Error("an invalid config block gave a configuration")
			}
		})
	}
}

// TestPrepareWorkers checks that the number of workers does not change
// the outcome.
func TestPrepareWorkers(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{Workers: 1})
	var envs [][]byte
	for i := range 24 {
		spec := vfTx{}
		switch i % 4 {
		case 1:
			spec.forgeCreator = true
		case 2:
			spec.endorsers = []*identity.SigningIdentity{f.org1Peer}
		case 3:
			spec.forgeEndorsement = 1
		}
		envs = append(envs, f.env(spec))
	}
	envs = append(envs, envs[0], nil)
	block := f.block(envs...)
	want := f.validate(block, nil)
	for _, workers := range []int{2, 3, 16} {
		v, err := peer.NewValidator(f.state, peer.ValidatorOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Validate(block, f.bundle, f.db, f.definitions(), vfSeen())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Codes, want.Codes) || !slices.Equal(got.Reasons, want.Reasons) {
			t.Errorf("%d workers: codes %v reasons %q; one worker: %v %q", workers, got.Codes, got.Reasons, want.Codes, want.Reasons)
		}
	}
	if want.Codes[24] != vcDuplicate || want.Codes[25] != vcNIL {
		t.Errorf("codes %v", want.Codes)
	}
}

// TestPrepareOverlapsFinish prepares block N+1 while block N finishes, as
// the committer does, under the race detector.
func TestPrepareOverlapsFinish(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{Workers: 2})
	var blocks []*commonpb.Block
	for range 4 {
		var envs [][]byte
		for range 8 {
			envs = append(envs, f.env(vfTx{}))
		}
		blocks = append(blocks, f.block(envs...))
		f.height++
	}
	prep := f.v.Prepare(blocks[0], f.bundle)
	for i := range blocks {
		var next *peer.Prepared
		var wg sync.WaitGroup
		if i+1 < len(blocks) {
			wg.Go(func() { next = f.v.Prepare(blocks[i+1], f.bundle) })
		}
		res, err := f.v.Finish(prep, f.db, f.definitions(), vfSeen())
		if err != nil {
			t.Fatal(err)
		}
		for j, c := range res.Codes {
			if c != vcVALID {
				t.Errorf("block %d tx %d: %v %s", i, j, c, res.Reasons[j])
			}
		}
		wg.Wait()
		prep = next
	}
}

// TestValidateDefinitionUpgrade checks that a new definition's policy
// replaces the cached one.
func TestValidateDefinitionUpgrade(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{})
	onlyOrg1 := vfTx{endorsers: []*identity.SigningIdentity{f.org1Peer}}
	vfCheck(t, f.validate(f.block(f.env(onlyOrg1)), nil), []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer")})

	f.commit(envelope.NsRWSet{Namespace: "_lifecycle", KV: vfKV(vfWrite("definitions/assets", string(vfDefinition(t, "assets", 2, "OR('Org1MSP.peer','Org2MSP.peer')"))))})
	vfCheck(t, f.validate(f.block(f.env(onlyOrg1)), nil), []vfWant{vfValid()})

	f.commit(envelope.NsRWSet{Namespace: "_lifecycle", KV: vfKV(vfWrite("definitions/assets", string(vfDefinition(t, "assets", 3, "OR('Org2MSP.peer')"))))})
	vfCheck(t, f.validate(f.block(f.env(onlyOrg1)), nil), []vfWant{vfInvalid(vcPolicy, "missing Org2MSP.peer")})
}

// TestFinishErrors checks that failures of storage and faults of the
// caller are errors of Finish, never validation codes.
func TestFinishErrors(t *testing.T) {
	f := newValidatorFixture(t, peer.ValidatorOptions{})
	block := f.block(f.env(vfTx{}))

	if _, err := f.v.Validate(block, f.bundle, f.db, vfFailingDefinitions{}, vfSeen()); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("failing definitions: %v", err)
	}
	seenFails := func(string) (bool, error) { return false, errors.New("index unreadable") }
	if _, err := f.v.Validate(block, f.bundle, f.db, f.definitions(), seenFails); err == nil || !strings.Contains(err.Error(), "index unreadable") {
		t.Errorf("failing txSeen: %v", err)
	}

	other := proto.CloneOf(f.cfg)
	other.ChannelId = "otherchannel"
	otherBundle, err := channelconfig.NewBundle(other, channelconfig.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		block  *commonpb.Block
		bundle *channelconfig.Bundle
		want   string
	}{
		"no header":        {&commonpb.Block{}, f.bundle, "no header"},
		"no bundle":        {block, nil, "no channel configuration"},
		"other channel":    {block, otherBundle, `configuration of channel "otherchannel"`},
		"storage is fine:": {block, f.bundle, ""},
	} {
		_, err := f.v.Validate(c.block, c.bundle, f.db, f.definitions(), nil)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), "peer: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}

	if _, err := peer.NewValidator(nil, peer.ValidatorOptions{}); err == nil {
		t.Error("NewValidator without state: no error")
	}
}

// TestValidateNotDefined checks how Finish recognises a contract without a
// definition: ErrNotDefined, a nil definition, no Definitions at all, or
// the error ValidatorOptions.IsNotDefined recognises.
func TestValidateNotDefined(t *testing.T) {
	notFound := errors.New("contract: no such definition")
	f := newValidatorFixture(t, peer.ValidatorOptions{IsNotDefined: func(err error) bool { return errors.Is(err, notFound) }})
	block := f.block(f.env(vfTx{}))
	for name, defs := range map[string]peer.Definitions{
		"own sentinel":   vfErrDefinitions{fmt.Errorf("reading: %w", notFound)},
		"nil definition": vfErrDefinitions{nil},
		"no definitions": nil,
	} {
		res, err := f.v.Validate(block, f.bundle, f.db, defs, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		vfCheck(t, res, []vfWant{vfInvalid(vcUndefined, "contract assets is not defined on channel mychannel")})
	}
	// With IsNotDefined set, ErrNotDefined is a storage error like any other.
	if _, err := f.v.Validate(block, f.bundle, f.db, vfErrDefinitions{peer.ErrNotDefined}, nil); err == nil {
		t.Error("an error IsNotDefined does not recognise was taken for a missing definition")
	}
}

type vfErrDefinitions struct{ err error }

func (d vfErrDefinitions) Definition(string) (*lifecyclepb.ContractDefinition, error) {
	return nil, d.err
}
