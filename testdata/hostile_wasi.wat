;; hostile_wasi: a guest that calls the WASI functions ward shadows with
;; whatever arguments it is given, hostile or not, and well-behaved calls
;; whose results it checks itself. Entries that report a result end with
;; proc_exit(result): 0 ends the process Normal, anything else with an
;; ExitError of that code.
;;   poll      (in, out, n, nevents i32)   poll_oneoff as given; exits with its errno
;;   random    (buf, len i32)              random_get as given; exits with its errno
;;   sleep_forever () -> ()   one relative monotonic clock subscription of
;;                            2^64-1 ns: a wait only Kill ends
;;   poll_clock (id i32, timeout i64, flags i32, userdata i64) 
;;                            one clock subscription; exits with its errno, or
;;                            100 + a code when the event is not the one
;;                            WASI specifies (see $check_event)
;;   poll_abs (id i32, delta i64)   an absolute deadline on clock id,
;;                            delta ns after its clock_time_get; as poll_clock
;;   poll_two ()      a 1 h and a 1 ms clock subscription: exactly one
;;                            event, the 1 ms one's; as poll_clock
;;   poll_fd (tag, fd i32)    one fd_read (tag 1) or fd_write (tag 2)
;;                            subscription, userdata 42; exits with its
;;                            errno, or 100 + a code when the event is not
;;                            of type tag with nbytes 1 and flags 0
;;   renumber (from, to i32)  fd_renumber as given; exits with its errno
;;   random_fill (len i32)    random_get(0, len), then exits 1 if any byte
;;                            of it is nonzero, 0 if all are, or errno + 2
;;   random_loop (len i32) -> ()    grows memory to hold len bytes, then
;;                            random_get(0, len) forever
;;   hello () -> ()           writes "hello\n" to fd 1
;;   write_forever () -> ()   writes 4 KiB to fd 1 forever
;;
;; Memory layout for the checked calls: subscriptions at 1024 (48 bytes
;; each), events at 2048 (32 bytes each), nevents at 4000, clock time at
;; 4008, iovec at 4016, nwritten at 4024, "hello\n" at 4032.
(module $hostile_wasi
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_renumber" (func $fd_renumber (param i32 i32) (result i32)))

  (memory (export "memory") 1 65536)
  (data (i32.const 4032) "hello\n")

  (func (export "poll") (param i32 i32 i32 i32)
    (call $proc_exit (call $poll_oneoff (local.get 0) (local.get 1) (local.get 2) (local.get 3))))

  (func (export "random") (param i32 i32)
    (call $proc_exit (call $random_get (local.get 0) (local.get 1))))

  ;; $clock_sub writes subscription $i at 1024.
  (func $clock_sub (param $i i32) (param $userdata i64) (param $id i32) (param $timeout i64) (param $flags i32)
    (local $a i32)
    (local.set $a (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 48))))
    (i64.store (local.get $a) (local.get $userdata))
    (i32.store8 offset=8 (local.get $a) (i32.const 0))
    (i32.store offset=16 (local.get $a) (local.get $id))
    (i64.store offset=24 (local.get $a) (local.get $timeout))
    (i64.store offset=32 (local.get $a) (i64.const 0))
    (i32.store16 offset=40 (local.get $a) (local.get $flags)))

  ;; $check_event checks the poll's errno, then that exactly one event was
  ;; written at 2048 and that it is a successful clock event for $userdata
  ;; with nbytes and flags 0. Returns the errno, or 100 + which check failed.
  (func $check_event (param $errno i32) (param $userdata i64) (result i32)
    (if (local.get $errno) (then (return (local.get $errno))))
    (if (i32.ne (i32.load (i32.const 4000)) (i32.const 1)) (then (return (i32.const 101))))
    (if (i64.ne (i64.load (i32.const 2048)) (local.get $userdata)) (then (return (i32.const 102))))
    (if (i32.load16_u (i32.const 2056)) (then (return (i32.const 103))))
    (if (i32.load8_u (i32.const 2058)) (then (return (i32.const 104))))
    (if (i64.ne (i64.load (i32.const 2064)) (i64.const 0)) (then (return (i32.const 105))))
    (if (i32.load16_u (i32.const 2072)) (then (return (i32.const 106))))
    (i32.const 0))

  ;; $poll polls $n subscriptions at 1024, events at 2048 (poisoned first,
  ;; so a missing write shows) and nevents at 4000.
  (func $poll (param $n i32) (result i32)
    (memory.fill (i32.const 2048) (i32.const 0xAA) (i32.const 64))
    (i32.store (i32.const 4000) (i32.const -1))
    (call $poll_oneoff (i32.const 1024) (i32.const 2048) (local.get $n) (i32.const 4000)))

  (func (export "sleep_forever")
    (call $clock_sub (i32.const 0) (i64.const 1) (i32.const 1) (i64.const -1) (i32.const 0))
    (drop (call $poll (i32.const 1))))

  (func $poll_clock (param $id i32) (param $timeout i64) (param $flags i32) (param $userdata i64) (result i32)
    (call $clock_sub (i32.const 0) (local.get $userdata) (local.get $id) (local.get $timeout) (local.get $flags))
    (call $check_event (call $poll (i32.const 1)) (local.get $userdata)))

  (func $poll_abs (param $id i32) (param $delta i64) (result i32)
    (local $e i32)
    (local.set $e (call $clock_time_get (local.get $id) (i64.const 1) (i32.const 4008)))
    (if (local.get $e) (then (return (i32.add (i32.const 200) (local.get $e)))))
    (call $clock_sub (i32.const 0) (i64.const 77) (local.get $id)
      (i64.add (i64.load (i32.const 4008)) (local.get $delta)) (i32.const 1))
    (call $check_event (call $poll (i32.const 1)) (i64.const 77)))

  (func $poll_two (result i32)
    (call $clock_sub (i32.const 0) (i64.const 1) (i32.const 1) (i64.const 3600000000000) (i32.const 0))
    (call $clock_sub (i32.const 1) (i64.const 2) (i32.const 1) (i64.const 1000000) (i32.const 0))
    (call $check_event (call $poll (i32.const 2)) (i64.const 2)))

  (func $poll_fd (param $tag i32) (param $fd i32) (result i32)
    (local $e i32)
    (i64.store (i32.const 1024) (i64.const 42))
    (i32.store8 (i32.const 1032) (local.get $tag))
    (i32.store (i32.const 1040) (local.get $fd))
    (local.set $e (call $poll (i32.const 1)))
    (if (local.get $e) (then (return (local.get $e))))
    (if (i32.ne (i32.load (i32.const 4000)) (i32.const 1)) (then (return (i32.const 101))))
    (if (i64.ne (i64.load (i32.const 2048)) (i64.const 42)) (then (return (i32.const 102))))
    (if (i32.load16_u (i32.const 2056)) (then (return (i32.const 103))))
    (if (i32.ne (i32.load8_u (i32.const 2058)) (local.get $tag)) (then (return (i32.const 104))))
    (if (i64.ne (i64.load (i32.const 2064)) (i64.const 1)) (then (return (i32.const 105))))
    (if (i32.load16_u (i32.const 2072)) (then (return (i32.const 106))))
    (i32.const 0))

  (func $random_fill (param $len i32) (result i32)
    (local $e i32) (local $i i32)
    (local.set $e (call $random_get (i32.const 0) (local.get $len)))
    (if (local.get $e) (then (return (i32.add (local.get $e) (i32.const 2)))))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.load8_u (local.get $i)) (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  (func (export "random_loop") (param $len i32)
    (drop (memory.grow (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 1))))
    (loop $more
      (drop (call $random_get (i32.const 0) (local.get $len)))
      (br $more)))

  ;; The exported forms of the checked calls: their result is the exit code.
  (func (export "poll_clock") (param i32 i64 i32 i64)
    (call $proc_exit (call $poll_clock (local.get 0) (local.get 1) (local.get 2) (local.get 3))))
  (func (export "poll_abs") (param i32 i64)
    (call $proc_exit (call $poll_abs (local.get 0) (local.get 1))))
  (func (export "poll_two")
    (call $proc_exit (call $poll_two)))
  (func (export "poll_fd") (param i32 i32)
    (call $proc_exit (call $poll_fd (local.get 0) (local.get 1))))
  (func (export "renumber") (param i32 i32)
    (call $proc_exit (call $fd_renumber (local.get 0) (local.get 1))))
  (func (export "random_fill") (param i32)
    (call $proc_exit (call $random_fill (local.get 0))))

  (func $write (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 4016) (local.get $ptr))
    (i32.store (i32.const 4020) (local.get $len))
    (call $fd_write (i32.const 1) (i32.const 4016) (i32.const 1) (i32.const 4024)))

  (func (export "hello")
    (drop (call $write (i32.const 4032) (i32.const 6))))

  (func (export "write_forever")
    (loop $more
      (drop (call $write (i32.const 8192) (i32.const 4096)))
      (br $more))))
