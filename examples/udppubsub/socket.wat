;; socket: a UDP socket as a process, the guest of examples/udppubsub. Its
;; one entry, serve (port i32), binds a UDP socket on 127.0.0.1:port
;; (ward_net.udp_bind, under its environment's listen lists) and forwards
;; each datagram it receives, as one message under tag 1 whose data is the
;; datagram, to each of its subscribers, in the order they subscribed.
;; Each subscriber thus gets the datagrams in the order the socket did.
;;
;; Requests (any tag >= 0; the reply goes to the sender under the
;; request's tag, so send_receive and runtime's Request fit):
;;   "subscribe"    the sender is a subscriber from now on; reply: status
;;                  (u32 LE) 0, or 1 (ErrLimit) past 64 subscribers.
;;                  Subscribing twice is subscribing once.
;;   "unsubscribe"  the sender is no longer one; reply: status 0, or 3
;;                  (ErrNotFound) when it was not.
;;   "stats"        reply: the socket's port, the subscribers and the
;;                  datagrams received so far (u32 LE each).
;; Anything else: reply status 4 (ErrInvalid).
;;
;; The socket monitors every subscriber, so one that ends is dropped when
;; its DOWN message (tag -2) arrives, and it sends to no dead process for
;; long. A send to a subscriber whose mailbox is full drops that datagram
;; for that subscriber alone: UDP does not promise delivery either.
;;
;; A process makes one call at a time: while it waits in udp_recv_from it
;; cannot take a request. So it waits at most 10 ms for a datagram, then
;; takes what its mailbox holds without waiting, and again. A bind that
;; fails ends the process with exit code 10 + its status; so does a
;; receive that fails other than by timing out.
;;
;; Memory: 0 the socket's handle; 8 the udp_recv_from record (24 bytes);
;; 64 a request's data (16 bytes); 96 a reply (12 bytes); 128.. strings;
;; 1024.. the subscribers, 64 of (pid i64, monitor ref i64); 65536.. the
;; datagram (64 KiB).
(module $socket
  (import "ward_net" "udp_bind" (func $bind (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "udp_recv_from" (func $recv_from (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "local_port" (func $local_port (param i32 i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "monitor" (func $monitor (param i64) (result i64)))
  (import "ward_process" "demonitor" (func $demonitor (param i64)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "data_size" (func $data_size (result i64)))
  (import "ward_message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $get_tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create_data (param i64)))
  (import "ward_message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 2)
  (global $FROM i32 (i32.const 8))
  (global $REQ i32 (i32.const 64))
  (global $REPLY i32 (i32.const 96))
  (global $SUBS i32 (i32.const 1024))
  (global $MAX_SUBS i32 (i32.const 64))
  (global $BUF i32 (i32.const 65536))
  (global $nsubs (mut i32) (i32.const 0))
  (global $datagrams (mut i32) (i32.const 0))
  (data (i32.const 128) "127.0.0.1")    ;; 9
  (data (i32.const 144) "subscribe")    ;; 9
  (data (i32.const 160) "unsubscribe")  ;; 11
  (data (i32.const 176) "stats")        ;; 5

  ;; is: whether the request (n bytes at $REQ) is the len bytes at s
  (func $is (param $n i32) (param $s i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $n) (local.get $len)) (then (return (i32.const 0))))
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.ne (i32.load8_u (i32.add (global.get $REQ) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $s) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (i32.const 1))

  ;; find: the address of pid's (pid, ref) entry, or 0
  (func $find (param $pid i64) (result i32)
    (local $at i32) (local $end i32)
    (local.set $at (global.get $SUBS))
    (local.set $end (i32.add (global.get $SUBS) (i32.shl (global.get $nsubs) (i32.const 4))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (if (i64.eq (i64.load (local.get $at)) (local.get $pid)) (then (return (local.get $at))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $next)))
    (i32.const 0))

  ;; drop: remove the entry at at, keeping the others in their order
  (func $drop (param $at i32)
    (local $end i32)
    (local.set $end (i32.add (global.get $SUBS) (i32.shl (global.get $nsubs) (i32.const 4))))
    (memory.copy (local.get $at) (i32.add (local.get $at) (i32.const 16))
      (i32.sub (local.get $end) (i32.add (local.get $at) (i32.const 16))))
    (global.set $nsubs (i32.sub (global.get $nsubs) (i32.const 1))))

  ;; reply: send the n bytes at $REPLY to the current message's sender
  ;; under its tag
  (func $reply (param $n i32)
    (call $create_data (call $get_tag))
    (drop (call $write_data (global.get $REPLY) (local.get $n)))
    (drop (call $send (call $sender))))

  ;; request: serve the current message
  (func $request
    (local $n i64) (local $at i32) (local $pid i64)
    (local.set $n (call $data_size))
    (local.set $pid (call $sender))
    ;; a subscriber that ended: tag -2, data its monitor ref and pid
    (if (i64.eq (call $get_tag) (i64.const -2)) (then
      (drop (call $read_data (global.get $REQ) (i32.const 16)))
      (local.set $at (call $find (i64.load offset=8 (global.get $REQ))))
      (if (local.get $at) (then (call $drop (local.get $at))))
      (return)))
    (if (i64.lt_s (call $get_tag) (i64.const 0)) (then (return)))  ;; no other signal is expected
    (if (i64.gt_u (local.get $n) (i64.const 16)) (then (local.set $n (i64.const 0))))
    (drop (call $read_data (global.get $REQ) (i32.wrap_i64 (local.get $n))))
    (i32.store (global.get $REPLY) (i32.const 0))
    (if (call $is (i32.wrap_i64 (local.get $n)) (i32.const 144) (i32.const 9)) (then
      (if (i32.eqz (call $find (local.get $pid))) (then
        (if (i32.ge_u (global.get $nsubs) (global.get $MAX_SUBS))
          (then (i32.store (global.get $REPLY) (i32.const 1)))
          (else
            (local.set $at (i32.add (global.get $SUBS) (i32.shl (global.get $nsubs) (i32.const 4))))
            (i64.store (local.get $at) (local.get $pid))
            (i64.store offset=8 (local.get $at) (call $monitor (local.get $pid)))
            (global.set $nsubs (i32.add (global.get $nsubs) (i32.const 1)))))))
      (call $reply (i32.const 4))
      (return)))
    (if (call $is (i32.wrap_i64 (local.get $n)) (i32.const 160) (i32.const 11)) (then
      (local.set $at (call $find (local.get $pid)))
      (if (local.get $at)
        (then
          (call $demonitor (i64.load offset=8 (local.get $at)))
          (call $drop (local.get $at)))
        (else (i32.store (global.get $REPLY) (i32.const 3))))
      (call $reply (i32.const 4))
      (return)))
    (if (call $is (i32.wrap_i64 (local.get $n)) (i32.const 176) (i32.const 5)) (then
      (drop (call $local_port (i32.load (i32.const 0)) (global.get $REPLY)))
      (i32.store offset=4 (global.get $REPLY) (global.get $nsubs))
      (i32.store offset=8 (global.get $REPLY) (global.get $datagrams))
      (call $reply (i32.const 12))
      (return)))
    (i32.store (global.get $REPLY) (i32.const 4))
    (call $reply (i32.const 4)))

  ;; forward: send the n bytes of the datagram to every subscriber
  (func $forward (param $n i32)
    (local $at i32) (local $end i32)
    (local.set $at (global.get $SUBS))
    (local.set $end (i32.add (global.get $SUBS) (i32.shl (global.get $nsubs) (i32.const 4))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (call $create_data (i64.const 1))
      (drop (call $write_data (global.get $BUF) (local.get $n)))
      (drop (call $send (i64.load (local.get $at))))  ;; gone or full: this one misses it
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $next))))

  (func (export "serve") (param $port i32)
    (local $st i32)
    (local.set $st (call $bind (i32.const 128) (i32.const 9) (local.get $port) (i32.const 0)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 10) (local.get $st)))))
    (loop $next
      (local.set $st (call $recv_from (i32.load (i32.const 0)) (global.get $BUF) (i32.const 65536)
        (i32.const 10) (global.get $FROM)))
      (if (i32.eqz (local.get $st))
        (then
          (global.set $datagrams (i32.add (global.get $datagrams) (i32.const 1)))
          (call $forward (i32.load offset=20 (global.get $FROM))))
        (else (if (i32.ne (local.get $st) (i32.const 6))  ;; not ErrTimeout
          (then (call $exit (i32.add (i32.const 10) (local.get $st)))))))
      ;; everything the mailbox holds now, without waiting
      (block $empty (loop $msg
        (br_if $empty (call $receive (i32.const 0) (i32.const 0) (i64.const 0)))
        (call $request)
        (br $msg)))
      (br $next))))
