package samples_test

import (
	"errors"
	"fmt"
	"strings"
)

// A reader of the few sections of a WebAssembly binary that say what a
// module imports and exports, with the signatures of functions.

type module struct {
	imports []wasmImport
	exports map[string]string // name → signature, or "memory", "table", "global"
}

type wasmImport struct {
	module, name, sig string
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New("wasm: " + msg)
	}
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("bad LEB128")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint32(len(r.b)) < n {
		r.fail("unexpected end")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func (r *reader) limits() {
	if r.byte()&1 != 0 {
		r.u32()
	}
	r.u32()
}

var valTypes = map[byte]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref"}

func (r *reader) valTypes() string {
	n := r.u32()
	var names []string
	for range n {
		c := r.byte()
		name, ok := valTypes[c]
		if !ok {
			name = fmt.Sprintf("0x%02x", c)
		}
		names = append(names, name)
	}
	return "(" + strings.Join(names, " ") + ")"
}

func parseModule(b []byte) (*module, error) {
	if len(b) < 8 || string(b[:8]) != "\x00asm\x01\x00\x00\x00" {
		return nil, errors.New("wasm: not a WebAssembly 1.0 binary")
	}
	r := &reader{b: b[8:]}
	var types []string
	var funcTypes []uint32 // of imported, then defined functions
	m := &module{exports: make(map[string]string)}
	type export struct {
		name string
		kind byte
		idx  uint32
	}
	var exports []export
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		s := &reader{b: r.bytes(r.u32())}
		switch id {
		case 1: // types
			for range s.u32() {
				if s.byte() != 0x60 {
					s.fail("bad function type")
				}
				params := s.valTypes()
				results := s.valTypes()
				if results == "(i32)" || results == "(i64)" || results == "(f32)" || results == "(f64)" {
					results = results[1 : len(results)-1]
				}
				types = append(types, params+" -> "+results)
			}
		case 2: // imports
			for range s.u32() {
				imp := wasmImport{module: s.name(), name: s.name()}
				switch s.byte() {
				case 0:
					t := s.u32()
					funcTypes = append(funcTypes, t)
					if int(t) < len(types) {
						imp.sig = types[t]
					}
				case 1:
					s.byte()
					s.limits()
				case 2:
					s.limits()
				case 3:
					s.byte()
					s.byte()
				default:
					s.fail("bad import kind")
				}
				m.imports = append(m.imports, imp)
			}
		case 3: // functions
			for range s.u32() {
				funcTypes = append(funcTypes, s.u32())
			}
		case 7: // exports
			for range s.u32() {
				exports = append(exports, export{name: s.name(), kind: s.byte(), idx: s.u32()})
			}
		}
		if s.err != nil {
			return nil, s.err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	for _, e := range exports {
		switch e.kind {
		case 0:
			if int(e.idx) >= len(funcTypes) || int(funcTypes[e.idx]) >= len(types) {
				return nil, fmt.Errorf("wasm: export %s: bad function index", e.name)
			}
			m.exports[e.name] = types[funcTypes[e.idx]]
		case 1:
			m.exports[e.name] = "table"
		case 2:
			m.exports[e.name] = "memory"
		case 3:
			m.exports[e.name] = "global"
		}
	}
	return m, nil
}
