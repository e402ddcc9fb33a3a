package sqlite_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/sqlite"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/runtime"
)

// newRuntimeWith is newRuntime with the module made from opts and the
// root's Config cfg (its Dirs set to dir as "data").
func newRuntimeWith(t testing.TB, dir string, opts sqlite.Options, cfg sqlite.Config) *runtime.Runtime {
	t.Helper()
	cfg.Dirs = []sqlite.Dir{{Name: "data", Path: dir}}
	root := environment.Config{Host: map[string]environment.HostConfig{sqlite.Namespace: cfg}}
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(sqlite.ModuleWith(opts)), runtime.WithRootEnvironment(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rt.Close(testCtx(t))
		sqlite.ModuleWith(sqlite.Options{}) // the process-wide heap limit back to its default
	})
	return rt
}

// cte is an endless row source.
const cte = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "

// Every query that makes SQLite allocate or compute without end fails
// with an error status, the host's memory stays bounded, and the
// connection works after each. SQLite's high-water mark is held to
// perConn, the per-connection figure the package documents (twice the
// page cache, for the cache and a sort's buffer, and 4 × MaxValueBytes
// for values being built: replace's is the largest),
// except for the view expansion, which only the module-wide heap limit
// holds; the Go heap's growth (what the driver copies out of SQLite) to
// goBound.
func TestHostileQueriesAreBounded(t *testing.T) {
	const (
		heapLimit = 64 << 20
		perConn   = 2*sqlite.DefaultCacheKiB<<10 + 4*sqlite.DefaultMaxValueBytes
		goBound   = 32 << 20
		steps     = 5_000_000
	)
	dir := t.TempDir()
	rt := newRuntimeWith(t, dir, sqlite.Options{MaxHeapBytes: heapLimit}, sqlite.Config{MaxCallSteps: steps})
	views := []op{{fn: "exec", s: "CREATE VIEW IF NOT EXISTS v0 AS SELECT 1 AS a UNION ALL SELECT 2"}}
	for i := 1; i <= 20; i++ {
		views = append(views, op{fn: "exec", s: fmt.Sprintf("CREATE VIEW IF NOT EXISTS v%d AS SELECT * FROM v%d UNION ALL SELECT * FROM v%d", i, i-1, i-1)})
	}
	var ctes []string
	for i := range 40 {
		ctes = append(ctes, fmt.Sprintf("m%d AS MATERIALIZED (SELECT DISTINCT randomblob(200) FROM c LIMIT 20000)", i))
	}
	trigger := []op{
		{fn: "exec", s: "PRAGMA recursive_triggers = 1"},
		{fn: "exec", s: "CREATE TABLE IF NOT EXISTS r (x); CREATE TRIGGER IF NOT EXISTS rt AFTER INSERT ON r BEGIN INSERT INTO r VALUES (new.x + 1); END"},
	}
	for _, tc := range []struct {
		name       string
		setup      []op
		q          string
		want       int64
		moduleWide bool // bounded by the heap limit alone
	}{
		{name: "endless CTE", q: cte + "SELECT count(*) FROM c", want: abi.ErrLimit},
		{name: "endless sort", q: cte + "SELECT x FROM c ORDER BY random()", want: abi.ErrLimit},
		{name: "endless group by", q: cte + "SELECT x % 1000003, count(*) FROM c GROUP BY 1", want: abi.ErrLimit},
		{name: "endless distinct", q: cte + "SELECT DISTINCT randomblob(64) FROM c", want: abi.ErrLimit},
		{name: "big UNION", q: cte + "SELECT x FROM c UNION SELECT -x FROM c", want: abi.ErrLimit},
		{name: "printf width", q: "SELECT printf('%.*c', 1000000000, 'x')", want: abi.ErrLimit},
		{name: "zeroblob", q: "SELECT zeroblob(1000000000)", want: abi.ErrLimit},
		{name: "randomblob", q: "SELECT randomblob(1000000000)", want: abi.ErrLimit},
		{name: "replace", q: "SELECT replace(hex(zeroblob(400000)), '0', '0000000000')", want: abi.ErrLimit},
		{name: "group_concat", q: cte + "SELECT group_concat('xxxxxxxxxxxxxxxx') FROM c", want: abi.ErrLimit},
		{name: "json_group_array", q: cte + "SELECT json_group_array('xxxxxxxxxxxxxxxx') FROM c", want: abi.ErrPermission},
		{name: "json_group_object", q: cte + "SELECT json_group_object(x, x) FROM c", want: abi.ErrPermission},
		{name: "jsonb_group_array", q: cte + "SELECT jsonb_group_array(x) FROM c", want: abi.ErrPermission},
		{name: "json array by group_concat", q: cte + "SELECT '[' || group_concat(json_quote('xxxxxxxxxxxxxxxx')) || ']' FROM c", want: abi.ErrLimit},
		{name: "json nesting", q: "SELECT json(" + "'" + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "')", want: refused},
		{name: "expression depth", q: "SELECT " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000), want: refused},
		{name: "compound select", q: strings.Repeat("SELECT 1 UNION ALL ", 1000) + "SELECT 1", want: refused},
		{name: "function arguments", q: "SELECT max(" + strings.Repeat("1,", 1000) + "1)", want: refused},
		{name: "long SQL", q: "SELECT 1 -- " + strings.Repeat("x", 2<<20), want: abi.ErrLimit},
		{name: "view expansion", setup: views, q: "SELECT count(*) FROM v20", want: refused, moduleWide: true},
		{name: "materialized CTEs", q: cte + ", " + strings.Join(ctes, ", ") + " SELECT " + strings.Join(func() []string {
			var s []string
			for i := range ctes {
				s = append(s, fmt.Sprintf("(SELECT count(*) FROM m%d)", i))
			}
			return s
		}(), "+"), want: anyStatus},
		{name: "trigger recursion", setup: trigger, q: "INSERT INTO r VALUES (1)", want: refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goruntime.GC()
			var before goruntime.MemStats
			goruntime.ReadMemStats(&before)
			sqlite.MemoryUsed(true)
			ops := append([]op{{fn: "open", s: "data/h.db"}}, tc.setup...)
			ops = append(ops,
				op{fn: "prepare", s: "SELECT 1"}, // a statement the failure must not disturb
				op{fn: "exec", s: tc.q, want: tc.want},
				op{fn: "step", v: 1},
				op{fn: "col_int", i: 0, v: 1},
				op{fn: "exec", s: "CREATE TABLE IF NOT EXISTS ok (x); INSERT INTO ok VALUES (1)"},
			)
			mustRun(t, rt, rt.Environment(), ops)
			_, high := sqlite.MemoryUsed(false)
			var after goruntime.MemStats
			goruntime.ReadMemStats(&after)
			t.Logf("SQLite's high-water mark %.1f MiB; Go heap in use %+.1f MiB", float64(high)/(1<<20), float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20))
			if high == 0 {
				t.Fatal("SQLite does not count its memory: the heap limit would not hold")
			}
			bound := perConn
			if tc.moduleWide {
				bound = heapLimit
			}
			if high > int64(bound) {
				t.Errorf("SQLite held %d bytes, more than %d", high, bound)
			}
			if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > goBound {
				t.Errorf("the Go heap grew by %d bytes, more than %d", grew, goBound)
			}
		})
	}
}

// A step that never ends (after a first row, where the driver itself
// watches no context) is ended by Kill and by the environment's
// MaxWallTime, with the handler returning; another process's connection
// works meanwhile. The root allows steps without practical bound, so
// only the kill can end the call.
func TestEndlessStepEndsWithTheProcess(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntimeWith(t, dir, sqlite.Options{}, sqlite.Config{MaxCallSteps: 1 << 60})
	ctx := testCtx(t)
	endless := []op{
		{fn: "open", s: "data/a.db"},
		{fn: "prepare", s: cte + "SELECT x FROM c WHERE x = 1 OR x < 0"},
		{fn: "step", v: 1},
		{fn: "open", s: "data/b.db"}, // the test's sign that the endless step comes next
		{fn: "step", v: 1},
	}
	m, err := rt.LoadModule(ctx, "endless", []byte(guestWAT(endless)))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("kill", func(t *testing.T) {
		base := fds(t)
		p, err := rt.Environment().Spawn(ctx, m, "run")
		if err != nil {
			t.Fatal(err)
		}
		for fds(t) < base+2 {
			select {
			case <-ctx.Done():
				t.Fatal("the guest never opened its databases")
			case <-time.After(time.Millisecond):
			}
		}
		// Another process's connection is not held up by the endless
		// step.
		mustRun(t, rt, rt.Environment(), []op{
			{fn: "open", s: "data/c.db"},
			{fn: "exec", s: "CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)"},
		})
		p.Kill()
		reason, err := p.Wait(ctx) // ctx is the hang guard: without the interrupt the step never returns
		if err != nil || reason != runtime.Killed {
			t.Fatalf("ended %v (%v), want killed", reason, err)
		}
		if got := fds(t); got != base {
			t.Fatalf("%d file descriptors after the process ended, %d before", got, base)
		}
	})
	t.Run("MaxWallTime", func(t *testing.T) {
		env, err := rt.Environment().NewChild(environment.Config{MaxWallTime: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		reason, err := env.Run(ctx, m, "run")
		var limit *runtime.TimeLimitError
		if err != nil || !errors.As(reason, &limit) {
			t.Fatalf("ended %v (%v), want the wall-time limit", reason, err)
		}
	})
}

// MaxCallSteps narrows like the other bounds, and a child's smaller
// bound holds for its guests.
func TestMaxCallStepsNarrows(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	_, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{MaxCallSteps: sqlite.DefaultMaxCallSteps + 1},
	}})
	if !errors.Is(err, environment.ErrWiden) {
		t.Fatalf("a child asking for more steps: %v, want ErrWiden", err)
	}
	child, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{MaxCallSteps: 100_000},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, rt, child, []op{
		{fn: "open", s: "data/a.db"},
		{fn: "exec", s: cte + "SELECT count(*) FROM (SELECT x FROM c LIMIT 1000)"},
		{fn: "exec", s: cte + "SELECT count(*) FROM (SELECT x FROM c LIMIT 1000000)", want: abi.ErrLimit},
		{fn: "exec", s: "SELECT 1"},
	})
}
