package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Defaults of Options.
const (
	DefaultMemoryLimitBytes = 256 << 20
	DefaultTimeLimit        = 5 * time.Second
)

// pageSize is the size of a WebAssembly memory page.
const pageSize = 64 << 10

// maxMemoryLimitBytes is the largest memory limit: 4 GiB less one page, so
// that a memory's size in bytes fits in the uint32 that wazero reports.
const maxMemoryLimitBytes = 1<<32 - pageSize

// The clocks a contract sees (spec §5): 2020-01-01T00:00:00Z and a
// monotonic clock that stays at 0.
const (
	fixedWalltimeSeconds = 1577836800
	fixedNanotime        = 1
)

// Options configures a Runtime. The zero value is valid: every field has a
// default.
type Options struct {
	// CacheDir holds wazero's on-disk compilation cache, so that a
	// restarted peer loads its contracts without compiling them again.
	// Empty means compiled code is kept in memory only. The directory is
	// created if needed; its contents are specific to the wazero version.
	CacheDir string
	// MemoryLimitBytes is the most linear memory an instance may have;
	// 0 means DefaultMemoryLimitBytes (256 MiB). It is rounded down to a
	// whole number of 64 KiB pages and may not exceed 4 GiB less one page.
	MemoryLimitBytes uint64
	// TimeLimit bounds one invocation, and the initialisation of an
	// instance; 0 means DefaultTimeLimit (5 s).
	TimeLimit time.Duration
	// PoolSize is the most instances of a module that exist at once; 0
	// means runtime.NumCPU()*2. Invocations beyond it wait for an instance:
	// creating one costs milliseconds, an invocation on a pooled one tens
	// of microseconds.
	PoolSize int
	// Logger receives the runtime's messages, and at debug level what
	// contracts log and print. Nil discards them.
	Logger *slog.Logger
	// CompareEveryPage resets instances by comparing their whole memory
	// with the initial state even where the kernel can tell which pages an
	// invocation wrote (ADR 0006): for tests and measurements.
	CompareEveryPage bool
}

// Runtime runs contract modules: it compiles them once, pools their
// instances and enforces the limits. It is safe for concurrent use.
type Runtime struct {
	memoryLimit uint64 // bytes, a multiple of pageSize
	timeLimit   time.Duration
	poolSize    int
	logger      *slog.Logger
	// trackPages: instance memories are mappings whose written pages the
	// kernel records, so a reset restores only those (ADR 0006).
	trackPages bool

	wz    wazero.Runtime
	cache wazero.CompilationCache // nil without CacheDir

	// moduleConfig is the configuration every instance starts from.
	moduleConfig wazero.ModuleConfig
	// chorusImports gives the signatures of the host functions.
	chorusImports map[string]funcType
	// wasiImports gives the signatures of the wasi_snapshot_preview1
	// functions wazero provides.
	wasiImports map[string]funcType

	mu      sync.Mutex
	closed  bool
	modules map[[sha256.Size]byte]*loading
}

// loading is a module being loaded, or loaded, by Load.
type loading struct {
	done   chan struct{} // closed when m and err are set
	module *Module
	err    error
}

// NewRuntime returns a runtime with the given options. It sets up wazero
// with the features Go modules need and the ABI allows (WebAssembly 2.0
// without reference types, spec §6 R2), the memory limit, interruption on
// deadlines, the wasi_snapshot_preview1 functions and the chorus host
// functions. Close it when done.
func NewRuntime(ctx context.Context, opts Options) (*Runtime, error) {
	r := &Runtime{
		memoryLimit: opts.MemoryLimitBytes,
		timeLimit:   opts.TimeLimit,
		poolSize:    opts.PoolSize,
		logger:      opts.Logger,
		modules:     make(map[[sha256.Size]byte]*loading),
	}
	if r.memoryLimit == 0 {
		r.memoryLimit = DefaultMemoryLimitBytes
	}
	r.memoryLimit -= r.memoryLimit % pageSize
	switch {
	case r.memoryLimit == 0:
		return nil, fmt.Errorf("wasm: memory limit of %d bytes is less than one 64 KiB page", opts.MemoryLimitBytes)
	case r.memoryLimit > maxMemoryLimitBytes:
		return nil, fmt.Errorf("wasm: memory limit of %d bytes exceeds the maximum of %d", opts.MemoryLimitBytes, uint64(maxMemoryLimitBytes))
	}
	switch {
	case r.timeLimit == 0:
		r.timeLimit = DefaultTimeLimit
	case r.timeLimit < 0:
		return nil, fmt.Errorf("wasm: negative time limit %v", opts.TimeLimit)
	}
	switch {
	case r.poolSize == 0:
		r.poolSize = runtime.NumCPU() * 2
	case r.poolSize < 0:
		return nil, fmt.Errorf("wasm: negative pool size %d", opts.PoolSize)
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if !opts.CompareEveryPage {
		if err := dirtyTrackingProbe(); err != nil {
			r.logger.Info("wasm: contract memories are reset by comparing every page: the kernel cannot track written pages", "reason", err)
		} else {
			r.trackPages = true
		}
	}

	cfg := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 &^ api.CoreFeatureReferenceTypes).
		WithMemoryLimitPages(uint32(r.memoryLimit / pageSize)).
		// Calls are interrupted by the flag installation adds (ADR 0015),
		// not by wazero's calls at every loop head.
		WithCloseOnContextDone(false).
		WithDebugInfoEnabled(false)
	if opts.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w", opts.CacheDir, err)
		}
		r.cache = cache
		cfg = cfg.WithCompilationCache(cache)
	}
	r.wz = wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := r.instantiateHostModules(ctx); err != nil {
		r.wz.Close(ctx)
		if r.cache != nil {
			r.cache.Close(ctx)
		}
		return nil, err
	}
	r.moduleConfig = wazero.NewModuleConfig().
		WithName("").
		// _initialize is called by Module.instantiate, under the time
		// limit.
		WithStartFunctions().
		WithWalltime(func() (int64, int32) { return fixedWalltimeSeconds, 0 }, 1).
		WithNanotime(func() int64 { return fixedNanotime }, 1).
		WithNanosleep(func(int64) {}).
		WithOsyield(func() {}).
		WithRandSource(zeroReader{})
	return r, nil
}

// instantiateHostModules provides the import modules a contract may use:
// wasi_snapshot_preview1 (spec §5) and chorus (spec §4).
func (r *Runtime) instantiateHostModules(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.wz); err != nil {
		return fmt.Errorf("wasm: instantiating %s: %w", wasiModule, err)
	}
	wasi := r.wz.Module(wasiModule)
	// Every WASI function wazero provides may be imported: with no
	// filesystem, no sockets, constant clocks and zero randomness (spec
	// §5), each answers deterministically (EBADF for files, ENOTSUP, ...).
	// Go's os package links many of them whether a contract uses them or
	// not.
	r.wasiImports = make(map[string]funcType)
	for name, def := range wasi.ExportedFunctionDefinitions() {
		r.wasiImports[name] = funcType{params: valueTypeBytes(def.ParamTypes()), results: valueTypeBytes(def.ResultTypes())}
	}
	b := r.wz.NewHostModuleBuilder(chorusModule)
	r.chorusImports = make(map[string]funcType)
	for _, f := range hostFunctions() {
		r.chorusImports[f.name] = f.sig
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(f.goFunction(), valueTypes(f.sig.params), valueTypes(f.sig.results)).
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasm: instantiating the %s host module: %w", chorusModule, err)
	}
	return nil
}

func valueTypes(b []byte) []api.ValueType {
	out := make([]api.ValueType, len(b))
	copy(out, b)
	return out
}

// zeroReader is the random source of contracts: zeros (spec §5).
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Close closes every module and instance of r and releases wazero's
// resources. Invocations running meanwhile fail. Close is idempotent.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var modules []*Module
	for _, l := range r.modules {
		select {
		case <-l.done:
			if l.module != nil {
				modules = append(modules, l.module)
			}
		default:
		}
	}
	r.mu.Unlock()
	for _, m := range modules {
		m.closeInstances(ctx)
	}
	err := r.wz.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	if err != nil {
		return fmt.Errorf("wasm: closing the runtime: %w", err)
	}
	return nil
}

// Load installs a contract module: it validates code against the ABI
// (spec §1), rewrites it to export its globals, compiles it (or takes the
// compiled code from the cache), creates a first instance and checks that
// the module speaks ABI version 1. Loading the same code again returns the
// same Module; concurrent loads of the same code compile it once.
func (r *Runtime) Load(ctx context.Context, code []byte) (*Module, error) {
	sum := sha256.Sum256(code)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("wasm: the runtime is closed")
	}
	if l, ok := r.modules[sum]; ok {
		r.mu.Unlock()
		select {
		case <-l.done:
			return l.module, l.err
		case <-ctx.Done():
			return nil, fmt.Errorf("wasm: waiting for module %x to load: %w", sum[:6], ctx.Err())
		}
	}
	l := &loading{done: make(chan struct{})}
	r.modules[sum] = l
	r.mu.Unlock()

	l.module, l.err = r.load(ctx, code, sum)
	if l.err != nil {
		r.mu.Lock()
		delete(r.modules, sum)
		r.mu.Unlock()
	}
	close(l.done)
	return l.module, l.err
}

func (r *Runtime) load(ctx context.Context, code []byte, sum [sha256.Size]byte) (*Module, error) {
	bin, err := parseModule(code)
	if err != nil {
		return nil, err
	}
	if err := validate(bin, r.wasiLookup, func(name string) (funcType, bool) {
		t, ok := r.chorusImports[name]
		return t, ok
	}); err != nil {
		return nil, err
	}
	withGlobals, err := bin.exportGlobals()
	if err != nil {
		return nil, err
	}
	bin2, err := parseModule(withGlobals)
	if err != nil {
		return nil, fmt.Errorf("wasm: the module with its globals exported: %w", err)
	}
	rewritten, err := bin2.addInterrupt()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	compiled, err := r.wz.CompileModule(ctx, rewritten)
	if err != nil {
		return nil, fmt.Errorf("wasm: compiling the module: %w", err)
	}
	m := &Module{
		rt:       r,
		hash:     sum,
		name:     hex.EncodeToString(sum[:6]),
		compiled: compiled,
		slots:    make(chan struct{}, r.poolSize),
	}
	for i, g := range bin.globals {
		if g.mutable {
			m.globalNames = append(m.globalNames, globalExportName(bin.importedGlobals+uint32(i)))
		}
	}
	compileTime := time.Since(start)
	if err := m.start(ctx); err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	r.logger.Info("wasm: contract module loaded", "module", m.name, "bytes", len(code),
		"compile", compileTime, "memory", len(m.memory), "globals", len(m.globals))
	return m, nil
}

// forget removes m from the modules of r, so that loading its code again
// compiles it anew.
func (r *Runtime) forget(m *Module) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.modules[m.hash]; ok && l.module == m {
		delete(r.modules, m.hash)
	}
}

// valueTypeBytes encodes wazero's value types as the binary format does.
func valueTypeBytes(ts []api.ValueType) []byte {
	out := make([]byte, len(ts))
	for i, t := range ts {
		out[i] = byte(t)
	}
	return out
}

// wasiLookup gives the signature of a WASI function the host provides.
func (r *Runtime) wasiLookup(name string) (funcType, bool) {
	t, ok := r.wasiImports[name]
	return t, ok
}
