package contract

import (
	"cmp"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Warmer is a Handler that can prepare itself before its module's initial
// state is recorded. A Router is a Warmer.
//
// The host records a module's initial state once, after _initialize and
// chorus_warmup, and restores it before every invocation (the ABI's §6).
// Whatever the Go runtime and the packages a contract uses set up lazily
// on first use — encoding/json's per-type encoders, reflect's call frames,
// the allocator's spans — would otherwise be set up again in every
// invocation, which costs more than the invocation itself. Warming up sets
// them up once, in the recorded state.
type Warmer interface {
	Warmup()
}

// Warmup runs every transaction function twice, in the router's order,
// against a scratch in-memory state that starts empty and keeps the
// writes of each call, with placeholder arguments ("warmup", 1, true, the
// JSON of a zero value: the first that converts). Results, errors and
// panics are discarded; nothing reaches the ledger, the host or the
// network. It runs before the initial state is recorded, so it is the same
// on every peer, and every invocation starts from the state it leaves:
// package-level variables a transaction function changes keep the value
// the warm-up gave them. A contract whose functions must not run outside
// a transaction registers with WithoutWarmup.
func (r *Router) Warmup() {
	if r.noWarmup {
		return
	}
	s := &scratch{state: map[string][]byte{}}
	for range 2 {
		for _, f := range r.funcs {
			args := [][]byte{[]byte(f.name)}
			for _, p := range f.params {
				args = append(args, p.placeholder())
			}
			s.run(r, args)
		}
	}
}

// WithoutWarmup makes Warmup do nothing: the module's initial state is
// the state after its package initialisation.
func WithoutWarmup() Option {
	return func(c *routerConfig) { c.noWarmup = true }
}

// placeholders are the arguments Warmup tries for a parameter, in order.
var placeholders = []string{"warmup", "1", "true", "2006-01-02T15:04:05Z", "{}", "[]", "null", `""`}

// placeholder returns the first placeholder that converts to the
// parameter's type, or "warmup".
func (p param) placeholder() []byte {
	for _, s := range placeholders {
		if err := p.set(reflect.New(p.typ).Elem(), []byte(s)); err == nil {
			return []byte(s)
		}
	}
	return []byte(placeholders[0])
}

// scratch is the in-memory world state of a warm-up: each call reads what
// the calls before it wrote.
type scratch struct {
	state map[string][]byte
}

// run invokes h with args on a stub over the scratch state, then applies
// the stub's writes.
func (s *scratch) run(h Handler, args [][]byte) {
	st := &scratchStub{s: s, args: args, writes: map[string][]byte{}}
	func() {
		defer func() { _ = recover() }()
		h.Invoke(st)
	}()
	for k, v := range st.writes {
		if v == nil {
			delete(s.state, k)
		} else {
			s.state[k] = v
		}
	}
}

var errWarmup = errors.New("contract: not available during warm-up")

// scratchStub is the Stub of one warm-up call.
type scratchStub struct {
	s      *scratch
	args   [][]byte
	writes map[string][]byte // nil value: deleted
}

var _ Stub = (*scratchStub)(nil)

func (st *scratchStub) GetArgs() [][]byte { return st.args }

func (st *scratchStub) GetStringArgs() []string {
	out := make([]string, len(st.args))
	for i, a := range st.args {
		out[i] = string(a)
	}
	return out
}

func (st *scratchStub) GetFunctionAndParameters() (string, []string) {
	a := st.GetStringArgs()
	if len(a) == 0 {
		return "", nil
	}
	return a[0], a[1:]
}

func (st *scratchStub) GetTxID() string      { return "warmup" }
func (st *scratchStub) GetChannelID() string { return "warmup" }
func (st *scratchStub) GetTxTimestamp() (time.Time, error) {
	return time.Unix(0, 0).UTC(), nil
}
func (st *scratchStub) GetCreator() ([]byte, error) { return nil, errWarmup }
func (st *scratchStub) GetMSPID() (string, error)   { return "", errWarmup }

func (st *scratchStub) GetState(key string) ([]byte, error) { return st.s.state[key], nil }

func (st *scratchStub) PutState(key string, value []byte) error {
	if key == "" {
		return errors.New("contract: empty key")
	}
	if len(value) == 0 {
		st.writes[key] = nil
	} else {
		st.writes[key] = append([]byte{}, value...)
	}
	return nil
}

func (st *scratchStub) DelState(key string) error {
	st.writes[key] = nil
	return nil
}

func (st *scratchStub) GetStateByRange(startKey, endKey string) (StateQueryIterator, error) {
	if startKey == "" {
		startKey = "\x01"
	}
	return st.iterator(func(k string) bool {
		return k >= startKey && (endKey == "" || k < endKey)
	}), nil
}

func (st *scratchStub) GetStateByPartialCompositeKey(objectType string, keys []string) (StateQueryIterator, error) {
	prefix, err := CreateCompositeKey(objectType, keys)
	if err != nil {
		return nil, err
	}
	return st.iterator(func(k string) bool { return strings.HasPrefix(k, prefix) }), nil
}

func (st *scratchStub) iterator(match func(string) bool) *scratchIterator {
	it := &scratchIterator{}
	for _, k := range slices.SortedFunc(maps.Keys(st.s.state), cmp.Compare[string]) {
		if match(k) {
			it.kvs = append(it.kvs, &KV{Key: k, Value: st.s.state[k]})
		}
	}
	return it
}

func (st *scratchStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return CreateCompositeKey(objectType, attributes)
}

func (st *scratchStub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return SplitCompositeKey(compositeKey)
}

func (st *scratchStub) GetHistoryForKey(string) (HistoryQueryIterator, error) {
	return emptyHistory{}, nil
}

func (st *scratchStub) SetEvent(name string, _ []byte) error {
	if name == "" {
		return errors.New("contract: empty event name")
	}
	return nil
}

func (st *scratchStub) InvokeContract(string, [][]byte) Response { return Error(errWarmup.Error()) }

type scratchIterator struct{ kvs []*KV }

func (it *scratchIterator) HasNext() bool { return len(it.kvs) > 0 }

func (it *scratchIterator) Next() (*KV, error) {
	if len(it.kvs) == 0 {
		return nil, errors.New("contract: no more entries")
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}

func (it *scratchIterator) Close() error { return nil }

type emptyHistory struct{}

func (emptyHistory) HasNext() bool { return false }
func (emptyHistory) Next() (*KeyModification, error) {
	return nil, errors.New("contract: no more entries")
}
func (emptyHistory) Close() error { return nil }
