;; deep: recursion that calls a host function in every frame, so that host
;; code runs with the fiber's stack as full as the guest can make it: the
;; C hot paths, Go host calls (the fiber suspends at that depth) and WASI.
;; Each export recurses until the Wasm stack overflows; the process must
;; end with a stack-overflow trap and the host must not notice.
;;   c    (i64 n) -> i64   self and write_data in every frame
;;   go   (i64 n) -> i64   exists (a Go host call) in every frame
;;   yield (i64 n) -> i64  sleep_ms(0), a yield to the run queue, in every frame
;;   wasi (i64 n) -> i64   args_sizes_get in every frame
;;   fat  (i64 n) -> i64   like c, with a frame of 64 i64 locals
(module $deep
  (import "ward_process" "self" (func $self (result i64)))
  (import "ward_process" "exists" (func $exists (param i64) (result i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (memory (export "memory") 1)

  (func $c (export "c") (param $n i64) (result i64)
    (call $create (i64.const 1))
    (drop (call $write (i32.const 0) (i32.const 16)))
    (i64.add (call $self) (call $c (i64.add (local.get $n) (i64.const 1)))))

  (func $go (export "go") (param $n i64) (result i64)
    (i64.add (i64.extend_i32_u (call $exists (local.get $n)))
      (call $go (i64.add (local.get $n) (i64.const 1)))))

  (func $yield (export "yield") (param $n i64) (result i64)
    (call $sleep (i64.const 0))
    (i64.add (local.get $n) (call $yield (i64.add (local.get $n) (i64.const 1)))))

  (func $wasi (export "wasi") (param $n i64) (result i64)
    (i64.add (i64.extend_i32_u (call $args_sizes (i32.const 0) (i32.const 8)))
      (call $wasi (i64.add (local.get $n) (i64.const 1)))))

  (func $fat (export "fat") (param $n i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (call $create (i64.const 1))
    (drop (call $write (i32.const 0) (i32.const 16)))
    (local.set 64 (call $self))
    (i64.add (local.get 64) (call $fat (i64.add (local.get $n) (i64.const 1))))))
