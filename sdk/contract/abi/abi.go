// Package abi encodes and decodes the byte formats of the Chorus contract
// ABI, version 1 (docs/spec/contract-abi.md §2): bytes, lists, KV batches,
// history batches and responses, all little-endian, and the meaning of a
// host function's i64 return value.
//
// Both sides of the boundary may use it: the Go guest SDK (package
// contract) decodes what the host sends and encodes the arguments of
// invoke_contract; a host, or a test's fake host, encodes. Every function is
// pure. The decoders accept exactly one encoded value: truncated input,
// trailing bytes, counts larger than the input can hold and out-of-range
// fields are errors, and no input makes them panic or allocate more than
// a small multiple of its length.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Version is the ABI version this package implements.
const Version = 1

// Limits of §4.
const (
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 64 << 10
	// MaxValueLen is the longest value, in bytes.
	MaxValueLen = 16 << 20
	// BatchSize is the most entries a range_next or history_next batch
	// holds (§8 D4).
	BatchSize = 100
)

// FlagCompositeBounds is the range_open flag that allows bounds beginning
// with U+0000, for partial composite key queries.
const FlagCompositeBounds int32 = 1

// Absent is the return value of a host function for a key that does not
// exist or an iterator that is done.
const Absent int64 = -1

// Outcome classifies a host function's return value.
type Outcome int

const (
	// Success: the value is the number of bytes pending (0: none), or for
	// tx_timestamp and the *_open functions, the answer itself.
	Success Outcome = iota
	// NotFound: the key is absent or the iterator is done (Absent).
	NotFound
	// Failure: the failure's message is pending; its length is
	// FailureLen(r).
	Failure
)

// Classify returns the outcome of the return value r.
func Classify(r int64) Outcome {
	switch {
	case r >= 0:
		return Success
	case r == Absent:
		return NotFound
	default:
		return Failure
	}
}

// FailureLen returns the length of the message pending after a failure r
// (r ≤ -2): -r - 2.
func FailureLen(r int64) int64 {
	return -(r + 2) // never overflows, unlike -r - 2 for math.MinInt64
}

// FailureResult returns the return value of a failure whose message is n
// bytes long: -n - 2. It is what a host returns.
func FailureResult(n int) int64 {
	return -int64(n) - 2
}

// KV is one entry of a KV batch.
type KV struct {
	Key   string
	Value []byte
}

// Modification is one entry of a history batch: a committed write or delete
// of a key.
type Modification struct {
	TxID string
	// Timestamp is the writing transaction's timestamp, encoded as seconds
	// and nanoseconds since the Unix epoch.
	Timestamp time.Time
	IsDelete  bool
	// Value is the value written; nil for a delete.
	Value []byte
}

// Response is a contract's answer: Fabric's peer.Response.
type Response struct {
	Status  int32
	Message string
	Payload []byte
}

// AppendBytes appends b as *bytes*: u32 length ‖ bytes.
func AppendBytes(dst, b []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendList appends items as a *list*: u32 count ‖ count × bytes.
func AppendList(dst []byte, items [][]byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(items)))
	for _, it := range items {
		dst = AppendBytes(dst, it)
	}
	return dst
}

// AppendKVBatch appends kvs as a *KV batch*: u32 count ‖ count × (bytes
// key ‖ bytes value).
func AppendKVBatch(dst []byte, kvs []KV) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(kvs)))
	for _, kv := range kvs {
		dst = appendString(dst, kv.Key)
		dst = AppendBytes(dst, kv.Value)
	}
	return dst
}

// AppendHistoryBatch appends mods as a *history batch*: u32 count ‖ count ×
// (bytes tx_id ‖ i64 seconds ‖ i32 nanos ‖ u8 is_delete ‖ bytes value).
func AppendHistoryBatch(dst []byte, mods []Modification) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(mods)))
	for _, m := range mods {
		dst = appendString(dst, m.TxID)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(m.Timestamp.Unix()))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(m.Timestamp.Nanosecond())))
		var del byte
		if m.IsDelete {
			del = 1
		}
		dst = append(dst, del)
		dst = AppendBytes(dst, m.Value)
	}
	return dst
}

// AppendResponse appends r as a *response*: i32 status ‖ bytes message ‖
// bytes payload.
func AppendResponse(dst []byte, r Response) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Status))
	dst = appendString(dst, r.Message)
	return AppendBytes(dst, r.Payload)
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("abi: malformed encoding")

// decoder reads from a buffer; the first error sticks.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, fmt.Sprintf(format, args...), d.off)
	}
}

func (d *decoder) rest() int { return len(d.b) - d.off }

func (d *decoder) u32(what string) uint32 { return d.u32Of(what, "") }

// u32Of reads a u32 that is part of what: its length or count. The name is
// put together only for a failure: concatenating it for every field was a
// measurable share of a WebAssembly contract's invocation.
func (d *decoder) u32Of(what, part string) uint32 {
	if d.err != nil {
		return 0
	}
	if d.rest() < 4 {
		d.fail("truncated %s%s", what, part)
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) u64(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if d.rest() < 8 {
		d.fail("truncated %s", what)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func (d *decoder) u8(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.rest() < 1 {
		d.fail("truncated %s", what)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

// bytes reads *bytes*; the result aliases the input.
func (d *decoder) bytes(what string) []byte {
	n := d.u32Of(what, " length")
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(d.rest()) {
		d.fail("%s of %d bytes with %d left", what, n, d.rest())
		return nil
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v
}

// count reads a u32 count of entries of at least minSize bytes each and
// checks that the input can hold them, so that no huge count allocates.
func (d *decoder) count(what string, minSize int) int {
	n := d.u32Of(what, " count")
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(d.rest()) {
		d.fail("%d %ss cannot fit in %d bytes", n, what, d.rest())
		return 0
	}
	return int(n)
}

func (d *decoder) finish() error {
	if d.err == nil && d.rest() != 0 {
		d.fail("%d trailing bytes", d.rest())
	}
	return d.err
}

// DecodeBytes decodes *bytes*. The result aliases b.
func DecodeBytes(b []byte) ([]byte, error) {
	d := &decoder{b: b}
	v := d.bytes("bytes")
	if err := d.finish(); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeList decodes a *list*. The items alias b; an empty item is an empty,
// non-nil slice.
func DecodeList(b []byte) ([][]byte, error) {
	d := &decoder{b: b}
	n := d.count("list item", 4)
	items := make([][]byte, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		items = append(items, d.bytes("list item"))
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return items, nil
}

// DecodeKVBatch decodes a *KV batch*. The values alias b; an empty value
// is an empty, non-nil slice.
func DecodeKVBatch(b []byte) ([]KV, error) {
	d := &decoder{b: b}
	n := d.count("KV entry", 8)
	kvs := make([]KV, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.bytes("key")
		v := d.bytes("value")
		kvs = append(kvs, KV{Key: string(k), Value: v})
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return kvs, nil
}

// DecodeHistoryBatch decodes a *history batch*. The values alias b; the
// value of a delete is nil. Nanoseconds must be in [0, 1e9) and is_delete
// 0 or 1.
func DecodeHistoryBatch(b []byte) ([]Modification, error) {
	d := &decoder{b: b}
	n := d.count("history entry", 4+8+4+1+4)
	mods := make([]Modification, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		txID := d.bytes("tx id")
		secs := int64(d.u64("seconds"))
		nanos := int32(d.u32("nanoseconds"))
		del := d.u8("is_delete")
		val := d.bytes("value")
		if d.err != nil {
			break
		}
		if nanos < 0 || nanos >= 1e9 {
			d.fail("nanoseconds %d out of range", nanos)
			break
		}
		if del > 1 {
			d.fail("is_delete %d is neither 0 nor 1", del)
			break
		}
		m := Modification{TxID: string(txID), Timestamp: time.Unix(secs, int64(nanos)).UTC(), IsDelete: del == 1, Value: val}
		if m.IsDelete {
			m.Value = nil
		}
		mods = append(mods, m)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return mods, nil
}

// DecodeResponse decodes a *response*. The payload aliases b.
func DecodeResponse(b []byte) (Response, error) {
	d := &decoder{b: b}
	status := int32(d.u32("status"))
	msg := d.bytes("message")
	payload := d.bytes("payload")
	if err := d.finish(); err != nil {
		return Response{}, err
	}
	return Response{Status: status, Message: string(msg), Payload: payload}, nil
}

// CheckLen reports whether n, a length the host announced, can be a
// length of bytes in a 32-bit guest.
func CheckLen(n int64) bool {
	return n >= 0 && n <= math.MaxInt32
}
