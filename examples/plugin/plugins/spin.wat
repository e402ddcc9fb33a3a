;; spin: a plugin with an infinite loop. It takes its input and never
;; answers; the environment's fuel limit ends it.
(module $spin
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (func (export "run")
    (local $x i64)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (loop $forever
      (local.set $x (i64.add (local.get $x) (i64.const 1)))
      (br $forever))))
