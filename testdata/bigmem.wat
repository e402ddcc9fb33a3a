;; bigmem: a module whose memory minimum is 1000 pages (64 MiB), so
;; instantiating it fails in an environment whose memory limit is lower:
;; the limit must apply to the initial size, not only to memory.grow.
;;   run () -> ()  returns at once (if it ever gets to run)
(module $bigmem
  (memory (export "memory") 1000)

  (func $run (export "run")))
