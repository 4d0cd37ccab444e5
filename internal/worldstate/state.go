package worldstate

import (
	"bytes"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/bloom"
	"github.com/chorusledger/chorus/internal/kv"
	queryresultpb "github.com/chorusledger/chorus/proto/fabric/ledger/queryresult"
)

// State is the versioned world state and key history of one channel. It
// holds the channel's key prefixes, and optionally a filter of its keys
// and a cache of a few namespaces: every read takes the kv.Reader to read
// from (the database or a snapshot of it) and every write goes into the
// caller's kv.Batch. A State is safe for concurrent use.
type State struct {
	channel       string
	statePrefix   []byte
	historyPrefix []byte
	// keys, set by WithKeyFilter, holds every state key (after
	// statePrefix) ever written through this State or present when it was
	// made; nil means every read asks the database.
	keys *bloom.Filter
	// cache, set by WithNamespaceCache, holds values of a few namespaces.
	cache *namespaceCache
}

// New returns the state of channel, which must be a valid channel name
// (see ValidateChannelName).
func New(channel string) (*State, error) {
	if err := ValidateChannelName(channel); err != nil {
		return nil, err
	}
	p := ChannelPrefix(channel)
	return &State{
		channel:       channel,
		statePrefix:   append(bytes.Clone(p), stateTag),
		historyPrefix: append(bytes.Clone(p), historyTag),
	}, nil
}

// Channel returns the channel name.
func (s *State) Channel() string { return s.channel }

// WithKeyFilter returns a State like s that remembers, in a filter in
// memory, every state key present in db now (read here, 2 to 4 bytes a
// key) and every key its BlockUpdates write from now on, so that its point
// reads (Get, a simulation's GetState, CheckReads) answer most reads of
// keys that were never written without reading the database: under load
// most are, such as a new asset's existence check, 10–18 µs of Pebble each.
//
// The filter only grows, so "never written" holds at every height, and a
// read through an older snapshot may use it too. That requires every write
// of the channel's state to go through this State's BlockUpdates: make it
// for the one component that commits the channel's blocks, before it
// commits, and never write the channel's state through another State
// meanwhile.
func (s *State) WithKeyFilter(db kv.Reader) (*State, error) {
	f, err := bloom.FromPrefix(db, s.statePrefix)
	if err != nil {
		return nil, fmt.Errorf("worldstate: channel %s: key filter: %w", s.channel, err)
	}
	filtered := *s
	filtered.keys = f
	return &filtered, nil
}

// Get returns the committed value and version of key in namespace ns as
// seen by r, or (nil, nil, nil) when the key is absent. The value belongs
// to the caller.
func (s *State) Get(r kv.Reader, ns, key string) ([]byte, *Version, error) {
	if err := ValidateNamespace(ns); err != nil {
		return nil, nil, err
	}
	return s.get(r, ns, key)
}

func (s *State) get(r kv.Reader, ns, key string) ([]byte, *Version, error) {
	k := appendStateKey(nil, s.statePrefix, ns, key)
	if s.keys != nil && !s.keys.MayContainBytes(k[len(s.statePrefix):]) {
		return nil, nil, nil
	}
	if s.cache != nil && s.cache.namespaces[ns] {
		return s.getCached(r, k, ns, key)
	}
	return s.readKey(r, k, ns, key)
}

// readKey returns the value and version in r of the state key k of (ns,
// key), or (nil, nil, nil) when the key is absent.
func (s *State) readKey(r kv.Reader, k []byte, ns, key string) ([]byte, *Version, error) {
	rec, err := r.Get(k)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("worldstate: get %q in namespace %q: %w", key, ns, err)
	}
	v, val, err := decodeStateValue(rec)
	if err != nil {
		return nil, nil, fmt.Errorf("worldstate: get %q in namespace %q: %w", key, ns, err)
	}
	return val, &v, nil
}

// rangeBounds returns the kv bounds of the keys of ns in [start, end), or
// in [start, end] when inclusive; an empty end means the end of the
// namespace. empty is true when the range holds no key.
func (s *State) rangeBounds(ns, start, end string, inclusive bool) (lower, upper []byte, empty bool) {
	lower = appendStateKey(nil, s.statePrefix, ns, start)
	if end == "" {
		_, upper = stateNamespaceBounds(s.statePrefix, ns)
	} else {
		upper = appendStateKey(nil, s.statePrefix, ns, end)
		if inclusive {
			// end ‖ 0x00 is the first key after end.
			upper = append(upper, 0x00)
		}
	}
	return lower, upper, bytes.Compare(lower, upper) >= 0
}

// Range returns an iterator over the committed keys of namespace ns in
// [start, end), in byte order of the keys, as seen by r. An empty end
// means the end of the namespace; start = "" starts at the namespace's
// first key (composite keys, which begin with 0x00, come first). When
// start >= end the range is empty. Close the iterator when done.
func (s *State) Range(r kv.Reader, ns, start, end string) (*Iterator, error) {
	if err := ValidateNamespace(ns); err != nil {
		return nil, err
	}
	return s.newIterator(r, ns, start, end, false, true)
}

func (s *State) newIterator(r kv.Reader, ns, start, end string, inclusive, values bool) (*Iterator, error) {
	lower, upper, empty := s.rangeBounds(ns, start, end, inclusive)
	it := &Iterator{ns: ns, strip: len(s.statePrefix) + len(ns) + 1, values: values}
	if empty {
		it.done = true
		return it, nil
	}
	kit, err := r.NewIter(lower, upper)
	if err != nil {
		return nil, fmt.Errorf("worldstate: range over namespace %q: %w", ns, err)
	}
	it.it = kit
	return it, nil
}

// Iterator walks committed keys of one namespace in key order. It belongs
// to one goroutine. Call Next before the first entry; stop when it returns
// false, then check Err.
type Iterator struct {
	it      *kv.Iter // nil for an empty range
	ns      string
	strip   int  // length of the kv key prefix before the user key
	values  bool // decode values (validation needs versions only)
	started bool
	done    bool
	key     string
	value   []byte
	ver     Version
	err     error
}

// Next moves to the next key and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.done {
		return false
	}
	var ok bool
	if !it.started {
		it.started = true
		ok = it.it.First()
	} else {
		ok = it.it.Next()
	}
	if !ok {
		it.done = true
		if err := it.it.Error(); err != nil {
			it.err = fmt.Errorf("worldstate: range over namespace %q: %w", it.ns, err)
		}
		return false
	}
	k := it.it.Key()
	ver, val, err := decodeStateValue(it.it.Value())
	if err != nil {
		it.done = true
		it.err = fmt.Errorf("worldstate: range over namespace %q at key %q: %w", it.ns, k[it.strip:], err)
		return false
	}
	it.key = string(k[it.strip:])
	it.ver = ver
	if it.values {
		it.value = append(make([]byte, 0, len(val)), val...)
	}
	return true
}

// Key returns the current key.
func (it *Iterator) Key() string { return it.key }

// Value returns the current value. It belongs to the caller.
func (it *Iterator) Value() []byte { return it.value }

// Version returns the version of the current value.
func (it *Iterator) Version() Version { return it.ver }

// Err returns the error that ended the iteration, if any. Errors caused by
// undecodable records wrap ErrCorrupt.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator. It returns Err, or the error met releasing
// the underlying kv iterator.
func (it *Iterator) Close() error {
	it.done = true
	if it.it == nil {
		return it.err
	}
	err := it.it.Close()
	it.it = nil
	if it.err != nil {
		return it.err
	}
	if err != nil {
		return fmt.Errorf("worldstate: range over namespace %q: %w", it.ns, err)
	}
	return nil
}

// HistoryEntry is one modification of a key: a write or a delete by a
// valid transaction.
type HistoryEntry struct {
	Version   Version // block and transaction number of the writer
	TxID      string
	Timestamp *timestamppb.Timestamp // the transaction's channel header timestamp
	IsDelete  bool
	Value     []byte // nil for a delete
}

// KeyModification returns e as Fabric's queryresult.KeyModification, what
// the contract protocol answers to GET_HISTORY_FOR_KEY. The timestamp is
// always set: Fabric's Node shim requires it.
func (e HistoryEntry) KeyModification() *queryresultpb.KeyModification {
	ts := e.Timestamp
	if ts == nil {
		ts = &timestamppb.Timestamp{}
	}
	return &queryresultpb.KeyModification{TxId: e.TxID, Value: e.Value, Timestamp: ts, IsDelete: e.IsDelete}
}

// History returns an iterator over every modification of key in namespace
// ns, newest first, as Fabric 2.x returns GetHistoryForKey (FAB-16303:
// descending block and transaction number). Close it when done.
func (s *State) History(r kv.Reader, ns, key string) (*HistoryIterator, error) {
	if err := ValidateNamespace(ns); err != nil {
		return nil, err
	}
	lower := appendHistoryKeyPrefix(nil, s.historyPrefix, ns, key)
	upper := kv.PrefixEnd(lower)
	it, err := r.NewIter(lower, upper)
	if err != nil {
		return nil, fmt.Errorf("worldstate: history of %q in namespace %q: %w", key, ns, err)
	}
	return &HistoryIterator{it: it, ns: ns, key: key, prefixLen: len(lower)}, nil
}

// HistoryIterator walks the modifications of one key, newest first. It
// belongs to one goroutine.
type HistoryIterator struct {
	it        *kv.Iter
	ns, key   string
	prefixLen int
	started   bool
	done      bool
	entry     HistoryEntry
	err       error
}

// Next moves to the next older modification and reports whether there is
// one.
func (h *HistoryIterator) Next() bool {
	if h.done {
		return false
	}
	var ok bool
	if !h.started {
		h.started = true
		ok = h.it.Last()
	} else {
		ok = h.it.Prev()
	}
	if !ok {
		h.done = true
		if err := h.it.Error(); err != nil {
			h.err = fmt.Errorf("worldstate: history of %q in namespace %q: %w", h.key, h.ns, err)
		}
		return false
	}
	if err := h.decode(); err != nil {
		h.done = true
		h.err = fmt.Errorf("worldstate: history of %q in namespace %q: %w", h.key, h.ns, err)
		return false
	}
	return true
}

func (h *HistoryIterator) decode() error {
	k := h.it.Key()
	if len(k) != h.prefixLen+versionLen {
		return fmt.Errorf("%w: history key %q has %d bytes, want %d", ErrCorrupt, k, len(k), h.prefixLen+versionLen)
	}
	hv, err := decodeHistoryValue(h.it.Value())
	if err != nil {
		return err
	}
	e := HistoryEntry{
		Version:   decodeVersion(k[h.prefixLen:]),
		TxID:      hv.txID,
		Timestamp: &timestamppb.Timestamp{Seconds: hv.seconds, Nanos: hv.nanos},
		IsDelete:  hv.isDelete,
	}
	if !hv.isDelete {
		e.Value = append(make([]byte, 0, len(hv.value)), hv.value...)
	}
	h.entry = e
	return nil
}

// Entry returns the current modification. Its value belongs to the caller.
func (h *HistoryIterator) Entry() HistoryEntry { return h.entry }

// Err returns the error that ended the iteration, if any.
func (h *HistoryIterator) Err() error { return h.err }

// Close releases the iterator and returns Err or the error met releasing
// it.
func (h *HistoryIterator) Close() error {
	h.done = true
	if h.it == nil {
		return h.err
	}
	err := h.it.Close()
	h.it = nil
	if h.err != nil {
		return h.err
	}
	if err != nil {
		return fmt.Errorf("worldstate: history of %q in namespace %q: %w", h.key, h.ns, err)
	}
	return nil
}
