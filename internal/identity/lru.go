package identity

import "sync"

// lru is a bounded map that evicts its least recently used entry, safe for
// concurrent use. Its lock is held only for map and list updates, never while
// a caller computes a value.
type lru[K comparable, V any] struct {
	mu       sync.Mutex
	capacity int
	items    map[K]*lruEntry[K, V]
	// root is the sentinel of a circular list: root.next is the most recently
	// used entry, root.prev the least.
	root      lruEntry[K, V]
	hits      uint64
	misses    uint64
	evictions uint64
}

type lruEntry[K comparable, V any] struct {
	key        K
	value      V
	prev, next *lruEntry[K, V]
}

// lruStats are the counters of an lru, and of a signatureSet.
type lruStats struct {
	hits, misses, evictions uint64
	len                     int
}

func newLRU[K comparable, V any](capacity int) *lru[K, V] {
	if capacity < 1 {
		panic("identity: lru capacity must be positive") // callers pass validated sizes
	}
	c := &lru[K, V]{capacity: capacity, items: make(map[K]*lruEntry[K, V], capacity)}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// get returns the value for k and marks it most recently used; it counts a
// hit or a miss.
func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		c.misses++
		var zero V
		return zero, false
	}
	c.hits++
	c.unlink(e)
	c.pushFront(e)
	return e.value, true
}

// add sets the value for k, marks it most recently used and evicts the least
// recently used entry if the cache is over capacity.
func (c *lru[K, V]) add(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.value = v
		c.unlink(e)
		c.pushFront(e)
		return
	}
	e := &lruEntry[K, V]{key: k, value: v}
	c.items[k] = e
	c.pushFront(e)
	if len(c.items) > c.capacity {
		oldest := c.root.prev
		c.unlink(oldest)
		delete(c.items, oldest.key)
		c.evictions++
	}
}

func (c *lru[K, V]) stats() lruStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return lruStats{hits: c.hits, misses: c.misses, evictions: c.evictions, len: len(c.items)}
}

func (c *lru[K, V]) unlink(e *lruEntry[K, V]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (c *lru[K, V]) pushFront(e *lruEntry[K, V]) {
	e.prev = &c.root
	e.next = c.root.next
	c.root.next.prev = e
	c.root.next = e
}
