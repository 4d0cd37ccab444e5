package wasm

import (
	"errors"
	"slices"
	"time"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/identity"
)

// fakeStub is a Stub over a map, for unit tests and benchmarks that need
// no world state: reads see the map, writes go to it.
type fakeStub struct {
	fn     string
	args   [][]byte
	state  map[string][]byte
	event  string
	invoke func(name string, args [][]byte) contract.Response
}

func newFakeStub(fn string, args ...string) *fakeStub {
	s := &fakeStub{fn: fn, state: make(map[string][]byte)}
	for _, a := range args {
		s.args = append(s.args, []byte(a))
	}
	return s
}

func (s *fakeStub) Function() string { return s.fn }
func (s *fakeStub) Args() [][]byte   { return s.args }
func (s *fakeStub) GetState(key string) ([]byte, error) {
	return s.state[key], nil
}
func (s *fakeStub) PutState(key string, value []byte) error {
	if key == "" {
		return errors.New("empty key")
	}
	if len(value) == 0 {
		delete(s.state, key)
		return nil
	}
	s.state[key] = value
	return nil
}
func (s *fakeStub) DelState(key string) error { delete(s.state, key); return nil }
func (s *fakeStub) GetStateByRange(start, end string) (contract.StateIterator, error) {
	var keys []string
	for k := range s.state {
		if k >= start && (end == "" || k < end) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return &fakeIterator{s: s, keys: keys, i: -1}, nil
}
func (s *fakeStub) GetStateByPartialCompositeKey(objectType string, attrs []string) (contract.StateIterator, error) {
	start := "\x00" + objectType + "\x00"
	for _, a := range attrs {
		start += a + "\x00"
	}
	return s.GetStateByRange(start, start+"\U0010FFFF")
}
func (s *fakeStub) CreateCompositeKey(string, []string) (string, error) {
	return "", errors.New("not supported")
}
func (s *fakeStub) SplitCompositeKey(string) (string, []string, error) {
	return "", nil, errors.New("not supported")
}
func (s *fakeStub) GetHistoryForKey(string) (contract.HistoryIterator, error) {
	return nil, errors.New("no history")
}
func (s *fakeStub) SetEvent(name string, payload []byte) error {
	s.event = name + "=" + string(payload)
	return nil
}
func (s *fakeStub) Creator() *identity.Identity { return nil }
func (s *fakeStub) CreatorBytes() []byte        { return []byte("creator") }
func (s *fakeStub) MSPID() string               { return "Org1MSP" }
func (s *fakeStub) TxID() string                { return "tx1" }
func (s *fakeStub) TxTimestamp() time.Time      { return time.Unix(1735689600, 5).UTC() }
func (s *fakeStub) ChannelID() string           { return "mychannel" }
func (s *fakeStub) InvokeContract(name string, args [][]byte) contract.Response {
	if s.invoke != nil {
		return s.invoke(name, args)
	}
	return contract.Errorf("no contract %s", name)
}

type fakeIterator struct {
	s    *fakeStub
	keys []string
	i    int
}

func (it *fakeIterator) Next() bool    { it.i++; return it.i < len(it.keys) }
func (it *fakeIterator) Key() string   { return it.keys[it.i] }
func (it *fakeIterator) Value() []byte { return it.s.state[it.keys[it.i]] }
func (it *fakeIterator) Err() error    { return nil }
func (it *fakeIterator) Close() error  { return nil }
