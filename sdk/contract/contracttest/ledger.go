package contracttest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/abi"
)

// ChannelID is the channel of every Ledger.
const ChannelID = "mychannel"

// MaxCallDepth is how many contracts may be on the call stack of a
// transaction, the first included, as the peer allows.
const MaxCallDepth = 8

// epoch is the timestamp of the first transaction; each later one is a
// second later.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Ledger is the committed state of one channel, with the contracts deployed
// on it. The zero value is not usable: call NewLedger.
type Ledger struct {
	contracts map[string]contract.Handler
	state     map[string]map[string]entry // namespace → key → committed entry
	history   map[string]map[string][]contract.KeyModification
	txs       int // transactions begun
	commits   int // transactions committed, the version of what they wrote
}

type entry struct {
	value   []byte
	version int // the commit that wrote it
}

// NewLedger returns an empty ledger with no contracts.
func NewLedger() *Ledger {
	return &Ledger{
		contracts: make(map[string]contract.Handler),
		state:     make(map[string]map[string]entry),
		history:   make(map[string]map[string][]contract.KeyModification),
	}
}

// Deploy makes h the contract called name, replacing any contract of that
// name. Its state, in the namespace name, is kept.
func (l *Ledger) Deploy(name string, h contract.Handler) {
	l.contracts[name] = h
}

// Event is a contract event.
type Event struct {
	Name    string
	Payload []byte
}

// Result is the outcome of an invocation.
type Result struct {
	contract.Response
	TxID string
	// Event is the event the transaction emits: nil when it set none or
	// its Response is an error.
	Event *Event
	// Err is the error of Commit, for Submit: nil when the transaction
	// committed or was not committed because its Response is an error.
	Err error
}

// Submit invokes the contract name as creator with args (args[0] the
// function) and commits the transaction if the Response is not an error,
// as a client submitting a transaction to a network sees it.
func (l *Ledger) Submit(creator Identity, name string, args ...string) *Result {
	return l.run(creator, name, args, true)
}

// Evaluate invokes the contract name like Submit but never commits: a
// query.
func (l *Ledger) Evaluate(creator Identity, name string, args ...string) *Result {
	return l.run(creator, name, args, false)
}

func (l *Ledger) run(creator Identity, name string, args []string, commit bool) *Result {
	tx := l.Begin(creator, name, args...)
	resp := tx.invoke(name, tx.args)
	r := &Result{Response: resp, TxID: tx.txID}
	if resp.IsError() {
		return r
	}
	if tx.event != nil {
		r.Event = &Event{Name: tx.event.Name, Payload: tx.event.Payload}
	}
	if commit {
		r.Err = tx.Commit()
	}
	return r
}

// Begin starts a transaction of creator in the namespace of the contract
// name (which need not be deployed) with args, args[0] the function. The
// Transaction is the contract.Stub that Submit passes to the contract.
func (l *Ledger) Begin(creator Identity, name string, args ...string) *Transaction {
	l.txs++
	sum := sha256.Sum256([]byte("contracttest transaction " + strconv.Itoa(l.txs)))
	t := &tx{
		l:         l,
		creator:   creator,
		txID:      hex.EncodeToString(sum[:]),
		timestamp: epoch.Add(time.Duration(l.txs-1) * time.Second),
		writes:    make(map[string]map[string][]byte),
		reads:     make(map[string]map[string]int),
	}
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	return &Transaction{tx: t, ns: name, args: bargs, depth: 1}
}

// GetState returns the committed value of key in the namespace of the
// contract name, or nil.
func (l *Ledger) GetState(name, key string) []byte {
	e, ok := l.state[name][key]
	if !ok {
		return nil
	}
	return slices.Clone(e.value)
}

// Keys returns the committed keys of the namespace of the contract name,
// in order, composite keys included.
func (l *Ledger) Keys(name string) []string {
	return sortedKeys(l.state[name])
}

func sortedKeys(m map[string]entry) []string { return sortedNames(m) }

// tx is the state of a transaction shared by the contracts it calls.
type tx struct {
	l         *Ledger
	creator   Identity
	txID      string
	timestamp time.Time
	// writes holds, per namespace, each key's last write; nil deletes.
	writes map[string]map[string][]byte
	// reads holds, per namespace, the version of each key read, 0 for
	// absent, for validation at commit.
	reads map[string]map[string]int
	// ranges holds the range reads, re-read at commit (phantom reads).
	ranges    []rangeRead
	event     *Event // of the contract invoked first
	committed bool
}

type rangeRead struct {
	ns, start, end string
	keys           []string
	versions       []int
}

// Transaction is one contract's view of a transaction: a contract.Stub.
// The Transaction from Begin is the view of the contract invoked first;
// InvokeContract gives a callee its own.
type Transaction struct {
	*tx
	ns    string // the contract's namespace
	args  [][]byte
	depth int
}

var _ contract.Stub = (*Transaction)(nil)

// ErrConflict is returned by Commit when a key the transaction read was
// changed by a transaction committed after it began: Fabric's
// MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT. Nothing is written.
var ErrConflict = errors.New("contracttest: read conflict")

// errCommitted is returned by every write after Commit.
var errCommitted = errors.New("contracttest: the transaction is already committed")

// Commit validates the transaction's reads against the committed state and
// writes what it wrote, adding to each key's history. It fails with an
// error wrapping ErrConflict when a key it read has changed since.
func (t *Transaction) Commit() error {
	if t.committed {
		return errCommitted
	}
	l := t.l
	for _, ns := range sortedNames(t.reads) {
		for _, k := range sortedNames(t.reads[ns]) {
			if got := l.state[ns][k].version; got != t.reads[ns][k] {
				return fmt.Errorf("%w: key %q of %s changed", ErrConflict, k, ns)
			}
		}
	}
	for _, r := range t.ranges {
		keys, versions := l.scan(r.ns, r.start, r.end)
		if !slices.Equal(keys, r.keys) || !slices.Equal(versions, r.versions) {
			return fmt.Errorf("%w: range [%q, %q) of %s changed", ErrConflict, r.start, r.end, r.ns)
		}
	}
	t.committed = true
	l.commits++
	for _, ns := range sortedNames(t.writes) {
		if l.state[ns] == nil {
			l.state[ns] = make(map[string]entry)
			l.history[ns] = make(map[string][]contract.KeyModification)
		}
		for _, k := range sortedNames(t.writes[ns]) {
			v := t.writes[ns][k]
			m := contract.KeyModification{TxID: t.txID, Timestamp: t.timestamp, IsDelete: v == nil, Value: v}
			l.history[ns][k] = append(l.history[ns][k], m)
			if v == nil {
				delete(l.state[ns], k)
			} else {
				l.state[ns][k] = entry{value: v, version: l.commits}
			}
		}
	}
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func sortedInts(m map[string]int) []string     { return sortedNames(m) }
func sortedBytes(m map[string][]byte) []string { return sortedNames(m) }
func (l *Ledger) scan(ns, start, end string) ([]string, []int) {
	var keys []string
	var versions []int
	for _, k := range sortedKeys(l.state[ns]) {
		if k >= start && (end == "" || k < end) {
			keys = append(keys, k)
			versions = append(versions, l.state[ns][k].version)
		}
	}
	return keys, versions
}

// Event returns the event the transaction set, or nil.
func (t *Transaction) Event() *Event { return t.event }

// TxID returns the transaction id, as GetTxID.
func (t *Transaction) TxID() string { return t.txID }

func (t *Transaction) GetArgs() [][]byte { return t.args }

func (t *Transaction) GetStringArgs() []string {
	out := make([]string, len(t.args))
	for i, a := range t.args {
		out[i] = string(a)
	}
	return out
}

func (t *Transaction) GetFunctionAndParameters() (string, []string) {
	if len(t.args) == 0 {
		return "", nil
	}
	all := t.GetStringArgs()
	return all[0], all[1:]
}

func (t *Transaction) GetTxID() string                    { return t.txID }
func (t *Transaction) GetChannelID() string               { return ChannelID }
func (t *Transaction) GetTxTimestamp() (time.Time, error) { return t.timestamp, nil }
func (t *Transaction) GetCreator() ([]byte, error)        { return t.creator.Serialized(), nil }
func (t *Transaction) GetMSPID() (string, error)          { return t.creator.MSPID, nil }

func checkKey(op, key string) error {
	switch {
	case !utf8.ValidString(key):
		return fmt.Errorf("contracttest: %s: key %q is not valid UTF-8", op, key)
	case len(key) > abi.MaxKeyLen:
		return fmt.Errorf("contracttest: %s: key of %d bytes is longer than %d", op, len(key), abi.MaxKeyLen)
	}
	return nil
}

func (t *Transaction) GetState(key string) ([]byte, error) {
	if err := checkKey("GetState", key); err != nil {
		return nil, err
	}
	e, ok := t.l.state[t.ns][key]
	if t.reads[t.ns] == nil {
		t.reads[t.ns] = make(map[string]int)
	}
	if _, seen := t.reads[t.ns][key]; !seen {
		t.reads[t.ns][key] = e.version
	}
	if !ok {
		return nil, nil
	}
	return slices.Clone(e.value), nil
}

func (t *Transaction) write(op, key string, value []byte) error {
	if t.committed {
		return errCommitted
	}
	if key == "" {
		return fmt.Errorf("contracttest: %s: the key is empty", op)
	}
	if err := checkKey(op, key); err != nil {
		return err
	}
	if len(value) > abi.MaxValueLen {
		return fmt.Errorf("contracttest: %s: value of %d bytes is longer than %d", op, len(value), abi.MaxValueLen)
	}
	if t.writes[t.ns] == nil {
		t.writes[t.ns] = make(map[string][]byte)
	}
	if len(value) == 0 {
		t.writes[t.ns][key] = nil
	} else {
		t.writes[t.ns][key] = slices.Clone(value)
	}
	return nil
}

func (t *Transaction) PutState(key string, value []byte) error {
	return t.write("PutState", key, value)
}
func (t *Transaction) DelState(key string) error { return t.write("DelState", key, nil) }

func (t *Transaction) GetStateByRange(startKey, endKey string) (contract.StateQueryIterator, error) {
	start, end, err := contract.SimpleKeyRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return t.rangeQuery(start, end)
}

func (t *Transaction) GetStateByPartialCompositeKey(objectType string, keys []string) (contract.StateQueryIterator, error) {
	start, end, err := contract.PartialCompositeKeyRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	return t.rangeQuery(start, end)
}

func (t *Transaction) rangeQuery(start, end string) (contract.StateQueryIterator, error) {
	for _, k := range [...]string{start, end} {
		if err := checkKey("GetStateByRange", k); err != nil {
			return nil, err
		}
	}
	keys, versions := t.l.scan(t.ns, start, end)
	t.ranges = append(t.ranges, rangeRead{ns: t.ns, start: start, end: end, keys: keys, versions: versions})
	kvs := make([]contract.KV, len(keys))
	for i, k := range keys {
		kvs[i] = contract.KV{Key: k, Value: slices.Clone(t.l.state[t.ns][k].value)}
	}
	return &iterator[contract.KV]{entries: kvs}, nil
}

func (t *Transaction) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return contract.CreateCompositeKey(objectType, attributes)
}

func (t *Transaction) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return contract.SplitCompositeKey(compositeKey)
}

func (t *Transaction) GetHistoryForKey(key string) (contract.HistoryQueryIterator, error) {
	if err := checkKey("GetHistoryForKey", key); err != nil {
		return nil, err
	}
	h := t.l.history[t.ns][key]
	mods := make([]contract.KeyModification, len(h))
	for i, m := range h {
		m.Value = slices.Clone(m.Value)
		mods[len(h)-1-i] = m // newest first
	}
	return &iterator[contract.KeyModification]{entries: mods}, nil
}

func (t *Transaction) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("contracttest: SetEvent: the event name is empty")
	}
	if t.depth == 1 {
		t.event = &Event{Name: name, Payload: slices.Clone(payload)}
	}
	return nil
}

// InvokeContract runs the deployed contract name in this transaction, with
// its own namespace. Its writes join the transaction's even when it returns
// an error, as in Fabric; its event is dropped.
func (t *Transaction) InvokeContract(name string, args [][]byte) contract.Response {
	if t.depth >= MaxCallDepth {
		return contract.Error(fmt.Sprintf("contracttest: InvokeContract(%q): more than %d contracts on the call stack", name, MaxCallDepth))
	}
	callee := &Transaction{tx: t.tx, ns: name, args: args, depth: t.depth + 1}
	return callee.invoke(name, args)
}

// invoke runs the contract name with t as its stub; a panic, or a contract
// that is not deployed, is a 500 Response, as on a peer.
func (t *Transaction) invoke(name string, args [][]byte) (resp contract.Response) {
	h := t.l.contracts[name]
	if h == nil {
		return contract.Error(fmt.Sprintf("contracttest: contract %q is not deployed", name))
	}
	defer func() {
		if v := recover(); v != nil {
			resp = contract.Error(fmt.Sprintf("contract panicked: %v", v))
		}
	}()
	return h.Invoke(t)
}

// iterator walks a slice, as the stub's iterators do.
type iterator[T any] struct {
	entries []T
	closed  bool
}

func (it *iterator[T]) HasNext() bool { return !it.closed && len(it.entries) > 0 }

func (it *iterator[T]) Next() (*T, error) {
	if !it.HasNext() {
		return nil, errors.New("contracttest: no more entries")
	}
	e := &it.entries[0]
	it.entries = it.entries[1:]
	return e, nil
}

func (it *iterator[T]) Close() error {
	it.closed = true
	return nil
}

// String returns a short description of r, for test failures.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", r.Status)
	if r.Message != "" {
		fmt.Fprintf(&b, " %q", r.Message)
	}
	if len(r.Payload) > 0 {
		fmt.Fprintf(&b, " payload %q", r.Payload)
	}
	if r.Event != nil {
		fmt.Fprintf(&b, " event %s %q", r.Event.Name, r.Event.Payload)
	}
	return b.String()
}
