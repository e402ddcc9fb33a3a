;; greeter: the service of examples/services, one module serving three
;; versions of the same API. The host registers each process as
;; greeter@<version> (ChildSpec.OnStart); the process itself only serves.
;; Entries (no params), each a server that never returns on its own:
;;   greeter_v1_2  version 1.2.0: "greeter 1.2.0 says hello to NAME"
;;   greeter_v1_4  version 1.4.0: "greeter 1.4.0 says hello to NAME"
;;   greeter_v2_0  version 2.0.0: "greeter 2.0.0 says hi to NAME" (2.x changed
;;                 the reply, which is why 1.x clients ask for ^1)
;; A request is any message: its data is the name to greet (up to 1 KiB),
;; and the reply goes back to its sender under the request's tag, so
;; ward_message.send_receive and runtime's Request fit. Before replying the
;; greeter sends the process registered as audit@^1, if there is one, a
;; notice: tag 1, the greeter's version as data. A request whose data is
;; exactly "crash" traps the greeter: the failure the example injects.
(module $greeter
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $get_tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Memory: 0 the audit pid (i64); 16.. strings; 1024 the request.
  (global $AUDIT_PID i32 (i32.const 0))
  (global $REQ i32 (i32.const 1024))
  (global $REQ_CAP i32 (i32.const 1024))
  (data (i32.const 16) "audit")           ;; 5
  (data (i32.const 24) "^1")              ;; 2
  (data (i32.const 32) "crash")           ;; 5
  (data (i32.const 40) "greeter ")        ;; 8
  (data (i32.const 64) "1.2.0")           ;; 5
  (data (i32.const 72) "1.4.0")           ;; 5
  (data (i32.const 80) "2.0.0")           ;; 5
  (data (i32.const 96) " says hello to ") ;; 15
  (data (i32.const 112) " says hi to ")   ;; 12

  ;; equal: whether the len_a bytes at a and the len_b bytes at b are equal
  (func $equal (param $a i32) (param $len_a i32) (param $b i32) (param $len_b i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $len_a) (local.get $len_b)) (then (return (i32.const 0))))
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $i) (local.get $len_a)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (i32.const 1))

  ;; serve: answer requests forever as version (5 bytes at $version), with
  ;; the greeting's middle words at $words
  (func $serve (param $version i32) (param $words i32) (param $words_len i32)
    (local $n i32) (local $from i64) (local $tag i64)
    (loop $next
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))  ;; any message
      (local.set $n (call $read_data (global.get $REQ) (global.get $REQ_CAP)))
      (local.set $from (call $sender))
      (local.set $tag (call $get_tag))
      ;; the injected failure
      (if (call $equal (global.get $REQ) (local.get $n) (i32.const 32) (i32.const 5))
        (then unreachable))
      ;; tell audit@^1, if it is there; a missing or full audit is no reason to fail
      (if (i32.eqz (call $lookup (i32.const 16) (i32.const 5) (i32.const 24) (i32.const 2) (global.get $AUDIT_PID)))
        (then
          (call $create_data (i64.const 1))
          (drop (call $write_data (local.get $version) (i32.const 5)))
          (drop (call $send (i64.load (global.get $AUDIT_PID))))))
      ;; reply: "greeter " version words name
      (call $create_data (local.get $tag))
      (drop (call $write_data (i32.const 40) (i32.const 8)))
      (drop (call $write_data (local.get $version) (i32.const 5)))
      (drop (call $write_data (local.get $words) (local.get $words_len)))
      (drop (call $write_data (global.get $REQ) (local.get $n)))
      (drop (call $send (local.get $from)))  ;; a sender that has gone misses its reply
      (br $next)))

  (func (export "greeter_v1_2") (call $serve (i32.const 64) (i32.const 96) (i32.const 15)))
  (func (export "greeter_v1_4") (call $serve (i32.const 72) (i32.const 96) (i32.const 15)))
  (func (export "greeter_v2_0") (call $serve (i32.const 80) (i32.const 112) (i32.const 12))))
