package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/chorusledger/chorus/internal/contract"
)

// Module is a loaded contract module: compiled code, the initial state of
// its instances (spec §6 R1) and a pool of idle instances. It implements
// contract.Contract; Invoke may be called concurrently, each invocation
// running on an instance of its own.
type Module struct {
	rt       *Runtime
	hash     [sha256.Size]byte
	name     string // a short form of hash, for logs
	compiled wazero.CompiledModule

	// The initial state, recorded after _initialize on the first instance
	// and restored before every invocation: the linear memory, and the
	// values of the mutable globals, exported as globalNames.
	memory      []byte
	globalNames []string
	globals     []uint64

	// slots holds a token for each instance in use or being created:
	// at most rt.poolSize instances exist, and invocations beyond that wait.
	slots  chan struct{}
	mu     sync.Mutex
	idle   []*instance
	closed bool

	// instances counts the instances created, for tests and logs.
	instances atomic.Int64
}

var _ contract.Contract = (*Module)(nil)

// instance is one instantiation of a module. It is used by one goroutine
// at a time: the pool hands it over.
type instance struct {
	mod     api.Module
	mem     api.Memory
	invoke  api.Function
	globals []api.MutableGlobal
	// interrupt is the flag that stops the running call at its next loop
	// head (ADR 0015).
	interrupt api.MutableGlobal
	console   console
	// dirty reports that the instance may differ from the initial state:
	// it has run a function since it was last reset.
	dirty bool
	stack [1]uint64
	// tracked is the instance's memory when it is a mapping whose written
	// pages the kernel records (nil otherwise); while it is not armed,
	// resets compare every page.
	tracked *trackedMemory
}

// Hash returns the SHA-256 of the module's code as given to Load.
func (m *Module) Hash() [sha256.Size]byte { return m.hash }

// start creates the first instance, checks the ABI version the module
// speaks, warms it up when the module exports chorus_warmup, and records
// its state as the initial state (spec §6 R1); the instance joins the pool.
func (m *Module) start(ctx context.Context) error {
	m.slots <- struct{}{}
	inst, err := m.instantiate(ctx)
	if err != nil {
		<-m.slots
		return err
	}
	v, failure := m.callI32(ctx, inst, exportABIVersion)
	switch {
	case failure != "":
		m.discard(inst, false)
		return fmt.Errorf("wasm: calling %s: %s", exportABIVersion, failure)
	case v != ABIVersion:
		m.discard(inst, false)
		return fmt.Errorf("wasm: contract speaks ABI version %d; this peer supports %d", v, ABIVersion)
	}
	if inst.mod.ExportedFunction(exportWarmup) != nil {
		v, failure := m.callI32(ctx, inst, exportWarmup)
		if failure == "" && v != 0 {
			failure = fmt.Sprintf("it returned %d", v)
		}
		if failure != "" {
			m.discard(inst, false)
			return fmt.Errorf("wasm: calling %s: %s", exportWarmup, failure)
		}
	}
	m.memory = bytes.Clone(inst.memoryView())
	m.globals = make([]uint64, len(inst.globals))
	for i, g := range inst.globals {
		m.globals[i] = g.Get()
	}
	inst.arm(m)
	m.release(inst, false)
	return nil
}

// callI32 calls an export of signature () -> i32 within the time limit,
// returning its result, or why it failed.
func (m *Module) callI32(ctx context.Context, inst *instance, name string) (int32, string) {
	ctx, cancel := context.WithTimeout(ctx, m.rt.timeLimit)
	defer cancel()
	inst.stack[0] = 0
	if failure := m.callOutsideInvocation(ctx, inst, inst.mod.ExportedFunction(name), inst.stack[:]); failure != "" {
		return 0, failure
	}
	return api.DecodeI32(inst.stack[0]), ""
}

// callOutsideInvocation calls fn on inst, to be interrupted when ctx is
// done, and returns why it failed, or "". A call the flag was set during
// fails even if it returned: the instance would trap at its next loop.
func (m *Module) callOutsideInvocation(ctx context.Context, inst *instance, fn api.Function, stack []uint64) string {
	interrupted, err := inst.call(ctx, fn, stack)
	inst.console.flush(m, "")
	if err == nil && !interrupted {
		return ""
	}
	if err == nil {
		err = context.DeadlineExceeded
	}
	return m.failure(inst, err, ctx.Err())
}

// instantiate creates an instance. The first runs _initialize (and the
// caller then warms it up and records the initial state); every later one
// skips _initialize and is written to the initial state instead, which is
// exactly where _initialize and the warm-up would bring it (spec §6 R1):
// an instance's only other state, its tables, is set at instantiation.
func (m *Module) instantiate(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, m.rt.timeLimit)
	defer cancel()
	inst := &instance{}
	first := m.memory == nil
	cfg := m.rt.moduleConfig.WithStdout(&inst.console.stdout).WithStderr(&inst.console.stderr)
	if m.rt.trackPages {
		ctx = experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
			t, err := newTrackedMemory(max)
			if err != nil {
				m.rt.logger.Warn("wasm: an instance's memory is reset by comparing every page", "module", m.name, "reason", err)
				return &heapMemory{}
			}
			inst.tracked = t
			return t
		}))
	}
	mod, err := m.rt.wz.InstantiateModule(ctx, m.compiled, cfg)
	m.instances.Add(1)
	if err != nil {
		msg := m.failure(inst, err, ctx.Err())
		inst.console.flush(m, "")
		if mod != nil {
			mod.Close(context.Background())
		}
		if inst.tracked != nil {
			inst.tracked.Free()
		}
		return nil, fmt.Errorf("wasm: creating an instance: %s", msg)
	}
	inst.console.flush(m, "")
	inst.mod = mod
	inst.mem = mod.ExportedMemory(exportMemory)
	inst.invoke = mod.ExportedFunction(exportInvoke)
	inst.interrupt, _ = mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
	if inst.mem == nil || inst.invoke == nil || inst.interrupt == nil {
		inst.close()
		return nil, errors.New("wasm: the instance lacks its memory, chorus_invoke or the interrupt flag")
	}
	for _, name := range m.globalNames {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			inst.close()
			return nil, fmt.Errorf("wasm: the instance does not export the mutable global %s", name)
		}
		inst.globals = append(inst.globals, g)
	}
	if first {
		if init := mod.ExportedFunction(exportInitialize); init != nil {
			if failure := m.callOutsideInvocation(ctx, inst, init, nil); failure != "" {
				inst.close()
				return nil, fmt.Errorf("wasm: creating an instance: %s", failure)
			}
		}
		return inst, nil
	}
	want := uint32(len(m.memory))
	if size := inst.mem.Size(); size < want {
		inst.mem.Grow((want - size) / pageSize)
	}
	if inst.mem.Size() != want {
		inst.close()
		return nil, fmt.Errorf("wasm: an instance has %d bytes of memory; the initial state has %d", inst.mem.Size(), want)
	}
	inst.reset(m)
	inst.arm(m)
	return inst, nil
}

// memoryView returns the instance's whole memory, shared with the guest.
func (inst *instance) memoryView() []byte {
	b, _ := inst.mem.Read(0, inst.mem.Size())
	return b
}

// reset writes the initial state back (spec §6 R2). The memory must not
// have grown (R3).
//
// It compares the memory with the initial state a page at a time and
// writes back only the pages that differ: an invocation of the sample
// contract changes about 23 of the 1,008 pages of its 4 MB. Comparing
// reads what a full copy would read, but leaves the unchanged pages
// clean in the CPU's caches instead of rewriting them all: measured on
// CreateAsset, an invocation with its reset took 198 µs instead of 222
// (BenchmarkAssetsCreateAsset, mean of three runs each).
//
// An instance whose memory the kernel tracks (ADR 0006), once armed,
// restores only the pages the invocation wrote, and leaves the pages that
// invocations keep writing writable (ADR 0008); it falls back to
// comparing every page if the kernel fails it. A new instance is not armed yet: its
// first reset compares.
func (inst *instance) reset(m *Module) {
	defer inst.resetGlobals(m)
	if t := inst.tracked; t != nil && t.armed {
		_, err := t.restore(m.memory)
		if err == nil {
			return
		}
		m.rt.logger.Warn("wasm: restoring the written pages failed; comparing every page from now on", "module", m.name, "err", err)
	}
	b, _ := inst.mem.Read(0, uint32(len(m.memory)))
	for off := 0; off < len(b); off += resetPageBytes {
		end := min(off+resetPageBytes, len(b))
		if !bytes.Equal(b[off:end], m.memory[off:end]) {
			copy(b[off:end], m.memory[off:end])
		}
	}
}

func (inst *instance) resetGlobals(m *Module) {
	for i, g := range inst.globals {
		g.Set(m.globals[i])
	}
	inst.dirty = false
}

// arm starts recording the pages an instance at its initial state writes,
// when the kernel tracks its memory.
func (inst *instance) arm(m *Module) {
	if inst.tracked == nil {
		return
	}
	if err := inst.tracked.arm(); err != nil {
		m.rt.logger.Warn("wasm: an instance's memory is reset by comparing every page", "module", m.name, "reason", err)
	}
}

// heapMemory is a linear memory on the Go heap, for an instance whose
// tracked memory could not be made.
type heapMemory struct{ b []byte }

// Reallocate implements experimental.LinearMemory.
func (h *heapMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(h.b)) {
		b := make([]byte, size, size+size/4)
		copy(b, h.b)
		h.b = b
	}
	h.b = h.b[:size]
	return h.b
}

// Free implements experimental.LinearMemory.
func (h *heapMemory) Free() { h.b = nil }

// resetPageBytes is the unit reset compares and restores.
const resetPageBytes = 4096

// close closes the instance and frees its memory. Free is idempotent, so
// freeing a tracked memory here too, whatever wazero did when it closed
// the module, keeps no mapping or descriptor from leaking.
func (inst *instance) close() {
	inst.mod.Close(context.Background())
	if inst.tracked != nil {
		inst.tracked.Free()
	}
}

// acquire takes an idle instance, or creates one when none is idle and
// fewer than the pool's size are in use; otherwise it waits for one.
// Bounding the instances bounds a peer's memory and keeps a burst of
// concurrent proposals from paying for instances the pool could not keep.
//
// A nested invocation (a contract calling a contract) never waits: its
// caller holds an instance and waits for it, so waiting could deadlock. It
// takes an idle instance or creates one, outside the bound.
func (m *Module) acquire(nested bool) (*instance, error) {
	if !nested {
		m.slots <- struct{}{}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.freeSlot(nested)
		return nil, errors.New("wasm: the module is closed")
	}
	for len(m.idle) > 0 {
		inst := m.idle[len(m.idle)-1]
		m.idle[len(m.idle)-1] = nil
		m.idle = m.idle[:len(m.idle)-1]
		if !inst.mod.IsClosed() {
			m.mu.Unlock()
			return inst, nil
		}
	}
	m.mu.Unlock()
	inst, err := m.instantiate(context.Background())
	if err != nil {
		m.freeSlot(nested)
		return nil, err
	}
	return inst, nil
}

// release returns an instance taken by acquire to the pool, or closes it
// when the module is closed or the pool already holds its size in idle
// instances (after nested invocations created extra ones).
func (m *Module) release(inst *instance, nested bool) {
	m.mu.Lock()
	if m.closed || len(m.idle) >= m.rt.poolSize {
		m.mu.Unlock()
		m.discard(inst, nested)
		return
	}
	m.idle = append(m.idle, inst)
	m.mu.Unlock()
	m.freeSlot(nested)
}

// discard closes an instance taken by acquire, making room for another.
func (m *Module) discard(inst *instance, nested bool) {
	inst.close()
	m.freeSlot(nested)
}

func (m *Module) freeSlot(nested bool) {
	if !nested {
		<-m.slots
	}
}

// nested reports whether stub is that of a contract called by a contract.
func nested(stub contract.Stub) bool {
	d, ok := stub.(interface{ CallDepth() int })
	return ok && d.CallDepth() > 1
}

// Close closes the module's idle instances and compiled code, and removes
// it from its runtime, so that a later Load of the same code compiles it
// again. Load returns one Module to every caller loading the same code:
// Close ends it for all of them. Invocations running meanwhile finish;
// later ones fail with a 500 Response.
func (m *Module) Close(ctx context.Context) error {
	m.rt.forget(m)
	m.closeInstances(ctx)
	if err := m.compiled.Close(ctx); err != nil {
		return fmt.Errorf("wasm: closing module %s: %w", m.name, err)
	}
	return nil
}

func (m *Module) closeInstances(context.Context) {
	m.mu.Lock()
	idle := m.idle
	m.idle = nil
	m.closed = true
	m.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}

// Invoke runs one invocation (spec §3) on an instance from the pool,
// restored to the initial state, with the host functions answering from
// stub. The Response is the contract's, or a 500 Response when the
// invocation failed: it trapped, exited, exceeded a limit, returned
// non-zero, or did not set a response. A failed instance is discarded, as
// is one whose memory grew (spec §6 R3, R4).
func (m *Module) Invoke(stub contract.Stub) contract.Response {
	isNested := nested(stub)
	inst, err := m.acquire(isNested)
	if err != nil {
		return contract.Errorf("%v", err)
	}
	if inst.dirty {
		inst.reset(m)
	}
	inst.dirty = true
	inv := &invocation{stub: stub, module: m}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), invocationKey{}, inv), m.rt.timeLimit)
	inst.stack[0] = 0
	// An instance whose interrupt flag was set, even after its call
	// returned, is never reused.
	interrupted, callErr := inst.call(ctx, inst.invoke, inst.stack[:])
	ctxErr := ctx.Err()
	cancel()
	inv.closeIterators()

	var res contract.Response
	healthy := false
	switch {
	case callErr != nil:
		res = contract.Errorf("%s", m.failure(inst, callErr, ctxErr))
	case inv.violation != "":
		res = contract.Errorf("%s", inv.violation)
	case api.DecodeI32(inst.stack[0]) != 0:
		res = contract.Errorf("contract failed: %s returned %d", exportInvoke, api.DecodeI32(inst.stack[0]))
	case inv.response == nil:
		res = contract.Errorf("contract returned without setting a response")
	default:
		res = *inv.response
		healthy = true
	}
	inst.console.flush(m, stub.TxID())
	if healthy && !interrupted && ctxErr == nil && inst.interrupt.Get() == 0 && !inst.mod.IsClosed() && inst.mem.Size() == uint32(len(m.memory)) {
		m.release(inst, isNested)
	} else {
		m.discard(inst, isNested)
	}
	return res
}

// failure describes the error of a call into an instance: a time or
// memory limit exceeded, an exit, or a trap. ctxErr is the error of the
// call's context when the call returned. The message is short and
// deterministic: it holds no stack trace.
func (m *Module) failure(inst *instance, err error, ctxErr error) string {
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	switch {
	case errors.Is(ctxErr, context.DeadlineExceeded) || isExit && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		return fmt.Sprintf("contract exceeded its time limit of %v", m.rt.timeLimit)
	case ctxErr != nil || isExit && exit.ExitCode() == sys.ExitCodeContextCanceled:
		return "contract interrupted: its context was canceled"
	}
	// The Go runtime reports a failed memory.grow as "fatal error: out of
	// memory"; a contract in another language may just trap with its
	// memory at the limit.
	fatal := inst.console.stderr.fatal()
	if strings.Contains(fatal, "out of memory") || inst.mem != nil && uint64(inst.mem.Size())+pageSize > m.rt.memoryLimit {
		return fmt.Sprintf("contract exceeded its memory limit of %s", formatBytes(m.rt.memoryLimit))
	}
	if isExit {
		msg := fmt.Sprintf("contract exited with code %d", exit.ExitCode())
		if fatal != "" {
			msg += ": " + fatal
		}
		return msg
	}
	// A Go contract that panics or throws prints why, then traps on
	// "unreachable": its words say more than the trap.
	if fatal != "" {
		return "contract trapped: " + fatal
	}
	// wazero's message: "[module[] function[f] failed: ]wasm error: what",
	// then a stack trace.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if strings.HasPrefix(msg, "module[") {
		if _, rest, ok := strings.Cut(msg, "] failed: "); ok {
			msg = rest
		}
	}
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), "(recovered by wazero)"))
	return "contract trapped: " + cut(msg, maxFailureBytes)
}

// maxFailureBytes bounds the part of a failure message that comes from the
// guest or wazero.
const maxFailureBytes = 512

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
