;; kvguest: the guest of examples/kvstore. It runs one script against the
;; key-value store twice: through the "kv" host module, then through the
;; process registered as kvstore@1.x, which it talks to in CBOR messages.
;; Entries (no params):
;;   host        the script through the host module
;;   process     the script through the kvstore process
;;   check       get color both ways (after bad_pointer, to show the store serves on)
;;   bad_pointer kv.get with a key outside memory: traps this process only
;; Each get prints "<way>: <label><value or (missing)>\n" to stdout (WASI).
;; A failure the script does not expect exits with a code saying where:
;; 10+status a put, 30+status send_receive, 40+status the lookup.
(module $kvguest
  (import "kv" "put" (func $kv_put (param i32 i32 i32 i32 i64) (result i32)))
  (import "kv" "get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "unique_tag" (func $unique_tag (result i64)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Memory: 0 an iovec; 32 nwritten; 40 the kvstore pid (i64); 48 the
  ;; reply tag to receive (i64); 64 a CBOR head being written; 128..
  ;; strings; 1024 the reply; 2048 the value buffer; 3072 a line to print.
  (global $PID i32 (i32.const 40))
  (global $TAG i32 (i32.const 48))
  (global $HEAD i32 (i32.const 64))
  (global $REPLY i32 (i32.const 1024))
  (global $REPLY_CAP i32 (i32.const 1024))
  (global $VBUF i32 (i32.const 2048))
  (global $VBUF_CAP i32 (i32.const 256))
  (global $LINE i32 (i32.const 3072))
  (data (i32.const 128) "color")
  (data (i32.const 136) "teal")
  (data (i32.const 144) "flash")
  (data (i32.const 152) "gone soon")
  (data (i32.const 168) "kvstore")
  (data (i32.const 176) "^1")
  (data (i32.const 184) "put")
  (data (i32.const 188) "get")
  (data (i32.const 200) "host module: ")
  (data (i32.const 216) "process:     ")
  (data (i32.const 232) "get color -> ")
  (data (i32.const 248) "get flash -> ")
  (data (i32.const 264) "get flash 150ms later -> ")
  (data (i32.const 296) "(missing)")

  ;; Which way the script goes: 0 the host module, 1 the process; and the
  ;; prefix of its lines.
  (global $via_process (mut i32) (i32.const 0))
  (global $prefix (mut i32) (i32.const 200))

  ;; ---- the script, and printing -----------------------------------------

  ;; script: put color (forever) and flash (100 ms), and show them
  (func $script
    (local $st i32)
    (local.set $st (call $put (i32.const 128) (i32.const 5) (i32.const 136) (i32.const 4) (i64.const 0)))  ;; color = teal
    (if (local.get $st) (then (call $exit (i32.add (i32.const 10) (local.get $st)))))
    (call $show (i32.const 232) (i32.const 13) (i32.const 128) (i32.const 5))  ;; "get color -> "
    (local.set $st (call $put (i32.const 144) (i32.const 5) (i32.const 152) (i32.const 9) (i64.const 100)))  ;; flash = gone soon
    (if (local.get $st) (then (call $exit (i32.add (i32.const 10) (local.get $st)))))
    (call $show (i32.const 248) (i32.const 13) (i32.const 144) (i32.const 5))  ;; "get flash -> "
    (call $sleep_ms (i64.const 150))
    (call $show (i32.const 264) (i32.const 25) (i32.const 144) (i32.const 5)))  ;; "get flash 150ms later -> "

  ;; show: get key and print label and the value, or (missing)
  (func $show (param $label i32) (param $label_len i32) (param $key i32) (param $key_len i32)
    (local $n i32)
    (local.set $n (call $get (local.get $key) (local.get $key_len)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (call $print (local.get $label) (local.get $label_len) (i32.const 296) (i32.const 9)))
      (else (call $print (local.get $label) (local.get $label_len) (global.get $VBUF) (local.get $n)))))

  ;; print: one line, assembled at $LINE and written at once (wasmtime's
  ;; fd_write writes only the first of several iovecs to a file)
  (func $print (param $label i32) (param $label_len i32) (param $val i32) (param $val_len i32)
    (local $end i32)
    (memory.copy (global.get $LINE) (global.get $prefix) (i32.const 13))
    (local.set $end (i32.add (global.get $LINE) (i32.const 13)))
    (memory.copy (local.get $end) (local.get $label) (local.get $label_len))
    (local.set $end (i32.add (local.get $end) (local.get $label_len)))
    (memory.copy (local.get $end) (local.get $val) (local.get $val_len))
    (local.set $end (i32.add (local.get $end) (local.get $val_len)))
    (i32.store8 (local.get $end) (i32.const 10))  ;; "\n"
    (local.set $end (i32.add (local.get $end) (i32.const 1)))
    (i32.store (i32.const 0) (global.get $LINE))
    (i32.store (i32.const 4) (i32.sub (local.get $end) (global.get $LINE)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32))))

  ;; ---- the two ways to the store ----------------------------------------

  ;; put: store val under key for ttl_ms; returns a status
  (func $put (param $key i32) (param $key_len i32) (param $val i32) (param $val_len i32) (param $ttl i64) (result i32)
    (if (result i32) (global.get $via_process)
      (then (call $request (i32.const 184) (local.get $key) (local.get $key_len) (local.get $val) (local.get $val_len) (local.get $ttl)))
      (else (call $kv_put (local.get $key) (local.get $key_len) (local.get $val) (local.get $val_len) (local.get $ttl)))))

  ;; get: copy key's value to $VBUF and return its length, or -1 if missing
  (func $get (param $key i32) (param $key_len i32) (result i32)
    (local $n i64)
    (if (global.get $via_process)
      (then
        (if (call $request (i32.const 188) (local.get $key) (local.get $key_len) (i32.const 0) (i32.const 0) (i64.const 0))
          (then (return (i32.const -1))))
        (local.set $n (call $read_head))  ;; the value's length; $pos is at its bytes
        (if (i64.gt_u (local.get $n) (i64.extend_i32_u (global.get $VBUF_CAP))) (then unreachable))
        (memory.copy (global.get $VBUF) (global.get $pos) (i32.wrap_i64 (local.get $n))))
      (else
        (local.set $n (call $kv_get (local.get $key) (local.get $key_len) (global.get $VBUF) (global.get $VBUF_CAP)))
        ;; n > cap: the value did not fit and nothing was copied; a real
        ;; guest would grow its buffer to n and ask again
        (if (i64.gt_s (local.get $n) (i64.extend_i32_u (global.get $VBUF_CAP))) (then unreachable))))
    (i32.wrap_i64 (local.get $n)))

  ;; request: send [op, key, value, ttl] to the kvstore process and wait for
  ;; its [status, value]; returns the status, leaving $pos at the value's
  ;; CBOR head in the reply
  (func $request (param $op i32) (param $key i32) (param $key_len i32) (param $val i32) (param $val_len i32) (param $ttl i64) (result i32)
    (local $st i32)
    (i64.store (global.get $TAG) (call $unique_tag))
    (call $create_data (i64.load (global.get $TAG)))
    (call $write_head (i32.const 4) (i64.const 4))  ;; an array of 4
    (call $write_head (i32.const 3) (i64.const 3))  ;; op: text
    (drop (call $write_data (local.get $op) (i32.const 3)))
    (call $write_head (i32.const 3) (i64.extend_i32_u (local.get $key_len)))  ;; key: text
    (drop (call $write_data (local.get $key) (local.get $key_len)))
    (call $write_head (i32.const 2) (i64.extend_i32_u (local.get $val_len)))  ;; value: bytes
    (drop (call $write_data (local.get $val) (local.get $val_len)))
    (call $write_head (i32.const 0) (local.get $ttl))  ;; ttl: unsigned integer
    (local.set $st (call $send_receive (i64.load (global.get $PID)) (global.get $TAG) (i32.const 1) (i64.const 5000)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 30) (local.get $st)))))
    (drop (call $read_data (global.get $REPLY) (global.get $REPLY_CAP)))
    (global.set $pos (global.get $REPLY))
    (drop (call $read_head))  ;; the array of 2
    (i32.wrap_i64 (call $read_head)))

  ;; ---- CBOR heads: a major type and a number, big-endian ----------------

  (global $pos (mut i32) (i32.const 0))

  ;; write_head: append the shortest head of major type and n to the message
  (func $write_head (param $major i32) (param $n i64)
    (local $info i32) (local $k i32) (local $i i32)
    (if (i64.lt_u (local.get $n) (i64.const 24))
      (then (local.set $info (i32.wrap_i64 (local.get $n))))
      (else
        (local.set $k (i32.const 8))
        (if (i64.lt_u (local.get $n) (i64.const 0x100000000)) (then (local.set $k (i32.const 4))))
        (if (i64.lt_u (local.get $n) (i64.const 0x10000)) (then (local.set $k (i32.const 2))))
        (if (i64.lt_u (local.get $n) (i64.const 0x100)) (then (local.set $k (i32.const 1))))
        ;; 24, 25, 26, 27: one, two, four, eight bytes follow
        (local.set $info (i32.add (i32.const 24) (i32.ctz (local.get $k))))))
    (i32.store8 (global.get $HEAD) (i32.or (i32.shl (local.get $major) (i32.const 5)) (local.get $info)))
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $i) (local.get $k)))
      (i64.store8 (i32.add (global.get $HEAD) (i32.add (i32.const 1) (local.get $i)))
        (i64.shr_u (local.get $n) (i64.extend_i32_u (i32.mul (i32.const 8) (i32.sub (i32.sub (local.get $k) (local.get $i)) (i32.const 1))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (drop (call $write_data (global.get $HEAD) (i32.add (i32.const 1) (local.get $k)))))

  ;; read_head: the number of the head at $pos, moving $pos past it
  (func $read_head (result i64)
    (local $info i32) (local $k i32) (local $n i64)
    (local.set $info (i32.and (i32.load8_u (global.get $pos)) (i32.const 31)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
    (if (i32.lt_u (local.get $info) (i32.const 24)) (then (return (i64.extend_i32_u (local.get $info)))))
    (if (i32.gt_u (local.get $info) (i32.const 27)) (then unreachable))  ;; not a head our replies use
    (local.set $k (i32.shl (i32.const 1) (i32.sub (local.get $info) (i32.const 24))))
    (loop $byte
      (local.set $n (i64.or (i64.shl (local.get $n) (i64.const 8)) (i64.load8_u (global.get $pos))))
      (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br_if $byte (local.get $k)))
    (local.get $n))

  ;; ---- entries ------------------------------------------------------------

  (func $use_host
    (global.set $via_process (i32.const 0))
    (global.set $prefix (i32.const 200)))

  ;; use_process: find kvstore@1.x and send it the requests from now on
  (func $use_process
    (local $st i32)
    (local.set $st (call $lookup (i32.const 168) (i32.const 7) (i32.const 176) (i32.const 2) (global.get $PID)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 40) (local.get $st)))))
    (global.set $via_process (i32.const 1))
    (global.set $prefix (i32.const 216)))

  (func (export "host") (call $use_host) (call $script))

  (func (export "process") (call $use_process) (call $script))

  (func (export "check")
    (call $use_host)
    (call $show (i32.const 232) (i32.const 13) (i32.const 128) (i32.const 5))
    (call $use_process)
    (call $show (i32.const 232) (i32.const 13) (i32.const 128) (i32.const 5)))

  (func (export "bad_pointer")
    (drop (call $kv_get (i32.const 0x7ffffff0) (i32.const 5) (global.get $VBUF) (global.get $VBUF_CAP)))))
