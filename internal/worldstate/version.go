package worldstate

import (
	"cmp"
	"errors"
	"strconv"

	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
)

// ErrCorrupt is wrapped by every error caused by a stored record that does
// not decode. It means the database is damaged; a node should stop rather
// than carry on with a state it cannot read.
var ErrCorrupt = errors.New("worldstate: corrupt record")

// Version is the position of the transaction that wrote a value: its block
// number and its index within the block. Versions of one key only grow.
type Version struct {
	BlockNum uint64
	TxNum    uint64
}

// String formats v as "block:tx", for example "5:0".
func (v Version) String() string {
	return strconv.FormatUint(v.BlockNum, 10) + ":" + strconv.FormatUint(v.TxNum, 10)
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	if c := cmp.Compare(v.BlockNum, o.BlockNum); c != 0 {
		return c
	}
	return cmp.Compare(v.TxNum, o.TxNum)
}

// Proto returns v as the read/write set's Version message.
func (v Version) Proto() *kvrwsetpb.Version {
	return &kvrwsetpb.Version{BlockNum: v.BlockNum, TxNum: v.TxNum}
}

// protoVersion returns the proto form of v, nil for nil (absent key).
func protoVersion(v *Version) *kvrwsetpb.Version {
	if v == nil {
		return nil
	}
	return v.Proto()
}

// sameVersion reports whether a version recorded in a read set equals the
// current one; nil means absent on both sides.
func sameVersion(read *kvrwsetpb.Version, now *Version) bool {
	if read == nil || now == nil {
		return read == nil && now == nil
	}
	return read.BlockNum == now.BlockNum && read.TxNum == now.TxNum
}

// describeRead formats a recorded version for a conflict reason.
func describeRead(read *kvrwsetpb.Version) string {
	if read == nil {
		return "read when absent"
	}
	return "read at version " + Version{read.BlockNum, read.TxNum}.String()
}

// describeNow formats a current version for a conflict reason.
func describeNow(now *Version) string {
	if now == nil {
		return "now absent"
	}
	return "now at " + now.String()
}
