package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/chorusledger/chorus/internal/kv"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Storage keeps one channel's Raft log, hard state, configuration state and
// latest snapshot durably in kv, and mirrors them in a raft.MemoryStorage
// that serves etcd raft's reads. Every Save is one synced kv batch, so a
// crash leaves either all of a Ready's state or none of it.
//
// Key layout, under "r" + channel + 0x00:
//
//	"e" + uint64be(index) → marshalled raftpb.Entry
//	"h"                   → marshalled raftpb.HardState
//	"c"                   → marshalled raftpb.ConfState
//	"s"                   → marshalled raftpb.Snapshot (the latest)
type Storage struct {
	db     *kv.DB
	prefix []byte

	mu        sync.Mutex // guards confState
	mem       *raft.MemoryStorage
	confState raftpb.ConfState
}

var _ raft.Storage = (*Storage)(nil)

// StoragePrefix is the key prefix of a channel's Raft state.
func StoragePrefix(channel string) []byte {
	return append([]byte("r"+channel), 0)
}

func (s *Storage) key(kind byte) []byte {
	k := make([]byte, 0, len(s.prefix)+1)
	return append(append(k, s.prefix...), kind)
}

// saveBatchSize bounds the bytes a batch holding Save's writes needs when
// it has entries to write, as Pebble reserves them: the batch's header,
// and for each record its kind, two lengths of at most five bytes, its
// key and its value. Entries carry whole blocks (a block of 500
// transactions is about 2 MB), so the batch is made this size at once
// instead of growing as they are added.
func (s *Storage) saveBatchSize(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot) int {
	record := func(keyLen, valueLen int) int { return 1 + 2*binary.MaxVarintLen32 + keyLen + valueLen }
	kindKey := len(s.prefix) + 1  // s.key(kind), and PrefixEnd(s.key('e'))
	entryKey := len(s.prefix) + 9 // s.entryKey(index)
	size := batchHeaderLen
	if !raft.IsEmptySnap(snap) {
		size += record(kindKey, snap.Size()) + record(entryKey, kindKey) + record(kindKey, snap.Metadata.ConfState.Size())
	}
	size += record(entryKey, kindKey) // the range deletion truncating the log
	for i := range ents {
		size += record(entryKey, ents[i].Size())
	}
	return size + record(kindKey, hs.Size())
}

// batchHeaderLen is the size of a Pebble batch's header (sequence number
// and count).
const batchHeaderLen = 12

func (s *Storage) entryKey(index uint64) []byte {
	k := make([]byte, len(s.prefix)+9)
	copy(k, s.prefix)
	k[len(s.prefix)] = 'e'
	binary.BigEndian.PutUint64(k[len(s.prefix)+1:], index)
	return k
}

// OpenStorage loads a channel's Raft state from db. A channel never seen
// before yields empty storage (IsEmpty reports true).
func OpenStorage(db *kv.DB, channel string) (*Storage, error) {
	s := &Storage{db: db, prefix: StoragePrefix(channel), mem: raft.NewMemoryStorage()}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("raft: load storage of channel %s: %w", channel, err)
	}
	return s, nil
}

func (s *Storage) load() error {
	if b, err := s.db.Get(s.key('s')); err == nil {
		var snap raftpb.Snapshot
		if err := snap.Unmarshal(b); err != nil {
			return fmt.Errorf("decode snapshot: %w", err)
		}
		if err := s.mem.ApplySnapshot(snap); err != nil {
			return fmt.Errorf("restore snapshot: %w", err)
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	if b, err := s.db.Get(s.key('c')); err == nil {
		if err := s.confState.Unmarshal(b); err != nil {
			return fmt.Errorf("decode conf state: %w", err)
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	first, _ := s.mem.FirstIndex()
	it, err := s.db.NewIter(s.entryKey(first), kv.PrefixEnd(s.key('e')))
	if err != nil {
		return err
	}
	var ents []raftpb.Entry
	for ok := it.First(); ok; ok = it.Next() {
		var e raftpb.Entry
		if err := e.Unmarshal(it.Value()); err != nil {
			it.Close()
			return fmt.Errorf("decode entry: %w", err)
		}
		ents = append(ents, e)
	}
	if err := it.Close(); err != nil {
		return err
	}
	if len(ents) > 0 {
		if err := s.mem.Append(ents); err != nil {
			return fmt.Errorf("restore entries: %w", err)
		}
	}
	if b, err := s.db.Get(s.key('h')); err == nil {
		var hs raftpb.HardState
		if err := hs.Unmarshal(b); err != nil {
			return fmt.Errorf("decode hard state: %w", err)
		}
		if err := s.mem.SetHardState(hs); err != nil {
			return err
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	return nil
}

// IsEmpty reports whether the storage holds no Raft state at all: the
// channel is new to this node.
func (s *Storage) IsEmpty() bool {
	hs, _, _ := s.mem.InitialState()
	last, _ := s.mem.LastIndex()
	s.mu.Lock()
	defer s.mu.Unlock()
	return raft.IsEmptyHardState(hs) && last == 0 && len(s.confState.Voters) == 0
}

// Bootstrap initialises empty storage for a new channel with the given
// voters: a snapshot at index 1, term 1, holding data, and a hard state that
// has committed it. Every founding member bootstraps identically, so no
// configuration-change entries are needed.
func (s *Storage) Bootstrap(voters []uint64, data []byte) error {
	if !s.IsEmpty() {
		return errors.New("raft: bootstrap of non-empty storage")
	}
	cs := raftpb.ConfState{Voters: append([]uint64(nil), voters...)}
	snap := raftpb.Snapshot{Data: data, Metadata: raftpb.SnapshotMetadata{ConfState: cs, Index: 1, Term: 1}}
	hs := raftpb.HardState{Term: 1, Commit: 1}
	if err := s.Save(hs, nil, snap); err != nil {
		return err
	}
	return s.SaveConfState(cs)
}

// InitialState returns the saved hard state and the latest applied
// configuration, which may be newer than the snapshot's.
func (s *Storage) InitialState() (raftpb.HardState, raftpb.ConfState, error) {
	hs, _, err := s.mem.InitialState()
	s.mu.Lock()
	defer s.mu.Unlock()
	return hs, s.confState, err
}

func (s *Storage) Entries(lo, hi, maxSize uint64) ([]raftpb.Entry, error) {
	return s.mem.Entries(lo, hi, maxSize)
}

func (s *Storage) Term(i uint64) (uint64, error) { return s.mem.Term(i) }
func (s *Storage) LastIndex() (uint64, error)    { return s.mem.LastIndex() }
func (s *Storage) FirstIndex() (uint64, error)   { return s.mem.FirstIndex() }
func (s *Storage) Snapshot() (raftpb.Snapshot, error) {
	return s.mem.Snapshot()
}

// Save makes a Ready's hard state, entries and snapshot durable in one
// synced batch, then exposes them to raft. Entries at or after the first
// new entry's index replace whatever the log held there.
func (s *Storage) Save(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot) error {
	b, err := s.saveBatch(hs, ents, snap)
	if err != nil {
		return err
	}
	defer b.Close()
	if b.Count() == 0 {
		return nil
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("raft: persist ready: %w", err)
	}
	if !raft.IsEmptySnap(snap) {
		if err := s.mem.ApplySnapshot(snap); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
			return fmt.Errorf("raft: apply snapshot: %w", err)
		}
		s.mu.Lock()
		s.confState = snap.Metadata.ConfState
		s.mu.Unlock()
	}
	if len(ents) > 0 {
		if err := s.mem.Append(ents); err != nil {
			return fmt.Errorf("raft: append entries: %w", err)
		}
	}
	if !raft.IsEmptyHardState(hs) {
		if err := s.mem.SetHardState(hs); err != nil {
			return fmt.Errorf("raft: set hard state: %w", err)
		}
	}
	return nil
}

// saveBatch writes Save's hard state, entries and snapshot into a new
// batch, which the caller commits and closes. Entries are encoded
// straight into a batch sized for them. Its first write must be a small
// one (the snapshot or the range deletion below): Pebble replaces the
// buffer of a batch whose first record does not fit its initial size
// rounded up to a power of two.
func (s *Storage) saveBatch(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot) (*kv.Batch, error) {
	var b *kv.Batch
	if len(ents) > 0 {
		b = s.db.NewBatchWithSize(s.saveBatchSize(hs, ents, snap))
	} else {
		b = s.db.NewBatch()
	}
	fail := func(err error) (*kv.Batch, error) {
		b.Close()
		return nil, err
	}
	if !raft.IsEmptySnap(snap) {
		data, err := snap.Marshal()
		if err != nil {
			return fail(fmt.Errorf("raft: encode snapshot: %w", err))
		}
		b.Set(s.key('s'), data)
		// A snapshot replaces the whole log, as MemoryStorage.ApplySnapshot
		// does: entries after it that were kept could be from an older
		// term and conflict with the leader's.
		b.DeleteRange(s.entryKey(0), kv.PrefixEnd(s.key('e')))
		cs, err := snap.Metadata.ConfState.Marshal()
		if err != nil {
			return fail(fmt.Errorf("raft: encode conf state: %w", err))
		}
		b.Set(s.key('c'), cs)
	}
	if len(ents) > 0 {
		// A new entry at index i truncates the log from i on.
		b.DeleteRange(s.entryKey(ents[0].Index), kv.PrefixEnd(s.key('e')))
		for i := range ents {
			e := &ents[i]
			err := b.SetEncoded(s.entryKey(e.Index), e.Size(), func(v []byte) error {
				n, err := e.MarshalToSizedBuffer(v)
				if err == nil && n != len(v) {
					err = fmt.Errorf("encoded %d bytes of %d", n, len(v))
				}
				return err
			})
			if err != nil {
				return fail(fmt.Errorf("raft: encode entry %d: %w", e.Index, err))
			}
		}
	}
	if !raft.IsEmptyHardState(hs) {
		data, err := hs.Marshal()
		if err != nil {
			return fail(fmt.Errorf("raft: encode hard state: %w", err))
		}
		b.Set(s.key('h'), data)
	}
	return b, nil
}

// SaveConfState records the configuration produced by applying a
// configuration change.
func (s *Storage) SaveConfState(cs raftpb.ConfState) error {
	data, err := cs.Marshal()
	if err != nil {
		return fmt.Errorf("raft: encode conf state: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(s.key('c'), data)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("raft: persist conf state: %w", err)
	}
	s.mu.Lock()
	s.confState = cs
	s.mu.Unlock()
	return nil
}

// CreateSnapshot records a snapshot at index (already applied) holding data,
// and drops log entries before compactTo, keeping the ones a slightly
// lagging follower still needs.
func (s *Storage) CreateSnapshot(index uint64, data []byte, compactTo uint64) error {
	s.mu.Lock()
	cs := s.confState
	s.mu.Unlock()
	snap, err := s.mem.CreateSnapshot(index, &cs, data)
	if err != nil {
		if errors.Is(err, raft.ErrSnapOutOfDate) {
			return nil
		}
		return fmt.Errorf("raft: create snapshot at %d: %w", index, err)
	}
	enc, err := snap.Marshal()
	if err != nil {
		return fmt.Errorf("raft: encode snapshot: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(s.key('s'), enc)
	if compactTo > index {
		compactTo = index
	}
	first, _ := s.mem.FirstIndex()
	if compactTo > first {
		b.DeleteRange(s.entryKey(0), s.entryKey(compactTo))
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("raft: persist snapshot: %w", err)
	}
	if compactTo > first {
		// MemoryStorage.Compact(i) keeps entries from i on.
		if err := s.mem.Compact(compactTo - 1); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return fmt.Errorf("raft: compact log to %d: %w", compactTo, err)
		}
	}
	return nil
}
