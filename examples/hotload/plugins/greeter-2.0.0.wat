;; greeter 2.0.0: the release the publisher signs and the service picks up while it runs.
;;
;; export "greet": take the first message (the job's name), reply under its
;; tag to its sender with "greeter 2.0.0: hello, " and the name. The prefix
;; says which version answered, so the service's narrative shows the swap.
;; It imports ward_message only, the one namespace the service allows.
(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  ;; The reply is built in place: the prefix at 0, the name read in after it.
  (data (i32.const 0) "greeter 2.0.0: hello, ")
  (func (export "greet") (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 22) (i32.const 1024)))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (i32.add (i32.const 22) (local.get $n))))
    (drop (call $send (call $sender)))))
