package wasm

import (
	"context"
	"testing"
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
	b.ReportMetric(float64(len(m.memory)), "snapshot-bytes")
	b.ResetTimer()
	for b.Loop() {
		if res := m.Invoke(stub); res.Status != 200 {
			b.Fatalf("%d %q", res.Status, res.Message)
		}
	}
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
