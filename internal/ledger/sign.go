package ledger

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/chorusledger/chorus/internal/envelope"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	"google.golang.org/protobuf/proto"
)

// ConsenterMetadataVersion is the ledgerpb.ConsenterMetadata format this
// build writes and understands. It only moves forward.
const ConsenterMetadataVersion = 1

// nonceSize is the length of the nonce in a block signature's header, as
// Fabric's orderers use.
const nonceSize = 24

// Signer signs blocks for an orderer. internal/identity's signing identity
// satisfies it: Sign hashes msg with SHA-256 and signs the digest; Serialize
// returns the marshalled msp.SerializedIdentity of the signer.
type Signer interface {
	Sign(msg []byte) ([]byte, error)
	Serialize() []byte
}

// SignatureVerifier checks that sig is creator's signature over msg, where
// creator is a marshalled msp.SerializedIdentity. It is the caller's
// business to decide whether creator may sign blocks of the channel (an
// orderer of the channel, a certificate not revoked); the ledger only
// assembles what was signed. Callers back it with internal/identity.
type SignatureVerifier func(creator, msg, sig []byte) error

// ErrTooFewSignatures is wrapped by VerifyBlockSignatures when a block
// carries fewer valid signatures by distinct signers than required.
var ErrTooFewSignatures = errors.New("too few block signatures")

// SignatureError says which of a block's signatures failed and why.
type SignatureError struct {
	Index  int    // position in the SIGNATURES metadata
	Signer string // the signer's MSP id, when its identity decodes
	Err    error
}

func (e *SignatureError) Error() string {
	if e.Signer != "" {
		return fmt.Sprintf("ledger: signature %d by %s: %v", e.Index, e.Signer, e.Err)
	}
	return fmt.Sprintf("ledger: signature %d: %v", e.Index, e.Err)
}

func (e *SignatureError) Unwrap() error { return e.Err }

// SignBlock signs a block as a Fabric orderer does, adding Chorus's Merkle
// root to the signed value. It replaces metadata slot 0 (SIGNATURES) with
// a Metadata whose value is an OrdererBlockMetadata{last_config{lastConfig},
// consenter_metadata = ConsenterMetadata{format_version 1, merkle_root,
// term, index}} and whose one signature covers value ‖ signature_header ‖
// HeaderBytes(header), the signature header naming the signer with a fresh
// 24-byte nonce. The header must be final: SignBlock refuses a block whose
// data hash does not match its data (an error wrapping ErrDataHash).
func SignBlock(block *commonpb.Block, signer Signer, lastConfig, term, index uint64) error {
	if block.GetHeader() == nil {
		return errors.New("ledger: sign block: no header")
	}
	data := block.GetData().GetData()
	if !bytes.Equal(block.Header.DataHash, DataHash(data)) {
		return fmt.Errorf("ledger: sign block %d: %w: the header does not match the transactions", block.Header.Number, ErrDataHash)
	}
	cm, err := envelope.Marshal(&ledgerpb.ConsenterMetadata{
		FormatVersion:  ConsenterMetadataVersion,
		MerkleRoot:     MerkleRoot(data),
		ConsensusTerm:  term,
		ConsensusIndex: index,
	})
	if err != nil {
		return fmt.Errorf("ledger: sign block %d: %w", block.Header.Number, err)
	}
	value, err := envelope.Marshal(&commonpb.OrdererBlockMetadata{
		LastConfig:        &commonpb.LastConfig{Index: lastConfig},
		ConsenterMetadata: cm,
	})
	if err != nil {
		return fmt.Errorf("ledger: sign block %d: %w", block.Header.Number, err)
	}
	md := &commonpb.Metadata{Value: value}
	if err := appendSignature(block, md, signer); err != nil {
		return err
	}
	return storeSignatures(block, md)
}

// AddSignature adds signer's signature over the value already in the
// block's SIGNATURES metadata, as each further orderer does when several
// sign the same block. The value is kept byte for byte.
func AddSignature(block *commonpb.Block, signer Signer) error {
	if block.GetHeader() == nil {
		return errors.New("ledger: add signature: no header")
	}
	md, err := signaturesMetadata(block)
	if err != nil {
		return fmt.Errorf("ledger: add signature to block %d: %w", block.Header.Number, err)
	}
	if md == nil || len(md.Value) == 0 {
		return fmt.Errorf("ledger: add signature to block %d: the block has no signed metadata; sign it with SignBlock first", block.Header.Number)
	}
	if err := appendSignature(block, md, signer); err != nil {
		return err
	}
	return storeSignatures(block, md)
}

func appendSignature(block *commonpb.Block, md *commonpb.Metadata, signer Signer) error {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("ledger: sign block %d: nonce: %w", block.Header.Number, err)
	}
	sh, err := envelope.Marshal(&commonpb.SignatureHeader{Creator: signer.Serialize(), Nonce: nonce})
	if err != nil {
		return fmt.Errorf("ledger: sign block %d: %w", block.Header.Number, err)
	}
	sig, err := signer.Sign(signedBytes(md.Value, sh, block.Header))
	if err != nil {
		return fmt.Errorf("ledger: sign block %d: %w", block.Header.Number, err)
	}
	md.Signatures = append(md.Signatures, &commonpb.MetadataSignature{SignatureHeader: sh, Signature: sig})
	return nil
}

func storeSignatures(block *commonpb.Block, md *commonpb.Metadata) error {
	raw, err := envelope.Marshal(md)
	if err != nil {
		return fmt.Errorf("ledger: sign block %d: %w", block.Header.Number, err)
	}
	setMetadataSlot(block, commonpb.BlockMetadataIndex_SIGNATURES, raw)
	return nil
}

// signedBytes is what a block signature covers:
// value ‖ signature_header ‖ HeaderBytes(header).
func signedBytes(value, sigHeader []byte, h *commonpb.BlockHeader) []byte {
	hb := HeaderBytes(h)
	msg := make([]byte, 0, len(value)+len(sigHeader)+len(hb))
	msg = append(msg, value...)
	msg = append(msg, sigHeader...)
	return append(msg, hb...)
}

// signaturesMetadata decodes metadata slot 0, or returns nil when empty.
func signaturesMetadata(block *commonpb.Block) (*commonpb.Metadata, error) {
	raw := metadataSlot(block, commonpb.BlockMetadataIndex_SIGNATURES)
	if len(raw) == 0 {
		return nil, nil
	}
	md := &commonpb.Metadata{}
	if err := proto.Unmarshal(raw, md); err != nil {
		return nil, fmt.Errorf("decode SIGNATURES metadata: %w", err)
	}
	return md, nil
}

// OrdererMetadata decodes the value signed in a block's SIGNATURES
// metadata. It returns nil, nil for a block that carries none (a genesis
// block).
func OrdererMetadata(block *commonpb.Block) (*commonpb.OrdererBlockMetadata, error) {
	md, err := signaturesMetadata(block)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if md == nil || len(md.Value) == 0 {
		return nil, nil
	}
	obm := &commonpb.OrdererBlockMetadata{}
	if err := proto.Unmarshal(md.Value, obm); err != nil {
		return nil, fmt.Errorf("ledger: decode OrdererBlockMetadata: %w", err)
	}
	return obm, nil
}

// ConsenterMetadata returns Chorus's consenter metadata from a block's
// signed value, or nil, nil when the block carries none: a genesis block,
// or a block ordered by Fabric, whose consenter metadata is etcdraft's and
// decodes here with format version 0. A format newer than this build
// understands is an error.
func ConsenterMetadata(block *commonpb.Block) (*ledgerpb.ConsenterMetadata, error) {
	obm, err := OrdererMetadata(block)
	if err != nil || obm == nil || len(obm.ConsenterMetadata) == 0 {
		return nil, err
	}
	cm := &ledgerpb.ConsenterMetadata{}
	if err := proto.Unmarshal(obm.ConsenterMetadata, cm); err != nil || cm.FormatVersion == 0 {
		return nil, nil // not ours
	}
	if cm.FormatVersion > ConsenterMetadataVersion {
		return nil, fmt.Errorf("ledger: consenter metadata format version %d is newer than this build understands (%d); run a newer chorus", cm.FormatVersion, ConsenterMetadataVersion)
	}
	return cm, nil
}

// VerifyBlockSignatures checks every signature in a block's SIGNATURES
// metadata with verify and requires at least minSignatures of them, by
// distinct signers. Every signature present must verify: a block carrying
// a bad signature is refused even when enough others are good. Failures
// are *SignatureError (naming the signature and its signer) or wrap
// ErrTooFewSignatures.
func VerifyBlockSignatures(block *commonpb.Block, verify SignatureVerifier, minSignatures int) error {
	if block.GetHeader() == nil {
		return errors.New("ledger: verify block signatures: no header")
	}
	if verify == nil {
		return errors.New("ledger: verify block signatures: no verifier")
	}
	md, err := signaturesMetadata(block)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	var sigs []*commonpb.MetadataSignature
	var value []byte
	if md != nil {
		sigs, value = md.Signatures, md.Value
	}
	signers := make(map[string]bool, len(sigs))
	for i, s := range sigs {
		if len(s.SignatureHeader) == 0 {
			if len(s.IdentifierHeader) > 0 {
				return &SignatureError{Index: i, Err: errors.New("signed with an identifier header (BFT); only signature headers are supported")}
			}
			return &SignatureError{Index: i, Err: errors.New("no signature header")}
		}
		sh := &commonpb.SignatureHeader{}
		if err := proto.Unmarshal(s.SignatureHeader, sh); err != nil {
			return &SignatureError{Index: i, Err: fmt.Errorf("decode signature header: %w", err)}
		}
		id := &msppb.SerializedIdentity{}
		if err := proto.Unmarshal(sh.Creator, id); err != nil {
			return &SignatureError{Index: i, Err: fmt.Errorf("decode signer identity: %w", err)}
		}
		if err := verify(sh.Creator, signedBytes(value, s.SignatureHeader, block.Header), s.Signature); err != nil {
			return &SignatureError{Index: i, Signer: id.Mspid, Err: err}
		}
		signers[string(sh.Creator)] = true
	}
	if len(signers) < minSignatures {
		return fmt.Errorf("ledger: %w: %d valid signatures by distinct signers, %d required", ErrTooFewSignatures, len(signers), minSignatures)
	}
	return nil
}
