// wt_types.h: the layouts of the few wasmtime C API structs ward passes by
// value, declared by hand as facts of wasmtime v25's C ABI.
//
// Why by hand: the brief forbids copying wasmtime's headers into the repo, and
// wasmtime-go's headers are not on our include path. The names are prefixed
// wt_ so layout_test.go can compile these next to the real headers (from the
// module cache) and assert size and offsets match.
#ifndef WARD_WT_TYPES_H
#define WARD_WT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wt_byte_vec {
  size_t size;
  char *data;
} wt_byte_vec_t;

typedef struct wt_ptr_vec { // wasm_valtype_vec_t, wasm_frame_vec_t
  size_t size;
  void **data;
} wt_ptr_vec_t;

typedef struct wt_func {
  uint64_t store_id;
  size_t private_index;
} wt_func_t;

typedef struct wt_memory {
  uint64_t store_id;
  size_t private_index;
} wt_memory_t;

typedef struct wt_global {
  uint64_t store_id;
  size_t private_index;
} wt_global_t;

typedef struct wt_instance {
  uint64_t store_id;
  size_t index;
} wt_instance_t;

typedef union wt_valunion {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  wt_func_t funcref;
  uint8_t v128[16];
} wt_valunion_t;

typedef struct wt_val {
  uint8_t kind;
  wt_valunion_t of;
} wt_val_t;

// wasmtime_val_raw_t: the untyped value of unchecked host functions. Its
// reference members are not used by ward and are folded into the padding.
typedef union wt_val_raw {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  uint8_t v128[16];
  void *funcref;
} wt_val_raw_t;

typedef union wt_extern_union {
  wt_func_t func;
  wt_global_t global;
  wt_memory_t memory;
  void *sharedmemory;
} wt_extern_union_t;

typedef struct wt_extern {
  uint8_t kind;
  wt_extern_union_t of;
} wt_extern_t;

typedef bool (*wt_cont_cb_t)(void *env);

typedef struct wt_async_continuation {
  wt_cont_cb_t callback;
  void *env;
  void (*finalizer)(void *);
} wt_async_continuation_t;

typedef struct wt_stack_memory {
  void *env;
  uint8_t *(*get_stack_memory)(void *env, size_t *out_len);
  void (*finalizer)(void *);
} wt_stack_memory_t;

typedef struct wt_stack_creator {
  void *env;
  void *(*new_stack)(void *env, size_t size, wt_stack_memory_t *ret);
  void (*finalizer)(void *);
} wt_stack_creator_t;

typedef struct wt_linear_memory {
  void *env;
  uint8_t *(*get_memory)(void *env, size_t *byte_size, size_t *maximum_byte_size);
  void *(*grow_memory)(void *env, size_t new_size); // returns wasmtime_error_t*
  void (*finalizer)(void *);
} wt_linear_memory_t;

typedef struct wt_memory_creator {
  void *env;
  void *(*new_memory)(void *env, const void *ty, size_t minimum, size_t maximum,
                      size_t reserved_size_in_bytes, size_t guard_size_in_bytes,
                      wt_linear_memory_t *memory_ret); // returns wasmtime_error_t*
  void (*finalizer)(void *);
} wt_memory_creator_t;

enum {
  WT_I32 = 0,
  WT_I64 = 1,
  WT_EXTERN_FUNC = 0,
  WT_EXTERN_GLOBAL = 1,
  WT_EXTERN_MEMORY = 3,
  WT_UPDATE_DEADLINE_YIELD = 1,
  WT_TRAP_OUT_OF_FUEL = 11,
};

#endif
