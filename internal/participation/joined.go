package participation

import "github.com/chorusledger/chorus/internal/kv"

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
