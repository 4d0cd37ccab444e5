package zerocopy_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/chorusledger/chorus/internal/fabrictest"
	"github.com/chorusledger/chorus/internal/zerocopy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	etcdraftpb "github.com/chorusledger/chorus/proto/fabric/orderer/etcdraft"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// kinds are the message types the differential tests decode, each made
// fresh by its function. A seed names its kind by index.
var kinds = []func() zerocopy.Message{
	func() zerocopy.Message { return &commonpb.Block{} },
	func() zerocopy.Message { return &commonpb.Envelope{} },
	func() zerocopy.Message { return &commonpb.Payload{} },
	func() zerocopy.Message { return &commonpb.Header{} },
	func() zerocopy.Message { return &commonpb.ChannelHeader{} },
	func() zerocopy.Message { return &commonpb.SignatureHeader{} },
	func() zerocopy.Message { return &msppb.SerializedIdentity{} },
	func() zerocopy.Message { return &peerpb.Transaction{} },
	func() zerocopy.Message { return &peerpb.ChaincodeActionPayload{} },
	func() zerocopy.Message { return &peerpb.ChaincodeProposalPayload{} },
	func() zerocopy.Message { return &peerpb.ChaincodeInvocationSpec{} },
	func() zerocopy.Message { return &peerpb.ProposalResponsePayload{} },
	func() zerocopy.Message { return &peerpb.ChaincodeAction{} },
	func() zerocopy.Message { return &rwsetpb.TxReadWriteSet{} },
	func() zerocopy.Message { return &kvrwsetpb.KVRWSet{} },
	func() zerocopy.Message { return &peerpb.ChaincodeEvent{} },
	func() zerocopy.Message { return &peerpb.ChaincodeHeaderExtension{} },
	func() zerocopy.Message { return &peerpb.Proposal{} },
	func() zerocopy.Message { return &peerpb.SignedProposal{} },
	func() zerocopy.Message { return &peerpb.ProposalResponse{} },
	func() zerocopy.Message { return &commonpb.BlockMetadata{} },
	func() zerocopy.Message { return &commonpb.Metadata{} },
	func() zerocopy.Message { return &etcdraftpb.BlockMetadata{} },
	func() zerocopy.Message { return &commonpb.ConfigGroup{} },     // maps of messages
	func() zerocopy.Message { return &commonpb.SignaturePolicy{} }, // recursive
}

func kindIndex(m proto.Message) int {
	name := m.ProtoReflect().Descriptor().FullName()
	for i, k := range kinds {
		if k().ProtoReflect().Descriptor().FullName() == name {
			return i
		}
	}
	panic(fmt.Sprintf("no kind for %s", name))
}

type seed struct {
	kind int
	data []byte
}

// fabricSeeds decodes the real Fabric blocks of the shared test data down
// to the read/write sets and returns every level's bytes with its type.
func fabricSeeds(t testing.TB) []seed {
	t.Helper()
	var seeds []seed
	add := func(b []byte, m proto.Message) {
		t.Helper()
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatalf("decode seed %s: %v", m.ProtoReflect().Descriptor().FullName(), err)
		}
		seeds = append(seeds, seed{kindIndex(m), b})
	}
	for _, raw := range fabrictest.RawBlocks(t) {
		blk := &commonpb.Block{}
		add(raw, blk)
		mdBytes, _ := proto.Marshal(blk.Metadata)
		add(mdBytes, &commonpb.BlockMetadata{})
		for _, md := range blk.Metadata.Metadata {
			// Some entries are not Metadata messages (the transactions
			// filter is raw bytes).
			if len(md) > 0 && proto.Unmarshal(md, &commonpb.Metadata{}) == nil {
				add(md, &commonpb.Metadata{})
			}
		}
		for _, d := range blk.Data.Data {
			env := &commonpb.Envelope{}
			add(d, env)
			pl := &commonpb.Payload{}
			add(env.Payload, pl)
			hb, _ := proto.Marshal(pl.Header)
			add(hb, &commonpb.Header{})
			ch := &commonpb.ChannelHeader{}
			add(pl.Header.ChannelHeader, ch)
			sh := &commonpb.SignatureHeader{}
			add(pl.Header.SignatureHeader, sh)
			add(sh.Creator, &msppb.SerializedIdentity{})
			if ch.Type != int32(commonpb.HeaderType_ENDORSER_TRANSACTION) {
				continue
			}
			add(ch.Extension, &peerpb.ChaincodeHeaderExtension{})
			tx := &peerpb.Transaction{}
			add(pl.Data, tx)
			for _, a := range tx.Actions {
				cap := &peerpb.ChaincodeActionPayload{}
				add(a.Payload, cap)
				cpp := &peerpb.ChaincodeProposalPayload{}
				add(cap.ChaincodeProposalPayload, cpp)
				add(cpp.Input, &peerpb.ChaincodeInvocationSpec{})
				prp := &peerpb.ProposalResponsePayload{}
				add(cap.Action.ProposalResponsePayload, prp)
				ca := &peerpb.ChaincodeAction{}
				add(prp.Extension, ca)
				if len(ca.Events) > 0 {
					add(ca.Events, &peerpb.ChaincodeEvent{})
				}
				rws := &rwsetpb.TxReadWriteSet{}
				add(ca.Results, rws)
				for _, ns := range rws.NsRwset {
					add(ns.Rwset, &kvrwsetpb.KVRWSet{})
				}
				// A proposal, signed proposal and response built from the
				// same parts, as a Gateway exchanges them.
				prop := &peerpb.Proposal{Header: hb, Payload: cap.ChaincodeProposalPayload}
				pb, _ := proto.Marshal(prop)
				add(pb, &peerpb.Proposal{})
				spb, _ := proto.Marshal(&peerpb.SignedProposal{ProposalBytes: pb, Signature: env.Signature})
				add(spb, &peerpb.SignedProposal{})
				if len(cap.Action.Endorsements) > 0 {
					prb, _ := proto.Marshal(&peerpb.ProposalResponse{
						Version:     1,
						Response:    &peerpb.Response{Status: 200, Message: "ok", Payload: []byte("v")},
						Payload:     cap.Action.ProposalResponsePayload,
						Endorsement: cap.Action.Endorsements[0],
					})
					add(prb, &peerpb.ProposalResponse{})
				}
			}
		}
	}
	return seeds
}

// checkSame decodes data as kind with both decoders and fails unless they
// agree: both refuse it, or both give the same message, down to whether
// each bytes field is nil, and the same unknown fields.
func checkSame(t *testing.T, kind int, data []byte) {
	t.Helper()
	want := kinds[kind]()
	wantErr := proto.Unmarshal(data, want)
	got := kinds[kind]()
	gotErr := zerocopy.Unmarshal(bytes.Clone(data), got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%T from %x: proto.Unmarshal error %v, zerocopy.Unmarshal error %v", want, data, wantErr, gotErr)
	}
	if wantErr != nil {
		return
	}
	if diff := strictDiff(reflect.ValueOf(want), reflect.ValueOf(got), "."); diff != "" {
		t.Fatalf("%T from %x: decoders differ at %s", want, data, diff)
	}
}

// strictDiff compares two generated messages field by field as reflect.
// DeepEqual would, but through exported fields and the unknown fields only,
// and tells where they first differ.
func strictDiff(a, b reflect.Value, path string) string {
	if a.Kind() != b.Kind() {
		return path + ": kinds differ"
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": one is nil"
			}
			return ""
		}
		if m, ok := a.Interface().(proto.Message); ok {
			ua := m.ProtoReflect().GetUnknown()
			ub := b.Interface().(proto.Message).ProtoReflect().GetUnknown()
			if !bytes.Equal(ua, ub) {
				return fmt.Sprintf("%s: unknown fields %x and %x", path, ua, ub)
			}
		}
		return strictDiff(a.Elem(), b.Elem(), path)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": one is nil"
			}
			return ""
		}
		if a.Elem().Type() != b.Elem().Type() {
			return path + ": oneof members differ"
		}
		return strictDiff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() {
				continue
			}
			if d := strictDiff(a.Field(i), b.Field(i), path+a.Type().Field(i).Name+"."); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return fmt.Sprintf("%s: nil %v against %v", path, a.IsNil(), b.IsNil())
		}
		if a.Len() != b.Len() {
			return path + ": lengths differ"
		}
		for i := 0; i < a.Len(); i++ {
			if d := strictDiff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return path + ": maps differ in size"
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Sprintf("%s: key %v missing", path, k)
			}
			if d := strictDiff(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Sprintf("%s: %v against %v", path, a.Interface(), b.Interface())
		}
		return ""
	}
}

func TestRealFabricMessagesArePlainAndDecodeAlike(t *testing.T) {
	seeds := fabricSeeds(t)
	for _, s := range seeds {
		m := kinds[s.kind]()
		if !zerocopy.IsPlain(s.data, m) {
			t.Errorf("%T of a real Fabric block is not plain: it would be decoded by proto.Unmarshal", m)
		}
		checkSame(t, s.kind, s.data)
	}
	t.Logf("%d messages", len(seeds))
}

func TestResultAliasesTheInput(t *testing.T) {
	raw, err := proto.Marshal(&commonpb.ChannelHeader{TxId: "tx1", ChannelId: "mychannel", Extension: []byte("ext")})
	if err != nil {
		t.Fatal(err)
	}
	ch := &commonpb.ChannelHeader{}
	if err := zerocopy.Unmarshal(raw, ch); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("ext"))
	raw[i] = 'E'
	if string(ch.Extension) != "Ext" {
		t.Fatalf("Extension %q does not alias the input", ch.Extension)
	}
}

// tag appends a field's tag.
func tag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(b, num, typ)
}

// TestCornersOfTheWireFormat feeds inputs where vtprotobuf's decoder alone
// would answer otherwise than proto.Unmarshal, and others that are plain
// but unusual, and requires the answers of proto.Unmarshal.
func TestCornersOfTheWireFormat(t *testing.T) {
	chKind := kindIndex(&commonpb.ChannelHeader{})
	cppKind := kindIndex(&peerpb.ChaincodeProposalPayload{})
	payloadKind := kindIndex(&commonpb.Payload{})
	kvKind := kindIndex(&kvrwsetpb.KVRWSet{})
	raftKind := kindIndex(&etcdraftpb.BlockMetadata{})
	groupKind := kindIndex(&commonpb.ConfigGroup{})
	policyKind := kindIndex(&commonpb.SignaturePolicy{})
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(tag(nil, num, protowire.BytesType), s)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	entry := func(parts ...[]byte) []byte {
		return protowire.AppendBytes(tag(nil, 2, protowire.BytesType), cat(parts...))
	}
	// A KVRWSet holding one RangeQueryInfo made of the given fields;
	// raw_reads (4) and reads_merkle_hashes (5) form a oneof.
	rangeQuery := func(fields ...[]byte) []byte {
		return protowire.AppendBytes(tag(nil, 2, protowire.BytesType), cat(fields...))
	}
	rawReads := func(key string) []byte {
		read := protowire.AppendBytes(tag(nil, 1, protowire.BytesType), str(1, key))
		return protowire.AppendBytes(tag(nil, 4, protowire.BytesType), read)
	}
	// A SignaturePolicy nesting depth NOutOf rules: its deepest message is
	// 2·depth levels below the top.
	nested := func(depth int) []byte {
		p := protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 1) // signed_by
		for range depth {
			nOutOf := cat(protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 1),
				protowire.AppendBytes(tag(nil, 2, protowire.BytesType), p))
			p = protowire.AppendBytes(tag(nil, 2, protowire.BytesType), nOutOf)
		}
		return p
	}
	cases := []struct {
		name      string
		kind      int
		data      []byte
		wantPlain bool
	}{
		{"empty", chKind, nil, true},
		{"invalid UTF-8 in the tx id", chKind, str(5, "\xff\xfe"), false},
		{"field number 2^29", chKind, protowire.AppendVarint(tag(nil, 1<<29, protowire.VarintType), 1), false},
		{"field number 2^32+1 (truncates to 1)", chKind, protowire.AppendVarint(protowire.AppendVarint(nil, (1<<32+1)<<3), 5), false},
		{"unknown field", chKind, cat(str(5, "tx"), protowire.AppendVarint(tag(nil, 99, protowire.VarintType), 7)), false},
		{"known field, wrong wire type", chKind, protowire.AppendFixed32(tag(nil, 1, protowire.Fixed32Type), 3), false},
		{"group", chKind, cat(tag(nil, 40, protowire.StartGroupType), tag(nil, 41, protowire.EndGroupType)), false},
		{"group ends with another number", chKind, cat(tag(nil, 40, protowire.StartGroupType), tag(nil, 40, protowire.EndGroupType)), false},
		{"overflowing ten-byte varint", chKind, append(tag(nil, 1, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), false},
		{"ten-byte varint", chKind, append(tag(nil, 1, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), true},
		{"truncated length", chKind, append(tag(nil, 5, protowire.BytesType), 10, 'a'), false},
		{"last scalar wins", chKind, cat(str(5, "first"), str(5, "second")), true},
		{"empty bytes field", chKind, protowire.AppendBytes(tag(nil, 7, protowire.BytesType), nil), false},
		{"messages merge", payloadKind, cat(
			protowire.AppendBytes(tag(nil, 1, protowire.BytesType), protowire.AppendBytes(tag(nil, 1, protowire.BytesType), []byte("ch"))),
			protowire.AppendBytes(tag(nil, 1, protowire.BytesType), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), []byte("sh")))), true},
		{"nested invalid UTF-8", kvKind, protowire.AppendBytes(tag(nil, 1, protowire.BytesType), str(1, "k\xc0")), false},
		{"map entry", cppKind, entry(str(1, "k"), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), []byte("v"))), true},
		{"map entry without value", cppKind, entry(str(1, "k")), true},
		{"map entry without key", cppKind, entry(protowire.AppendBytes(tag(nil, 2, protowire.BytesType), []byte("v"))), true},
		{"map entry, empty value", cppKind, entry(str(1, "k"), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), nil)), false},
		{"map entry, same key twice", cppKind, cat(
			entry(str(1, "k"), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), []byte("v1"))),
			entry(str(1, "k"), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), []byte("v2")))), true},
		{"map entry key of the wrong wire type", cppKind, entry(protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 5)), false},
		{"map entry with an unknown field", cppKind, entry(str(1, "k"), protowire.AppendVarint(tag(nil, 3, protowire.VarintType), 5)), false},
		{"map key running past its entry", cppKind, cat(
			protowire.AppendVarint(tag(nil, 2, protowire.BytesType), 3), tag(nil, 1, protowire.BytesType), []byte{5, 'a', 'b', 'c', 'd', 'e'}), false},
		{"map key not UTF-8", cppKind, entry(str(1, "\xff")), false},
		{"oneof member twice merges", kvKind, rangeQuery(rawReads("a"), rawReads("b")), true},
		{"oneof member replaced", kvKind, rangeQuery(rawReads("a"), protowire.AppendBytes(tag(nil, 5, protowire.BytesType), nil)), true},
		{"map of messages", groupKind, entry(str(1, "Org1"), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), str(5, "Admins"))), false},
		{"map of messages, entry without value", groupKind, entry(str(1, "Org1")), false},
		{"map of messages, value given twice", groupKind, entry(str(1, "Org1"),
			protowire.AppendBytes(tag(nil, 2, protowire.BytesType), protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 1)),
			protowire.AppendBytes(tag(nil, 2, protowire.BytesType), str(5, "Admins"))), false},
		{"nested 32 rules deep (64 levels below the top)", policyKind, nested(32), true},
		{"nested 33 rules deep (66 levels below the top)", policyKind, nested(33), false},
		{"nested beyond proto.Unmarshal's limit", policyKind, nested(5001), false},
		{"packed repeated scalar", raftKind, protowire.AppendBytes(tag(nil, 1, protowire.BytesType), []byte{1, 2, 0x80, 0x01}), true},
		{"unpacked and packed repeated scalar", raftKind, cat(
			protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 7),
			protowire.AppendBytes(tag(nil, 1, protowire.BytesType), []byte{1, 2})), true},
		{"packed run with a truncated varint", raftKind, protowire.AppendBytes(tag(nil, 1, protowire.BytesType), []byte{1, 0x80}), false},
		{"packed run with an overflowing varint", raftKind, protowire.AppendBytes(tag(nil, 1, protowire.BytesType),
			[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := zerocopy.IsPlain(c.data, kinds[c.kind]()); got != c.wantPlain {
				t.Errorf("IsPlain = %v, want %v", got, c.wantPlain)
			}
			checkSame(t, c.kind, c.data)
		})
	}
}

// FuzzUnmarshalAsProto holds Unmarshal to proto.Unmarshal's answer on
// mutations of real Fabric messages: the same error or not, the same
// message.
func FuzzUnmarshalAsProto(f *testing.F) {
	for _, s := range fabricSeeds(f) {
		f.Add(uint8(s.kind), s.data)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		checkSame(t, int(kind)%len(kinds), data)
	})
}

// BenchmarkUnmarshal decodes every level of the real Fabric blocks'
// messages (one op is all of them) with proto.Unmarshal and with Unmarshal.
func BenchmarkUnmarshal(b *testing.B) {
	seeds := fabricSeeds(b)
	decoders := []struct {
		name   string
		decode func([]byte, zerocopy.Message) error
	}{
		{"proto", func(data []byte, m zerocopy.Message) error { return proto.Unmarshal(data, m) }},
		{"zerocopy", zerocopy.Unmarshal},
	}
	for _, d := range decoders {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range seeds {
					if err := d.decode(s.data, kinds[s.kind]()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func TestStringSharesTheBytes(t *testing.T) {
	b := []byte("key")
	s := zerocopy.String(b)
	if s != "key" {
		t.Fatalf("String = %q", s)
	}
	b[0] = 'K'
	if s != "Key" {
		t.Fatalf("String = %q after the bytes changed: a copy", s)
	}
	if zerocopy.String(nil) != "" {
		t.Fatal("String(nil) is not empty")
	}
}
