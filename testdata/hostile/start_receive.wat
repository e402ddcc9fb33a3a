;; start_receive: a start function that waits forever for a message
;; (receive with timeout -1). Export "run" is never reached.
(module $start_receive
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func $start (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l)))
  (start $start)
  (func (export "run")))
