;; waits: processes parked in each kind of wait a guest can enter, for
;; killing there. Each export waits forever (or for an hour).
;;   receive_forever  ()        receive, any tag, timeout -1
;;   receive_tagged   ()        receive of tag 99 only, timeout -1
;;   receive_timeout  ()        receive, timeout one hour
;;   request (i64 pid)          send_receive to pid, timeout -1 (pid never answers)
;;   sleep            ()        sleep_ms one hour
;;   idle             ()        sleeps forever: a target that never answers
(module $waits
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\63\00\00\00\00\00\00\00") ;; tag 99
  (func (export "receive_forever") (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l)))
  (func (export "receive_tagged") (loop $l (drop (call $receive (i32.const 0) (i32.const 1) (i64.const -1))) (br $l)))
  (func (export "receive_timeout") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const 3600000))))
  (func (export "request") (param $pid i64)
    (call $create (i64.const 5))
    (drop (call $send_receive (local.get $pid) (i32.const 0) (i32.const 1) (i64.const -1))))
  (func (export "sleep") (call $sleep (i64.const 3600000)))
  (func (export "idle") (loop $l (call $sleep (i64.const 1000000)) (br $l))))
