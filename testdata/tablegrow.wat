;; tablegrow: a guest that grows a table until the environment's table
;; limit refuses, then traps, like growmem does for memory.
;;   grow_forever () -> ()  table.grow by 1000 null entries at a time until
;;                          it returns -1, then unreachable
;; Run it only under a store table-element limit: without one, wasmtime
;; v25 keeps doubling the table until a host allocation fails, and that
;; aborts the whole Go process (SIGABRT) rather than returning -1.
(module $tablegrow
  ;; No maximum: the limit must come from the environment, not the module.
  (table $table 0 funcref)

  (func $grow_forever (export "grow_forever")
    (loop $more
      (br_if $more
        (i32.ne (table.grow $table (ref.null func) (i32.const 1000)) (i32.const -1))))
    unreachable))
