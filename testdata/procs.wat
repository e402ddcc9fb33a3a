;; procs: guests that use the ward_process host functions: sleeping,
;; exiting, spawning (including the ways spawn fails) and a spawn bomb.
;;   sleep_forever ()           -> ()   sleep_ms(1000000) in a loop
;;   sleep         (i64 ms)     -> ()   sleep_ms(ms), then returns
;;   exit_with     (i32 code)   -> ()   exit(code)
;;   self_id       ()           -> i64  self()
;;   spawn_child   (i32 n)      -> i32  spawns "child" with the one i64
;;                                      param n; returns spawn's status and
;;                                      leaves the new id for last_child
;;   child         (i64 ms)     -> ()   sleep_ms(ms), then returns
;;   spawn_missing ()           -> i32  spawns "nope", which is not
;;                                      exported; returns the status
;;   spawn_bad_ptr ()           -> i32  spawn with entry_ptr 0x7ffffff0,
;;                                      outside memory: must trap
;;   last_child    ()           -> i64  the id spawn_child last stored
;;   bomb          ()           -> ()   spawns "bomb" (no params) until
;;                                      spawn fails, then exit(status)
;;
;; Memory layout (one page; each process has its own instance, so these
;; fixed addresses are never shared):
;;   0   i64  id written by spawn_child's spawn (read by last_child)
;;   8   i64  id written by every other spawn, so they leave 0 alone
;;   16  spawn param record for spawn_child (16 bytes):
;;       16 i32 type = 1 (i64), 20 padding, 24 i64 value = n
;;   32  "child"   40  "nope"   48  "bomb"
(module $procs
  (import "ward_process" "self" (func $self (result i64)))
  (import "ward_process" "exit" (func $exit (param $code i32)))
  (import "ward_process" "spawn"
    (func $spawn (param $entry_ptr i32) (param $entry_len i32)
                 (param $params_ptr i32) (param $params_count i32)
                 (param $id_ptr i32) (result i32)))
  (import "ward_process" "sleep_ms" (func $sleep_ms (param $ms i64)))

  (memory (export "memory") 1)

  (data (i32.const 16) "\01\00\00\00")
  (data (i32.const 32) "child")
  (data (i32.const 40) "nope")
  (data (i32.const 48) "bomb")

  (func $sleep_forever (export "sleep_forever")
    (loop $again
      (call $sleep_ms (i64.const 1000000))
      (br $again)))

  (func $sleep (export "sleep") (param $ms i64)
    (call $sleep_ms (local.get $ms)))

  (func $exit_with (export "exit_with") (param $code i32)
    (call $exit (local.get $code)))

  (func $self_id (export "self_id") (result i64)
    (call $self))

  (func $spawn_child (export "spawn_child") (param $n i32) (result i32)
    (i64.store (i32.const 24) (i64.extend_i32_s (local.get $n)))
    (call $spawn (i32.const 32) (i32.const 5) (i32.const 16) (i32.const 1) (i32.const 0)))

  (func $child (export "child") (param $ms i64)
    (call $sleep_ms (local.get $ms)))

  (func $spawn_missing (export "spawn_missing") (result i32)
    (call $spawn (i32.const 40) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 8)))

  (func $spawn_bad_ptr (export "spawn_bad_ptr") (result i32)
    (call $spawn (i32.const 0x7ffffff0) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 8)))

  (func $last_child (export "last_child") (result i64)
    (i64.load (i32.const 0)))

  (func $bomb (export "bomb")
    (local $status i32)
    (loop $again
      (local.set $status
        (call $spawn (i32.const 48) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 8)))
      (if (local.get $status)
        (then
          (call $exit (local.get $status))
          ;; exit does not return; if a broken host lets it, stop here
          ;; rather than spawning forever.
          (return)))
      (br $again))))
