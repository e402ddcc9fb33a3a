;; recurse: unbounded recursion, for the stack overflow trap. The add after
;; the call keeps it from being a tail call, so every level takes a frame.
;;   recurse (i64 depth) -> i64  calls itself with depth+1 forever
(module $recurse
  (func $recurse (export "recurse") (param $depth i64) (result i64)
    (i64.add
      (call $recurse (i64.add (local.get $depth) (i64.const 1)))
      (i64.const 1))))
