package worldstate

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/chorusledger/chorus/internal/kv"
)

// maxCachedValues bounds the keys a namespace cache holds; when it is
// full, the cache empties and fills again with the keys read from then on.
// The namespaces worth caching hold a few keys per contract.
const maxCachedValues = 4096

// WithNamespaceCache returns a State like s that keeps in memory the
// committed value of every key of the given namespaces that it reads, for
// namespaces read by almost every transaction and written rarely:
// _lifecycle, whose contract definitions every endorsement, every
// Gateway's choice of endorsers and every validation read (a Pebble read of
// a present key, 10–20 µs each).
//
// The cache answers exactly what the database would: a point read through
// db itself, or through a Snapshot that this State took of db
// (NewSnapshot), gets the value that reader would see, never an older or a
// newer one. A block that writes a cached namespace empties the cache when
// its writes go into the commit batch (BlockUpdates.WriteTo), and nothing
// is cached again until the batch has committed (BlockUpdates.BatchDone,
// which ledger.Append calls); a snapshot taken meanwhile reads the
// database. Other readers, such as a kv.Snapshot taken directly, always
// read the database.
//
// As for WithKeyFilter, every write of the channel's state must go through
// this State's BlockUpdates, committed by ledger.Append: make it for the
// one component that commits the channel's blocks.
func (s *State) WithNamespaceCache(db *kv.DB, namespaces ...string) (*State, error) {
	c := &namespaceCache{db: db, namespaces: make(map[string]bool, len(namespaces)), values: make(map[cacheKey]cachedValue)}
	for _, ns := range namespaces {
		if err := ValidateNamespace(ns); err != nil {
			return nil, fmt.Errorf("worldstate: channel %s: namespace cache: %w", s.channel, err)
		}
		c.namespaces[ns] = true
	}
	cached := *s
	cached.cache = c
	return &cached, nil
}

// Snapshot is a consistent, read-only view of the database taken by
// State.NewSnapshot. It reads like the kv.Snapshot it holds; in addition,
// the State's reads through it may be answered by the State's namespace
// cache, when the cache held exactly what the snapshot sees.
type Snapshot struct {
	*kv.Snapshot
	cache *namespaceCache
	// gen is the cache's generation the snapshot sees; valid only when
	// cacheable.
	gen       uint64
	cacheable bool
}

// NewSnapshot takes a snapshot of db. Close it when done. Simulations
// should read through one (NewSimulator).
func (s *State) NewSnapshot(db *kv.DB) *Snapshot {
	c := s.cache
	if c == nil || c.db != db {
		return &Snapshot{Snapshot: db.NewSnapshot()}
	}
	// If no batch writing a cached namespace was committing when gen was
	// read, the snapshot sees the cached namespaces as they were in
	// generation gen, unless such a batch began meanwhile; but then the
	// cache has left generation gen for good, and answers this snapshot
	// nothing.
	gen, stable := c.generation()
	return &Snapshot{Snapshot: db.NewSnapshot(), cache: c, gen: gen, cacheable: stable}
}

// StopNamespaceCache stops the State's namespace cache for good: from now
// on every read goes to the database. Call it before the channel's state
// is written other than through BlockUpdates, as when the channel is
// deleted, so that a request still under way does not read a value the
// database no longer holds.
func (s *State) StopNamespaceCache() {
	if s.cache != nil {
		s.cache.beginWrite() // never ended
	}
}

// namespaceCache holds, for the current generation, the committed values
// of keys read in its namespaces.
type namespaceCache struct {
	db         *kv.DB
	namespaces map[string]bool // fixed when made

	mu sync.Mutex
	// gen changes when a batch that writes a cached namespace is about to
	// commit (beginWrite). Until it has committed or failed (endWrite),
	// writing > 0 and nothing is cached or answered.
	gen     uint64
	writing int
	// values holds values read during generation gen, as committed then.
	values map[cacheKey]cachedValue
}

type cacheKey struct{ ns, key string }

// cachedValue is a committed value and its version; ver is nil for an
// absent key.
type cachedValue struct {
	value []byte
	ver   *Version
}

// generation returns the current generation and whether no write of a
// cached namespace is under way.
func (c *namespaceCache) generation() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.writing == 0
}

// readerGeneration returns the generation of the cached namespaces that r
// sees, and false when the cache cannot answer for r.
func (c *namespaceCache) readerGeneration(r kv.Reader) (uint64, bool) {
	switch r := r.(type) {
	case *kv.DB:
		if r == c.db {
			return c.generation()
		}
	case *Snapshot:
		if r.cache == c && r.cacheable {
			return r.gen, true
		}
	}
	return 0, false
}

// lookup returns the value cached for (ns, key) in generation gen.
func (c *namespaceCache) lookup(gen uint64, k cacheKey) (cachedValue, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.writing != 0 {
		return cachedValue{}, false
	}
	v, ok := c.values[k]
	return v, ok
}

// store caches v, read by a reader that sees generation gen, if gen is
// still the current generation: then no batch writing a cached namespace
// began since the reader's view was current, and v is still committed.
func (c *namespaceCache) store(gen uint64, k cacheKey, v cachedValue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.writing != 0 {
		return
	}
	if len(c.values) >= maxCachedValues {
		clear(c.values) // start again with the keys read from now on
	}
	c.values[k] = v
}

// beginWrite empties the cache before a batch that writes a cached
// namespace commits.
func (c *namespaceCache) beginWrite() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing++
	c.gen++
	clear(c.values)
}

// endWrite ends a beginWrite once its batch has committed or failed.
func (c *namespaceCache) endWrite() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing--
}

// getCached is get for the state key k of (ns, key), ns a cached
// namespace.
func (s *State) getCached(r kv.Reader, k []byte, ns, key string) ([]byte, *Version, error) {
	c := s.cache
	gen, ok := c.readerGeneration(r)
	if !ok {
		return s.readKey(r, k, ns, key)
	}
	ck := cacheKey{ns: ns, key: key}
	if v, hit := c.lookup(gen, ck); hit {
		return bytes.Clone(v.value), cloneVersion(v.ver), nil
	}
	val, ver, err := s.readKey(r, k, ns, key)
	if err != nil {
		return nil, nil, err
	}
	c.store(gen, ck, cachedValue{value: bytes.Clone(val), ver: cloneVersion(ver)})
	return val, ver, nil
}

func cloneVersion(v *Version) *Version {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}
