;; resolver: the resolve service of examples/resolver, the one process
;; that may use the network for its clients. Its one entry, serve (no
;; params), answers requests forever. A request's data is a host name; the
;; reply, sent to the request's sender under its tag (so send_receive and
;; runtime's Request fit), is the status ward_net.resolve gave (u32 LE)
;; followed by the addresses it found, 16 bytes each (IPv4 mapped into
;; IPv6), at most 16 of them.
;;
;; The resolver decides nothing itself: ward_net checks every name against
;; the allow-list of the resolver's own environment, so a client gets
;; exactly what that environment may resolve, and ErrPermission (2) for
;; the rest. A name longer than DNS allows gets ErrInvalid (4) without a
;; look-up.
;;
;; Memory: 0 the status; 8 the count resolve writes; 256.. the name;
;; 1024.. the addresses (16 records, 256 bytes).
(module $resolver
  (import "ward_net" "resolve" (func $resolve (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "data_size" (func $data_size (result i64)))
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $get_tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)

  (func (export "serve")
    (local $n i64) (local $st i32)
    (loop $next
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))  ;; any message
      (local.set $n (call $data_size))
      (i32.store (i32.const 8) (i32.const 0))
      (if (i64.gt_u (local.get $n) (i64.const 253))
        (then (local.set $st (i32.const 4)))
        (else
          (drop (call $read_data (i32.const 256) (i32.wrap_i64 (local.get $n))))
          (local.set $st (call $resolve (i32.const 256) (i32.wrap_i64 (local.get $n))
            (i32.const 1024) (i32.const 16) (i32.const 8)))))
      ;; resolve writes the count only when it succeeds: 0 otherwise
      (i32.store (i32.const 0) (local.get $st))
      (call $create_data (call $get_tag))
      (drop (call $write_data (i32.const 0) (i32.const 4)))
      (drop (call $write_data (i32.const 1024) (i32.shl (i32.load (i32.const 8)) (i32.const 4))))
      (drop (call $send (call $sender)))  ;; a client that has gone misses its answer
      (br $next))))
