package worldstate

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
)

// errSimulationDone is returned by every call on a Simulator after Results
// or Close.
var errSimulationDone = errors.New("worldstate: simulator used after Results or Close")

// Simulator runs one transaction against committed state and records its
// read/write set (DESIGN §6). Reads return committed state only; writes
// are recorded, never applied. A Simulator belongs to one goroutine.
type Simulator struct {
	state *State
	r     kv.Reader
	nss   map[string]*nsSim
	// ranges holds every range iterator in the order it was opened.
	ranges []*QueryIterator
	// histories holds history iterators, to close them with the simulator.
	histories []*HistoryIterator
	// err is the first storage error met; it fails Results.
	err  error
	done bool

	rws      *rwsetpb.TxReadWriteSet
	rwsBytes []byte
	rwsErr   error
}

type nsSim struct {
	reads  map[string]*kvrwsetpb.KVRead
	writes map[string]*kvrwsetpb.KVWrite
}

// NewSimulator returns a simulator reading through r. r should be a
// kv.Snapshot, which the caller opens before and closes after the
// simulation (after Results or Close): a snapshot gives every read the same
// committed state even while blocks commit, so that recorded versions are
// consistent. The simulator does not close r.
func (s *State) NewSimulator(r kv.Reader) *Simulator {
	return &Simulator{state: s, r: r, nss: make(map[string]*nsSim)}
}

func (sim *Simulator) ns(name string) *nsSim {
	n := sim.nss[name]
	if n == nil {
		n = &nsSim{reads: make(map[string]*kvrwsetpb.KVRead), writes: make(map[string]*kvrwsetpb.KVWrite)}
		sim.nss[name] = n
	}
	return n
}

// fail records the first storage error; Results then fails.
func (sim *Simulator) fail(err error) {
	if sim.err == nil {
		sim.err = err
	}
}

func (sim *Simulator) check(ns string, keys ...string) error {
	if sim.done {
		return errSimulationDone
	}
	if err := ValidateNamespace(ns); err != nil {
		return err
	}
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return fmt.Errorf("worldstate: key %q in namespace %q is not valid UTF-8", k, ns)
		}
	}
	return nil
}

// GetState returns the committed value of key in namespace ns, or nil when
// the key is absent. A transaction never sees its own writes. The first
// read of each key is recorded with the version it had (no version when
// absent). The key must be valid UTF-8, as read sets carry keys as
// protobuf strings; as in Fabric, the empty key may be read (it is always
// absent).
func (sim *Simulator) GetState(ns, key string) ([]byte, error) {
	if err := sim.check(ns, key); err != nil {
		return nil, err
	}
	val, ver, err := sim.state.get(sim.r, ns, key)
	if err != nil {
		sim.fail(err)
		return nil, err
	}
	n := sim.ns(ns)
	if _, seen := n.reads[key]; !seen {
		n.reads[key] = &kvrwsetpb.KVRead{Key: key, Version: protoVersion(ver)}
	}
	return val, nil
}

// PutState records a write of value to key in namespace ns; the last write
// to a key wins. The key must be non-empty valid UTF-8. As in Fabric
// (FAB-18386), an empty value is a delete: it is recorded as is_delete.
func (sim *Simulator) PutState(ns, key string, value []byte) error {
	if err := sim.check(ns, key); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("worldstate: write to an empty key in namespace %q", ns)
	}
	w := &kvrwsetpb.KVWrite{Key: key}
	if len(value) == 0 {
		w.IsDelete = true
	} else {
		w.Value = append(make([]byte, 0, len(value)), value...)
	}
	sim.ns(ns).writes[key] = w
	return nil
}

// DelState records the deletion of key in namespace ns; the last write to
// a key wins. The key must be non-empty valid UTF-8. Deleting an absent key
// is allowed.
func (sim *Simulator) DelState(ns, key string) error {
	return sim.PutState(ns, key, nil)
}

// GetStateByRange returns an iterator over the committed keys of namespace
// ns in [start, end) (empty end: to the end of the namespace), in key
// order. It does not apply the shims' simple-key conventions (an empty
// start replaced by "\x01", keys starting with 0x00 refused): a contract
// SDK applies those before calling.
//
// The range is recorded as Fabric records it, for phantom detection at
// validation: start_key is start; each key the iterator returns is
// appended to raw_reads with its version; when Next reports the end,
// itr_exhausted is true and end_key is end, otherwise end_key is the last
// key returned and validation rechecks [start, end_key] inclusive. A range
// whose iterator never returned a key and was not run to its end observed
// nothing and is not recorded (Fabric records it with an empty end_key,
// which its validator then rechecks as an unbounded range). Identical
// records in one namespace (same start, end and exhaustion) are kept once,
// as Fabric does. Ranges appear in the read set in the order their
// iterators were opened.
func (sim *Simulator) GetStateByRange(ns, start, end string) (*QueryIterator, error) {
	if err := sim.check(ns, start, end); err != nil {
		return nil, err
	}
	it, err := sim.state.newIterator(sim.r, ns, start, end, false, true)
	if err != nil {
		sim.fail(err)
		return nil, err
	}
	sim.ns(ns)
	q := &QueryIterator{sim: sim, ns: ns, start: start, end: end, it: it}
	sim.ranges = append(sim.ranges, q)
	return q, nil
}

// GetHistoryForKey returns the modifications of key in namespace ns,
// newest first, through the simulator's reader. As in Fabric, history
// reads are not recorded and not validated. The iterator is closed with
// the simulator if the caller has not closed it.
func (sim *Simulator) GetHistoryForKey(ns, key string) (*HistoryIterator, error) {
	if sim.done {
		return nil, errSimulationDone
	}
	h, err := sim.state.History(sim.r, ns, key)
	if err != nil {
		return nil, err
	}
	sim.histories = append(sim.histories, h)
	return h, nil
}

// QueryIterator walks a range for a Simulator and records what it returns.
// It belongs to the simulator's goroutine.
type QueryIterator struct {
	sim        *Simulator
	ns         string
	start, end string
	it         *Iterator
	reads      []*kvrwsetpb.KVRead
	exhausted  bool
	closed     bool
}

// Next moves to the next key and reports whether there is one. It returns
// false after the simulator's Results or Close.
func (q *QueryIterator) Next() bool {
	if q.closed || q.exhausted || q.sim.done {
		return false
	}
	if !q.it.Next() {
		if err := q.it.Err(); err != nil {
			q.sim.fail(err)
			return false
		}
		q.exhausted = true
		return false
	}
	v := q.it.Version()
	q.reads = append(q.reads, &kvrwsetpb.KVRead{Key: q.it.Key(), Version: v.Proto()})
	return true
}

// Key returns the current key.
func (q *QueryIterator) Key() string { return q.it.Key() }

// Value returns the current value. It belongs to the caller.
func (q *QueryIterator) Value() []byte { return q.it.Value() }

// Err returns the storage error that ended the iteration, if any; it also
// fails the simulator's Results.
func (q *QueryIterator) Err() error { return q.it.Err() }

// Close releases the iterator. What it returned stays recorded.
func (q *QueryIterator) Close() error {
	if q.closed {
		return nil
	}
	q.closed = true
	if err := q.it.Close(); err != nil {
		q.sim.fail(err)
		return err
	}
	return nil
}

// info returns the range's record, or nil when there is nothing to record.
func (q *QueryIterator) info() *kvrwsetpb.RangeQueryInfo {
	if !q.exhausted && len(q.reads) == 0 {
		return nil
	}
	ri := &kvrwsetpb.RangeQueryInfo{StartKey: q.start, ItrExhausted: q.exhausted}
	if q.exhausted {
		ri.EndKey = q.end
	} else {
		ri.EndKey = q.reads[len(q.reads)-1].Key
	}
	if len(q.reads) > 0 {
		// As Fabric: no reads_info at all for an empty result.
		ri.ReadsInfo = &kvrwsetpb.RangeQueryInfo_RawReads{RawReads: &kvrwsetpb.QueryReads{KvReads: q.reads}}
	}
	return ri
}

// closeAll releases every iterator the simulator opened.
func (sim *Simulator) closeAll() error {
	var first error
	for _, q := range sim.ranges {
		if err := q.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, h := range sim.histories {
		if err := h.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close ends the simulation without results, releasing every iterator it
// opened. It is safe to call after Results, and more than once.
func (sim *Simulator) Close() error {
	if sim.done {
		return nil
	}
	sim.done = true
	return sim.closeAll()
}

// Results ends the simulation, closes every iterator it opened, and returns
// the transaction's read/write set and its deterministic encoding (what
// ChaincodeAction.results carries). Namespaces appear sorted by name,
// including those only read; within each, reads and writes are sorted by
// key and ranges keep the order their iterators were opened; each
// NsReadWriteSet.rwset is the deterministic encoding of its KVRWSet. The
// same calls therefore give the same bytes on every endorser. A storage
// error met during the simulation fails Results. Later calls return the
// same results; the caller must not modify them.
func (sim *Simulator) Results() (*rwsetpb.TxReadWriteSet, []byte, error) {
	if sim.done {
		if sim.rws == nil && sim.rwsErr == nil {
			return nil, nil, errSimulationDone
		}
		return sim.rws, sim.rwsBytes, sim.rwsErr
	}
	sim.done = true
	if err := sim.closeAll(); err != nil {
		sim.fail(err)
	}
	sim.rws, sim.rwsBytes, sim.rwsErr = sim.build()
	return sim.rws, sim.rwsBytes, sim.rwsErr
}

type rangeKey struct {
	start, end string
	exhausted  bool
}

func (sim *Simulator) build() (*rwsetpb.TxReadWriteSet, []byte, error) {
	if sim.err != nil {
		return nil, nil, fmt.Errorf("worldstate: simulation met a storage error: %w", sim.err)
	}
	names := make([]string, 0, len(sim.nss))
	for name := range sim.nss {
		names = append(names, name)
	}
	slices.Sort(names)

	rws := &rwsetpb.TxReadWriteSet{DataModel: rwsetpb.TxReadWriteSet_KV}
	for _, name := range names {
		n := sim.nss[name]
		kvs := &kvrwsetpb.KVRWSet{}
		for _, k := range sortedKeys(n.reads) {
			kvs.Reads = append(kvs.Reads, n.reads[k])
		}
		seen := make(map[rangeKey]bool)
		for _, q := range sim.ranges {
			if q.ns != name {
				continue
			}
			ri := q.info()
			if ri == nil {
				continue
			}
			rk := rangeKey{ri.StartKey, ri.EndKey, ri.ItrExhausted}
			if seen[rk] {
				continue
			}
			seen[rk] = true
			kvs.RangeQueriesInfo = append(kvs.RangeQueriesInfo, ri)
		}
		for _, k := range sortedKeys(n.writes) {
			kvs.Writes = append(kvs.Writes, n.writes[k])
		}
		b, err := envelope.Marshal(kvs)
		if err != nil {
			return nil, nil, fmt.Errorf("worldstate: read/write set of namespace %q: %w", name, err)
		}
		rws.NsRwset = append(rws.NsRwset, &rwsetpb.NsReadWriteSet{Namespace: name, Rwset: b})
	}
	b, err := envelope.Marshal(rws)
	if err != nil {
		return nil, nil, fmt.Errorf("worldstate: read/write set: %w", err)
	}
	return rws, b, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
