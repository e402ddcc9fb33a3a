;; spin: CPU-bound guests that never call the host, so only preemption
;; (epoch interruption) or a kill can stop or interleave them.
;;   spin  ()      -> ()   loops forever
;;   count (i64 n) -> i64  counts from 0 to n and returns n (0 if n < 0):
;;                         a bounded CPU job whose length the caller picks
(module $spin
  (func $spin (export "spin")
    (loop $forever
      (br $forever)))

  (func $count (export "count") (param $n i64) (result i64)
    (local $i i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $i)))
