package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads and writes the WebAssembly binary format
// (https://webassembly.github.io/spec/core/binary/), as far as installation
// needs: the sections that describe a module's interface (types, imports,
// functions, globals, exports) are decoded; every other section is kept as
// opaque bytes and written back unchanged.

// Section ids of the binary format.
const (
	sectionCustom    byte = 0
	sectionType      byte = 1
	sectionImport    byte = 2
	sectionFunction  byte = 3
	sectionTable     byte = 4
	sectionMemory    byte = 5
	sectionGlobal    byte = 6
	sectionExport    byte = 7
	sectionStart     byte = 8
	sectionElement   byte = 9
	sectionCode      byte = 10
	sectionData      byte = 11
	sectionDataCount byte = 12
)

// External kinds of imports and exports.
const (
	externFunc   byte = 0
	externTable  byte = 1
	externMemory byte = 2
	externGlobal byte = 3
)

// Value types.
const (
	valI32       byte = 0x7f
	valI64       byte = 0x7e
	valF32       byte = 0x7d
	valF64       byte = 0x7c
	valV128      byte = 0x7b
	valFuncref   byte = 0x70
	valExternref byte = 0x6f
)

// wasmHeader is the magic number and version 1 of the binary format.
const wasmHeader = "\x00asm\x01\x00\x00\x00"

// globalExportPrefix begins the names of the exports that installation adds
// for the module's defined globals (spec §1, §6).
const globalExportPrefix = "chorus.global."

// maxBinaryEntries bounds the entries of a decoded vector, far above what a
// real module has, so that a hostile count cannot make the reader allocate
// much before the bytes run out.
const maxBinaryEntries = 1 << 20

// funcType is a function signature.
type funcType struct {
	params, results []byte
}

func (t funcType) equal(o funcType) bool {
	return bytes.Equal(t.params, o.params) && bytes.Equal(t.results, o.results)
}

// String formats t as the spec writes signatures: "(i32, i32) -> i64".
func (t funcType) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range t.params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(valueTypeName(p))
	}
	b.WriteString(") -> ")
	switch len(t.results) {
	case 0:
		b.WriteString("()")
	case 1:
		b.WriteString(valueTypeName(t.results[0]))
	default:
		b.WriteByte('(')
		for i, r := range t.results {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(valueTypeName(r))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func valueTypeName(t byte) string {
	switch t {
	case valI32:
		return "i32"
	case valI64:
		return "i64"
	case valF32:
		return "f32"
	case valF64:
		return "f64"
	case valV128:
		return "v128"
	case valFuncref:
		return "funcref"
	case valExternref:
		return "externref"
	}
	return fmt.Sprintf("0x%02x", t)
}

// importEntry is one import of a module.
type importEntry struct {
	module, name string
	kind         byte
	typeIndex    uint32 // for a function
}

// globalType is the type of a global.
type globalType struct {
	valueType byte
	mutable   bool
}

// exportEntry is one export of a module.
type exportEntry struct {
	name  string
	kind  byte
	index uint32
}

// section is one section of a module, as it appears in the binary.
type section struct {
	id   byte
	raw  []byte // the whole section: id, size and contents
	body []byte // the contents
}

// binaryModule is a decoded module binary: its sections in order, and the
// parts of its interface that installation checks and rewrites.
type binaryModule struct {
	sections []section

	types     []funcType
	imports   []importEntry
	functions []uint32     // type index of each defined function
	globals   []globalType // the defined globals
	exports   []exportEntry

	importedFuncs, importedGlobals uint32

	// exportSection is the index in sections of the export section, or -1.
	exportSection int
	// exportEntries are the bytes of the export section after its count:
	// the original entries, kept verbatim.
	exportEntries []byte
}

// sectionRank orders the non-custom sections as the binary format requires
// them to appear; the data count section comes between element and code.
func sectionRank(id byte) int {
	switch id {
	case sectionDataCount:
		return int(sectionElement) + 1
	case sectionCode, sectionData:
		return int(id) + 1
	}
	return int(id)
}

// parseModule decodes a module binary. It checks the structure of every
// section's framing and decodes the type, import, function, global and
// export sections completely; the other sections are kept as they are
// (the compiler validates them). It never panics, whatever the input.
func parseModule(code []byte) (*binaryModule, error) {
	if len(code) < len(wasmHeader) || string(code[:len(wasmHeader)]) != wasmHeader {
		if len(code) >= 8 && string(code[:4]) == wasmHeader[:4] {
			return nil, fmt.Errorf("wasm: unsupported binary format version %d", uint32(code[4])|uint32(code[5])<<8|uint32(code[6])<<16|uint32(code[7])<<24)
		}
		return nil, errors.New("wasm: not a WebAssembly module: the magic number \\0asm is missing")
	}
	m := &binaryModule{exportSection: -1}
	r := &reader{b: code, off: len(wasmHeader)}
	lastRank := 0
	for r.len() > 0 {
		start := r.off
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, fmt.Errorf("wasm: section header at offset %d: %w", start, r.err)
		}
		if uint64(size) > uint64(r.len()) {
			return nil, fmt.Errorf("wasm: section %d at offset %d: size %d exceeds the %d bytes left", id, start, size, r.len())
		}
		body := r.b[r.off : r.off+int(size)]
		r.off += int(size)
		s := section{id: id, raw: r.b[start:r.off], body: body}
		if id > sectionDataCount {
			return nil, fmt.Errorf("wasm: unknown section id %d at offset %d", id, start)
		}
		if id != sectionCustom {
			rank := sectionRank(id)
			if rank <= lastRank {
				return nil, fmt.Errorf("wasm: section %d at offset %d is out of order or repeated", id, start)
			}
			lastRank = rank
		}
		if err := m.decodeSection(s, start); err != nil {
			return nil, err
		}
		if id == sectionExport {
			m.exportSection = len(m.sections)
		}
		m.sections = append(m.sections, s)
	}
	if len(m.functions) > 0 && !m.hasSection(sectionCode) {
		return nil, errors.New("wasm: the module declares functions but has no code section")
	}
	return m, nil
}

func (m *binaryModule) hasSection(id byte) bool {
	for _, s := range m.sections {
		if s.id == id {
			return true
		}
	}
	return false
}

// decodeSection decodes the sections installation needs; start is the
// section's offset, for error messages.
func (m *binaryModule) decodeSection(s section, start int) error {
	r := &reader{b: s.body}
	var err error
	switch s.id {
	case sectionCustom:
		r.name()
		if r.err != nil {
			return fmt.Errorf("wasm: custom section at offset %d: %w", start, r.err)
		}
		return nil // the rest is opaque
	case sectionType:
		err = m.decodeTypes(r)
	case sectionImport:
		err = m.decodeImports(r)
	case sectionFunction:
		n := r.count()
		m.functions = make([]uint32, 0, n)
		for range n {
			m.functions = append(m.functions, r.u32())
		}
		err = r.err
	case sectionGlobal:
		err = m.decodeGlobals(r)
	case sectionExport:
		err = m.decodeExports(r)
	default:
		return nil
	}
	if err == nil && r.len() != 0 {
		err = fmt.Errorf("%d bytes after the last entry", r.len())
	}
	if err != nil {
		return fmt.Errorf("wasm: section %d at offset %d: %w", s.id, start, err)
	}
	return nil
}

func (m *binaryModule) decodeTypes(r *reader) error {
	n := r.count()
	m.types = make([]funcType, 0, n)
	for i := range n {
		if form := r.byte(); r.err == nil && form != 0x60 {
			return fmt.Errorf("type %d: form 0x%02x is not a function type", i, form)
		}
		var t funcType
		t.params = r.valueTypes()
		t.results = r.valueTypes()
		if r.err != nil {
			return fmt.Errorf("type %d: %w", i, r.err)
		}
		m.types = append(m.types, t)
	}
	return r.err
}

func (m *binaryModule) decodeImports(r *reader) error {
	n := r.count()
	m.imports = make([]importEntry, 0, n)
	for i := range n {
		e := importEntry{module: r.name(), name: r.name(), kind: r.byte()}
		if r.err != nil {
			return fmt.Errorf("import %d: %w", i, r.err)
		}
		switch e.kind {
		case externFunc:
			e.typeIndex = r.u32()
			if r.err == nil && e.typeIndex >= uint32(len(m.types)) {
				return fmt.Errorf("import %s.%s: type index %d out of range", e.module, e.name, e.typeIndex)
			}
			m.importedFuncs++
		case externTable:
			r.valueType()
			r.limits()
		case externMemory:
			r.limits()
		case externGlobal:
			r.valueType()
			r.mutability()
			m.importedGlobals++
		default:
			return fmt.Errorf("import %s.%s: unknown kind %d", e.module, e.name, e.kind)
		}
		if r.err != nil {
			return fmt.Errorf("import %s.%s: %w", e.module, e.name, r.err)
		}
		m.imports = append(m.imports, e)
	}
	return r.err
}

func (m *binaryModule) decodeGlobals(r *reader) error {
	n := r.count()
	m.globals = make([]globalType, 0, n)
	for i := range n {
		g := globalType{valueType: r.valueType(), mutable: r.mutability()}
		r.constExpr()
		if r.err != nil {
			return fmt.Errorf("global %d: %w", i, r.err)
		}
		m.globals = append(m.globals, g)
	}
	return r.err
}

func (m *binaryModule) decodeExports(r *reader) error {
	n := r.count()
	entriesStart := r.off
	m.exports = make([]exportEntry, 0, n)
	seen := make(map[string]bool, n)
	for i := range n {
		e := exportEntry{name: r.name(), kind: r.byte(), index: r.u32()}
		if r.err != nil {
			return fmt.Errorf("export %d: %w", i, r.err)
		}
		if e.kind > externGlobal {
			return fmt.Errorf("export %q: unknown kind %d", e.name, e.kind)
		}
		if seen[e.name] {
			return fmt.Errorf("export %q appears twice", e.name)
		}
		seen[e.name] = true
		m.exports = append(m.exports, e)
	}
	m.exportEntries = r.b[entriesStart:r.off]
	return r.err
}

// export returns the export called name.
func (m *binaryModule) export(name string) (exportEntry, bool) {
	for _, e := range m.exports {
		if e.name == name {
			return e, true
		}
	}
	return exportEntry{}, false
}

// funcType returns the signature of the function with the given index in
// the module's function index space (imports first).
func (m *binaryModule) funcType(index uint32) (funcType, bool) {
	if index < m.importedFuncs {
		var i uint32
		for _, imp := range m.imports {
			if imp.kind != externFunc {
				continue
			}
			if i == index {
				return m.types[imp.typeIndex], true
			}
			i++
		}
		return funcType{}, false
	}
	d := uint64(index) - uint64(m.importedFuncs)
	if d >= uint64(len(m.functions)) {
		return funcType{}, false
	}
	t := m.functions[d]
	if t >= uint32(len(m.types)) {
		return funcType{}, false
	}
	return m.types[t], true
}

// globalExportName is the name of the export added for the global with the
// given index in the module's global index space.
func globalExportName(index uint32) string {
	return globalExportPrefix + strconv.FormatUint(uint64(index), 10)
}

// encode returns the module's binary: the header and every section as it
// was read. For a module from parseModule it is the input.
func (m *binaryModule) encode() []byte {
	n := len(wasmHeader)
	for _, s := range m.sections {
		n += len(s.raw)
	}
	out := make([]byte, 0, n)
	out = append(out, wasmHeader...)
	for _, s := range m.sections {
		out = append(out, s.raw...)
	}
	return out
}

// exportGlobals returns the module's binary with an export
// "chorus.global.N" of kind global added for each defined global, N being
// the global's index (imported globals come first in the index space, so
// the first defined global is N = the number of imported globals). The
// export section is rebuilt with the original entries first, byte for
// byte, then the new ones; every other section is copied unchanged. A
// module without an export section gets one, in its place in the section
// order (encodeReplacing).
func (m *binaryModule) exportGlobals() ([]byte, error) {
	for _, e := range m.exports {
		if strings.HasPrefix(e.name, globalExportPrefix) {
			return nil, fmt.Errorf("wasm: the module exports %q; names beginning with %q are reserved for the host", e.name, globalExportPrefix)
		}
	}
	if len(m.globals) == 0 {
		return m.encode(), nil
	}
	total := uint64(len(m.exports)) + uint64(len(m.globals))
	if total > 0xffffffff || uint64(m.importedGlobals)+uint64(len(m.globals)) > 0xffffffff {
		return nil, errors.New("wasm: too many exports")
	}
	body := appendU32(nil, uint32(total))
	body = append(body, m.exportEntries...)
	for i := range len(m.globals) {
		name := globalExportName(m.importedGlobals + uint32(i))
		body = appendU32(body, uint32(len(name)))
		body = append(body, name...)
		body = append(body, externGlobal)
		body = appendU32(body, m.importedGlobals+uint32(i))
	}
	return m.encodeReplacing(map[byte][]byte{sectionExport: body})
}

func sumRaw(ss []section) int {
	n := 0
	for _, s := range ss {
		n += len(s.raw)
	}
	return n
}

// appendU32 appends v in unsigned LEB128, in as few bytes as possible.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// reader decodes values of the binary format from b. The first error is
// kept in err; later reads return zero values, so that a decoder may check
// err once after a group of reads.
type reader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("unexpected end of data")

func (r *reader) len() int { return len(r.b) - r.off }

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.len() {
		r.fail(errTruncated)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

// u32 reads an unsigned LEB128 value of at most 32 bits: at most 5 bytes,
// the unused bits of the fifth being zero, as the format requires.
func (r *reader) u32() uint32 {
	var v uint32
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if i == 4 && c&0xf0 != 0 {
			r.fail(errors.New("malformed LEB128 u32: too long or too large"))
			return 0
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v
		}
	}
	return v // unreachable: the fifth byte has no continuation bit
}

// signed reads a signed LEB128 value of at most bits bits (32 or 64),
// checking the length and the sign extension of the last byte.
func (r *reader) signed(bits int) int64 {
	var v int64
	shift := 0
	maxBytes := (bits + 6) / 7
	for i := 0; i < maxBytes; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if i == maxBytes-1 {
				// Of the last byte's 7 bits only the low used ones carry
				// the value; the others must repeat its sign bit.
				used := bits - 7*(maxBytes-1)
				mask := byte(0x7f) &^ (1<<(used-1) - 1)
				if ext := c & mask; ext != 0 && ext != mask {
					r.fail(fmt.Errorf("malformed LEB128 s%d: unused bits are not a sign extension", bits))
					return 0
				}
			}
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail(fmt.Errorf("malformed LEB128 s%d: too long", bits))
	return 0
}

// count reads a vector length, refusing one larger than the bytes left
// (every entry takes at least one byte) or than maxBinaryEntries.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && (int64(n) > int64(r.len()) || n > maxBinaryEntries) {
		r.fail(fmt.Errorf("vector of %d entries in %d bytes", n, r.len()))
		return 0
	}
	return n
}

// name reads a name: a byte vector holding UTF-8.
func (r *reader) name() string {
	n := r.u32()
	if r.err == nil && int64(n) > int64(r.len()) {
		r.fail(errTruncated)
	}
	b := r.bytes(int(n))
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.fail(fmt.Errorf("name %q is not valid UTF-8", b))
		return ""
	}
	return string(b)
}

func (r *reader) valueType() byte {
	t := r.byte()
	switch t {
	case valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unknown value type 0x%02x", t))
		}
	}
	return t
}

func (r *reader) valueTypes() []byte {
	n := r.count()
	out := make([]byte, 0, n)
	for range n {
		out = append(out, r.valueType())
	}
	if r.err != nil {
		return nil
	}
	return out
}

func (r *reader) mutability() bool {
	m := r.byte()
	if r.err == nil && m > 1 {
		r.fail(fmt.Errorf("invalid global mutability 0x%02x", m))
	}
	return m == 1
}

func (r *reader) limits() {
	switch flag := r.byte(); flag {
	case 0:
		r.u32()
	case 1:
		r.u32()
		r.u32()
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unsupported limits flag 0x%02x", flag))
		}
	}
}

// constExpr skips a constant expression: one constant instruction followed
// by end, as WebAssembly 2.0 allows in global initialisers.
func (r *reader) constExpr() {
	switch op := r.byte(); op {
	case 0x41: // i32.const
		r.signed(32)
	case 0x42: // i64.const
		r.signed(64)
	case 0x43: // f32.const
		r.bytes(4)
	case 0x44: // f64.const
		r.bytes(8)
	case 0x23: // global.get
		r.u32()
	case 0xd0: // ref.null
		r.byte()
	case 0xd2: // ref.func
		r.u32()
	case 0xfd: // v128.const
		if sub := r.u32(); r.err == nil && sub != 12 {
			r.fail(fmt.Errorf("unsupported constant instruction 0xfd %d", sub))
			return
		}
		r.bytes(16)
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unsupported constant instruction 0x%02x", op))
		}
		return
	}
	if end := r.byte(); r.err == nil && end != 0x0b {
		r.fail(fmt.Errorf("constant expression not ended by 0x0b but 0x%02x", end))
	}
}
