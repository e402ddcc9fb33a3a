;; httpd: an HTTP/1.1 server on ward_net's TCP, the guest of
;; examples/httpserver. Its one entry, serve (port i32), listens on
;; 127.0.0.1:port and serves one connection at a time: a process makes one
;; host call at a time, so while it waits on one connection it cannot
;; accept another (Go's net/http would serve each in a goroutine; here a
;; connection is served until it ends). A connection idle for 5 s is
;; closed, so a client that keeps one open blocks the others for that
;; long at most.
;;
;; What it serves:
;;   GET or HEAD of any target: 200, text/plain, "hello <target>" (HEAD:
;;     the headers alone)
;;   any other method: 405, with Allow: GET, HEAD
;;   a request line or header that does not parse, a head over 8 KiB: 400,
;;     and the connection is closed
;;   Transfer-Encoding (a chunked body): 501, and the connection is closed
;; A Content-Length body is read and dropped. Connections stay open between
;; requests (keep-alive, pipelining included) unless the request is
;; HTTP/1.0 or says Connection: close; then the response says it too.
;; A listen that fails ends the process with exit code 10 + its status;
;; so does an accept that fails other than by the handle bound.
;;
;; Memory: 0 the listener; 4 the connection; 8 n; 16.. strings (to 1024);
;; 4096.. the request head (8 KiB); 16384.. the response (16 KiB);
;; 32768.. a dropped body (16 KiB).
(module $httpd
  (import "ward_net" "tcp_listen" (func $listen (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "ward_net" "read" (func $read (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "write" (func $write (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "close" (func $close (param i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $BUF i32 (i32.const 4096))
  (global $BUF_CAP i32 (i32.const 8192))
  (global $OUT i32 (i32.const 16384))
  (global $SCRATCH i32 (i32.const 32768))
  (global $SCRATCH_CAP i32 (i32.const 16384))
  (global $TIMEOUT i32 (i32.const 5000))
  (data (i32.const 16) "127.0.0.1")                                 ;; 9
  (data (i32.const 32) "HTTP/1.1 200 OK\0d\0a")                     ;; 17
  (data (i32.const 64) "HTTP/1.1 400 Bad Request\0d\0a")            ;; 26
  (data (i32.const 96) "HTTP/1.1 405 Method Not Allowed\0d\0a")     ;; 33
  (data (i32.const 144) "HTTP/1.1 501 Not Implemented\0d\0a")       ;; 30
  (data (i32.const 176) "Content-Type: text/plain\0d\0aContent-Length: ") ;; 42
  (data (i32.const 224) "Connection: close\0d\0a")                  ;; 19
  (data (i32.const 256) "Allow: GET, HEAD\0d\0a")                   ;; 18
  (data (i32.const 288) "hello ")                                   ;; 6
  (data (i32.const 304) "bad request\0a")                           ;; 12
  (data (i32.const 320) "method not allowed\0a")                    ;; 19
  (data (i32.const 352) "not implemented\0a")                       ;; 16
  (data (i32.const 400) "connection")                               ;; 10
  (data (i32.const 416) "content-length")                           ;; 14
  (data (i32.const 432) "transfer-encoding")                        ;; 17
  (data (i32.const 464) "close")                                    ;; 5
  ;; methods in lower case for $ieq: the request line's method is upper
  ;; case only, so only "GET" and "HEAD" match
  (data (i32.const 480) "get")                                      ;; 3
  (data (i32.const 496) "head")                                     ;; 4

  ;; append: copy len bytes from src to at; returns the end
  (func $append (param $at i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $at) (local.get $src) (local.get $len))
    (i32.add (local.get $at) (local.get $len)))

  ;; decimal: write v in decimal at at; returns the end
  (func $decimal (param $at i32) (param $v i32) (result i32)
    (local $end i32) (local $t i32)
    (local.set $end (local.get $at))
    (local.set $t (local.get $v))
    (loop $count
      (local.set $end (i32.add (local.get $end) (i32.const 1)))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $count (local.get $t)))
    (local.set $at (local.get $end))
    (local.set $t (local.get $v))
    (loop $digit
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.rem_u (local.get $t) (i32.const 10))))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $digit (local.get $t)))
    (local.get $end))

  ;; ieq: whether the len bytes at p are the lower-case ASCII s (slen
  ;; bytes), ignoring case
  (func $ieq (param $p i32) (param $len i32) (param $s i32) (param $slen i32) (result i32)
    (local $i i32) (local $b i32)
    (if (i32.ne (local.get $len) (local.get $slen)) (then (return (i32.const 0))))
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (if (i32.lt_u (i32.sub (local.get $b) (i32.const 65)) (i32.const 26))
        (then (local.set $b (i32.or (local.get $b) (i32.const 32)))))
      (if (i32.ne (local.get $b) (i32.load8_u (i32.add (local.get $s) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (i32.const 1))

  ;; space: whether b is a space or a tab
  (func $space (param $b i32) (result i32)
    (i32.or (i32.eq (local.get $b) (i32.const 32)) (i32.eq (local.get $b) (i32.const 9))))

  ;; respond: write a response to c: the status line (status_len bytes at
  ;; status), the headers, extra header lines, Connection: close when
  ;; close, and the body unless head_only. Returns whether it was written.
  (func $respond (param $c i32) (param $status i32) (param $status_len i32)
      (param $extra i32) (param $extra_len i32)
      (param $body i32) (param $body_len i32) (param $body2 i32) (param $body2_len i32)
      (param $close i32) (param $head_only i32) (result i32)
    (local $end i32)
    (local.set $end (call $append (global.get $OUT) (local.get $status) (local.get $status_len)))
    (local.set $end (call $append (local.get $end) (i32.const 176) (i32.const 42)))
    (local.set $end (call $decimal (local.get $end) (i32.add (local.get $body_len) (local.get $body2_len))))
    (i32.store16 (local.get $end) (i32.const 0x0a0d))  ;; "\r\n"
    (local.set $end (i32.add (local.get $end) (i32.const 2)))
    (local.set $end (call $append (local.get $end) (local.get $extra) (local.get $extra_len)))
    (if (local.get $close) (then
      (local.set $end (call $append (local.get $end) (i32.const 224) (i32.const 19)))))
    (i32.store16 (local.get $end) (i32.const 0x0a0d))
    (local.set $end (i32.add (local.get $end) (i32.const 2)))
    (if (i32.eqz (local.get $head_only)) (then
      (local.set $end (call $append (local.get $end) (local.get $body) (local.get $body_len)))
      (local.set $end (call $append (local.get $end) (local.get $body2) (local.get $body2_len)))))
    (i32.eqz (call $write (local.get $c) (global.get $OUT) (i32.sub (local.get $end) (global.get $OUT))
      (global.get $TIMEOUT) (i32.const 8))))

  ;; bad: answer 400 and have the connection closed
  (func $bad (param $c i32)
    (drop (call $respond (local.get $c) (i32.const 64) (i32.const 26) (i32.const 0) (i32.const 0)
      (i32.const 304) (i32.const 12) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))))

  ;; conn: serve requests on c until it ends, fails or must close
  (func $conn (param $c i32)
    (local $len i32)     ;; bytes in the buffer
    (local $h i32)       ;; the head's length, its blank line included; 0 until found
    (local $i i32) (local $p i32) (local $b i32) (local $st i32)
    (local $mlen i32) (local $target i32) (local $tlen i32)
    (local $close i32) (local $te i32) (local $cl i32) (local $have i32)
    (local $ls i32) (local $le i32) (local $colon i32) (local $vs i32) (local $ve i32)
    (local $get i32) (local $head i32)
    (loop $request
      ;; the head: read until the buffer holds "\r\n\r\n"
      (local.set $h (i32.const 0))
      (local.set $i (i32.const 0))
      (block $found (loop $scan
        (block $more
          (loop $look
            (br_if $more (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $len)))
            (if (i32.eq (i32.load (i32.add (global.get $BUF) (local.get $i))) (i32.const 0x0a0d0a0d))
              (then
                (local.set $h (i32.add (local.get $i) (i32.const 4)))
                (br $found)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $look)))
        (if (i32.ge_u (local.get $len) (global.get $BUF_CAP)) (then (call $bad (local.get $c)) (return)))
        (local.set $st (call $read (local.get $c) (i32.add (global.get $BUF) (local.get $len))
          (i32.sub (global.get $BUF_CAP) (local.get $len)) (global.get $TIMEOUT) (i32.const 8)))
        (if (i32.or (local.get $st) (i32.eqz (i32.load (i32.const 8)))) (then (return)))  ;; gone, idle or failed
        (local.set $len (i32.add (local.get $len) (i32.load (i32.const 8))))
        (br $scan)))

      ;; the request line: METHOD SP target SP HTTP/1.x CRLF
      (local.set $p (global.get $BUF))
      (block $method_end (loop $method
        (local.set $b (i32.load8_u (local.get $p)))
        (br_if $method_end (i32.ge_u (i32.sub (local.get $b) (i32.const 65)) (i32.const 26)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $method)))
      (local.set $mlen (i32.sub (local.get $p) (global.get $BUF)))
      (if (i32.or (i32.eqz (local.get $mlen)) (i32.ne (i32.load8_u (local.get $p)) (i32.const 32)))
        (then (call $bad (local.get $c)) (return)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $target (local.get $p))
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 47))  ;; "/"
        (then (call $bad (local.get $c)) (return)))
      (block $target_end (loop $tchar
        (local.set $b (i32.load8_u (local.get $p)))
        (br_if $target_end (i32.or (i32.le_u (local.get $b) (i32.const 32)) (i32.ge_u (local.get $b) (i32.const 127))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tchar)))
      (local.set $tlen (i32.sub (local.get $p) (local.get $target)))
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 32)) (then (call $bad (local.get $c)) (return)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      ;; "HTTP/1." then 0 or 1, then CRLF, all inside the head
      (if (i32.gt_u (i32.add (local.get $p) (i32.const 10)) (i32.add (global.get $BUF) (local.get $h)))
        (then (call $bad (local.get $c)) (return)))
      (local.set $b (i32.load8_u offset=7 (local.get $p)))
      (if (i32.or
            (i32.or (i32.ne (i32.load (local.get $p)) (i32.const 0x50545448))  ;; "HTTP"
              (i32.or (i32.ne (i32.load16_u offset=4 (local.get $p)) (i32.const 0x312f))  ;; "/1"
                      (i32.ne (i32.load8_u offset=6 (local.get $p)) (i32.const 46))))  ;; "."
            (i32.or (i32.gt_u (i32.sub (local.get $b) (i32.const 48)) (i32.const 1))
                    (i32.ne (i32.load16_u offset=8 (local.get $p)) (i32.const 0x0a0d))))
        (then (call $bad (local.get $c)) (return)))
      (local.set $close (i32.eq (local.get $b) (i32.const 48)))  ;; HTTP/1.0: one request
      (local.set $p (i32.add (local.get $p) (i32.const 10)))

      ;; the headers, one line each, up to the blank line
      (local.set $te (i32.const 0))
      (local.set $cl (i32.const 0))
      (block $headers_end (loop $header
        (local.set $ls (local.get $p))
        (local.set $le (local.get $p))
        (loop $eol
          (if (i32.ne (i32.load8_u (local.get $le)) (i32.const 13)) (then
            (local.set $le (i32.add (local.get $le) (i32.const 1)))
            (br $eol))))
        (if (i32.ne (i32.load8_u offset=1 (local.get $le)) (i32.const 10)) (then (call $bad (local.get $c)) (return)))
        (local.set $p (i32.add (local.get $le) (i32.const 2)))
        (br_if $headers_end (i32.eq (local.get $ls) (local.get $le)))
        ;; name ":" value; a name of visible characters but ":"
        (local.set $colon (local.get $ls))
        (block $name_end (loop $nchar
          (br_if $name_end (i32.ge_u (local.get $colon) (local.get $le)))
          (local.set $b (i32.load8_u (local.get $colon)))
          (br_if $name_end (i32.eq (local.get $b) (i32.const 58)))
          (if (i32.or (i32.le_u (local.get $b) (i32.const 32)) (i32.ge_u (local.get $b) (i32.const 127)))
            (then (call $bad (local.get $c)) (return)))
          (local.set $colon (i32.add (local.get $colon) (i32.const 1)))
          (br $nchar)))
        (if (i32.or (i32.ge_u (local.get $colon) (local.get $le)) (i32.eq (local.get $colon) (local.get $ls)))
          (then (call $bad (local.get $c)) (return)))
        (local.set $vs (i32.add (local.get $colon) (i32.const 1)))
        (local.set $ve (local.get $le))
        (block $l (loop $trim_l
          (br_if $l (i32.ge_u (local.get $vs) (local.get $ve)))
          (br_if $l (i32.eqz (call $space (i32.load8_u (local.get $vs)))))
          (local.set $vs (i32.add (local.get $vs) (i32.const 1)))
          (br $trim_l)))
        (block $r (loop $trim_r
          (br_if $r (i32.ge_u (local.get $vs) (local.get $ve)))
          (br_if $r (i32.eqz (call $space (i32.load8_u (i32.sub (local.get $ve) (i32.const 1))))))
          (local.set $ve (i32.sub (local.get $ve) (i32.const 1)))
          (br $trim_r)))
        (if (call $ieq (local.get $ls) (i32.sub (local.get $colon) (local.get $ls)) (i32.const 400) (i32.const 10))
          (then (if (call $ieq (local.get $vs) (i32.sub (local.get $ve) (local.get $vs)) (i32.const 464) (i32.const 5))
            (then (local.set $close (i32.const 1))))))
        (if (call $ieq (local.get $ls) (i32.sub (local.get $colon) (local.get $ls)) (i32.const 432) (i32.const 17))
          (then (local.set $te (i32.const 1))))
        (if (call $ieq (local.get $ls) (i32.sub (local.get $colon) (local.get $ls)) (i32.const 416) (i32.const 14))
          (then
            ;; 1 to 9 digits
            (if (i32.or (i32.eq (local.get $vs) (local.get $ve))
                        (i32.gt_u (i32.sub (local.get $ve) (local.get $vs)) (i32.const 9)))
              (then (call $bad (local.get $c)) (return)))
            (local.set $cl (i32.const 0))
            (loop $digit
              (local.set $b (i32.sub (i32.load8_u (local.get $vs)) (i32.const 48)))
              (if (i32.gt_u (local.get $b) (i32.const 9)) (then (call $bad (local.get $c)) (return)))
              (local.set $cl (i32.add (i32.mul (local.get $cl) (i32.const 10)) (local.get $b)))
              (local.set $vs (i32.add (local.get $vs) (i32.const 1)))
              (br_if $digit (i32.lt_u (local.get $vs) (local.get $ve))))))
        (br $header)))

      (if (local.get $te) (then
        (drop (call $respond (local.get $c) (i32.const 144) (i32.const 30) (i32.const 0) (i32.const 0)
          (i32.const 352) (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0)))
        (return)))

      ;; the body, dropped: first what the buffer holds, then from c
      (local.set $have (i32.sub (local.get $len) (local.get $h)))
      (if (i32.le_u (local.get $cl) (local.get $have))
        (then (local.set $h (i32.add (local.get $h) (local.get $cl))))
        (else
          (local.set $cl (i32.sub (local.get $cl) (local.get $have)))
          (local.set $h (local.get $len))
          (loop $drop
            (local.set $st (call $read (local.get $c) (global.get $SCRATCH)
              (select (local.get $cl) (global.get $SCRATCH_CAP) (i32.lt_u (local.get $cl) (global.get $SCRATCH_CAP)))
              (global.get $TIMEOUT) (i32.const 8)))
            (if (i32.or (local.get $st) (i32.eqz (i32.load (i32.const 8)))) (then (return)))
            (local.set $cl (i32.sub (local.get $cl) (i32.load (i32.const 8))))
            (br_if $drop (local.get $cl)))))

      ;; the response; the target is still in the buffer
      (local.set $get (call $ieq (global.get $BUF) (local.get $mlen) (i32.const 480) (i32.const 3)))
      (local.set $head (call $ieq (global.get $BUF) (local.get $mlen) (i32.const 496) (i32.const 4)))
      (if (i32.or (local.get $get) (local.get $head))
        (then (local.set $st (call $respond (local.get $c) (i32.const 32) (i32.const 17) (i32.const 0) (i32.const 0)
          (i32.const 288) (i32.const 6) (local.get $target) (local.get $tlen) (local.get $close) (local.get $head))))
        (else (local.set $st (call $respond (local.get $c) (i32.const 96) (i32.const 33) (i32.const 256) (i32.const 18)
          (i32.const 320) (i32.const 19) (i32.const 0) (i32.const 0) (local.get $close) (i32.const 0)))))
      (if (i32.or (i32.eqz (local.get $st)) (local.get $close)) (then (return)))

      ;; what the client sent after this request is the next one's start
      (memory.copy (global.get $BUF) (i32.add (global.get $BUF) (local.get $h)) (i32.sub (local.get $len) (local.get $h)))
      (local.set $len (i32.sub (local.get $len) (local.get $h)))
      (br $request)))

  (func (export "serve") (param $port i32)
    (local $st i32)
    (local.set $st (call $listen (i32.const 16) (i32.const 9) (local.get $port) (i32.const 0)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 10) (local.get $st)))))
    (loop $next
      (local.set $st (call $accept (i32.load (i32.const 0)) (i32.const 0) (i32.const 4)))
      (if (i32.eqz (local.get $st))
        (then
          (call $conn (i32.load (i32.const 4)))
          (drop (call $close (i32.load (i32.const 4)))))
        (else (if (i32.ne (local.get $st) (i32.const 1))  ;; ErrLimit: try again
          (then (call $exit (i32.add (i32.const 10) (local.get $st)))))))
      (br $next))))
