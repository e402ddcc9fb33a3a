;; start_wait: guests that never finish instantiating. Kill and Close must
;; end a process stuck in its start function as they end any other.
;; Instantiate with the export "run" (never reached).
;; Which start function runs is chosen by the module: see start_spin.wat
;; and start_receive.wat; this one sleeps in a host call.
(module $start_wait
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (memory (export "memory") 1)
  (func $start (loop $l (call $sleep (i64.const 1000000)) (br $l)))
  (start $start)
  (func (export "run")))
