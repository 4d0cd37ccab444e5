package contract_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// A contract that cannot run on this peer is an endorsement failure: an
// error, no Result.
func TestExecuteMissingContract(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "defined", putter())
	ch.Install("installed", putter())
	ch.Define("uninstalled", "")

	for _, tc := range []struct {
		name   string
		target error
		msg    string
	}{
		{"nowhere", contract.ErrNotDefined, "contract: contract nowhere is not defined on channel mychannel"},
		{"installed", contract.ErrNotDefined, "contract: contract installed is not defined on channel mychannel"},
		{"uninstalled", contract.ErrNotInstalled, "contract: contract uninstalled is defined on channel mychannel but not installed on this peer"},
		{"_system", contract.ErrNotInstalled, "contract: system contract _system is not installed on this peer"},
	} {
		tx, err := ch.Invoke(ch.Org1Client, tc.name, "F")
		if !errors.Is(err, tc.target) || err.Error() != tc.msg {
			t.Errorf("%s: error %v, want %q matching %v", tc.name, err, tc.msg, tc.target)
		}
		if tx != nil {
			t.Errorf("%s: a result with the error", tc.name)
		}
	}
	if _, err := ch.Invoke(ch.Org1Client, "defined", "F"); err != nil {
		t.Errorf("defined and installed: %v", err)
	}
}

func TestExecuteBadInvocation(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "probe", putter())
	sim := ch.State.NewSimulator(ch.DB)
	defer sim.Close()
	defs := contract.SimulatorDefinitions{Simulator: sim}
	good := ch.Invocation(ch.Org1Client, "probe", "F")
	good.Definitions = defs

	for name, tc := range map[string]struct {
		reg  *contract.Registry
		edit func(*contract.Invocation)
		want string
	}{
		"no registry":    {nil, func(*contract.Invocation) {}, "needs a registry"},
		"bad name":       {ch.Registry, func(i *contract.Invocation) { i.Contract = "a/b" }, "invalid contract name"},
		"empty name":     {ch.Registry, func(i *contract.Invocation) { i.Contract = "" }, "invalid contract name"},
		"no creator":     {ch.Registry, func(i *contract.Invocation) { i.Creator = nil }, "has no creator"},
		"no definitions": {ch.Registry, func(i *contract.Invocation) { i.Definitions = nil }, "no definition reader"},
		"nil definition": {ch.Registry, func(i *contract.Invocation) { i.Definitions = nilReader{} }, "no definition"},
		"reader failure": {ch.Registry, func(i *contract.Invocation) { i.Definitions = failReader{} }, "disk on fire"},
		"not in the map": {ch.Registry, func(i *contract.Invocation) { i.Definitions = contract.DefinitionMap{} }, "not defined on channel mychannel"},
	} {
		inv := good
		tc.edit(&inv)
		_, err := contract.Execute(tc.reg, sim, inv)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "contract: ") {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	if _, err := contract.Execute(ch.Registry, sim, good); err != nil {
		t.Errorf("good invocation: %v", err)
	}
}

type nilReader struct{}

func (nilReader) Definition(string) (*lifecyclepb.ContractDefinition, error) { return nil, nil }

type failReader struct{}

func (failReader) Definition(string) (*lifecyclepb.ContractDefinition, error) {
	return nil, errors.New("disk on fire")
}

func TestExecuteResultDefinition(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "probe", putter())
	ch.Define("probe", "OR('Org1MSP.peer')")
	tx := mustInvoke(t, ch, "probe", "F")
	if d := tx.Result.Definition; d.GetName() != "probe" || d.GetSequence() != 2 || d.GetVersion() != "1.0" {
		t.Errorf("Result.Definition = %v, want probe sequence 2", d)
	}
	// The definition read joins the read set, so a later definition
	// invalidates the transaction, as in Fabric.
	if got := readKeys(tx.KV(t, contract.LifecycleName)); !slices.Equal(got, []string{"definitions/probe"}) {
		t.Errorf("_lifecycle reads %q", got)
	}
	ch.Define("probe", "")
	if codes := ch.Commit(tx); codes[0] != peerpb.TxValidationCode_MVCC_READ_CONFLICT {
		t.Errorf("transaction endorsed under sequence 2 committed after sequence 3: %v", codes[0])
	}

	lc, err := ch.Invoke(ch.Org1Client, contract.LifecycleName, "QueryDefinitions")
	if err != nil {
		t.Fatal(err)
	}
	if lc.Result.Definition != nil {
		t.Errorf("system contract ran under definition %v", lc.Result.Definition)
	}
}

func TestExecuteRecoversPanic(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "probe", func(stub contract.Stub) contract.Response {
		if err := stub.SetEvent("e", nil); err != nil {
			return contract.Errorf("%w", err)
		}
		switch stub.Function() {
		case "Nil":
			var m map[string]int
			m["x"] = 1
		case "Error":
			panic(errors.New("broken invariant"))
		}
		panic("boom")
	})
	for fn, want := range map[string]string{
		"Str":   "contract: contract probe panicked: boom",
		"Error": "contract: contract probe panicked: broken invariant",
		"Nil":   "contract: contract probe panicked: assignment to entry in nil map",
	} {
		tx := mustInvoke(t, ch, "probe", fn)
		wantError(t, tx.Result.Response, contract.StatusError)
		if tx.Result.Message != want {
			t.Errorf("%s: message %q, want %q", fn, tx.Result.Message, want)
		}
		if tx.Result.Event != nil {
			t.Errorf("%s: event kept after a panic", fn)
		}
	}
}

// Contracts invoked through InvokeContract run in their own namespace in
// the same transaction.
func TestInvokeContractNamespaces(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "put", putter())
	commitValid(t, ch, mustInvoke(t, ch, "put", "F", "k", "put's"))

	var seen []string
	install(t, ch, "callee", func(stub contract.Stub) contract.Response {
		v, err := stub.GetState("k")
		if err != nil {
			return contract.Errorf("%w", err)
		}
		seen = append(seen, fmt.Sprintf("callee %s(%s) sees k=%q tx %s", stub.Function(), stub.Args()[0], v, stub.TxID()))
		if err := stub.PutState("k", []byte("callee's")); err != nil {
			return contract.Errorf("%w", err)
		}
		if err := stub.SetEvent("CalleeEvent", nil); err != nil {
			return contract.Errorf("%w", err)
		}
		return contract.Success([]byte("from callee"))
	})
	install(t, ch, "caller", func(stub contract.Stub) contract.Response {
		if err := stub.PutState("k", []byte("caller's")); err != nil {
			return contract.Errorf("%w", err)
		}
		r := stub.InvokeContract("callee", [][]byte{[]byte("put:Write"), []byte("x")})
		if r.IsError() {
			return r
		}
		r2 := stub.InvokeContract("put", [][]byte{[]byte("F"), []byte("k2"), []byte("via caller")})
		if r2.IsError() {
			return r2
		}
		v, err := stub.GetState("k")
		if err != nil {
			return contract.Errorf("%w", err)
		}
		seen = append(seen, fmt.Sprintf("caller sees k=%q", v))
		return contract.Success(append(r.Payload, " and back"...))
	})

	tx := mustInvoke(t, ch, "caller", "F")
	wantOK(t, tx.Result.Response)
	if string(tx.Result.Payload) != "from callee and back" {
		t.Errorf("payload %q", tx.Result.Payload)
	}
	want := []string{
		fmt.Sprintf("callee Write(x) sees k=\"\" tx %s", tx.Invocation.TxID),
		`caller sees k=""`,
	}
	if !slices.Equal(seen, want) {
		t.Errorf("seen %q, want %q", seen, want)
	}
	if got, want := namespaces(tx), []string{"_lifecycle", "callee", "caller", "put"}; !slices.Equal(got, want) {
		t.Errorf("namespaces %q, want %q", got, want)
	}
	for ns, want := range map[string][]string{
		"caller": {"k=caller's"},
		"callee": {"k=callee's"},
		"put":    {"k2=via caller"},
	} {
		if got := writes(tx.KV(t, ns)); !slices.Equal(got, want) {
			t.Errorf("writes of %s: %q, want %q", ns, got, want)
		}
	}
	if got := readKeys(tx.KV(t, contract.LifecycleName)); !slices.Equal(got, []string{"definitions/callee", "definitions/caller", "definitions/put"}) {
		t.Errorf("definition reads %q", got)
	}
	// The callee's event is dropped, as Fabric drops it.
	if tx.Result.Event != nil {
		t.Errorf("event %v from a callee", tx.Result.Event)
	}
	commitValid(t, ch, tx)
}

func TestInvokeContractDepthLimit(t *testing.T) {
	ch := contracttest.New(t)
	var depth int
	var last contract.Response
	install(t, ch, "rec", func(stub contract.Stub) contract.Response {
		depth++
		r := stub.InvokeContract("rec", [][]byte{[]byte("Again")})
		if r.IsError() {
			last = r
			return contract.Success([]byte("stopped"))
		}
		return r
	})
	tx := mustInvoke(t, ch, "rec", "Go")
	wantOK(t, tx.Result.Response)
	if depth != contract.MaxCallDepth {
		t.Errorf("%d contracts ran, want %d", depth, contract.MaxCallDepth)
	}
	chain := strings.Repeat("rec → ", contract.MaxCallDepth-1) + "rec"
	wantError(t, last, contract.StatusError, "contract: invoking rec from rec would exceed the call depth limit of 8 ("+chain+")")
}

func TestInvokeContractFailures(t *testing.T) {
	ch := contracttest.New(t)
	install(t, ch, "panicky", func(contract.Stub) contract.Response { panic("callee blew up") })
	install(t, ch, "failing", func(stub contract.Stub) contract.Response {
		if err := stub.PutState("kept", []byte("even so")); err != nil {
			return contract.Errorf("%w", err)
		}
		return contract.Errorf("callee refuses")
	})
	ch.Define("uninstalled", "")
	ch.Install("undefined", putter())
	// The caller reports what its callee answered, and succeeds.
	install(t, ch, "caller", func(stub contract.Stub) contract.Response {
		r := stub.InvokeContract(stub.Function(), nil)
		return contract.Success([]byte(fmt.Sprintf("%d %s", r.Status, r.Message)))
	})

	for callee, want := range map[string]string{
		"panicky":              "500 contract: contract panicky panicked: callee blew up",
		"failing":              "500 callee refuses",
		"undefined":            "500 contract: contract undefined is not defined on channel mychannel",
		"nowhere":              "500 contract: contract nowhere is not defined on channel mychannel",
		contract.LifecycleName: "500 contract: system contract _lifecycle cannot be invoked from another contract",
		"_other":               "500 contract: system contract _other cannot be invoked from another contract",
		"bad/name":             `500 contract: cannot invoke "bad/name": worldstate:`,
	} {
		tx := mustInvoke(t, ch, "caller", callee)
		wantOK(t, tx.Result.Response)
		if got := string(tx.Result.Payload); !strings.HasPrefix(got, want) {
			t.Errorf("calling %s: %q, want %q", callee, got, want)
		}
		if callee == "failing" {
			// A callee's writes stay even when it fails, as in Fabric.
			if got := writes(tx.KV(t, "failing")); !slices.Equal(got, []string{"kept=even so"}) {
				t.Errorf("writes of the failing callee: %q", got)
			}
		}
	}

	// A callee defined but not installed here fails the whole invocation:
	// another peer might run it.
	_, err := ch.Invoke(ch.Org1Client, "caller", "uninstalled")
	if !errors.Is(err, contract.ErrNotInstalled) || !strings.Contains(err.Error(), "invoked by caller") {
		t.Errorf("callee not installed: error %v, want ErrNotInstalled naming the caller", err)
	}
	// So does a definition that cannot be read.
	inv := ch.Invocation(ch.Org1Client, "caller", "undefined")
	inv.Definitions = flakyReader{ok: "caller"}
	if _, err := ch.Simulate(inv); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("definition read failure: error %v", err)
	}
}

// flakyReader defines ok and fails for every other name.
type flakyReader struct{ ok string }

func (r flakyReader) Definition(name string) (*lifecyclepb.ContractDefinition, error) {
	if name == r.ok {
		return &lifecyclepb.ContractDefinition{FormatVersion: 1, Name: name, Version: "1", Sequence: 1, PackageHash: contracttest.PackageHash(name)}, nil
	}
	return nil, errors.New("disk on fire")
}

func TestRegistry(t *testing.T) {
	var reg contract.Registry // the zero value works
	if _, ok := reg.Lookup("_a"); ok {
		t.Error("empty registry found _a")
	}
	for _, name := range []string{"_b", "_a", "_sys"} {
		if err := reg.Register(name, putter()); err != nil {
			t.Errorf("Register(%q): %v", name, err)
		}
	}
	for name, want := range map[string]string{
		"_a":         "contract: contract _a is already registered",
		"":           `contract: cannot register ""`,
		"with space": `contract: cannot register "with space"`,
		"_nil":       "contract: cannot register _nil: nil contract",
		// No native path for user contracts: they run only as WebAssembly.
		"assets": "contract: cannot register assets natively: user contracts run only as WebAssembly packages",
	} {
		var c contract.Contract = putter()
		if name == "_nil" {
			c = nil
		}
		if err := reg.Register(name, c); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Register(%q): %v, want %q", name, err, want)
		}
	}
	if got := reg.Names(); !slices.Equal(got, []string{"_a", "_b", "_sys"}) {
		t.Errorf("Names() = %q", got)
	}
	if _, ok := reg.Lookup("_a"); !ok {
		t.Error("Lookup(_a) failed")
	}
	if !contract.IsSystem("_lifecycle") || contract.IsSystem("assets") || contract.IsSystem("") {
		t.Error("IsSystem")
	}
}

func TestResponse(t *testing.T) {
	base := errors.New("base")
	r := contract.Errorf("wrapped: %w", base)
	if r.Status != 500 || r.Message != "wrapped: base" || !r.IsError() {
		t.Errorf("Errorf: %+v", r)
	}
	if r := contract.Statusf(404, "missing %s", "x"); r.Status != 404 || r.Message != "missing x" || !r.IsError() {
		t.Errorf("Statusf: %+v", r)
	}
	ok := contract.Success([]byte("p"))
	if ok.Status != 200 || ok.IsError() || string(ok.Payload) != "p" {
		t.Errorf("Success: %+v", ok)
	}
	if p := ok.Proto(); p.GetStatus() != 200 || string(p.GetPayload()) != "p" {
		t.Errorf("Proto: %v", p)
	}
	if (contract.Response{Status: 399}).IsError() || !(contract.Response{Status: 400}).IsError() {
		t.Error("the error threshold is 400")
	}
}
