package ledger

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/protobuf/proto"
)

func TestSignBlockLayout(t *testing.T) {
	signer := newTestSigner(t, "OrdererMSP")
	envs := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	b := NewBlock(7, bytes.Repeat([]byte{1}, 32), envs)
	if err := SignBlock(b, signer, 3, 11, 42); err != nil {
		t.Fatal(err)
	}
	md := &commonpb.Metadata{}
	if err := proto.Unmarshal(b.Metadata.Metadata[commonpb.BlockMetadataIndex_SIGNATURES], md); err != nil {
		t.Fatal(err)
	}
	if len(md.Signatures) != 1 {
		t.Fatalf("%d signatures", len(md.Signatures))
	}
	obm, err := OrdererMetadata(b)
	if err != nil || obm.LastConfig.GetIndex() != 3 {
		t.Fatalf("orderer metadata %v %v", obm, err)
	}
	cm, err := ConsenterMetadata(b)
	if err != nil || cm.FormatVersion != 1 || cm.ConsensusTerm != 11 || cm.ConsensusIndex != 42 || !bytes.Equal(cm.MerkleRoot, MerkleRoot(envs)) {
		t.Fatalf("consenter metadata %v %v", cm, err)
	}
	sh := &commonpb.SignatureHeader{}
	if err := proto.Unmarshal(md.Signatures[0].SignatureHeader, sh); err != nil {
		t.Fatal(err)
	}
	if len(sh.Nonce) != 24 || !bytes.Equal(sh.Creator, signer.Serialize()) {
		t.Fatalf("signature header: nonce %d bytes, creator %x", len(sh.Nonce), sh.Creator)
	}
	// The signature covers value ‖ signature header ‖ header DER, exactly.
	msg := append(append(bytes.Clone(md.Value), md.Signatures[0].SignatureHeader...), HeaderBytes(b.Header)...)
	if err := x509Verifier(signer.Serialize(), msg, md.Signatures[0].Signature); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		if len(b.Metadata.Metadata[i]) != 0 {
			t.Errorf("slot %d set by signing", i)
		}
	}
}

func TestSignaturesOfSeveralOrderers(t *testing.T) {
	o1, o2, o3 := newTestSigner(t, "Orderer1MSP"), newTestSigner(t, "Orderer2MSP"), newTestSigner(t, "Orderer3MSP")
	b := NewBlock(1, []byte("prev"), [][]byte{[]byte("tx")})
	if err := AddSignature(b, o1); err == nil {
		t.Fatal("AddSignature on an unsigned block")
	}
	if err := SignBlock(b, o1, 0, 1, 1); err != nil {
		t.Fatal(err)
	}
	value := func() []byte {
		md, _ := signaturesMetadata(b)
		return md.Value
	}
	v0 := value()
	for _, s := range []Signer{o2, o3, o3} {
		if err := AddSignature(b, s); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(value(), v0) {
		t.Fatal("AddSignature changed the signed value")
	}
	if err := VerifyBlockSignatures(b, x509Verifier, 3); err != nil {
		t.Fatal(err)
	}
	// o3 signed twice: four signatures, three signers.
	if err := VerifyBlockSignatures(b, x509Verifier, 4); !errors.Is(err, ErrTooFewSignatures) {
		t.Fatalf("duplicate signer counted twice: %v", err)
	}
	// A bad signature is refused even when enough others verify.
	md, _ := signaturesMetadata(b)
	md.Signatures[1].Signature[10] ^= 0xff
	if err := storeSignatures(b, md); err != nil {
		t.Fatal(err)
	}
	var se *SignatureError
	err := VerifyBlockSignatures(b, x509Verifier, 1)
	if !errors.As(err, &se) || se.Index != 1 || se.Signer != "Orderer2MSP" {
		t.Fatalf("bad signature 1: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "ledger: signature 1 by Orderer2MSP: ") {
		t.Fatalf("message %q", err)
	}
}

func TestVerifyBlockSignaturesMalformed(t *testing.T) {
	signer := newTestSigner(t, "OrdererMSP")
	good := NewBlock(1, []byte("prev"), nil)
	if err := SignBlock(good, signer, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	md, _ := signaturesMetadata(good)
	cases := map[string]func(md *commonpb.Metadata){
		"identifier header": func(md *commonpb.Metadata) {
			md.Signatures[0].SignatureHeader, md.Signatures[0].IdentifierHeader = nil, []byte{8, 1}
		},
		"no signature header": func(md *commonpb.Metadata) { md.Signatures[0].SignatureHeader = nil },
		"garbage header":      func(md *commonpb.Metadata) { md.Signatures[0].SignatureHeader = []byte{0xff} },
		"garbage creator": func(md *commonpb.Metadata) {
			md.Signatures[0].SignatureHeader, _ = proto.Marshal(&commonpb.SignatureHeader{Creator: []byte{0xff}})
		},
		"another creator": func(md *commonpb.Metadata) {
			md.Signatures[0].SignatureHeader, _ = proto.Marshal(&commonpb.SignatureHeader{Creator: newTestSigner(t, "EvilMSP").Serialize()})
		},
	}
	for name, mutate := range cases {
		b := proto.Clone(good).(*commonpb.Block)
		m := proto.Clone(md).(*commonpb.Metadata)
		mutate(m)
		if err := storeSignatures(b, m); err != nil {
			t.Fatal(err)
		}
		var se *SignatureError
		if err := VerifyBlockSignatures(b, x509Verifier, 1); !errors.As(err, &se) {
			t.Errorf("%s: %v", name, err)
		}
	}
	b := proto.Clone(good).(*commonpb.Block)
	b.Metadata.Metadata[0] = []byte{0xff}
	if err := VerifyBlockSignatures(b, x509Verifier, 1); err == nil {
		t.Error("undecodable metadata verified")
	}
	if err := VerifyBlockSignatures(&commonpb.Block{}, x509Verifier, 1); err == nil {
		t.Error("a block without header verified")
	}
}

func TestSignBlockRefusesWrongDataHash(t *testing.T) {
	b := NewBlock(1, nil, [][]byte{[]byte("tx")})
	b.Data.Data = append(b.Data.Data, []byte("smuggled"))
	if err := SignBlock(b, newTestSigner(t, "OrdererMSP"), 0, 0, 0); !errors.Is(err, ErrDataHash) {
		t.Fatalf("signing a block whose data hash is wrong: %v, want ErrDataHash", err)
	}
}

func TestConsenterMetadataNewerFormat(t *testing.T) {
	b := NewBlock(1, nil, nil)
	if err := SignBlock(b, newTestSigner(t, "OrdererMSP"), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	md, _ := signaturesMetadata(b)
	obm := &commonpb.OrdererBlockMetadata{}
	_ = proto.Unmarshal(md.Value, obm)
	obm.ConsenterMetadata = append([]byte{0x08, 0x02}, obm.ConsenterMetadata[2:]...) // format_version 2
	md.Value, _ = proto.Marshal(obm)
	_ = storeSignatures(b, md)
	if _, err := ConsenterMetadata(b); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("format version 2: %v", err)
	}
}
