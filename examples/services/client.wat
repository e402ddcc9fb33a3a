;; client: the Wasm client of examples/services. Its one entry, client (no
;; params), finds the greeter service by name and version constraint,
;; ward_registry.lookup("greeter", "^1"), sends it the request "wasm client"
;; with send_receive and prints, with WASI fd_write, one line:
;;   wasm client: lookup greeter ^1 -> pid N; reply: REPLY
;; A failure exits with a code saying where: 40+status the lookup,
;; 30+status send_receive.
(module $client
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "unique_tag" (func $unique_tag (result i64)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Memory: 0 an iovec; 8 nwritten; 16 the reply tag (i64); 24 the
  ;; greeter's pid (i64); 32.. strings; 1024 the reply; 2048 the line.
  (global $TAG i32 (i32.const 16))
  (global $PID i32 (i32.const 24))
  (global $REPLY i32 (i32.const 1024))
  (global $REPLY_CAP i32 (i32.const 1024))
  (global $LINE i32 (i32.const 2048))
  (data (i32.const 32) "greeter")                                  ;; 7
  (data (i32.const 40) "^1")                                       ;; 2
  (data (i32.const 48) "wasm client")                              ;; 11
  (data (i32.const 64) "wasm client: lookup greeter ^1 -> pid ")   ;; 38
  (data (i32.const 112) "; reply: ")                               ;; 9

  ;; append: copy len bytes from src to at; returns the end
  (func $append (param $at i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $at) (local.get $src) (local.get $len))
    (i32.add (local.get $at) (local.get $len)))

  ;; decimal: write v in decimal at at; returns the end
  (func $decimal (param $at i32) (param $v i64) (result i32)
    (local $end i32) (local $t i64)
    ;; find the end: one byte per digit
    (local.set $end (local.get $at))
    (local.set $t (local.get $v))
    (loop $count
      (local.set $end (i32.add (local.get $end) (i32.const 1)))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (br_if $count (i64.ne (local.get $t) (i64.const 0))))
    ;; write the digits from the last
    (local.set $at (local.get $end))
    (local.set $t (local.get $v))
    (loop $digit
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $t) (i64.const 10)))))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $t) (i64.const 0))))
    (local.get $end))

  (func (export "client")
    (local $st i32) (local $n i32) (local $end i32)
    (local.set $st (call $lookup (i32.const 32) (i32.const 7) (i32.const 40) (i32.const 2) (global.get $PID)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 40) (local.get $st)))))
    (i64.store (global.get $TAG) (call $unique_tag))
    (call $create_data (i64.load (global.get $TAG)))
    (drop (call $write_data (i32.const 48) (i32.const 11)))
    (local.set $st (call $send_receive (i64.load (global.get $PID)) (global.get $TAG) (i32.const 1) (i64.const 5000)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 30) (local.get $st)))))
    (local.set $n (call $read_data (global.get $REPLY) (global.get $REPLY_CAP)))
    ;; one line, written at once
    (local.set $end (call $append (global.get $LINE) (i32.const 64) (i32.const 38)))
    (local.set $end (call $decimal (local.get $end) (i64.load (global.get $PID))))
    (local.set $end (call $append (local.get $end) (i32.const 112) (i32.const 9)))
    (local.set $end (call $append (local.get $end) (global.get $REPLY) (local.get $n)))
    (i32.store8 (local.get $end) (i32.const 10))  ;; "\n"
    (local.set $end (i32.add (local.get $end) (i32.const 1)))
    (i32.store (i32.const 0) (global.get $LINE))
    (i32.store (i32.const 4) (i32.sub (local.get $end) (global.get $LINE)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
