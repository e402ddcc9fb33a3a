;; hello: the guest of examples/hello, a WASI reactor with three entries.
;;   greet () -> ()  writes "hello from a ward process\n" to stdout
;;   spin  () -> ()  loops forever: the host kills it
;;   crash () -> ()  traps: only this process ends
(module $hello
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0: iovec {ptr, len}; 8: nwritten; 16: the greeting (26 bytes)
  (data (i32.const 16) "hello from a ward process\n")
  (func $greet (export "greet")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 26))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $spin (export "spin")
    (loop $forever (br $forever)))
  (func $crash (export "crash")
    unreachable))
