;; upper: a well-behaved plugin. It takes one message, upper-cases its
;; ASCII letters and replies to the sender under the request's tag.
;;
;; Memory: 0.. the input and output buffer (one page, so at most 64 KiB).
(module $upper
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "run")
    (local $n i32) (local $i i32) (local $c i32)
    ;; any message, waiting as long as it takes
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 0) (i32.const 65536)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $c (i32.load8_u (local.get $i)))
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
        (then (i32.store8 (local.get $i) (i32.sub (local.get $c) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (local.get $n)))
    (drop (call $send (call $sender)))))
