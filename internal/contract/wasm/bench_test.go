package wasm

import (
	"context"
	"fmt"
	"testing"

	"github.com/chorusledger/chorus/samples"
)

// BenchmarkInvokeGetPut measures one invocation through the runtime on a
// pooled instance: taking it from the pool, restoring its initial state
// (memory and globals), calling chorus_invoke, which reads its arguments,
// does one GetState and one PutState and sets its response, and returning
// the instance to the pool. The stub is an in-memory map, so that the
// figure is the runtime's.
func BenchmarkInvokeGetPut(b *testing.B) {
	r := newRuntime(b, Options{})
	m := loadGuest(b, r)
	stub := newFakeStub("getput", "key", "value")
	stub.state["key"] = []byte("old value")
	if res := m.Invoke(stub); res.Status != 200 {
		b.Fatalf("%d %q", res.Status, res.Message)
	}
	for b.Loop() {
		if res := m.Invoke(stub); res.Status != 200 {
			b.Fatalf("%d %q", res.Status, res.Message)
		}
	}
	b.ReportMetric(float64(len(m.memory)), "snapshot-bytes")
}

// BenchmarkInstantiate measures what pooling saves: creating an instance
// and running _initialize.
func BenchmarkInstantiate(b *testing.B) {
	r := newRuntime(b, Options{})
	m := loadGuest(b, r)
	for b.Loop() {
		inst, err := m.instantiate(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		inst.close()
	}
}

// BenchmarkAssetsCreateAsset measures the sample contract's CreateAsset,
// as a peer endorses it under the standard bench workload: a unique id
// per call, a ~100-byte asset, one GetState, one PutState and an event.
func BenchmarkAssetsCreateAsset(b *testing.B) {
	for _, mode := range []struct {
		name    string
		compare bool
	}{{"reset=written-pages", false}, {"reset=compare-every-page", true}} {
		b.Run(mode.name, func(b *testing.B) {
			if !mode.compare && dirtyTrackingProbe() != nil {
				b.Skipf("the kernel cannot track written pages: %v", dirtyTrackingProbe())
			}
			m := benchAssetsInvoke(b, Options{CompareEveryPage: mode.compare}, func(i int) (string, []string) {
				return "CreateAsset", []string{fmt.Sprintf("bench-%d", i), "blue", "5", "benchoooooooooooooooooooo", "300"}
			})
			b.ReportMetric(float64(len(m.memory)), "snapshot-bytes")
		})
	}
}

// BenchmarkAssetsCreateAssets1000 measures the sample contract's bulk load,
// CreateAssets with 1,000 assets of about 100 bytes each (what chorus bench
// --preload-batch 1000 sends): a GetState and a PutState per asset, and
// the instance replaced when its memory grew (R3). Decoding the JSON
// array is most of it. 84 ms with wazero's deadline checks at every loop
// head, 23.9 ms with the interrupt flag (ADR 0015).
func BenchmarkAssetsCreateAssets1000(b *testing.B) {
	benchAssetsInvoke(b, Options{}, func(i int) (string, []string) {
		arg := []byte{'['}
		for j := range 1000 {
			if j > 0 {
				arg = append(arg, ',')
			}
			arg = fmt.Appendf(arg, `{"ID":"bench-%d-%d","Color":"blue","Size":5,"Owner":"benchoooooooooooooooooooo","AppraisedValue":300}`, i, j)
		}
		return "CreateAssets", []string{string(append(arg, ']'))}
	})
}

// benchAssetsInvoke loads the assets sample with opts and invokes it once
// an iteration with the call that call(i) returns (i counts from 1), which
// must succeed; it reports the instances created per invocation.
func benchAssetsInvoke(b *testing.B, opts Options, call func(i int) (fn string, args []string)) *Module {
	r := newRuntime(b, opts)
	m, err := r.Load(context.Background(), samples.AssetsModule)
	if err != nil {
		b.Fatal(err)
	}
	before := m.instances.Load()
	i := 0
	for b.Loop() {
		i++
		fn, args := call(i)
		if res := m.Invoke(newFakeStub(fn, args...)); res.Status != 200 {
			b.Fatalf("%d %q", res.Status, res.Message)
		}
	}
	b.ReportMetric(float64(m.instances.Load()-before)/float64(i), "instantiations/op")
	return m
}
