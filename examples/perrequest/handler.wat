;; handler: the guest of examples/perrequest. Every HTTP request runs
;; "handle" in a fresh instance of this module, so nothing a request leaves
;; in memory or globals is there for the next one.
;;
;;   handle (token i64) -> ()
;;
;; token names the request to the host module "http" (see main.go): read
;; the path and body, set the status, write the response body. The answer:
;;
;;   hello, <path>
;;   instance request #<how many requests this instance has served>
;;   <the body, ASCII letters upper-cased>
;;
;; The count is always 1: each instance serves one request. Two paths
;; misbehave on purpose, to show a failure stays with its request:
;; /crash traps and /loop spins until the fuel limit ends it.
;;
;; Memory: 0.. constant text; 48 the count digit; 128.. path (1 KiB);
;; 1152.. body (64 KiB). A small request touches only the first 4 KiB page
;; of the fresh memory: every page a process touches costs a page fault
;; now and unmapping later, and on the project's VM each is tens of
;; microseconds, more than the rest of the request.
(module $handler
  (import "http" "read_path" (func $read_path (param i64 i32 i32) (result i32)))
  (import "http" "read_body" (func $read_body (param i64 i32 i32) (result i32)))
  (import "http" "write" (func $write (param i64 i32 i32)))
  (import "http" "set_status" (func $set_status (param i64 i32)))
  (memory (export "memory") 2)
  (global $served (mut i32) (i32.const 0))
  (data (i32.const 0) "hello, ")
  (data (i32.const 16) "\0ainstance request #")
  (data (i32.const 49) "\0a")
  (data (i32.const 64) "/crash")
  (data (i32.const 80) "/loop")

  (func $min (param i32 i32) (result i32)
    (select (local.get 0) (local.get 1) (i32.lt_u (local.get 0) (local.get 1))))

  (func (export "handle") (param $t i64)
    (local $n i32) (local $i i32) (local $c i32)
    (global.set $served (i32.add (global.get $served) (i32.const 1)))
    (local.set $n (call $min (call $read_path (local.get $t) (i32.const 128) (i32.const 1024)) (i32.const 1024)))

    ;; /crash: trap. /loop: never return.
    (if (i32.and (i32.eq (local.get $n) (i32.const 6))
          (i32.and (i32.eq (i32.load (i32.const 128)) (i32.load (i32.const 64)))
                   (i32.eq (i32.load16_u (i32.const 132)) (i32.load16_u (i32.const 68)))))
      (then unreachable))
    (if (i32.and (i32.eq (local.get $n) (i32.const 5))
          (i32.and (i32.eq (i32.load (i32.const 128)) (i32.load (i32.const 80)))
                   (i32.eq (i32.load8_u (i32.const 132)) (i32.load8_u (i32.const 84)))))
      (then (loop $forever (br $forever))))

    (call $set_status (local.get $t) (i32.const 200))
    (call $write (local.get $t) (i32.const 0) (i32.const 7))
    (call $write (local.get $t) (i32.const 128) (local.get $n))
    (call $write (local.get $t) (i32.const 16) (i32.const 19))
    (i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.rem_u (global.get $served) (i32.const 10))))
    (call $write (local.get $t) (i32.const 48) (i32.const 2))

    (local.set $n (call $min (call $read_body (local.get $t) (i32.const 1152) (i32.const 65536)) (i32.const 65536)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $c (i32.load8_u offset=1152 (local.get $i)))
      (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26))
        (then (i32.store8 offset=1152 (local.get $i) (i32.sub (local.get $c) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $write (local.get $t) (i32.const 1152) (local.get $n))))
