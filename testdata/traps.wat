;; traps: one export per wasm trap kind, each () -> (), so tests can check
;; how every kind is reported. Operands that would trap come from mutable
;; globals rather than constants: the validator accepts any of them, and
;; the compiler cannot fold the trap away or reject it. Results go to
;; $sink, not drop, so no trapping instruction is dead code.
;;   unreachable     unreachable
;;   oob_load        i32.load at 0xfffffff0 (memory is 1 page)
;;   div_zero        i32.div_s 1 / 0
;;   int_overflow    i32.div_s INT32_MIN / -1
;;   bad_conversion  i32.trunc_f32_s NaN
;;   indirect_null   call_indirect on null table slot 1
;;   bad_signature   call_indirect of slot 0 ($nop, () -> ()) as () -> i32
;;   table_oob       call_indirect of slot 2, past the table's end
(module $traps
  (type $void (func))
  (type $to_i32 (func (result i32)))

  (memory (export "memory") 1)

  ;; Two slots: 0 holds $nop, 1 stays null.
  (table $table 2 funcref)
  (elem (table $table) (i32.const 0) func $nop)

  (global $zero (mut i32) (i32.const 0))
  (global $int_min (mut i32) (i32.const 0x80000000))
  (global $minus_one (mut i32) (i32.const -1))
  (global $nan (mut f32) (f32.const nan))
  (global $sink (mut i32) (i32.const 0))

  (func $nop)

  (func $unreachable (export "unreachable")
    unreachable)

  (func $oob_load (export "oob_load")
    (global.set $sink (i32.load (i32.const 0xfffffff0))))

  (func $div_zero (export "div_zero")
    (global.set $sink (i32.div_s (i32.const 1) (global.get $zero))))

  (func $int_overflow (export "int_overflow")
    (global.set $sink (i32.div_s (global.get $int_min) (global.get $minus_one))))

  (func $bad_conversion (export "bad_conversion")
    (global.set $sink (i32.trunc_f32_s (global.get $nan))))

  (func $indirect_null (export "indirect_null")
    (call_indirect $table (type $void) (i32.const 1)))

  (func $bad_signature (export "bad_signature")
    (global.set $sink (call_indirect $table (type $to_i32) (i32.const 0))))

  (func $table_oob (export "table_oob")
    (call_indirect $table (type $void) (i32.const 2))))
