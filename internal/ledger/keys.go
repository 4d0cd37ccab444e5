package ledger

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key layout. Every key of a channel's ledger starts with
//
//	P = "b" ‖ channel ‖ 0x00
//
// and continues with a one-byte kind:
//
//	P ‖ "i"                     → ledgerpb.ChainInfo (height, last two block hashes, last commit hash)
//	P ‖ "n" ‖ uint64be(number)  → the block's locator in its segment (segments.go)
//	P ‖ "h" ‖ SHA-256 header    → uint64be(number)
//	P ‖ "t" ‖ transaction id    → ledgerpb.TxRecord of the first transaction with that id
//
// The channel name cannot contain 0x00, so one channel's keys never fall
// inside another's range.
const (
	ledgerSpace = 'b'
	kindInfo    = 'i'
	kindBlock   = 'n'
	kindHash    = 'h'
	kindTx      = 't'
)

// maxChannelName is Fabric's limit on a channel name's length.
const maxChannelName = 249

// checkChannel refuses names that cannot be keyed: empty, too long, not
// UTF-8, or holding 0x00. Fabric's stricter naming rules are the channel
// configuration's business.
func checkChannel(channel string) error {
	switch {
	case channel == "":
		return fmt.Errorf("ledger: empty channel name")
	case len(channel) > maxChannelName:
		return fmt.Errorf("ledger: channel name of %d bytes exceeds %d", len(channel), maxChannelName)
	case !utf8.ValidString(channel):
		return fmt.Errorf("ledger: channel name %q is not UTF-8", channel)
	case strings.IndexByte(channel, 0) >= 0:
		return fmt.Errorf("ledger: channel name %q holds a NUL byte", channel)
	}
	return nil
}

// keys builds a channel's keys.
type keys struct{ prefix []byte }

func newKeys(channel string) keys {
	p := make([]byte, 0, len(channel)+2)
	p = append(p, ledgerSpace)
	p = append(p, channel...)
	return keys{prefix: append(p, 0)}
}

func (k keys) kind(kind byte, extra int) []byte {
	out := make([]byte, len(k.prefix)+1, len(k.prefix)+1+extra)
	copy(out, k.prefix)
	out[len(k.prefix)] = kind
	return out
}

func (k keys) info() []byte { return k.kind(kindInfo, 0) }

func (k keys) block(num uint64) []byte {
	return binary.BigEndian.AppendUint64(k.kind(kindBlock, 8), num)
}

// blocks returns the bounds [lower, upper) of every block key.
func (k keys) blocks() (lower, upper []byte) {
	lower = k.kind(kindBlock, 0)
	upper = k.kind(kindBlock+1, 0)
	return lower, upper
}

// blockNum decodes the number from a block key, or false when key is not
// one.
func (k keys) blockNum(key []byte) (uint64, bool) {
	n := len(k.prefix) + 1
	if len(key) != n+8 || key[n-1] != kindBlock || string(key[:n-1]) != string(k.prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[n:]), true
}

func (k keys) hash(h []byte) []byte { return append(k.kind(kindHash, len(h)), h...) }

func (k keys) tx(id string) []byte { return append(k.kind(kindTx, len(id)), id...) }

// KeyPrefix is the prefix of every key of a channel's ledger, for callers
// that delete a channel: "b" ‖ channel ‖ 0x00.
func KeyPrefix(channel string) []byte { return newKeys(channel).prefix }
