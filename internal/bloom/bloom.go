// Package bloom is a Bloom filter in memory that grows as keys are added,
// for answering "never stored" without reading the database: a Pebble read
// of an absent key is not free even with bloom filters on its tables. It
// opens an iterator on every table and level whose key range covers the
// key, and keys such as transaction ids and new assets' names fall in every
// range (10–18 µs a read under load). The ledger's transaction ids and the
// world state's keys each have one.
package bloom

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/chorusledger/chorus/internal/kv"
)

// Filter is a Bloom filter of keys. It never answers "absent" for a key it
// was given. It grows without knowing its final size: when its newest stage
// is full it adds one twice as large; a lookup asks every stage. Each stage
// is blocked: a key's probes all fall in one 64-byte block, one cache line,
// so that a lookup costs about one cache miss per stage. A filter takes 2
// to 4 bytes a distinct key (adding a key again costs nothing), about 1%
// false positives.
//
// Add is serialised by the filter; MayContain may run concurrently with it
// and with itself.
type Filter struct {
	seed   maphash.Seed
	mu     sync.Mutex // serialises Add
	stages atomic.Pointer[[]*stage]
}

const (
	// A stage has at least bitsPerKey bits per key of its capacity,
	// rounded up to a power of two blocks: 16 in practice, and with
	// probesPerKey probes well under 1% false positives when it is full
	// (0.4% over three stages in TestFilter).
	bitsPerKey   = 10
	probesPerKey = 7
	// firstStage is the capacity, in keys, of the first stage (128 KiB).
	firstStage = 1 << 16
	blockWords = 8 // 512 bits: one cache line
)

type stage struct {
	words    []atomic.Uint64
	blocks   uint64 // len(words) / blockWords, a power of two
	capacity int
	n        int // keys added; guarded by Filter.mu
}

// New returns an empty filter.
func New() *Filter {
	f := &Filter{seed: maphash.MakeSeed()}
	stages := []*stage{newStage(firstStage)}
	f.stages.Store(&stages)
	return f
}

func newStage(capacity int) *stage {
	blocks := uint64(1) << bits.Len64(uint64(capacity*bitsPerKey/(64*blockWords)))
	return &stage{words: make([]atomic.Uint64, blocks*blockWords), blocks: blocks, capacity: capacity}
}

// FromPrefix returns a filter of every key of r that begins with prefix,
// the prefix removed: what a caller that adds keys under that prefix from
// then on starts from.
func FromPrefix(r kv.Reader, prefix []byte) (*Filter, error) {
	f := New()
	it, err := r.NewIter(prefix, kv.PrefixEnd(prefix))
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		f.AddBytes(it.Key()[len(prefix):])
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return f, nil
}

// Add records key.
func (f *Filter) Add(key string) { f.add(maphash.String(f.seed, key)) }

// AddBytes records key, as Add(string(key)) does.
func (f *Filter) AddBytes(key []byte) { f.add(maphash.Bytes(f.seed, key)) }

func (f *Filter) add(h uint64) {
	// A key the filter may already hold (added before, or a false
	// positive) needs no bits and takes no capacity: a key written again
	// and again must not grow the filter.
	if f.mayContain(h) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	stages := *f.stages.Load()
	last := stages[len(stages)-1]
	if last.n >= last.capacity {
		last = newStage(2 * last.capacity)
		grown := append(stages[:len(stages):len(stages)], last)
		f.stages.Store(&grown)
	}
	last.n++
	block, h1, h2 := last.probes(h)
	for i := range uint32(probesPerKey) {
		word, mask := probe(h1, h2, i)
		block[word].Or(mask)
	}
}

// MayContain reports whether key may have been added: false means it was
// not.
func (f *Filter) MayContain(key string) bool { return f.mayContain(maphash.String(f.seed, key)) }

// MayContainBytes is MayContain(string(key)).
func (f *Filter) MayContainBytes(key []byte) bool { return f.mayContain(maphash.Bytes(f.seed, key)) }

func (f *Filter) mayContain(h uint64) bool {
	for _, s := range *f.stages.Load() {
		if s.test(h) {
			return true
		}
	}
	return false
}

func (s *stage) test(h uint64) bool {
	block, h1, h2 := s.probes(h)
	for i := range uint32(probesPerKey) {
		if word, mask := probe(h1, h2, i); block[word].Load()&mask == 0 {
			return false
		}
	}
	return true
}

// probe returns the word of a block and the bit in it of probe i.
func probe(h1, h2, i uint32) (word int, mask uint64) {
	p := (h1 + i*h2) % (64 * blockWords)
	return int(p / 64), 1 << (p % 64)
}

// probes returns the block of hash h, chosen by its low bits, and the two
// hashes whose combinations h1 + i·h2 place its probes in the block. They
// come from the high bits of h multiplied by an odd constant, which
// depend on all of h's bits: the low bits of the product would repeat the
// block's.
func (s *stage) probes(h uint64) (block []atomic.Uint64, h1, h2 uint32) {
	block = s.words[(h&(s.blocks-1))*blockWords:][:blockWords]
	g := h * 0x9E3779B97F4A7C15
	return block, uint32(g >> 32), uint32(g>>41) | 1
}
