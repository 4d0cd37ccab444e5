package envelope

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"
)

var deterministic = proto.MarshalOptions{Deterministic: true}

// Marshal encodes m deterministically: the same message always yields the
// same bytes within one build, which endorsers rely on to agree byte for
// byte. It fails only when a string field holds invalid UTF-8.
func Marshal(m proto.Message) ([]byte, error) {
	b, err := deterministic.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("envelope: marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// MarshalAppend is Marshal appending to dst, for a caller that reuses a
// buffer: the same bytes as Marshal(m), after dst's.
func MarshalAppend(dst []byte, m proto.Message) ([]byte, error) {
	b, err := deterministic.MarshalAppend(dst, m)
	if err != nil {
		return nil, fmt.Errorf("envelope: marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// TxID returns Fabric's transaction id: lowercase hex of SHA-256(nonce ‖ creator).
func TxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}
