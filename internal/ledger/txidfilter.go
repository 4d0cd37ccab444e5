package ledger

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// txIDFilter is a Bloom filter, in memory, of the transaction ids of a
// channel's index, so that looking up an id the index does not hold (most
// lookups under load: a new transaction checked for duplicates by its
// endorser, its orderer and its validator) rarely reads the database. A
// Pebble read of an absent key is not free even with bloom filters on its
// tables: it opens an iterator on every table and level whose key range
// covers the key, and transaction ids, being hashes, fall in every range.
//
// The filter never answers "absent" for an id it was given. It grows
// without knowing its final size: when its newest stage is full it adds
// one twice as large; a lookup asks every stage. Each stage is blocked:
// an id's probes all fall in one 64-byte block, one cache line, so that
// a lookup costs about one cache miss per stage.
//
// add is serialised by the filter; mayContain may run concurrently with
// it and with itself.
type txIDFilter struct {
	seed   maphash.Seed
	mu     sync.Mutex // serialises add
	stages atomic.Pointer[[]*bloomStage]
}

const (
	// A stage has at least bloomBitsPerID bits per id of its capacity,
	// rounded up to a power of two blocks: 16 in practice, and with
	// bloomProbes probes well under 1% false positives when it is full
	// (0.4% over three stages in TestTxIDFilter).
	bloomBitsPerID = 10
	bloomProbes    = 7
	// bloomFirstStage is the capacity, in ids, of the first stage (128 KiB).
	bloomFirstStage = 1 << 16
	bloomBlockWords = 8 // 512 bits: one cache line
)

type bloomStage struct {
	words    []atomic.Uint64
	blocks   uint64 // len(words) / bloomBlockWords, a power of two
	capacity int
	n        int // ids added; guarded by txIDFilter.mu
}

func newTxIDFilter() *txIDFilter {
	f := &txIDFilter{seed: maphash.MakeSeed()}
	stages := []*bloomStage{newBloomStage(bloomFirstStage)}
	f.stages.Store(&stages)
	return f
}

func newBloomStage(capacity int) *bloomStage {
	blocks := uint64(1) << bits.Len64(uint64(capacity*bloomBitsPerID/(64*bloomBlockWords)))
	return &bloomStage{words: make([]atomic.Uint64, blocks*bloomBlockWords), blocks: blocks, capacity: capacity}
}

// add records id.
func (f *txIDFilter) add(id string) {
	h := maphash.String(f.seed, id)
	f.mu.Lock()
	defer f.mu.Unlock()
	stages := *f.stages.Load()
	last := stages[len(stages)-1]
	if last.n >= last.capacity {
		last = newBloomStage(2 * last.capacity)
		grown := append(stages[:len(stages):len(stages)], last)
		f.stages.Store(&grown)
	}
	last.n++
	block, h1, h2 := last.probes(h)
	for i := range uint32(bloomProbes) {
		word, mask := probe(h1, h2, i)
		block[word].Or(mask)
	}
}

// mayContain reports whether id may have been added: false means it was
// not.
func (f *txIDFilter) mayContain(id string) bool {
	h := maphash.String(f.seed, id)
	for _, s := range *f.stages.Load() {
		if s.test(h) {
			return true
		}
	}
	return false
}

func (s *bloomStage) test(h uint64) bool {
	block, h1, h2 := s.probes(h)
	for i := range uint32(bloomProbes) {
		if word, mask := probe(h1, h2, i); block[word].Load()&mask == 0 {
			return false
		}
	}
	return true
}

// probe returns the word of a block and the bit in it of probe i.
func probe(h1, h2, i uint32) (word int, mask uint64) {
	p := (h1 + i*h2) % (64 * bloomBlockWords)
	return int(p / 64), 1 << (p % 64)
}

// probes returns the block of hash h, chosen by its low bits, and the two
// hashes whose combinations h1 + i·h2 place its probes in the block. They
// come from the high bits of h multiplied by an odd constant, which
// depend on all of h's bits: the low bits of the product would repeat the
// block's.
func (s *bloomStage) probes(h uint64) (block []atomic.Uint64, h1, h2 uint32) {
	block = s.words[(h&(s.blocks-1))*bloomBlockWords:][:bloomBlockWords]
	g := h * 0x9E3779B97F4A7C15
	return block, uint32(g >> 32), uint32(g>>41) | 1
}
