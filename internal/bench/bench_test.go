package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond // unsorted
	}
	l := latencyOf(ds)
	if l.P50 != 50 || l.P95 != 95 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Errorf("latency %+v", l)
	}
	if got := latencyOf([]time.Duration{7 * time.Millisecond}); got.P50 != 7 || got.P99 != 7 || got.Max != 7 {
		t.Errorf("one sample: %+v", got)
	}
	if got := latencyOf(nil); got != (Latency{}) {
		t.Errorf("no sample: %+v", got)
	}
}

// TestSummarize checks what counts: transactions due in the measured
// window, their fates by code, throughput over the window up to the last
// measured answer, latency of the committed ones, and the series.
func TestSummarize(t *testing.T) {
	s := time.Second
	pr := &phaseResult{warmEnd: 2 * s, results: []result{
		{due: 1 * s, done: 2500 * time.Millisecond, outcome: outcomeValid},                                                                                                                     // warm-up: not measured
		{due: 2 * s, sent: 2 * s, endorsed: 2010 * time.Millisecond, ordered: 2060 * time.Millisecond, done: 2100 * time.Millisecond, outcome: outcomeValid, measured: true},                   // 100 ms
		{due: 2 * s, sent: 2100 * time.Millisecond, endorsed: 2130 * time.Millisecond, ordered: 2200 * time.Millisecond, done: 2300 * time.Millisecond, outcome: outcomeValid, measured: true}, // 300 ms
		{due: 3 * s, done: 3200 * time.Millisecond, outcome: "MVCC_READ_CONFLICT", measured: true, err: "conflict"},
		{due: 3 * s, done: 4 * s, outcome: outcomeEndorse, measured: true, err: "no endorsement"},
	}}
	got := summarize(pr)
	if got.submitted != 4 || got.committed != 2 || got.failed != 2 {
		t.Errorf("counts %d/%d/%d", got.submitted, got.committed, got.failed)
	}
	if got.byCode["MVCC_READ_CONFLICT"] != 1 || got.byCode[outcomeEndorse] != 1 || got.examples[outcomeEndorse] != "no endorsement" {
		t.Errorf("failures %v %v", got.byCode, got.examples)
	}
	if got.window != 2*s || got.tps != 1 {
		t.Errorf("window %v, tps %v; want 2s and 1", got.window, got.tps)
	}
	if got.latency.P50 != 100 || got.latency.Max != 300 {
		t.Errorf("latency %+v", got.latency)
	}
	if ph := got.phases; ph == nil || ph.Queued.Max != 100 || ph.Endorse.P50 != 10 || ph.Endorse.Max != 30 || ph.Order.P50 != 50 || ph.Order.Max != 70 || ph.Commit.P50 != 40 || ph.Commit.Max != 100 {
		t.Errorf("phases %+v", got.phases)
	}
	// Seconds relative to the window: -1 holds the warm-up transaction.
	want := map[int]Second{
		-1: {T: -1, Sent: 1},
		0:  {T: 0, Sent: 2, Committed: 3, P50: 300, P99: 1500}, // 100, 300 and the warm-up's 1500
		1:  {T: 1, Sent: 2, Failed: 1},
		2:  {T: 2, Failed: 1},
	}
	for _, sec := range got.series {
		if w, ok := want[sec.T]; !ok || sec != w {
			t.Errorf("second %d: %+v, want %+v", sec.T, sec, w)
		}
	}
}

func TestCreateOpValueSize(t *testing.T) {
	for _, size := range []int{64, 100, 1000} {
		id := "bench-0a1b2c3d-12-345"
		o := createOp(id, size)
		if o.fn != "CreateAsset" || len(o.args) != 5 || o.args[0] != id {
			t.Fatalf("op %+v", o)
		}
		got := valueBytes(id, size)
		if size >= 100 && got != size {
			t.Errorf("value size %d, want %d", got, size)
		}
		// The JSON the contract stores has exactly these fields.
		b, _ := json.Marshal(asset{AppraisedValue: 300, Color: o.args[1], ID: id, Owner: o.args[3], Size: 5})
		if len(b) != got {
			t.Errorf("valueBytes %d, JSON %d", got, len(b))
		}
	}
}

// A bulk preload's CreateAssets call holds the assets CreateAsset calls
// would create, in order.
func TestCreateBatchOp(t *testing.T) {
	ids := []string{"p-pre-0", "p-pre-1", "p-pre-2"}
	o := createBatchOp(ids, 100)
	if o.fn != "CreateAssets" || len(o.args) != 1 || o.evaluate {
		t.Fatalf("op %+v", o)
	}
	var got []asset
	if err := json.Unmarshal([]byte(o.args[0]), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("%d assets, want %d", len(got), len(ids))
	}
	for i, a := range got {
		single := createOp(ids[i], 100)
		want := asset{AppraisedValue: 300, Color: single.args[1], ID: ids[i], Owner: single.args[3], Size: 5}
		if a != want {
			t.Errorf("asset %d: %+v, want %+v", i, a, want)
		}
	}
}

func TestGenerators(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := DefaultConfig()
	cfg.Keys = 10
	cfg.Workload = Read
	for range 100 {
		o := newGenerator(cfg, "p")(0, 0, rng)
		if !o.evaluate || o.fn != "ReadAsset" || !strings.HasPrefix(o.args[0], "bench-key-") {
			t.Fatalf("read op %+v", o)
		}
	}
	cfg.Workload = Transfer
	seen := map[string]bool{}
	for range 1000 {
		o := newGenerator(cfg, "p")(0, 0, rng)
		if o.evaluate || o.fn != "TransferAsset" {
			t.Fatalf("transfer op %+v", o)
		}
		seen[o.args[0]] = true
	}
	if len(seen) != 10 {
		t.Errorf("transfer touched %d keys of 10", len(seen))
	}
	cfg.Workload = Create
	a, b := newGenerator(cfg, "p")(1, 2, rng), newGenerator(cfg, "p")(2, 1, rng)
	if a.args[0] == b.args[0] {
		t.Errorf("create ids collide: %s", a.args[0])
	}
	names := []string{"A", "B"}
	g := newOnceGenerator(2, func(i int) op { return op{fn: names[i]} })
	if g.generate(0, 0, rng).fn != "A" || g.generate(0, 0, rng).fn != "B" || g.generate(0, 0, rng).fn != "" || g.generate(0, 0, rng).fn != "" {
		t.Error("the once generator does not hand out each op once")
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.Workload = "mine"
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), `unknown workload "mine"`) {
		t.Errorf("bad workload: %v", err)
	}
	bad = DefaultConfig()
	bad.Workers, bad.Duration, bad.Transactions, bad.Workload, bad.Keys, bad.PreloadBatch = 0, 0, 0, Transfer, 0, MaxPreloadBatch+1
	err := bad.validate()
	for _, want := range []string{"workers must be at least 1", "give a duration or a number of transactions", "needs a key space",
		"the preload batch must be between 1 and 10000 assets, not 10001"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestConfigValidatePreloadBatchBytes(t *testing.T) {
	c := DefaultConfig()
	c.PreloadBatch, c.ValueSize = 10000, 1000
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "a preload batch of 10000 assets of 1000 bytes (--preload-batch × --value-size) is over 2097152 bytes") {
		t.Errorf("a 10 MB batch: %v", err)
	}
	c.PreloadBatch, c.ValueSize = 10000, 100
	if err := c.validate(); err != nil {
		t.Errorf("a 1 MB batch: %v", err)
	}
}

func TestProcessCPU(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		x++
	}
	after, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Errorf("100 ms of spinning counted as %v of CPU (%d)", after-before, x)
	}
	if _, err := processCPU(-1); err == nil {
		t.Error("a process that does not exist has a CPU time")
	}
}

// settleSamples returns once the CPU total grows by under a quarter of
// an interval twice in a row, and reports a limit, a failed sample and a
// cancelled context.
func TestSettleSamples(t *testing.T) {
	const interval = time.Millisecond
	busy, idle := interval, interval/10 // CPU per interval
	series := func(steps ...time.Duration) func() (time.Duration, error) {
		var total time.Duration
		i := 0
		return func() (time.Duration, error) {
			if i < len(steps) {
				total += steps[i]
			} else {
				total += steps[len(steps)-1]
			}
			i++
			return total, nil
		}
	}
	// Busy, one idle interval, busy again, then idle: the lone idle
	// interval does not end the wait.
	calls := 0
	s := series(0, busy, busy, idle, busy, idle, idle, busy)
	counted := func() (time.Duration, error) { calls++; return s() }
	_, ok, err := settleSamples(context.Background(), counted, interval, time.Minute)
	if err != nil || !ok || calls != 7 {
		t.Errorf("settled %v, %v after %d samples, want true after 7", ok, err, calls)
	}
	// Always busy: the limit ends the wait, not idle.
	waited, ok, err := settleSamples(context.Background(), series(0, busy), interval, 20*time.Millisecond)
	if err != nil || ok || waited < 20*time.Millisecond {
		t.Errorf("always busy: waited %v, idle %v, %v", waited, ok, err)
	}
	// A failed sample (a node that stopped) fails the wait.
	n := 0
	failing := func() (time.Duration, error) {
		if n++; n > 2 {
			return 0, errors.New("peer0 stopped")
		}
		return time.Duration(n) * busy, nil
	}
	if _, ok, err := settleSamples(context.Background(), failing, interval, time.Minute); err == nil || ok || err.Error() != "peer0 stopped" {
		t.Errorf("failing sample: idle %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok, err := settleSamples(ctx, series(0, busy), interval, time.Minute); !errors.Is(err, context.Canceled) || ok {
		t.Errorf("cancelled: idle %v, %v", ok, err)
	}
}

func TestBatchRange(t *testing.T) {
	for _, tc := range []struct{ b, size, total, first, end int }{
		{0, 1000, 2500, 0, 1000}, {1, 1000, 2500, 1000, 2000}, {2, 1000, 2500, 2000, 2500},
		{0, 1000, 300, 0, 300}, {1, 1000, 2000, 1000, 2000},
	} {
		if first, end := batchRange(tc.b, tc.size, tc.total); first != tc.first || end != tc.end {
			t.Errorf("batchRange(%d, %d, %d) = [%d, %d), want [%d, %d)", tc.b, tc.size, tc.total, first, end, tc.first, tc.end)
		}
	}
}

func TestSignatureBound(t *testing.T) {
	b, err := measureSignatureBound(5 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if b.SignUS <= 0 || b.VerifyUS <= 0 || b.VerifyNewKeyUS <= 0 || b.Cores < 1 || b.Signs != 5 || b.Verifies != 8 {
		t.Fatalf("bound %+v", b)
	}
	want := float64(b.Cores) / ((5*b.SignUS + 8*b.VerifyUS) / 1e6)
	if d := b.BoundTPS - want; d > want*0.01 || d < -want*0.01 {
		t.Errorf("bound %v, formula gives %v", b.BoundTPS, want)
	}
	if !strings.Contains(b.Formula, "cores ÷ (5 × sign + 8 × verify)") {
		t.Errorf("formula %q", b.Formula)
	}
}

// TestReportOutputs renders a report in its three forms.
func TestReportOutputs(t *testing.T) {
	r := &Report{
		Started: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Workload: Create, Mode: "closed-loop",
		Submitted: 10, Committed: 9, Failed: 1, FailuresByCode: map[string]int{"MVCC_READ_CONFLICT": 1},
		FailureExamples: map[string]string{"MVCC_READ_CONFLICT": "transaction t committed invalid"},
		CommittedTPS:    900.5, OfferedTPS: 1000, WindowSeconds: 10, LatencyMS: Latency{P50: 100, P95: 200, P99: 300, Max: 400},
		SignatureBound:    SignatureBound{BoundTPS: 3900, Formula: "cores ÷ (5 × sign + 8 × verify) = 3900 tx/s"},
		SignatureBoundTPS: 3900, BoundRatio: 0.2309,
		Processes: []ProcessCPU{
			{Name: "peer0", Role: "peer", CPUSeconds: 5, CPUSecondsPerTx: 0.0008, CoresUsed: 0.5, Profile: &CPUBreakdown{SampledSeconds: 5, Categories: []CategoryShare{
				{Category: "contract runtime (WebAssembly)", Seconds: 2, Share: 0.4}, {Category: otherCategory, Seconds: 3, Share: 0.6}}}},
			{Name: "orderer0", Role: "orderer", CPUSeconds: 1, CPUSecondsPerTx: 0.0002, CoresUsed: 0.1, ProfileError: "not found: operations.profiling"},
		},
		Settings: Settings{Preload: 100000, PreloadBatch: 1000, PreloadSeconds: 12.5, SettleSeconds: 4, PreloadTransactions: 100, RaftLeaders: []string{"orderer1", "orderer2"}, Contract: "assets", Channel: "mychannel", Workers: 8, Connections: 1, Organizations: []string{"Org1MSP"}, EndorsementPolicy: "AND('Org1MSP.peer','Org2MSP.peer')", BlockCutting: &BlockCutting{MaxMessageCount: 500, PreferredMaxBytes: 2 << 20, BatchTimeoutMS: 250}},
		Ledger:   &LedgerCheck{Channel: "mychannel", Height: 7, Verified: true, CommitHashesEqual: true, Nodes: []NodeLedger{{Name: "peer0", Height: 7, CommitHash: "abcd"}}},
		Series:   []Second{{T: -1, Sent: 5, Committed: 5, P50: 90, P99: 120}, {T: 0, Sent: 10, Committed: 9, Failed: 1, P50: 100, P99: 300}},
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput  900.5 tx/s committed", "MVCC_READ_CONFLICT 1", "p99 300.0 ms", "reached          23.1% of the bound", "800", "commit hashes are equal at height 7",
		"contract runtime (WebAssembly)  40.0%    320", "no CPU profile of orderer0: not found", "Raft leader orderer1 then orderer2",
		"100000 assets preloaded (1000 a transaction, 100 transactions) in 12.5 s, the nodes idle 4.0 s later"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"committed_tps", "failed", "latency_ms", "signature_bound_tps"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON lacks %s", key)
		}
	}
	if lat := m["latency_ms"].(map[string]any); lat["p99"] != 300.0 || lat["p50"] != 100.0 || lat["p95"] != 200.0 || lat["max"] != 400.0 {
		t.Errorf("latency_ms %v", lat)
	}
	var html bytes.Buffer
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	if !strings.Contains(h, "<td>contract runtime (WebAssembly)</td><td class=\"n\">40.0%</td><td class=\"n\">320</td>") || !strings.Contains(h, "No CPU profile of orderer0") {
		t.Errorf("HTML report lacks the CPU by category")
	}
	if !strings.Contains(h, "<td>preloaded</td><td>100000 assets, 1000 a transaction, 100 transactions, in 12.5 s, the nodes idle 4.0 s later</td>") {
		t.Errorf("HTML report lacks the preload")
	}
	if !strings.Contains(h, "<td>Raft leader</td><td>orderer1 then orderer2</td>") {
		t.Errorf("HTML report lacks the Raft leaders")
	}
	if strings.Count(h, "<svg") != 2 || !strings.Contains(h, "900.5 tx/s") || !strings.Contains(h, "warm-up") || strings.Contains(h, "<?xml") {
		t.Errorf("HTML report: %d charts, or figures missing", strings.Count(h, "<svg"))
	}
	if !r.OK() {
		t.Error("a verified run is not OK")
	}
	r.Ledger.CommitHashesEqual = false
	if r.OK() {
		t.Error("a run with differing commit hashes is OK")
	}
}
