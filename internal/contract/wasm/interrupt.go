package wasm

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// A contract must stop when its time limit passes, even in an endless
// loop. wazero can do this itself (RuntimeConfig.WithCloseOnContextDone),
// but it does so by leaving compiled code for Go at the head of every
// loop, and Go compiled to WebAssembly turns every backward jump into a
// loop iteration: the sample contract's CreateAsset took 41.6 µs with those
// exits against 13.5 µs without (BenchmarkAssetsCreateAsset).
//
// Installation instead adds two globals to the module and a test at the
// head of every loop and every function (ADR 0015):
//
//   - a countdown, decremented by each test; when it reaches zero it is
//     set back to interruptPeriod and the code leaves for Go with
//     "memory.grow 0", which changes nothing but passes through Go. Go
//     cannot preempt a goroutine while it runs compiled code, so without
//     these exits a contract in a long loop would hold up every stop of
//     the world (each garbage collection) of the whole process, and an
//     endless one would hang it;
//   - the interrupt flag, which the host sets from another goroutine when
//     the call's deadline passes, and which the test reads after each
//     such exit: once it is set the code traps.
//
// A test is a few loads, a subtraction, a store and a branch, with no call;
// an exit to Go costs about a hundred nanoseconds every interruptPeriod
// tests. Between loop heads and function entries, code runs straight
// through, so the tests bound the time between two of them.

// interruptPeriod is how many tests pass between two exits to Go.
const interruptPeriod = 4096

// interruptExport names the export installation adds for the flag.
const interruptExport = "chorus.interrupt"

// addInterrupt returns the module's binary with the interrupt flag and
// the countdown: two mutable i32 globals after the defined ones (the flag,
// initialised to 0 and exported as interruptExport, then the countdown),
// and the test (interruptTest) inserted at the start of every function
// body and after the block type of every loop instruction. Every other
// byte is copied unchanged; a module without a global or export section
// gets one. The module's own code may not name the added globals.
func (m *binaryModule) addInterrupt() ([]byte, error) {
	if _, ok := m.export(interruptExport); ok {
		return nil, fmt.Errorf("wasm: the module exports %q, a name reserved for the host", interruptExport)
	}
	if uint64(m.importedGlobals)+uint64(len(m.globals)) >= 0xffffffff-1 || len(m.exports) >= 0xffffffff {
		return nil, errors.New("wasm: too many globals or exports")
	}
	if !m.hasSection(sectionMemory) && !m.importsMemory() {
		return nil, errors.New("wasm: the module has no memory")
	}
	flag := m.importedGlobals + uint32(len(m.globals))
	for _, e := range m.exports {
		if e.kind == externGlobal && e.index >= flag {
			return nil, fmt.Errorf("wasm: the module exports global %d, which it does not define", e.index)
		}
	}

	globals := appendU32(nil, uint32(len(m.globals))+2)
	if i := m.sectionIndex(sectionGlobal); i >= 0 {
		r := &reader{b: m.sections[i].body}
		r.u32()
		globals = append(globals, r.b[r.off:]...)
	}
	globals = append(globals, valI32, 1, 0x41, 0, 0x0b) // the flag: mut i32, i32.const 0
	globals = append(globals, valI32, 1)                // the countdown: mut i32,
	globals = appendI32Const(globals, interruptPeriod)  // i32.const interruptPeriod
	globals = append(globals, 0x0b)

	exports := appendU32(nil, uint32(len(m.exports))+1)
	exports = append(exports, m.exportEntries...)
	exports = appendU32(exports, uint32(len(interruptExport)))
	exports = append(exports, interruptExport...)
	exports = append(exports, externGlobal)
	exports = appendU32(exports, flag)

	replace := map[byte][]byte{sectionGlobal: globals, sectionExport: exports}
	if i := m.sectionIndex(sectionCode); i >= 0 {
		code, err := instrumentLoops(m.sections[i].body, flag)
		if err != nil {
			return nil, fmt.Errorf("wasm: the code section: %w", err)
		}
		replace[sectionCode] = code
	}
	return m.encodeReplacing(replace)
}

// importsMemory reports whether the module imports a memory.
func (m *binaryModule) importsMemory() bool {
	for _, imp := range m.imports {
		if imp.kind == externMemory {
			return true
		}
	}
	return false
}

// interruptTest is the code inserted at every function entry and loop
// head, for the flag global and the countdown global:
//
//	countdown = countdown - 1
//	if countdown == 0 {
//		countdown = interruptPeriod
//		drop(memory.grow(0))   // through Go, where the goroutine can be preempted
//		if flag != 0 { unreachable }
//	}
func interruptTest(flag uint32) []byte {
	countdown := flag + 1
	b := []byte{0x23}
	b = appendU32(b, countdown)
	b = append(b, 0x41, 0x01, 0x6b, 0x24) // i32.const 1; i32.sub; global.set
	b = appendU32(b, countdown)
	b = append(b, 0x23)
	b = appendU32(b, countdown)
	b = append(b, 0x45, 0x04, 0x40) // i32.eqz; if
	b = appendI32Const(b, interruptPeriod)
	b = append(b, 0x24)
	b = appendU32(b, countdown)
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x23) // i32.const 0; memory.grow 0; drop; global.get
	b = appendU32(b, flag)
	return append(b, 0x04, 0x40, 0x00, 0x0b, 0x0b) // if; unreachable; end; end
}

// appendI32Const appends i32.const v for a v in [0, 2^20).
func appendI32Const(b []byte, v uint32) []byte {
	b = append(b, 0x41)
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// sectionIndex returns the index in m.sections of the section id, or -1.
func (m *binaryModule) sectionIndex(id byte) int {
	for i, s := range m.sections {
		if s.id == id {
			return i
		}
	}
	return -1
}

// encodeReplacing returns the module's binary with the non-custom sections
// of replace's ids given replace's bodies: in place when the module has
// them, else inserted where the section order puts them, right after the
// section they follow.
func (m *binaryModule) encodeReplacing(replace map[byte][]byte) ([]byte, error) {
	out := make([]byte, 0, len(wasmHeader)+sumRaw(m.sections)+len(replace)*16)
	out = append(out, wasmHeader...)
	done := make(map[byte]bool, len(replace))
	emit := func(id byte) error {
		body := replace[id]
		if uint64(len(body)) > 0xffffffff {
			return fmt.Errorf("wasm: section %d is too large", id)
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
		done[id] = true
		return nil
	}
	// emitBefore writes the missing sections that rank below rank, in
	// rank order.
	emitBefore := func(rank int) error {
		for _, id := range []byte{sectionType, sectionImport, sectionFunction, sectionTable, sectionMemory, sectionGlobal,
			sectionExport, sectionStart, sectionElement, sectionDataCount, sectionCode, sectionData} {
			if _, ok := replace[id]; ok && !done[id] && sectionRank(id) < rank && m.sectionIndex(id) < 0 {
				if err := emit(id); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// nextRank is the rank of the first non-custom section after index i,
	// or beyond every rank when there is none.
	nextRank := func(i int) int {
		for _, s := range m.sections[i+1:] {
			if s.id != sectionCustom {
				return sectionRank(s.id)
			}
		}
		return int(^uint(0) >> 1)
	}
	// A missing section goes right after the non-custom section it
	// follows (or after the header), so that custom sections keep their
	// place after the sections they followed.
	if err := emitBefore(nextRank(-1)); err != nil {
		return nil, err
	}
	for i, s := range m.sections {
		if s.id == sectionCustom {
			out = append(out, s.raw...)
			continue
		}
		if _, ok := replace[s.id]; ok {
			if err := emit(s.id); err != nil {
				return nil, err
			}
		} else {
			out = append(out, s.raw...)
		}
		if err := emitBefore(nextRank(i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// instrumentLoops returns a code section's body with the interrupt test
// at the start of every function and after the block type of every loop.
// Code that names a global from flag on is refused.
func instrumentLoops(body []byte, flag uint32) ([]byte, error) {
	test := interruptTest(flag)
	r := &reader{b: body}
	n := r.count()
	out := appendU32(make([]byte, 0, len(body)+len(body)/8), n)
	var fn []byte
	for i := range n {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("code of function %d: %w", i, r.err)
		}
		var err error
		if fn, err = instrumentFunction(fn[:0], code, test, flag); err != nil {
			return nil, fmt.Errorf("code of function %d: %w", i, err)
		}
		if uint64(len(fn)) > 0xffffffff {
			return nil, fmt.Errorf("code of function %d is too large", i)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.err == nil && r.len() != 0 {
		return nil, fmt.Errorf("%d bytes after the last function's code", r.len())
	}
	return out, r.err
}

// instrumentFunction appends to dst one function's code (its locals and
// its instructions up to its final end) with test after the locals and
// after every loop's block type. An instruction that names a global from
// added on is refused: those are the host's.
func instrumentFunction(dst, code, test []byte, added uint32) ([]byte, error) {
	r := &reader{b: code}
	locals := r.count()
	for range locals {
		r.u32()
		r.valueType()
	}
	if r.err != nil {
		return nil, fmt.Errorf("locals: %w", r.err)
	}
	dst = append(dst, code[:r.off]...)
	dst = append(dst, test...)
	for depth := 1; depth > 0; {
		start := r.off
		op := r.byte()
		switch op {
		case 0x02, 0x04: // block, if
			r.blockType()
			depth++
		case 0x03: // loop
			r.blockType()
			depth++
			if r.err == nil {
				dst = append(dst, code[start:r.off]...)
				dst = append(dst, test...)
				continue
			}
		case 0x0b: // end
			depth--
		case 0x23, 0x24: // global.get, global.set
			if g := r.u32(); r.err == nil && g >= added {
				return nil, fmt.Errorf("instruction at offset %d: global %d, which the module does not define", start, g)
			}
		default:
			r.immediates(op)
		}
		if r.err != nil {
			return nil, fmt.Errorf("instruction at offset %d: %w", start, r.err)
		}
		dst = append(dst, code[start:r.off]...)
	}
	if r.len() != 0 {
		return nil, fmt.Errorf("%d bytes after the function's end", r.len())
	}
	return dst, nil
}

// blockType skips a block type: empty (0x40), a value type, or a type
// index as a non-negative signed LEB128 of 33 bits.
func (r *reader) blockType() {
	if r.err != nil {
		return
	}
	if r.off < len(r.b) {
		switch r.b[r.off] {
		case 0x40, valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
			r.off++
			return
		}
	}
	if v := r.signed(33); r.err == nil && v < 0 {
		r.fail(fmt.Errorf("invalid block type %d", v))
	}
}

// immediates skips the immediate operands of the instruction op (other
// than block, loop, if and end) of WebAssembly 2.0, and fails on an
// instruction it does not know.
func (r *reader) immediates(op byte) {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b || op == 0xd1:
		// unreachable, nop, else, return, drop, select, ref.is_null
	case op >= 0x45 && op <= 0xc4:
		// numeric instructions, sign extension included
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0xd2 || op >= 0x20 && op <= 0x26:
		r.u32() // br, br_if, call, ref.func, local.*, global.*, table.get/set
	case op == 0x0e: // br_table
		n := r.count()
		for range n + 1 {
			r.u32()
		}
	case op == 0x11: // call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		r.valueTypes()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.u32()
		r.u32()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.signed(32)
	case op == 0x42:
		r.signed(64)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xfc:
		r.miscImmediates(r.u32())
	case op == 0xfd:
		r.vectorImmediates(r.u32())
	default:
		r.fail(fmt.Errorf("unknown instruction 0x%02x", op))
	}
}

// miscImmediates skips the immediates of the 0xfc instruction sub: the
// saturating truncations, bulk memory and table instructions.
func (r *reader) miscImmediates(sub uint32) {
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9 || sub == 11 || sub == 13 || sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unknown instruction 0xfc %d", sub))
		}
	}
}

// vectorImmediates skips the immediates of the 0xfd (SIMD) instruction sub.
func (r *reader) vectorImmediates(sub uint32) {
	switch {
	case sub <= 11 || sub == 92 || sub == 93: // loads and stores
		r.u32()
		r.u32()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.u32()
		r.u32()
		r.byte()
	case sub <= 255:
		// the other vector instructions take no immediate
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unknown instruction 0xfd %d", sub))
		}
	}
}

// interruptOn sets the instance's interrupt flag when ctx is done, so that
// the call running on the instance traps at its next loop head. The
// function it returns disarms it; it reports whether the flag was set,
// and returns only once the setting goroutine is done.
func (inst *instance) interruptOn(ctx context.Context) (disarm func() bool) {
	flag := inst.interrupt
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		flag.Set(api.EncodeI32(1))
	})
	return func() bool {
		if stop() {
			return false
		}
		<-done
		return true
	}
}

// call calls fn on the instance with stack, to be interrupted when ctx is
// done. interrupted reports that the flag was set: the instance must not
// run again, and err, if the call failed, may be the trap the flag made.
func (inst *instance) call(ctx context.Context, fn api.Function, stack []uint64) (interrupted bool, err error) {
	disarm := inst.interruptOn(ctx)
	err = fn.CallWithStack(ctx, stack)
	return disarm(), err
}
