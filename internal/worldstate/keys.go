package worldstate

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// MaxNamespaceLen is the longest namespace name accepted.
const MaxNamespaceLen = 64

// maxChannelNameLen is Fabric's limit on channel names (249 characters).
const maxChannelNameLen = 249

// Sub-prefixes under ChannelPrefix(channel) owned by this package.
const (
	stateTag   = 's'
	historyTag = 'h'
)

// recordFormat is the first byte of every stored value record. A record
// with another first byte is corrupt (or written by a newer Chorus, which
// kv's schema version already refuses).
const recordFormat byte = 1

const (
	stateHeaderLen   = 1 + 8 + 8         // format, block, tx
	historyHeaderLen = 1 + 1 + 8 + 4 + 4 // format, flags, seconds, nanos, len(txid)
	versionLen       = 8 + 8
	historyFlagDel   = 1
)

// historyKeyEnd terminates the escaped key inside a history key; a 0x00 in
// the key itself is written as escapedZero.
var (
	historyKeyEnd = []byte{0x00, 0x01}
	escapedZero   = []byte{0x00, 0xff}
)

// ValidateChannelName checks a channel name against Fabric's rule: a
// lowercase ASCII letter followed by lowercase letters, digits, '.' and
// '-', at most 249 characters in all.
func ValidateChannelName(channel string) error {
	if channel == "" || len(channel) > maxChannelNameLen {
		return fmt.Errorf("worldstate: invalid channel name %q: must be 1 to %d characters", channel, maxChannelNameLen)
	}
	if c := channel[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("worldstate: invalid channel name %q: must start with a lowercase letter", channel)
	}
	for i := 1; i < len(channel); i++ {
		c := channel[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("worldstate: invalid channel name %q: character %q at offset %d is not one of a-z 0-9 . -", channel, c, i)
		}
	}
	return nil
}

// ValidateNamespace checks a namespace (contract) name: 1 to 64 characters
// from A-Z a-z 0-9 _ . + -. System namespaces such as _lifecycle are
// valid. No valid name contains 0x00, which the key layout relies on.
func ValidateNamespace(ns string) error {
	if ns == "" || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("worldstate: invalid namespace %q: must be 1 to %d characters", ns, MaxNamespaceLen)
	}
	for i := 0; i < len(ns); i++ {
		if !namespaceChar(ns[i]) {
			return fmt.Errorf("worldstate: invalid namespace %q: character %q at offset %d is not one of A-Z a-z 0-9 _ . + -", ns, ns[i], i)
		}
	}
	return nil
}

func namespaceChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '+' || c == '-'
}

// ChannelPrefix returns the prefix of every key that channel-scoped
// packages store for channel: 'c', the channel name, 0x00. Channel names
// contain no 0x00, so the prefixes of two channels never nest. Under it,
// this package owns the sub-prefixes 's' (state) and 'h' (history); other
// packages must use other bytes. The channel name must be valid (see
// ValidateChannelName).
func ChannelPrefix(channel string) []byte {
	p := make([]byte, 0, len(channel)+2)
	p = append(p, 'c')
	p = append(p, channel...)
	return append(p, 0x00)
}

// appendStateKey appends the state key of (ns, key) to dst:
// statePrefix ‖ ns ‖ 0x00 ‖ key. ns must be valid.
func appendStateKey(dst, statePrefix []byte, ns, key string) []byte {
	dst = append(dst, statePrefix...)
	dst = append(dst, ns...)
	dst = append(dst, 0x00)
	return append(dst, key...)
}

// stateNamespaceBounds returns the smallest key of namespace ns and the
// smallest key above all of its keys.
func stateNamespaceBounds(statePrefix []byte, ns string) (lower, upper []byte) {
	lower = appendStateKey(nil, statePrefix, ns, "")
	upper = bytes.Clone(lower)
	upper[len(upper)-1] = 0x01
	return lower, upper
}

// decodeStateKey splits a stored state key back into namespace and key.
func decodeStateKey(statePrefix, k []byte) (ns, key string, err error) {
	rest, ok := bytes.CutPrefix(k, statePrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: state key %q lacks the state prefix", ErrCorrupt, k)
	}
	i := bytes.IndexByte(rest, 0x00)
	if i < 0 {
		return "", "", fmt.Errorf("%w: state key %q has no namespace terminator", ErrCorrupt, k)
	}
	ns = string(rest[:i])
	if ValidateNamespace(ns) != nil {
		return "", "", fmt.Errorf("%w: state key %q has an invalid namespace", ErrCorrupt, k)
	}
	return ns, string(rest[i+1:]), nil
}

// appendHistoryKeyPrefix appends the prefix shared by every history record
// of (ns, key): historyPrefix ‖ ns ‖ 0x00 ‖ escape(key) ‖ 0x00 0x01, where
// escape writes each 0x00 of key as 0x00 0xff. The escaping keeps the
// encoding unambiguous (no escaped key contains 0x00 0x01) and
// order-preserving.
func appendHistoryKeyPrefix(dst, historyPrefix []byte, ns, key string) []byte {
	dst = append(dst, historyPrefix...)
	dst = append(dst, ns...)
	dst = append(dst, 0x00)
	for {
		i := strings.IndexByte(key, 0x00)
		if i < 0 {
			break
		}
		dst = append(dst, key[:i]...)
		dst = append(dst, escapedZero...)
		key = key[i+1:]
	}
	dst = append(dst, key...)
	return append(dst, historyKeyEnd...)
}

// appendHistoryKey appends the key of the history record of (ns, key)
// written at version v: the prefix above ‖ block (8 bytes big-endian) ‖ tx
// (8 bytes big-endian), so that one key's records sort oldest first.
func appendHistoryKey(dst, historyPrefix []byte, ns, key string, v Version) []byte {
	dst = appendHistoryKeyPrefix(dst, historyPrefix, ns, key)
	return appendVersion(dst, v)
}

func appendVersion(dst []byte, v Version) []byte {
	dst = binary.BigEndian.AppendUint64(dst, v.BlockNum)
	return binary.BigEndian.AppendUint64(dst, v.TxNum)
}

// decodeHistoryKey splits a stored history key back into its parts.
func decodeHistoryKey(historyPrefix, k []byte) (ns, key string, v Version, err error) {
	rest, ok := bytes.CutPrefix(k, historyPrefix)
	if !ok {
		return "", "", Version{}, fmt.Errorf("%w: history key %q lacks the history prefix", ErrCorrupt, k)
	}
	i := bytes.IndexByte(rest, 0x00)
	if i < 0 || ValidateNamespace(string(rest[:i])) != nil {
		return "", "", Version{}, fmt.Errorf("%w: history key %q has an invalid namespace", ErrCorrupt, k)
	}
	ns = string(rest[:i])
	rest = rest[i+1:]
	var b strings.Builder
	for {
		j := bytes.IndexByte(rest, 0x00)
		if j < 0 || j+1 >= len(rest) {
			return "", "", Version{}, fmt.Errorf("%w: history key %q has no key terminator", ErrCorrupt, k)
		}
		b.Write(rest[:j])
		switch rest[j+1] {
		case escapedZero[1]:
			b.WriteByte(0x00)
			rest = rest[j+2:]
			continue
		case historyKeyEnd[1]:
			rest = rest[j+2:]
		default:
			return "", "", Version{}, fmt.Errorf("%w: history key %q has a bad escape", ErrCorrupt, k)
		}
		break
	}
	if len(rest) != versionLen {
		return "", "", Version{}, fmt.Errorf("%w: history key %q has a %d-byte version, want %d", ErrCorrupt, k, len(rest), versionLen)
	}
	return ns, b.String(), decodeVersion(rest), nil
}

func decodeVersion(b []byte) Version {
	return Version{BlockNum: binary.BigEndian.Uint64(b[:8]), TxNum: binary.BigEndian.Uint64(b[8:16])}
}

// encodeStateValue encodes a state record: format ‖ block ‖ tx ‖ value.
func encodeStateValue(v Version, value []byte) []byte {
	b := make([]byte, 0, stateHeaderLen+len(value))
	b = append(b, recordFormat)
	b = appendVersion(b, v)
	return append(b, value...)
}

// decodeStateValue decodes a state record. The value aliases rec.
func decodeStateValue(rec []byte) (Version, []byte, error) {
	if len(rec) < stateHeaderLen {
		return Version{}, nil, fmt.Errorf("%w: state record of %d bytes, want at least %d", ErrCorrupt, len(rec), stateHeaderLen)
	}
	if rec[0] != recordFormat {
		return Version{}, nil, fmt.Errorf("%w: state record format %d, want %d", ErrCorrupt, rec[0], recordFormat)
	}
	return decodeVersion(rec[1:stateHeaderLen]), rec[stateHeaderLen:], nil
}

// historyValue is what a history record stores besides its key.
type historyValue struct {
	txID     string
	seconds  int64
	nanos    int32
	isDelete bool
	value    []byte
}

// encodeHistoryValue encodes a history record: format ‖ flags ‖ seconds
// (8 bytes) ‖ nanos (4 bytes) ‖ len(txID) (4 bytes) ‖ txID ‖ value, all
// big-endian. A delete carries no value.
func encodeHistoryValue(h historyValue) ([]byte, error) {
	if len(h.txID) > math.MaxUint32 {
		return nil, fmt.Errorf("worldstate: transaction id of %d bytes is too long", len(h.txID))
	}
	if h.isDelete && len(h.value) > 0 {
		return nil, fmt.Errorf("worldstate: history record of a delete carries a value")
	}
	b := make([]byte, 0, historyHeaderLen+len(h.txID)+len(h.value))
	b = append(b, recordFormat)
	var flags byte
	if h.isDelete {
		flags |= historyFlagDel
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(h.seconds))
	b = binary.BigEndian.AppendUint32(b, uint32(h.nanos))
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.txID)))
	b = append(b, h.txID...)
	return append(b, h.value...), nil
}

// decodeHistoryValue decodes a history record. The value aliases rec.
func decodeHistoryValue(rec []byte) (historyValue, error) {
	if len(rec) < historyHeaderLen {
		return historyValue{}, fmt.Errorf("%w: history record of %d bytes, want at least %d", ErrCorrupt, len(rec), historyHeaderLen)
	}
	if rec[0] != recordFormat {
		return historyValue{}, fmt.Errorf("%w: history record format %d, want %d", ErrCorrupt, rec[0], recordFormat)
	}
	flags := rec[1]
	if flags&^historyFlagDel != 0 {
		return historyValue{}, fmt.Errorf("%w: history record has unknown flags %#x", ErrCorrupt, flags)
	}
	h := historyValue{
		isDelete: flags&historyFlagDel != 0,
		seconds:  int64(binary.BigEndian.Uint64(rec[2:10])),
		nanos:    int32(binary.BigEndian.Uint32(rec[10:14])),
	}
	n := uint64(binary.BigEndian.Uint32(rec[14:18]))
	rest := rec[historyHeaderLen:]
	if n > uint64(len(rest)) {
		return historyValue{}, fmt.Errorf("%w: history record claims a %d-byte transaction id in %d bytes", ErrCorrupt, n, len(rest))
	}
	h.txID = string(rest[:n])
	h.value = rest[n:]
	if h.isDelete && len(h.value) > 0 {
		return historyValue{}, fmt.Errorf("%w: history record of a delete carries a value", ErrCorrupt)
	}
	return h, nil
}
