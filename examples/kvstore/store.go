package main

import (
	"math"
	"sync"
	"time"
)

// Status codes, the same on both paths. They reuse the numbers of ward's
// own status codes (OK, ErrLimit, ErrNotFound, ErrInvalid), so a guest can
// share one table of them.
const (
	StatusOK       = 0
	StatusFull     = 1 // the store holds MaxEntries live entries
	StatusNotFound = 3 // no such key, or it expired
	StatusInvalid  = 4 // empty or long key, long value, negative ttl
)

// Limits: a guest decides what the host allocates, so bound it.
const (
	MaxKeyLen   = 256
	MaxValueLen = 64 << 10
	MaxEntries  = 10_000
)

// ttlOf converts a guest's ttl in milliseconds, making one too large for a
// time.Duration negative, so that put refuses it.
func ttlOf(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

type entry struct {
	val      []byte
	deadline time.Time // zero: never expires
}

func (e entry) expired(now time.Time) bool {
	return !e.deadline.IsZero() && !now.Before(e.deadline)
}

// table is the store itself: a map whose entries carry a deadline. It is
// not safe for concurrent use; Store guards one with a mutex, and the
// kvstore process owns one outright. An expired entry is invisible at once
// and removed when next touched or swept.
type table map[string]entry

// put stores a copy of val under key; ttl 0 means no expiry.
func (t table) put(key string, val []byte, ttl time.Duration, now time.Time) int {
	if key == "" || len(key) > MaxKeyLen || len(val) > MaxValueLen || ttl < 0 {
		return StatusInvalid
	}
	if _, ok := t.lookup(key, now); !ok && len(t) >= MaxEntries {
		if t.sweep(now); len(t) >= MaxEntries {
			return StatusFull
		}
	}
	e := entry{val: append([]byte{}, val...)}
	if ttl > 0 {
		e.deadline = now.Add(ttl)
	}
	t[key] = e
	return StatusOK
}

// lookup returns key's live value, dropping it if it has expired. The
// value is the table's own: copy it before letting go of the table.
func (t table) lookup(key string, now time.Time) ([]byte, bool) {
	e, ok := t[key]
	if ok && e.expired(now) {
		delete(t, key)
		return nil, false
	}
	return e.val, ok
}

func (t table) del(key string, now time.Time) int {
	if _, ok := t.lookup(key, now); !ok {
		return StatusNotFound
	}
	delete(t, key)
	return StatusOK
}

// sweep removes every expired entry and returns how many it removed.
func (t table) sweep(now time.Time) int {
	n := 0
	for k, e := range t {
		if e.expired(now) {
			delete(t, k)
			n++
		}
	}
	return n
}

// Store is a table shared by every guest that calls the host module: its
// handlers run concurrently, on the calling processes' goroutines, so a
// mutex guards it. It outlives the processes, so it is the store's job to
// stop its sweeper: call Close after closing the runtime that uses it.
type Store struct {
	mu   sync.Mutex
	t    table
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewStore makes a store that also sweeps expired entries every interval.
func NewStore(sweepEvery time.Duration) *Store {
	s := &Store{t: table{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweeper(sweepEvery)
	return s
}

func (s *Store) sweeper(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			s.mu.Lock()
			s.t.sweep(now)
			s.mu.Unlock()
		case <-s.stop:
			return
		}
	}
}

// Close stops the sweeper and waits for it. The store still answers
// afterwards; expired entries then go only when touched.
func (s *Store) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Put stores val under key for ttl (0: forever) and returns a status.
func (s *Store) Put(key string, val []byte, ttl time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.put(key, val, ttl, time.Now())
}

// Get returns a copy of key's value, or false if it is missing or expired.
func (s *Store) Get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.t.lookup(key, time.Now())
	return append([]byte(nil), v...), ok
}

// Del removes key and returns StatusOK, or StatusNotFound.
func (s *Store) Del(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.del(key, time.Now())
}

// Len reports the entries held, expired ones not yet swept included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.t)
}
