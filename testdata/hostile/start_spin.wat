;; start_spin: a start function that loops forever without a host call;
;; only epoch interruption can stop it. Export "run" is never reached.
(module $start_spin
  (memory (export "memory") 1)
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "run")))
