package envelope

import "sync"

// BufferPool keeps byte buffers for reuse by code that encodes into a
// scratch buffer and keeps nothing of it: the levels of a transaction
// being assembled, the bytes an endorser signed while they are verified.
// A buffer grown past the pool's limit by an unusually large message is
// left to the garbage collector, so that one such message does not keep
// its memory in every pooled buffer.
type BufferPool struct {
	pool     sync.Pool
	maxBytes int
}

// NewBufferPool returns a pool that keeps buffers of at most maxBytes.
func NewBufferPool(maxBytes int) *BufferPool {
	return &BufferPool{pool: sync.Pool{New: func() any { return new([]byte) }}, maxBytes: maxBytes}
}

// Get returns a buffer, of length 0 or more: truncate it before use.
func (p *BufferPool) Get() *[]byte { return p.pool.Get().(*[]byte) }

// Put returns b to the pool, unless it has grown past the limit.
func (p *BufferPool) Put(b *[]byte) {
	if cap(*b) <= p.maxBytes {
		p.pool.Put(b)
	}
}
