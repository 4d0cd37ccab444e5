package wasm

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// testModule assembles small modules for the tests of the binary reader,
// the rewriting and the validation.
type testModule struct {
	types   []funcType
	imports []testImport
	funcs   []testFunc
	pages   int // memory pages; 0: no memory
	globals []testGlobal
	exports []exportEntry
	// customs are custom sections (name, payload) put first and last.
	customs [][2]string
	// noExportSection leaves the export section out even if exports is
	// empty (an empty one is written otherwise).
	noExportSection bool
}

type testImport struct {
	module, name string
	kind         byte
	desc         []byte // the import description after the kind byte
}

type testFunc struct {
	typeIndex uint32
	body      []byte // the instructions, without locals and end
}

type testGlobal struct {
	valueType byte
	mutable   bool
	init      []byte // the constant expression, without end
}

func funcImport(module, name string, typeIndex uint32) testImport {
	return testImport{module: module, name: name, kind: externFunc, desc: appendU32(nil, typeIndex)}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func appendSection(b []byte, id byte, body []byte) []byte {
	b = append(b, id)
	b = appendU32(b, uint32(len(body)))
	return append(b, body...)
}

func (tm testModule) bytes() []byte {
	b := []byte(wasmHeader)
	custom := func(c [2]string) {
		b = appendSection(b, sectionCustom, append(appendName(nil, c[0]), c[1]...))
	}
	if len(tm.customs) > 0 {
		custom(tm.customs[0])
	}
	if len(tm.types) > 0 {
		body := appendU32(nil, uint32(len(tm.types)))
		for _, t := range tm.types {
			body = append(body, 0x60)
			body = appendU32(body, uint32(len(t.params)))
			body = append(body, t.params...)
			body = appendU32(body, uint32(len(t.results)))
			body = append(body, t.results...)
		}
		b = appendSection(b, sectionType, body)
	}
	if len(tm.imports) > 0 {
		body := appendU32(nil, uint32(len(tm.imports)))
		for _, imp := range tm.imports {
			body = appendName(body, imp.module)
			body = appendName(body, imp.name)
			body = append(body, imp.kind)
			body = append(body, imp.desc...)
		}
		b = appendSection(b, sectionImport, body)
	}
	if len(tm.funcs) > 0 {
		body := appendU32(nil, uint32(len(tm.funcs)))
		for _, f := range tm.funcs {
			body = appendU32(body, f.typeIndex)
		}
		b = appendSection(b, sectionFunction, body)
	}
	if tm.pages > 0 {
		body := appendU32(nil, 1)
		body = append(body, 0)
		body = appendU32(body, uint32(tm.pages))
		b = appendSection(b, sectionMemory, body)
	}
	if len(tm.globals) > 0 {
		body := appendU32(nil, uint32(len(tm.globals)))
		for _, g := range tm.globals {
			body = append(body, g.valueType)
			if g.mutable {
				body = append(body, 1)
			} else {
				body = append(body, 0)
			}
			body = append(body, g.init...)
			body = append(body, 0x0b)
		}
		b = appendSection(b, sectionGlobal, body)
	}
	if !tm.noExportSection {
		body := appendU32(nil, uint32(len(tm.exports)))
		for _, e := range tm.exports {
			body = appendName(body, e.name)
			body = append(body, e.kind)
			body = appendU32(body, e.index)
		}
		b = appendSection(b, sectionExport, body)
	}
	if len(tm.funcs) > 0 {
		body := appendU32(nil, uint32(len(tm.funcs)))
		for _, f := range tm.funcs {
			code := append([]byte{0}, f.body...) // no locals
			code = append(code, 0x0b)
			body = appendU32(body, uint32(len(code)))
			body = append(body, code...)
		}
		b = appendSection(b, sectionCode, body)
	}
	if len(tm.customs) > 1 {
		custom(tm.customs[1])
	}
	return b
}

// i32Const is the instruction i32.const v, for small non-negative v.
func i32Const(v byte) []byte { return []byte{0x41, v} }

// abiModule returns a minimal module that follows the ABI and reports the
// given version: _initialize does nothing, chorus_invoke returns 0 without
// setting a response. It has a mutable i32 global and an immutable i64
// one, and custom sections.
func abiModule(version byte) testModule {
	return testModule{
		types: []funcType{sig(none, none), sig(none, i32)},
		funcs: []testFunc{
			{typeIndex: 0},
			{typeIndex: 1, body: i32Const(version)},
			{typeIndex: 1, body: i32Const(0)},
		},
		pages: 1,
		globals: []testGlobal{
			{valueType: valI32, mutable: true, init: []byte{0x41, 0x7f}},          // i32.const -1
			{valueType: valI64, init: []byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x08}}, // i64.const 1<<31
		},
		exports: []exportEntry{
			{name: exportMemory, kind: externMemory, index: 0},
			{name: exportInitialize, kind: externFunc, index: 0},
			{name: exportABIVersion, kind: externFunc, index: 1},
			{name: exportInvoke, kind: externFunc, index: 2},
		},
		customs: [][2]string{{"first", "payload one"}, {"last", "\x00\x01"}},
	}
}

func TestLEB128(t *testing.T) {
	for _, v := range []uint32{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1<<21 - 1, 1 << 28, 0xffffffff} {
		b := appendU32(nil, v)
		r := &reader{b: b}
		if got := r.u32(); r.err != nil || got != v || r.len() != 0 {
			t.Errorf("u32 %d: encoded % x, decoded %d, err %v", v, b, got, r.err)
		}
	}
	for _, tc := range []struct {
		in   string
		bits int
		want int64
		bad  bool
	}{
		{in: "\x00", bits: 32, want: 0},
		{in: "\x7f", bits: 32, want: -1},
		{in: "\x80\x7f", bits: 32, want: -128},
		{in: "\xff\xff\xff\xff\x07", bits: 32, want: 1<<31 - 1},
		{in: "\x80\x80\x80\x80\x78", bits: 32, want: -1 << 31},
		{in: "\xff\xff\xff\xff\x0f", bits: 32, bad: true}, // 2^32-1: too large
		{in: "\x80\x80\x80\x80\x70", bits: 32, bad: true}, // bad sign extension
		{in: "\x80\x80\x80\x80\x80\x00", bits: 32, bad: true},
		{in: "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", bits: 64, want: -1 << 63},
		{in: "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", bits: 64, want: 1<<63 - 1},
		{in: "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", bits: 64, bad: true},
		{in: "\x80", bits: 32, bad: true},
	} {
		r := &reader{b: []byte(tc.in)}
		got := r.signed(tc.bits)
		if (r.err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("s%d % x: got %d, err %v; want %d, bad %v", tc.bits, tc.in, got, r.err, tc.want, tc.bad)
		}
	}
	for _, in := range []string{"\x80\x80\x80\x80\x10", "\x80\x80\x80\x80\x80\x00", "\xff", ""} {
		r := &reader{b: []byte(in)}
		if r.u32(); r.err == nil {
			t.Errorf("u32 % x: no error", in)
		}
	}
}

func TestExportGlobals(t *testing.T) {
	tm := abiModule(1)
	code := tm.bytes()
	m, err := parseModule(code)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.encode(); !bytes.Equal(got, code) {
		t.Fatal("encode does not give back the module")
	}
	out, err := m.exportGlobals()
	if err != nil {
		t.Fatal(err)
	}
	want := tm
	want.exports = append(append([]exportEntry(nil), tm.exports...),
		exportEntry{name: "chorus.global.0", kind: externGlobal, index: 0},
		exportEntry{name: "chorus.global.1", kind: externGlobal, index: 1})
	if !bytes.Equal(out, want.bytes()) {
		t.Fatalf("rewritten module\n% x\nwant\n% x", out, want.bytes())
	}
	checkRewrite(t, code, out)

	// wazero accepts it and sees the globals.
	ctx := context.Background()
	r := plainRuntime(t)
	mod, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	g0, ok := mod.ExportedGlobal("chorus.global.0").(api.MutableGlobal)
	if !ok || api.DecodeI32(g0.Get()) != -1 {
		t.Errorf("chorus.global.0 = %v, want a mutable global holding -1", mod.ExportedGlobal("chorus.global.0"))
	}
	g1 := mod.ExportedGlobal("chorus.global.1")
	if _, mutable := g1.(api.MutableGlobal); mutable || g1.Get() != 1<<31 {
		t.Errorf("chorus.global.1 = %v, want an immutable global holding 2^31", g1)
	}
}

// checkRewrite checks that rewritten is orig with only its export section
// changed, the original entries first.
func checkRewrite(t *testing.T, orig, rewritten []byte) {
	t.Helper()
	a, err := parseModule(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseModule(rewritten)
	if err != nil {
		t.Fatalf("the rewritten module does not parse: %v", err)
	}
	var as, bs []section
	for _, s := range a.sections {
		if s.id != sectionExport {
			as = append(as, s)
		}
	}
	for _, s := range b.sections {
		if s.id != sectionExport {
			bs = append(bs, s)
		}
	}
	if len(as) != len(bs) {
		t.Fatalf("%d sections besides exports, want %d", len(bs), len(as))
	}
	for i := range as {
		if !bytes.Equal(as[i].raw, bs[i].raw) {
			t.Fatalf("section %d (id %d) changed", i, as[i].id)
		}
	}
	if len(b.exports) != len(a.exports)+len(a.globals) {
		t.Fatalf("%d exports, want %d", len(b.exports), len(a.exports)+len(a.globals))
	}
	for i, e := range a.exports {
		if b.exports[i] != e {
			t.Fatalf("export %d is %v, want %v", i, b.exports[i], e)
		}
	}
	for i := range a.globals {
		e := b.exports[len(a.exports)+i]
		idx := a.importedGlobals + uint32(i)
		if e != (exportEntry{name: globalExportName(idx), kind: externGlobal, index: idx}) {
			t.Fatalf("added export %d is %v", i, e)
		}
	}
	// The original export entries are kept byte for byte.
	if !bytes.HasPrefix(b.exportEntries, a.exportEntries) {
		t.Fatal("the original export entries changed")
	}
}

func TestExportGlobalsImportedGlobalsAndNoExportSection(t *testing.T) {
	tm := testModule{
		imports: []testImport{
			{module: "env", name: "g", kind: externGlobal, desc: []byte{valI32, 0}},
			{module: "env", name: "h", kind: externGlobal, desc: []byte{valI64, 0}},
		},
		globals: []testGlobal{
			{valueType: valF64, mutable: true, init: append([]byte{0x44}, make([]byte, 8)...)},
			{valueType: valI32, init: []byte{0x23, 0}}, // global.get 0
		},
		noExportSection: true,
		customs:         [][2]string{{"a", ""}, {"b", "z"}},
	}
	code := tm.bytes()
	m, err := parseModule(code)
	if err != nil {
		t.Fatal(err)
	}
	if m.exportSection != -1 || m.importedGlobals != 2 {
		t.Fatalf("exportSection %d, importedGlobals %d", m.exportSection, m.importedGlobals)
	}
	out, err := m.exportGlobals()
	if err != nil {
		t.Fatal(err)
	}
	want := tm
	want.noExportSection = false
	want.exports = []exportEntry{
		{name: "chorus.global.2", kind: externGlobal, index: 2},
		{name: "chorus.global.3", kind: externGlobal, index: 3},
	}
	if !bytes.Equal(out, want.bytes()) {
		t.Fatalf("rewritten module\n% x\nwant\n% x", out, want.bytes())
	}
	checkRewrite(t, code, out)

	// Without globals nothing changes.
	tm.globals = nil
	code = tm.bytes()
	m, err = parseModule(code)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := m.exportGlobals(); err != nil || !bytes.Equal(out, code) {
		t.Fatalf("module without globals rewritten (err %v)", err)
	}
}

func TestExportGlobalsGuest(t *testing.T) {
	m, err := parseModule(guestWasm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.encode(), guestWasm) {
		t.Fatal("encode does not give back the guest module")
	}
	if len(m.globals) == 0 {
		t.Fatal("the guest has no globals")
	}
	out, err := m.exportGlobals()
	if err != nil {
		t.Fatal(err)
	}
	checkRewrite(t, guestWasm, out)
	t.Logf("guest: %d bytes, %d sections, %d globals, %d imports, %d exports; rewritten: %d bytes",
		len(guestWasm), len(m.sections), len(m.globals), len(m.imports), len(m.exports), len(out))
}

func TestParseModuleErrors(t *testing.T) {
	valid := abiModule(1).bytes()
	dup := abiModule(1)
	dup.exports = append(dup.exports, dup.exports[0])
	badGlobal := abiModule(1)
	badGlobal.globals[0].init = []byte{0x41, 0x80} // truncated LEB
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "magic number"},
		{"not wasm", []byte("hello, world"), "magic number"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "version 2"},
		{"truncated section", valid[:len(valid)-3], "exceeds"},
		{"unknown section", append(append([]byte(nil), valid...), 13, 0), "unknown section id 13"},
		{"section out of order", append(append([]byte(nil), valid...), sectionType, 1, 0), "out of order"},
		{"duplicate export", dup.bytes(), `export "memory" appears twice`},
		{"bad global", badGlobal.bytes(), "global 0"},
		{"trailing bytes in a section", append([]byte(wasmHeader), sectionType, 2, 0, 0), "1 bytes after the last entry"},
		{"huge vector", append([]byte(wasmHeader), sectionType, 5, 0xff, 0xff, 0xff, 0xff, 0x0f), "vector of"},
		{"bad custom name", append([]byte(wasmHeader), sectionCustom, 2, 1, 0xff), "UTF-8"},
		{"functions without code", appendSection(appendSection([]byte(wasmHeader), sectionType, []byte{1, 0x60, 0, 0}), sectionFunction, []byte{1, 0}), "no code section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseModule(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "wasm: ") {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzParseModule checks that the reader never panics, that what it reads
// it writes back unchanged, that a module with its globals exported reads
// back with only its exports changed, and that one with the interrupt
// flag reads back with the flag and the countdown.
func FuzzParseModule(f *testing.F) {
	f.Add(abiModule(1).bytes())
	f.Add(testModule{
		imports: []testImport{{module: "env", name: "g", kind: externGlobal, desc: []byte{valI32, 1}}},
		globals: []testGlobal{{valueType: valI32, mutable: true, init: i32Const(3)}}, noExportSection: true,
	}.bytes())
	f.Add([]byte(wasmHeader))
	f.Add(append([]byte(wasmHeader), sectionCustom, 0x81, 0x80, 0x80, 0x80, 0x00)) // padded size LEB
	f.Add(loopsModule().bytes())
	f.Fuzz(func(t *testing.T, code []byte) {
		m, err := parseModule(code)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wasm: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if !bytes.Equal(m.encode(), code) {
			t.Fatal("encode does not give back the input")
		}
		none := func(string) (funcType, bool) { return funcType{}, false }
		_ = validate(m, none, none)
		// The interrupt flag's rewriting never panics, and what it writes
		// reads back with two globals and one export more.
		if out, err := m.addInterrupt(); err == nil {
			got, err := parseModule(out)
			if err != nil {
				t.Fatalf("the module with the interrupt flag does not parse: %v", err)
			}
			if len(got.globals) != len(m.globals)+2 || len(got.exports) != len(m.exports)+1 {
				t.Fatalf("%d globals and %d exports, want %d and %d", len(got.globals), len(got.exports), len(m.globals)+2, len(m.exports)+1)
			}
		} else if !strings.HasPrefix(err.Error(), "wasm: ") {
			t.Fatalf("error without prefix: %v", err)
		}
		out, err := m.exportGlobals()
		if err != nil {
			return
		}
		checkRewrite(t, code, out)
	})
}
