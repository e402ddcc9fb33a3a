package cluster

// guestWAT is the guest the cluster tests run on several nodes: an echo
// server, a pinger (send_receive round trips), and one-call wrappers of
// kill and exists that exit with the status.
//
// Memory: 0 tags; 1024.. data buffer.
const guestWAT = `(module $clusterguest
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "kill" (func $kill (param i64) (result i32)))
  (import "ward_process" "exists" (func $exists (param i64) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (memory (export "memory") 2)
  (global $buf i32 (i32.const 1024))

  ;; echo: answer every message to its sender, same tag, same data
  (func $echo (export "echo")
    (local $n i32)
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $n (call $read (global.get $buf) (i32.const 65536)))
      (call $create (call $tag))
      (drop (call $write (global.get $buf) (local.get $n)))
      (drop (call $send (call $sender)))
      (br $l)))

  ;; ping: n round trips with peer (tag 1, 8 bytes, checked); exit 1 on a
  ;; failed call, 2 on a wrong answer
  (func $ping (export "ping") (param $peer i64) (param $n i64)
    (i64.store (i32.const 0) (i64.const 1))
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get $n)))
      (call $create (i64.const 1))
      (i64.store (global.get $buf) (local.get $n))
      (drop (call $write (global.get $buf) (i32.const 8)))
      (if (call $send_receive (local.get $peer) (i32.const 0) (i32.const 1) (i64.const -1))
        (then (call $exit (i32.const 1))))
      (i64.store (global.get $buf) (i64.const 0))
      (drop (call $read (global.get $buf) (i32.const 8)))
      (if (i64.ne (i64.load (global.get $buf)) (local.get $n))
        (then (call $exit (i32.const 2))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l))))

  (func $kill_pid (export "kill_pid") (param $pid i64) (call $exit (call $kill (local.get $pid))))
  (func $exists_pid (export "exists_pid") (param $pid i64) (call $exit (call $exists (local.get $pid))))
)`
