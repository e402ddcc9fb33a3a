;; square: the job of examples/cluster. A job's input is its first message
;; (a request, see cluster.Node.Run): an 8-byte little-endian i64 n. It
;; replies to the sender, under the request's tag, with n*n as 8 bytes; an
;; n of 13 traps instead, to show a job failing alone.
;;
;; Memory: 0 the number in and out.
(module $square
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)

  (func (export "square") (local $n i64)
    (if (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (then unreachable))
    (if (i32.ne (call $read (i32.const 0) (i32.const 8)) (i32.const 8)) (then unreachable))
    (local.set $n (i64.load (i32.const 0)))
    (if (i64.eq (local.get $n) (i64.const 13)) (then unreachable))
    (i64.store (i32.const 0) (i64.mul (local.get $n) (local.get $n)))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (i32.const 8)))
    (drop (call $send (call $sender)))))
