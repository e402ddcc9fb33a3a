;; growmem: guests that grow linear memory until the environment's memory
;; limit refuses, then die the two ways real guests do.
;;   grow_forever   ()          -> ()   grows a page at a time until
;;                                      memory.grow returns -1, then traps
;;                                      (unreachable), as a guest does when
;;                                      its allocator fails
;;   grow_then_exit ()          -> ()   the same, then exit(3)
;;   grow_n         (i32 pages) -> i32  memory.grow's result: the old size
;;                                      in pages, or -1 if refused
;; The grows are a page at a time, so use a limit of a few MiB: without
;; memory reserved for growth each grow can copy the whole memory.
(module $growmem
  (import "ward_process" "exit" (func $exit (param $code i32)))

  ;; No maximum: the limit must come from the environment, not the module.
  (memory (export "memory") 1)

  (func $grow_forever (export "grow_forever")
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable)

  (func $grow_then_exit (export "grow_then_exit")
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (call $exit (i32.const 3)))

  (func $grow_n (export "grow_n") (param $pages i32) (result i32)
    (memory.grow (local.get $pages))))
