//go:build linux && (amd64 || arm64)

package wasm

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestTrackedMemory writes scattered pages, more ranges than one scan
// returns, and pages next to each other, and checks that restore finds
// exactly them and brings the memory back to the initial state.
func TestTrackedMemory(t *testing.T) {
	if err := dirtyTrackingProbe(); err != nil {
		t.Skipf("the kernel cannot track written pages: %v", err)
	}
	const pages = 1024
	tm, err := newTrackedMemory(4 * pages * osPageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Free()
	mem := tm.Reallocate(pages * osPageSize)
	initial := make([]byte, len(mem))
	for i := range initial {
		initial[i] = byte(i * 31)
	}
	copy(mem, initial)
	if err := tm.arm(); err != nil {
		t.Fatal(err)
	}
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
