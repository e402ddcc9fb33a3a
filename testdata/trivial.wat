;; trivial: the smallest useful guest. Exercises calling exports with and
;; without params and results, and the one host call every process has.
;;   run ()          -> ()   returns at once
;;   add (i32, i64)  -> i64  a + b, a sign-extended
;;   id  ()          -> i64  self()
(module $trivial
  (import "ward_process" "self" (func $self (result i64)))

  (func $run (export "run"))

  (func $add (export "add") (param $a i32) (param $b i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get $a)) (local.get $b)))

  (func $id (export "id") (result i64)
    (call $self)))
