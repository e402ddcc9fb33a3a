;; wasi_poll: poll_oneoff with a subscription count no memory can hold.
;; wasmtime's WASI sizes a host allocation from the count before it checks
;; guest memory (issue 13): 0xFFFFFFFF subscriptions are 64 GiB.
;;   huge   ()  poll_oneoff(0, 0x100, 0xFFFFFFFF, 0x200); exit with its errno
;;   big    ()  the same with 0x7FFFFFFF
(module $wasi_poll
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "huge") (call $proc_exit (call $poll (i32.const 0) (i32.const 0x100) (i32.const -1) (i32.const 0x200))))
  (func (export "big") (call $proc_exit (call $poll (i32.const 0) (i32.const 0x100) (i32.const 0x7fffffff) (i32.const 0x200)))))
