;; hostile_accounting: a guest that tries, all at once, every route by which
;; a process can make the host hold memory, each until the environment
;; refuses it, then parks holding what it got and reports which refusals it
;; saw. runtime/accounting_test.go measures the host's RSS against the
;; bound docs/limits.md gives for the environment's Config.
;;   leader (collector i64) -> ()
;;       spawns "sink", then two "bomb"s (one per hostile WASI call; each
;;       must end in a trap), then "hog"s until spawn is refused, then runs
;;       the hog routine itself with index 0
;;   hog (collector, sink, leader, index i64) -> ()
;;       the hog routine: see $run
;;   sink () -> ()    waits forever for a tag nobody sends, so everything
;;                    sent to it stays queued
;;   bomb (kind i64) -> ()   waits for any message, then calls poll_oneoff
;;                    with 2^32-1 subscriptions (kind 0) or random_get with
;;                    a length of 2^32-1 (kind 1); either must trap
;;
;; A hog reports one message to collector, tag 1, data: the refusal bits
;; (u32 LE, below) and the number of hogs the leader spawned (u32 LE, 0
;; from the others), then parks.
;;   bit 0  spawn refused (ErrLimit)          bit 8  timer count refused
;;   bit 1  memory.grow refused               bit 9  send to self refused
;;   bit 2  table 0 grow refused              bit 10 send to sink refused
;;   bit 3  table 1 grow refused              bit 11 random_get of all memory ran
;;   bit 4  a link refused (ErrLimit)         bit 12 poll_oneoff bomb trapped
;;   bit 5  monitor of a dead pid refused     bit 13 outgoing message refused
;;   bit 6  monitor count refused             bit 14 register refused (ErrLimit)
;;   bit 7  timer bytes refused               bit 15 random_get bomb trapped
;;
;; Memory layout: 0 spawn params (4 records of 16 bytes), 64 spawned id,
;; 80 the tag nobody sends, 96 name "nX", 104 version "1.0.D", 128 report,
;; 256 a DOWN message, 512 entry names. Messages are sent from [0, 1 MiB),
;; valid once memory has grown.
(module $hostile_accounting
  (import "ward_process" "self" (func $self (result i64)))
  (import "ward_process" "spawn"
    (func $spawn (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_process" "link" (func $link (param i64) (result i32)))
  (import "ward_process" "trap_exit" (func $trap_exit (param i32)))
  (import "ward_process" "monitor" (func $monitor (param i64) (result i64)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_after" (func $send_after (param i64 i64) (result i64)))
  (import "ward_registry" "register" (func $register (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1 65536)
  ;; No maximum: the limit must come from ward, not the module.
  (table $t0 1 funcref)
  (table $t1 1 funcref)
  (elem declare func $nop)
  (func $nop)

  (data (i32.const 80) "\39\30\00\00\00\00\00\00") ;; tag 12345
  (data (i32.const 96) "n")
  (data (i32.const 104) "1.0.0")
  (data (i32.const 512) "sink")
  (data (i32.const 520) "bomb")
  (data (i32.const 528) "hog")

  ;; $param writes spawn param record $i: type i64, value $v.
  (func $param (param $i i32) (param $v i64)
    (i32.store (i32.mul (local.get $i) (i32.const 16)) (i32.const 1))
    (i64.store offset=8 (i32.mul (local.get $i) (i32.const 16)) (local.get $v)))

  (func $park
    (loop $forever
      (drop (call $receive (i32.const 80) (i32.const 1) (i64.const -1)))
      (br $forever)))

  (func (export "sink") (call $park))

  (func (export "bomb") (param $kind i64)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (if (i64.eqz (local.get $kind))
      (then (drop (call $poll_oneoff (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 0))))
      (else (drop (call $random_get (i32.const 0) (i32.const -1)))))
    unreachable)

  ;; $bomb spawns a bomb of $kind, monitors it, sets it off and returns
  ;; $bit if its DOWN says it trapped (reason kind 2), else 0.
  (func $bomb (param $kind i64) (param $bit i32) (result i32)
    (local $pid i64)
    (call $param (i32.const 0) (local.get $kind))
    (if (call $spawn (i32.const 520) (i32.const 4) (i32.const 0) (i32.const 1) (i32.const 64))
      (then (return (i32.const 0))))
    (local.set $pid (i64.load (i32.const 64)))
    (drop (call $monitor (local.get $pid)))
    (call $create_data (i64.const 7))
    (drop (call $send (local.get $pid)))
    (i64.store (i32.const 256) (i64.const -2)) ;; TagDown
    (if (call $receive (i32.const 256) (i32.const 1) (i64.const -1))
      (then (return (i32.const 0))))
    (drop (call $read_data (i32.const 256) (i32.const 20)))
    (if (result i32) (i32.eq (i32.load (i32.const 272)) (i32.const 2))
      (then (local.get $bit))
      (else (i32.const 0))))

  (func (export "leader") (param $collector i64)
    (local $me i64) (local $sink i64) (local $mask i32) (local $n i32) (local $st i32)
    (local.set $me (call $self))
    (if (call $spawn (i32.const 512) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 64))
      (then unreachable))
    (local.set $sink (i64.load (i32.const 64)))
    (local.set $mask (i32.or
      (call $bomb (i64.const 0) (i32.const 0x1000))
      (call $bomb (i64.const 1) (i32.const 0x8000))))
    (block $done
      (loop $more
        (call $param (i32.const 0) (local.get $collector))
        (call $param (i32.const 1) (local.get $sink))
        (call $param (i32.const 2) (local.get $me))
        (call $param (i32.const 3) (i64.extend_i32_u (i32.add (local.get $n) (i32.const 1))))
        (local.set $st (call $spawn (i32.const 528) (i32.const 3) (i32.const 0) (i32.const 4) (i32.const 64)))
        (br_if $done (local.get $st))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $more)))
    (if (i32.eq (local.get $st) (i32.const 1))
      (then (local.set $mask (i32.or (local.get $mask) (i32.const 1)))))
    (call $run (local.get $collector) (local.get $sink) (local.get $me) (i64.const 0)
      (local.get $mask) (local.get $n)))

  (func (export "hog") (param $collector i64) (param $sink i64) (param $leader i64) (param $index i64)
    (call $run (local.get $collector) (local.get $sink) (local.get $leader) (local.get $index)
      (i32.const 0) (i32.const 0)))

  ;; $sends fills the outgoing message with $size bytes (tag 6) and sends
  ;; it to $to until send fails (at most 100000 times); returns $bit if it
  ;; failed with ErrLimit.
  (func $flood (param $to i64) (param $size i32) (param $bit i32) (result i32)
    (local $st i32) (local $i i32)
    (loop $more
      (call $create_data (i64.const 6))
      (drop (call $write_data (i32.const 0) (local.get $size)))
      (local.set $st (call $send (local.get $to)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.and (i32.eqz (local.get $st)) (i32.lt_u (local.get $i) (i32.const 100000)))))
    (if (result i32) (i32.eq (local.get $st) (i32.const 1))
      (then (local.get $bit)) (else (i32.const 0))))

  ;; $timers sets timers of $size bytes to $to, an hour off, until one is
  ;; refused; returns $bit if it was refused with -ErrLimit.
  (func $timers (param $to i64) (param $size i32) (param $bit i32) (result i32)
    (local $r i64) (local $i i32)
    (loop $more
      (call $create_data (i64.const 5))
      (if (local.get $size)
        (then (drop (call $write_data (i32.const 0) (local.get $size)))))
      (local.set $r (call $send_after (local.get $to) (i64.const 3600000)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.and (i64.gt_s (local.get $r) (i64.const 0)) (i32.lt_u (local.get $i) (i32.const 100000)))))
    (if (result i32) (i64.eq (local.get $r) (i64.const -1))
      (then (local.get $bit)) (else (i32.const 0))))

  ;; $monitors monitors $pid until refused; returns $bit if it was
  ;; refused with -ErrLimit.
  (func $monitors (param $pid i64) (param $bit i32) (result i32)
    (local $r i64) (local $i i32)
    (loop $more
      (local.set $r (call $monitor (local.get $pid)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.and (i64.gt_s (local.get $r) (i64.const 0)) (i32.lt_u (local.get $i) (i32.const 1000000)))))
    (if (result i32) (i64.eq (local.get $r) (i64.const -1))
      (then (local.get $bit)) (else (i32.const 0))))

  (func $run (param $collector i64) (param $sink i64) (param $leader i64) (param $index i64)
             (param $mask i32) (param $n i32)
    (local $a i32) (local $end i32) (local $st i32) (local $i i32)
    ;; Exits of linked processes arrive as messages (past the mailbox
    ;; limits, one per link) instead of ending this one.
    (call $trap_exit (i32.const 1))

    ;; Linear memory: grow to the limit and touch every page.
    (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (local.set $mask (i32.or (local.get $mask) (i32.const 2)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (local.set $a (i32.const 4096))
    (loop $touch
      (i32.store8 (local.get $a) (i32.const 1))
      (local.set $a (i32.add (local.get $a) (i32.const 4096)))
      (br_if $touch (i32.lt_u (local.get $a) (local.get $end))))

    ;; Tables: grow both to the limit with non-null entries, which are
    ;; written (a null one may stay an untouched zero page).
    (loop $g0 (br_if $g0 (i32.ne (table.grow $t0 (ref.func $nop) (i32.const 4096)) (i32.const -1))))
    (loop $g1 (br_if $g1 (i32.ne (table.grow $t1 (ref.func $nop) (i32.const 4096)) (i32.const -1))))
    (local.set $mask (i32.or (local.get $mask) (i32.const 0xc)))

    ;; random_get of all of memory: legal, and must hold nothing sized by it.
    (if (i32.eqz (call $random_get (i32.const 1024) (i32.sub (local.get $end) (i32.const 1024))))
      (then (local.set $mask (i32.or (local.get $mask) (i32.const 0x800)))))

    ;; Links, to the sink and the leader: they take the most, and refuse.
    (if (i32.eq (call $link (local.get $sink)) (i32.const 1))
      (then (local.set $mask (i32.or (local.get $mask) (i32.const 0x10)))))
    (if (i64.ne (local.get $index) (i64.const 0))
      (then
        (if (i32.eq (call $link (local.get $leader)) (i32.const 1))
          (then (local.set $mask (i32.or (local.get $mask) (i32.const 0x10)))))))

    ;; Monitors of a pid that never lived: each DOWN arrives at once, until
    ;; the mailbox is full. Then take them all out again.
    (local.set $mask (i32.or (local.get $mask)
      (call $monitors (i64.const 0x7fffffffffff) (i32.const 0x20))))
    (loop $drain
      (br_if $drain (i32.eqz (call $receive (i32.const 0) (i32.const 0) (i64.const 0)))))
    ;; Monitors of the sink, which stack, until the count limit.
    (local.set $mask (i32.or (local.get $mask) (call $monitors (local.get $sink) (i32.const 0x40))))

    ;; Timers to the sink, an hour off: big ones until the bytes limit,
    ;; then empty ones until the count limit.
    (local.set $mask (i32.or (local.get $mask) (call $timers (local.get $sink) (i32.const 0x20000) (i32.const 0x80))))
    (local.set $mask (i32.or (local.get $mask) (call $timers (local.get $sink) (i32.const 0) (i32.const 0x100))))

    ;; Registry: names "n<index>" at versions 1.0.0 to 1.0.9.
    (i32.store8 (i32.const 97) (i32.add (i32.const 97) (i32.wrap_i64 (local.get $index))))
    (block $named
      (loop $more
        (i32.store8 (i32.const 108) (i32.add (i32.const 48) (local.get $i)))
        (local.set $st (call $register (i32.const 96) (i32.const 2) (i32.const 104) (i32.const 5)))
        (br_if $named (local.get $st))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 10)))))
    (if (i32.eq (local.get $st) (i32.const 1))
      (then (local.set $mask (i32.or (local.get $mask) (i32.const 0x4000)))))

    ;; Mailboxes: 256 KiB messages to itself and to the sink until full.
    (local.set $mask (i32.or (local.get $mask) (call $flood (call $self) (i32.const 0x40000) (i32.const 0x200))))
    (local.set $mask (i32.or (local.get $mask) (call $flood (local.get $sink) (i32.const 0x40000) (i32.const 0x400))))

    ;; The outgoing message: 1 MiB at a time until write_data refuses.
    (call $create_data (i64.const 8))
    (local.set $i (i32.const 0))
    (loop $more
      (local.set $st (call $write_data (i32.const 0) (i32.const 0x100000)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.and (i32.eqz (local.get $st)) (i32.lt_u (local.get $i) (i32.const 4096)))))
    (if (i32.eq (local.get $st) (i32.const 1))
      (then (local.set $mask (i32.or (local.get $mask) (i32.const 0x2000)))))

    ;; Report (a new outgoing message keeps the buffer the last one grew),
    ;; then park holding everything.
    (i32.store (i32.const 128) (local.get $mask))
    (i32.store (i32.const 132) (local.get $n))
    (call $create_data (i64.const 1))
    (drop (call $write_data (i32.const 128) (i32.const 8)))
    (drop (call $send (local.get $collector)))
    (call $park))
)
