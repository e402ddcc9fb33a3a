package workload

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/wardrt/ward/runtime"
)

// The upgrade pause: the time a process sees between its upgrade call and
// its new version's entry running, measured from the guest's side. Before
// it calls upgrade, the old version sends a stamp to a Go process; the
// first thing the new version's entry does is send another. The Go
// process times both arrivals; the pause is the difference, so the
// delivery of a message, alike for both, cancels out.

// upgradeWAT is one version of the upgraded guest. main(collector) waits
// for a request; resume reads the collector from the upgrade state, sends
// its stamp (tag 6) and waits for the next request. On a request (tag 2)
// either sends its stamp (tag 5) and upgrades to resume, handing over
// the collector's id.
func upgradeWAT(version int) string {
	return fmt.Sprintf(`(module
  (import "ward_process" "upgrade" (func $upgrade (param i32 i32 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "resume")
  (global $collector (mut i64) (i64.const 0))
  (global (export "version") i32 (i32.const %d))
  (func $stamp (param $tag i64)
    (call $create (local.get $tag))
    (drop (call $send (global.get $collector))))
  (func $serve
    (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))
    (i64.store (i32.const 16) (global.get $collector))
    (call $stamp (i64.const 5))
    (drop (call $upgrade (i32.const 64) (i32.const 6) (i32.const 16) (i32.const 8)))
    (unreachable))
  (func (export "main") (param i64)
    (global.set $collector (local.get 0))
    (call $serve))
  (func (export "resume")
    (drop (call $read (i32.const 16) (i32.const 8)))
    (global.set $collector (i64.load (i32.const 16)))
    (call $stamp (i64.const 6))
    (call $serve)))`, version)
}

// upgradeName is the name the upgrade workload installs its versions
// under.
const upgradeName = "wardbench-upgrade"

// Upgrader upgrades one process again and again.
type Upgrader struct {
	rt        *runtime.Runtime
	versions  [3]*runtime.Module // installed in turn: a purge frees the one two back
	installed int
	proc      *runtime.Process
	collector *runtime.Process
	stamps    chan time.Time
}

// NewUpgrader loads three versions of the upgrade guest into w's runtime
// and starts a process on the first.
func (w *Ward) NewUpgrader() (*Upgrader, error) {
	ctx := context.Background()
	u := &Upgrader{rt: w.rt, stamps: make(chan time.Time, 2)}
	for i := range u.versions {
		m, err := w.rt.LoadModule(ctx, upgradeName, []byte(upgradeWAT(i)))
		if err != nil {
			u.Close()
			return nil, err
		}
		u.versions[i] = m
	}
	var err error
	u.collector, err = w.env.SpawnGo(ctx, "upgrade-stamps", func(ctx context.Context, self *runtime.Self) error {
		for {
			if _, err := self.Receive(ctx); err != nil {
				return nil
			}
			u.stamps <- time.Now()
		}
	})
	if err != nil {
		u.Close()
		return nil, err
	}
	if err := u.install(); err != nil {
		u.Close()
		return nil, err
	}
	cur, _, _ := w.rt.Current(upgradeName)
	if u.proc, err = w.env.Spawn(ctx, cur, "main", runtime.I64(int64(u.collector.ID()))); err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// install installs the next version: versions are numbered on, and the
// three modules take turns.
func (u *Upgrader) install() error {
	m := u.versions[u.installed%len(u.versions)]
	u.installed++
	return u.rt.Install(context.Background(), upgradeName, fmt.Sprintf("1.0.%d", u.installed), m)
}

// Pauses upgrades the process n times and returns the sum of the pauses
// it saw. Installing each new version is not counted.
func (u *Upgrader) Pauses(n int) (time.Duration, error) {
	var total time.Duration
	for range n {
		if err := u.install(); err != nil {
			return 0, err
		}
		if err := u.rt.Send(context.Background(), u.proc.ID(), runtime.Message{Tag: 2, Data: binary.LittleEndian.AppendUint64(nil, 0)}); err != nil {
			return 0, err
		}
		var at [2]time.Time
		for i := range at {
			select {
			case at[i] = <-u.stamps:
			case <-u.proc.Done():
				return 0, fmt.Errorf("the upgraded process ended: %v", u.proc.Reason())
			case <-time.After(10 * time.Second):
				return 0, fmt.Errorf("no stamp from the upgraded process in 10 s")
			}
		}
		total += at[1].Sub(at[0])
	}
	return total, nil
}

// Close ends the process and lets go of the modules; the versions stay
// installed until the runtime closes.
func (u *Upgrader) Close() {
	if u.proc != nil {
		u.proc.Kill()
	}
	if u.collector != nil {
		u.collector.Kill()
	}
	for _, m := range u.versions {
		if m != nil {
			m.Close()
		}
	}
}
