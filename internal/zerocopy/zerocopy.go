// Package zerocopy decodes protobuf messages without copying their bytes
// and string fields out of the input: the decoded message's fields alias
// the input slice. It gives exactly the answers of proto.Unmarshal, which a
// transaction's validity depends on, and costs about a quarter of its time
// on the envelopes of a block (ADR 0011).
//
// The decoding itself is the code that vtprotobuf's unmarshal_unsafe
// feature generates beside each message (UnmarshalVTUnsafe). That code is
// more lenient than proto.Unmarshal in a few corners of the wire format: it
// does not check that strings are UTF-8, it reads field numbers of 2^29 and
// more, it does not check that a group's end matches its start, it reads a
// map entry's key or value whatever its wire type, it does not merge a map
// entry's message value given twice, it accepts a varint of ten bytes whose
// last byte overflows, and it has no limit of depth. Unmarshal therefore
// first walks the input against the message's descriptor and uses the
// generated code only for input in the plain subset where both decoders
// agree:
//   - every field known, with the wire type its declaration implies (a
//     repeated varint scalar may also be packed);
//   - every varint and length well formed, every string UTF-8;
//   - no empty value of a singular bytes field (proto.Unmarshal leaves it
//     nil, the generated code an empty slice);
//   - no groups, no map whose values are messages;
//   - every nested message plain too, at most 64 levels deep.
//
// Anything else, any error of the generated code, and everything on a
// 32-bit platform is decoded by proto.Unmarshal itself, whose answer (an
// error, or a message with unknown fields) is returned as it is. The
// messages Fabric's clients and peers send are plain.
//
// Because the result aliases the input, the input must not be modified for
// as long as the message or any slice or string taken from it is in use,
// and nothing may append to a bytes field of the result (its capacity runs
// to the end of the input). A small string kept for long (a transaction id
// as a map key, say) keeps the whole input alive; clone it (strings.Clone)
// when that matters.
package zerocopy

import (
	"math/bits"
	"sync"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Message is a generated message with vtprotobuf's aliasing decoder.
type Message interface {
	proto.Message
	UnmarshalVTUnsafe(data []byte) error
}

// Unmarshal decodes b into m, which must be newly allocated (zero): unlike
// proto.Unmarshal it does not reset m first. The bytes and string fields of
// m alias b when b is plain (see the package comment); otherwise m is what
// proto.Unmarshal makes of b.
func Unmarshal(b []byte, m Message) error {
	if is64Bit && IsPlain(b, m) {
		if err := m.UnmarshalVTUnsafe(b); err == nil {
			return nil
		}
		// Not expected for plain input; proto.Unmarshal decides.
	}
	return proto.Unmarshal(b, m)
}

// IsPlain reports whether b is in the plain subset of the wire format for
// the message type of m, the input Unmarshal decodes without copying.
func IsPlain(b []byte, m proto.Message) bool {
	return schemaOf(m.ProtoReflect().Descriptor()).plain(b, 0)
}

// String returns b as a string that shares b's memory instead of copying
// it: for a look-up key that does not outlive the call, or a key kept only
// as long as b, while nothing changes b.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// is64Bit: the generated code reads some varints into an int (a bool's,
// for one), which on 32-bit platforms drops bits proto.Unmarshal keeps.
// There, Unmarshal is proto.Unmarshal.
const is64Bit = bits.UintSize == 64

// maxDepth bounds the nesting plain follows; deeper input goes to
// proto.Unmarshal, which has a limit of its own.
const maxDepth = 64

// schema is what plain needs to know of a message type: for each field
// number, the wire type it must arrive with and how to check its value.
type schema struct {
	byNumber []fieldRule // indexed by field number, for small numbers
	byMap    map[protowire.Number]fieldRule
}

type fieldRule struct {
	known    bool
	wireType protowire.Type
	packed   bool // a repeated scalar, which may also come packed
	utf8     bool // a string: its value must be valid UTF-8
	// nonEmpty: a singular bytes field, which proto.Unmarshal leaves nil
	// when empty and the generated code sets to an empty slice.
	nonEmpty bool
	message  *schema
}

func (s *schema) rule(num protowire.Number) fieldRule {
	if int(num) < len(s.byNumber) {
		return s.byNumber[num]
	}
	return s.byMap[num]
}

// plain reports whether b is a plain encoding of the schema's message.
func (s *schema) plain(b []byte, depth int) bool {
	if depth > maxDepth {
		return false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		// Numbers above protowire.MaxValidNumber, which proto.Unmarshal
		// refuses, are never declared: they are unknown here too.
		r := s.rule(num)
		if !r.known {
			return false
		}
		if typ != r.wireType {
			if !r.packed || typ != protowire.BytesType {
				return false
			}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !packedPlain(v, r.wireType) {
				return false
			}
			b = b[n:]
			continue
		}
		switch typ {
		case protowire.VarintType:
			_, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			_, n = protowire.ConsumeFixed32(b)
		case protowire.Fixed64Type:
			_, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			if r.nonEmpty && len(v) == 0 {
				return false
			}
			if r.utf8 && !utf8.Valid(v) {
				return false
			}
			if r.message != nil && !r.message.plain(v, depth+1) {
				return false
			}
		default:
			return false
		}
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// packedPlain reports whether v is a well-formed packed run of varints.
// Packed runs of fixed-width scalars are left to proto.Unmarshal: no
// message of ours has such a field.
func packedPlain(v []byte, typ protowire.Type) bool {
	if typ != protowire.VarintType {
		return false
	}
	for len(v) > 0 {
		_, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return false
		}
		v = v[n:]
	}
	return true
}

var schemas sync.Map // protoreflect.FullName → *schema

func schemaOf(md protoreflect.MessageDescriptor) *schema {
	if s, ok := schemas.Load(md.FullName()); ok {
		return s.(*schema)
	}
	building := map[protoreflect.FullName]*schema{}
	s := buildSchema(md, building)
	for name, built := range building {
		schemas.LoadOrStore(name, built)
	}
	return s
}

// buildSchema makes the schema of md and of every message type it reaches,
// recording each in building first so that recursive types terminate.
func buildSchema(md protoreflect.MessageDescriptor, building map[protoreflect.FullName]*schema) *schema {
	if s, ok := building[md.FullName()]; ok {
		return s
	}
	if s, ok := schemas.Load(md.FullName()); ok {
		return s.(*schema)
	}
	s := &schema{byMap: map[protowire.Number]fieldRule{}}
	building[md.FullName()] = s
	fields := md.Fields()
	maxSmall := protowire.Number(0)
	for i := 0; i < fields.Len(); i++ {
		if n := fields.Get(i).Number(); n < 64 && n > maxSmall {
			maxSmall = n
		}
	}
	s.byNumber = make([]fieldRule, maxSmall+1)
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		r, ok := ruleFor(fd, building)
		if !ok {
			continue // left unknown: such input goes to proto.Unmarshal
		}
		if fd.Number() < 64 {
			s.byNumber[fd.Number()] = r
		} else {
			s.byMap[fd.Number()] = r
		}
	}
	return s
}

// ruleFor returns the rule for a field, or false for a field plain input
// never has (groups, maps of messages).
func ruleFor(fd protoreflect.FieldDescriptor, building map[protoreflect.FullName]*schema) (fieldRule, bool) {
	r := fieldRule{known: true}
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		r.wireType = protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		r.wireType = protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		r.wireType = protowire.Fixed64Type
	case protoreflect.StringKind:
		r.wireType = protowire.BytesType
		// proto.Unmarshal checks UTF-8 where the field's syntax asks for
		// it (proto3, and editions with utf8_validation VERIFY); checking
		// every string is stricter, which only sends more input to it.
		r.utf8 = true
	case protoreflect.BytesKind:
		r.wireType = protowire.BytesType
		r.nonEmpty = !fd.IsList()
	case protoreflect.MessageKind:
		if fd.IsMap() && fd.MapValue().Kind() == protoreflect.MessageKind {
			// The generated code makes an entry's message value anew for
			// each occurrence and leaves it nil when absent, where
			// proto.Unmarshal merges the occurrences into one message.
			return fieldRule{}, false
		}
		r.wireType = protowire.BytesType
		r.message = buildSchema(fd.Message(), building)
	default: // GroupKind
		return fieldRule{}, false
	}
	if fd.IsList() && r.wireType != protowire.BytesType {
		r.packed = true
	}
	return r, true
}
