;; crash: a plugin with a memory bug. It reads far past the end of its
;; one-page memory, which traps: only this plugin's process ends.
(module $crash
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "run")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (i32.load (i32.const 0x10000000)))))
