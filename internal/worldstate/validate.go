package worldstate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// BlockUpdates accumulates the writes of the transactions of one block
// that validation found valid, in block order. Later transactions of the
// block are checked against them (CheckReads), and WriteTo puts them, with
// the history records, into the batch that commits the block. A
// BlockUpdates belongs to one goroutine.
type BlockUpdates struct {
	state   *State
	block   uint64
	lastTx  uint64
	added   bool
	nss     map[string]*nsUpdates
	history []historyRecord
	// cacheWrite is set while the batch WriteTo wrote, which writes a
	// namespace the State caches, is committing.
	cacheWrite bool
}

type nsUpdates struct {
	writes map[string]*pendingWrite
	// keys holds the keys of writes; it is sorted unless dirty.
	keys  []string
	dirty bool
}

type pendingWrite struct {
	txNum    uint64
	isDelete bool
	value    []byte // nil for a delete
}

type historyRecord struct {
	ns, key string
	txNum   uint64
	value   historyValue
}

// NewBlockUpdates starts the updates of block number block.
func (s *State) NewBlockUpdates(block uint64) *BlockUpdates {
	return &BlockUpdates{state: s, block: block, nss: make(map[string]*nsUpdates)}
}

// Block returns the block number.
func (u *BlockUpdates) Block() uint64 { return u.block }

// pending returns the write of an earlier valid transaction of the block to
// (ns, key), or nil.
func (u *BlockUpdates) pending(ns, key string) *pendingWrite {
	if u == nil {
		return nil
	}
	n := u.nss[ns]
	if n == nil {
		return nil
	}
	return n.writes[key]
}

// pendingInRange returns the keys of ns written earlier in the block that
// fall in [start, end) (or [start, end] when inclusive; empty end: no
// upper bound), in key order.
func (u *BlockUpdates) pendingInRange(ns, start, end string, inclusive bool) []string {
	if u == nil {
		return nil
	}
	n := u.nss[ns]
	if n == nil {
		return nil
	}
	if n.dirty {
		slices.Sort(n.keys)
		n.dirty = false
	}
	lo, _ := slices.BinarySearch(n.keys, start)
	hi := len(n.keys)
	if end != "" {
		hi, _ = slices.BinarySearch(n.keys, end)
		if inclusive && hi < len(n.keys) && n.keys[hi] == end {
			hi++
		}
	}
	if lo >= hi {
		return nil
	}
	return n.keys[lo:hi]
}

// checkStructure rejects read/write sets that this package cannot apply or
// validate, with the validation code and reason to record.
func checkStructure(nsRWSets []envelope.NsRWSet) (peerpb.TxValidationCode, string) {
	seen := make(map[string]bool, len(nsRWSets))
	for _, n := range nsRWSets {
		if err := ValidateNamespace(n.Namespace); err != nil {
			return peerpb.TxValidationCode_BAD_RWSET, strings.TrimPrefix(err.Error(), "worldstate: ")
		}
		if seen[n.Namespace] {
			return peerpb.TxValidationCode_BAD_RWSET, fmt.Sprintf("namespace %q appears twice in the read/write set", n.Namespace)
		}
		seen[n.Namespace] = true
		for i, rq := range n.KV.GetRangeQueriesInfo() {
			if rq.GetReadsMerkleHashes() != nil {
				return peerpb.TxValidationCode_BAD_RWSET, fmt.Sprintf("range query %d in namespace %q carries a Merkle summary of its reads, which Chorus does not validate", i, n.Namespace)
			}
		}
		for _, w := range n.KV.GetWrites() {
			if w.GetKey() == "" {
				return peerpb.TxValidationCode_INVALID_WRITESET, fmt.Sprintf("write to an empty key in namespace %q", n.Namespace)
			}
		}
		if len(n.KV.GetMetadataWrites()) > 0 {
			return peerpb.TxValidationCode_INVALID_WRITESET, fmt.Sprintf("namespace %q has key metadata writes, which Chorus does not support", n.Namespace)
		}
	}
	return peerpb.TxValidationCode_VALID, ""
}

// CheckReads validates the read set of one transaction of u's block (MVCC)
// against the committed state seen by r and the writes of the transactions
// of the block already added to u. r must show the state as committed up
// to the previous block and nothing of this one. u may be nil when no
// earlier transaction of the block is valid.
//
// The code is VALID with an empty reason, or says why the transaction is
// invalid:
//
//   - BAD_RWSET: an invalid or repeated namespace, or a range query
//     recorded as a Merkle summary;
//   - INVALID_WRITESET: a write to the empty key, or key metadata writes;
//   - MVCC_READ_CONFLICT: a key read at a version that is no longer
//     current, or written by an earlier valid transaction of the block;
//   - PHANTOM_READ_CONFLICT: a range read that, run again over committed
//     state plus the block's earlier writes, returns other keys or
//     versions.
//
// As in Fabric, each namespace is checked in turn, its key reads first and
// then its ranges, and the first conflict found is reported. The error is
// for storage failures and corrupt records (wrapping ErrCorrupt) only, with
// code NOT_VALIDATED: the block cannot be validated, and the caller must
// stop rather than record a code.
func (s *State) CheckReads(r kv.Reader, u *BlockUpdates, nsRWSets []envelope.NsRWSet) (peerpb.TxValidationCode, string, error) {
	if u != nil && u.state.channel != s.channel {
		return peerpb.TxValidationCode_NOT_VALIDATED, "", fmt.Errorf("worldstate: block updates of channel %q used with channel %q", u.state.channel, s.channel)
	}
	if code, reason := checkStructure(nsRWSets); code != peerpb.TxValidationCode_VALID {
		return code, reason, nil
	}
	for _, n := range nsRWSets {
		for _, rd := range n.KV.GetReads() {
			reason, err := s.checkRead(r, u, n.Namespace, rd)
			if err != nil {
				return peerpb.TxValidationCode_NOT_VALIDATED, "", err
			}
			if reason != "" {
				return peerpb.TxValidationCode_MVCC_READ_CONFLICT, reason, nil
			}
		}
		for _, rq := range n.KV.GetRangeQueriesInfo() {
			reason, err := s.checkRange(r, u, n.Namespace, rq)
			if err != nil {
				return peerpb.TxValidationCode_NOT_VALIDATED, "", err
			}
			if reason != "" {
				return peerpb.TxValidationCode_PHANTOM_READ_CONFLICT, reason, nil
			}
		}
	}
	return peerpb.TxValidationCode_VALID, "", nil
}

// checkRead returns why a key read conflicts, or "".
func (s *State) checkRead(r kv.Reader, u *BlockUpdates, ns string, rd *kvrwsetpb.KVRead) (string, error) {
	key := rd.GetKey()
	if p := u.pending(ns, key); p != nil {
		return fmt.Sprintf("key %q in namespace %q %s, written by transaction %d of this block", key, ns, describeRead(rd.GetVersion()), p.txNum), nil
	}
	ver, err := s.version(r, ns, key)
	if err != nil {
		return "", err
	}
	if sameVersion(rd.GetVersion(), ver) {
		return "", nil
	}
	return fmt.Sprintf("key %q in namespace %q %s, %s", key, ns, describeRead(rd.GetVersion()), describeNow(ver)), nil
}

// version returns the committed version of (ns, key), nil when absent.
func (s *State) version(r kv.Reader, ns, key string) (*Version, error) {
	_, v, err := s.get(r, ns, key)
	return v, err
}

// describeRange formats a recorded range for a conflict reason.
func describeRange(ns string, rq *kvrwsetpb.RangeQueryInfo) string {
	switch {
	case rq.GetEndKey() == "":
		return fmt.Sprintf("range [%q, end of namespace) in namespace %q", rq.GetStartKey(), ns)
	case rq.GetItrExhausted():
		return fmt.Sprintf("range [%q, %q) in namespace %q", rq.GetStartKey(), rq.GetEndKey(), ns)
	default:
		return fmt.Sprintf("range [%q, %q] in namespace %q (iteration stopped at %q)", rq.GetStartKey(), rq.GetEndKey(), ns, rq.GetEndKey())
	}
}

// checkRange re-executes a recorded range over committed state merged with
// the block's earlier writes and returns why it differs, or "".
func (s *State) checkRange(r kv.Reader, u *BlockUpdates, ns string, rq *kvrwsetpb.RangeQueryInfo) (string, error) {
	// Fabric: an iterator not run to its end recorded the last key it
	// returned as end_key, and that key is part of the range.
	inclusive := !rq.GetItrExhausted()
	m, err := s.newMerged(r, u, ns, rq.GetStartKey(), rq.GetEndKey(), inclusive)
	if err != nil {
		return "", err
	}
	defer m.close()
	recorded := rq.GetRawReads().GetKvReads()
	where := func() string { return describeRange(ns, rq) }
	for i := 0; ; i++ {
		e, ok, err := m.next()
		if err != nil {
			return "", err
		}
		var rd *kvrwsetpb.KVRead
		if i < len(recorded) {
			rd = recorded[i]
		}
		switch {
		case !ok && rd == nil:
			return "", nil
		case !ok || rd != nil && rd.GetKey() < e.key:
			// A key that was read is no longer there.
			if p := u.pending(ns, rd.GetKey()); p != nil {
				return fmt.Sprintf("%s: key %q %s, deleted by transaction %d of this block", where(), rd.GetKey(), describeRead(rd.GetVersion()), p.txNum), nil
			}
			return fmt.Sprintf("%s: key %q %s, now absent", where(), rd.GetKey(), describeRead(rd.GetVersion())), nil
		case rd == nil || e.key < rd.GetKey():
			// A key that was not read is there now.
			if e.pending != nil {
				return fmt.Sprintf("%s: key %q inserted by transaction %d of this block", where(), e.key, e.pending.txNum), nil
			}
			return fmt.Sprintf("%s: key %q inserted, now at %s", where(), e.key, e.ver), nil
		case !sameVersion(rd.GetVersion(), &e.ver):
			if e.pending != nil {
				return fmt.Sprintf("%s: key %q %s, written by transaction %d of this block", where(), e.key, describeRead(rd.GetVersion()), e.pending.txNum), nil
			}
			return fmt.Sprintf("%s: key %q %s, now at %s", where(), e.key, describeRead(rd.GetVersion()), e.ver), nil
		}
	}
}

// mergedEntry is one key of a re-executed range.
type mergedEntry struct {
	key     string
	ver     Version
	pending *pendingWrite // non-nil when an earlier tx of the block wrote it
}

// merged walks committed state merged with a block's pending writes: a
// pending write hides the committed value of its key, and a pending delete
// hides the key.
type merged struct {
	u       *BlockUpdates
	ns      string
	db      *Iterator
	dbOK    bool
	pend    []string
	pendMap map[string]*pendingWrite
}

func (s *State) newMerged(r kv.Reader, u *BlockUpdates, ns, start, end string, inclusive bool) (*merged, error) {
	it, err := s.newIterator(r, ns, start, end, inclusive, false)
	if err != nil {
		return nil, err
	}
	m := &merged{u: u, ns: ns, db: it, pend: u.pendingInRange(ns, start, end, inclusive)}
	if len(m.pend) > 0 {
		m.pendMap = u.nss[ns].writes
	}
	m.dbOK = it.Next()
	if !m.dbOK && it.Err() != nil {
		it.Close()
		return nil, it.Err()
	}
	return m, nil
}

func (m *merged) next() (mergedEntry, bool, error) {
	for {
		var dbKey, pKey string
		haveDB, haveP := m.dbOK, len(m.pend) > 0
		if haveDB {
			dbKey = m.db.Key()
		}
		if haveP {
			pKey = m.pend[0]
		}
		var c int
		switch {
		case !haveDB && !haveP:
			return mergedEntry{}, false, nil
		case !haveDB:
			c = 1
		case !haveP:
			c = -1
		default:
			c = cmp.Compare(dbKey, pKey)
		}
		if c < 0 {
			e := mergedEntry{key: dbKey, ver: m.db.Version()}
			if err := m.advanceDB(); err != nil {
				return mergedEntry{}, false, err
			}
			return e, true, nil
		}
		if c == 0 {
			if err := m.advanceDB(); err != nil {
				return mergedEntry{}, false, err
			}
		}
		m.pend = m.pend[1:]
		p := m.pendMap[pKey]
		if p.isDelete {
			continue
		}
		return mergedEntry{key: pKey, ver: Version{BlockNum: m.u.block, TxNum: p.txNum}, pending: p}, true, nil
	}
}

func (m *merged) advanceDB() error {
	m.dbOK = m.db.Next()
	if !m.dbOK {
		return m.db.Err()
	}
	return nil
}

func (m *merged) close() { m.db.Close() }

// Add records the writes of a transaction found valid: transaction number
// txNum of the block (its index in the block, invalid transactions
// included), with id txID and the timestamp of its channel header. Writes
// take version (block, txNum); a write with is_delete set or an empty value
// is a delete, as in Fabric (FAB-18386). Transaction numbers must increase
// from one Add to the next. Add keeps references to the values in
// nsRWSets: do not modify them until WriteTo.
func (u *BlockUpdates) Add(txNum uint64, txID string, timestamp *timestamppb.Timestamp, nsRWSets []envelope.NsRWSet) error {
	if u.added && txNum <= u.lastTx {
		return fmt.Errorf("worldstate: block %d: transaction %d added after transaction %d", u.block, txNum, u.lastTx)
	}
	if code, reason := checkStructure(nsRWSets); code != peerpb.TxValidationCode_VALID {
		return fmt.Errorf("worldstate: block %d transaction %d: %s (%s)", u.block, txNum, reason, code)
	}
	u.added, u.lastTx = true, txNum
	for _, n := range nsRWSets {
		nu := u.nss[n.Namespace]
		for _, w := range n.KV.GetWrites() {
			if nu == nil {
				nu = &nsUpdates{writes: make(map[string]*pendingWrite)}
				u.nss[n.Namespace] = nu
			}
			p := &pendingWrite{txNum: txNum, isDelete: w.GetIsDelete() || len(w.GetValue()) == 0}
			if !p.isDelete {
				p.value = w.GetValue()
			}
			if _, exists := nu.writes[w.GetKey()]; !exists {
				nu.keys = append(nu.keys, w.GetKey())
				nu.dirty = true
			}
			nu.writes[w.GetKey()] = p
			u.history = append(u.history, historyRecord{
				ns: n.Namespace, key: w.GetKey(), txNum: txNum,
				value: historyValue{
					txID:     txID,
					seconds:  timestamp.GetSeconds(),
					nanos:    timestamp.GetNanos(),
					isDelete: p.isDelete,
					value:    p.value,
				},
			})
		}
	}
	return nil
}

// WriteTo puts the block's state changes and history records into b, in a
// deterministic order: state keys by namespace and key (a value set, or the
// key deleted), then history records by namespace, key and transaction.
// The caller commits b together with the block, in one synced batch, so
// that state and blocks never disagree after a crash. WriteTo does not
// change u's writes; it adds the keys it sets to the State's key filter,
// if it has one (State.WithKeyFilter). When the block writes a namespace the State
// caches (State.WithNamespaceCache), WriteTo empties the cache and stops
// it until BatchDone: ledger.Append, which calls both, is the way to
// commit b.
func (u *BlockUpdates) WriteTo(b *kv.Batch) error {
	s := u.state
	if c := s.cache; c != nil && !u.cacheWrite && u.writesCachedNamespace() {
		c.beginWrite()
		u.cacheWrite = true
	}
	var buf []byte
	for _, ns := range sortedKeys(u.nss) {
		nu := u.nss[ns]
		if nu.dirty {
			slices.Sort(nu.keys)
			nu.dirty = false
		}
		for _, key := range nu.keys {
			p := nu.writes[key]
			buf = appendStateKey(buf[:0], s.statePrefix, ns, key)
			if p.isDelete {
				b.Delete(buf)
				continue
			}
			if s.keys != nil {
				// Before the batch commits: a read that can see the key in
				// the database must find it in the filter.
				s.keys.AddBytes(buf[len(s.statePrefix):])
			}
			b.Set(buf, encodeStateValue(Version{BlockNum: u.block, TxNum: p.txNum}, p.value))
		}
	}
	hist := slices.Clone(u.history)
	slices.SortStableFunc(hist, func(a, b historyRecord) int {
		if c := cmp.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.txNum, b.txNum)
	})
	for _, h := range hist {
		rec, err := encodeHistoryValue(h.value)
		if err != nil {
			return fmt.Errorf("worldstate: block %d transaction %d: %w", u.block, h.txNum, err)
		}
		buf = appendHistoryKey(buf[:0], s.historyPrefix, h.ns, h.key, Version{BlockNum: u.block, TxNum: h.txNum})
		b.Set(buf, rec)
	}
	return nil
}

// BatchDone tells u that the batch WriteTo wrote into has committed, or
// will not: the State's namespace cache, stopped by WriteTo, may fill
// again. ledger.Append calls it.
func (u *BlockUpdates) BatchDone() {
	if u.cacheWrite {
		u.cacheWrite = false
		u.state.cache.endWrite()
	}
}

// writesCachedNamespace reports whether u writes a key of a namespace its
// State caches.
func (u *BlockUpdates) writesCachedNamespace() bool {
	for ns, nu := range u.nss {
		if len(nu.keys) > 0 && u.state.cache.namespaces[ns] {
			return true
		}
	}
	return false
}
