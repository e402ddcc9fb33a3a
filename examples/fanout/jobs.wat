;; jobs: the job functions of examples/fanout. A job is an export taking
;; (input i64, reply_to i64); it sends one message to reply_to, tagged 1,
;; whose data is its result as an 8-byte little-endian i64, and returns.
;;
;;   fib  (n, reply_to)   naive recursive Fibonacci: about 1.6^n calls, so
;;                        a large n runs out of fuel; a negative n traps
;;   slow (ms, reply_to)  waits ms milliseconds (a receive that nothing
;;                        answers, standing in for slow I/O), then answers
;;                        ms; it burns no fuel, so only a timeout stops it
;;
;; Memory: 0 the result; 8 the tag slow waits for. It is exported as
;; "memory", which ward's message functions need to reach it.
(module $jobs
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)

  (func $reply (param $to i64) (param $v i64)
    (i64.store (i32.const 0) (local.get $v))
    (call $create (i64.const 1))
    (drop (call $write (i32.const 0) (i32.const 8)))
    (drop (call $send (local.get $to))))

  (func $fib (param $n i64) (result i64)
    (if (result i64) (i64.lt_s (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add
        (call $fib (i64.sub (local.get $n) (i64.const 1)))
        (call $fib (i64.sub (local.get $n) (i64.const 2)))))))

  (func (export "fib") (param $n i64) (param $to i64)
    (if (i64.lt_s (local.get $n) (i64.const 0)) (then unreachable))
    (call $reply (local.get $to) (call $fib (local.get $n))))

  (func (export "slow") (param $ms i64) (param $to i64)
    (i64.store (i32.const 8) (i64.const 0x7fffffffffffffff))
    (drop (call $receive (i32.const 8) (i32.const 1) (local.get $ms)))
    (call $reply (local.get $to) (local.get $ms))))
