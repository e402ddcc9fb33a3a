;; client: a process of examples/resolver's child environment, which may
;; import ward_process, ward_message and ward_registry and nothing else:
;; no ward_net, so it cannot resolve a name or open a socket itself. Its
;; one entry, ask (no params), is called with Environment.Call: its first
;; message is a host name. It finds the service registered as resolve ^1
;; in its environment (ward_registry.lookup), asks it with send_receive
;; and replies to its caller with the resolver's answer as it came. When
;; it cannot get one, it replies with a status of its own, 100 + the
;; status of the lookup or the send_receive that failed (u32 LE).
;;
;; Memory: 0 a status; 8 the resolver's pid (i64); 16 the request's tag
;; (i64); 32.. strings; 256.. the name (512 bytes); 1024.. the answer.
(module $client
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $get_tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "unique_tag" (func $unique_tag (result i64)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "resolve")  ;; 7
  (data (i32.const 40) "^1")       ;; 2

  (func (export "ask")
    (local $n i32) (local $st i32) (local $tag i64) (local $from i64)
    ;; the caller's request: keep its tag and sender, the current
    ;; message changes with send_receive
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $tag (call $get_tag))
    (local.set $from (call $sender))
    (local.set $n (call $read_data (i32.const 256) (i32.const 512)))
    (local.set $st (call $lookup (i32.const 32) (i32.const 7) (i32.const 40) (i32.const 2) (i32.const 8)))
    (if (i32.eqz (local.get $st)) (then
      (i64.store (i32.const 16) (call $unique_tag))
      (call $create_data (i64.load (i32.const 16)))
      (drop (call $write_data (i32.const 256) (local.get $n)))
      (local.set $st (call $send_receive (i64.load (i32.const 8)) (i32.const 16) (i32.const 1) (i64.const 5000)))))
    (call $create_data (local.get $tag))
    (if (local.get $st)
      (then
        (i32.store (i32.const 0) (i32.add (i32.const 100) (local.get $st)))
        (drop (call $write_data (i32.const 0) (i32.const 4))))
      (else
        (local.set $n (call $read_data (i32.const 1024) (i32.const 1024)))
        (drop (call $write_data (i32.const 1024) (local.get $n)))))
    (drop (call $send (local.get $from)))))
