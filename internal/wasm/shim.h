// shim.h: ward's C side of the async execution model. See doc.go for why it
// exists. Everything here runs either on a process goroutine's cgo call or
// on a wasmtime fiber; nothing here ever calls into Go.
#ifndef WARD_SHIM_H
#define WARD_SHIM_H

#include "wt.h"
#include <pthread.h>

enum { WARD_DONE = 0, WARD_YIELD = 1, WARD_HOST = 2 };
enum { WARD_MAX_PARAMS = 16, WARD_MAX_RESULTS = 8, WARD_MAX_HOST_ARGS = 8 };
#define WARD_MAX_MESSAGE (16u << 20) // abi.MaxMessageSize
#define WARD_MAX_RECEIVE_TAGS 64     // abi.MaxReceiveTags
#define WARD_STATUS_OK 0             // abi.OK
// Per-process table bounds (see ward_proc_new): tables cost at most
// WARD_TABLE_BYTES beyond MaxMemory.
#define WARD_MAX_TABLES 2
#define WARD_MAX_TABLE_ELEMENTS (1 << 16)
// What a live process holds besides its memory, tables and message
// buffers, as charged to its budget: about 25 KiB parked, measured
// (docs/limits.md), rounded up.
#define WARD_PROCESS_COST ((int64_t)32 << 10)
// The top of a fiber stack that WARD_PROCESS_COST covers; what a call
// touches below it is charged as it goes (charge_stack), and given back to
// the OS when the stack returns to the pool.
#define WARD_STACK_KEEP ((int64_t)16 << 10)
#define WARD_TABLE_BYTES ((int64_t)WARD_MAX_TABLES * WARD_MAX_TABLE_ELEMENTS * 8)
enum { PHASE_NEW, PHASE_INSTANTIATE, PHASE_INIT, PHASE_CALL, PHASE_DONE };
enum { FAIL_NONE, FAIL_NO_EXPORT, FAIL_NOT_FUNC };

// The runtime's run slots (runtime/runslots.go), in C memory so that a
// receive spinning on a fiber can watch them (shim.c, "Spinning
// receives"): free is the semaphore itself, free slots or minus the
// waiters, which Go updates atomically; slots is how many there are.
typedef struct ward_run_gate {
  int64_t free;
  int64_t slots;
} ward_run_gate_t;

// A host function's description; the env pointer of its linker entry.
typedef struct ward_hostfn {
  int32_t id;
  uint8_t nparams, nresults;
  uint8_t params[WARD_MAX_HOST_ARGS];
  uint8_t results[4];
  uint8_t receive; // ward_message.receive: served from the inbox when it can be
  uint8_t send;    // ward_message.send: completed in C when it can be (local sends)
  ward_run_gate_t *gate; // receive only: its engine's run slots, or NULL (no spinning)
} ward_hostfn_t;

// The inbox: messages moved ahead of the Go mailbox into the process, all
// older than anything still in the mailbox, so that a receive finding one
// completes in C without suspending. Go appends (inbox.go); C takes.
// Allocated when messages first go ahead, freed when the process parks.
enum { WARD_INBOX_MAX = 16, WARD_INBOX_BYTES = 3584 };
typedef struct ward_inmsg {
  int64_t tag;
  uint64_t sender;
  uint32_t off, len; // the data, in ward_inbox_t.data
} ward_inmsg_t;
typedef struct ward_inbox {
  uint32_t head, n; // entries[head:head+n] are queued, oldest first
  uint32_t used;    // data[:used] is taken; reset when the inbox empties
  ward_inmsg_t entries[WARD_INBOX_MAX];
  uint8_t data[WARD_INBOX_BYTES];
} ward_inbox_t;

// A message in an intake, its data right behind it.
typedef struct ward_intake_msg {
  struct ward_intake_msg *next;
  int64_t tag;
  uint64_t sender;
  uint32_t len;
} ward_intake_msg_t;
#define WARD_INTAKE_OVERHEAD 128 // mailbox.MessageOverhead: what a message costs the budget
#define WARD_INTAKE_MAX_MESSAGE (64u << 10) // larger sends go through Go

typedef struct ward_stacks ward_stacks_t;
typedef struct ward_storepool ward_storepool_t;
struct ward_mem;

// A memory budget: the bytes of linear memory and tables that the
// processes of an environment and of its children hold together
// (environment.Config.MaxTotalMemory). Each environment has one, chained
// to its parent's; a charge is taken from every budget up the chain or
// from none. Reference-counted: the environment, its children's budgets
// and every memory charged to it hold a reference, so a budget outlives
// whatever it counts.
// used and refs are atomics: C uses __atomic builtins on them, Go
// sync/atomic (budget.go), which is why they are plain int64_t here.
typedef struct ward_budget {
  int64_t used;
  int64_t max;
  struct ward_budget *parent;
  int64_t refs;
} ward_budget_t;
ward_budget_t *ward_budget_new(ward_budget_t *parent, int64_t max);
void ward_budget_unref(ward_budget_t *b);

// A pre-initialised image (image.go): a linear memory's first len bytes,
// in a sealed memory file that the memory creator maps copy-on-write, and
// the values its instance's exported globals are set to before anything
// runs. A process started from one pays a mapping, not a copy, and holds
// only the pages it writes.
typedef struct ward_image_global {
  const char *name;
  size_t len;
  wt_val_t val;
} ward_image_global_t;
typedef struct ward_image {
  int fd;     // owned: closed with the image
  size_t len; // a multiple of the OS page size
  size_t nglobals;
  ward_image_global_t *globals; // and their names: freed with the image
  uint8_t *src;                 // the file, mapped read-only: what resets copy from
  pthread_mutex_t mu;
  struct ward_imgmem *pool; // reset memories, ready for the next process
  size_t npool;
  int64_t refs; // Go's and one per memory made from it
} ward_image_t;

// One process: its store and the future that drives it. Owned by exactly one
// goroutine, which is the only code that touches it between polls.
typedef struct ward_proc {
  uint64_t id;
  wasmtime_store_t *store;
  wasmtime_context_t *ctx;
  const wasmtime_instance_pre_t *pre;
  int phase;
  int end_phase; // the phase the process was in when it ended
  int fail;
  wasmtime_call_future_t *fut;
  wt_instance_t inst;
  wt_func_t func;
  const char *init_name; // "_initialize" for reactors, or NULL
  const char *entry_name; // its module's copy (Module.cName)
  size_t entry_len;
  // The entry call's arguments, then its results: one allocation the
  // process owns (Proc.SetEntry), NULL for an entry with neither, sized to
  // the entry, not to WARD_MAX_PARAMS and WARD_MAX_RESULTS inline (576
  // bytes that every parked process held). wasmtime copies the arguments
  // when the call is made and writes the results when it returns.
  wt_val_t *vals;
  size_t nargs;
  size_t nresults;
  wasm_trap_t *trap;
  wasmtime_error_t *err;

  // The pending async host call, if any. The memory snapshot stays valid
  // while the fiber is suspended: nothing can grow the memory meanwhile.
  wt_memory_t memory; // the exported "memory", once looked up
  int has_memory;
  const ward_hostfn_t *host;
  int64_t hargs[WARD_MAX_HOST_ARGS];
  uint8_t *mem;
  size_t mem_len;
  wt_val_t *hresults;
  wasm_trap_t **htrap;
  int32_t ready;
  int64_t hret[4];
  char *htrap_msg; // set with ready: the call traps with this message (freed here)

  // Messages. The current (received) message and the outgoing one are
  // copied into these C buffers so guests read and write them with plain
  // C host functions, never a round trip to Go.
  uint8_t *in_data;
  size_t in_len, in_cap, in_pos;
  int64_t in_tag;
  uint64_t in_sender;
  uint8_t *out_data;
  size_t out_len, out_cap;
  int64_t out_tag;

  ward_inbox_t *inbox; // NULL until messages go ahead
  int32_t fresh_slice; // set from Go after a wait: the next poll restarts the time slice
  int32_t exited;      // ward_process.exit was called
  int32_t exit_code;
  void *user; // for hot-path C host functions added by later layers

  ward_budget_t *budget;  // its environment's memory budget, or NULL
  int64_t table_charge;   // what its tables' limit took from the budget
  int64_t buffer_charge;  // what in_data and out_data took from it
  int64_t stack_charge;   // what its deepest fiber stack took from it
  int64_t clock_epoch;    // Go's: when its WASI context was made (Proc.SetClockEpoch)
  struct ward_stack *stack; // the fiber stack of its current call
  int32_t budget_refused; // a memory or table did not fit the budget
  int32_t stack_saved;    // stack's frames are on the C heap (ward_proc_stack_out)
  uint64_t mem_size;      // its linear memory's size, kept by the memory creator
  struct ward_mem *lin;   // its linear memory, made by the memory creator

  // Store reuse (ward_proc_free): the module's pool of retired stores, and
  // what the store held before this process: instances, memories and
  // tables of processes that returned in it.
  ward_storepool_t *spool;
  int32_t store_uses, store_mems, store_tables;
  int32_t tables;   // its module's tables
  int32_t returned; // the entry call returned: no trap, exit, error or kill

  // Fuel. The tank is filled at the start and, with refill set, each time
  // a message from another process becomes current; fuel_used, which Go
  // reads, counts what every fill lost, as of the last poll.
  uint64_t fuel_tank;  // fuel at the last fill
  uint64_t fuel_spent; // burned before the last fill
  uint64_t fuel_used;  // burned in all, as of the last poll
  uint64_t refill;     // 0, or the fuel each message from another process refills to

  ward_image_t *image; // its memory and globals start from this, or NULL

  // Local sends in C (shim.c, "Local sends"). Other processes' sends
  // append to this one's intake, found through a registry of ids;
  // inbox_lock guards the intake against them.
  int32_t inbox_lock;        // 0 free, 1 held; C senders only ever try it
  int32_t waiting;           // its goroutine sleeps in a receive, to be woken from Go
  int32_t wake_pending;      // a sender owes it a wake (wake_to): others need not
  uint32_t mb_gen;           // bumped at every wake of its mailbox: a spinning receive stops
  uint64_t wake_to;          // a receiver this process's sends left waiting: Go wakes it
  int64_t mb_count, mb_bytes; // what its Go mailbox queues (mailbox.Intake.Publish)
  struct ward_intake_msg *intake_head, *intake_tail; // newer than the mailbox's
  uint32_t intake_n;
  uint32_t intake_max;        // the largest message a send in C appends
  int64_t intake_bytes;
  int64_t local_msgs, local_bytes; // its mailbox limits, which the intake counts against
  int16_t registered;         // in the registry (ward_proc_register)
  int16_t may_send;           // its environment permits sends: its own may complete in C
  int16_t spin_off;           // a borrower runs it: its receives never spin (shim.c)
  int16_t awaits_reply;       // its send_receive waits for a borrowed process's reply (shim.c, "Hand-off")
  uint64_t sent_in_c;         // its sends that completed in C, not yet counted by Go
  const void *domain;         // its runtime's engine: ids are unique only within one
  struct ward_proc *reg_next; // the registry's chain

  // A borrowed process's borrower (shim.c, "Hand-off"), whose goroutine
  // runs it, owning both, and sets and clears this and awaits_reply.
  // Beside spin_off, awaits_reply keeps the struct in its malloc size
  // class: every parked process holds one.
  struct ward_proc *borrower;
} ward_proc_t;

// For tests: sets the bound of a spinning receive (shim.c) to ns if it is
// positive and starts counting spins; returns the old bound, with the spins under way and
// those a mailbox change or wake ended so far.
int64_t ward_spin_observe(int64_t ns, int64_t *now, int64_t *woken);

ward_stacks_t *ward_config(wasm_config_t *c, size_t stack_size, size_t max_wasm_stack,
                           size_t max_stacks, uint64_t memory_reserve);
size_t ward_stacks_in_use(ward_stacks_t *s);
size_t ward_stacks_mapped(ward_stacks_t *s);
// Releases the pages of a process's fiber stack while its call waits in a
// Go host call, keeping its frames on the C heap; its next poll or cancel
// puts them back. 1 if it did. For waits expected to be long.
int ward_proc_stack_out(ward_proc_t *p);
int64_t ward_stacks_out(int64_t *total); // stacks whose frames are out now; *total: ever

wasmtime_error_t *ward_define_async(wasmtime_linker_t *l, const char *ns, const char *name,
                                    const ward_hostfn_t *desc);
wasmtime_error_t *ward_define_c(wasmtime_linker_t *l, const char *ns, const char *name,
                                const char *impl, const ward_hostfn_t *desc);

// ward_proc_new's result, returned by value so that cgo passes no Go
// pointer in (one heap allocation a spawn less). proc NULL with err NULL:
// the budget refused.
typedef struct ward_new_proc {
  ward_proc_t *proc;
  wasmtime_error_t *err;
} ward_new_proc_t;
ward_new_proc_t ward_proc_new(wasm_engine_t *e, uint64_t id, int64_t max_memory, uint64_t fuel,
                              ward_budget_t *budget, uint32_t tables, uint32_t table_elements,
                              ward_storepool_t *pool);

// A module's pool of retired stores (see ward_proc_free). NULL when out of
// memory: its processes then make a store each.
ward_storepool_t *ward_storepool_new(void);
// Closes the pool (the module is freed): deletes the stores it holds; those
// of processes still running are deleted when they end.
void ward_storepool_close(ward_storepool_t *s);
// How many processes started in a store that another process had used.
uint64_t ward_stores_reused(void);
wasmtime_error_t *ward_proc_wasi(ward_proc_t *p, size_t argc, const char **argv, size_t envc,
                                 const char **names, const char **values, const char *out,
                                 const char *errpath, size_t ndirs, const char **hosts,
                                 const char **guests);
int ward_proc_start(ward_proc_t *p);
int ward_proc_poll(ward_proc_t *p);
// ward_proc_poll_handle is ward_proc_poll for Go's poll loop: the proc
// passed as an integer, which cgo hands over without checking it for Go
// pointers. It is C memory, and the check cost about 30 ns a poll.
static inline int ward_proc_poll_handle(uintptr_t p) { return ward_proc_poll((ward_proc_t *)p); }
void ward_proc_cancel(ward_proc_t *p);
void ward_proc_free(ward_proc_t *p);
size_t ward_proc_memory_size(ward_proc_t *p);
ward_image_t *ward_image_new(int fd, size_t len); // takes fd; NULL if it cannot map it
void ward_image_unref(ward_image_t *img);
uint8_t *ward_proc_memory_data(ward_proc_t *p, size_t *len);
int ward_proc_global(ward_proc_t *p, const char *name, size_t len, wt_val_t *out);

// Outcome of a finished process. kind: 0 ok, 1 trap, 2 error, 3 wasi exit.
int ward_proc_outcome(ward_proc_t *p, int *trap_code, int *exit_status);
char *ward_proc_message(ward_proc_t *p);
char *ward_proc_trace(ward_proc_t *p);
char *ward_error_message(wasmtime_error_t *e); // consumes e

int ward_proc_set_in(ward_proc_t *p, const uint8_t *data, size_t len, int64_t tag,
                     uint64_t sender);
int ward_proc_take_ahead(ward_proc_t *p, uint32_t ptr, uint32_t n);
int64_t ward_unique_tag(void);

void ward_inbox_lock_wait(ward_proc_t *p);
ward_inbox_t *ward_inbox_new(void);
void ward_inbox_free(ward_inbox_t *b);
int64_t ward_live_inboxes(void);
int64_t ward_live_intake(void);
void ward_proc_register(ward_proc_t *p);
void ward_proc_move_inbox(ward_proc_t *from, ward_proc_t *to);
ward_intake_msg_t *ward_intake_detach(ward_proc_t *p);
int ward_proc_take_intake(ward_proc_t *p, const int64_t *tags, size_t n);
int ward_handoff_run(ward_proc_t *from, ward_proc_t *to);
static inline int ward_handoff_run_handle(uintptr_t from, uintptr_t to) {
  return ward_handoff_run((ward_proc_t *)from, (ward_proc_t *)to);
}
void ward_intake_free(ward_intake_msg_t *m);

void ward_trim(void);
void *ward_ticker_start(wasm_engine_t *e, long interval_us);
void ward_ticker_stop(void *t);

#endif
