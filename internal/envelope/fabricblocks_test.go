package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/fabrictest"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	etcdraftpb "github.com/chorusledger/chorus/proto/fabric/orderer/etcdraft"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type blockFacts struct {
	File                     string   `json:"file"`
	Number                   uint64   `json:"number"`
	Txs                      int      `json:"txs"`
	HeaderTypes              []int32  `json:"header_types"`
	TxIDsVerified            int      `json:"txids_verified"`
	Channels                 []string `json:"channels"`
	EndorsementsPerTx        []int    `json:"endorsements_per_tx"`
	DataHashIsSHA256OfConcat bool     `json:"data_hash_is_sha256_of_concat"`
	PrevHashHex              string   `json:"prev_hash_hex"`
	DataHashHex              string   `json:"data_hash_hex"`
}

func loadFabricBlocks(t testing.TB) ([]*commonpb.Block, []blockFacts) {
	t.Helper()
	var facts []blockFacts
	if err := json.Unmarshal(fabrictest.File(t, "facts.json"), &facts); err != nil {
		t.Fatal(err)
	}
	var blocks []*commonpb.Block
	for _, f := range facts {
		b := fabrictest.File(t, f.File)
		blk := &commonpb.Block{}
		if err := proto.Unmarshal(b, blk); err != nil {
			t.Fatalf("%s: %v", f.File, err)
		}
		blocks = append(blocks, blk)
	}
	return blocks, facts
}

// decoder walks a message tree, expanding the bytes fields that hold
// marshalled messages, and reports every unknown field it meets. A field
// number we got wrong shows up here as an unknown field (or a decode error).
type decoder struct {
	t       *testing.T
	decoded int // messages checked
}

func (d *decoder) decode(path string, b []byte, m proto.Message) {
	d.t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		d.t.Fatalf("%s: decode %s: %v", path, m.ProtoReflect().Descriptor().FullName(), err)
	}
	d.check(path, m)
}

// check asserts that m and every message reachable through its fields has
// no unknown fields.
func (d *decoder) check(path string, m proto.Message) {
	d.t.Helper()
	d.checkReflect(path, m.ProtoReflect())
}

func (d *decoder) checkReflect(path string, m protoreflect.Message) {
	d.t.Helper()
	d.decoded++
	if u := m.GetUnknown(); len(u) > 0 {
		d.t.Errorf("%s (%s): %d bytes of unknown fields", path, m.Descriptor().FullName(), len(u))
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				d.checkReflect(fmt.Sprintf("%s[%d]", p, i), l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				d.checkReflect(fmt.Sprintf("%s[%v]", p, k.Interface()), mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			d.checkReflect(p, v.Message())
		}
		return true
	})
}

func (d *decoder) block(name string, blk *commonpb.Block) {
	d.check(name, blk)
	for i, data := range blk.Data.Data {
		d.envelope(fmt.Sprintf("%s.data[%d]", name, i), data)
	}
	md := blk.Metadata.Metadata
	if len(md) <= int(commonpb.BlockMetadataIndex_COMMIT_HASH) {
		d.t.Fatalf("%s: %d metadata slots, want at least 5", name, len(md))
	}
	sigs := &commonpb.Metadata{}
	d.decode(name+".metadata[SIGNATURES]", md[commonpb.BlockMetadataIndex_SIGNATURES], sigs)
	if len(sigs.Value) > 0 {
		obm := &commonpb.OrdererBlockMetadata{}
		d.decode(name+".metadata[SIGNATURES].value", sigs.Value, obm)
		if len(obm.ConsenterMetadata) > 0 {
			// Fabric wraps the Raft block metadata in a common.Metadata.
			cm := &commonpb.Metadata{}
			d.decode(name+".metadata[SIGNATURES].value.consenter_metadata", obm.ConsenterMetadata, cm)
			raftMD := &etcdraftpb.BlockMetadata{}
			d.decode(name+".metadata[SIGNATURES].value.consenter_metadata.value", cm.Value, raftMD)
			// The network's consenter ids are 1, 2, 3 (next id 4) and block
			// n was written at raft index n+4: coherent values show the
			// nesting is decoded right, where a wrong one yields garbage.
			if want := blk.Header.Number + 4; raftMD.RaftIndex != want || fmt.Sprint(raftMD.ConsenterIds) != "[1 2 3]" || raftMD.NextConsenterId != 4 {
				d.t.Errorf("%s: Raft metadata %v, want consenters [1 2 3], next id 4, raft index %d", name, raftMD, want)
			}
		}
	}
	for i, s := range sigs.Signatures {
		d.signatureHeader(fmt.Sprintf("%s.metadata[SIGNATURES].signatures[%d].signature_header", name, i), s.SignatureHeader)
	}
	d.decode(name+".metadata[COMMIT_HASH]", md[commonpb.BlockMetadataIndex_COMMIT_HASH], &commonpb.Metadata{})
}

func (d *decoder) signatureHeader(path string, b []byte) *commonpb.SignatureHeader {
	sh := &commonpb.SignatureHeader{}
	d.decode(path, b, sh)
	d.decode(path+".creator", sh.Creator, &msppb.SerializedIdentity{})
	return sh
}

func (d *decoder) envelope(path string, b []byte) {
	env := &commonpb.Envelope{}
	d.decode(path, b, env)
	pl := &commonpb.Payload{}
	d.decode(path+".payload", env.Payload, pl)
	ch := &commonpb.ChannelHeader{}
	d.decode(path+".payload.header.channel_header", pl.Header.ChannelHeader, ch)
	d.signatureHeader(path+".payload.header.signature_header", pl.Header.SignatureHeader)
	switch commonpb.HeaderType(ch.Type) {
	case commonpb.HeaderType_CONFIG:
		ce := &commonpb.ConfigEnvelope{}
		d.decode(path+".payload.data", pl.Data, ce)
		d.configGroup(path+".payload.data.config.channel_group", ce.Config.ChannelGroup)
		if ce.LastUpdate != nil {
			d.configUpdateEnvelope(path+".payload.data.last_update", ce.LastUpdate)
		}
	case commonpb.HeaderType_ENDORSER_TRANSACTION:
		d.decode(path+".payload.header.channel_header.extension", ch.Extension, &peerpb.ChaincodeHeaderExtension{})
		d.endorserTransaction(path+".payload.data", pl.Data)
	default:
		d.t.Errorf("%s: unexpected header type %d", path, ch.Type)
	}
}

func (d *decoder) configUpdateEnvelope(path string, env *commonpb.Envelope) {
	pl := &commonpb.Payload{}
	d.decode(path+".payload", env.Payload, pl)
	d.decode(path+".payload.header.channel_header", pl.Header.ChannelHeader, &commonpb.ChannelHeader{})
	d.signatureHeader(path+".payload.header.signature_header", pl.Header.SignatureHeader)
	cue := &commonpb.ConfigUpdateEnvelope{}
	d.decode(path+".payload.data", pl.Data, cue)
	cu := &commonpb.ConfigUpdate{}
	d.decode(path+".payload.data.config_update", cue.ConfigUpdate, cu)
	d.configGroup(path+".read_set", cu.ReadSet)
	d.configGroup(path+".write_set", cu.WriteSet)
	for i, s := range cue.Signatures {
		d.signatureHeader(fmt.Sprintf("%s.signatures[%d].signature_header", path, i), s.SignatureHeader)
	}
}

// configValueTypes maps each configuration value key Fabric 2.5 writes to
// the message its bytes hold.
var configValueTypes = map[string]func() proto.Message{
	"HashingAlgorithm":          func() proto.Message { return &commonpb.HashingAlgorithm{} },
	"BlockDataHashingStructure": func() proto.Message { return &commonpb.BlockDataHashingStructure{} },
	"OrdererAddresses":          func() proto.Message { return &commonpb.OrdererAddresses{} },
	"Endpoints":                 func() proto.Message { return &commonpb.OrdererAddresses{} },
	"Consortium":                func() proto.Message { return &commonpb.Consortium{} },
	"Capabilities":              func() proto.Message { return &commonpb.Capabilities{} },
	"Orderers":                  func() proto.Message { return &commonpb.Orderers{} },
	"MSP":                       func() proto.Message { return &msppb.MSPConfig{} },
	"ConsensusType":             func() proto.Message { return &ordererpb.ConsensusType{} },
	"BatchSize":                 func() proto.Message { return &ordererpb.BatchSize{} },
	"BatchTimeout":              func() proto.Message { return &ordererpb.BatchTimeout{} },
	"ChannelRestrictions":       func() proto.Message { return &ordererpb.ChannelRestrictions{} },
	"AnchorPeers":               func() proto.Message { return &peerpb.AnchorPeers{} },
	"ACLs":                      func() proto.Message { return &peerpb.ACLs{} },
}

func (d *decoder) configGroup(path string, g *commonpb.ConfigGroup) {
	if g == nil {
		return
	}
	for name, sub := range g.Groups {
		d.configGroup(path+"/"+name, sub)
	}
	for key, v := range g.Values {
		p := path + ":" + key
		mk, ok := configValueTypes[key]
		if !ok {
			d.t.Errorf("%s: configuration value of unknown type", p)
			continue
		}
		if len(v.Value) == 0 { // a read set names values without their content
			continue
		}
		m := mk()
		d.decode(p, v.Value, m)
		switch m := m.(type) {
		case *msppb.MSPConfig:
			d.decode(p+".config", m.Config, &msppb.FabricMSPConfig{})
		case *ordererpb.ConsensusType:
			if m.Type == "etcdraft" {
				d.decode(p+".metadata", m.Metadata, &etcdraftpb.ConfigMetadata{})
			}
		}
	}
	for name, cp := range g.Policies {
		p := path + "#" + name
		if cp.Policy == nil {
			continue
		}
		switch commonpb.Policy_PolicyType(cp.Policy.Type) {
		case commonpb.Policy_SIGNATURE:
			spe := &commonpb.SignaturePolicyEnvelope{}
			d.decode(p, cp.Policy.Value, spe)
			for i, id := range spe.Identities {
				d.principal(fmt.Sprintf("%s.identities[%d]", p, i), id)
			}
		case commonpb.Policy_IMPLICIT_META:
			d.decode(p, cp.Policy.Value, &commonpb.ImplicitMetaPolicy{})
		default:
			d.t.Errorf("%s: policy type %d", p, cp.Policy.Type)
		}
	}
}

func (d *decoder) principal(path string, p *msppb.MSPPrincipal) {
	switch p.PrincipalClassification {
	case msppb.MSPPrincipal_ROLE:
		d.decode(path+".principal", p.Principal, &msppb.MSPRole{})
	case msppb.MSPPrincipal_ORGANIZATION_UNIT:
		d.decode(path+".principal", p.Principal, &msppb.OrganizationUnit{})
	case msppb.MSPPrincipal_IDENTITY:
		d.decode(path+".principal", p.Principal, &msppb.SerializedIdentity{})
	default:
		d.t.Errorf("%s: principal classification %v", path, p.PrincipalClassification)
	}
}

func (d *decoder) endorserTransaction(path string, b []byte) {
	tx := &peerpb.Transaction{}
	d.decode(path, b, tx)
	for i, a := range tx.Actions {
		ap := fmt.Sprintf("%s.actions[%d]", path, i)
		d.signatureHeader(ap+".header", a.Header)
		cap := &peerpb.ChaincodeActionPayload{}
		d.decode(ap+".payload", a.Payload, cap)
		cpp := &peerpb.ChaincodeProposalPayload{}
		d.decode(ap+".payload.chaincode_proposal_payload", cap.ChaincodeProposalPayload, cpp)
		d.decode(ap+".payload.chaincode_proposal_payload.input", cpp.Input, &peerpb.ChaincodeInvocationSpec{})
		prp := &peerpb.ProposalResponsePayload{}
		d.decode(ap+".payload.action.proposal_response_payload", cap.Action.ProposalResponsePayload, prp)
		ca := &peerpb.ChaincodeAction{}
		d.decode(ap+".payload.action.proposal_response_payload.extension", prp.Extension, ca)
		rws := &rwsetpb.TxReadWriteSet{}
		d.decode(ap+"...extension.results", ca.Results, rws)
		for j, ns := range rws.NsRwset {
			d.decode(fmt.Sprintf("%s...results.ns_rwset[%d:%s].rwset", ap, j, ns.Namespace), ns.Rwset, &kvrwsetpb.KVRWSet{})
		}
		if len(ca.Events) > 0 {
			d.decode(ap+"...extension.events", ca.Events, &peerpb.ChaincodeEvent{})
		}
		for j, e := range cap.Action.Endorsements {
			d.decode(fmt.Sprintf("%s.payload.action.endorsements[%d].endorser", ap, j), e.Endorser, &msppb.SerializedIdentity{})
		}
	}
}

// TestFabricBlocksDecodeWithoutUnknownFields decodes every real Fabric
// block at every depth with our generated code.
func TestFabricBlocksDecodeWithoutUnknownFields(t *testing.T) {
	blocks, facts := loadFabricBlocks(t)
	d := &decoder{t: t}
	for i, blk := range blocks {
		d.block(facts[i].File, blk)
	}
	// A decoder that silently skipped everything would pass the loop; the
	// six blocks hold over five hundred messages.
	if d.decoded < 500 {
		t.Fatalf("checked only %d messages", d.decoded)
	}
	t.Logf("checked %d messages in %d blocks", d.decoded, len(blocks))
}

// TestFabricBlocksMatchFacts parses every transaction with the envelope
// package and compares what it finds with facts.json.
func TestFabricBlocksMatchFacts(t *testing.T) {
	blocks, facts := loadFabricBlocks(t)
	for i, blk := range blocks {
		f := facts[i]
		t.Run(f.File, func(t *testing.T) {
			if blk.Header.Number != f.Number {
				t.Errorf("number %d, want %d", blk.Header.Number, f.Number)
			}
			if len(blk.Data.Data) != f.Txs {
				t.Fatalf("%d transactions, want %d", len(blk.Data.Data), f.Txs)
			}
			var concat []byte
			verified := 0
			headerTypes := map[int32]bool{}
			channels := map[string]bool{}
			endorsements := map[int]bool{}
			for j, raw := range blk.Data.Data {
				concat = append(concat, raw...)
				env, err := envelope.ParseEnvelope(raw)
				if err != nil {
					t.Fatalf("tx %d: %v", j, err)
				}
				headerTypes[int32(env.Type())] = true
				channels[env.ChannelHeader.ChannelId] = true
				// The genesis block's creator is empty, so compute the id
				// directly rather than through CheckTxID, which demands one.
				if env.TxID() == envelope.TxID(env.SignatureHeader.Nonce, env.SignatureHeader.Creator) {
					verified++
				} else {
					t.Errorf("tx %d: transaction id %s is not hex(SHA-256(nonce ‖ creator))", j, env.TxID())
				}
				if env.Type() == commonpb.HeaderType_ENDORSER_TRANSACTION {
					if err := envelope.CheckTxID(env.TxID(), env.SignatureHeader); err != nil {
						t.Errorf("tx %d: %v", j, err)
					}
					etx, err := envelope.ParseEndorserTransaction(env.Payload.Data)
					if err != nil {
						t.Fatalf("tx %d: %v", j, err)
					}
					if !bytes.Equal(etx.SignatureHeaderBytes, env.Payload.Header.SignatureHeader) {
						t.Errorf("tx %d: action header differs from the payload's signature header", j)
					}
					if etx.ContractName() == "" || len(etx.NsRWSets) == 0 {
						t.Errorf("tx %d: contract %q with %d namespaces", j, etx.ContractName(), len(etx.NsRWSets))
					}
					endorsements[len(etx.Endorsements)] = true
				}
			}
			if verified != f.TxIDsVerified {
				t.Errorf("%d transaction ids verified, facts say %d", verified, f.TxIDsVerified)
			}
			// facts.json lists the distinct values seen in the block.
			assertSet(t, "header types", headerTypes, f.HeaderTypes)
			assertSet(t, "channels", channels, f.Channels)
			assertSet(t, "endorsements per transaction", endorsements, f.EndorsementsPerTx)
			sum := sha256.Sum256(concat)
			if got := bytes.Equal(sum[:], blk.Header.DataHash); got != f.DataHashIsSHA256OfConcat {
				t.Errorf("data hash is SHA-256 of the concatenated envelopes: %v, facts say %v", got, f.DataHashIsSHA256OfConcat)
			}
			if hex.EncodeToString(blk.Header.DataHash) != f.DataHashHex {
				t.Errorf("data hash %x, want %s", blk.Header.DataHash, f.DataHashHex)
			}
			if hex.EncodeToString(blk.Header.PreviousHash) != f.PrevHashHex {
				t.Errorf("previous hash %x, want %s", blk.Header.PreviousHash, f.PrevHashHex)
			}
		})
	}
}

func assertSet[K comparable](t *testing.T, what string, got map[K]bool, want []K) {
	t.Helper()
	wantSet := map[K]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	if len(got) != len(wantSet) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for w := range wantSet {
		if !got[w] {
			t.Errorf("%s: got %v, want %v", what, got, want)
			return
		}
	}
}

// BenchmarkParseFabricTransaction parses real Fabric endorser transactions
// as a validating peer does: the envelope and its headers, then the
// transaction down to the read/write sets.
func BenchmarkParseFabricTransaction(b *testing.B) {
	blocks, _ := loadFabricBlocks(b)
	var envs [][]byte
	for _, blk := range blocks {
		for _, d := range blk.Data.Data {
			if e, err := envelope.ParseEnvelope(d); err == nil && e.Type() == commonpb.HeaderType_ENDORSER_TRANSACTION {
				envs = append(envs, d)
			}
		}
	}
	if len(envs) == 0 {
		b.Fatal("no endorser transactions in the Fabric blocks")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e, err := envelope.ParseEnvelope(envs[i%len(envs)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := envelope.ParseEndorserTransaction(e.Payload.Data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
