;; hang: a plugin that takes its input and then waits for a second message
;; that never comes. It burns no fuel, so only the host's deadline ends it.
(module $hang
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (func (export "run")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))
