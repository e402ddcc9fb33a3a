// wt.h: prototypes of the wasmtime v25 C API functions ward calls, declared
// by hand with opaque types (see wt_types.h for why). The symbols come from
// the libwasmtime.a that wasmtime-go links into every binary importing it.
#ifndef WARD_WT_H
#define WARD_WT_H

#include "wt_types.h"

typedef struct wasm_config_t wasm_config_t;
typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasmtime_module wasmtime_module_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasmtime_instance_pre wasmtime_instance_pre_t;
typedef struct wasmtime_call_future wasmtime_call_future_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_frame_t wasm_frame_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct wasi_config_t wasi_config_t;

// config
void wasmtime_config_async_support_set(wasm_config_t *, bool);
void wasmtime_config_async_stack_size_set(wasm_config_t *, uint64_t);
void wasmtime_config_max_wasm_stack_set(wasm_config_t *, size_t);
void wasmtime_config_consume_fuel_set(wasm_config_t *, bool);
void wasmtime_config_epoch_interruption_set(wasm_config_t *, bool);
void wasmtime_config_static_memory_maximum_size_set(wasm_config_t *, uint64_t);
void wasmtime_config_static_memory_guard_size_set(wasm_config_t *, uint64_t);
void wasmtime_config_dynamic_memory_guard_size_set(wasm_config_t *, uint64_t);
void wasmtime_config_dynamic_memory_reserved_for_growth_set(wasm_config_t *, uint64_t);
void wasmtime_config_memory_init_cow_set(wasm_config_t *, bool);
void wasmtime_config_host_stack_creator_set(wasm_config_t *, wt_stack_creator_t *);
void wasmtime_config_host_memory_creator_set(wasm_config_t *, wt_memory_creator_t *);
void wasmtime_engine_increment_epoch(wasm_engine_t *);

// errors and traps
wasmtime_error_t *wasmtime_error_new(const char *);
void wasmtime_error_delete(wasmtime_error_t *);
void wasmtime_error_message(const wasmtime_error_t *, wt_byte_vec_t *);
bool wasmtime_error_exit_status(const wasmtime_error_t *, int *status);
void wasmtime_error_wasm_trace(const wasmtime_error_t *, wt_ptr_vec_t *out);
wasm_trap_t *wasmtime_trap_new(const char *msg, size_t len);
bool wasmtime_trap_code(const wasm_trap_t *, uint8_t *code);
void wasm_trap_message(const wasm_trap_t *, wt_byte_vec_t *out);
void wasm_trap_trace(const wasm_trap_t *, wt_ptr_vec_t *out);
void wasm_trap_delete(wasm_trap_t *);
uint32_t wasm_frame_func_index(const wasm_frame_t *);
size_t wasm_frame_module_offset(const wasm_frame_t *);
const wt_byte_vec_t *wasmtime_frame_func_name(const wasm_frame_t *);
const wt_byte_vec_t *wasmtime_frame_module_name(const wasm_frame_t *);
void wasm_frame_vec_delete(wt_ptr_vec_t *);
void wasm_byte_vec_delete(wt_byte_vec_t *);

// types
wasm_valtype_t *wasm_valtype_new(uint8_t kind);
void wasm_valtype_vec_new(wt_ptr_vec_t *out, size_t n, wasm_valtype_t *const data[]);
void wasm_valtype_vec_new_empty(wt_ptr_vec_t *out);
wasm_functype_t *wasm_functype_new(wt_ptr_vec_t *params, wt_ptr_vec_t *results);
void wasm_functype_delete(wasm_functype_t *);

// linker
wasmtime_linker_t *wasmtime_linker_new(wasm_engine_t *);
void wasmtime_linker_delete(wasmtime_linker_t *);
wasmtime_error_t *wasmtime_linker_define_wasi(wasmtime_linker_t *);
void wasmtime_linker_allow_shadowing(wasmtime_linker_t *, bool);
typedef wasm_trap_t *(*wt_unchecked_cb_t)(void *env, wasmtime_caller_t *caller,
                                          wt_val_raw_t *args_and_results, size_t n);
wasmtime_error_t *wasmtime_linker_define_func_unchecked(wasmtime_linker_t *, const char *module,
                                                        size_t module_len, const char *name,
                                                        size_t name_len, const wasm_functype_t *ty,
                                                        wt_unchecked_cb_t cb, void *data,
                                                        void (*finalizer)(void *));
typedef void (*wt_async_cb_t)(void *env, wasmtime_caller_t *caller, const wt_val_t *args,
                              size_t nargs, wt_val_t *results, size_t nresults,
                              wasm_trap_t **trap_ret, wt_async_continuation_t *cont);
wasmtime_error_t *wasmtime_linker_define_async_func(wasmtime_linker_t *, const char *module,
                                                    size_t module_len, const char *name,
                                                    size_t name_len, const wasm_functype_t *ty,
                                                    wt_async_cb_t cb, void *data,
                                                    void (*finalizer)(void *));
wasmtime_error_t *wasmtime_linker_instantiate_pre(const wasmtime_linker_t *,
                                                  const wasmtime_module_t *,
                                                  wasmtime_instance_pre_t **out);
void wasmtime_instance_pre_delete(wasmtime_instance_pre_t *);

// stores
wasmtime_store_t *wasmtime_store_new(wasm_engine_t *, void *data, void (*finalizer)(void *));
wasmtime_context_t *wasmtime_store_context(wasmtime_store_t *);
void wasmtime_store_delete(wasmtime_store_t *);
void wasmtime_store_limiter(wasmtime_store_t *, int64_t memory_size, int64_t table_elements,
                            int64_t instances, int64_t tables, int64_t memories);
void *wasmtime_context_get_data(const wasmtime_context_t *);
void wasmtime_context_set_data(wasmtime_context_t *, void *);
wasmtime_error_t *wasmtime_context_set_fuel(wasmtime_context_t *, uint64_t);
wasmtime_error_t *wasmtime_context_get_fuel(const wasmtime_context_t *, uint64_t *);
void wasmtime_context_set_epoch_deadline(wasmtime_context_t *, uint64_t ticks);
typedef wasmtime_error_t *(*wt_epoch_cb_t)(wasmtime_context_t *, void *data, uint64_t *delta,
                                           uint8_t *kind);
void wasmtime_store_epoch_deadline_callback(wasmtime_store_t *, wt_epoch_cb_t, void *data,
                                            void (*finalizer)(void *));
wasmtime_error_t *wasmtime_context_set_wasi(wasmtime_context_t *, wasi_config_t *);

// instances, calls, memory
wasmtime_call_future_t *wasmtime_instance_pre_instantiate_async(const wasmtime_instance_pre_t *,
                                                                wasmtime_context_t *,
                                                                wt_instance_t *out,
                                                                wasm_trap_t **trap_ret,
                                                                wasmtime_error_t **err_ret);
bool wasmtime_instance_export_get(wasmtime_context_t *, const wt_instance_t *, const char *name,
                                  size_t len, wt_extern_t *out);
wasmtime_call_future_t *wasmtime_func_call_async(wasmtime_context_t *, const wt_func_t *,
                                                 const wt_val_t *args, size_t nargs,
                                                 wt_val_t *results, size_t nresults,
                                                 wasm_trap_t **trap_ret,
                                                 wasmtime_error_t **err_ret);
bool wasmtime_call_future_poll(wasmtime_call_future_t *);
void wasmtime_call_future_delete(wasmtime_call_future_t *);
bool wasmtime_caller_export_get(wasmtime_caller_t *, const char *name, size_t len, wt_extern_t *out);
wasmtime_context_t *wasmtime_caller_context(wasmtime_caller_t *);
uint8_t *wasmtime_memory_data(const wasmtime_context_t *, const wt_memory_t *);
size_t wasmtime_memory_data_size(const wasmtime_context_t *, const wt_memory_t *);
void wasmtime_global_get(wasmtime_context_t *, const wt_global_t *, wt_val_t *out);
wasmtime_error_t *wasmtime_global_set(wasmtime_context_t *, const wt_global_t *, const wt_val_t *);

// WASI preview1
wasi_config_t *wasi_config_new(void);
bool wasi_config_set_argv(wasi_config_t *, size_t argc, const char *argv[]);
bool wasi_config_set_env(wasi_config_t *, size_t n, const char *names[], const char *values[]);
bool wasi_config_set_stdout_file(wasi_config_t *, const char *path);
bool wasi_config_set_stderr_file(wasi_config_t *, const char *path);
bool wasi_config_preopen_dir(wasi_config_t *, const char *host, const char *guest);
void wasi_config_delete(wasi_config_t *);

#endif
