// Package wasm runs contracts compiled to WebAssembly: it is the host side
// of the Chorus contract ABI, version 1, specified in
// docs/spec/contract-abi.md (cited below as "spec §N"). A Runtime loads
// modules; a Module is a contract.Contract whose Invoke runs one
// invocation on a pooled instance, its host functions answering from the
// invocation's contract.Stub.
//
//	rt, err := wasm.NewRuntime(ctx, wasm.Options{CacheDir: dir, Logger: logger})
//	...
//	mod, err := rt.Load(ctx, code) // validate, rewrite, compile, check the ABI version
//	...
//	res := mod.Invoke(stub)        // or through contract.Execute
//
// # Installation (spec §1, §6)
//
// Load reads the module binary with a small reader of its own (binary.go)
// that decodes only the sections describing the module's interface (types,
// imports, functions, globals, exports) and keeps every other section as
// opaque bytes. It refuses, naming each problem:
//
//   - a module exporting _start (a command, not a reactor: the host would
//     never call it, and a Go command's _start runs main and exits);
//   - a module lacking the exports memory, _initialize () -> (),
//     chorus_abi_version () -> i32 or chorus_invoke () -> i32;
//   - any import other than the functions of chorus (spec §4) and those
//     of wasi_snapshot_preview1 that Go programs import (sched_yield,
//     proc_exit, args_get, args_sizes_get, clock_time_get, environ_get,
//     environ_sizes_get, fd_write, fd_read, random_get, poll_oneoff,
//     fd_close, fd_fdstat_get, fd_fdstat_set_flags, fd_prestat_get,
//     fd_prestat_dir_name; fd_read comes with printing through package
//     fmt), each with its exact signature;
//   - a mutable global of a type other than i32, i64, f32 or f64, which
//     the host could not restore;
//   - an export whose name begins with "chorus.global.";
//   - a start function (section 8): wazero would run it while creating
//     the instance, where the time limit cannot stop it;
//   - at the rewrite below: an export named "chorus.interrupt", code that
//     names a global the module does not define (the host's), or an
//     instruction outside WebAssembly 2.0.
//
// It then rewrites the module: the export section is rebuilt with the
// original entries first, byte for byte, followed by one export
// "chorus.global.N" of kind global for each defined global, N being the
// global's index in the module's global index space (imported globals come
// first; Go modules import none, so N counts the defined globals from 0).
// A second rewrite adds the interrupt flag and a countdown (ADR 0015):
// two mutable i32 globals after the defined ones, the flag exported as
// "chorus.interrupt", and at every function entry and loop head a test
// that decrements the countdown and, every 4,096 tests, leaves for Go
// (memory.grow 0, so that the Go runtime can preempt the goroutine and
// stop the world) and traps if the flag is set; the host sets the flag
// when a call's deadline passes. Every other section is copied
// unchanged. The rewritten module is compiled by wazero with
// WebAssembly 2.0 minus reference types (so that table.set, table.grow
// and table.fill cannot occur, spec §6 R2) and the memory limit; wazero's
// own interruption on deadlines, a call at every loop head that made Go
// contracts three times slower, is off. Compiled code is kept in
// memory per Runtime, keyed by the SHA-256 of the code given to Load: loading
// the same code again, even concurrently, returns the same Module. With
// Options.CacheDir, wazero also keeps it on disk, so that a restarted peer
// does not compile again (a Go module of 3 MB compiles in about 0.6 s and
// loads from the cache in a few tens of milliseconds).
//
// Finally Load creates a first instance, which runs _initialize, records
// the initial state (below), and calls chorus_abi_version: a module
// speaking another version than 1 is refused, naming both.
//
// # Instances, pooling and reset (spec §6)
//
// Creating an instance of a Go module costs milliseconds; a call on a warm
// one costs microseconds. Each Module therefore keeps a pool of instances
// (Options.PoolSize, the most that exist at once). Invoke takes an idle
// one, or creates one when none is idle and the pool is not full, or waits
// for one; afterwards it returns it to the pool. A nested invocation never
// waits (its caller holds an instance), and may create one beyond the
// bound.
//
//   - R1. After _initialize of the first instance, and after its
//     chorus_warmup when the module exports one, the Module records the
//     whole linear memory and the values of every mutable global, read
//     through the chorus.global.N exports: the initial state, shared by all
//     its instances. Later instances skip _initialize and are written to
//     the initial state (the tables, an instance's only other state, are
//     set at instantiation).
//   - R2. Before every invocation on an instance that has run anything
//     since, the memory up to the snapshot's size and every mutable global
//     are written back.
//   - R3. An instance whose memory grew during an invocation is closed
//     rather than reused: the bytes beyond the snapshot would survive, and
//     restoring the rest alone leaves the Go runtime's heap inconsistent.
//   - R4. An instance whose invocation trapped, exited, exceeded a limit,
//     returned non-zero or did not call set_response exactly once is
//     closed; so is one whose deadline passed, even if its call returned,
//     since wazero may close it asynchronously.
//   - R5. The host state of an invocation (the pending result, open
//     iterators, the response, the log count) lives in a value created for
//     the invocation and carried to the host functions by the context of
//     the call into chorus_invoke; it is never shared between invocations.
//
// How R2 writes the memory back (ADR 0006): on Linux 6.7 and later, an
// instance's memory is an anonymous mapping registered with a userfaultfd
// in asynchronous write-protect mode, so the kernel records which pages an
// invocation wrote; the reset reads that list (PAGEMAP_SCAN), copies those
// pages back and protects them again. Elsewhere, or when the kernel
// refuses, it compares the whole memory with the initial state 4 KiB at a
// time and copies back the pages that differ (Options.CompareEveryPage
// forces this). The sample's CreateAsset, a 4 MB Go module, costs about
// 150 µs with the written pages restored and 205 µs comparing every page
// (BenchmarkAssetsCreateAsset), 710 µs without its warm-up; creating an
// instance costs about 3.5 ms (BenchmarkInstantiate).
//
// Known gap (spec §6 R2): table.copy and table.init, part of bulk memory
// which Go needs, are not refused, so a module could change a table
// between invocations; the host does not scan the code section for them.
//
// # What a contract sees (spec §5)
//
// Every instance gets the same wasi_snapshot_preview1 environment: no
// arguments, no environment variables, no files or preopened directories,
// an empty standard input; a wall clock fixed at 2020-01-01T00:00:00Z; a
// random source of zeros; sleeping and yielding that return at once. The
// monotonic clock is fixed at 1 ns, not 0 as spec §5 says: the Go runtime
// refuses to start when nanotime returns 0 ("fatal error: nanotime
// returning zero"). Time never passes, so a contract that sleeps or waits
// on a timer never wakes and meets the time limit. What a contract writes
// to standard output and error is written to the debug log, at most
// 64 KiB of each per invocation, lines cut at 4 KiB; the first "panic: "
// or "fatal error: " line of standard error explains a trap.
//
// # Host functions (spec §2, §4)
//
// Each function of the chorus import module maps onto the Stub: get_state
// onto GetState, put_state onto PutState (an empty value deletes), range
// queries onto GetStateByRange, history onto GetHistoryForKey, set_event
// onto SetEvent, invoke_contract onto InvokeContract, and so on. Details:
//
//   - args returns Stub.Function() followed by Stub.Args(): the function
//     name is the client's first argument with any "Contract:" prefix
//     dropped, as the Stub gives it.
//   - range_open without flags calls GetStateByRange, which applies
//     Fabric's conventions (an empty start means "\x01"; bounds beginning
//     with U+0000 are refused). With flag 1 and a start beginning with
//     U+0000, the bounds must be those of a partial composite key query, a
//     composite key and the same key followed by U+10FFFF, as
//     compositekey.PartialRange computes them: the host
//     recognises the object type and attributes and calls
//     GetStateByPartialCompositeKey, which records the range read as Fabric
//     does. The Stub offers no composite range of any other shape, so
//     other bounds are refused. Flag 1 with a start not beginning with
//     U+0000 is an ordinary range.
//   - Iterators are read in batches of up to BatchSize (100) entries, keys
//     ascending, history newest first. Ids count from 0 and are never
//     reused within an invocation; at most MaxIterators (64) are open at
//     once. Iterators left open are closed when the invocation ends.
//   - Keys are valid UTF-8 of at most MaxKeyBytes (64 KiB); values,
//     payloads, messages and argument lists at most MaxValueBytes
//     (16 MiB). Pointers and lengths are checked against the guest's
//     memory. Every violation is a failure result (r ≤ -2) with a message
//     that depends only on the call, so that every peer fails the same way
//     (spec §8 D5).
//   - log writes a debug line (level, text cut at MaxLogLineBytes) to
//     Options.Logger; lines after MaxLogLines (100) in one invocation are
//     dropped, and the guest cannot tell.
//   - set_response may be called once: a second call fails the
//     invocation. Its message must be valid UTF-8 (it becomes a protobuf
//     string).
//   - A host function called outside an invocation (during _initialize or
//     chorus_abi_version) traps.
//
// # Failures and limits (spec §3, §7)
//
// Invoke always returns a Response; a failed invocation gives status 500
// and one of these messages, which hold no stack trace or address:
//
//   - "contract exceeded its time limit of 5s": the call ran past
//     Options.TimeLimit (or _initialize did, and Load fails with it). When
//     the deadline passes the host sets the instance's interrupt flag,
//     which the contract's code tests at every loop iteration, so the
//     goroutine returns promptly (a host function in progress, such as a
//     nested invocation, is not interrupted: the contract stops when its
//     own code runs again). An instance whose flag was set is never used
//     again.
//     Each invocation has its own limit; a nested invocation of another
//     WebAssembly contract has its own too, and the caller's keeps
//     running meanwhile.
//   - "contract exceeded its memory limit of 256 MiB": a memory.grow
//     beyond Options.MemoryLimitBytes failed, which the Go runtime reports
//     as "fatal error: out of memory" before it traps (recognised from its
//     standard error), or the instance trapped with its memory at the limit.
//   - "contract trapped: panic: boom", "contract trapped: wasm error: out of
//     bounds memory access": a trap, explained by the Go runtime's first
//     panic or fatal error line when there is one, else by wazero's.
//   - "contract exited with code N": proc_exit (os.Exit).
//   - "contract failed: chorus_invoke returned N", "contract returned
//     without setting a response", "contract called set_response more than
//     once": breaches of the ABI.
//
// Errors of Load and NewRuntime, and of a Module used after Close, start
// with "wasm: ".
//
// # Concurrency
//
// A Runtime and its Modules are safe for concurrent use. An invocation
// runs on the calling goroutine, on an instance no other goroutine uses
// until it is back in the pool; nested invocations (invoke_contract) run
// on other instances, on the same goroutine. wazero starts a goroutine per
// call to watch its deadline; the package starts none of its own and has
// no global state.
package wasm
