//go:build linux && (amd64 || arm64)

package wasm

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// armedMemory returns a tracked memory reserving reserved pages, grown to
// pages, holding an initial state (also returned) and armed; the test is
// skipped where the kernel cannot track written pages.
func armedMemory(t *testing.T, reserved, pages int) (tm *trackedMemory, mem, initial []byte) {
	t.Helper()
	if err := dirtyTrackingProbe(); err != nil {
		t.Skipf("the kernel cannot track written pages: %v", err)
	}
	tm, err := newTrackedMemory(uint64(reserved * osPageSize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tm.Free)
	mem = tm.Reallocate(uint64(pages * osPageSize))
	initial = make([]byte, len(mem))
	for i := range initial {
		initial[i] = byte(i * 31)
	}
	copy(mem, initial)
	if err := tm.arm(); err != nil {
		t.Fatal(err)
	}
	return tm, mem, initial
}

// TestTrackedMemory writes scattered pages, more ranges than one scan
// returns, and pages next to each other, and checks that restore finds
// exactly them and brings the memory back to the initial state.
func TestTrackedMemory(t *testing.T) {
	const pages = 1024
	tm, mem, initial := armedMemory(t, 4*pages, pages)
	rng := rand.New(rand.NewPCG(7, 9))
	for round := range 50 {
		written := map[int]bool{}
		switch round % 3 {
		case 0: // every other page: 512 ranges, several scans' worth
			for p := round % 2; p < pages; p += 2 {
				written[p] = true
			}
		case 1: // a run of neighbours: one range
			for p := 100; p < 140; p++ {
				written[p] = true
			}
		default:
			for range 23 {
				written[rng.IntN(pages)] = true
			}
		}
		for p := range written {
			mem[p*osPageSize+rng.IntN(osPageSize)] ^= 0xff
		}
		got, err := tm.restore(initial)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got != len(written) {
			t.Errorf("round %d: restored %d pages, %d were written", round, got, len(written))
		}
		if !bytes.Equal(mem, initial) {
			t.Fatalf("round %d: the memory differs from the initial state after restore", round)
		}
	}
	// Nothing written: nothing restored.
	if got, err := tm.restore(initial); err != nil || got != 0 {
		t.Errorf("idle restore: %d pages, %v", got, err)
	}
	// Growth stays in place, up to the reservation.
	if b := tm.Reallocate(2 * pages * osPageSize); len(b) != 2*pages*osPageSize || &b[0] != &mem[0] {
		t.Error("growth moved or did not grow the memory")
	}
	if b := tm.Reallocate(5 * pages * osPageSize); b != nil {
		t.Error("growth beyond the reservation succeeded")
	}
}

// TestTrackedMemoryOpenPages: pages invocations keep writing stay open
// (writable) between restores and are still restored; open pages that stop
// changing are protected again after closeAfter restores and then tracked
// by the kernel as before; no more than maxOpenPages are ever open.
func TestTrackedMemoryOpenPages(t *testing.T) {
	const pages = 1024
	tm, mem, initial := armedMemory(t, pages, pages)
	restore := func(what string, want int) {
		t.Helper()
		got, err := tm.restore(initial)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != want {
			t.Fatalf("%s: restored %d pages, want %d", what, got, want)
		}
		if !bytes.Equal(mem, initial) {
			t.Fatalf("%s: the memory differs from the initial state after restore", what)
		}
	}
	hot := []int{3, 4, 5, 200, 900}
	for round := range 10 {
		for _, p := range hot {
			mem[p*osPageSize+round] ^= 0xff
		}
		restore("hot pages", len(hot))
	}
	if tm.openPages != len(hot) {
		t.Fatalf("%d open pages, want the %d written every time", tm.openPages, len(hot))
	}
	// Unchanged, they close after closeAfter restores...
	for range closeAfter + 1 {
		restore("idle", 0)
	}
	if tm.openPages != 0 {
		t.Fatalf("%d pages still open after %d idle restores", tm.openPages, closeAfter+1)
	}
	// ...and the kernel tracks them again.
	mem[4*osPageSize] ^= 1
	mem[900*osPageSize+4095] ^= 1
	restore("closed pages written again", 2)

	// More written pages than may stay open: the rest are protected.
	for p := 0; p < pages; p += 3 {
		mem[p*osPageSize] ^= 0xff
	}
	restore("many pages", (pages+2)/3)
	if tm.openPages > maxOpenPages {
		t.Fatalf("%d open pages, at most %d allowed", tm.openPages, maxOpenPages)
	}
	for p := 1; p < pages; p += 3 {
		mem[p*osPageSize] ^= 0xff
	}
	restore("their neighbours", (pages+1)/3)
}

// TestDiscardedInstancesFreeTheirMemory: instances closed after a panic,
// a grown memory or a time limit give back their mapping and descriptor.
// (An instance whose deadline closes it just after its call returned is
// a race this cannot provoke; instance.close frees its memory for it.)
func TestDiscardedInstancesFreeTheirMemory(t *testing.T) {
	if err := dirtyTrackingProbe(); err != nil {
		t.Skipf("the kernel cannot track written pages: %v", err)
	}
	openFiles := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	r := newRuntime(t, Options{PoolSize: 1, TimeLimit: 100 * time.Millisecond})
	before := openFiles()
	m := loadGuest(t, r)
	for range 5 {
		for _, args := range [][]string{{"panic"}, {"grow", "8"}, {"loop"}, {"counter"}} {
			m.Invoke(newFakeStub(args[0], args[1:]...))
		}
	}
	if created := m.instances.Load(); created < 10 {
		t.Fatalf("%d instances created, want one per discarded invocation", created)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := openFiles(); after > before {
		t.Errorf("%d files open after the module closed, %d before: instances leaked their userfaultfd", after, before)
	}
}
