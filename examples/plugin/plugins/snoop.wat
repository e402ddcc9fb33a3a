;; snoop: a plugin that wants more than plugins get. It imports WASI's
;; path_open to read the host's files; the plugin environment allows only
;; ward_message, so the host refuses it at spawn, before it runs at all.
(module $snoop
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory 1)
  (data (i32.const 0) "etc/passwd")
  (func (export "run")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 10)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64)))))
