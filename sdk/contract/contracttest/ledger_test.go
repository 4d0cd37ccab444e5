package contracttest_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/contracttest"
)

var (
	alice = contracttest.NewIdentity("Org1MSP", "alice@org1.example.com")
	bob   = contracttest.NewIdentity("Org2MSP", "bob@org2.example.com")
)

func TestIdentities(t *testing.T) {
	again := contracttest.NewIdentity("Org1MSP", "alice@org1.example.com")
	if !bytes.Equal(again.Certificate, alice.Certificate) {
		t.Error("NewIdentity is not deterministic")
	}
	if alice.ClientID() == bob.ClientID() || alice.MSPID != "Org1MSP" {
		t.Errorf("ids %q %q", alice.ClientID(), bob.ClientID())
	}
	if !bytes.HasPrefix(alice.Serialized(), []byte("\x0a\x07Org1MSP\x12")) {
		t.Errorf("Serialized = %q...", alice.Serialized()[:12])
	}
}

func values(t *testing.T, it contract.StateQueryIterator) []string {
	t.Helper()
	defer it.Close()
	var out []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kv.Key+"="+string(kv.Value))
	}
	if _, err := it.Next(); err == nil {
		t.Error("Next after the last entry succeeded")
	}
	return out
}

func TestCommittedReads(t *testing.T) {
	l := contracttest.NewLedger()
	tx := l.Begin(alice, "c")
	if err := tx.PutState("k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if v, _ := tx.GetState("k"); v != nil {
		t.Errorf("a transaction sees its own write: %q", v)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err == nil {
		t.Error("a second Commit succeeded")
	}
	if err := tx.PutState("k", []byte("v")); err == nil {
		t.Error("a write after Commit succeeded")
	}

	tx = l.Begin(alice, "c")
	if v, _ := tx.GetState("k"); string(v) != "v1" {
		t.Errorf("committed value %q", v)
	}
	tx.DelState("k")
	tx.PutState("k2", []byte("x"))
	tx.PutState("k2", []byte("y")) // the last write wins
	tx.PutState("k3", []byte{})    // an empty value deletes
	if v, _ := tx.GetState("k"); string(v) != "v1" {
		t.Errorf("a transaction sees its own delete: %q", v)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := l.Keys("c"); !slices.Equal(got, []string{"k2"}) {
		t.Errorf("keys %q", got)
	}
	if v := l.GetState("c", "k2"); string(v) != "y" {
		t.Errorf("k2 = %q", v)
	}
	// Namespaces are separate.
	if v, _ := l.Begin(alice, "other").GetState("k2"); v != nil {
		t.Errorf("another contract sees k2: %q", v)
	}

	tx = l.Begin(alice, "c")
	for _, bad := range []string{"", "\xff", strings.Repeat("k", 64<<10+1)} {
		if err := tx.PutState(bad, []byte("v")); err == nil {
			t.Errorf("PutState(%.10q) succeeded", bad)
		}
	}
	if err := tx.PutState("k", make([]byte, 16<<20+1)); err == nil {
		t.Error("a value over 16 MiB was accepted")
	}
}

func TestRanges(t *testing.T) {
	l := contracttest.NewLedger()
	tx := l.Begin(alice, "c")
	for _, k := range []string{"b", "a", "c", "\x01", "a0", "\U0010FFFF"} {
		tx.PutState(k, []byte("v"+k))
	}
	for _, parts := range [][]string{{"owner", "alice", "1"}, {"owner", "alice", "2"}, {"owner", "bob", "1"}, {"ownerx", "z"}} {
		k, err := tx.CreateCompositeKey(parts[0], parts[1:])
		if err != nil {
			t.Fatal(err)
		}
		tx.PutState(k, []byte(strings.Join(parts, "/")))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx = l.Begin(alice, "c")
	for _, tc := range []struct {
		start, end string
		want       []string
	}{
		{"", "", []string{"\x01=v\x01", "a=va", "a0=va0", "b=vb", "c=vc", "\U0010FFFF=v\U0010FFFF"}},
		{"a", "b", []string{"a=va", "a0=va0"}},
		{"a0", "", []string{"a0=va0", "b=vb", "c=vc", "\U0010FFFF=v\U0010FFFF"}},
		{"b", "b", nil},
		{"c", "a", nil},
	} {
		it, err := tx.GetStateByRange(tc.start, tc.end)
		if err != nil {
			t.Fatal(err)
		}
		if got := values(t, it); !slices.Equal(got, tc.want) {
			t.Errorf("GetStateByRange(%q, %q) = %q, want %q", tc.start, tc.end, got, tc.want)
		}
	}
	if _, err := tx.GetStateByRange("\x00owner", ""); err == nil {
		t.Error("a range beginning with U+0000 was accepted")
	}
	it, err := tx.GetStateByPartialCompositeKey("owner", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if got := values(t, it); !slices.Equal(got, []string{"\x00owner\x00alice\x001\x00=owner/alice/1", "\x00owner\x00alice\x002\x00=owner/alice/2"}) {
		t.Errorf("partial composite key query %q", got)
	}
	it, _ = tx.GetStateByPartialCompositeKey("owner", nil)
	var types []string
	for it.HasNext() {
		kv, _ := it.Next()
		ot, attrs, err := tx.SplitCompositeKey(kv.Key)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ot+":"+strings.Join(attrs, ","))
	}
	if !slices.Equal(types, []string{"owner:alice,1", "owner:alice,2", "owner:bob,1"}) {
		t.Errorf("owner keys %q", types)
	}
	it.Close()
	if it.HasNext() {
		t.Error("HasNext after Close")
	}
}

func TestHistory(t *testing.T) {
	l := contracttest.NewLedger()
	var txIDs []string
	for _, v := range []string{"v1", "v2", "", "v3"} {
		tx := l.Begin(alice, "c")
		if v == "" {
			tx.DelState("k")
		} else {
			tx.PutState("k", []byte(v))
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		txIDs = append(txIDs, tx.TxID())
	}
	l.Begin(alice, "c").PutState("k", []byte("never committed"))

	it, err := l.Begin(bob, "c").GetHistoryForKey("k")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %v %q", m.TxID[:6], m.Timestamp.Format(time.TimeOnly), m.IsDelete, m.Value))
	}
	want := []string{
		txIDs[3][:6] + ` 00:00:03 false "v3"`,
		txIDs[2][:6] + ` 00:00:02 true ""`,
		txIDs[1][:6] + ` 00:00:01 false "v2"`,
		txIDs[0][:6] + ` 00:00:00 false "v1"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("history\n%q\nwant\n%q", got, want)
	}
}

func TestTransactionContext(t *testing.T) {
	l := contracttest.NewLedger()
	a, b := l.Begin(alice, "c", "Fn", "x"), l.Begin(bob, "c")
	if a.GetTxID() == b.GetTxID() || len(a.GetTxID()) != 64 {
		t.Errorf("tx ids %q %q", a.GetTxID(), b.GetTxID())
	}
	ta, _ := a.GetTxTimestamp()
	tb, _ := b.GetTxTimestamp()
	if !ta.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || tb.Sub(ta) != time.Second {
		t.Errorf("timestamps %v %v", ta, tb)
	}
	if a.GetChannelID() != "mychannel" {
		t.Errorf("channel %q", a.GetChannelID())
	}
	if msp, _ := b.GetMSPID(); msp != "Org2MSP" {
		t.Errorf("MSP id %q", msp)
	}
	if c, _ := b.GetCreator(); !bytes.Equal(c, bob.Serialized()) {
		t.Error("GetCreator is not the serialized identity")
	}
	fn, params := a.GetFunctionAndParameters()
	if fn != "Fn" || !slices.Equal(params, []string{"x"}) || !slices.Equal(a.GetStringArgs(), []string{"Fn", "x"}) {
		t.Errorf("arguments %q %q", fn, params)
	}
	// A second ledger repeats the same ids.
	if contracttest.NewLedger().Begin(alice, "c").GetTxID() != a.GetTxID() {
		t.Error("transaction ids are not deterministic")
	}
}

func TestConflicts(t *testing.T) {
	l := contracttest.NewLedger()
	seed := l.Begin(alice, "c")
	seed.PutState("balance", []byte("10"))
	seed.PutState("r1", []byte("x"))
	if err := seed.Commit(); err != nil {
		t.Fatal(err)
	}

	// Two transactions read the same key, then write it: the first to
	// commit wins.
	a, b := l.Begin(alice, "c"), l.Begin(bob, "c")
	a.GetState("balance")
	b.GetState("balance")
	a.PutState("balance", []byte("5"))
	b.PutState("balance", []byte("7"))
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); !errors.Is(err, contracttest.ErrConflict) {
		t.Errorf("second commit: %v, want a conflict", err)
	}
	if v := l.GetState("c", "balance"); string(v) != "5" {
		t.Errorf("balance %q", v)
	}

	// A read of an absent key conflicts with its creation.
	a, b = l.Begin(alice, "c"), l.Begin(bob, "c")
	a.GetState("new")
	b.PutState("new", []byte("1"))
	b.Commit()
	if err := a.Commit(); !errors.Is(err, contracttest.ErrConflict) {
		t.Errorf("read of an absent key: %v", err)
	}

	// A range read conflicts with a key added to the range (a phantom).
	a, b = l.Begin(alice, "c"), l.Begin(bob, "c")
	it, _ := a.GetStateByRange("r", "s")
	it.Close()
	b.PutState("r2", []byte("y"))
	b.Commit()
	if err := a.Commit(); !errors.Is(err, contracttest.ErrConflict) {
		t.Errorf("phantom: %v", err)
	}

	// Blind writes never conflict.
	a, b = l.Begin(alice, "c"), l.Begin(bob, "c")
	a.PutState("balance", []byte("1"))
	b.PutState("balance", []byte("2"))
	if err := a.Commit(); err != nil {
		t.Error(err)
	}
	if err := b.Commit(); err != nil {
		t.Error(err)
	}
}

// kv is a low-level contract: Put, Get, Call (another contract), Event,
// Fail (after a write and an event), Panic.
var kv = contract.HandlerFunc(func(stub contract.Stub) contract.Response {
	fn, p := stub.GetFunctionAndParameters()
	switch fn {
	case "Put":
		if err := stub.PutState(p[0], []byte(p[1])); err != nil {
			return contract.Error(err.Error())
		}
		if err := stub.SetEvent("Put", []byte(p[0])); err != nil {
			return contract.Error(err.Error())
		}
		return contract.Success(nil)
	case "Get":
		v, err := stub.GetState(p[0])
		if err != nil {
			return contract.Error(err.Error())
		}
		return contract.Success(v)
	case "Call":
		args := make([][]byte, len(p)-1)
		for i, a := range p[1:] {
			args[i] = []byte(a)
		}
		r := stub.InvokeContract(p[0], args)
		return contract.Response{Status: r.Status, Message: "callee: " + r.Message, Payload: r.Payload}
	case "Events":
		stub.SetEvent("first", nil)
		stub.SetEvent("second", []byte("2"))
		return contract.Success(nil)
	case "Fail":
		stub.PutState("failed", []byte("x"))
		stub.SetEvent("Fail", nil)
		return contract.Error("failing")
	case "Panic":
		panic("at the disco")
	}
	return contract.Error("unknown " + fn)
})

func TestSubmitAndEvaluate(t *testing.T) {
	l := contracttest.NewLedger()
	l.Deploy("kv", kv)
	l.Deploy("other", kv)

	r := l.Submit(alice, "kv", "Put", "a", "1")
	if r.IsError() || r.Err != nil || r.Event == nil || r.Event.Name != "Put" || string(r.Event.Payload) != "a" || len(r.TxID) != 64 {
		t.Errorf("Put: %v %v", r, r.Err)
	}
	if r := l.Evaluate(bob, "kv", "Get", "a"); string(r.Payload) != "1" {
		t.Errorf("Get: %v", r)
	}
	if r := l.Evaluate(alice, "kv", "Put", "b", "2"); r.IsError() || r.Event == nil {
		t.Errorf("Evaluate Put: %v", r)
	}
	if v := l.GetState("kv", "b"); v != nil {
		t.Errorf("Evaluate committed b = %q", v)
	}
	r = l.Submit(alice, "kv", "Events")
	if r.Event == nil || r.Event.Name != "second" || string(r.Event.Payload) != "2" {
		t.Errorf("the last event does not win: %v", r)
	}
	r = l.Submit(alice, "kv", "Fail")
	if r.Status != 500 || r.Message != "failing" || r.Event != nil || l.GetState("kv", "failed") != nil {
		t.Errorf("Fail: %v, failed = %q", r, l.GetState("kv", "failed"))
	}
	if r := l.Submit(alice, "kv", "Panic"); r.Status != 500 || r.Message != "contract panicked: at the disco" {
		t.Errorf("Panic: %v", r)
	}
	if r := l.Submit(alice, "missing", "Get", "a"); r.Status != 500 || r.Message != `contracttest: contract "missing" is not deployed` {
		t.Errorf("missing contract: %v", r)
	}

	// A callee writes its own namespace, in the caller's transaction; its
	// event is dropped.
	r = l.Submit(alice, "kv", "Call", "other", "Put", "c", "3")
	if r.IsError() || r.Event != nil || r.Message != "callee: " {
		t.Errorf("Call: %v", r)
	}
	if v := l.GetState("other", "c"); string(v) != "3" {
		t.Errorf("the callee's write: %q", v)
	}
	if v := l.GetState("kv", "c"); v != nil {
		t.Errorf("the callee wrote the caller's namespace: %q", v)
	}
	if r := l.Evaluate(alice, "kv", "Call", "nope"); r.Status != 500 || r.Message != `callee: contracttest: contract "nope" is not deployed` {
		t.Errorf("call of a missing contract: %v", r)
	}
	// Calls nest at most MaxCallDepth deep.
	args := []string{"Call"}
	for range contracttest.MaxCallDepth {
		args = append(args, "kv", "Call")
	}
	args = append(args, "kv", "Get", "a")
	r = l.Evaluate(alice, "kv", args...)
	if !strings.Contains(r.Message, "more than 8 contracts on the call stack") {
		t.Errorf("deep calls: %v", r)
	}

	// A commit that conflicts is reported in Err.
	tx := l.Begin(alice, "kv")
	tx.GetState("a")
	if r := l.Submit(alice, "kv", "Put", "a", "9"); r.Err != nil {
		t.Fatal(r.Err)
	}
	tx.PutState("a", []byte("x"))
	if err := tx.Commit(); !errors.Is(err, contracttest.ErrConflict) {
		t.Errorf("commit after a concurrent Submit: %v", err)
	}
}

func TestResultString(t *testing.T) {
	r := &contracttest.Result{Response: contract.Response{Status: 200, Payload: []byte("p")}, Event: &contracttest.Event{Name: "E", Payload: []byte("e")}}
	if got := r.String(); got != `200 payload "p" event E "e"` {
		t.Errorf("String() = %s", got)
	}
}
