package wasm

import (
	"context"
	"github.com/chorusledger/chorus/samples"
	"slices"
	"strings"
	"testing"
)

// specHostFunctions are the functions of spec §4 with their signatures,
// as the spec's table writes them.
var specHostFunctions = map[string]string{
	"abi_version":     "() -> i32",
	"take":            "(i32, i32) -> i64",
	"args":            "() -> i64",
	"tx_id":           "() -> i64",
	"tx_timestamp":    "() -> i64",
	"channel_id":      "() -> i64",
	"creator":         "() -> i64",
	"creator_msp_id":  "() -> i64",
	"get_state":       "(i32, i32) -> i64",
	"put_state":       "(i32, i32, i32, i32) -> i64",
	"del_state":       "(i32, i32) -> i64",
	"range_open":      "(i32, i32, i32, i32, i32) -> i64",
	"range_next":      "(i32) -> i64",
	"history_open":    "(i32, i32) -> i64",
	"history_next":    "(i32) -> i64",
	"iterator_close":  "(i32) -> i64",
	"set_event":       "(i32, i32, i32, i32) -> i64",
	"invoke_contract": "(i32, i32, i32, i32) -> i64",
	"log":             "(i32, i32, i32) -> i64",
	"set_response":    "(i32, i32, i32, i32, i32) -> i64",
}

func TestHostFunctionsMatchSpec(t *testing.T) {
	got := map[string]string{}
	for _, f := range hostFunctions() {
		if _, dup := got[f.name]; dup {
			t.Errorf("%s defined twice", f.name)
		}
		got[f.name] = f.sig.String()
	}
	for name, want := range specHostFunctions {
		if got[name] != want {
			t.Errorf("%s: signature %q, spec says %q", name, got[name], want)
		}
	}
	for name := range got {
		if _, ok := specHostFunctions[name]; !ok {
			t.Errorf("%s is not in the spec", name)
		}
	}
}

// TestWASIImports checks that the WASI functions a contract may import
// are exactly those wazero provides, with wazero's signatures, and that a
// real sample contract, whose Go runtime links the os package's file and
// socket calls, loads.
func TestWASIImports(t *testing.T) {
	r := newRuntime(t, Options{})
	defs := r.wz.Module(wasiModule).ExportedFunctionDefinitions()
	if len(r.wasiImports) != len(defs) || len(defs) < 40 {
		t.Fatalf("%d WASI imports allowed, wazero provides %d", len(r.wasiImports), len(defs))
	}
	for name, d := range defs {
		got := funcType{params: valueBytes(d.ParamTypes()), results: valueBytes(d.ResultTypes())}
		if want := r.wasiImports[name]; !got.equal(want) {
			t.Errorf("%s: allowed as %s, wazero's signature is %s", name, want, got)
		}
	}
	if want := (funcType{params: []byte(i32 + i32 + i32 + i32), results: []byte(i32)}); !r.wasiImports["fd_write"].equal(want) {
		t.Errorf("fd_write: %s", r.wasiImports["fd_write"])
	}
	if _, err := r.Load(context.Background(), samples.AssetsModule); err != nil {
		t.Fatalf("the assets sample does not load: %v", err)
	}
}

func valueBytes[T ~byte](ts []T) []byte {
	out := make([]byte, len(ts))
	for i, t := range ts {
		out[i] = byte(t)
	}
	return out
}

func TestValidate(t *testing.T) {
	wasiRT := newRuntime(t, Options{})
	chorus := func(name string) (funcType, bool) {
		for _, f := range hostFunctions() {
			if f.name == name {
				return f.sig, true
			}
		}
		return funcType{}, false
	}
	with := func(edit func(tm *testModule)) testModule {
		tm := abiModule(1)
		edit(&tm)
		return tm
	}
	// addImport prepends a function import, shifting function indices.
	addImport := func(tm *testModule, imp testImport, typ funcType) {
		tm.types = append(tm.types, typ)
		imp.desc = appendU32(nil, uint32(len(tm.types)-1))
		tm.imports = append(tm.imports, imp)
		for i := range tm.exports {
			if tm.exports[i].kind == externFunc {
				tm.exports[i].index++
			}
		}
	}
	for _, tc := range []struct {
		name string
		tm   testModule
		want []string // "" means valid
	}{
		{"valid", abiModule(1), nil},
		{"valid with imports", with(func(tm *testModule) {
			addImport(tm, testImport{module: wasiModule, name: "fd_write", kind: externFunc}, sig(i32+i32+i32+i32, i32))
			addImport(tm, testImport{module: chorusModule, name: "get_state", kind: externFunc}, sig(i32+i32, i64))
		}), nil},
		{"foreign import", with(func(tm *testModule) {
			addImport(tm, testImport{module: "env", name: "now", kind: externFunc}, sig(none, i64))
		}), []string{"imports env.now", "only from wasi_snapshot_preview1 and chorus"}},
		{"unknown wasi function", with(func(tm *testModule) {
			addImport(tm, testImport{module: wasiModule, name: "no_such_function", kind: externFunc}, sig(i32, i32))
		}), []string{"imports wasi_snapshot_preview1.no_such_function, which the host does not provide"}},
		{"unknown chorus function", with(func(tm *testModule) {
			addImport(tm, testImport{module: chorusModule, name: "get_private_data", kind: externFunc}, sig(i32, i64))
		}), []string{"imports chorus.get_private_data, which the host does not provide"}},
		{"wrong signature", with(func(tm *testModule) {
			addImport(tm, testImport{module: chorusModule, name: "get_state", kind: externFunc}, sig(i32+i32, i32))
		}), []string{"imports chorus.get_state with signature (i32, i32) -> i32; the host provides (i32, i32) -> i64"}},
		{"imported memory", with(func(tm *testModule) {
			tm.imports = append(tm.imports, testImport{module: chorusModule, name: "take", kind: externMemory, desc: []byte{0, 1}})
		}), []string{"imports chorus.take as a memory"}},
		{"_start", with(func(tm *testModule) {
			tm.exports = append(tm.exports, exportEntry{name: exportStart, kind: externFunc, index: 0})
		}), []string{"exports _start", "-buildmode=c-shared"}},
		{"no memory export", with(func(tm *testModule) { tm.exports = tm.exports[1:] }), []string{`does not export its memory as "memory"`}},
		{"no exports", with(func(tm *testModule) { tm.exports = nil }), []string{
			`does not export its memory`, "does not export the function _initialize",
			"does not export the function chorus_abi_version", "does not export the function chorus_invoke"}},
		{"wrong export signature", with(func(tm *testModule) { tm.exports[3].index = 0 }), []string{"its export chorus_invoke has signature () -> (), not () -> i32"}},
		{"export of a missing function", with(func(tm *testModule) { tm.exports[3].index = 9 }), []string{"names function 9, which does not exist"}},
		{"export kind", with(func(tm *testModule) { tm.exports[1].kind = externGlobal }), []string{"its export _initialize is a global"}},
		{"reserved export", with(func(tm *testModule) {
			tm.exports = append(tm.exports, exportEntry{name: "chorus.global.0", kind: externGlobal, index: 0})
		}), []string{`exports "chorus.global.0"`, "reserved"}},
		{"mutable v128 global", with(func(tm *testModule) {
			tm.globals = append(tm.globals, testGlobal{valueType: valV128, mutable: true, init: append([]byte{0xfd, 12}, make([]byte, 16)...)})
		}), []string{"global 2 is a mutable v128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseModule(tc.tm.bytes())
			if err != nil {
				t.Fatal(err)
			}
			err = validate(m, wasiRT.wasiLookup, chorus)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("valid")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "wasm: invalid contract module: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
		})
	}
}

// TestLoadValidation checks what Load refuses, with clear errors, and
// what a minimal valid module does.
func TestLoadValidation(t *testing.T) {
	r := newRuntime(t, Options{PoolSize: 2})
	ctx := context.Background()
	foreign := abiModule(1)
	foreign.types = append(foreign.types, sig(none, none))
	foreign.imports = []testImport{funcImport("env", "abort", 2)}
	for i := range foreign.exports[1:] {
		foreign.exports[i+1].index++
	}
	for _, tc := range []struct {
		name string
		code []byte
		want string
	}{
		{"not wasm", []byte("#!/bin/sh\n"), "wasm: not a WebAssembly module"},
		{"foreign import", foreign.bytes(), "wasm: invalid contract module: it imports env.abort"},
		{"ABI version 2", abiModule(2).bytes(), "wasm: contract speaks ABI version 2; this peer supports 1"},
		{"trap in _initialize", func() []byte {
			tm := abiModule(1)
			tm.funcs[0].body = []byte{0x00} // unreachable
			return tm.bytes()
		}(), "wasm: creating an instance: contract trapped: wasm error: unreachable"},
		{"host function in _initialize", func() []byte {
			tm := abiModule(1)
			tm.types = append(tm.types, sig(none, i64))
			tm.imports = []testImport{funcImport(chorusModule, "args", 2)}
			tm.funcs[0].body = []byte{0x10, 0x00, 0x1a} // call 0 (args); drop
			for i := range tm.exports[1:] {
				tm.exports[i+1].index++
			}
			return tm.bytes()
		}(), "wasm: creating an instance: contract trapped: wasm: the host function args was called outside an invocation"},
		{"warm-up fails", withWarmup(sig(none, i32), i32Const(3)), "wasm: calling chorus_warmup: it returned 3"},
		{"warm-up traps", withWarmup(sig(none, i32), []byte{0x00}), "wasm: calling chorus_warmup: contract trapped: wasm error: unreachable"},
		{"warm-up signature", withWarmup(sig(i32, i32), i32Const(0)), "its export chorus_warmup has signature"},
		{"start function", func() []byte {
			m, err := parseModule(abiModule(1).bytes())
			if err != nil {
				t.Fatal(err)
			}
			code, err := m.encodeReplacing(map[byte][]byte{sectionStart: {0x00}}) // start: function 0
			if err != nil {
				t.Fatal(err)
			}
			return code
		}(), "it has a start function (section 8): a contract initialises itself in _initialize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := r.Load(ctx, tc.code)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, tc.want)
			}
			if m != nil {
				t.Fatal("Load returned a module and an error")
			}
		})
	}

	// A minimal module that follows the ABI loads; its invocation fails
	// for want of a response, and the failed instance is dropped.
	m, err := r.Load(ctx, abiModule(1).bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.globalNames, []string{"chorus.global.0"}) {
		t.Errorf("restored globals %q, want the mutable one only", m.globalNames)
	}
	res := m.Invoke(newFakeStub("f"))
	if res.Status != 500 || res.Message != "contract returned without setting a response" {
		t.Errorf("response %d %q", res.Status, res.Message)
	}
	if len(m.idle) != 0 {
		t.Errorf("%d idle instances after a failed invocation, want 0", len(m.idle))
	}
}

// withWarmup returns the minimal ABI module with a chorus_warmup export of
// type typ and body body.
func withWarmup(typ funcType, body []byte) []byte {
	tm := abiModule(1)
	tm.types = append(tm.types, typ)
	tm.funcs = append(tm.funcs, testFunc{typeIndex: uint32(len(tm.types) - 1), body: body})
	tm.exports = append(tm.exports, exportEntry{name: exportWarmup, kind: externFunc, index: uint32(len(tm.funcs) - 1)})
	return tm.bytes()
}
