package sqlite

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// What bounds SQLite's memory, and what is per connection and what is
// module-wide:
//
// Per connection, from the environment's Config: the page cache
// (CacheKiB), which also sizes a sort's in-memory part before it spills
// to temporary files; one value and one SQL text (MaxValueBytes, so
// printf widths, zeroblob, replace, group_concat and json_group_array
// stop at it); a compiled statement's program (maxProgramOps); trigger
// recursion (maxTriggerDepth); columns and parameters (MaxColumns,
// MaxParams); statements held (MaxStmts); the instructions one call runs
// (MaxCallSteps).
//
// Not per connection: a statement's transient working memory beyond
// those, chiefly the ephemeral tables of DISTINCT, IN, UNION and
// materialized subqueries (each with its own page cache of about 2 MiB
// before it spills) and the parse trees of views expanded while a
// statement compiles (SQLite stops at 65,535 references to one view,
// after some 100 MiB). SQLite has no per-connection heap limit, so these
// are held by the module-wide one, sqlite3_hard_heap_limit64, which
// Options.MaxHeapBytes sets: past it SQLite's allocations fail and the
// call gets ErrLimit.

// Connection limits beyond those the Config sets.
const (
	// maxProgramOps bounds a compiled statement's program
	// (SQLITE_LIMIT_VDBE_OP; SQLite's default is 250,000,000): about 24
	// bytes each, so a few MiB however many views and triggers a
	// statement expands.
	maxProgramOps = 500_000
	// maxTriggerDepth bounds trigger recursion
	// (SQLITE_LIMIT_TRIGGER_DEPTH, 1,000 by default): each level holds a
	// frame with the trigger's registers.
	maxTriggerDepth = 100
	// progressOps is how many instructions SQLite runs between two calls
	// of the progress handler, which counts steps and sees a kill.
	progressOps = 1000
)

// Options are the module's settings for the whole Go process: what the
// environments' Configs cannot hold, because SQLite keeps it process-wide.
type Options struct {
	// MaxHeapBytes is SQLite's hard heap limit (sqlite3_hard_heap_limit64)
	// for the whole Go process: every SQLite connection in it, guests'
	// and the embedder's own through modernc.org/sqlite, together. Past
	// it SQLite's allocations fail (a guest's call gets ErrLimit) instead
	// of growing the host. 0 takes DefaultMaxHeapBytes; negative leaves
	// SQLite's limit as it is.
	MaxHeapBytes int64
}

// DefaultMaxHeapBytes is Options.MaxHeapBytes's default.
const DefaultMaxHeapBytes = 512 << 20

// heapTLS is the libc thread state for process-wide calls (limits,
// counters), which touch no connection.
var (
	heapMu  sync.Mutex
	heapTLS *libc.TLS
)

// memstatusOn records whether SQLite counts its memory: the heap limit
// and MemoryUsed work only if it does. SQLite's build in modernc.org/sqlite
// leaves counting off, and it can be switched on only before SQLite is
// first used, so this package does it at init.
var memstatusOn bool

func init() {
	heapTLS = libc.NewTLS()
	va := libc.NewVaList(int32(1))
	memstatusOn = sqlite3.Xsqlite3_config(heapTLS, sqlite3.SQLITE_CONFIG_MEMSTATUS, va) == sqlite3.SQLITE_OK
	libc.Xfree(heapTLS, va)
}

// setHeapLimit applies o's MaxHeapBytes. The soft limit, at which SQLite
// starts to shrink its caches rather than grow, is put at three quarters
// of it.
func setHeapLimit(o Options) {
	n := o.MaxHeapBytes
	if n < 0 {
		return
	}
	if n == 0 {
		n = DefaultMaxHeapBytes
	}
	heapMu.Lock()
	defer heapMu.Unlock()
	sqlite3.Xsqlite3_hard_heap_limit64(heapTLS, n)
	sqlite3.Xsqlite3_soft_heap_limit64(heapTLS, n/4*3)
}

// MemoryUsed returns the bytes SQLite holds in the whole Go process, and
// the most it held since the last call with reset set: both 0 if SQLite
// was in use before this package's init, which leaves SQLite's counting
// (and so Options.MaxHeapBytes) off.
func MemoryUsed(reset bool) (used, highwater int64) {
	heapMu.Lock()
	defer heapMu.Unlock()
	r := int32(0)
	if reset {
		r = 1
	}
	return sqlite3.Xsqlite3_memory_used(heapTLS), sqlite3.Xsqlite3_memory_highwater(heapTLS, r)
}

// watched maps a connection's sqlite3 handle to its watch, which the
// progress handler reads.
var watched sync.Map // uintptr -> *watch

// watch is what the progress handler of one connection checks: whether
// the call in progress should stop (its process ended), and how many
// instructions it ran.
type watch struct {
	stop     atomic.Bool
	overrun  bool // set by the handler, read after the call, on the call's goroutine
	steps    int  // thousands of instructions; the call's goroutine only
	maxSteps int  // in thousands
}

// driverHandle returns the sqlite3 handle and libc thread state of a
// modernc.org/sqlite connection, which the driver keeps unexported: the
// module needs them for the progress handler, the only way to stop a
// step the driver runs without a context (its Rows.Next). The field
// names are checked when a connection opens, so a driver that changed
// them fails every open, and the tests, rather than going unwatched.
func driverHandle(dc any) (uintptr, *libc.TLS, error) {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0, nil, errors.New("ward: sqlite: unexpected driver connection")
	}
	db, tls := v.Elem().FieldByName("db"), v.Elem().FieldByName("tls")
	if !db.IsValid() || db.Kind() != reflect.Uintptr || !tls.IsValid() || tls.Type() != reflect.TypeFor[*libc.TLS]() {
		return 0, nil, errors.New("ward: sqlite: the driver's connection has no handle the module knows")
	}
	return uintptr(db.Uint()), (*libc.TLS)(tls.UnsafePointer()), nil
}

// progress is SQLite's progress handler for every guest connection,
// called every progressOps instructions, while compiling too: non-zero
// interrupts the call (SQLITE_INTERRUPT).
func progress(_ *libc.TLS, db uintptr) int32 {
	v, ok := watched.Load(db)
	if !ok {
		return 0
	}
	w := v.(*watch)
	if w.stop.Load() {
		return 1
	}
	w.steps++
	if w.steps > w.maxSteps {
		w.overrun = true
		return 1
	}
	return 0
}

// progressFP is progress as the function pointer SQLite's transpiled code
// calls: a pointer to the Go func value (go.dev/s/go11func), which is
// what modernc.org/sqlite itself passes.
var progressFP = *(*uintptr)(unsafe.Pointer(&struct {
	f func(*libc.TLS, uintptr) int32
}{progress}))

// begin starts a call's watch: its steps count from 0, and ctx ending
// (the process killed, or past its MaxWallTime) stops it. The returned
// function ends the watch.
func (w *watch) begin(ctx context.Context) func() {
	w.steps, w.overrun = 0, false
	w.stop.Store(ctx.Err() != nil)
	stop := context.AfterFunc(ctx, func() { w.stop.Store(true) })
	return func() { stop() }
}
