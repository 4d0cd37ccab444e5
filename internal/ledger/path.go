package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/chorusledger/chorus/internal/kv"
)

// Channels lists the channels that have ledger keys in r, in byte order.
// It seeks from one channel's range to the next, so it reads one key per
// channel.
func Channels(r kv.Reader) ([]string, error) {
	lower := []byte{ledgerSpace}
	it, err := r.NewIter(lower, kv.PrefixEnd(lower))
	if err != nil {
		return nil, fmt.Errorf("ledger: list channels: %w", err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; {
		key := it.Key()
		end := bytes.IndexByte(key[1:], 0)
		if end < 0 {
			return out, fmt.Errorf("ledger: list channels: %w: key %q in the ledger's key space has no channel terminator", ErrCorrupt, key)
		}
		ch := string(key[1 : 1+end])
		out = append(out, ch)
		// Skip past every key of this channel: "b" ch 0x00 ... < "b" ch 0x01.
		next := make([]byte, 0, len(ch)+2)
		next = append(append(append(next, ledgerSpace), ch...), 1)
		ok = it.SeekGE(next)
	}
	if err := it.Error(); err != nil {
		return out, fmt.Errorf("ledger: list channels: %w", err)
	}
	return out, nil
}

// VerifyPath opens the database in dir read-only and verifies the given
// channel, or every channel found when channel is empty. It returns one
// report per channel verified, in order, and the failures of all of them
// joined (each a *VerifyError when the chain itself is at fault). It is
// what `chorus ledger verify --path DIR` runs. Pebble locks the directory,
// so a running node's ledger must be verified through the node.
func VerifyPath(dir, channel string, opts VerifyOptions) ([]*Report, error) {
	db, err := kv.Open(dir, kv.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: verify %s: %w", dir, err)
	}
	defer db.Close()
	channels := []string{channel}
	if channel == "" {
		if channels, err = Channels(db); err != nil {
			return nil, fmt.Errorf("ledger: verify %s: %w", dir, err)
		}
		if len(channels) == 0 {
			return nil, fmt.Errorf("ledger: verify %s: no channel ledger found", dir)
		}
	} else {
		found, err := Channels(db)
		if err != nil {
			return nil, fmt.Errorf("ledger: verify %s: %w", dir, err)
		}
		if !slices.Contains(found, channel) {
			return nil, fmt.Errorf("ledger: verify %s: channel %s: %w (channels present: %v)", dir, channel, ErrNotFound, found)
		}
	}
	var reports []*Report
	var errs []error
	for _, ch := range channels {
		rep, err := Verify(db, ch, opts)
		if rep != nil {
			reports = append(reports, rep)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return reports, errors.Join(errs...)
}
