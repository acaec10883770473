package server

import (
	"container/list"
	"time"
)

// lru is a map bounded by entries and bytes that forgets the least
// recently used first; entries may also expire. Callers lock.
type lru[K comparable, V any] struct {
	maxEntries, maxBytes int
	order                list.List // of *lruEntry[K, V], most recently used first
	byKey                map[K]*list.Element
	bytes                int
}

type lruEntry[K comparable, V any] struct {
	key     K
	val     V
	size    int
	expires time.Time // zero: until evicted
}

func newLRU[K comparable, V any](maxEntries, maxBytes int) *lru[K, V] {
	return &lru[K, V]{maxEntries: maxEntries, maxBytes: maxBytes, byKey: map[K]*list.Element{}}
}

// get returns k's value unless it is missing or expired at now.
func (c *lru[K, V]) get(k K, now time.Time) (V, bool) {
	e, ok := c.byKey[k]
	if !ok {
		var zero V
		return zero, false
	}
	en := e.Value.(*lruEntry[K, V])
	if !en.expires.IsZero() && !now.Before(en.expires) {
		c.remove(e)
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return en.val, true
}

// put keeps v, of about size bytes, under k until expires (zero: until
// evicted), evicting the least recently used beyond the bounds. A value
// larger than the whole cache is not kept.
func (c *lru[K, V]) put(k K, v V, size int, expires time.Time) {
	if e, ok := c.byKey[k]; ok {
		c.remove(e)
	}
	if size > c.maxBytes {
		return
	}
	c.byKey[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v, size: size, expires: expires})
	c.bytes += size
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.order.Back())
	}
}

// clear forgets everything.
func (c *lru[K, V]) clear() {
	c.order.Init()
	clear(c.byKey)
	c.bytes = 0
}

func (c *lru[K, V]) len() int { return c.order.Len() }

func (c *lru[K, V]) remove(e *list.Element) {
	en := c.order.Remove(e).(*lruEntry[K, V])
	delete(c.byKey, en.key)
	c.bytes -= en.size
}
