package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	httppprof "net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestCategorizeStacks checks the precedence of categories on stacks
// written as a profile: the first category in order naming any frame wins,
// except that gRPC claims only frames nearer the leaf than Chorus's own.
func TestCategorizeStacks(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
	}
	fn := map[string]*profile.Function{}
	stack := func(names ...string) []*profile.Location {
		var locs []*profile.Location
		for _, name := range names { // leaf first, as in a profile
			f, ok := fn[name]
			if !ok {
				f = &profile.Function{ID: uint64(len(fn) + 1), Name: name}
				fn[name] = f
				p.Function = append(p.Function, f)
			}
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		return locs
	}
	add := func(ms int64, names ...string) {
		p.Sample = append(p.Sample, &profile.Sample{Location: stack(names...), Value: []int64{ms / 10, ms * 1e6}})
	}
	add(300, "crypto/internal/fips140/sha256.block", "crypto/ecdsa.VerifyASN1", "github.com/chorusledger/chorus/internal/identity.(*Identity).Verify")
	add(100, "filippo.io/nistec.p256PointAddAsm", "github.com/chorusledger/chorus/internal/identity/keytable.(*Table).Verify", "google.golang.org/grpc.(*Server).handleStream")
	add(300, "runtime.mallocgc", "github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).Call", "github.com/chorusledger/chorus/internal/contract/wasm.(*Module).Invoke")
	add(100, "google.golang.org/protobuf/internal/impl.(*MessageInfo).marshal", "google.golang.org/grpc.(*Server).handleStream")
	add(100, "github.com/chorusledger/chorus/proto/fabric/common.(*Envelope).UnmarshalVTUnsafe", "github.com/chorusledger/chorus/internal/peer.(*Peer).endorse")
	add(100, "example.com/lib.somethingElse")
	// gRPC's own work, including a client call a handler makes; not the
	// handlers it runs: their allocations and their own code.
	add(100, "golang.org/x/net/http2/hpack.(*Decoder).parseFieldIndexed", "google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders")
	add(100, "google.golang.org/grpc.invoke", "github.com/chorusledger/chorus/internal/gateway.(*Server).endorseRemote", "google.golang.org/grpc.(*Server).handleStream")
	add(100, "runtime.mallocgc", "github.com/chorusledger/chorus/internal/gateway.(*Server).Endorse", "google.golang.org/grpc.(*Server).handleStream")
	add(100, "github.com/chorusledger/chorus/internal/peer.(*Peer).endorse", "google.golang.org/grpc.(*Server).handleStream")
	add(100, "github.com/chorusledger/chorus/internal/peer.(*channel).commit")

	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := categorize(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []CategoryShare{
		{"signature verification (ECDSA)", 0.4, 0.2667},
		{"contract runtime (WebAssembly)", 0.3, 0.2},
		{"Chorus's own code", 0.2, 0.1333},
		{"gRPC and HTTP/2", 0.2, 0.1333},
		{"protobuf", 0.2, 0.1333},
		{"memory allocation", 0.1, 0.0667},
		{otherCategory, 0.1, 0.0667},
	}
	if b.SampledSeconds != 1.5 || len(b.Categories) != len(want) {
		t.Fatalf("breakdown %+v", b)
	}
	for i, c := range b.Categories {
		if c != want[i] {
			t.Errorf("category %d: %+v, want %+v", i, c, want[i])
		}
	}
}

// TestCategorizeRefusesOtherProfiles: a heap profile is not a CPU profile.
func TestCategorizeRefusesOtherProfiles(t *testing.T) {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "inuse_space", Unit: "bytes"}}}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := categorize(&buf); err == nil || !strings.Contains(err.Error(), "not a CPU profile") {
		t.Fatalf("got %v", err)
	}
}

// servePprof serves net/http/pprof's CPU profile, as a node's operations
// endpoint does, and returns its address.
func servePprof(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// verifyFor verifies ECDSA signatures for d: a workload whose category a
// profile must find.
func verifyFor(t *testing.T, d time.Duration) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("chorus"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < d; {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			t.Fatal("signature does not verify")
		}
	}
}

// TestProfilerOverHTTP profiles a process through a real /debug/pprof
// endpoint while it verifies signatures, and finds them in the breakdown.
func TestProfilerOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles for a second")
	}
	addr := servePprof(t)
	dir := t.TempDir()
	pr := startProfiler(context.Background(), dir, "peer0.org1 example", addr, false, time.Second)
	verifyFor(t, 1100*time.Millisecond)
	b, err := pr.breakdown()
	if err != nil {
		t.Fatal(err)
	}
	if b.File != filepath.Join(dir, "peer0.org1-example.pprof") {
		t.Errorf("file %s", b.File)
	}
	if _, err := os.Stat(b.File); err != nil {
		t.Fatal(err)
	}
	if len(b.Categories) == 0 || b.Categories[0].Category != "signature verification (ECDSA)" || b.Categories[0].Share < 0.5 {
		t.Errorf("breakdown %+v", b.Categories)
	}
}

// TestProfilerInChunks: a node profiled for a window whose end is not
// known in advance (a run of a number of transactions) is profiled in
// chunks until the window ends, and the chunks are merged: the profile
// covers the whole window, and ends at most a chunk after it.
func TestProfilerInChunks(t *testing.T) {
	defer func(d time.Duration) { profileChunk = d }(profileChunk)
	profileChunk = time.Second
	addr := servePprof(t)
	dir := t.TempDir()
	pr := startProfiler(context.Background(), dir, "peer0", addr, false, 0)
	verifyFor(t, 2500*time.Millisecond) // into the third chunk
	stopped := time.Now()
	pr.stop()
	b, err := pr.breakdown()
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(stopped); waited > 5*time.Second {
		t.Errorf("the profile ended %v after the window", waited)
	}
	// One chunk holds at most about a second of this goroutine's CPU; the
	// merged profile holds the three.
	if b.SampledSeconds < 1.5 {
		t.Errorf("the merged profile holds %.2f s of samples, want more than a chunk's", b.SampledSeconds)
	}
	if len(b.Categories) == 0 || b.Categories[0].Category != "signature verification (ECDSA)" {
		t.Errorf("breakdown %+v", b.Categories)
	}
	pr.stop() // a second stop does nothing
}

// TestProfilerChunkFails: a chunk that fails (the node restarted, say)
// ends the profile with the reason, and what was merged before it is
// kept in the file.
func TestProfilerChunkFails(t *testing.T) {
	defer func(d time.Duration) { profileChunk = d }(profileChunk)
	profileChunk = time.Second
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			http.Error(w, "profiling went away", http.StatusInternalServerError)
			return
		}
		httppprof.Profile(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	pr := startProfiler(context.Background(), dir, "peer0", strings.TrimPrefix(srv.URL, "http://"), false, 0)
	verifyFor(t, 1500*time.Millisecond)
	pr.stop()
	_, err := pr.breakdown()
	if err == nil || !strings.Contains(err.Error(), "ends early") || !strings.Contains(err.Error(), "profiling went away") {
		t.Fatalf("got %v, want the early end and its reason", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "peer0.pprof")); err != nil {
		t.Errorf("the first chunk was not kept: %v", err)
	}
}

// TestProfilerNotServed: a node without operations.profiling says so.
func TestProfilerNotServed(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	pr := startProfiler(context.Background(), t.TempDir(), "orderer0", strings.TrimPrefix(srv.URL, "http://"), false, time.Second)
	if _, err := pr.breakdown(); err == nil || !strings.Contains(err.Error(), "operations.profiling: true") {
		t.Fatalf("got %v", err)
	}
}

// TestProfilerInterrupted: a run interrupted during its window does not
// wait for the nodes' profiles, which they send only at its end.
func TestProfilerInterrupted(t *testing.T) {
	ctx, interrupt := context.WithCancel(context.Background())
	pr := startProfiler(ctx, t.TempDir(), "peer0", servePprof(t), false, time.Minute)
	time.Sleep(100 * time.Millisecond) // the request is in flight
	interrupted := time.Now()
	interrupt()
	_, err := pr.breakdown()
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("got %v, want the interruption named", err)
	}
	if waited := time.Since(interrupted); waited > 10*time.Second {
		t.Fatalf("breakdown returned %v after the interruption", waited)
	}
}
