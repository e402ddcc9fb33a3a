;; wasi_hello: a minimal WASI preview 1 command, for ward's WASI support.
;;   _start       () -> ()  writes "hello from wasi\n" to fd 1, returns
;;   exit_code    () -> ()  proc_exit(7)
;;   write_stderr () -> ()  writes "oops\n" to fd 2
;; args_sizes_get is imported but never called: every toolchain-built
;; command imports it, and the runtime must satisfy imports a guest has
;; whether or not it calls them. fd_write's errno and short writes are
;; ignored; these are a few bytes.
;;
;; Memory layout: 0 iovec {ptr i32, len i32}; 8 nwritten i32;
;; 16 "hello from wasi\n" (16 bytes); 32 "oops\n" (5 bytes).
(module $wasi_hello
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param $fd i32) (param $iovs i32) (param $iovs_len i32)
                    (param $nwritten i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param $code i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param $argc i32) (param $argv_buf_size i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 16) "hello from wasi\n")
  (data (i32.const 32) "oops\n")

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $_start (export "_start")
    (call $write (i32.const 1) (i32.const 16) (i32.const 16)))

  (func $exit_code (export "exit_code")
    (call $proc_exit (i32.const 7)))

  (func $write_stderr (export "write_stderr")
    (call $write (i32.const 2) (i32.const 32) (i32.const 5))))
