package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/zerocopy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
)

// metadataSlots is the number of BlockMetadata slots Fabric writes
// (SIGNATURES .. COMMIT_HASH).
const metadataSlots = int(commonpb.BlockMetadataIndex_COMMIT_HASH) + 1

// HeaderBytes returns the bytes Fabric hashes and orderers sign for a block
// header: the ASN.1 DER encoding of
//
//	SEQUENCE { number INTEGER, previous_hash OCTET STRING, data_hash OCTET STRING }
//
// with number encoded as a non-negative big integer. A nil header encodes as
// the zero header.
func HeaderBytes(h *commonpb.BlockHeader) []byte {
	// INTEGER content: the minimal big-endian two's-complement form of a
	// non-negative number, so a leading 0x00 when the top bit is set.
	var nb [9]byte
	binary.BigEndian.PutUint64(nb[1:], h.GetNumber())
	i := 0
	for i < 8 && nb[i] == 0 && nb[i+1]&0x80 == 0 {
		i++
	}
	num := nb[i:]
	prev, data := h.GetPreviousHash(), h.GetDataHash()
	content := tlvLen(len(num)) + tlvLen(len(prev)) + tlvLen(len(data))
	out := make([]byte, 0, tlvLen(content))
	out = appendTagLen(out, 0x30, content)  // SEQUENCE, constructed
	out = appendTagLen(out, 0x02, len(num)) // INTEGER
	out = append(out, num...)
	out = appendTagLen(out, 0x04, len(prev)) // OCTET STRING
	out = append(out, prev...)
	out = appendTagLen(out, 0x04, len(data))
	return append(out, data...)
}

// tlvLen is the DER size of a tag-length-value with n content bytes.
func tlvLen(n int) int { return 1 + derLenSize(n) + n }

func derLenSize(n int) int {
	if n < 0x80 {
		return 1
	}
	s := 1
	for ; n > 0; n >>= 8 {
		s++
	}
	return s
}

func appendTagLen(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	if n < 0x80 {
		return append(b, byte(n))
	}
	size := derLenSize(n) - 1
	b = append(b, 0x80|byte(size))
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

// HeaderHash returns the block hash: SHA-256 of HeaderBytes(h). The next
// block's previous_hash holds it.
func HeaderHash(h *commonpb.BlockHeader) []byte {
	s := sha256.Sum256(HeaderBytes(h))
	return s[:]
}

// DataHash returns Fabric's data hash: SHA-256 of the block's envelopes
// concatenated in order (SHA-256 of nothing for an empty block).
func DataHash(data [][]byte) []byte {
	h := sha256.New()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

// NewBlock returns an unsigned block holding envelopes, with its data hash
// set and Fabric's five metadata slots present and empty. The envelopes are
// referenced, not copied.
func NewBlock(number uint64, previousHash []byte, envelopes [][]byte) *commonpb.Block {
	return &commonpb.Block{
		Header: &commonpb.BlockHeader{
			Number:       number,
			PreviousHash: slices.Clone(previousHash),
			DataHash:     DataHash(envelopes),
		},
		Data:     &commonpb.BlockData{Data: envelopes},
		Metadata: &commonpb.BlockMetadata{Metadata: make([][]byte, metadataSlots)},
	}
}

// metadataSlot returns block metadata slot i, or nil when absent.
func metadataSlot(b *commonpb.Block, i commonpb.BlockMetadataIndex) []byte {
	md := b.GetMetadata().GetMetadata()
	if int(i) >= len(md) {
		return nil
	}
	return md[i]
}

// setMetadataSlot stores v in slot i, growing the metadata to Fabric's five
// slots first if needed.
func setMetadataSlot(b *commonpb.Block, i commonpb.BlockMetadataIndex, v []byte) {
	if b.Metadata == nil {
		b.Metadata = &commonpb.BlockMetadata{}
	}
	for len(b.Metadata.Metadata) < metadataSlots || len(b.Metadata.Metadata) <= int(i) {
		b.Metadata.Metadata = append(b.Metadata.Metadata, nil)
	}
	b.Metadata.Metadata[i] = v
}

// TxFilter returns the block's transaction filter (metadata slot 2): one
// validation code byte per transaction, as Fabric stores it. It is empty
// until a peer has validated the block; orderers never set it.
func TxFilter(b *commonpb.Block) []byte {
	return metadataSlot(b, commonpb.BlockMetadataIndex_TRANSACTIONS_FILTER)
}

// SetTxFilter stores one validation code per transaction in metadata slot 2.
// Codes must fit in a byte, as every Fabric code does.
func SetTxFilter(b *commonpb.Block, codes []peerpb.TxValidationCode) error {
	f := make([]byte, len(codes))
	for i, c := range codes {
		if c < 0 || c > 255 {
			return fmt.Errorf("ledger: validation code %d of transaction %d does not fit in a byte", c, i)
		}
		f[i] = byte(c)
	}
	setMetadataSlot(b, commonpb.BlockMetadataIndex_TRANSACTIONS_FILTER, f)
	return nil
}

// BlockCommitHash returns the commit hash stored in metadata slot 4, or nil
// when the block carries none.
func BlockCommitHash(b *commonpb.Block) ([]byte, error) {
	raw := metadataSlot(b, commonpb.BlockMetadataIndex_COMMIT_HASH)
	if len(raw) == 0 {
		return nil, nil
	}
	md := &commonpb.Metadata{}
	if err := proto.Unmarshal(raw, md); err != nil {
		return nil, fmt.Errorf("ledger: decode commit hash metadata: %w", err)
	}
	if len(md.Value) == 0 {
		return nil, nil
	}
	return md.Value, nil
}

// setCommitHash stores h in metadata slot 4 as a marshalled Metadata.
func setCommitHash(b *commonpb.Block, h []byte) error {
	raw, err := envelope.Marshal(&commonpb.Metadata{Value: h})
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	setMetadataSlot(b, commonpb.BlockMetadataIndex_COMMIT_HASH, raw)
	return nil
}

// UnmarshalBlock decodes stored or received block bytes. It checks only
// that the bytes are a block with a header; Verify checks the rest.
func UnmarshalBlock(raw []byte) (*commonpb.Block, error) {
	b := &commonpb.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("ledger: decode block: %w", err)
	}
	if b.Header == nil {
		return nil, fmt.Errorf("ledger: decode block: no header")
	}
	return b, nil
}

// txIDOf returns the transaction id in an envelope's channel header, or ""
// when the envelope does not decode that far. It decodes no more than it
// needs: the index wants only the id, which shares env's bytes.
func txIDOf(env []byte) string {
	e := &commonpb.Envelope{}
	if zerocopy.Unmarshal(env, e) != nil {
		return ""
	}
	p := &commonpb.Payload{}
	if zerocopy.Unmarshal(e.Payload, p) != nil || p.Header == nil {
		return ""
	}
	ch := &commonpb.ChannelHeader{}
	if zerocopy.Unmarshal(p.Header.ChannelHeader, ch) != nil {
		return ""
	}
	return ch.TxId
}
