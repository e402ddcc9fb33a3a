package wasm

import "testing"

// BenchmarkProcLifecycle measures one trivial process's store, instance,
// call and teardown on the calling goroutine, without the runtime around it.
func BenchmarkProcLifecycle(b *testing.B) {
	e := newTestEngine(b)
	m, err := e.Compile([]byte(`(module (func (export "run")))`))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for b.Loop() {
		p, err := m.NewProc(1, 1<<20, 1<<40, nil)
		if err != nil {
			b.Fatal(err)
		}
		p.SetEntry("run", nil, 0)
		st := p.Start()
		for st == Yield { // an epoch tick landed mid-run
			st = p.Poll()
		}
		if st != Done {
			b.Fatal(st)
		}
		p.Free()
	}
}
