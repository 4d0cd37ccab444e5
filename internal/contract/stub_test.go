package contract_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
)

func TestStubFunctionAndArgs(t *testing.T) {
	ch := contracttest.New(t)
	var gotFn string
	var gotArgs []string
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		gotFn, gotArgs = stub.Function(), nil
		for _, a := range stub.Args() {
			gotArgs = append(gotArgs, string(a))
		}
		return contract.Success(nil)
	})
	for _, tc := range []struct {
		args   []string
		fn     string
		params []string
	}{
		{[]string{"ReadAsset", "asset1"}, "ReadAsset", []string{"asset1"}},
		{[]string{"probe:ReadAsset", "a", "b"}, "ReadAsset", []string{"a", "b"}},
		{[]string{"org.hyperledger.fabric:GetMetadata"}, "GetMetadata", nil},
		{[]string{"a:b:c"}, "c", nil},
		{[]string{"Fn:"}, "", nil},
		{nil, "", nil},
	} {
		wantOK(t, mustInvoke(t, ch, "probe", tc.args...).Result.Response)
		if gotFn != tc.fn || !slices.Equal(gotArgs, tc.params) {
			t.Errorf("args %q: Function %q Args %q, want %q %q", tc.args, gotFn, gotArgs, tc.fn, tc.params)
		}
	}
}

func TestStubTransactionContext(t *testing.T) {
	ch := contracttest.New(t)
	var got struct {
		mspID, txID, channel  string
		creator, creatorBytes []byte
		ts                    time.Time
	}
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		got.mspID, got.txID, got.channel = stub.MSPID(), stub.TxID(), stub.ChannelID()
		got.creator = stub.Creator().Serialized()
		got.creatorBytes = stub.CreatorBytes()
		got.ts = stub.TxTimestamp()
		return contract.Success(nil)
	})
	inv := ch.Invocation(ch.Org2Client, "probe", "F")
	tx, err := ch.Simulate(inv)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, tx.Result.Response)
	if got.mspID != "Org2MSP" || got.txID != inv.TxID || got.channel != contracttest.ChannelID || !got.ts.Equal(inv.Timestamp) {
		t.Errorf("MSPID %q TxID %q ChannelID %q TxTimestamp %v; want Org2MSP %q %q %v",
			got.mspID, got.txID, got.channel, got.ts, inv.TxID, contracttest.ChannelID, inv.Timestamp)
	}
	if want := ch.Org2Client.Serialized(); !bytes.Equal(got.creator, want) || !bytes.Equal(got.creatorBytes, want) {
		t.Error("Creator().Serialized() or CreatorBytes() differ from the creator's serialized identity")
	}

	// CreatorBytes given in the invocation are what the stub answers.
	inv = ch.Invocation(ch.Org2Client, "probe", "F")
	inv.CreatorBytes = []byte("as signed")
	if _, err := ch.Simulate(inv); err != nil {
		t.Fatal(err)
	}
	if string(got.creatorBytes) != "as signed" {
		t.Errorf("CreatorBytes %q, want the invocation's", got.creatorBytes)
	}
}

// A transaction never sees its own writes: GetState returns committed
// state; the last write to a key wins.
func TestStubReadsCommittedStateOnly(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "put", putter())
	commitValid(t, ch, mustInvoke(t, ch, "put", "F", "k", "v1"))

	var reads []string
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		reads = nil
		read := func(k string) {
			v, err := stub.GetState(k)
			if err != nil {
				t.Errorf("GetState(%q): %v", k, err)
			}
			reads = append(reads, fmt.Sprintf("%s=%s", k, v))
		}
		for _, op := range []func() error{
			func() error { return stub.PutState("k", []byte("v2")) },
			func() error { read("k"); return nil },
			func() error { return stub.PutState("new", []byte("x")) },
			func() error { read("new"); return nil },
			func() error { return stub.PutState("k", []byte("v3")) },
			func() error { return stub.DelState("new") },
		} {
			if err := op(); err != nil {
				return contract.Errorf("%w", err)
			}
		}
		return contract.Success(nil)
	})
	// Namespaces are apart: "put" wrote k, "probe" has none yet.
	tx := mustInvoke(t, ch, "probe", "F")
	wantOK(t, tx.Result.Response)
	if want := []string{"k=", "new="}; !slices.Equal(reads, want) {
		t.Errorf("reads %q, want %q", reads, want)
	}
	if got, want := writes(tx.KV(t, "probe")), []string{"k=v3", "new=<del>"}; !slices.Equal(got, want) {
		t.Errorf("writes %q, want %q", got, want)
	}
	commitValid(t, ch, tx)

	tx = mustInvoke(t, ch, "probe", "F")
	if want := []string{"k=v3", "new="}; !slices.Equal(reads, want) {
		t.Errorf("after commit: reads %q, want %q", reads, want)
	}
	if got := readKeys(tx.KV(t, "probe")); !slices.Equal(got, []string{"k", "new"}) {
		t.Errorf("recorded reads %q", got)
	}
}

func TestStubStateErrors(t *testing.T) {
	ch := contracttest.New(t)
	var errs []string
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		errs = nil
		check := func(err error) {
			if err == nil {
				errs = append(errs, "<nil>")
				return
			}
			errs = append(errs, err.Error())
		}
		check(stub.PutState("", []byte("v")))
		check(stub.DelState(""))
		_, err := stub.GetState("\xff")
		check(err)
		_, err = stub.GetStateByRange("\x00a", "")
		check(err)
		_, err = stub.GetStateByRange("", "\x00")
		check(err)
		_, err = stub.GetStateByPartialCompositeKey("a\x00", nil)
		check(err)
		_, err = stub.CreateCompositeKey("t", []string{string(rune(0x10FFFF))})
		check(err)
		_, _, err = stub.SplitCompositeKey("plain")
		check(err)
		check(stub.SetEvent("", nil))
		return contract.Success(nil)
	})
	wantOK(t, mustInvoke(t, ch, "probe", "F").Result.Response)
	for i, e := range errs {
		if !strings.HasPrefix(e, "contract: ") {
			t.Errorf("error %d: %q, want an error starting with \"contract: \"", i, e)
		}
	}
	if !strings.Contains(errs[3], "GetStateByPartialCompositeKey") {
		t.Errorf("range bound error %q does not point to GetStateByPartialCompositeKey", errs[3])
	}
}

// SetEvent: the last call wins; the event is filled as Fabric's peer
// fills it; an error response drops it.
func TestStubEvents(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		args := stub.Args()
		for i := 0; i+1 < len(args); i += 2 {
			if err := stub.SetEvent(string(args[i]), args[i+1]); err != nil {
				return contract.Errorf("%w", err)
			}
		}
		if stub.Function() == "Fail" {
			return contract.Errorf("failed after setting events")
		}
		return contract.Success(nil)
	})

	tx := mustInvoke(t, ch, "probe", "F", "first", "1", "second", "2")
	wantOK(t, tx.Result.Response)
	ev := tx.Result.Event
	if ev == nil {
		t.Fatal("no event")
	}
	if ev.GetChaincodeId() != "probe" || ev.GetTxId() != tx.Invocation.TxID || ev.GetEventName() != "second" || string(ev.GetPayload()) != "2" {
		t.Errorf("event %v, want probe/%s/second/2", ev, tx.Invocation.TxID)
	}

	if tx := mustInvoke(t, ch, "probe", "F"); tx.Result.Event != nil {
		t.Errorf("event %v without SetEvent", tx.Result.Event)
	}
	tx = mustInvoke(t, ch, "probe", "Fail", "ev", "x")
	wantError(t, tx.Result.Response, contract.StatusError, "failed after")
	if tx.Result.Event != nil {
		t.Errorf("event %v with an error response", tx.Result.Event)
	}
}

// drain reads an iterator to its end as key=value strings.
func drain(t *testing.T, it contract.StateIterator, err error) []string {
	t.Helper()
	if err != nil {
		t.Errorf("opening iterator: %v", err)
		return nil
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%q=%s", it.Key(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Errorf("iterating: %v", err)
	}
	return out
}

func TestStubRangeAndCompositeKeys(t *testing.T) {
	ch := contracttest.New(t)

	type query struct {
		name string
		run  func(stub contract.Stub) []string
		want []string
	}
	queries := []query{
		{"all simple keys", func(s contract.Stub) []string { it, err := s.GetStateByRange("", ""); return drain(t, it, err) },
			[]string{`"\x01"=v` + "\x01", `"a"=va`, `"b"=vb`, `"c"=vc`}},
		{"[a, c)", func(s contract.Stub) []string { it, err := s.GetStateByRange("a", "c"); return drain(t, it, err) },
			[]string{`"a"=va`, `"b"=vb`}},
		{"[b, end)", func(s contract.Stub) []string { it, err := s.GetStateByRange("b", ""); return drain(t, it, err) },
			[]string{`"b"=vb`, `"c"=vc`}},
		{"[c, a) is empty", func(s contract.Stub) []string { it, err := s.GetStateByRange("c", "a"); return drain(t, it, err) },
			nil},
		{"color~id blue", func(s contract.Stub) []string {
			it, err := s.GetStateByPartialCompositeKey("color~id", []string{"blue"})
			return drain(t, it, err)
		}, []string{`"\x00color~id\x00blue\x00a1\x00"=a1`, `"\x00color~id\x00blue\x00a2\x00"=a2`}},
		{"color~id", func(s contract.Stub) []string {
			it, err := s.GetStateByPartialCompositeKey("color~id", nil)
			return drain(t, it, err)
		}, []string{`"\x00color~id\x00blue\x00a1\x00"=a1`, `"\x00color~id\x00blue\x00a2\x00"=a2`, `"\x00color~id\x00red\x00a3\x00"=a3`}},
		{"split", func(s contract.Stub) []string {
			it, err := s.GetStateByPartialCompositeKey("color~id", []string{"red"})
			if err != nil {
				t.Error(err)
				return nil
			}
			defer it.Close()
			var out []string
			for it.Next() {
				typ, attrs, err := s.SplitCompositeKey(it.Key())
				if err != nil {
					t.Error(err)
				}
				out = append(out, typ+"/"+strings.Join(attrs, "/"))
			}
			return out
		}, []string{"color~id/red/a3"}},
	}

	var made, got []string
	install(t, ch, "store", func(stub contract.Stub) contract.Response {
		if stub.Function() != "Make" {
			var i int
			fmt.Sscan(stub.Function(), &i)
			got = queries[i].run(stub)
			return contract.Success(nil)
		}
		// Composite keys, and simple keys around them.
		for _, attrs := range [][]string{{"blue", "a1"}, {"blue", "a2"}, {"red", "a3"}} {
			k, err := stub.CreateCompositeKey("color~id", attrs)
			if err != nil {
				return contract.Errorf("%w", err)
			}
			made = append(made, k)
			if err := stub.PutState(k, []byte(attrs[1])); err != nil {
				return contract.Errorf("%w", err)
			}
		}
		for _, k := range []string{"a", "b", "c", "\x01"} {
			if err := stub.PutState(k, []byte("v"+k)); err != nil {
				return contract.Errorf("%w", err)
			}
		}
		return contract.Success(nil)
	})
	tx := mustInvoke(t, ch, "store", "Make")
	wantOK(t, tx.Result.Response)
	if made[0] != "\x00color~id\x00blue\x00a1\x00" {
		t.Errorf("composite key %q", made[0])
	}
	commitValid(t, ch, tx)

	for i, q := range queries {
		qtx := mustInvoke(t, ch, "store", fmt.Sprint(i))
		wantOK(t, qtx.Result.Response)
		if !slices.Equal(got, q.want) {
			t.Errorf("%s: got %q, want %q", q.name, got, q.want)
		}
	}

	// A range from "" is recorded from "\x01", as Fabric's shims send it.
	qtx := mustInvoke(t, ch, "store", "0")
	rq := qtx.KV(t, "store").GetRangeQueriesInfo()
	if len(rq) != 1 || rq[0].GetStartKey() != "\x01" || rq[0].GetEndKey() != "" || !rq[0].GetItrExhausted() || len(rq[0].GetRawReads().GetKvReads()) != 4 {
		t.Errorf("range recorded as %v, want start \\x01, end \"\", exhausted, 4 reads", rq)
	}
}

// History: every committed write and delete, newest first, with the
// writer's transaction id and timestamp; the transaction's own writes are
// not in it.
func TestStubHistory(t *testing.T) {
	ch := contracttest.New(t)
	var got []contract.KeyModification
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		switch stub.Function() {
		case "Put":
			return respond(stub.PutState("k", stub.Args()[0]))
		case "Del":
			return respond(stub.DelState("k"))
		}
		if err := stub.PutState("k", []byte("uncommitted")); err != nil {
			return contract.Errorf("%w", err)
		}
		h, err := stub.GetHistoryForKey("k")
		if err != nil {
			return contract.Errorf("%w", err)
		}
		defer h.Close()
		got = nil
		for h.Next() {
			got = append(got, h.Modification())
		}
		if err := h.Err(); err != nil {
			return contract.Errorf("%w", err)
		}
		return contract.Success(nil)
	})
	var txs []*contracttest.Tx
	for _, args := range [][]string{{"Put", "v1"}, {"Put", "v2"}, {"Del"}, {"Put", "v3"}} {
		tx := mustInvoke(t, ch, "probe", args...)
		wantOK(t, tx.Result.Response)
		commitValid(t, ch, tx)
		txs = append(txs, tx)
	}
	htx := mustInvoke(t, ch, "probe", "History")
	wantOK(t, htx.Result.Response)
	want := []contract.KeyModification{
		{TxID: txs[3].Invocation.TxID, Value: []byte("v3"), Timestamp: txs[3].Invocation.Timestamp},
		{TxID: txs[2].Invocation.TxID, Timestamp: txs[2].Invocation.Timestamp, IsDelete: true},
		{TxID: txs[1].Invocation.TxID, Value: []byte("v2"), Timestamp: txs[1].Invocation.Timestamp},
		{TxID: txs[0].Invocation.TxID, Value: []byte("v1"), Timestamp: txs[0].Invocation.Timestamp},
	}
	if len(got) != len(want) {
		t.Fatalf("history has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.TxID != w.TxID || !bytes.Equal(g.Value, w.Value) || !g.Timestamp.Equal(w.Timestamp) || g.IsDelete != w.IsDelete {
			t.Errorf("history[%d] = %+v, want %+v", i, g, w)
		}
	}
	// History reads are not recorded, as in Fabric.
	if r := readKeys(htx.KV(t, "probe")); len(r) != 0 {
		t.Errorf("history recorded reads %q", r)
	}
}

// A stub kept after its invocation returned refuses every call.
func TestStubUseAfterReturn(t *testing.T) {
	ch := contracttest.New(t)
	var kept contract.Stub
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		kept = stub
		return contract.Success(nil)
	})
	install(t, ch, "other", putter())
	wantOK(t, mustInvoke(t, ch, "probe", "F").Result.Response)
	if _, err := kept.GetState("k"); err == nil {
		t.Error("GetState after return succeeded")
	}
	if err := kept.PutState("k", []byte("v")); err == nil {
		t.Error("PutState after return succeeded")
	}
	if _, err := kept.GetStateByRange("", ""); err == nil {
		t.Error("GetStateByRange after return succeeded")
	}
	if err := kept.SetEvent("e", nil); err == nil {
		t.Error("SetEvent after return succeeded")
	}
	if r := kept.InvokeContract("other", nil); !r.IsError() {
		t.Error("InvokeContract after return succeeded")
	}
}
