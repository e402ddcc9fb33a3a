;; multimem: four linear memories of 16 pages (1 MiB) each, so a per-memory
;; limit of 1 MiB would let one process hold 4 MiB.
;;   run () -> ()  touches the last page of each memory, returns
(module $multimem
  (memory $a 16)
  (memory $b 16)
  (memory $c 16)
  (memory $d 16)
  (func (export "run")
    (i32.store $a (i32.const 1048572) (i32.const 1))
    (i32.store $b (i32.const 1048572) (i32.const 1))
    (i32.store $c (i32.const 1048572) (i32.const 1))
    (i32.store $d (i32.const 1048572) (i32.const 1))))
