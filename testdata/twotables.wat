;; twotables: two funcref tables, as many as ward allows a process.
;;   grow_max () -> ()      grows both to their limit (the largest declared
;;                          size, 0, plus the 1024 elements of headroom ward
;;                          allows), then checks that one entry more is
;;                          refused; traps (unreachable) if either is not so
(module $twotables
  (table $t0 0 funcref)
  (table $t1 0 funcref)
  (func (export "grow_max")
    (if (i32.eq (table.grow $t0 (ref.null func) (i32.const 1024)) (i32.const -1)) (then unreachable))
    (if (i32.ne (table.grow $t0 (ref.null func) (i32.const 1)) (i32.const -1)) (then unreachable))
    (if (i32.eq (table.grow $t1 (ref.null func) (i32.const 1024)) (i32.const -1)) (then unreachable))
    (if (i32.ne (table.grow $t1 (ref.null func) (i32.const 1)) (i32.const -1)) (then unreachable))
  ))
