;; bomb: a plugin that allocates without end. It grows its memory a page
;; at a time until the environment refuses (memory.grow returns -1), then
;; aborts the way a guest allocator does, with unreachable.
(module $bomb
  (memory (export "memory") 1)
  (func (export "run")
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
