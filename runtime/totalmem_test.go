package runtime

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/mailbox"
	"github.com/wardrt/ward/testdata"
)

// growPark grows its memory and parks, holding it; growForever grows a
// page at a time until refused, then traps as a failing allocator does.
const growParkWAT = `(module
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (memory (export "memory") 1)
  (func (export "grow_park") (param $pages i32)
    (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1)) (then unreachable))
    (call $sleep (i64.const 3600000)))
  (func (export "grow_forever")
    (loop $more (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))`

const page = environment.PageSize

// held is what n processes of mem bytes of memory each are charged.
func held(n int, mem uint64) uint64 { return uint64(n) * (mem + wasm.ProcessCost) }

// MaxTotalMemory bounds what an environment's processes hold together: a
// spawn loop of memory bombs, each within its own MaxMemory, stops at the
// total, the failing process says which limit it met, and what an ended
// process held comes back.
func TestMaxTotalMemory(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "growpark", []byte(growParkWAT))
	env, err := r.NewEnvironment(environment.Config{MaxMemory: 4 << 20, MaxTotalMemory: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// Two processes of 3 MiB each: 6 of the 8 MiB.
	a := spawn(t, env, m, "grow_park", I32(47))
	b := spawn(t, env, m, "grow_park", I32(47))
	settle(t, "two processes to hold 6 MiB", func() bool { return env.MemoryInUse() == held(2, 3<<20) })

	// A third grows to its share of what is left, 2 MiB, short of its own
	// 4 MiB MaxMemory, and is told it met the environment's limit.
	reason := wait(t, spawn(t, env, m, "grow_forever"))
	var me *MemoryLimitError
	if !errors.As(reason, &me) || !me.Total || me.Limit != 8<<20 {
		t.Fatalf("growing past the total: %v (%T), want a MemoryLimitError for MaxTotalMemory", reason, reason)
	}
	settle(t, "the ended process's memory to come back", func() bool { return env.MemoryInUse() == held(2, 3<<20) })

	// A module whose initial memory does not fit is refused at spawn.
	big := load(t, r, "bigmem", testdata.BigMem) // 64 MiB initial
	wide, err := r.NewEnvironment(environment.Config{MaxMemory: 128 << 20, MaxTotalMemory: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var ie *InstantiateError
	if reason := wait(t, spawn(t, wide, big, "run")); !errors.As(reason, &ie) || !errors.Is(reason, ErrMemoryLimit) {
		t.Fatalf("a 64 MiB module under an 8 MiB total: %v (%T), want an InstantiateError matching ErrMemoryLimit", reason, reason)
	}
	if got := wide.MemoryInUse(); got != 0 {
		t.Fatalf("a refused instance left %d bytes charged", got)
	}

	// Ending a process gives its memory back to the total.
	a.Kill()
	wait(t, a)
	settle(t, "a killed process's memory to come back", func() bool { return env.MemoryInUse() == held(1, 3<<20) })
	c := spawn(t, env, m, "grow_park", I32(47))
	settle(t, "a new process to take the freed room", func() bool { return env.MemoryInUse() == held(2, 3<<20) })
	b.Kill()
	c.Kill()
	wait(t, b)
	wait(t, c)
	settle(t, "every process's memory to come back", func() bool { return env.MemoryInUse() == 0 })
}

// A child environment's processes count against its ancestors' totals, so
// a child cannot take more than its parent was given, whatever its own
// limit says; a grandchild's narrower total binds it alone.
func TestMaxTotalMemoryCountsChildren(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "growpark", []byte(growParkWAT))
	parent, err := r.NewEnvironment(environment.Config{MaxMemory: 4 << 20, MaxTotalMemory: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	child := childEnv(t, parent, environment.Config{})
	grandchild := childEnv(t, child, environment.Config{MaxTotalMemory: 2 << 20})

	var parked []*Process
	for range 2 {
		parked = append(parked, spawn(t, child, m, "grow_park", I32(47)))
	}
	settle(t, "the child's processes to hold 6 MiB", func() bool { return parent.MemoryInUse() == held(2, 3<<20) })
	if got := child.MemoryInUse(); got != held(2, 3<<20) {
		t.Fatalf("the child holds %d, want 6 MiB", got)
	}
	var me *MemoryLimitError
	if reason := wait(t, spawn(t, parent, m, "grow_forever")); !errors.As(reason, &me) || !me.Total {
		t.Fatalf("a parent process past the total its child holds most of: %v", reason)
	}
	// The grandchild's own 2 MiB bind before the parent's 2 MiB left do.
	for _, p := range parked {
		p.Kill()
		wait(t, p)
	}
	settle(t, "the child's memory to come back", func() bool { return parent.MemoryInUse() == 0 })
	if reason := wait(t, spawn(t, grandchild, m, "grow_forever")); !errors.As(reason, &me) || !me.Total || me.Limit != 2<<20 {
		t.Fatalf("a grandchild process past its own total: %v", reason)
	}
}

// The default total bounds a spawn loop of memory bombs in a root
// environment built from defaults, each within its own MaxMemory: of n+1
// bombs that each fit alone, at least one is refused (two, when the last
// to grow finds the refused one's first page still held), each with a
// memory-limit reason, and the rest hold their 64 MiB within the total.
func TestMaxTotalMemoryDefault(t *testing.T) {
	r := newRuntime(t, WithRootEnvironment(environment.Config{MaxMemory: 64 << 20}))
	if got := r.Environment().Config().MaxTotalMemory; got != environment.DefaultMaxTotalMemory {
		t.Fatalf("root MaxTotalMemory %d, want the default %d", got, uint64(environment.DefaultMaxTotalMemory))
	}
	m := load(t, r, "growpark", []byte(growParkWAT))
	n := environment.DefaultMaxTotalMemory / (64 << 20)
	var bombs []*Process
	for range n + 1 {
		bombs = append(bombs, spawn(t, r.Environment(), m, "grow_park", I32(64<<20/page-1)))
	}
	settle(t, "the bombs to be refused or to hold their memory", func() bool {
		ended := 0
		for _, p := range bombs {
			select {
			case <-p.Done():
				ended++
			default:
			}
		}
		return ended >= 1 && r.Environment().MemoryInUse() == held(len(bombs)-ended, 64<<20)
	})
	if got := r.Environment().MemoryInUse(); got > environment.DefaultMaxTotalMemory {
		t.Fatalf("the bombs hold %d bytes, more than the default total %d", got, uint64(environment.DefaultMaxTotalMemory))
	}
	for _, p := range bombs {
		select {
		case <-p.Done():
			if !errors.Is(p.Reason(), ErrMemoryLimit) {
				t.Fatalf("the refused bomb: %v, want a memory-limit reason", p.Reason())
			}
		default:
			p.Kill()
		}
	}
}

// The outgoing message buffer is host memory the guest sizes (up to
// MaxMessageSize), so it counts against MaxTotalMemory too: writing a
// message the total cannot hold returns ErrLimit.
func TestMaxTotalMemoryCountsMessageBuffers(t *testing.T) {
	const wat = `(module
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 16)
  (func (export "write") (param $times i32)
    (call $create (i64.const 1))
    (loop $more
      (if (call $write (i32.const 0) (i32.const 1048576)) (then (call $exit (i32.const 7))))
      (local.set $times (i32.sub (local.get $times) (i32.const 1)))
      (br_if $more (local.get $times)))))`
	r := newRuntime(t)
	m := load(t, r, "writer", []byte(wat))
	env, err := r.NewEnvironment(environment.Config{MaxMemory: 1 << 20, MaxTotalMemory: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB of memory and a 2 MiB buffer fit in 4 MiB; a 4 MiB buffer does not.
	if reason := wait(t, spawn(t, env, m, "write", I32(2))); reason != Normal {
		t.Fatalf("a 2 MiB message under a 4 MiB total: %v", reason)
	}
	if code := exitCode(t, wait(t, spawn(t, env, m, "write", I32(4)))); code != 7 {
		t.Fatalf("a 4 MiB message under a 4 MiB total: exit %d, want 7 (write_data returned ErrLimit)", code)
	}
	settle(t, "the buffers' charge to come back", func() bool { return env.MemoryInUse() == 0 })
}

// What the host holds for processes in Go counts against MaxTotalMemory
// too: messages queued for any of an environment's processes are refused
// once the environment's total is used, though each mailbox has room of its
// own, and links and monitors are refused the same way; all of it comes
// back when the processes end.
func TestMaxTotalMemoryCountsGoHeld(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env, err := r.NewEnvironment(environment.Config{MaxTotalMemory: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var procs []*Process
	for i := range 2 {
		p, err := env.SpawnGo(ctx, fmt.Sprint("sink", i), blockGo)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	data := make([]byte, 64<<10)
	sent := 0
	for ; ; sent++ {
		err := procs[sent%2].Send(ctx, Message{Data: data})
		if err == nil {
			continue
		}
		var fe *mailbox.FullError
		if !errors.As(err, &fe) || fe.Limit != mailbox.LimitBudget {
			t.Fatalf("message %d: %v, want a mailbox FullError of LimitBudget", sent, err)
		}
		break
	}
	if sent*len(data) > 4<<20 || sent*len(data) < 3<<20 {
		t.Fatalf("%d messages of 64 KiB queued under a 4 MiB total", sent)
	}
	// Fill what is left with small messages.
	for i := 0; procs[i%2].Send(ctx, Message{Data: data[:512]}) == nil; i++ {
		if i > 1000 {
			t.Fatal("more than 1000 small messages fit in what 64 KiB ones left")
		}
	}
	if got := env.MemoryInUse(); got > 4<<20 {
		t.Fatalf("%d bytes charged, past the 4 MiB total", got)
	}
	// With the total used, a link and a monitor cannot be made either.
	if err := r.link(procs[0], procs[1]); !errors.Is(err, ErrTooManyLinks) {
		t.Fatalf("a link with the total used: %v, want ErrTooManyLinks", err)
	}
	if _, err := r.monitor(procs[0], procs[1].ID()); !errors.Is(err, ErrTooManyMonitors) {
		t.Fatalf("a monitor with the total used: %v, want ErrTooManyMonitors", err)
	}
	for _, p := range procs {
		p.Kill()
		wait(t, p)
	}
	settle(t, "the queued messages' charge to come back", func() bool { return env.MemoryInUse() == 0 })
}

// growTouchWAT grows its memory by up to pages (as much as it is given)
// and writes every page of it, so that it really holds host memory, then
// parks in a receive of tag 99, which nothing sends.
const growTouchWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\63\00\00\00\00\00\00\00")
  (func (export "grow_touch_park") (param $pages i32)
    (local $a i32) (local $end i32)
    (loop $grow
      (if (i32.and (i32.gt_s (local.get $pages) (i32.const 0))
                   (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))
        (then (local.set $pages (i32.sub (local.get $pages) (i32.const 1))) (br $grow))))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (loop $touch
      (i32.store8 (local.get $a) (i32.const 1))
      (local.set $a (i32.add (local.get $a) (i32.const 4096)))
      (br_if $touch (i32.lt_u (local.get $a) (local.get $end))))
    (drop (call $receive (i32.const 0) (i32.const 1) (i64.const -1)))))`

// MaxTotalMemory holds host RSS: processes that each fill a large memory
// and whose mailboxes are flooded from outside grow RSS by at most twice
// the total (what Go holds may take twice its size before a collection)
// plus a constant, where the same load under a large total takes several
// times that.
func TestMaxTotalMemoryHoldsRSS(t *testing.T) {
	run := func(t *testing.T, total uint64) int64 {
		r := newRuntime(t)
		ctx := testCtx(t)
		m := loadWAT(t, r, "growtouch", growTouchWAT)
		env, err := r.NewEnvironment(environment.Config{MaxMemory: 32 << 20, MaxTotalMemory: total})
		if err != nil {
			t.Fatal(err)
		}
		before := settledRSS(t)
		var procs []*Process
		for range 8 {
			p := spawn(t, env, m, "grow_touch_park", I32(32<<20/page))
			// Parked holding its memory, or refused for want of room.
			waitFor(t, testTimeout, "the process to park or be refused", func() bool {
				select {
				case <-p.Done():
					return true
				default:
					return p.park.Load() == parkWaiting
				}
			})
			procs = append(procs, p)
		}
		data := make([]byte, 1<<20)
		for _, p := range procs {
			for p.Send(ctx, Message{Data: data}) == nil {
			}
		}
		growth := rssKiB(t)<<10 - before
		t.Logf("MaxTotalMemory %d MiB: RSS grew %.1f MiB, %.1f MiB charged", total>>20, mib(growth), mib(int64(env.MemoryInUse())))
		if err := env.Close(ctx); err != nil {
			t.Fatal(err)
		}
		return growth
	}
	const total = 64 << 20
	if growth := run(t, total); growth > 2*total+accountingConstant {
		t.Errorf("RSS grew %.1f MiB under a %d MiB total, past twice it + %d MiB", mib(growth), total>>20, accountingConstant>>20)
	}
	if testing.Short() {
		return
	}
	if growth := run(t, 1<<30); growth <= 2*total+accountingConstant {
		t.Errorf("under a 1 GiB total the same load grew RSS only %.1f MiB: the test does not show the total at work", mib(growth))
	}
}

func loadWAT(t *testing.T, r *Runtime, name, wat string) *Module {
	return load(t, r, name, []byte(wat))
}

// deepWAT recurses depth times through frames with many locals, then
// waits at the bottom in a receive of tag 99, which nothing sends.
const deepWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\\63\\00\\00\\00\\00\\00\\00\\00")
  (func $down (export "down") (param $depth i32) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i64) (i32.eqz (local.get $depth))
      (then (i64.extend_i32_s (call $receive (i32.const 0) (i32.const 1) (i64.const -1))))
      (else (i64.add (local.get 1) (call $down (i32.sub (local.get $depth) (i32.const 1))))))))`

// A process that recurses deep and then waits holds the stack pages it
// touched: they count against MaxTotalMemory while it waits (a wait that
// does not fit traps with a memory-limit reason), and the charge goes when
// it ends.
func TestMaxTotalMemoryCountsDeepStacks(t *testing.T) {
	r := newRuntime(t)
	m := loadWAT(t, r, "deep", deepWAT)
	env, err := r.NewEnvironment(environment.Config{MaxTotalMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	shallow := spawn(t, env, m, "down", I32(0))
	parked(t, shallow)
	base := env.MemoryInUse()
	deep := spawn(t, env, m, "down", I32(6000))
	parked(t, deep)
	deepCost := env.MemoryInUse() - base
	if deepCost < base+64<<10 {
		t.Fatalf("a process parked 6000 frames deep is charged %d bytes, one parked at the top %d: its stack is not counted", deepCost, base)
	}
	t.Logf("parked at the top: %d bytes charged; 6000 frames deep: %d", base, deepCost)

	// Under a total that holds a shallow process but not a deep one.
	tight, err := r.NewEnvironment(environment.Config{MaxTotalMemory: base + (deepCost-base)/2})
	if err != nil {
		t.Fatal(err)
	}
	reason := wait(t, spawn(t, tight, m, "down", I32(6000)))
	if !errors.Is(reason, ErrMemoryLimit) {
		t.Fatalf("a deep wait past the total: %v (%T), want a memory-limit reason", reason, reason)
	}
	settle(t, "the refused process's charge to go", func() bool { return tight.MemoryInUse() == 0 })
	deep.Kill()
	shallow.Kill()
	wait(t, deep)
	wait(t, shallow)
	settle(t, "the deep process's charge to go", func() bool { return env.MemoryInUse() == 0 })
}
