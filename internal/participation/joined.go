package participation

import (
	"log/slog"

	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
)

// A node marks each channel it has joined in its database with one key,
// "J" ‖ channel name, so that a restarted orderer or peer starts the same
// channels again.

func joinedKey(channel string) []byte { return []byte("J" + channel) }

// MarkJoined records, durably, that the node has joined channel.
func MarkJoined(db *kv.DB, channel string) error {
	b := db.NewBatch()
	defer b.Close()
	b.Set(joinedKey(channel), []byte{1})
	return b.Commit(true)
}

// UnmarkJoined adds to b the removal of channel's mark, for the batch that
// removes the channel's data.
func UnmarkJoined(b *kv.Batch, channel string) { b.Delete(joinedKey(channel)) }

// JoinedChannels lists the channels marked joined in db, in name order.
func JoinedChannels(db *kv.DB) ([]string, error) {
	it, err := db.NewIter([]byte("J"), []byte("K"))
	if err != nil {
		return nil, err
	}
	var names []string
	for ok := it.First(); ok; ok = it.Next() {
		names = append(names, string(it.Key()[1:]))
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return names, nil
}

// DeleteChannel deletes a removed channel's data from db: its ledger keys,
// the keys under each of the node's own prefixes for it, and its joined
// mark, in one synced batch; then its block files. The channel is gone
// once the batch commits, so a failure to delete the files is logged and
// left to the sweep at the next start (ledger.RemoveOrphanBlockFiles).
func DeleteChannel(db *kv.DB, log *slog.Logger, channel string, prefixes ...[]byte) error {
	b := db.NewBatch()
	defer b.Close()
	for _, prefix := range append([][]byte{ledger.KeyPrefix(channel)}, prefixes...) {
		b.DeleteRange(prefix, kv.PrefixEnd(prefix))
	}
	UnmarkJoined(b, channel)
	if err := b.Commit(true); err != nil {
		return err
	}
	if err := ledger.RemoveBlockFiles(db, channel); err != nil {
		log.Warn("channel removed; its block files remain until the next start", "channel", channel, "err", err)
	}
	return nil
}
