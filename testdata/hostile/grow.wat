;; grow: memory.grow with the deltas that break naive hosts: 2^32-1 pages
;; (-1 as i32), 65536 pages (4 GiB: the whole wasm32 space), 65537, 2^31,
;; then one page. Each must return -1 under a small MaxMemory, and the
;; process must keep running: run exits with the number of grows that did
;; not return -1 (0 expected when MaxMemory is one page), after checking
;; that memory is still one page.
(module $grow
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "run")
    (local $ok i32)
    (if (i32.ne (memory.grow (i32.const -1)) (i32.const -1)) (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
    (if (i32.ne (memory.grow (i32.const 65536)) (i32.const -1)) (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
    (if (i32.ne (memory.grow (i32.const 65537)) (i32.const -1)) (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
    (if (i32.ne (memory.grow (i32.const 0x80000000)) (i32.const -1)) (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
    (if (i32.ne (memory.size) (i32.const 1)) (then (local.set $ok (i32.add (local.get $ok) (i32.const 100)))))
    (i32.store (i32.const 65532) (i32.const 1)) ;; the last word still works
    (call $exit (local.get $ok))))
