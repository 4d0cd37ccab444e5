package wasm

import (
	"bytes"
	"context"
	"runtime"
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
//	2 mixed() -> i32: br_table, memory, constants of every width, 0xfc
//	  and 0xfd instructions, a loop with a parameter and a type-index
//	  block type, if and else
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
		0x41, 0x00, 0xfd, 0x0f, 0xfd, 0x1b, 0x00, 0x6a, // i32.const 0; i8x16.splat; i32x4.extract_lane 0; i32.add
		0x41, 0x00, 0xfd, 0x00, 0x04, 0x00, 0xfd, 0x1b, 0x01, 0x6a, // i32.const 0; v128.load; i32x4.extract_lane 1; i32.add
		0x3f, 0x00, 0x6a, // memory.size; i32.add
		0x03, 0x00, 0x41, 0x01, 0x6b, 0x0b, // loop (type 0: i32 -> i32) i32.const 1; i32.sub end: the sum, less 1
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
	// Two more globals, mutable i32: the flag, exported, and the countdown.
	mutI32 := globalType{valueType: valI32, mutable: true}
	if len(got.globals) != 3 || got.globals[1] != mutI32 || got.globals[2] != mutI32 {
		t.Fatalf("globals %+v", got.globals)
	}
	if e, ok := got.export(interruptExport); !ok || e.kind != externGlobal || e.index != 1 {
		t.Fatalf("export %q: %+v %v", interruptExport, e, ok)
	}
	// Every loop and every function begins with the test, and nothing
	// else changed.
	test := interruptTest(1)
	gotCode := got.sections[got.sectionIndex(sectionCode)].body
	if n := bytes.Count(gotCode, append([]byte{0x03, 0x40}, test...)) + bytes.Count(gotCode, append([]byte{0x03, 0x00}, test...)); n != 4 {
		t.Errorf("%d loops followed by the test, want 4", n)
	}
	if n := bytes.Count(gotCode, test); n != 7 { // the loops' and the three functions' entries
		t.Errorf("%d tests, want 7", n)
	}
	if restored := bytes.ReplaceAll(gotCode, test, nil); len(restored) != len(gotCode)-7*len(test) {
		t.Errorf("the test appears elsewhere")
	}

	ctx := context.Background()
	r := plainRuntime(t)
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
	wantTrap(t, spin(mod))
}

// spin calls the endless loop f1 of mod in a goroutine; the channel gets
// what the call returns.
func spin(mod api.Module) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("f1").Call(context.Background())
		done <- err
	}()
	return done
}

// wantTrap waits, at most 10 s, for the loop spin started to stop with the
// unreachable trap the flag makes.
func wantTrap(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("the interrupted loop returned %v, want the unreachable trap", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the endless loop did not stop 10 s after the flag was set")
	}
}

// plainRuntime is a wazero runtime with the features the peer's has and
// none of its host modules, closed when the test ends.
func plainRuntime(t *testing.T) wazero.Runtime {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2&^api.CoreFeatureReferenceTypes))
	t.Cleanup(func() { r.Close(ctx) })
	return r
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
	r := plainRuntime(t)
	for name, code := range map[string][]byte{"guest": guestWasm, "assets": samples.AssetsModule} {
		m, err := parseModule(code)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.addInterrupt()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		loops := bytes.Count(out, interruptTest(m.importedGlobals+uint32(len(m.globals))))
		if loops == 0 {
			t.Errorf("%s: no loop head tests", name)
		}
		if _, err := r.CompileModule(ctx, out); err != nil {
			t.Errorf("%s: the rewritten module does not compile: %v", name, err)
		}
		t.Logf("%s: %d bytes, %d more rewritten, %d loop heads and function entries tested", name, len(code), len(out)-len(code), loops)
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
		{[]byte{0x41, 0x00, 0x24, 0x02}, "global 2, which the module does not define"}, // global.set of the flag's index
		{[]byte{0x23, 0x03, 0x1a}, "global 3, which the module does not define"},       // global.get of the countdown's
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

// A contract in an endless loop leaves for Go often enough that the Go
// runtime can stop the world: a garbage collection completes while it
// spins, and so do the timers that set the flag. (Go cannot preempt
// compiled code; without the exits runtime.GC would wait for the loop
// for ever.)
func TestInterruptLetsTheWorldStop(t *testing.T) {
	tm := loopsModule()
	m, err := parseModule(tm.bytes())
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.addInterrupt()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := plainRuntime(t)
	mod, err := r.Instantiate(ctx, exportAll(t, out))
	if err != nil {
		t.Fatal(err)
	}
	spun := spin(mod)
	time.Sleep(50 * time.Millisecond)
	collected := make(chan struct{})
	go func() {
		for range 3 {
			runtime.GC()
		}
		close(collected)
	}()
	select {
	case <-collected:
	case <-time.After(10 * time.Second):
		t.Fatal("runtime.GC did not complete in 10 s while a contract looped")
	}
	mod.ExportedGlobal(interruptExport).(api.MutableGlobal).Set(1)
	wantTrap(t, spun)
}
