package wasm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// env is a channel on real storage with the guest installed as the
// contracts "guest" and "other", both run by one Module.
type env struct {
	t  *testing.T
	ch *contracttest.Channel
	rt *Runtime
	m  *Module
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	ch := contracttest.New(t)
	rt := newRuntime(t, opts)
	m := loadGuest(t, rt)
	for _, name := range []string{"guest", "other"} {
		ch.Install(name, m)
		ch.Define(name, "")
	}
	return &env{t: t, ch: ch, rt: rt, m: m}
}

// invoke simulates an invocation of guest by Org1's client.
func (e *env) invoke(args ...string) *contracttest.Tx {
	e.t.Helper()
	tx, err := e.ch.Invoke(e.ch.Org1Client, "guest", args...)
	if err != nil {
		e.t.Fatalf("%q: %v", args, err)
	}
	return tx
}

// ok simulates an invocation that must succeed and returns its payload.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	tx := e.invoke(args...)
	if r := tx.Result.Response; r.Status != 200 {
		e.t.Fatalf("%q: response %d %q", args, r.Status, r.Message)
	}
	return string(tx.Result.Payload)
}

// fails simulates an invocation that must fail with status and a message
// containing want.
func (e *env) fails(status int32, want string, args ...string) {
	e.t.Helper()
	tx := e.invoke(args...)
	if r := tx.Result.Response; r.Status != status || !strings.Contains(r.Message, want) {
		e.t.Fatalf("%q: response %d %q, want %d containing %q", args, r.Status, r.Message, status, want)
	}
}

// submit simulates an invocation and commits it; it must succeed.
func (e *env) submit(args ...string) *contracttest.Tx {
	e.t.Helper()
	tx := e.invoke(args...)
	if tx.Result.IsError() {
		e.t.Fatalf("%q: response %d %q", args, tx.Result.Status, tx.Result.Message)
	}
	if codes := e.ch.Commit(tx); codes[0] != peerpb.TxValidationCode_VALID {
		e.t.Fatalf("%q: %v", args, codes[0])
	}
	return tx
}

func TestState(t *testing.T) {
	e := newEnv(t, Options{})
	e.submit("put", "k1", "v1")
	if got := e.ok("get", "k1"); got != "v1" {
		t.Fatalf("get k1 = %q", got)
	}
	e.fails(404, "absent", "get", "nope")

	// Reads see committed state; the read and the write are recorded.
	tx := e.invoke("getput", "k1", "v2")
	if string(tx.Result.Payload) != "v1" {
		t.Fatalf("getput returned %q", tx.Result.Payload)
	}
	kv := tx.KV(t, "guest")
	if len(kv.Reads) != 1 || kv.Reads[0].Key != "k1" || kv.Reads[0].Version == nil {
		t.Errorf("reads %v", kv.Reads)
	}
	if len(kv.Writes) != 1 || kv.Writes[0].Key != "k1" || string(kv.Writes[0].Value) != "v2" {
		t.Errorf("writes %v", kv.Writes)
	}

	for _, args := range [][]string{{"del", "k1"}, {"put", "k1", ""}} {
		kv := e.invoke(args...).KV(t, "guest")
		if len(kv.Writes) != 1 || !kv.Writes[0].IsDelete {
			t.Errorf("%q: writes %v, want a delete", args, kv.Writes)
		}
	}

	e.fails(500, `put_state: the key "\xff" is not valid UTF-8`, "put", "\xff", "v")
	e.fails(500, "get_state: the key has 65537 bytes, more than the limit of 64 KiB", "get", strings.Repeat("k", MaxKeyBytes+1))
	e.fails(500, "put_state: ", "put", "", "v") // the simulator refuses the empty key
}

func TestArgsAndTransaction(t *testing.T) {
	e := newEnv(t, Options{})
	tx := e.invoke("guest:echo", "a", "", "c")
	args, err := decodeList(tx.Result.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%q", args); got != `["echo" "a" "" "c"]` {
		t.Errorf("args %s", got)
	}

	tx = e.invoke("txinfo")
	want := strings.Join([]string{
		tx.Invocation.TxID, contracttest.ChannelID, "Org1MSP", string(e.ch.Org1Client.Serialized()),
		strconv.FormatInt(tx.Invocation.Timestamp.UnixNano(), 10), "1",
	}, "\n")
	if got := string(tx.Result.Payload); got != want {
		t.Errorf("txinfo\n%q\nwant\n%q", got, want)
	}

	// The world a contract sees is fixed (spec §5).
	if got := e.ok("world"); got != "2020-01-01T00:00:00Z 1577836800000000000 0000000000000000 "+strings.Fields(got)[3] {
		t.Errorf("world %q", got)
	}
}

func TestRange(t *testing.T) {
	e := newEnv(t, Options{})
	e.submit("putn", "r", "250", "x")
	e.submit("put", "\x00color\x00blue\x00a1\x00", "A1")
	e.submit("put", "\x00color\x00blue\x00a2\x00", "A2")
	e.submit("put", "\x00color\x00red\x00a3\x00", "A3")
	e.submit("put", "s", "S")

	tx := e.invoke("range", "r", "s", "0")
	got := string(tx.Result.Payload)
	if strings.Count(got, "=x;") != 250 || !strings.HasPrefix(got, `[100]"r000"=x;"r001"=x;`) ||
		!strings.Contains(got, `"r099"=x;[100]"r100"=x;`) || !strings.Contains(got, `"r199"=x;[50]"r200"=x;`) ||
		!strings.HasSuffix(got, `"r249"=x;`) {
		t.Errorf("range r..s: %.200q...", got)
	}
	if kv := tx.KV(t, "guest"); len(kv.RangeQueriesInfo) != 1 || kv.RangeQueriesInfo[0].StartKey != "r" {
		t.Errorf("range queries recorded: %v", kv.GetRangeQueriesInfo())
	}
	// An empty start skips composite keys, as Fabric's shims do.
	if got := e.ok("range", "", "r001", "0"); got != `[1]"r000"=x;` {
		t.Errorf("range ..r001: %q", got)
	}
	if got := e.ok("range", "s", "", "0"); got != `[1]"s"=S;` {
		t.Errorf("range s..: %q", got)
	}
	if got := e.ok("range", "t", "", "0"); got != "" {
		t.Errorf("empty range: %q", got)
	}

	// Composite keys need flag 1 and the bounds of a partial query.
	if got := e.ok("partial", "color", "blue"); got != `[2]"\x00color\x00blue\x00a1\x00"=A1;"\x00color\x00blue\x00a2\x00"=A2;` {
		t.Errorf("partial color blue: %q", got)
	}
	if got := e.ok("partial", "color"); strings.Count(got, "=A") != 3 {
		t.Errorf("partial color: %q", got)
	}
	e.fails(500, "range_open: contract: GetStateByRange: key \"\\x00color\" begins with U+0000", "range", "\x00color", "", "0")
	e.fails(500, "the bounds must be those of a partial composite key query", "range", "\x00color\x00", "\x00color\x01", "1")
	e.fails(500, "range_open: unknown flags 0x2", "range", "a", "b", "2")
	// Flag 1 with ordinary bounds is an ordinary range.
	if got := e.ok("range", "s", "", "1"); got != `[1]"s"=S;` {
		t.Errorf("range s.. with flag 1: %q", got)
	}

	e.fails(500, "iterator 64: range_open: 64 iterators are open, the most an invocation may have", "iters", "65")
	e.ok("iters", "64")
}

func TestHistory(t *testing.T) {
	e := newEnv(t, Options{})
	var txs []*contracttest.Tx
	for _, args := range [][]string{{"put", "h", "v1"}, {"put", "h", "v2"}, {"del", "h"}, {"put", "h", "v3"}} {
		txs = append(txs, e.submit(args...))
	}
	var want strings.Builder
	for i := len(txs) - 1; i >= 0; i-- {
		inv := txs[i].Invocation
		del, v := 0, inv.Args[2:]
		if string(inv.Args[0]) == "del" {
			del = 1
		}
		fmt.Fprintf(&want, "%s|%d|%d|%d|%s\n", inv.TxID, inv.Timestamp.Unix(), inv.Timestamp.Nanosecond(), del, bytes.Join(v, nil))
	}
	if got := e.ok("history", "h"); got != want.String() {
		t.Errorf("history\n%s\nwant\n%s", got, want.String())
	}
	if got := e.ok("history", "never"); got != "" {
		t.Errorf("history of a key never written: %q", got)
	}
}

func TestEventAndInvokeContract(t *testing.T) {
	e := newEnv(t, Options{})
	tx := e.invoke("event", "Created", "payload")
	if ev := tx.Result.Event; ev == nil || ev.EventName != "Created" || string(ev.Payload) != "payload" || ev.ChaincodeId != "guest" {
		t.Errorf("event %v", ev)
	}
	e.fails(500, "set_event: contract: SetEvent: the event name is empty", "event", "", "p")

	tx = e.invoke("invoke", "other", "putn", "o", "2", "v")
	if got := string(tx.Result.Payload); got != "200||" {
		t.Errorf("invoke other: %q", got)
	}
	if kv := tx.KV(t, "other"); len(kv.GetWrites()) != 2 || kv.Writes[0].Key != "o000" {
		t.Errorf("writes of other: %v", kv.GetWrites())
	}
	e.submit("invoke", "other", "put", "ok", "yes")
	if got := e.ok("invoke", "other", "get", "ok"); got != "200||yes" {
		t.Errorf("invoke other get: %q", got)
	}
	if got := e.ok("invoke", "other", "get", "nope"); got != "404|absent|" {
		t.Errorf("invoke other get missing: %q", got)
	}
	if got := e.ok("invoke", "nope", "get", "k"); !strings.HasPrefix(got, "500|") || !strings.Contains(got, "not defined") {
		t.Errorf("invoke an undefined contract: %q", got)
	}
	// Nested guests each run on an instance of their own, up to the depth
	// limit.
	args := []string{"get", "k"}
	for range contract.MaxCallDepth {
		args = append([]string{"invoke", "guest"}, args...)
	}
	if got := e.ok(args...); !strings.Contains(got, "500|") || !strings.Contains(got, "contract: ") {
		t.Errorf("invocation nested too deep: %q", got)
	}
	args = args[2:] // 8 contracts on the stack
	if got := e.ok(args...); got != strings.Repeat("200||", contract.MaxCallDepth-2)+"404|absent|" {
		t.Errorf("invocation nested to the limit: %q", got)
	}
}

func TestLog(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, Options{Logger: logger})
	e.ok("log", "150")
	out := buf.String()
	if n := strings.Count(out, `msg="wasm: contract log"`); n != MaxLogLines {
		t.Errorf("%d log lines, want %d", n, MaxLogLines)
	}
	for _, want := range []string{`line="line 0"`, `line="line 99"`, "log limit reached", `stream=stdout line="hello from stdout"`, `stream=stderr line="hello from stderr"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(out, `line="line 100"`) {
		t.Error("line 100 was logged")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFailures checks the invocations that fail: each gives a 500
// Response with a clear message (no error from Execute), and its instance
// is discarded (spec §3, §6 R4).
func TestFailures(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		args    []string
		want    string
		discard bool
	}{
		{[]string{"panic"}, "contract trapped: panic: boom", true},
		{[]string{"trap"}, "contract trapped: wasm error: out of bounds memory access", true},
		{[]string{"exit", "3"}, "contract exited with code 3", true},
		{[]string{"exit", "0"}, "contract exited with code 0", true},
		{[]string{"noresponse"}, "contract returned without setting a response", true},
		{[]string{"nonzero"}, "contract failed: chorus_invoke returned 7", true},
		{[]string{"twice"}, "contract called set_response more than once", true},
		{[]string{"unknown"}, "unknown function unknown", false},
		{[]string{"badptr"}, "get_state: the key (100 bytes at 4294967280) lies outside the contract's memory of", false},
		{[]string{"badtake", "k"}, "take: 2 bytes are pending, not 3", false},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			e.submit("put", "k", "vv")
			e.ok("counter")
			before := e.m.instances.Load()
			tx := e.invoke(tc.args...)
			if r := tx.Result.Response; !r.IsError() || r.Message != tc.want && !strings.HasPrefix(r.Message, tc.want) {
				t.Fatalf("response %d %q, want %q", r.Status, r.Message, tc.want)
			}
			if got := e.ok("counter"); got != "1" {
				t.Fatalf("counter %s after the failure", got)
			}
			created := e.m.instances.Load() - before
			if tc.discard && created != 1 || !tc.discard && created != 0 {
				t.Errorf("%d instances created, want discard=%v", created, tc.discard)
			}
		})
	}
}

// TestReset checks spec §6: every invocation on a pooled instance starts
// from the initial state, as on a fresh one.
func TestReset(t *testing.T) {
	e := newEnv(t, Options{PoolSize: 1})
	fresh := e.ok("mapiter")
	before := e.m.instances.Load()
	for i := range 20 {
		if got := e.ok("counter"); got != "1" {
			t.Fatalf("call %d: counter %s", i, got)
		}
		if got := e.ok("mapiter"); got != fresh {
			t.Fatalf("call %d: map order %s, a fresh instance gives %s", i, got, fresh)
		}
		e.ok("getput", "k", strconv.Itoa(i))
	}
	if n := e.m.instances.Load() - before; n != 0 {
		t.Errorf("%d instances created, want 0: the pool was not used", n)
	}
	// Another runtime's fresh instance iterates the map in the same order.
	other := loadGuest(t, newRuntime(t, Options{}))
	if got := other.Invoke(newFakeStub("mapiter")); string(got.Payload) != fresh {
		t.Errorf("map order on another runtime %s, want %s", got.Payload, fresh)
	}
}

// TestResetRestoresEveryPage checks, after invocations that write all
// over the memory, that a reset leaves the whole memory equal to the
// initial state, whichever way the runtime resets (ADR 0006).
func TestResetRestoresEveryPage(t *testing.T) {
	for _, compare := range []bool{false, true} {
		t.Run(fmt.Sprintf("compareEveryPage=%v", compare), func(t *testing.T) {
			e := newEnv(t, Options{PoolSize: 1, CompareEveryPage: compare})
			if !compare && dirtyTrackingProbe() != nil {
				t.Skipf("the kernel cannot track written pages: %v", dirtyTrackingProbe())
			}
			e.submit("putn", "k", "300", "v")
			calls := [][]string{{"counter"}, {"mapiter"}, {"putn", "p", "400", "value"}, {"range", "k", "l", "0"}, {"echo", strings.Repeat("x", 200_000), "y"}, {"panic"}, {"getput", "k001", "v"}}
			for i := range 3 {
				for _, args := range calls {
					e.invoke(args...)
					e.m.mu.Lock()
					if len(e.m.idle) != 1 {
						e.m.mu.Unlock()
						continue // the call failed and its instance was discarded
					}
					inst := e.m.idle[0]
					e.m.mu.Unlock()
					if inst.dirty {
						inst.reset(e.m)
					}
					if tracked := inst.tracked != nil; tracked == compare {
						t.Fatalf("instance tracked %v with compareEveryPage %v", tracked, compare)
					}
					if mem := inst.memoryView(); !bytes.Equal(mem, e.m.memory) {
						diff := 0
						for off := 0; off < len(mem); off += 4096 {
							if !bytes.Equal(mem[off:min(off+4096, len(mem))], e.m.memory[off:min(off+4096, len(mem))]) {
								diff++
							}
						}
						t.Fatalf("round %d, %q: after reset %d pages differ from the initial state", i, args[0], diff)
					}
				}
			}
		})
	}
}

// TestGrowDiscards checks spec §6 R3: an instance whose memory grew is
// not reused, though its invocation succeeds.
func TestGrowDiscards(t *testing.T) {
	e := newEnv(t, Options{PoolSize: 1})
	e.ok("counter")
	before := e.m.instances.Load()
	e.ok("grow", "32")
	if len(e.m.idle) != 0 {
		t.Fatalf("%d idle instances after memory grew, want 0", len(e.m.idle))
	}
	if got := e.ok("counter"); got != "1" {
		t.Fatalf("counter %s", got)
	}
	if n := e.m.instances.Load() - before; n != 1 {
		t.Errorf("%d instances created, want 1", n)
	}
	e.ok("counter")
	if n := e.m.instances.Load() - before; n != 1 {
		t.Errorf("%d instances created, want still 1", n)
	}
}

func TestTimeLimit(t *testing.T) {
	const limit = 200 * time.Millisecond
	r := newRuntime(t, Options{TimeLimit: limit})
	m := loadGuest(t, r)
	start := time.Now()
	cpuBefore := cpuTime(t)
	res := m.Invoke(newFakeStub("loop"))
	elapsed := time.Since(start)
	if res.Status != 500 || res.Message != "contract exceeded its time limit of 200ms" {
		t.Fatalf("response %d %q", res.Status, res.Message)
	}
	if elapsed > limit+time.Second {
		t.Errorf("the invocation returned after %v", elapsed)
	}
	t.Logf("an endless loop returned after %v (CPU %v)", elapsed, cpuTime(t)-cpuBefore)
	// Nothing keeps running: the process is nearly idle.
	idleStart := cpuTime(t)
	time.Sleep(300 * time.Millisecond)
	if used := cpuTime(t) - idleStart; used > 200*time.Millisecond {
		t.Errorf("%v of CPU used in 300ms after the invocation returned", used)
	}
	if got := m.Invoke(newFakeStub("counter")); string(got.Payload) != "1" {
		t.Errorf("after the time limit: %d %q %q", got.Status, got.Message, got.Payload)
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestMemoryLimit(t *testing.T) {
	r := newRuntime(t, Options{MemoryLimitBytes: 32 << 20, TimeLimit: 30 * time.Second})
	m := loadGuest(t, r)
	for _, args := range [][]string{{"alloc"}, {"grow", "64"}} {
		start := time.Now()
		res := m.Invoke(newFakeStub(args[0], args[1:]...))
		if res.Status != 500 || res.Message != "contract exceeded its memory limit of 32 MiB" {
			t.Errorf("%q: response %d %q", args, res.Status, res.Message)
		}
		t.Logf("%q failed after %v", args, time.Since(start))
	}
	if got := m.Invoke(newFakeStub("grow", "16")); got.Status != 200 {
		t.Errorf("grow 16 under a 32 MiB limit: %d %q", got.Status, got.Message)
	}
	if got := m.Invoke(newFakeStub("counter")); string(got.Payload) != "1" {
		t.Errorf("after the memory limit: %d %q %q", got.Status, got.Message, got.Payload)
	}
	if s := formatBytes(DefaultMemoryLimitBytes); s != "256 MiB" {
		t.Errorf("the default limit formats as %q", s)
	}
}

// TestConcurrentInvocations runs many goroutines on one Module, with
// failures and discarded instances among them.
func TestConcurrentInvocations(t *testing.T) {
	r := newRuntime(t, Options{PoolSize: 2})
	m := loadGuest(t, r)
	want := string(m.Invoke(newFakeStub("mapiter")).Payload)
	const goroutines, calls = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*calls)
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				var res contract.Response
				var check func() error
				switch i % 5 {
				case 0:
					res = m.Invoke(newFakeStub("counter"))
					check = func() error { return expect(res, 200, "1") }
				case 1:
					s := newFakeStub("getput", "k", "new")
					s.state["k"] = []byte(fmt.Sprint(g, i))
					res = m.Invoke(s)
					check = func() error {
						if string(s.state["k"]) != "new" {
							return fmt.Errorf("k = %q", s.state["k"])
						}
						return expect(res, 200, fmt.Sprint(g, i))
					}
				case 2:
					res = m.Invoke(newFakeStub("mapiter"))
					check = func() error { return expect(res, 200, want) }
				case 3:
					res = m.Invoke(newFakeStub("panic"))
					check = func() error { return expect(res, 500, "") }
				case 4:
					res = m.Invoke(newFakeStub("grow", "4"))
					check = func() error { return expect(res, 200, "") }
				}
				if err := check(); err != nil {
					errs <- fmt.Errorf("goroutine %d call %d: %w", g, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(m.idle); n > 2 {
		t.Errorf("%d idle instances, more than the pool size 2", n)
	}
	t.Logf("%d instances created for %d invocations", m.instances.Load(), goroutines*calls+1)
}

func expect(res contract.Response, status int32, payload string) error {
	if res.Status != status || status == 200 && string(res.Payload) != payload {
		return fmt.Errorf("response %d %q %q, want %d %q", res.Status, res.Message, res.Payload, status, payload)
	}
	return nil
}

// TestTwoEndorsers checks determinism across peers (spec §8): two
// runtimes, each with its own history of preceding calls, give
// byte-identical responses, events and read/write sets for the same
// invocations.
func TestTwoEndorsers(t *testing.T) {
	ch := contracttest.New(t)
	// One endorser restores the pages the kernel saw written (where it
	// can), the other compares every page (ADR 0006).
	a := loadGuest(t, newRuntime(t, Options{PoolSize: 2}))
	b := loadGuest(t, newRuntime(t, Options{PoolSize: 3, CompareEveryPage: true}))
	for _, name := range []string{"guest", "other"} {
		ch.Install(name, a)
		ch.Define(name, "")
	}
	for _, args := range [][]string{{"putn", "k", "150", "v"}, {"put", "h", "1"}, {"put", "h", "2"}, {"put", "\x00c\x00x\x00", "c"}} {
		tx, err := ch.Invoke(ch.Org1Client, "guest", args...)
		if err != nil || tx.Result.IsError() {
			t.Fatalf("%q: %v %v", args, err, tx.Result)
		}
		ch.Commit(tx)
	}
	templates := [][]string{
		{"getput", "k00%d", "v%d"}, {"get", "k01%d"}, {"range", "k", "k1%d", "0"}, {"partial", "c"},
		{"history", "h"}, {"counter"}, {"mapiter"}, {"world"}, {"txinfo"}, {"event", "e%d", "p%d"},
		{"invoke", "other", "getput", "x", "y%d"}, {"panic"}, {"grow", "6"}, {"noresponse"},
		{"echo", "a%d", "b"}, {"iters", "%d"}, {"del", "k02%d"}, {"badtake", "k003"},
	}
	const calls = 200
	invs := make([]contract.Invocation, calls)
	for i := range invs {
		tmpl := templates[(i*7)%len(templates)]
		args := make([][]byte, len(tmpl))
		for j, a := range tmpl {
			if strings.Contains(a, "%d") {
				a = fmt.Sprintf(a, i%10)
			}
			args[j] = []byte(a)
		}
		invs[i] = contract.Invocation{
			ChannelID: contracttest.ChannelID, Contract: "guest", Args: args,
			TxID: fmt.Sprintf("call%03d", i), Timestamp: time.Unix(1767225600+int64(i), int64(i)).UTC(),
			Creator: ch.Org1Client,
		}
	}
	run := func(m *Module, order []int) []*contracttest.Tx {
		ch.Packages[string(contracttest.PackageHash("guest"))] = m
		ch.Packages[string(contracttest.PackageHash("other"))] = m
		out := make([]*contracttest.Tx, calls)
		for _, i := range order {
			tx, err := ch.Simulate(invs[i])
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			out[i] = tx
		}
		return out
	}
	orderA := make([]int, calls)
	for i := range orderA {
		orderA[i] = i
	}
	orderB := rand.New(rand.NewPCG(1, 2)).Perm(calls)
	start := time.Now()
	txA := run(a, orderA)
	txB := run(b, orderB)
	t.Logf("%d invocations on each endorser in %v", calls, time.Since(start))
	failed := 0
	for i := range calls {
		ra, rb := txA[i].Result, txB[i].Result
		if ra.Status != rb.Status || ra.Message != rb.Message || !bytes.Equal(ra.Payload, rb.Payload) {
			t.Errorf("call %d %q: responses differ:\n%d %q %q\n%d %q %q", i, invs[i].Args, ra.Status, ra.Message, ra.Payload, rb.Status, rb.Message, rb.Payload)
		}
		if !proto.Equal(ra.Event, rb.Event) {
			t.Errorf("call %d %q: events differ: %v, %v", i, invs[i].Args, ra.Event, rb.Event)
		}
		if !bytes.Equal(txA[i].RWSetBytes, txB[i].RWSetBytes) {
			t.Errorf("call %d %q: read/write sets differ", i, invs[i].Args)
		}
		if ra.IsError() {
			failed++
		}
	}
	t.Logf("%d of %d invocations failed, identically", failed, calls)
	t.Logf("the endorsers created %d and %d instances", a.instances.Load(), b.instances.Load())
}

// TestCompilationCache checks that a runtime over a cache directory that
// another runtime filled, as after a restart, loads a module much faster
// than the first did (TestMain timed that load, which compiled).
func TestCompilationCache(t *testing.T) {
	ctx := context.Background()
	r, err := NewRuntime(ctx, Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	start := time.Now()
	if _, err := r.Load(ctx, guestWasm); err != nil {
		t.Fatal(err)
	}
	warm := time.Since(start)
	t.Logf("load with an empty cache %v, with the cache filled %v", coldLoad, warm)
	if warm*2 > coldLoad {
		t.Errorf("the cache does not help: %v then %v", coldLoad, warm)
	}
	entries, err := os.ReadDir(cacheDir)
	if err != nil || len(entries) == 0 {
		t.Errorf("cache directory empty (%v)", err)
	}
}

func TestLoadOnceAndClose(t *testing.T) {
	r := newRuntime(t, Options{})
	ctx := context.Background()
	mods := make([]*Module, 4)
	var wg sync.WaitGroup
	for i := range mods {
		wg.Go(func() {
			m, err := r.Load(ctx, guestWasm)
			if err != nil {
				t.Error(err)
			}
			mods[i] = m
		})
	}
	wg.Wait()
	for _, m := range mods[1:] {
		if m != mods[0] {
			t.Fatal("loading the same code twice gave two modules")
		}
	}
	m := mods[0]
	if m.instances.Load() != 1 {
		t.Errorf("%d instances after loading, want 1", m.instances.Load())
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if res := m.Invoke(newFakeStub("counter")); res.Status != 500 || res.Message != "wasm: the module is closed" {
		t.Errorf("invoking a closed module: %d %q", res.Status, res.Message)
	}
	m2 := loadGuest(t, r)
	if m2 == m {
		t.Fatal("Load returned the closed module")
	}
	if res := m2.Invoke(newFakeStub("counter")); string(res.Payload) != "1" {
		t.Errorf("after reloading: %d %q", res.Status, res.Message)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Load(ctx, guestWasm); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Load after Close: %v", err)
	}
	if res := m2.Invoke(newFakeStub("counter")); res.Status != 500 {
		t.Errorf("invoking after the runtime closed: %d %q", res.Status, res.Message)
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{MemoryLimitBytes: 1000}, "less than one 64 KiB page"},
		{Options{MemoryLimitBytes: 1 << 32}, "exceeds the maximum"},
		{Options{TimeLimit: -1}, "negative time limit"},
		{Options{PoolSize: -1}, "negative pool size"},
	} {
		if r, err := NewRuntime(ctx, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			if r != nil {
				r.Close(ctx)
			}
			t.Errorf("%+v: %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
	r := newRuntime(t, Options{MemoryLimitBytes: 100_000_000})
	if r.memoryLimit != 1525*pageSize || r.timeLimit != DefaultTimeLimit || r.poolSize < 2 {
		t.Errorf("limits %d bytes, %v, pool %d", r.memoryLimit, r.timeLimit, r.poolSize)
	}
}

// TestWarmupInInitialState checks spec §6 R1: the host calls chorus_warmup
// once, before it records the initial state, so every invocation, on the
// first instance and on later ones (which skip _initialize and are written
// to the initial state), sees its effects exactly once.
func TestWarmupInInitialState(t *testing.T) {
	e := newEnv(t, Options{PoolSize: 1})
	for i := range 3 {
		if got := e.ok("warmups"); got != "1" {
			t.Fatalf("call %d: warm-ups %s, want 1", i, got)
		}
	}
	before := e.m.instances.Load()
	e.ok("grow", "32") // discards the instance
	if got := e.ok("warmups"); got != "1" {
		t.Fatalf("on a new instance: warm-ups %s, want 1", got)
	}
	if got := e.ok("counter"); got != "1" {
		t.Fatalf("on a new instance: counter %s, want 1", got)
	}
	if n := e.m.instances.Load() - before; n != 1 {
		t.Errorf("%d instances created, want 1", n)
	}
}

// TestPoolBound checks that concurrent invocations never create more
// instances than the pool's size: the ones beyond it wait for an instance,
// and all of them succeed.
func TestPoolBound(t *testing.T) {
	const pool = 2
	r := newRuntime(t, Options{PoolSize: pool})
	m := loadGuest(t, r)
	before := m.instances.Load()
	var wg sync.WaitGroup
	failures := make(chan string, 32)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				if res := m.Invoke(newFakeStub("spin", "200000")); res.Status != 200 {
					failures <- fmt.Sprintf("%d %q", res.Status, res.Message)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	// The first instance was made by Load; at most pool-1 more.
	if n := m.instances.Load() - before; n > pool-1 {
		t.Errorf("%d instances created for 64 concurrent invocations, want at most %d", n, pool-1)
	}
}
