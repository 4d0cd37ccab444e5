package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/contracttest"
)

var user = contracttest.NewIdentity("Org1MSP", "User1@org1.example.com")

func newLedger() *contracttest.Ledger {
	l := contracttest.NewLedger()
	l.Deploy("assets", contract.Registered())
	return l
}

func submit(l *contracttest.Ledger, args ...string) *contracttest.Result {
	return l.Submit(user, "assets", args...)
}

func wantOK(t *testing.T, r *contracttest.Result, payload string) {
	t.Helper()
	if r.IsError() || r.Err != nil {
		t.Fatalf("%v (%v), want success", r, r.Err)
	}
	if string(r.Payload) != payload {
		t.Errorf("payload %q, want %q", r.Payload, payload)
	}
}

func wantError(t *testing.T, r *contracttest.Result, msg string) {
	t.Helper()
	if r.Status != contract.StatusError || r.Message != msg {
		t.Errorf("response %d %q, want 500 %q", r.Status, r.Message, msg)
	}
	if r.Event != nil {
		t.Errorf("event %v with an error", r.Event)
	}
}

func wantEvent(t *testing.T, r *contracttest.Result, name, payload string) {
	t.Helper()
	if r.Event == nil {
		t.Fatalf("no event, want %s", name)
	}
	if r.Event.Name != name || string(r.Event.Payload) != payload {
		t.Errorf("event %s %s, want %s with %s", r.Event.Name, r.Event.Payload, name, payload)
	}
}

const asset1 = `{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}`

func TestAssetLifecycle(t *testing.T) {
	l := newLedger()

	wantOK(t, submit(l, "AssetExists", "asset1"), "false")
	wantError(t, submit(l, "ReadAsset", "asset1"), "the asset asset1 does not exist")

	r := submit(l, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300")
	wantOK(t, r, "")
	wantEvent(t, r, "CreateAsset", asset1)
	if got := l.GetState("assets", "asset1"); string(got) != asset1 {
		t.Errorf("stored %s", got)
	}
	wantOK(t, submit(l, "AssetExists", "asset1"), "true")
	wantOK(t, submit(l, "ReadAsset", "asset1"), asset1)
	if r := submit(l, "ReadAsset", "asset1"); r.Event != nil {
		t.Errorf("ReadAsset emitted %v", r.Event)
	}
	wantError(t, submit(l, "CreateAsset", "asset1", "red", "1", "Max", "1"), "the asset asset1 already exists")

	updated := `{"AppraisedValue":-42,"Color":"red \u003c\u0026\u003e","ID":"asset1","Owner":"Max","Size":9223372036854775807}`
	r = submit(l, "UpdateAsset", "asset1", "red <&>", "9223372036854775807", "Max", "-42")
	wantOK(t, r, "")
	wantEvent(t, r, "UpdateAsset", updated)
	wantOK(t, submit(l, "ReadAsset", "asset1"), updated)
	wantError(t, submit(l, "UpdateAsset", "asset2", "red", "1", "Max", "1"), "the asset asset2 does not exist")

	transferred := strings.Replace(updated, `"Owner":"Max"`, `"Owner":"Adriana"`, 1)
	r = submit(l, "TransferAsset", "asset1", "Adriana")
	wantOK(t, r, "Max") // the previous owner, as Fabric's sample returns
	wantEvent(t, r, "TransferAsset", transferred)
	wantOK(t, submit(l, "ReadAsset", "asset1"), transferred)
	wantError(t, submit(l, "TransferAsset", "asset2", "Adriana"), "the asset asset2 does not exist")

	r = submit(l, "DeleteAsset", "asset1")
	wantOK(t, r, "")
	wantEvent(t, r, "DeleteAsset", transferred)
	wantOK(t, submit(l, "AssetExists", "asset1"), "false")
	wantError(t, submit(l, "DeleteAsset", "asset1"), "the asset asset1 does not exist")
	wantError(t, submit(l, "ReadAsset", "asset1"), "the asset asset1 does not exist")

	// A deleted asset can be created again.
	wantOK(t, submit(l, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")
	wantOK(t, submit(l, "ReadAsset", "asset1"), asset1)
}

func TestGetAllAssets(t *testing.T) {
	l := newLedger()
	wantOK(t, submit(l, "GetAllAssets"), "[]")
	for _, id := range []string{"asset3", "asset1", "asset10", "asset2"} {
		wantOK(t, submit(l, "CreateAsset", id, "blue", "5", "Tomoko", "300"), "")
	}
	// Composite keys of the namespace are not assets.
	tx := l.Begin(user, "assets")
	ck, _ := tx.CreateCompositeKey("index", []string{"x"})
	tx.PutState(ck, []byte("not an asset"))
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := submit(l, "GetAllAssets")
	wantOK(t, r, string(r.Payload))
	var all []Asset
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

	tx = l.Begin(user, "assets")
	tx.PutState("broken", []byte("{"))
	tx.Commit()
	wantError(t, submit(l, "GetAllAssets"), "the asset broken is not valid asset JSON: unexpected end of JSON input")
	wantError(t, submit(l, "ReadAsset", "broken"), "the asset broken is not valid asset JSON: unexpected end of JSON input")
}

func TestCreateAssets(t *testing.T) {
	l := newLedger()
	wantOK(t, submit(l, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")

	// All or nothing: asset1 exists, so asset2 is not created either.
	wantError(t, submit(l, "CreateAssets", `[{"ID":"asset2","Color":"red","Size":1,"Owner":"Max","AppraisedValue":2},{"ID":"asset1"}]`),
		"the asset asset1 already exists")
	wantError(t, submit(l, "CreateAssets", `[{"ID":"asset2"},{"ID":"asset3"},{"ID":"asset2"}]`), "the asset asset2 is given twice")
	wantOK(t, submit(l, "AssetExists", "asset2"), "false")

	r := submit(l, "CreateAssets", `[{"ID":"asset3","Color":"green","Size":7,"Owner":"Ann","AppraisedValue":70},`+
		`{"AppraisedValue":20,"Owner":"Max","Size":1,"Color":"red","ID":"asset2"}]`)
	wantOK(t, r, "")
	wantEvent(t, r, "CreateAssets", `["asset3","asset2"]`)
	// Stored exactly as CreateAsset stores an asset.
	wantOK(t, submit(l, "ReadAsset", "asset2"), `{"AppraisedValue":20,"Color":"red","ID":"asset2","Owner":"Max","Size":1}`)
	wantOK(t, submit(l, "ReadAsset", "asset3"), `{"AppraisedValue":70,"Color":"green","ID":"asset3","Owner":"Ann","Size":7}`)
	wantOK(t, submit(l, "ReadAsset", "asset1"), asset1)

	for _, tc := range []struct{ arg, msg string }{
		{`[]`, "CreateAssets: no assets given"},
		{`null`, "CreateAssets: no assets given"},
		{`{"ID":"asset4"}`, "CreateAssets: the assets are not a JSON array of assets: json: cannot unmarshal object into Go value of type []main.Asset"},
		{`[{"ID":"asset4","Colour":"red"}]`, `CreateAssets: the assets are not a JSON array of assets: json: unknown field "Colour"`},
		{`[{"ID":"asset4","Size":"5"}]`, "CreateAssets: the assets are not a JSON array of assets: json: cannot unmarshal string into Go struct field Asset.Size of type int64"},
		{`[{"ID":"asset4"},{"Color":"red"}]`, "CreateAssets: asset 1 of the array has an empty id"},
		{`[{"ID":"asset4"}] [{"ID":"asset5"}]`, "CreateAssets: the assets are not a JSON array of assets: data after the array"},
		{`[{"ID":"asset4"}`, "CreateAssets: the assets are not a JSON array of assets: unexpected EOF"},
	} {
		wantError(t, submit(l, "CreateAssets", tc.arg), tc.msg)
	}
	wantError(t, submit(l, "CreateAssets"), "CreateAssets takes 1 argument (assets); got 0")
	wantOK(t, submit(l, "AssetExists", "asset4"), "false")
}

func TestArguments(t *testing.T) {
	l := newLedger()
	const functions = "CreateAsset, CreateAssets, ReadAsset, UpdateAsset, DeleteAsset, TransferAsset, AssetExists and GetAllAssets"
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
		{[]string{"UpdateAsset", "", "blue", "5", "Tomoko", "1"}, "UpdateAsset: the asset id is empty"},
		{[]string{"ReadAsset"}, "ReadAsset takes 1 argument (id); got 0"},
		{[]string{"ReadAsset", "a", "b"}, "ReadAsset takes 1 argument (id); got 2"},
		{[]string{"DeleteAsset"}, "DeleteAsset takes 1 argument (id); got 0"},
		{[]string{"AssetExists"}, "AssetExists takes 1 argument (id); got 0"},
		{[]string{"TransferAsset", "asset1"}, "TransferAsset takes 2 arguments (id, newOwner); got 1"},
		{[]string{"GetAllAssets", "x"}, "GetAllAssets takes no arguments; got 1"},
		{[]string{"InitLedger"}, `unknown function "InitLedger"; the assets contract has ` + functions},
		{[]string{"readAsset", "asset1"}, `unknown function "readAsset"; the assets contract has ` + functions},
		{nil, "no function given; the assets contract has " + functions},
	} {
		wantError(t, submit(l, tc.args...), tc.msg)
	}
	// Fabric's contract API prefix is accepted.
	wantOK(t, submit(l, "assets:CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")
	wantOK(t, submit(l, "SmartContract:AssetExists", "asset1"), "true")
	// Nothing was written by the failures.
	wantOK(t, submit(l, "GetAllAssets"), "["+asset1+"]")
}

// Two ledgers given the same transactions give the same results, events
// and state.
func TestDeterminism(t *testing.T) {
	calls := [][]string{
		{"CreateAsset", "asset0", "red", "1", "Max", "2"},
		{"CreateAsset", "asset1", "blue", "5", "Tomoko", "300"},
		{"TransferAsset", "asset0", "Tomoko"},
		{"GetAllAssets"},
		{"DeleteAsset", "asset1"},
		{"ReadAsset", "asset1"},
	}
	run := func() (out []string) {
		l := newLedger()
		for _, c := range calls {
			out = append(out, submit(l, c...).String())
		}
		for _, k := range l.Keys("assets") {
			out = append(out, k+"="+string(l.GetState("assets", k)))
		}
		return out
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Errorf("runs differ:\n%q\n%q", a, b)
	}
}

// Concurrent transfers of one asset: the first to commit wins.
func TestConflictingTransfers(t *testing.T) {
	l := newLedger()
	wantOK(t, submit(l, "CreateAsset", "asset1", "blue", "5", "Tomoko", "300"), "")
	a, b := l.Begin(user, "assets"), l.Begin(user, "assets")
	if _, err := (Assets{}).TransferAsset(contract.NewContext(a), "asset1", "Max"); err != nil {
		t.Fatal(err)
	}
	if _, err := (Assets{}).TransferAsset(contract.NewContext(b), "asset1", "Adriana"); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); !errors.Is(err, contracttest.ErrConflict) {
		t.Errorf("second transfer: %v, want a conflict", err)
	}
	var got Asset
	if err := json.Unmarshal(submit(l, "ReadAsset", "asset1").Payload, &got); err != nil || got.Owner != "Max" {
		t.Errorf("owner %q (%v), want Max", got.Owner, err)
	}
}
