package wasm

import (
	"fmt"
	"strings"
)

// ABIVersion is the version of the contract ABI this package implements
// (docs/spec/contract-abi.md).
const ABIVersion = 1

// Import modules a contract may import from (spec §1).
const (
	wasiModule   = "wasi_snapshot_preview1"
	chorusModule = "chorus"
)

// Exports of a contract module (spec §1).
const (
	exportMemory     = "memory"
	exportInitialize = "_initialize"
	exportABIVersion = "chorus_abi_version"
	exportInvoke     = "chorus_invoke"
	exportWarmup     = "chorus_warmup" // optional
	exportStart      = "_start"
)

// sig returns the signature with the given parameter and result types,
// each a string of value type bytes (none, i32, i64 and their sums).
func sig(params, results string) funcType {
	return funcType{params: []byte(params), results: []byte(results)}
}

// Parameter and result lists, as strings of value type bytes.
const (
	none = ""
	i32  = "\x7f"
	i64  = "\x7e"
)

// validate checks that m is a contract module the host can run (spec §1):
// a reactor exporting memory, _initialize, chorus_abi_version and
// chorus_invoke with their signatures, not exporting _start, importing only
// functions of wasi_snapshot_preview1 (those the host provides, see wasi)
// and of chorus (the host functions of §4, see chorus), each with its exact
// signature. It reports every problem it finds, in one error.
func validate(m *binaryModule, wasi, chorus func(name string) (funcType, bool)) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for _, imp := range m.imports {
		qualified := imp.module + "." + imp.name
		var want funcType
		var ok bool
		switch imp.module {
		case wasiModule:
			want, ok = wasi(imp.name)
		case chorusModule:
			want, ok = chorus(imp.name)
		default:
			add("it imports %s, but a contract may import only from %s and %s", qualified, wasiModule, chorusModule)
			continue
		}
		switch {
		case !ok:
			add("it imports %s, which the host does not provide", qualified)
		case imp.kind != externFunc:
			add("it imports %s as a %s; the host provides a function", qualified, kindName(imp.kind))
		default:
			if got := m.types[imp.typeIndex]; !got.equal(want) {
				add("it imports %s with signature %s; the host provides %s", qualified, got, want)
			}
		}
	}

	if _, ok := m.export(exportStart); ok {
		add("it exports %s: a contract must be a reactor (build it with -buildmode=c-shared), whose entry point is %s", exportStart, exportInitialize)
	}
	if m.hasSection(sectionStart) {
		// The host runs _initialize itself, under the time limit; a start
		// function would run while the instance is created, where nothing
		// could stop it (ADR 0015).
		add("it has a start function (section 8): a contract initialises itself in %s", exportInitialize)
	}
	if e, ok := m.export(exportMemory); !ok {
		add("it does not export its memory as %q", exportMemory)
	} else if e.kind != externMemory {
		add("its export %q is a %s, not a memory", exportMemory, kindName(e.kind))
	}
	for _, f := range []struct {
		name string
		want funcType
	}{
		{exportInitialize, sig(none, none)},
		{exportABIVersion, sig(none, i32)},
		{exportInvoke, sig(none, i32)},
	} {
		e, ok := m.export(f.name)
		switch {
		case !ok:
			add("it does not export the function %s", f.name)
		case e.kind != externFunc:
			add("its export %s is a %s, not a function", f.name, kindName(e.kind))
		default:
			got, ok := m.funcType(e.index)
			switch {
			case !ok:
				add("its export %s names function %d, which does not exist", f.name, e.index)
			case !got.equal(f.want):
				add("its export %s has signature %s, not %s", f.name, got, f.want)
			}
		}
	}
	if e, ok := m.export(exportWarmup); ok {
		got, isFunc := m.funcType(e.index)
		switch {
		case e.kind != externFunc || !isFunc:
			add("its export %s is not a function", exportWarmup)
		case !got.equal(sig(none, i32)):
			add("its export %s has signature %s, not %s", exportWarmup, got, sig(none, i32))
		}
	}
	for i, g := range m.globals {
		switch g.valueType {
		case valI32, valI64, valF32, valF64:
		default:
			if g.mutable {
				add("its global %d is a mutable %s, which the host cannot restore between invocations", uint32(i)+m.importedGlobals, valueTypeName(g.valueType))
			}
		}
	}
	for _, e := range m.exports {
		if strings.HasPrefix(e.name, globalExportPrefix) {
			add("it exports %q, but names beginning with %q are reserved for the host", e.name, globalExportPrefix)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("wasm: invalid contract module: %s", strings.Join(problems, "; "))
}

func kindName(kind byte) string {
	switch kind {
	case externFunc:
		return "function"
	case externTable:
		return "table"
	case externMemory:
		return "memory"
	case externGlobal:
		return "global"
	}
	return fmt.Sprintf("kind %d", kind)
}
