;; start_trap: a module whose start function traps (unreachable), so
;; instantiation itself fails and no export ever runs.
;;   run () -> ()  returns at once; there so spawning "run" gets as far as
;;                 instantiating instead of failing on a missing export
(module $start_trap
  (func $start
    unreachable)
  (start $start)

  (func $run (export "run")))
