package contract

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chorusledger/chorus/internal/compositekey"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/worldstate"
)

// Stub is what a contract sees of the transaction it runs in: its
// arguments, the world state of its own namespace, the transaction's
// creator, id and timestamp, its event, and the other contracts of the
// channel. It is Fabric's ChaincodeStubInterface, narrowed to what Chorus
// supports.
//
// A Stub belongs to the goroutine that called Contract.Invoke and is valid
// only until Invoke returns; after that every call fails. Every answer is
// deterministic: a Stub reads no clock and no randomness, and the same
// committed state gives the same answers on every peer.
type Stub interface {
	// Function returns the function name: the first argument of the
	// invocation, as Fabric clients send it. Fabric's contract API lets a
	// client address a contract inside a chaincode as "Contract:fn"; the
	// stub drops everything up to the last ':', so that "assets:ReadAsset"
	// and "ReadAsset" both call ReadAsset. Function returns "" when the
	// invocation has no arguments.
	Function() string
	// Args returns the arguments after the function name. They belong to
	// the invocation: the contract must not modify them.
	Args() [][]byte

	// GetState returns the committed value of key, or nil when the key is
	// absent. A transaction never sees its own writes, as in Fabric: a
	// PutState followed by a GetState of the same key returns the value
	// committed before the transaction. The read is recorded, with the
	// version read, for validation.
	GetState(key string) ([]byte, error)
	// PutState records a write of value to key; the last write to a key
	// wins. The key must be non-empty valid UTF-8. An empty value is a
	// delete, as in Fabric.
	PutState(key string, value []byte) error
	// DelState records the deletion of key.
	DelState(key string) error
	// GetStateByRange returns the committed keys in [start, end) in byte
	// order, as Fabric's shims do: an empty end means no upper bound, an
	// empty start is replaced by "\x01" so that composite keys (which begin
	// with U+0000) are never returned, and bounds beginning with U+0000 are
	// refused. The keys returned are recorded for phantom detection.
	GetStateByRange(start, end string) (StateIterator, error)
	// GetStateByPartialCompositeKey returns the committed composite keys of
	// objectType whose attributes begin with attrs, in key order, recorded
	// as a range read.
	GetStateByPartialCompositeKey(objectType string, attrs []string) (StateIterator, error)
	// CreateCompositeKey returns the composite key of objectType and attrs:
	// U+0000, then each part followed by U+0000. No part may contain U+0000
	// or U+10FFFF.
	CreateCompositeKey(objectType string, attrs []string) (string, error)
	// SplitCompositeKey returns the object type and attributes of a
	// composite key.
	SplitCompositeKey(key string) (objectType string, attrs []string, err error)
	// GetHistoryForKey returns every committed modification of key, newest
	// first. As in Fabric, history reads are not recorded and not
	// validated: a contract must not base writes on them.
	GetHistoryForKey(key string) (HistoryIterator, error)

	// SetEvent sets the event the transaction emits; the name must not be
	// empty. A transaction emits at most one event: a later call replaces
	// an earlier one, as in Fabric. Events set by a contract invoked
	// through InvokeContract are dropped, as Fabric drops them; only the
	// event of the contract the client invoked is emitted.
	SetEvent(name string, payload []byte) error

	// Creator returns the identity that created the transaction, already
	// validated by the peer against the channel's organizations.
	Creator() *identity.Identity
	// CreatorBytes returns the creator as it signed the proposal: the bytes
	// of its msp.SerializedIdentity.
	CreatorBytes() []byte
	// MSPID returns the MSP id of the creator's organization.
	MSPID() string
	// TxID returns the transaction id.
	TxID() string
	// TxTimestamp returns the timestamp the client put in the proposal's
	// channel header: the same on every endorser, unlike the clock.
	TxTimestamp() time.Time
	// ChannelID returns the channel the transaction runs on.
	ChannelID() string

	// InvokeContract runs the contract called name in the same transaction
	// and returns its Response. The callee sees its own namespace, the same
	// transaction (creator, id, timestamp) and args (args[0] its function
	// name); its reads and writes join the transaction's read/write set, and
	// stay there even when it returns an error, as in Fabric. It must be
	// defined on the channel (else a 500 Response) and installed on this
	// peer (else the whole invocation fails, see Execute). System contracts
	// cannot be invoked this way, and at most MaxCallDepth contracts may be
	// on the call stack, the first included.
	InvokeContract(name string, args [][]byte) Response
}

// StateIterator walks keys and values returned by a range query, in key
// order. Call Next before reading the first entry; when Next returns
// false, check Err. Close it when done (the stub closes what is left open
// when the simulation ends).
type StateIterator interface {
	Next() bool
	Key() string
	Value() []byte
	Err() error
	Close() error
}

// HistoryIterator walks the modifications of a key, newest first, like
// StateIterator.
type HistoryIterator interface {
	Next() bool
	Modification() KeyModification
	Err() error
	Close() error
}

// KeyModification is one committed write or delete of a key: Fabric's
// queryresult.KeyModification.
type KeyModification struct {
	TxID string
	// Value is the value written, nil for a delete.
	Value []byte
	// Timestamp is the writing transaction's timestamp (its channel header's).
	Timestamp time.Time
	IsDelete  bool
}

// errStubDone is returned by a stub used after its invocation returned.
var errStubDone = errors.New("contract: stub used after its invocation returned")

// stub is the Stub of one contract invocation within an execution.
type stub struct {
	x        *execution
	name     string // the contract's name and namespace
	function string
	args     [][]byte
	depth    int   // 1 for the contract the client invoked
	caller   *stub // nil at depth 1
	event    *event
	done     bool
}

// CallDepth returns the number of contracts on the invocation's call
// stack, this one included: 1 for the contract the client invoked. A
// runtime uses it to tell a nested invocation, which its caller's
// instance is waiting for, from a concurrent one.
func (s *stub) CallDepth() int { return s.depth }

type event struct {
	name    string
	payload []byte
}

func newStub(x *execution, name string, args [][]byte, depth int, caller *stub) *stub {
	s := &stub{x: x, name: name, depth: depth, caller: caller}
	if len(args) > 0 {
		fn := string(args[0])
		if i := strings.LastIndexByte(fn, ':'); i >= 0 {
			fn = fn[i+1:]
		}
		s.function = fn
		s.args = args[1:]
	}
	return s
}

func (s *stub) Function() string { return s.function }
func (s *stub) Args() [][]byte   { return s.args }

func (s *stub) GetState(key string) ([]byte, error) {
	if s.done {
		return nil, errStubDone
	}
	v, err := s.x.sim.GetState(s.name, key)
	if err != nil {
		return nil, fmt.Errorf("contract: GetState(%q): %w", key, err)
	}
	return v, nil
}

func (s *stub) PutState(key string, value []byte) error {
	if s.done {
		return errStubDone
	}
	if err := s.x.sim.PutState(s.name, key, value); err != nil {
		return fmt.Errorf("contract: PutState(%q): %w", key, err)
	}
	return nil
}

func (s *stub) DelState(key string) error {
	if s.done {
		return errStubDone
	}
	if err := s.x.sim.DelState(s.name, key); err != nil {
		return fmt.Errorf("contract: DelState(%q): %w", key, err)
	}
	return nil
}

func (s *stub) GetStateByRange(start, end string) (StateIterator, error) {
	if s.done {
		return nil, errStubDone
	}
	start, end, err := compositekey.SimpleRange(start, end)
	if err != nil {
		return nil, fmt.Errorf("contract: GetStateByRange: %w", err)
	}
	it, err := s.x.sim.GetStateByRange(s.name, start, end)
	if err != nil {
		return nil, fmt.Errorf("contract: GetStateByRange(%q, %q): %w", start, end, err)
	}
	return &stateIterator{s: s, it: it}, nil
}

func (s *stub) GetStateByPartialCompositeKey(objectType string, attrs []string) (StateIterator, error) {
	if s.done {
		return nil, errStubDone
	}
	start, end, err := compositekey.PartialRange(objectType, attrs)
	if err != nil {
		return nil, fmt.Errorf("contract: GetStateByPartialCompositeKey: %w", err)
	}
	it, err := s.x.sim.GetStateByRange(s.name, start, end)
	if err != nil {
		return nil, fmt.Errorf("contract: GetStateByPartialCompositeKey(%q, %q): %w", objectType, attrs, err)
	}
	return &stateIterator{s: s, it: it}, nil
}

func (s *stub) CreateCompositeKey(objectType string, attrs []string) (string, error) {
	k, err := compositekey.Create(objectType, attrs)
	if err != nil {
		return "", fmt.Errorf("contract: CreateCompositeKey: %w", err)
	}
	return k, nil
}

func (s *stub) SplitCompositeKey(key string) (string, []string, error) {
	objectType, attrs, err := compositekey.Split(key)
	if err != nil {
		return "", nil, fmt.Errorf("contract: SplitCompositeKey: %w", err)
	}
	return objectType, attrs, nil
}

func (s *stub) GetHistoryForKey(key string) (HistoryIterator, error) {
	if s.done {
		return nil, errStubDone
	}
	h, err := s.x.sim.GetHistoryForKey(s.name, key)
	if err != nil {
		return nil, fmt.Errorf("contract: GetHistoryForKey(%q): %w", key, err)
	}
	return &historyIterator{s: s, it: h}, nil
}

func (s *stub) SetEvent(name string, payload []byte) error {
	if s.done {
		return errStubDone
	}
	if name == "" {
		return errors.New("contract: SetEvent: the event name is empty")
	}
	s.event = &event{name: name, payload: append([]byte(nil), payload...)}
	return nil
}

func (s *stub) Creator() *identity.Identity { return s.x.inv.Creator }

func (s *stub) CreatorBytes() []byte { return append([]byte(nil), s.x.creatorBytes...) }

func (s *stub) MSPID() string { return s.x.inv.Creator.MSPID() }

func (s *stub) TxID() string { return s.x.inv.TxID }

func (s *stub) TxTimestamp() time.Time { return s.x.inv.Timestamp }

func (s *stub) ChannelID() string { return s.x.inv.ChannelID }

func (s *stub) InvokeContract(name string, args [][]byte) Response {
	if s.done {
		return Errorf("%w", errStubDone)
	}
	return s.x.invokeNested(s, name, args)
}

// callChain names the contracts on the call stack ending with s, the
// first invoked first: "a → b → c".
func (s *stub) callChain() string {
	var names []string
	for c := s; c != nil; c = c.caller {
		names = append(names, c.name)
	}
	var b strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteString(names[i])
		if i > 0 {
			b.WriteString(" → ")
		}
	}
	return b.String()
}

// stateIterator wraps a simulator's range iterator; it stops working when
// its stub's invocation returns.
type stateIterator struct {
	s  *stub
	it *worldstate.QueryIterator
}

func (q *stateIterator) Next() bool    { return !q.s.done && q.it.Next() }
func (q *stateIterator) Key() string   { return q.it.Key() }
func (q *stateIterator) Value() []byte { return q.it.Value() }
func (q *stateIterator) Err() error    { return q.it.Err() }
func (q *stateIterator) Close() error  { return q.it.Close() }

// historyIterator wraps a simulator's history iterator.
type historyIterator struct {
	s  *stub
	it *worldstate.HistoryIterator
}

func (h *historyIterator) Next() bool { return !h.s.done && h.it.Next() }

func (h *historyIterator) Modification() KeyModification {
	e := h.it.Entry()
	m := KeyModification{TxID: e.TxID, Value: e.Value, IsDelete: e.IsDelete}
	if e.Timestamp != nil {
		m.Timestamp = e.Timestamp.AsTime()
	}
	return m
}

func (h *historyIterator) Err() error   { return h.it.Err() }
func (h *historyIterator) Close() error { return h.it.Close() }

// lifecycle is the channel context _lifecycle needs; user contracts have
// no way to reach it.
func (s *stub) lifecycle() *LifecycleContext { return s.x.inv.Lifecycle }
