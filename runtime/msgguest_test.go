package runtime

// fastCallsWAT defines $send_fast and $receive_fast, a send and a receive
// made as the guest SDKs make them: the plain call (try_send, try_receive)
// first, the full call when it says ErrAgain (8). The module must import
// $try_send, $try_receive, $send and $receive.
const fastCallsWAT = `
  ;; send_fast and receive_fast: the plain call first, the full call when
  ;; it says ErrAgain (8), as the guest SDKs do
  (func $send_fast (param $pid i64) (result i32)
    (local $st i32)
    (local.set $st (call $try_send (local.get $pid)))
    (if (result i32) (i32.eq (local.get $st) (i32.const 8))
      (then (call $send (local.get $pid)))
      (else (local.get $st))))
  (func $receive_fast (param $ptr i32) (param $n i32) (param $timeout i64) (result i32)
    (local $st i32)
    (local.set $st (call $try_receive (local.get $ptr) (local.get $n)))
    (if (result i32) (i32.eq (local.get $st) (i32.const 8))
      (then (call $receive (local.get $ptr) (local.get $n) (local.get $timeout)))
      (else (local.get $st))))`

// messagesWAT is the guest the messaging tests drive: an echo server, a
// pinger, receivers with tags and timeouts, a mailbox flooder, linked and
// exit-trapping processes, a monitorer, timers, and guests that misuse the
// message functions.
//
// Memory: 0 tags (8 x i64); 128 id out; 256 "crash"; 1024.. data buffer.
const messagesWAT = `(module $messages
  (import "ward_process" "self" (func $self (result i64)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_process" "link" (func $link (param i64) (result i32)))
  (import "ward_process" "trap_exit" (func $trap_exit (param i32)))
  (import "ward_process" "monitor" (func $monitor (param i64) (result i64)))
  (import "ward_process" "kill" (func $kill (param i64) (result i32)))
  (import "ward_process" "exists" (func $exists (param i64) (result i32)))
  (import "ward_process" "spawn_link" (func $spawn_link (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "data_size" (func $size (result i64)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (import "ward_message" "send_after" (func $send_after (param i64 i64) (result i64)))
  (import "ward_message" "cancel_timer" (func $cancel_timer (param i64) (result i32)))
  (import "ward_message" "try_send" (func $try_send (param i64) (result i32)))
  (import "ward_message" "try_receive" (func $try_receive (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 256) "crash")
  (global $buf i32 (i32.const 1024))

  ;; forward: send the current message's data to pid under tag
  (func $forward (param $pid i64) (param $tag i64) (result i32)
    (local $n i32)
    (local.set $n (call $read (global.get $buf) (i32.const 65536)))
    (call $create (local.get $tag))
    (drop (call $write (global.get $buf) (local.get $n)))
    (call $send (local.get $pid)))

  ;; report: send [current tag as i64][current data] to pid under tag 7
  (func $report (param $pid i64)
    (local $n i32)
    (call $create (i64.const 7))
    (i64.store (global.get $buf) (call $tag))
    (drop (call $write (global.get $buf) (i32.const 8)))
    (local.set $n (call $read (global.get $buf) (i32.const 65536)))
    (drop (call $write (global.get $buf) (local.get $n)))
    (drop (call $send (local.get $pid))))

` + fastCallsWAT + `

  (func $wait_forever
    (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l)))

  ;; echo: answer every message to its sender, same tag, same data
  (func $echo (export "echo")
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (drop (call $forward (call $sender) (call $tag)))
      (br $l)))

  ;; ping: n round trips with peer (tag 1, 8 bytes); exit 1 on a failure
  (func $ping (export "ping") (param $peer i64) (param $n i64)
    (i64.store (i32.const 0) (i64.const 1))
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get $n)))
      (call $create (i64.const 1))
      (i64.store (global.get $buf) (local.get $n))
      (drop (call $write (global.get $buf) (i32.const 8)))
      (if (call $send_receive (local.get $peer) (i32.const 0) (i32.const 1) (i64.const -1))
        (then (call $exit (i32.const 1))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l))))

  ;; blast: send n messages (tag 2, 8 bytes: the sequence number) to pid,
  ;; the plain call first
  (func $blast (export "blast") (param $pid i64) (param $n i64)
    (local $i i64)
    (block $done (loop $l
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $create (i64.const 2))
      (i64.store (global.get $buf) (local.get $i))
      (drop (call $write (global.get $buf) (i32.const 8)))
      (if (call $send_fast (local.get $pid)) (then (call $exit (i32.const 1))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l))))

  ;; sink: receive n messages of any tag, the plain call first, then
  ;; report the last to pid
  (func $sink (export "sink") (param $pid i64) (param $n i64)
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get $n)))
      (drop (call $receive_fast (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (call $report (local.get $pid)))

  ;; recv_one: wait for a message tagged tag; echo it to its sender; on a
  ;; failed receive exit with 100 + status
  (func $recv_one (export "recv_one") (param $tag i64) (param $timeout i64)
    (local $st i32)
    (i64.store (i32.const 0) (local.get $tag))
    (local.set $st (call $receive (i32.const 0) (i32.const 1) (local.get $timeout)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 100) (local.get $st)))))
    (drop (call $forward (call $sender) (call $tag))))

  ;; flood: send to pid until refused, then exit with the status
  (func $flood (export "flood") (param $pid i64)
    (local $st i32)
    (loop $l
      (call $create (i64.const 3))
      (drop (call $write (global.get $buf) (i32.const 1)))
      (local.set $st (call $send (local.get $pid)))
      (br_if $l (i32.eqz (local.get $st))))
    (call $exit (local.get $st)))

  (func $idle (export "idle") (loop $l (call $sleep (i64.const 1000000)) (br $l)))

  (func $crash (export "crash") unreachable)

  ;; linked: link to pid, then wait forever
  (func $linked (export "linked") (param $pid i64)
    (if (call $link (local.get $pid)) (then (call $exit (i32.const 3))))
    (call $wait_forever))

  ;; trapper: trap exits, link to pid, report the first message to observer
  (func $trapper (export "trapper") (param $pid i64) (param $observer i64)
    (call $trap_exit (i32.const 1))
    (if (call $link (local.get $pid)) (then (call $exit (i32.const 3))))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $report (local.get $observer)))

  ;; monitorer: monitor pid twice, report both messages to observer
  (func $monitorer (export "monitorer") (param $pid i64) (param $observer i64)
    (drop (call $monitor (local.get $pid)))
    (drop (call $monitor (local.get $pid)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $report (local.get $observer))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $report (local.get $observer)))

  ;; spawn_link_crash: spawn-link a child that traps at once, then wait
  (func $spawn_link_crash (export "spawn_link_crash")
    (if (call $spawn_link (i32.const 256) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 128))
      (then (call $exit (i32.const 3))))
    (call $wait_forever))

  ;; after_self: a message to itself after delay ms, then exit 0
  (func $after_self (export "after_self") (param $delay i64)
    (call $create (i64.const 5))
    (drop (call $send_after (call $self) (local.get $delay)))
    (i64.store (i32.const 0) (i64.const 5))
    (call $exit (call $receive (i32.const 0) (i32.const 1) (i64.const -1))))

  ;; cancel_after: cancel a timer, then exit with a 100 ms receive's status
  (func $cancel_after (export "cancel_after")
    (local $t i64) (local $st i32)
    (call $create (i64.const 5))
    (local.set $t (call $send_after (call $self) (i64.const 30)))
    (local.set $st (call $cancel_timer (local.get $t)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 50) (local.get $st)))))
    (i64.store (i32.const 0) (i64.const 5))
    (call $exit (call $receive (i32.const 0) (i32.const 1) (i64.const 100))))

  (func $bad_read (export "bad_read") (drop (call $read (i32.const 0x7ffffff0) (i32.const 16))))
  (func $bad_write (export "bad_write")
    (call $create (i64.const 1))
    (drop (call $write (i32.const 0x7ffffff0) (i32.const 32))))
  (func $bad_tags (export "bad_tags") (drop (call $receive (i32.const 0x7ffffff0) (i32.const 4) (i64.const 0))))
  (func $negative_tag (export "negative_tag") (param $pid i64)
    (call $create (i64.const -5))
    (call $exit (call $send (local.get $pid))))

  (func $cancel_id (export "cancel_id") (param $t i64) (call $exit (call $cancel_timer (local.get $t))))
  (func $kill_pid (export "kill_pid") (param $pid i64) (call $exit (call $kill (local.get $pid))))
  (func $exists_pid (export "exists_pid") (param $pid i64) (call $exit (call $exists (local.get $pid))))
)`
