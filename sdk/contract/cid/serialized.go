package cid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// msp.SerializedIdentity, by hand:
//
//	message SerializedIdentity {
//	    string mspid = 1;
//	    bytes id_bytes = 2;
//	}

// MarshalSerializedIdentity returns the protobuf encoding of an
// msp.SerializedIdentity, deterministic and as Go's protobuf writes it:
// fields in order, empty fields left out.
func MarshalSerializedIdentity(mspID string, idBytes []byte) []byte {
	b := make([]byte, 0, len(mspID)+len(idBytes)+12)
	if mspID != "" {
		b = append(b, 1<<3|2)
		b = binary.AppendUvarint(b, uint64(len(mspID)))
		b = append(b, mspID...)
	}
	if len(idBytes) > 0 {
		b = append(b, 2<<3|2)
		b = binary.AppendUvarint(b, uint64(len(idBytes)))
		b = append(b, idBytes...)
	}
	return b
}

// UnmarshalSerializedIdentity decodes an msp.SerializedIdentity as a
// protobuf parser would: unknown fields are skipped, and the last of
// repeated occurrences of a field wins. idBytes aliases b.
func UnmarshalSerializedIdentity(b []byte) (mspID string, idBytes []byte, err error) {
	fail := func(format string, args ...any) (string, []byte, error) {
		return "", nil, fmt.Errorf("cid: failed to unmarshal the serialized identity: "+format, args...)
	}
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return fail("bad field tag")
		}
		b = b[n:]
		field, wire := tag>>3, tag&7
		if field == 0 || field > 1<<29-1 {
			return fail("bad field number %d", field)
		}
		var val []byte
		switch wire {
		case 0: // varint
			if _, n := binary.Uvarint(b); n <= 0 {
				return fail("bad varint in field %d", field)
			} else {
				b = b[n:]
			}
		case 1: // fixed64
			if len(b) < 8 {
				return fail("truncated field %d", field)
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fail("bad length of field %d", field)
			}
			val, b = b[n:n+int(l)], b[n+int(l):]
		case 5: // fixed32
			if len(b) < 4 {
				return fail("truncated field %d", field)
			}
			b = b[4:]
		default:
			return fail("unsupported wire type %d in field %d", wire, field)
		}
		if field != 1 && field != 2 {
			continue
		}
		if wire != 2 {
			return fail("field %d has wire type %d, not 2", field, wire)
		}
		if field == 1 {
			if !utf8.Valid(val) {
				return fail("mspid is not valid UTF-8")
			}
			mspID = string(val)
		} else {
			idBytes = val
		}
	}
	if mspID == "" {
		return "", nil, errors.New("cid: the serialized identity has no MSP id")
	}
	return mspID, idBytes, nil
}
