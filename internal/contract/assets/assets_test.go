package assets_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/assets"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
	"github.com/chorusledger/chorus/internal/envelope"
)

func newChannel(t *testing.T) *contracttest.Channel {
	t.Helper()
	ch := contracttest.New(t)
	if err := ch.Registry.Register(assets.Name, assets.Contract{}); err != nil {
		t.Fatal(err)
	}
	ch.Define(assets.Name, "AND('Org1MSP.peer','Org2MSP.peer')")
	return ch
}

// submit runs a function of the assets contract and commits it if it
// succeeded.
func submit(ch *contracttest.Channel, args ...string) *contract.Result {
	return ch.Submit(ch.Org1Client, assets.Name, args...)
}

func wantOK(t *testing.T, r *contract.Result, payload string) {
	t.Helper()
	if r.IsError() {
		t.Fatalf("response %d %q, want success", r.Status, r.Message)
	}
	if string(r.Payload) != payload {
		t.Errorf("payload %q, want %q", r.Payload, payload)
	}
}

func wantError(t *testing.T, r *contract.Result, msg string) {
	t.Helper()
	if r.Status != contract.StatusError || r.Message != msg {
		t.Errorf("response %d %q, want 500 %q", r.Status, r.Message, msg)
	}
	if r.Event != nil {
		t.Errorf("event %v with an error", r.Event)
	}
}

func wantEvent(t *testing.T, r *contract.Result, name, payload string) {
	t.Helper()
	if r.Event == nil {
		t.Fatalf("no event, want %s", name)
	}
	if r.Event.GetEventName() != name || string(r.Event.GetPayload()) != payload || r.Event.GetChaincodeId() != assets.Name || r.Event.GetTxId() == "" {
		t.Errorf("event %v, want %s with %s", r.Event, name, payload)
	}
}

const asset1 = `{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}`

func TestAssetLifecycle(t *testing.T) {
	ch := newChannel(t)

	wantOK(t, submit(ch, "AssetExists", "asset1"), "false")
	wantError(t, submit(ch, "ReadAsset", "asset1"), "the asset asset1 does not exist")

	r := submit(ch, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300")
	wantOK(t, r, "")
	wantEvent(t, r, "CreateAsset", asset1)
	wantOK(t, submit(ch, "AssetExists", "asset1"), "true")
	wantOK(t, submit(ch, "ReadAsset", "asset1"), asset1)
	if r := submit(ch, "ReadAsset", "asset1"); r.Event != nil {
		t.Errorf("ReadAsset emitted %v", r.Event)
	}
	wantError(t, submit(ch, "CreateAsset", "asset1", "red", "1", "Max", "1"), "the asset asset1 already exists")

	updated := `{"AppraisedValue":-42,"Color":"red \u003c\u0026\u003e","ID":"asset1","Owner":"Max","Size":9223372036854775807}`
	r = submit(ch, "UpdateAsset", "asset1", "red <&>", "9223372036854775807", "Max", "-42")
	wantOK(t, r, "")
	wantEvent(t, r, "UpdateAsset", updated)
	wantOK(t, submit(ch, "ReadAsset", "asset1"), updated)
	wantError(t, submit(ch, "UpdateAsset", "asset2", "red", "1", "Max", "1"), "the asset asset2 does not exist")

	transferred := strings.Replace(updated, `"Owner":"Max"`, `"Owner":"Adriana"`, 1)
	r = submit(ch, "TransferAsset", "asset1", "Adriana")
	wantOK(t, r, "Max") // the previous owner, as Fabric's sample returns
	wantEvent(t, r, "TransferAsset", transferred)
	wantOK(t, submit(ch, "ReadAsset", "asset1"), transferred)
	wantError(t, submit(ch, "TransferAsset", "asset2", "Adriana"), "the asset asset2 does not exist")

	r = submit(ch, "DeleteAsset", "asset1")
	wantOK(t, r, "")
	wantEvent(t, r, "DeleteAsset", transferred)
	wantOK(t, submit(ch, "AssetExists", "asset1"), "false")
	wantError(t, submit(ch, "DeleteAsset", "asset1"), "the asset asset1 does not exist")
	wantError(t, submit(ch, "ReadAsset", "asset1"), "the asset asset1 does not exist")

	// A deleted asset can be created again.
	wantOK(t, submit(ch, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")
	wantOK(t, submit(ch, "ReadAsset", "asset1"), asset1)
}

func TestGetAllAssets(t *testing.T) {
	ch := newChannel(t)
	wantOK(t, submit(ch, "GetAllAssets"), "[]")
	for _, id := range []string{"asset3", "asset1", "asset10", "asset2"} {
		wantOK(t, submit(ch, "CreateAsset", id, "blue", "5", "Tomoko", "300"), "")
	}
	r := submit(ch, "GetAllAssets")
	wantOK(t, r, string(r.Payload))
	var all []assets.Asset
	if err := json.Unmarshal(r.Payload, &all); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range all {
		ids = append(ids, a.ID)
		if a.Color != "blue" || a.Size != 5 || a.Owner != "Tomoko" || a.AppraisedValue != 300 {
			t.Errorf("asset %+v", a)
		}
	}
	if want := []string{"asset1", "asset10", "asset2", "asset3"}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
	if !bytes.HasPrefix(r.Payload, []byte(`[{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5},`)) {
		t.Errorf("payload %s", r.Payload)
	}
}

func TestArguments(t *testing.T) {
	ch := newChannel(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"CreateAsset", "asset1", "blue", "5"}, "CreateAsset takes 5 arguments (id, color, size, owner, value); got 3"},
		{[]string{"CreateAsset", "asset1", "blue", "big", "Tomoko", "300"}, `CreateAsset: size "big" is not an integer`},
		{[]string{"CreateAsset", "asset1", "blue", "5.5", "Tomoko", "300"}, `CreateAsset: size "5.5" is not an integer`},
		{[]string{"CreateAsset", "asset1", "blue", "5", "Tomoko", "1e3"}, `CreateAsset: value "1e3" is not an integer`},
		{[]string{"CreateAsset", "asset1", "blue", "99999999999999999999", "Tomoko", "1"}, `CreateAsset: size "99999999999999999999" is not an integer`},
		{[]string{"CreateAsset", "", "blue", "5", "Tomoko", "300"}, "CreateAsset: the asset id is empty"},
		{[]string{"UpdateAsset", "asset1"}, "UpdateAsset takes 5 arguments (id, color, size, owner, value); got 1"},
		{[]string{"UpdateAsset", "asset1", "blue", "5", "Tomoko", ""}, `UpdateAsset: value "" is not an integer`},
		{[]string{"ReadAsset"}, "ReadAsset takes 1 argument (id); got 0"},
		{[]string{"ReadAsset", "a", "b"}, "ReadAsset takes 1 argument (id); got 2"},
		{[]string{"DeleteAsset"}, "DeleteAsset takes 1 argument (id); got 0"},
		{[]string{"AssetExists"}, "AssetExists takes 1 argument (id); got 0"},
		{[]string{"TransferAsset", "asset1"}, "TransferAsset takes 2 arguments (id, newOwner); got 1"},
		{[]string{"GetAllAssets", "x"}, "GetAllAssets takes no arguments; got 1"},
		{[]string{"InitLedger"}, `unknown function "InitLedger"; the assets contract has CreateAsset, ReadAsset, UpdateAsset, DeleteAsset, TransferAsset, AssetExists and GetAllAssets`},
		{[]string{"readAsset", "asset1"}, `unknown function "readAsset"; the assets contract has CreateAsset, ReadAsset, UpdateAsset, DeleteAsset, TransferAsset, AssetExists and GetAllAssets`},
		{nil, "no function given; the assets contract has CreateAsset, ReadAsset, UpdateAsset, DeleteAsset, TransferAsset, AssetExists and GetAllAssets"},
	} {
		wantError(t, submit(ch, tc.args...), tc.msg)
	}
	// Fabric's contract API prefix is accepted.
	wantOK(t, submit(ch, "assets:CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")
	wantOK(t, submit(ch, "SmartContract:AssetExists", "asset1"), "true")
	// Nothing was written by the failures.
	wantOK(t, submit(ch, "GetAllAssets"), "["+asset1+"]")
}

// Two endorsers simulating the same CreateAsset produce the same bytes:
// read/write set, response and event.
func TestDeterminism(t *testing.T) {
	ch := newChannel(t)
	wantOK(t, submit(ch, "CreateAsset", "asset0", "red", "1", "Max", "2"), "")

	for _, args := range [][]string{
		{"CreateAsset", "asset1", "blue", "5", "Tomoko", "300"},
		{"TransferAsset", "asset0", "Tomoko"},
		{"GetAllAssets"},
	} {
		inv := ch.Invocation(ch.Org2Client, assets.Name, args...)
		a, err := ch.Simulate(inv)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ch.Simulate(inv)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.RWSetBytes, b.RWSetBytes) {
			t.Errorf("%s: read/write sets differ", args[0])
		}
		if a.Result.Status != b.Result.Status || !bytes.Equal(a.Result.Payload, b.Result.Payload) {
			t.Errorf("%s: responses differ", args[0])
		}
		ea, _ := envelope.Marshal(a.Result.Event)
		eb, _ := envelope.Marshal(b.Result.Event)
		if !bytes.Equal(ea, eb) {
			t.Errorf("%s: events differ", args[0])
		}
	}

	// And the read/write set of CreateAsset is what Fabric's would be:
	// the definition read, the asset key read absent, the asset written.
	tx, err := ch.Invoke(ch.Org1Client, assets.Name, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300")
	if err != nil {
		t.Fatal(err)
	}
	_, sets, err := envelope.ParseRWSet(tx.RWSetBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].Namespace != contract.LifecycleName || sets[1].Namespace != assets.Name {
		t.Fatalf("namespaces %v", sets)
	}
	kv := sets[1].KV
	if len(kv.GetReads()) != 1 || kv.GetReads()[0].GetKey() != "asset1" || kv.GetReads()[0].GetVersion() != nil {
		t.Errorf("reads %v", kv.GetReads())
	}
	if len(kv.GetWrites()) != 1 || kv.GetWrites()[0].GetKey() != "asset1" || string(kv.GetWrites()[0].GetValue()) != asset1 {
		t.Errorf("writes %v", kv.GetWrites())
	}
}

// Concurrent transfers of one asset, endorsed on the same state: MVCC
// lets the first through.
func TestConflictingTransfers(t *testing.T) {
	ch := newChannel(t)
	wantOK(t, submit(ch, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")
	a, err := ch.Invoke(ch.Org1Client, assets.Name, "TransferAsset", "asset1", "Max")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ch.Invoke(ch.Org2Client, assets.Name, "TransferAsset", "asset1", "Adriana")
	if err != nil {
		t.Fatal(err)
	}
	codes := ch.Commit(a, b)
	if codes[0].String() != "VALID" || codes[1].String() != "MVCC_READ_CONFLICT" {
		t.Errorf("codes %v", codes)
	}
	var got assets.Asset
	if err := json.Unmarshal(submit(ch, "ReadAsset", "asset1").Payload, &got); err != nil || got.Owner != "Max" {
		t.Errorf("owner %q (%v), want Max", got.Owner, err)
	}
}
