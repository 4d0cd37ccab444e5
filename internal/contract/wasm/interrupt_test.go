package wasm

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chorusledger/chorus/samples"
)

// loopsModule has functions with loops among instructions of every
// immediate shape the rewriter skips, a global, and no export section.
//
//	0 count(n i32) -> i32: counts n down to 0 in a loop inside a block,
//	  with a nested loop that runs once per turn, adding the turns to a
//	  counter in memory; returns the counter
//	1 spin() -> (): an endless loop
//	2 mixed() -> i32: br_table, memory, constants of every width, a 0xfc
//	  and a 0xfd instruction, if and else
func loopsModule() testModule {
	count := []byte{
		0x02, 0x40, // block
		0x03, 0x40, // loop
		0x20, 0x00, 0x45, 0x0d, 0x01, // local.get 0; i32.eqz; br_if 1
		0x03, 0x40, 0x0b, // loop (empty, falls through once) end
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, // n = n - 1
		0x41, 0x04, 0x41, 0x04, 0x28, 0x02, 0x00, 0x41, 0x01, 0x6a, 0x36, 0x02, 0x00, // mem[4] = mem[4] + 1
		0x0c, 0x00, // br 0
		0x0b,                         // end loop
		0x0b,                         // end block
		0x41, 0x04, 0x28, 0x02, 0x00, // mem[4]: the turns so far
	}
	spin := []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}
	mixed := []byte{
		0x02, 0x7f, // block (result i32)
		0x41, 0x07, // i32.const 7
		0x41, 0x01, // i32.const 1
		0x0e, 0x02, 0x00, 0x00, 0x00, // br_table 0 0 0
		0x0b,
		0x42, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1a, // i64.const; drop
		0x43, 0x00, 0x00, 0x80, 0x3f, 0x1a, // f32.const 1; drop
		0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, // f64.const 1; drop
		0x41, 0x00, 0x41, 0x2a, 0x36, 0x02, 0x00, // i32.store align=2 offset=0 of 42 at 0
		0x41, 0x00, 0x28, 0x02, 0x00, 0x6a, // i32.load; i32.add
		0x43, 0x00, 0x00, 0x80, 0x3f, 0xfc, 0x00, 0x6a, // f32.const 1; i32.trunc_sat_f32_s; i32.add
		0x41, 0x00, 0xfd, 0x0f, 0xfd, 0x1b, 0x00, 0x6a, // i32.const 0; i8x16.splat; i8x16.extract_lane_u 0; i32.add
		0x3f, 0x00, 0x6a, // memory.size; i32.add
		0x04, 0x7f, 0x41, 0x01, 0x05, 0x41, 0x02, 0x0b, // if (result i32) 1 else 2 end (on the sum, non-zero)
	}
	tm := testModule{
		types: []funcType{sig(i32, i32), sig(none, none), sig(none, i32)},
		funcs: []testFunc{
			{typeIndex: 0, body: count},
			{typeIndex: 1, body: spin},
			{typeIndex: 2, body: mixed},
		},
		pages:           1,
		globals:         []testGlobal{{valueType: valI64, mutable: true, init: []byte{0x42, 0x05}}},
		noExportSection: true,
	}
	return tm
}

func TestAddInterrupt(t *testing.T) {
	tm := loopsModule()
	code := tm.bytes()
	m, err := parseModule(code)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.addInterrupt()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseModule(out)
	if err != nil {
		t.Fatalf("the rewritten module does not parse: %v", err)
	}
	// A second global, mutable i32, exported as the flag.
	if len(got.globals) != 2 || got.globals[1] != (globalType{valueType: valI32, mutable: true}) {
		t.Fatalf("globals %+v", got.globals)
	}
	if e, ok := got.export(interruptExport); !ok || e.kind != externGlobal || e.index != 1 {
		t.Fatalf("export %q: %+v %v", interruptExport, e, ok)
	}
	// Every loop is followed by the test, and nothing else changed.
	test := []byte{0x23, 0x01, 0x04, 0x40, 0x00, 0x0b}
	gotCode := got.sections[got.sectionIndex(sectionCode)].body
	if n := bytes.Count(gotCode, append([]byte{0x03, 0x40}, test...)); n != 3 {
		t.Errorf("%d loops followed by the test, want 3", n)
	}
	if restored := bytes.ReplaceAll(gotCode, test, nil); len(restored) != len(gotCode)-3*len(test) {
		t.Errorf("the test appears elsewhere")
	}

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2&^api.CoreFeatureReferenceTypes))
	defer r.Close(ctx)
	plain, err := r.Instantiate(ctx, exportAll(t, code))
	if err != nil {
		t.Fatalf("the original module: %v", err)
	}
	mod, err := r.Instantiate(ctx, exportAll(t, out))
	if err != nil {
		t.Fatalf("the rewritten module: %v", err)
	}
	// Same results with the flag clear.
	for _, call := range []struct {
		fn   string
		args []uint64
	}{{"f0", []uint64{5}}, {"f0", []uint64{0}}, {"f0", []uint64{3}}, {"f2", nil}} {
		want, err1 := plain.ExportedFunction(call.fn).Call(ctx, call.args...)
		got, err2 := mod.ExportedFunction(call.fn).Call(ctx, call.args...)
		if err1 != nil || err2 != nil || len(want) != 1 || len(got) != 1 || want[0] != got[0] {
			t.Errorf("%s%v: %v %v, want %v %v", call.fn, call.args, got, err2, want, err1)
		}
	}
	// The endless loop stops once the flag is set from elsewhere.
	flag := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
	time.AfterFunc(50*time.Millisecond, func() { flag.Set(1) })
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("f1").Call(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("the interrupted loop returned %v, want the unreachable trap", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the endless loop did not stop 10 s after the flag was set")
	}
}

// exportAll returns code with an export "fN" for each defined function N,
// for calling them directly.
func exportAll(t *testing.T, code []byte) []byte {
	t.Helper()
	m, err := parseModule(code)
	if err != nil {
		t.Fatal(err)
	}
	body := appendU32(nil, uint32(len(m.exports)+len(m.functions)))
	body = append(body, m.exportEntries...)
	for i := range m.functions {
		name := "f" + string(rune('0'+i))
		body = appendName(body, name)
		body = append(body, externFunc)
		body = appendU32(body, m.importedFuncs+uint32(i))
	}
	out, err := m.encodeReplacing(map[byte][]byte{sectionExport: body})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The Go modules the peers run are rewritten into modules wazero compiles,
// with the test at their loop heads.
func TestAddInterruptGoModules(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2&^api.CoreFeatureReferenceTypes))
	defer r.Close(ctx)
	for name, code := range map[string][]byte{"guest": guestWasm, "assets": samples.AssetsModule} {
		m, err := parseModule(code)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.addInterrupt()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		flag := m.importedGlobals + uint32(len(m.globals))
		test := append(append([]byte{0x23}, appendU32(nil, flag)...), 0x04, 0x40, 0x00, 0x0b)
		loops := bytes.Count(out, test)
		if loops == 0 {
			t.Errorf("%s: no loop head tests", name)
		}
		if _, err := r.CompileModule(ctx, out); err != nil {
			t.Errorf("%s: the rewritten module does not compile: %v", name, err)
		}
		t.Logf("%s: %d bytes, %d more rewritten, %d loop heads tested", name, len(code), len(out)-len(code), loops)
	}
}

func TestAddInterruptRefuses(t *testing.T) {
	tm := abiModule(1)
	tm.exports = append(tm.exports, exportEntry{name: interruptExport, kind: externFunc, index: 0})
	m, err := parseModule(tm.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.addInterrupt(); err == nil || !strings.Contains(err.Error(), `the module exports "chorus.interrupt", a name reserved for the host`) {
		t.Errorf("a module exporting the flag's name: %v", err)
	}
	for _, tc := range []struct {
		body []byte
		want string
	}{
		{[]byte{0x06}, "unknown instruction 0x06"},
		{[]byte{0xfc, 0x20}, "unknown instruction 0xfc 32"},
		{[]byte{0x03, 0x40}, "unexpected end of data"}, // no end
		{[]byte{0x03, 0x80, 0x80, 0x80, 0x80, 0x7f}, "invalid block type"},
	} {
		tm := abiModule(1)
		tm.funcs[0].body = tc.body
		m, err := parseModule(tm.bytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.addInterrupt(); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "code of function 0") {
			t.Errorf("body % x: %v, want an error naming function 0 and %q", tc.body, err, tc.want)
		}
	}
}

// An endless loop in _initialize ends at the time limit: Load fails.
func TestTimeLimitInInitialize(t *testing.T) {
	r := newRuntime(t, Options{TimeLimit: 200 * time.Millisecond})
	tm := abiModule(1)
	tm.funcs[0].body = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} // loop br 0 end
	start := time.Now()
	_, err := r.Load(context.Background(), tm.bytes())
	if err == nil || err.Error() != "wasm: creating an instance: contract exceeded its time limit of 200ms" {
		t.Fatalf("Load: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Load returned after %v", d)
	}
}
