package contract

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/chorusledger/chorus/sdk/contract/abi"
)

// host is the host functions of the ABI (§4) with slices and strings in
// place of (pointer, length) pairs. The wasip1 build implements it with the
// imports of module "chorus" (wasm.go); tests implement it in Go, so that
// everything above it, the pending-result protocol, the error convention,
// the decodings and the iterators, runs and is tested on any platform.
type host interface {
	take(dst []byte) int64
	args() int64
	txID() int64
	txTimestamp() int64
	channelID() int64
	creator() int64
	creatorMSPID() int64
	getState(key string) int64
	putState(key string, value []byte) int64
	delState(key string) int64
	rangeOpen(start, end string, flags int32) int64
	rangeNext(id int32) int64
	historyOpen(key string) int64
	historyNext(id int32) int64
	iteratorClose(id int32) int64
	setEvent(name string, payload []byte) int64
	invokeContract(name string, args []byte) int64
	setResponse(status int32, msg string, payload []byte) int64
}

// hostCall names a host call in error messages. It is formatted only when
// a message needs it: formatting the name of every GetState and PutState
// with fmt cost a Go contract compiled to WebAssembly more than the host
// calls themselves.
type hostCall struct {
	fn, key string // fn(key), the key quoted
	text    string // the whole name, when it is not of that form
	step    string // a step of the call, after a colon
}

func call(fn, key string) hostCall { return hostCall{fn: fn, key: key} }
func named(text string) hostCall   { return hostCall{text: text} }

// then names a step of the call: "GetStateByRange(...): iterator_close".
func (c hostCall) then(step string) hostCall { c.step = step; return c }

func (c hostCall) String() string {
	s := c.text
	if s == "" {
		s = c.fn + "(" + strconv.Quote(c.key) + ")"
	}
	if c.step != "" {
		s += ": " + c.step
	}
	return s
}

// errAbsent is returned by result for a return value of -1.
var errAbsent = errors.New("absent")

// result interprets r, the return value of a host call described by op:
// it takes the bytes left pending and returns them (empty, not nil, when
// none), returns errAbsent for -1, or returns the host's failure, whose
// message it takes, as an error.
func result(h host, op hostCall, r int64) ([]byte, error) {
	switch abi.Classify(r) {
	case abi.Success:
		return take(h, op, r)
	case abi.NotFound:
		return nil, errAbsent
	default:
		msg, err := take(h, op, abi.FailureLen(r))
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("contract: %s: %s", op, msg)
	}
}

// take copies the n pending bytes of the host call op into a new slice.
func take(h host, op hostCall, n int64) ([]byte, error) {
	if !abi.CheckLen(n) {
		return nil, fmt.Errorf("contract: %s: the host announced %d bytes", op, n)
	}
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if r := h.take(b); r != 0 {
		return nil, fmt.Errorf("contract: %s: taking %d pending bytes: the host returned %d", op, n, r)
	}
	return b, nil
}

// serve runs one invocation (§3): it reads the arguments, runs handler over
// a hostStub and sets the response. It returns what chorus_invoke returns:
// 0, or 1 when the host refused the response.
func serve(h host, handler Handler) int32 {
	resp := func() (resp Response) {
		defer func() {
			if v := recover(); v != nil {
				resp = Error(fmt.Sprintf("contract panicked: %v", v))
			}
		}()
		b, err := result(h, named("args"), h.args())
		if err != nil && err != errAbsent {
			return Error(err.Error())
		}
		var args [][]byte
		if err == nil {
			if args, err = abi.DecodeList(b); err != nil {
				return Error("contract: args: " + err.Error())
			}
		}
		if handler == nil {
			return Error("contract: this module registered no contract: call contract.Register from an init function of package main")
		}
		return handler.Invoke(&hostStub{h: h, args: args})
	}()
	if r := h.setResponse(resp.Status, resp.Message, resp.Payload); r != 0 {
		return 1
	}
	return 0
}

// hostStub is the Stub of one invocation over the ABI.
type hostStub struct {
	h    host
	args [][]byte

	// Answers that cannot change during an invocation, read once.
	txID, channelID string
	creator         []byte
	mspID           string
}

func (s *hostStub) GetArgs() [][]byte { return s.args }

func (s *hostStub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

func (s *hostStub) GetFunctionAndParameters() (string, []string) {
	if len(s.args) == 0 {
		return "", nil
	}
	all := s.GetStringArgs()
	return all[0], all[1:]
}

// mustString reads a string the host always has; its absence is a broken
// host, which the router turns into a 500 Response.
func (s *hostStub) mustString(op hostCall, r int64) string {
	b, err := result(s.h, op, r)
	if err == errAbsent {
		err = fmt.Errorf("contract: %s: the host has none", op)
	}
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (s *hostStub) GetTxID() string {
	if s.txID == "" {
		s.txID = s.mustString(named("tx_id"), s.h.txID())
	}
	return s.txID
}

func (s *hostStub) GetChannelID() string {
	if s.channelID == "" {
		s.channelID = s.mustString(named("channel_id"), s.h.channelID())
	}
	return s.channelID
}

func (s *hostStub) GetTxTimestamp() (time.Time, error) {
	r := s.h.txTimestamp()
	if r >= 0 {
		return time.Unix(0, r).UTC(), nil
	}
	_, err := result(s.h, named("tx_timestamp"), r)
	if err == errAbsent {
		err = errors.New("contract: tx_timestamp: the host has none")
	}
	return time.Time{}, err
}

func (s *hostStub) GetCreator() ([]byte, error) {
	if s.creator == nil {
		b, err := result(s.h, named("creator"), s.h.creator())
		if err == errAbsent {
			return nil, errors.New("contract: creator: the host has none")
		}
		if err != nil {
			return nil, err
		}
		s.creator = b
	}
	return append([]byte(nil), s.creator...), nil
}

func (s *hostStub) GetMSPID() (string, error) {
	if s.mspID == "" {
		b, err := result(s.h, named("creator_msp_id"), s.h.creatorMSPID())
		if err == errAbsent {
			return "", errors.New("contract: creator_msp_id: the host has none")
		}
		if err != nil {
			return "", err
		}
		s.mspID = string(b)
	}
	return s.mspID, nil
}

func (s *hostStub) GetState(key string) ([]byte, error) {
	b, err := result(s.h, call("GetState", key), s.h.getState(key))
	if err == errAbsent {
		return nil, nil
	}
	return b, err
}

// status interprets the return value of a host call that returns 0.
func (s *hostStub) status(op hostCall, r int64) error {
	_, err := result(s.h, op, r)
	if err == errAbsent {
		return fmt.Errorf("contract: %s: unexpected return value -1", op)
	}
	return err
}

func (s *hostStub) PutState(key string, value []byte) error {
	return s.status(call("PutState", key), s.h.putState(key, value))
}

func (s *hostStub) DelState(key string) error {
	return s.status(call("DelState", key), s.h.delState(key))
}

// iteratorID interprets the return value of range_open or history_open.
func (s *hostStub) iteratorID(op hostCall, r int64) (int32, error) {
	if r >= 0 {
		if r > math.MaxInt32 {
			return 0, fmt.Errorf("contract: %s: iterator id %d out of range", op, r)
		}
		return int32(r), nil
	}
	_, err := result(s.h, op, r)
	if err == errAbsent {
		err = fmt.Errorf("contract: %s: unexpected return value -1", op)
	}
	return 0, err
}

func (s *hostStub) GetStateByRange(startKey, endKey string) (StateQueryIterator, error) {
	start, end, err := SimpleKeyRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return s.openRange(named(fmt.Sprintf("GetStateByRange(%q, %q)", startKey, endKey)), start, end, 0)
}

func (s *hostStub) GetStateByPartialCompositeKey(objectType string, keys []string) (StateQueryIterator, error) {
	start, end, err := PartialCompositeKeyRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	return s.openRange(named(fmt.Sprintf("GetStateByPartialCompositeKey(%q, %q)", objectType, keys)), start, end, abi.FlagCompositeBounds)
}

func (s *hostStub) openRange(op hostCall, start, end string, flags int32) (StateQueryIterator, error) {
	id, err := s.iteratorID(op, s.h.rangeOpen(start, end, flags))
	if err != nil {
		return nil, err
	}
	return &batchIterator[KV]{
		s: s, op: op, id: id,
		next: func() ([]KV, error) {
			b, err := result(s.h, op, s.h.rangeNext(id))
			if err != nil {
				return nil, err
			}
			kvs, err := abi.DecodeKVBatch(b)
			if err != nil {
				return nil, fmt.Errorf("contract: %s: %w", op, err)
			}
			out := make([]KV, len(kvs))
			for i, kv := range kvs {
				out[i] = KV{Key: kv.Key, Value: kv.Value}
			}
			return out, nil
		},
	}, nil
}

func (s *hostStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return CreateCompositeKey(objectType, attributes)
}

func (s *hostStub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return SplitCompositeKey(compositeKey)
}

func (s *hostStub) GetHistoryForKey(key string) (HistoryQueryIterator, error) {
	op := call("GetHistoryForKey", key)
	id, err := s.iteratorID(op, s.h.historyOpen(key))
	if err != nil {
		return nil, err
	}
	return &batchIterator[KeyModification]{
		s: s, op: op, id: id,
		next: func() ([]KeyModification, error) {
			b, err := result(s.h, op, s.h.historyNext(id))
			if err != nil {
				return nil, err
			}
			mods, err := abi.DecodeHistoryBatch(b)
			if err != nil {
				return nil, fmt.Errorf("contract: %s: %w", op, err)
			}
			out := make([]KeyModification, len(mods))
			for i, m := range mods {
				out[i] = KeyModification{TxID: m.TxID, Value: m.Value, Timestamp: m.Timestamp, IsDelete: m.IsDelete}
			}
			return out, nil
		},
	}, nil
}

func (s *hostStub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("contract: SetEvent: the event name is empty")
	}
	return s.status(call("SetEvent", name), s.h.setEvent(name, payload))
}

func (s *hostStub) InvokeContract(name string, args [][]byte) Response {
	op := call("InvokeContract", name)
	b, err := result(s.h, op, s.h.invokeContract(name, abi.AppendList(nil, args)))
	if err == errAbsent {
		err = fmt.Errorf("contract: %s: unexpected return value -1", op)
	}
	if err != nil {
		return Error(err.Error())
	}
	r, err := abi.DecodeResponse(b)
	if err != nil {
		return Error(fmt.Sprintf("contract: %s: %v", op, err))
	}
	return Response{Status: r.Status, Message: r.Message, Payload: r.Payload}
}

// batchIterator is an iterator over a host iterator that returns entries
// in batches; it implements StateQueryIterator and HistoryQueryIterator.
type batchIterator[T any] struct {
	s    *hostStub
	op   hostCall
	id   int32
	next func() ([]T, error) // the next batch, or errAbsent when done

	buf    []T
	err    error // returned by the next Next
	done   bool  // the host has no more entries, or failed
	closed bool
}

func (it *batchIterator[T]) HasNext() bool {
	for len(it.buf) == 0 && it.err == nil && !it.done && !it.closed {
		batch, err := it.next()
		switch {
		case err == errAbsent:
			it.done = true
		case err != nil:
			it.err, it.done = err, true
		case len(batch) == 0:
			// A host returns -1 rather than an empty batch; stop
			// rather than ask forever.
			it.done = true
		default:
			it.buf = batch
		}
	}
	return len(it.buf) > 0 || it.err != nil
}

func (it *batchIterator[T]) Next() (*T, error) {
	if it.closed {
		return nil, fmt.Errorf("contract: %s: the iterator is closed", it.op)
	}
	if !it.HasNext() {
		return nil, fmt.Errorf("contract: %s: no more entries", it.op)
	}
	if it.err != nil {
		err := it.err
		it.err = nil
		return nil, err
	}
	e := &it.buf[0]
	it.buf = it.buf[1:]
	return e, nil
}

func (it *batchIterator[T]) Close() error {
	if it.closed {
		return nil
	}
	it.closed, it.buf = true, nil
	return it.s.status(it.op.then("iterator_close"), it.s.h.iteratorClose(it.id))
}
