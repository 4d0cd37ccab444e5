package contract

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/sdk/contract/abi"
)

// fakeHost implements the host functions of the ABI in Go, as §2 and §4
// specify them, over a committed state in memory. Failures can be injected
// per host function, and every call is counted.
type fakeHost struct {
	pending    []byte
	hasPending bool

	argv      [][]byte
	argsRaw   []byte // when set, args() returns these bytes instead
	state     map[string][]byte
	history   map[string][]abi.Modification // newest first
	batch     int                           // entries per batch; abi.BatchSize when 0
	iters     map[int32]*fakeIter
	nextIter  int32
	contracts map[string]func(args [][]byte) abi.Response

	writes   map[string][]byte // nil value: deleted
	event    *abi.Response     // Message: name, Payload: payload
	response *abi.Response

	fail  map[string]string // host function → failure message
	calls map[string]int
	// takeResult, when non-zero, is what take returns.
	takeResult int64
	// announce, when non-zero, is the length returned instead of the
	// pending result's.
	announce int64
}

type fakeIter struct {
	kvs    []abi.KV
	mods   []abi.Modification
	closed bool
}

func newFakeHost(args ...string) *fakeHost {
	h := &fakeHost{
		state:     make(map[string][]byte),
		history:   make(map[string][]abi.Modification),
		iters:     make(map[int32]*fakeIter),
		contracts: make(map[string]func([][]byte) abi.Response),
		writes:    make(map[string][]byte),
		fail:      make(map[string]string),
		calls:     make(map[string]int),
	}
	for _, a := range args {
		h.argv = append(h.argv, []byte(a))
	}
	return h
}

// call counts a call of fn and reports the failure injected for it.
func (h *fakeHost) call(fn string) (int64, bool) {
	h.calls[fn]++
	if msg, ok := h.fail[fn]; ok {
		return h.pend([]byte(msg), true), true
	}
	return 0, false
}

func (h *fakeHost) pend(b []byte, failure bool) int64 {
	h.pending, h.hasPending = b, true
	if failure {
		return abi.FailureResult(len(b))
	}
	if h.announce != 0 {
		return h.announce
	}
	return int64(len(b))
}

func (h *fakeHost) take(dst []byte) int64 {
	h.calls["take"]++
	if h.takeResult != 0 {
		return h.takeResult
	}
	if !h.hasPending || len(dst) != len(h.pending) {
		panic(fmt.Sprintf("take(%d) with %d pending (%v)", len(dst), len(h.pending), h.hasPending))
	}
	copy(dst, h.pending)
	h.pending, h.hasPending = nil, false
	return 0
}

func (h *fakeHost) args() int64 {
	if r, failed := h.call("args"); failed {
		return r
	}
	if h.argsRaw != nil {
		return h.pend(h.argsRaw, false)
	}
	return h.pend(abi.AppendList(nil, h.argv), false)
}

func (h *fakeHost) str(fn, s string) int64 {
	if r, failed := h.call(fn); failed {
		return r
	}
	return h.pend([]byte(s), false)
}

func (h *fakeHost) txID() int64         { return h.str("tx_id", "0a1b2c") }
func (h *fakeHost) channelID() int64    { return h.str("channel_id", "mychannel") }
func (h *fakeHost) creator() int64      { return h.str("creator", "\x0a\x07Org1MSP\x12\x03pem") }
func (h *fakeHost) creatorMSPID() int64 { return h.str("creator_msp_id", "Org1MSP") }

func (h *fakeHost) txTimestamp() int64 {
	if r, failed := h.call("tx_timestamp"); failed {
		return r
	}
	return time.Date(2025, 1, 1, 0, 0, 1, 5, time.UTC).UnixNano()
}

func (h *fakeHost) getState(key string) int64 {
	if r, failed := h.call("get_state"); failed {
		return r
	}
	v, ok := h.state[key]
	if !ok {
		return abi.Absent
	}
	return h.pend(v, false)
}

func (h *fakeHost) putState(key string, value []byte) int64 {
	if r, failed := h.call("put_state"); failed {
		return r
	}
	if len(value) == 0 {
		value = nil
	}
	h.writes[key] = slices.Clone(value)
	return 0
}

func (h *fakeHost) delState(key string) int64 {
	if r, failed := h.call("del_state"); failed {
		return r
	}
	h.writes[key] = nil
	return 0
}

func (h *fakeHost) rangeOpen(start, end string, flags int32) int64 {
	if r, failed := h.call("range_open"); failed {
		return r
	}
	if flags&abi.FlagCompositeBounds == 0 && (strings.HasPrefix(start, "\x00") || strings.HasPrefix(end, "\x00")) {
		return h.pend([]byte("bounds begin with U+0000"), true)
	}
	it := &fakeIter{}
	for _, k := range sortedKeys(h.state) {
		if k >= start && (end == "" || k < end) {
			it.kvs = append(it.kvs, abi.KV{Key: k, Value: h.state[k]})
		}
	}
	id := h.nextIter
	h.nextIter++
	h.iters[id] = it
	return int64(id)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (h *fakeHost) batchSize() int {
	if h.batch == 0 {
		return abi.BatchSize
	}
	return h.batch
}

func (h *fakeHost) rangeNext(id int32) int64 {
	if r, failed := h.call("range_next"); failed {
		return r
	}
	it := h.iters[id]
	if it == nil || it.closed {
		return h.pend([]byte("no such iterator"), true)
	}
	if len(it.kvs) == 0 {
		return abi.Absent
	}
	n := min(len(it.kvs), h.batchSize())
	b := abi.AppendKVBatch(nil, it.kvs[:n])
	it.kvs = it.kvs[n:]
	return h.pend(b, false)
}

func (h *fakeHost) historyOpen(key string) int64 {
	if r, failed := h.call("history_open"); failed {
		return r
	}
	id := h.nextIter
	h.nextIter++
	h.iters[id] = &fakeIter{mods: h.history[key]}
	return int64(id)
}

func (h *fakeHost) historyNext(id int32) int64 {
	if r, failed := h.call("history_next"); failed {
		return r
	}
	it := h.iters[id]
	if it == nil || it.closed {
		return h.pend([]byte("no such iterator"), true)
	}
	if len(it.mods) == 0 {
		return abi.Absent
	}
	n := min(len(it.mods), h.batchSize())
	b := abi.AppendHistoryBatch(nil, it.mods[:n])
	it.mods = it.mods[n:]
	return h.pend(b, false)
}

func (h *fakeHost) iteratorClose(id int32) int64 {
	if r, failed := h.call("iterator_close"); failed {
		return r
	}
	it := h.iters[id]
	if it == nil || it.closed {
		return h.pend([]byte("no such iterator"), true)
	}
	it.closed = true
	return 0
}

func (h *fakeHost) setEvent(name string, payload []byte) int64 {
	if r, failed := h.call("set_event"); failed {
		return r
	}
	h.event = &abi.Response{Message: name, Payload: slices.Clone(payload)}
	return 0
}

func (h *fakeHost) invokeContract(name string, args []byte) int64 {
	if r, failed := h.call("invoke_contract"); failed {
		return r
	}
	list, err := abi.DecodeList(args)
	if err != nil {
		return h.pend([]byte(err.Error()), true)
	}
	c := h.contracts[name]
	if c == nil {
		return h.pend([]byte(fmt.Sprintf("contract %q is not defined", name)), true)
	}
	return h.pend(abi.AppendResponse(nil, c(list)), false)
}

func (h *fakeHost) setResponse(status int32, msg string, payload []byte) int64 {
	if r, failed := h.call("set_response"); failed {
		return r
	}
	if h.response != nil {
		panic("set_response called twice")
	}
	h.response = &abi.Response{Status: status, Message: msg, Payload: slices.Clone(payload)}
	return 0
}

func stubOver(h *fakeHost) *hostStub {
	return &hostStub{h: h, args: h.argv}
}

func TestHostStubState(t *testing.T) {
	h := newFakeHost()
	h.state["a"] = []byte("1")
	h.state["empty"] = []byte{}
	s := stubOver(h)

	if v, err := s.GetState("a"); err != nil || string(v) != "1" {
		t.Errorf("GetState(a) = %q, %v", v, err)
	}
	if v, err := s.GetState("missing"); err != nil || v != nil {
		t.Errorf("GetState(missing) = %q, %v; want nil, nil", v, err)
	}
	if v, err := s.GetState("empty"); err != nil || v == nil || len(v) != 0 {
		t.Errorf("GetState(empty) = %#v, %v; want empty, non-nil", v, err)
	}
	if h.calls["take"] != 1 {
		t.Errorf("take called %d times, want 1 (none for absent and empty results)", h.calls["take"])
	}
	if err := s.PutState("b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := s.DelState("a"); err != nil {
		t.Fatal(err)
	}
	if want := map[string][]byte{"a": nil, "b": []byte("2")}; !reflect.DeepEqual(h.writes, want) {
		t.Errorf("writes %q, want %q", h.writes, want)
	}
	// A transaction does not see its own writes: the stub asks the host.
	if v, _ := s.GetState("a"); string(v) != "1" {
		t.Errorf("GetState(a) after DelState = %q; the host answers committed state", v)
	}
	if err := s.SetEvent("E", []byte("p")); err != nil || h.event.Message != "E" || string(h.event.Payload) != "p" {
		t.Errorf("SetEvent: %v, %+v", err, h.event)
	}
	if err := s.SetEvent("", nil); err == nil {
		t.Error("SetEvent with an empty name succeeded")
	}
}

func TestHostStubFailures(t *testing.T) {
	h := newFakeHost()
	s := stubOver(h)
	for fn, call := range map[string]func() error{
		"get_state":  func() error { _, err := s.GetState("k"); return err },
		"put_state":  func() error { return s.PutState("k", []byte("v")) },
		"del_state":  func() error { return s.DelState("k") },
		"set_event":  func() error { return s.SetEvent("e", nil) },
		"range_open": func() error { _, err := s.GetStateByRange("a", "b"); return err },
		"history_open": func() error {
			_, err := s.GetHistoryForKey("k")
			return err
		},
		"creator":        func() error { _, err := s.GetCreator(); return err },
		"creator_msp_id": func() error { _, err := s.GetMSPID(); return err },
		"tx_timestamp":   func() error { _, err := s.GetTxTimestamp(); return err },
	} {
		h.fail[fn] = "the host says no to " + fn
		err := call()
		delete(h.fail, fn)
		if err == nil || !strings.HasSuffix(err.Error(), ": the host says no to "+fn) {
			t.Errorf("%s: error %v", fn, err)
		}
		if h.hasPending {
			t.Errorf("%s: the failure's message was not taken", fn)
		}
	}
	if _, err := s.GetState("k"); err != nil {
		t.Errorf("GetState after the failures: %v", err)
	}

	h.fail["get_state"] = "key too long"
	_, err := s.GetState("k")
	if want := `contract: GetState("k"): key too long`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	delete(h.fail, "get_state")

	// tx_id and channel_id have no error to return: a failure panics,
	// which the router turns into a 500 Response.
	h.fail["tx_id"] = "broken"
	func() {
		defer func() {
			if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "tx_id: broken") {
				t.Errorf("GetTxID panicked with %v", v)
			}
		}()
		s.GetTxID()
	}()
}

func TestHostStubProtocolErrors(t *testing.T) {
	h := newFakeHost()
	h.state["k"] = []byte("value")
	s := stubOver(h)

	h.takeResult = abi.FailureResult(0)
	if _, err := s.GetState("k"); err == nil || !strings.Contains(err.Error(), "taking 5 pending bytes") {
		t.Errorf("a failed take: %v", err)
	}
	h.takeResult = 0
	h.hasPending = false

	h.announce = math.MaxInt32 + 1
	if _, err := s.GetState("k"); err == nil || !strings.Contains(err.Error(), "announced") {
		t.Errorf("an impossible length: %v", err)
	}
	h.announce = 0

	// A failure of any length is classified, none panics.
	for _, r := range []int64{math.MinInt64, -math.MaxInt32 - 3} {
		if _, err := result(h, named("op"), r); err == nil {
			t.Errorf("result(%d) succeeded", r)
		}
	}
}

func TestHostStubTransaction(t *testing.T) {
	h := newFakeHost("Fn", "a", "b")
	s := stubOver(h)
	for range 3 {
		if got := s.GetTxID(); got != "0a1b2c" {
			t.Errorf("GetTxID = %q", got)
		}
		if got := s.GetChannelID(); got != "mychannel" {
			t.Errorf("GetChannelID = %q", got)
		}
		if got, err := s.GetMSPID(); got != "Org1MSP" || err != nil {
			t.Errorf("GetMSPID = %q, %v", got, err)
		}
		c, err := s.GetCreator()
		if string(c) != "\x0a\x07Org1MSP\x12\x03pem" || err != nil {
			t.Errorf("GetCreator = %q, %v", c, err)
		}
		c[0] = 'X' // the caller's copy
	}
	for _, fn := range []string{"tx_id", "channel_id", "creator", "creator_msp_id"} {
		if h.calls[fn] != 1 {
			t.Errorf("%s called %d times, want once per invocation", fn, h.calls[fn])
		}
	}
	ts, err := s.GetTxTimestamp()
	if want := time.Date(2025, 1, 1, 0, 0, 1, 5, time.UTC); err != nil || !ts.Equal(want) || ts.Location() != time.UTC {
		t.Errorf("GetTxTimestamp = %v, %v; want %v", ts, err, want)
	}
	fn, params := s.GetFunctionAndParameters()
	if fn != "Fn" || !slices.Equal(params, []string{"a", "b"}) {
		t.Errorf("GetFunctionAndParameters = %q, %q", fn, params)
	}
	if got := s.GetStringArgs(); !slices.Equal(got, []string{"Fn", "a", "b"}) {
		t.Errorf("GetStringArgs = %q", got)
	}
	if fn, params := stubOver(newFakeHost()).GetFunctionAndParameters(); fn != "" || params != nil {
		t.Errorf("no arguments: %q, %q", fn, params)
	}
}

func drain(t *testing.T, it StateQueryIterator) []string {
	t.Helper()
	var keys []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if string(kv.Value) != "v:"+kv.Key {
			t.Errorf("key %q has value %q", kv.Key, kv.Value)
		}
		keys = append(keys, kv.Key)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestHostStubRange(t *testing.T) {
	for _, batch := range []int{0, 1, 7, 100} {
		t.Run(fmt.Sprint("batch ", batch), func(t *testing.T) {
			h := newFakeHost()
			h.batch = batch
			var want []string
			for i := range 250 {
				k := fmt.Sprintf("k%03d", i)
				h.state[k] = []byte("v:" + k)
				want = append(want, k)
			}
			for _, ck := range []string{"\x00owner\x00alice\x00a1\x00", "\x00owner\x00alice\x00a2\x00", "\x00owner\x00bob\x00b1\x00", "\x00other\x00x\x00"} {
				h.state[ck] = []byte("v:" + ck)
			}
			s := stubOver(h)

			it, err := s.GetStateByRange("", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := drain(t, it); !slices.Equal(got, want) {
				t.Errorf("GetStateByRange(\"\", \"\") = %d keys %q...", len(got), got[:min(len(got), 3)])
			}
			it, _ = s.GetStateByRange("k010", "k013")
			if got := drain(t, it); !slices.Equal(got, []string{"k010", "k011", "k012"}) {
				t.Errorf("GetStateByRange(k010, k013) = %q", got)
			}
			it, _ = s.GetStateByPartialCompositeKey("owner", []string{"alice"})
			if got := drain(t, it); !slices.Equal(got, []string{"\x00owner\x00alice\x00a1\x00", "\x00owner\x00alice\x00a2\x00"}) {
				t.Errorf("GetStateByPartialCompositeKey(owner, alice) = %q", got)
			}
			it, _ = s.GetStateByPartialCompositeKey("owner", nil)
			if got := drain(t, it); len(got) != 3 {
				t.Errorf("GetStateByPartialCompositeKey(owner) = %q", got)
			}
			for id, it := range h.iters {
				if !it.closed {
					t.Errorf("iterator %d left open", id)
				}
			}
		})
	}
}

func TestHostStubRangeErrors(t *testing.T) {
	h := newFakeHost()
	s := stubOver(h)
	for _, bounds := range [][2]string{{"\x00a", ""}, {"a", "\x00b"}} {
		if _, err := s.GetStateByRange(bounds[0], bounds[1]); err == nil || !strings.Contains(err.Error(), "U+0000") {
			t.Errorf("GetStateByRange(%q, %q): %v", bounds[0], bounds[1], err)
		}
	}
	if h.calls["range_open"] != 0 {
		t.Error("bounds with U+0000 reached the host")
	}
	if _, err := s.GetStateByPartialCompositeKey("a\x00b", nil); err == nil {
		t.Error("an object type with U+0000 was accepted")
	}

	// A failure in the middle of an iteration is returned by Next, once.
	for i := range 5 {
		h.state[fmt.Sprint(i)] = []byte("v")
	}
	h.batch = 2
	it, err := s.GetStateByRange("", "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			if !strings.HasSuffix(err.Error(), ": gone") {
				t.Errorf("Next: %v", err)
			}
			continue
		}
		keys = append(keys, kv.Key)
		if len(keys) == 2 {
			h.fail["range_next"] = "gone"
		}
	}
	if !slices.Equal(keys, []string{"0", "1"}) {
		t.Errorf("keys %q", keys)
	}
	if _, err := it.Next(); err == nil {
		t.Error("Next after the end succeeded")
	}
	if err := it.Close(); err != nil {
		t.Error(err)
	}
	if err := it.Close(); err != nil || h.calls["iterator_close"] != 1 {
		t.Errorf("second Close: %v, %d calls", err, h.calls["iterator_close"])
	}
	if it.HasNext() {
		t.Error("HasNext after Close")
	}
	if _, err := it.Next(); err == nil {
		t.Error("Next after Close succeeded")
	}
}

func TestHostStubHistory(t *testing.T) {
	h := newFakeHost()
	h.batch = 2
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h.history["k"] = []abi.Modification{
		{TxID: "t3", Timestamp: t0.Add(3 * time.Second), Value: []byte("v3")},
		{TxID: "t2", Timestamp: t0.Add(2 * time.Second), IsDelete: true},
		{TxID: "t1", Timestamp: t0.Add(time.Second + 7), Value: []byte("v1")},
	}
	s := stubOver(h)
	it, err := s.GetHistoryForKey("k")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []KeyModification
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *m)
	}
	want := []KeyModification{
		{TxID: "t3", Value: []byte("v3"), Timestamp: t0.Add(3 * time.Second)},
		{TxID: "t2", Timestamp: t0.Add(2 * time.Second), IsDelete: true},
		{TxID: "t1", Value: []byte("v1"), Timestamp: t0.Add(time.Second + 7)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history %+v\nwant %+v", got, want)
	}
}

func TestHostStubInvokeContract(t *testing.T) {
	h := newFakeHost()
	h.contracts["other"] = func(args [][]byte) abi.Response {
		return abi.Response{Status: 200, Payload: []byte(fmt.Sprintf("%q", args))}
	}
	s := stubOver(h)
	r := s.InvokeContract("other", [][]byte{[]byte("Fn"), []byte("x"), {}})
	if r.Status != 200 || string(r.Payload) != `["Fn" "x" ""]` {
		t.Errorf("InvokeContract = %+v", r)
	}
	r = s.InvokeContract("missing", nil)
	if r.Status != StatusError || r.Message != `contract: InvokeContract("missing"): contract "missing" is not defined` {
		t.Errorf("InvokeContract(missing) = %+v", r)
	}
}

type echo struct{}

func (echo) Echo(ctx Context, s string) string { return s }
func (echo) Boom(ctx Context)                  { panic(errors.New("boom")) }

func TestServe(t *testing.T) {
	router, err := NewRouter(echo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		host    *fakeHost
		handler Handler
		rc      int32
		want    abi.Response
	}{
		{"success", newFakeHost("Echo", "hi"), router, 0, abi.Response{Status: 200, Payload: []byte("hi")}},
		{"contract error", newFakeHost("Nope"), router, 0, abi.Response{Status: 500, Message: `unknown function "Nope"; the contract has Boom and Echo`}},
		{"panic in a method", newFakeHost("Boom"), router, 0, abi.Response{Status: 500, Message: "Boom panicked: boom"}},
		{"panic in a handler", newFakeHost("x"), HandlerFunc(func(Stub) Response { panic("raw") }), 0, abi.Response{Status: 500, Message: "contract panicked: raw"}},
		{"no contract", newFakeHost("Echo"), nil, 0, abi.Response{Status: 500, Message: "contract: this module registered no contract: call contract.Register from an init function of package main"}},
	} {
		rc := serve(tc.host, tc.handler)
		if rc != tc.rc || tc.host.response == nil || !reflect.DeepEqual(*tc.host.response, tc.want) {
			t.Errorf("%s: rc %d, response %+v; want %d, %+v", tc.name, rc, tc.host.response, tc.rc, tc.want)
		}
	}

	h := newFakeHost()
	h.argsRaw = []byte{1, 2}
	serve(h, router)
	if h.response.Status != 500 || !strings.HasPrefix(h.response.Message, "contract: args: abi: malformed encoding") {
		t.Errorf("malformed args: %+v", h.response)
	}

	h = newFakeHost()
	h.fail["args"] = "no args today"
	serve(h, router)
	if h.response.Status != 500 || h.response.Message != "contract: args: no args today" {
		t.Errorf("failing args: %+v", h.response)
	}

	h = newFakeHost("Echo", "x")
	h.fail["set_response"] = "too big"
	if rc := serve(h, router); rc != 1 {
		t.Errorf("a refused response: rc %d, want 1", rc)
	}
}

// TestHostCallNames checks that host calls are named in messages as they
// were when formatted eagerly with fmt's %q.
func TestHostCallNames(t *testing.T) {
	for _, tc := range []struct {
		c    hostCall
		want string
	}{
		{call("GetState", `a"b`), fmt.Sprintf("GetState(%q)", `a"b`)},
		{call("PutState", "\x00asset\x00k\x00"), fmt.Sprintf("PutState(%q)", "\x00asset\x00k\x00")},
		{call("SetEvent", "é\n"), fmt.Sprintf("SetEvent(%q)", "é\n")},
		{named("tx_id"), "tx_id"},
		{named(`GetStateByRange("a", "b")`).then("iterator_close"), `GetStateByRange("a", "b"): iterator_close`},
		{call("GetHistoryForKey", "k").then("iterator_close"), `GetHistoryForKey("k"): iterator_close`},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%#v names itself %q, want %q", tc.c, got, tc.want)
		}
	}
	h := newFakeHost("Fn")
	h.fail["get_state"] = "boom"
	_, err := stubOver(h).GetState("k\"1")
	if err == nil || err.Error() != `contract: GetState("k\"1"): boom` {
		t.Errorf("a failed GetState: %v", err)
	}
}
