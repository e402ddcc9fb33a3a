// shim.c: see shim.h and doc.go.
#define _GNU_SOURCE
#include "shim.h"
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static ward_proc_t *proc_of(wasmtime_caller_t *caller) {
  return wasmtime_context_get_data(wasmtime_caller_context(caller));
}

// The process whose call this thread is polling. Linear memories are made
// and grown only inside a poll, on the polling thread (fibers switch
// stacks, not threads), so the memory creator and the stack pool below
// find the process, and the budget to charge, here.
// initial-exec: a plain %fs-relative access, not a __tls_get_addr call on
// every poll (the shim is linked into the executable, never dlopened).
static _Thread_local ward_proc_t *ward_tls_proc __attribute__((tls_model("initial-exec")));

// ---------------------------------------------------------------------------
// Fiber stacks. wasmtime's default creator mmaps and munmaps a stack for
// every call, and each munmap costs a TLB-shootdown IPI (4-7x slower spawn,
// measured). We carve stacks out of large MAP_NORESERVE
// chunks instead: one mapping per chunk, so a parked process costs no VMA
// (vm.max_map_count is 65,530 here). Stacks have no guard pages, which would
// cost a VMA each; Wasm recursion is bounded by max_wasm_stack's explicit
// checks, and the stack is sized well above it for host code.

typedef struct ward_stack {
  ward_stacks_t *pool;
  uint8_t *base;
  uintptr_t low; // the lowest stack pointer seen in a host call or yield
  uint8_t *saved;   // its suspended frames while their pages are released (ward_proc_stack_out)
  size_t saved_len; // bytes of them, up to the top of the stack
} ward_stack_t;

struct ward_stacks {
  pthread_mutex_t mu;
  size_t stack_size, per_chunk, max_chunks;
  size_t nchunks, in_use;
  uint8_t **chunks;
  ward_stack_t **metas;
  ward_stack_t **free;
  size_t nfree;
};

static uint8_t *stack_get(void *env, size_t *len) {
  ward_stack_t *st = env;
  *len = st->pool->stack_size;
  return st->base + st->pool->stack_size; // stacks grow down: hand out the top
}

static void stack_release(void *env) {
  ward_stack_t *st = env;
  ward_stacks_t *s = st->pool;
  // A call that went deep left its pages resident: give them back, so a
  // pool of once-deep stacks does not hold memory no process is charged
  // for. Shallow calls, the usual ones, cost no syscall.
  uintptr_t top = (uintptr_t)(st->base + s->stack_size);
  uintptr_t keep = top - WARD_STACK_KEEP;
  if (st->low && st->low < keep) {
    uintptr_t from = st->low & ~(uintptr_t)4095;
    madvise((void *)from, keep - from, MADV_DONTNEED);
  }
  st->low = 0;
  pthread_mutex_lock(&s->mu);
  s->free[s->nfree++] = st; // LIFO: the next fiber gets a stack still hot in cache
  s->in_use--;
  pthread_mutex_unlock(&s->mu);
}

static int stacks_grow(ward_stacks_t *s) {
  if (s->nchunks == s->max_chunks) return 0;
  size_t bytes = s->stack_size * s->per_chunk;
  uint8_t *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return 0;
  ward_stack_t *meta = calloc(s->per_chunk, sizeof *meta);
  if (!meta) {
    munmap(base, bytes);
    return 0;
  }
  s->chunks[s->nchunks] = base;
  s->metas[s->nchunks] = meta;
  s->nchunks++;
  for (size_t i = s->per_chunk; i-- > 0;) {
    meta[i].pool = s;
    meta[i].base = base + i * s->stack_size;
    s->free[s->nfree++] = &meta[i];
  }
  return 1;
}

static void *stack_new(void *env, size_t size, wt_stack_memory_t *ret) {
  ward_stacks_t *s = env;
  if (size > s->stack_size) return wasmtime_error_new("ward: fiber stack larger than the pool's");
  pthread_mutex_lock(&s->mu);
  if (s->nfree == 0 && !stacks_grow(s)) {
    pthread_mutex_unlock(&s->mu);
    return wasmtime_error_new("ward: fiber stack pool exhausted (too many live processes)");
  }
  ward_stack_t *st = s->free[--s->nfree];
  s->in_use++;
  pthread_mutex_unlock(&s->mu);
  // Fibers are made on their first poll, so this is the polled process's.
  if (ward_tls_proc) ward_tls_proc->stack = st;
  ret->env = st;
  ret->get_stack_memory = stack_get;
  ret->finalizer = stack_release;
  return NULL;
}

static void stacks_free(void *env) {
  ward_stacks_t *s = env;
  for (size_t i = 0; i < s->nchunks; i++) {
    munmap(s->chunks[i], s->stack_size * s->per_chunk);
    free(s->metas[i]);
  }
  free(s->chunks);
  free(s->metas);
  free(s->free);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

size_t ward_stacks_in_use(ward_stacks_t *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->in_use;
  pthread_mutex_unlock(&s->mu);
  return n;
}

size_t ward_stacks_mapped(ward_stacks_t *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nchunks * s->per_chunk;
  pthread_mutex_unlock(&s->mu);
  return n;
}

// Parked stacks. A suspended fiber keeps the page (or two) its frames lie
// in resident: 4 KiB a parked process, more than its frames, which are
// about 1-2 KiB. A process about to wait long (a long sleep) has its
// frames copied to the C heap and the pages released; the next poll, or
// the cancel that unwinds them, copies them back first. Nothing reads a
// suspended fiber's stack in between: Go completes the host call through
// ward_proc_t (hret, ready), and the results are written by the fiber
// once it runs again.

#define WARD_STACK_SAVE_MAX (64u << 10)

static _Atomic int64_t stacks_out, stacks_out_total;

int64_t ward_stacks_out(int64_t *total) {
  *total = atomic_load(&stacks_out_total);
  return atomic_load(&stacks_out);
}

// The suspended fiber's stack pointer: wasmtime-fiber's switch (x86_64
// and aarch64 alike, wasmtime v25 crates/fiber/src/unix) stores the
// stack pointer of the side that is not running 16 bytes below the top of
// the fiber stack.
static uintptr_t stack_suspended_sp(ward_stack_t *st) {
  uint8_t *top = st->base + st->pool->stack_size;
  uintptr_t sp;
  memcpy(&sp, top - 16, sizeof sp);
  if (sp < (uintptr_t)st->base || sp >= (uintptr_t)top - 16) return 0;
  return sp;
}

int ward_proc_stack_out(ward_proc_t *p) {
  ward_stack_t *st = p->stack;
  // Only a call suspended in a Go host call: its fiber's stack is the one
  // stack_new gave it, and it resumes only through ward_proc_poll or ends
  // through ward_proc_cancel.
  if (!st || st->saved || !p->fut || !p->host || p->ready) return 0;
  uintptr_t sp = stack_suspended_sp(st);
  if (!sp) return 0;
  uintptr_t top = (uintptr_t)(st->base + st->pool->stack_size);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t from = sp & ~(uintptr_t)(page - 1);
  size_t len = top - sp;
  if (len + 64 > top - from) return 0; // the copy would cost about what it frees
  // Deep frames stay: a copy past malloc's mmap threshold would cost a
  // mapping each (vm.max_map_count), and deep sleepers are rare.
  if (len > WARD_STACK_SAVE_MAX) return 0;
  uint8_t *buf = malloc(len);
  if (!buf) return 0;
  memcpy(buf, (void *)sp, len);
  if (madvise((void *)from, top - from, MADV_DONTNEED) != 0) {
    free(buf);
    return 0;
  }
  st->saved = buf;
  st->saved_len = len;
  p->stack_saved = 1;
  atomic_fetch_add(&stacks_out, 1);
  atomic_fetch_add(&stacks_out_total, 1);
  return 1;
}

static void stack_in_slow(ward_proc_t *p) {
  ward_stack_t *st = p->stack;
  p->stack_saved = 0;
  memcpy(st->base + st->pool->stack_size - st->saved_len, st->saved, st->saved_len);
  free(st->saved);
  st->saved = NULL;
  st->saved_len = 0;
  atomic_fetch_sub(&stacks_out, 1);
}

// A flag in the process, not the stack's metadata: every poll checks it.
static inline void stack_in(ward_proc_t *p) {
  if (__builtin_expect(p->stack_saved, 0)) stack_in_slow(p);
}

// ---------------------------------------------------------------------------
// Linear memories. wasmtime's own dynamic memories move and copy on every
// grow past their reservation, and each new page costs a page fault, which
// is slow on this VM (35-85 µs of system time a page was measured). Ours
// are one anonymous read-write mapping each:
//   - growth uses mremap, which moves page tables, never the data;
//   - the mapping has the same flags as its neighbours', so the kernel
//     merges them and a process still costs no VMA of its own;
//   - small memories go back to a pool when their process ends and are
//     zeroed with memset, not unmapped and faulted in again by the next.
// Accesses past the Wasm size are caught by wasmtime's explicit bounds
// checks (no guard regions are configured), not by the mapping.

ward_budget_t *ward_budget_new(ward_budget_t *parent, int64_t max) {
  ward_budget_t *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->max = max;
  b->parent = parent;
  b->refs = 1;
  if (parent) __atomic_fetch_add(&parent->refs, 1, __ATOMIC_SEQ_CST);
  return b;
}

void ward_budget_unref(ward_budget_t *b) {
  while (b && __atomic_fetch_sub(&b->refs, 1, __ATOMIC_SEQ_CST) == 1) {
    ward_budget_t *parent = b->parent;
    free(b);
    b = parent;
  }
}

static void budget_give(ward_budget_t *b, int64_t n) {
  if (n <= 0) return;
  for (; b; b = b->parent) __atomic_fetch_sub(&b->used, n, __ATOMIC_SEQ_CST);
}

// budget_take charges n to b and every budget above it, or to none. A
// compare-and-swap, not an add undone on failure, so that a charge that
// does not fit never makes a concurrent one that would fail too.
static int budget_take(ward_budget_t *b, int64_t n) {
  if (n <= 0) return 1;
  for (ward_budget_t *x = b; x; x = x->parent) {
    int64_t cur = __atomic_load_n(&x->used, __ATOMIC_SEQ_CST);
    do {
      if (cur > x->max - n) {
        for (ward_budget_t *y = b; y != x; y = y->parent)
          __atomic_fetch_sub(&y->used, n, __ATOMIC_SEQ_CST);
        return 0;
      }
    } while (!__atomic_compare_exchange_n(&x->used, &cur, cur + n, 1, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
  }
  return 1;
}


typedef struct ward_mem {
  uint8_t *base;
  size_t size;  // bytes the guest may access
  size_t cap;   // bytes mapped
  size_t dirty; // bytes that may hold data: zero these before reuse
  size_t max;   // the memory type's maximum
  ward_budget_t *budget; // charged size bytes, or NULL
  struct ward_mempool *pool;
  struct ward_mem *next;
} ward_mem_t;

struct ward_mempool {
  pthread_mutex_t mu;
  ward_mem_t *free;
  size_t nfree, pooled_bytes, max_pooled_bytes, max_pooled_cap, reserve;
};

#define WARD_PAGE 65536u

static size_t round_pages(size_t n) { return (n + WARD_PAGE - 1) / WARD_PAGE * WARD_PAGE; }

static uint8_t *mem_get(void *env, size_t *byte_size, size_t *maximum) {
  ward_mem_t *m = env;
  *byte_size = m->size;
  *maximum = m->max;
  return m->base;
}

static void *budget_refused(void) {
  if (ward_tls_proc) ward_tls_proc->budget_refused = 1;
  return wasmtime_error_new("ward: the environment's MaxTotalMemory is used up");
}

// mem_grow_by grows m to new_size, charging the budget, and moves it to a
// larger mapping with relocate when it outgrows its own: plain memories and
// memories from an image differ only in how they move.
static void *mem_grow_by(ward_mem_t *m, size_t new_size, int (*relocate)(ward_mem_t *, size_t)) {
  if (new_size > m->max) return wasmtime_error_new("ward: memory grown past its maximum");
  int64_t more = new_size > m->size ? (int64_t)(new_size - m->size) : 0;
  if (m->budget && !budget_take(m->budget, more)) return budget_refused();
  if (new_size > m->cap) {
    size_t cap = m->cap * 2;
    if (cap < new_size) cap = round_pages(new_size);
    if (cap > m->max && m->max >= new_size) cap = round_pages(m->max);
    if (!relocate(m, cap)) {
      if (m->budget) budget_give(m->budget, more);
      return wasmtime_error_new("ward: cannot grow linear memory (mremap failed)");
    }
  }
  m->size = new_size;
  if (new_size > m->dirty) m->dirty = new_size;
  if (ward_tls_proc) ward_tls_proc->mem_size = new_size;
  return NULL;
}

static int mem_relocate(ward_mem_t *m, size_t cap) {
  void *b = mremap(m->base, m->cap, cap, MREMAP_MAYMOVE);
  if (b == MAP_FAILED) return 0;
  m->base = b;
  m->cap = cap;
  return 1;
}

static void *mem_grow(void *env, size_t new_size) { return mem_grow_by(env, new_size, mem_relocate); }

// mem_uncharge gives back what m took from its budget, when its process
// is done with it.
static void mem_uncharge(ward_mem_t *m) {
  if (m->budget) {
    budget_give(m->budget, (int64_t)m->size);
    ward_budget_unref(m->budget);
    m->budget = NULL;
  }
}

// mempool_put keeps m, with its mapping, for a later mem_new (which
// zeroes what m->dirty says), or unmaps it when the pool is full.
static void mempool_put(ward_mem_t *m) {
  struct ward_mempool *p = m->pool;
  pthread_mutex_lock(&p->mu);
  if (m->cap <= p->max_pooled_cap && p->pooled_bytes + m->cap <= p->max_pooled_bytes) {
    m->next = p->free;
    p->free = m;
    p->nfree++;
    p->pooled_bytes += m->cap;
    pthread_mutex_unlock(&p->mu);
    return;
  }
  pthread_mutex_unlock(&p->mu);
  munmap(m->base, m->cap);
  free(m);
}

static void mem_free(void *env) {
  ward_mem_t *m = env;
  mem_uncharge(m);
  if (!m->base) { // a retired instance's, whose mapping went on (mem_retire)
    free(m);
    return;
  }
  mempool_put(m);
}

// mem_retire takes the mapping away from m, the memory of an instance
// that will never run again (shim.c, "Store reuse"), and puts it in the
// memory pool, where the next process's memory, likely of the next
// process in this store, picks it up still in cache. m stays behind, with
// the instance, as an empty shell that cannot grow, until the store goes.
// It reports whether it could (the shell's allocation can fail).
static int mem_retire(ward_mem_t *m) {
  ward_mem_t *moved = malloc(sizeof *moved);
  if (!moved) return 0;
  mem_uncharge(m);
  *moved = *m;
  moved->next = NULL;
  m->base = NULL;
  m->size = m->cap = m->dirty = m->max = 0;
  mempool_put(moved);
  return 1;
}

static void *mem_new_image(ward_image_t *img, size_t minimum, size_t maximum, size_t reserve,
                           wt_linear_memory_t *ret);

// mem_zero zeroes n bytes at p, page-aligned: a pooled memory's pages
// before a process gets it, 64 KiB for the smallest. glibc's memset uses
// rep stosb at this size, which on the AMD cores measured here took about
// 700 ns for 64 KiB in cache against 510 for plain AVX2 stores, and a
// trivial process zeroes one such page.
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static void mem_zero_avx2(uint8_t *p, size_t n) {
  __m256i z = _mm256_setzero_si256();
  for (size_t i = 0; i < n; i += 128) {
    _mm256_store_si256((__m256i *)(p + i), z);
    _mm256_store_si256((__m256i *)(p + i + 32), z);
    _mm256_store_si256((__m256i *)(p + i + 64), z);
    _mm256_store_si256((__m256i *)(p + i + 96), z);
  }
}

static void mem_zero(uint8_t *p, size_t n) {
  static int avx2 = -1; // every thread that sees -1 computes the same
  int has = __atomic_load_n(&avx2, __ATOMIC_RELAXED);
  if (has < 0) {
    has = __builtin_cpu_supports("avx2") ? 1 : 0;
    __atomic_store_n(&avx2, has, __ATOMIC_RELAXED);
  }
  size_t bulk = ((uintptr_t)p & 31) == 0 ? n & ~(size_t)127 : 0;
  if (has && bulk) mem_zero_avx2(p, bulk);
  else bulk = 0;
  memset(p + bulk, 0, n - bulk);
}
#else
static void mem_zero(uint8_t *p, size_t n) { memset(p, 0, n); }
#endif

static void *mem_new(void *env, const void *ty, size_t minimum, size_t maximum, size_t reserved,
                     size_t guard, wt_linear_memory_t *ret) {
  (void)ty;
  struct ward_mempool *p = env;
  if (reserved != 0 || guard != 0)
    return wasmtime_error_new("ward: memory creator configured for dynamic memories only");
  if (ward_tls_proc && ward_tls_proc->image)
    return mem_new_image(ward_tls_proc->image, minimum, maximum, p->reserve, ret);
  size_t want = round_pages(minimum + p->reserve);
  if (want == 0) want = WARD_PAGE;
  ward_budget_t *budget = ward_tls_proc ? ward_tls_proc->budget : NULL;
  if (budget && !budget_take(budget, (int64_t)minimum)) return budget_refused();
  ward_mem_t *m = NULL;
  pthread_mutex_lock(&p->mu);
  for (ward_mem_t **pp = &p->free; *pp; pp = &(*pp)->next) {
    if ((*pp)->cap >= minimum) { // first fit: the pool holds small memories only
      m = *pp;
      *pp = m->next;
      p->nfree--;
      p->pooled_bytes -= m->cap;
      break;
    }
  }
  pthread_mutex_unlock(&p->mu);
  if (m) {
    mem_zero(m->base, m->dirty); // what the last process wrote; the rest is still zero
  } else {
    m = calloc(1, sizeof *m);
    if (!m) {
      if (budget) budget_give(budget, (int64_t)minimum);
      return wasmtime_error_new("ward: out of memory for a linear memory");
    }
    // The same flags as wasmtime's own mappings (no MAP_NORESERVE), so the
    // kernel can merge this one with its neighbours: a VMA per process
    // would run out at about 32k processes (vm.max_map_count 65,530).
    void *b = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
      free(m);
      if (budget) budget_give(budget, (int64_t)minimum);
      return wasmtime_error_new("ward: cannot map a linear memory (mmap failed)");
    }
    m->base = b;
    m->cap = want;
    m->pool = p;
  }
  m->size = minimum;
  m->dirty = minimum;
  m->max = maximum;
  // Before the instance exists (a start function), this is the only way
  // to know how close to its limit the process came.
  if (ward_tls_proc) {
    ward_tls_proc->mem_size = minimum;
    ward_tls_proc->lin = m;
  }
  m->budget = budget;
  if (budget) __atomic_fetch_add(&budget->refs, 1, __ATOMIC_SEQ_CST);
  ret->env = m;
  ret->get_memory = mem_get;
  ret->grow_memory = mem_grow;
  ret->finalizer = mem_free;
  return NULL;
}

// ---------------------------------------------------------------------------
// Memories started from a pre-initialised image (ward_image_t): the image's
// file mapped privately over the start of an anonymous mapping, so pages
// are shared with every other process of the image until written. Such a
// memory is two mappings (the file's, the anonymous rest), which mremap
// cannot move as one; image_move moves them one at a time.
//
// Every page a process writes costs a page fault, and faults are slow on
// the project's VM (35-85 µs): a Go guest's start writes about 30 pages
// and reads 130. So a memory whose process did not grow it goes back to
// its image's pool, reset: the pages it wrote (anonymous, by
// /proc/self/pagemap) are copied over from the image, and the next process
// finds every page it is likely to touch already mapped.

typedef struct ward_imgmem {
  ward_mem_t m; // first: mem_get reads it
  ward_image_t *img;
  struct ward_imgmem *next; // in img's pool
} ward_imgmem_t;

enum { WARD_IMAGE_POOL = 32 }; // memories kept per image

static int pagemap_fd = -1;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;
static void pagemap_open(void) { pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC); }

ward_image_t *ward_image_new(int fd, size_t len) {
  ward_image_t *img = calloc(1, sizeof *img);
  if (!img) return NULL;
  img->src = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (img->src == MAP_FAILED) {
    free(img);
    return NULL;
  }
  img->fd = fd;
  img->len = len;
  img->refs = 1;
  pthread_mutex_init(&img->mu, NULL);
  return img;
}

void ward_image_unref(ward_image_t *img) {
  if (__atomic_fetch_sub(&img->refs, 1, __ATOMIC_SEQ_CST) != 1) return;
  while (img->pool) {
    ward_imgmem_t *im = img->pool;
    img->pool = im->next;
    munmap(im->m.base, im->m.cap);
    free(im);
  }
  for (size_t i = 0; i < img->nglobals; i++) free((void *)img->globals[i].name);
  free(img->globals);
  munmap(img->src, img->len);
  close(img->fd);
  pthread_mutex_destroy(&img->mu);
  free(img);
}

// image_reset makes m's image part the image's again: 1, or 0 when it
// cannot tell which pages were written.
static int image_reset(ward_imgmem_t *im) {
  pthread_once(&pagemap_once, pagemap_open);
  if (pagemap_fd < 0) return 0;
  size_t pages = im->img->len / 4096, done = 0;
  uint64_t e[512];
  while (done < pages) {
    size_t n = pages - done < 512 ? pages - done : 512;
    off_t at = (off_t)(((uintptr_t)im->m.base / 4096 + done) * 8);
    if (pread(pagemap_fd, e, n * 8, at) != (ssize_t)(n * 8)) return 0;
    for (size_t i = 0; i < n; i++) {
      int present = e[i] >> 63 & 1, swapped = e[i] >> 62 & 1, file = e[i] >> 61 & 1;
      if ((present && !file) || swapped) {
        size_t off = (done + i) * 4096;
        memcpy(im->m.base + off, im->img->src + off, 4096);
      }
    }
    done += n;
  }
  return 1;
}

static void image_free(void *env) {
  ward_imgmem_t *im = env;
  ward_mem_t *m = &im->m;
  ward_image_t *img = im->img;
  mem_uncharge(m);
  // Only memories never grown: the rest of their mapping was never
  // reachable, so the image part is all there is to reset.
  if (m->size == img->len && __atomic_load_n(&img->npool, __ATOMIC_RELAXED) < WARD_IMAGE_POOL &&
      image_reset(im)) {
    pthread_mutex_lock(&img->mu);
    if (img->npool < WARD_IMAGE_POOL) {
      im->next = img->pool;
      img->pool = im;
      __atomic_store_n(&img->npool, img->npool + 1, __ATOMIC_RELAXED); // read unlocked above
      im = NULL;
    }
    pthread_mutex_unlock(&img->mu);
  }
  if (im) {
    munmap(m->base, m->cap);
    free(im);
  }
  ward_image_unref(img);
}

// image_move moves m's mappings to a new one of cap bytes: the image part
// and the rest each with mremap, which moves pages, written or not,
// without copying them. Should the rest no longer be one mapping, it is
// copied.
static int image_move(ward_imgmem_t *im, size_t cap) {
  ward_mem_t *m = &im->m;
  uint8_t *to = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (to == MAP_FAILED) return 0;
  size_t len = im->img->len;
  if (mremap(m->base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED) {
    munmap(to, cap);
    return 0;
  }
  if (m->cap > len &&
      mremap(m->base + len, m->cap - len, m->cap - len, MREMAP_MAYMOVE | MREMAP_FIXED, to + len) ==
          MAP_FAILED) {
    memcpy(to + len, m->base + len, m->size - len);
    munmap(m->base + len, m->cap - len);
  }
  m->base = to;
  m->cap = cap;
  return 1;
}

static int image_relocate(ward_mem_t *m, size_t cap) {
  return image_move((ward_imgmem_t *)m, cap); // m is its first member
}

static void *image_grow(void *env, size_t new_size) {
  return mem_grow_by(&((ward_imgmem_t *)env)->m, new_size, image_relocate);
}

// image_map maps a new memory of cap bytes holding img.
static ward_imgmem_t *image_map(ward_image_t *img, size_t cap) {
  ward_imgmem_t *im = calloc(1, sizeof *im);
  if (!im) return NULL;
  uint8_t *b = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) {
    free(im);
    return NULL;
  }
  if (mmap(b, img->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, img->fd, 0) == MAP_FAILED) {
    munmap(b, cap);
    free(im);
    return NULL;
  }
  im->m.base = b;
  im->m.cap = cap;
  return im;
}

// mem_new_image makes a memory holding img, from its pool when it can: as
// large as the image when the module declares less (the image was taken
// after the memory grew), and charged to the budget for all of it.
static void *mem_new_image(ward_image_t *img, size_t minimum, size_t maximum, size_t reserve,
                           wt_linear_memory_t *ret) {
  size_t size = img->len > minimum ? round_pages(img->len) : minimum;
  if (size > maximum) return wasmtime_error_new("ward: the image is larger than the memory's maximum");
  ward_budget_t *budget = ward_tls_proc->budget;
  if (budget && !budget_take(budget, (int64_t)size)) return budget_refused();
  ward_imgmem_t *im = NULL;
  pthread_mutex_lock(&img->mu);
  for (ward_imgmem_t **pp = &img->pool; *pp; pp = &(*pp)->next) {
    if ((*pp)->m.cap >= size) {
      im = *pp;
      *pp = im->next;
      __atomic_store_n(&img->npool, img->npool - 1, __ATOMIC_RELAXED);
      break;
    }
  }
  pthread_mutex_unlock(&img->mu);
  if (!im) im = image_map(img, round_pages(size + reserve));
  if (!im) {
    if (budget) budget_give(budget, (int64_t)size);
    return wasmtime_error_new("ward: cannot map a linear memory from its image");
  }
  __atomic_fetch_add(&img->refs, 1, __ATOMIC_SEQ_CST);
  im->img = img;
  im->next = NULL;
  im->m.size = size;
  im->m.max = maximum;
  im->m.budget = budget;
  if (budget) __atomic_fetch_add(&budget->refs, 1, __ATOMIC_SEQ_CST);
  ward_tls_proc->mem_size = size;
  ret->env = im;
  ret->get_memory = mem_get;
  ret->grow_memory = image_grow;
  ret->finalizer = image_free;
  return NULL;
}

static void mempool_free(void *env) {
  struct ward_mempool *p = env;
  while (p->free) {
    ward_mem_t *m = p->free;
    p->free = m->next;
    munmap(m->base, m->cap);
    free(m);
  }
  pthread_mutex_destroy(&p->mu);
  free(p);
}


ward_stacks_t *ward_config(wasm_config_t *c, size_t stack_size, size_t max_wasm_stack,
                           size_t max_stacks, uint64_t memory_reserve) {
  struct ward_mempool *mp = calloc(1, sizeof *mp);
  if (!mp) return NULL;
  pthread_mutex_init(&mp->mu, NULL);
  mp->reserve = memory_reserve;
  mp->max_pooled_cap = 1u << 20;     // pool memories up to 1 MiB (per-request guests)...
  mp->max_pooled_bytes = 64u << 20;  // ...holding at most 64 MiB between processes
  wt_memory_creator_t mc = {.env = mp, .new_memory = mem_new, .finalizer = mempool_free};
  wasmtime_config_host_memory_creator_set(c, &mc);
  wasmtime_config_async_support_set(c, true);
  wasmtime_config_async_stack_size_set(c, stack_size);
  wasmtime_config_max_wasm_stack_set(c, max_wasm_stack);
  wasmtime_config_consume_fuel_set(c, true);
  wasmtime_config_epoch_interruption_set(c, true);
  // Dynamic memories sized to what the guest uses, no guard regions, no
  // growth reserve and no copy-on-write images: a few pages of address space
  // and no extra VMA per process, instead of 8 GiB reserved each. The price is
  // an explicit bounds check on every load and store.
  wasmtime_config_static_memory_maximum_size_set(c, 0);
  wasmtime_config_static_memory_guard_size_set(c, 0);
  wasmtime_config_dynamic_memory_guard_size_set(c, 0);
  wasmtime_config_dynamic_memory_reserved_for_growth_set(c, 0);
  wasmtime_config_memory_init_cow_set(c, false);

  ward_stacks_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  s->stack_size = stack_size;
  s->per_chunk = 1024;
  s->max_chunks = (max_stacks + s->per_chunk - 1) / s->per_chunk;
  s->chunks = calloc(s->max_chunks, sizeof *s->chunks);
  s->metas = calloc(s->max_chunks, sizeof *s->metas);
  s->free = calloc(s->max_chunks * s->per_chunk, sizeof *s->free);
  if (!s->chunks || !s->metas || !s->free) {
    stacks_free(s);
    return NULL;
  }
  wt_stack_creator_t cr = {.env = s, .new_stack = stack_new, .finalizer = stacks_free};
  wasmtime_config_host_stack_creator_set(c, &cr);
  return s;
}


// ---------------------------------------------------------------------------
// Local sends. A Wasm process's send to a local process completes here,
// on the sender's fiber, by appending to the receiver's intake: no
// suspension, no return to Go, no goroutine woken. The receiver is found
// by id in a registry (ids are not pointers: a process that has ended is
// not found, and no message reaches anything else; and only within one
// runtime, whose engine is the domain), which a process joins
// at its first receive served in Go and leaves when its store is freed.
//
// The intake's messages are newer than everything in the receiver's Go
// mailbox: the mailbox drains the intake into its queue before any push
// or take (mailbox.Intake), and a receive in C takes from the intake only
// while the mailbox is empty (mb_count), after the inbox, whose messages
// are older. So per-sender order holds whichever way each message went.
// The intake counts against the receiver's mailbox limits (mb_count and
// mb_bytes, which the mailbox publishes, plus its own) and is charged to
// the receiver's memory budget as the mailbox's messages are.
//
// A receiver that waits in a receive sleeps in Go, and only Go can wake
// it: the first sender to append to its intake then owes it a wake
// (wake_to; wake_pending tells later senders that one is owed), and makes
// its own guest yield at its next loop back-edge or call, so that its
// goroutine performs the wake at once: the wake's latency is one safe
// point, not a time slice.
//
// When the send cannot complete here it is Go's, as before: the receiver
// is not registered (a Go process, a remote one, one that never
// received), the limits or the budget refuse (Go then reports which), its
// intake is busy, the sender owes another process a wake already, or the
// message is one Go must refuse (a reserved tag) or is large.
//
// Locks: the registry's mutex, then a receiver's inbox_lock, which C
// senders only try, a bounded number of times, while holding the
// registry's (no holder of an inbox_lock waits for the registry), so that
// freeing a process (unregister, then take its inbox_lock once) waits out
// any sender that found it. The receiver's side takes inbox_lock only to
// unlink what it takes, and copies it after.

static int64_t live_inboxes;

// live_intake counts the messages in all intakes, for tests. A sender
// adds and its receiver, on another thread, subtracts, on every message:
// one shared counter would be a cache line the two pass back and forth,
// so each thread counts in a line of its own (the sum is what counts).
enum { LIVE_SHARDS = 16 };
static struct {
  int64_t n;
  char pad[56];
} live_intake[LIVE_SHARDS] __attribute__((aligned(64)));
static int32_t live_next_shard;
static _Thread_local int32_t live_shard __attribute__((tls_model("initial-exec"))) = -1;

static inline void live_intake_add(int64_t d) {
  if (live_shard < 0)
    live_shard = __atomic_fetch_add(&live_next_shard, 1, __ATOMIC_RELAXED) % LIVE_SHARDS;
  __atomic_fetch_add(&live_intake[live_shard].n, d, __ATOMIC_RELAXED);
}

ward_inbox_t *ward_inbox_new(void) {
  ward_inbox_t *b = calloc(1, sizeof *b);
  if (b) __atomic_fetch_add(&live_inboxes, 1, __ATOMIC_RELAXED);
  return b;
}

void ward_inbox_free(ward_inbox_t *b) {
  if (!b) return;
  __atomic_fetch_sub(&live_inboxes, 1, __ATOMIC_RELAXED);
  free(b);
}

int64_t ward_live_inboxes(void) { return __atomic_load_n(&live_inboxes, __ATOMIC_RELAXED); }
int64_t ward_live_intake(void) {
  int64_t n = 0;
  for (int i = 0; i < LIVE_SHARDS; i++) n += __atomic_load_n(&live_intake[i].n, __ATOMIC_RELAXED);
  return n;
}

static int inbox_trylock(ward_proc_t *p) {
  int32_t free_ = 0;
  return __atomic_compare_exchange_n(&p->inbox_lock, &free_, 1, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// inbox_trylock_spin tries a while: a receiver taking a message holds the
// lock for one copy, and a sender that gave up at once would go through Go,
// which moves the whole intake into the mailbox (mailbox.Intake).
// It watches the lock with plain loads between tries: a compare-and-swap
// on every turn would take the line from the holder each time, and slow
// the very copy it waits for.
static int inbox_trylock_spin(ward_proc_t *p) {
  for (int i = 0; i < 256; i++) {
    if (!__atomic_load_n(&p->inbox_lock, __ATOMIC_RELAXED) && inbox_trylock(p)) return 1;
    cpu_relax();
  }
  return 0;
}

// inbox_lock_wait is for the receiver's own side, whose only rivals are
// senders holding the lock for one append.
static void inbox_lock_wait(ward_proc_t *p) {
  if (inbox_trylock_spin(p)) return; // a sender's append is shorter than a sched_yield
  while (!inbox_trylock(p)) sched_yield();
}

static void inbox_unlock(ward_proc_t *p) { __atomic_store_n(&p->inbox_lock, 0, __ATOMIC_RELEASE); }

// ward_inbox_lock_wait is inbox_lock_wait for Go's side (Proc.lockInbox),
// once plain loads have not found the lock free.
void ward_inbox_lock_wait(ward_proc_t *p) { inbox_lock_wait(p); }

static struct {
  pthread_mutex_t mu;
  ward_proc_t **buckets;
  size_t nbuckets, n; // nbuckets is 0 or a power of two
} registry = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static size_t reg_slot(uint64_t id, size_t nbuckets) {
  uint64_t h = id * 0x9E3779B97F4A7C15ull;
  return (size_t)(h ^ (h >> 29)) & (nbuckets - 1);
}

static ward_proc_t *reg_find(uint64_t id, const void *domain) {
  if (!registry.nbuckets) return NULL;
  ward_proc_t *p = registry.buckets[reg_slot(id, registry.nbuckets)];
  while (p && (p->id != id || p->domain != domain)) p = p->reg_next;
  return p;
}

static void reg_grow(void) {
  size_t nb = registry.nbuckets ? registry.nbuckets * 2 : 1024;
  ward_proc_t **b = calloc(nb, sizeof *b);
  if (!b) return; // longer chains, nothing worse
  for (size_t i = 0; i < registry.nbuckets; i++) {
    for (ward_proc_t *p = registry.buckets[i], *next; p; p = next) {
      next = p->reg_next;
      size_t s = reg_slot(p->id, nb);
      p->reg_next = b[s];
      b[s] = p;
    }
  }
  free(registry.buckets);
  registry.buckets = b;
  registry.nbuckets = nb;
}

static void reg_insert(ward_proc_t *p) {
  size_t s = reg_slot(p->id, registry.nbuckets);
  p->reg_next = registry.buckets[s];
  registry.buckets[s] = p;
  p->registered = 1;
}

// reg_unlink removes p from its chain; the registry's mutex is held.
static void reg_unlink(ward_proc_t *p) {
  ward_proc_t **pp = &registry.buckets[reg_slot(p->id, registry.nbuckets)];
  while (*pp && *pp != p) pp = &(*pp)->reg_next;
  if (*pp) *pp = p->reg_next;
  p->reg_next = NULL;
  p->registered = 0;
}

// ward_proc_register lets other processes' sends to p complete in C. Go
// calls it once p's mailbox publishes its counts to p (SetIntake) and its
// limits are in local_msgs and local_bytes.
void ward_proc_register(ward_proc_t *p) {
  pthread_mutex_lock(&registry.mu);
  if (!p->registered) {
    if (registry.n >= registry.nbuckets) reg_grow();
    if (registry.nbuckets) {
      reg_insert(p);
      registry.n++;
    }
  }
  pthread_mutex_unlock(&registry.mu);
}

static void intake_give(ward_proc_t *p, uint32_t len) {
  // Stored atomically, as every write of intake_n is: senders, Go
  // (Pending) and spinning receives read it without the lock.
  __atomic_store_n(&p->intake_n, p->intake_n - 1, __ATOMIC_RELEASE);
  p->intake_bytes -= len;
  budget_give(p->budget, (int64_t)len + WARD_INTAKE_OVERHEAD);
  live_intake_add(-1);
}

void ward_intake_free(ward_intake_msg_t *m) {
  while (m) {
    ward_intake_msg_t *next = m->next;
    free(m);
    m = next;
  }
}

// ward_intake_detach empties p's intake and returns its messages, oldest
// first, for the mailbox to queue (it charges them to the budget itself);
// free them with ward_intake_free.
ward_intake_msg_t *ward_intake_detach(ward_proc_t *p) {
  inbox_lock_wait(p);
  ward_intake_msg_t *head = p->intake_head;
  // The mailbox publishes its counts once these are in its queue: until
  // then they would be in neither, and a receive in C, told the mailbox
  // is empty, would take a message appended behind them first. So they
  // count as the mailbox's from here; its publish finds the same figures.
  // The mailbox's lock is held (Drain), or it has let go of p (unregister).
  if (head) {
    __atomic_store_n(&p->mb_count, p->mb_count + p->intake_n, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->mb_bytes, p->mb_bytes + p->intake_bytes, __ATOMIC_SEQ_CST);
  }
  for (ward_intake_msg_t *m = head; m; m = m->next) intake_give(p, m->len);
  p->intake_head = p->intake_tail = NULL;
  inbox_unlock(p);
  return head;
}

// unregister takes p out of the registry and waits out a sender that
// found it before: after this no sender touches p. What its intake still
// holds goes with it.
static void unregister(ward_proc_t *p) {
  if (!p->registered) return;
  pthread_mutex_lock(&registry.mu);
  reg_unlink(p);
  registry.n--;
  pthread_mutex_unlock(&registry.mu);
  ward_intake_free(ward_intake_detach(p));
}

// ward_proc_move_inbox gives the inbox and intake of from, and its place
// in the registry, to to: the same process's new instance after an
// upgrade, which has neither yet.
void ward_proc_move_inbox(ward_proc_t *from, ward_proc_t *to) {
  pthread_mutex_lock(&registry.mu);
  inbox_lock_wait(from);
  to->inbox = from->inbox;
  from->inbox = NULL;
  to->intake_head = from->intake_head;
  to->intake_tail = from->intake_tail;
  __atomic_store_n(&to->intake_n, from->intake_n, __ATOMIC_RELEASE);
  to->intake_bytes = from->intake_bytes;
  from->intake_head = from->intake_tail = NULL;
  __atomic_store_n(&from->intake_n, 0, __ATOMIC_RELEASE);
  from->intake_bytes = 0;
  to->local_msgs = from->local_msgs;
  to->local_bytes = from->local_bytes;
  to->intake_max = from->intake_max;
  to->waiting = from->waiting;
  // Not the mailbox's counts: it publishes them into to itself (Go's
  // MoveInbox), and may have published newer ones than from's since.
  if (from->registered) {
    reg_unlink(from);
    reg_insert(to);
  }
  inbox_unlock(from);
  pthread_mutex_unlock(&registry.mu);
}

// send_local completes p's pending send to the process to in C, if it can
// (see above): 1 when the message is in the receiver's intake.
static int send_local(ward_proc_t *p, uint64_t to) {
  if (!p->may_send || p->out_tag < 0 || p->out_len > WARD_INTAKE_MAX_MESSAGE) return 0;
  uint32_t len = (uint32_t)p->out_len;
  // Made before the receiver is locked, which its receives then wait on
  // for as little as can be; wasted only on the way to Go, which copies
  // the message again anyway.
  ward_intake_msg_t *m = malloc(sizeof *m + len);
  if (!m) return 0;
  m->next = NULL;
  m->tag = p->out_tag;
  m->sender = p->id;
  m->len = len;
  if (len) memcpy(m + 1, p->out_data, len);
  pthread_mutex_lock(&registry.mu);
  ward_proc_t *q = reg_find(to, p->domain);
  int locked = q && inbox_trylock_spin(q);
  // Still held after the spin: its holder was likely descheduled. Giving
  // up sends the message through Go, which moves the whole intake into
  // the mailbox, and the receiver then takes every message through Go
  // until it has caught up: worth a few yields (without the registry's
  // mutex, which other senders need) to avoid.
  for (int i = 0; q && !locked && i < 16; i++) {
    pthread_mutex_unlock(&registry.mu);
    sched_yield();
    pthread_mutex_lock(&registry.mu);
    q = reg_find(to, p->domain);
    locked = q && inbox_trylock_spin(q);
  }
  if (!locked) {
    pthread_mutex_unlock(&registry.mu);
    free(m);
    return 0;
  }
  pthread_mutex_unlock(&registry.mu);
  int ok = 0, wake = __atomic_load_n(&q->waiting, __ATOMIC_ACQUIRE) && !q->wake_pending;
  if ((!wake || !p->wake_to || p->wake_to == to) && len <= q->intake_max &&
      __atomic_load_n(&q->mb_count, __ATOMIC_ACQUIRE) + q->intake_n < q->local_msgs &&
      __atomic_load_n(&q->mb_bytes, __ATOMIC_ACQUIRE) + q->intake_bytes + len <= q->local_bytes &&
      (!q->budget || budget_take(q->budget, (int64_t)len + WARD_INTAKE_OVERHEAD))) {
    if (q->intake_tail)
      q->intake_tail->next = m;
    else
      q->intake_head = m;
    q->intake_tail = m;
    __atomic_store_n(&q->intake_n, q->intake_n + 1, __ATOMIC_RELEASE);
    q->intake_bytes += len;
    ok = 1;
    if (wake) {
      q->wake_pending = 1;
      p->wake_to = to;
    }
  }
  inbox_unlock(q);
  if (!ok) {
    free(m);
    return 0;
  }
  live_intake_add(1);
  p->out_len = 0; // sent once, as Go's Outgoing empties it
  p->sent_in_c++;
  if (p->wake_to) wasmtime_context_set_epoch_deadline(p->ctx, 0); // yield at the next safe point
  return 1;
}

// tags_match reports whether tag is among the n little-endian i64s at tags
// (any tag when n is 0).
static int tags_match(const uint8_t *tags, size_t n, int64_t tag) {
  for (size_t j = 0; j < n; j++) {
    int64_t t;
    memcpy(&t, tags + j * 8, 8);
    if (t == tag) return 1;
  }
  return n == 0;
}

// filter_in_memory reports whether a receive's filter of n tags at ptr is
// one Go would accept (readTags): at most WARD_MAX_RECEIVE_TAGS, within
// p's memory as its pending host call saw it. Go reports any other.
static int filter_in_memory(const ward_proc_t *p, uint32_t ptr, uint32_t n) {
  return n <= WARD_MAX_RECEIVE_TAGS && (uint64_t)ptr + (uint64_t)n * 8 <= p->mem_len;
}

// intake_take makes the oldest intake message whose tag is among tags the
// current message, as inbox_take does, when the mailbox holds nothing
// (which would be older).
static int intake_take(ward_proc_t *p, const uint8_t *tags, size_t ntags) {
  if (!__atomic_load_n(&p->intake_n, __ATOMIC_ACQUIRE)) return 0;
  // The messages are unlinked under the lock and copied after it. A
  // copy that fails loses them, but the receive then traps (see
  // ward_proc_take_ahead), and the process ends with its messages.
  //
  // A receive of any message also moves the messages behind the one it
  // takes into the inbox, as far as they fit (Go's Ahead does the same
  // from the mailbox): the receives that follow then take them without
  // the lock, whose line the sender, appending, keeps taking away. The
  // inbox is empty then (inbox_take found nothing), and what it holds is
  // older than anything left in the intake or the mailbox, as it must be.
  ward_inbox_t *b = p->inbox;
  int batch = ntags == 0 && (!b || b->n == 0) &&
              __atomic_load_n(&p->intake_n, __ATOMIC_ACQUIRE) > 1;
  if (batch && !b) b = p->inbox = ward_inbox_new();
  if (!b) batch = 0;
  if (batch) b->head = b->used = 0; // it is empty
  uint32_t room = WARD_INBOX_MAX, room_bytes = WARD_INBOX_BYTES;
  inbox_lock_wait(p);
  ward_intake_msg_t *m = NULL, *prev = NULL, *more = NULL;
  if (__atomic_load_n(&p->mb_count, __ATOMIC_ACQUIRE) == 0) {
    for (ward_intake_msg_t *e = p->intake_head; e; prev = e, e = e->next) {
      if (tags_match(tags, ntags, e->tag)) {
        m = e;
        break;
      }
    }
  }
  if (!m) {
    inbox_unlock(p);
    return 0;
  }
  // m and the run behind it that goes to the inbox, [m, last], leave.
  ward_intake_msg_t *last = m;
  uint32_t n = 1;
  int64_t bytes = m->len;
  if (batch) {
    for (ward_intake_msg_t *e = m->next; e && room && e->len <= room_bytes; e = e->next) {
      room--;
      room_bytes -= e->len;
      last = e;
      n++;
      bytes += e->len;
    }
  }
  if (last != m) more = m->next;
  if (prev)
    prev->next = last->next;
  else
    p->intake_head = last->next;
  if (p->intake_tail == last) p->intake_tail = prev;
  last->next = NULL;
  __atomic_store_n(&p->intake_n, p->intake_n - n, __ATOMIC_RELEASE);
  p->intake_bytes -= bytes;
  inbox_unlock(p);
  int r = ward_proc_set_in(p, (const uint8_t *)(m + 1), m->len, m->tag, m->sender) ? 1 : -1;
  free(m);
  while (more) {
    ward_intake_msg_t *e = more;
    more = e->next;
    if (r > 0) {
      ward_inmsg_t *x = &b->entries[b->head + b->n];
      x->tag = e->tag;
      x->sender = e->sender;
      x->off = b->used;
      x->len = e->len;
      if (e->len) memcpy(b->data + b->used, e + 1, e->len);
      b->used += e->len;
      b->n++;
    }
    free(e); // else lost with the process, which traps
  }
  budget_give(p->budget, bytes + (int64_t)n * WARD_INTAKE_OVERHEAD);
  live_intake_add(-(int64_t)n);
  return r;
}

// ---------------------------------------------------------------------------
// Hand-off (runtime/handoff.go). A requester whose send_receive takes over
// a receiver parked in a receive runs it on its own goroutine. Two things
// here spare that round trip the queues on both ways:
//
//   - the request goes from the requester's outgoing buffer straight into
//     the receiver's current message, completing the receive it waits in,
//     and the receiver is polled in the same call (ward_handoff_run): one
//     cgo call, no copy through Go, no mailbox;
//   - the receiver's reply to its borrower, which waits for it, goes
//     straight into the borrower's current message, completing its
//     send_receive (handoff_reply): no intake, no lock, and Go finds the
//     call complete without a look of its own.
//
// Either way it is a message the queues would have delivered at once: the
// receiving side holds nothing older (no inbox, intake or mailbox message,
// signals included), its filter takes it, and it passes what a message
// queued in an empty mailbox passes (the mailbox limits and the memory
// budget), so no guest can tell which way it went. Anything else takes the
// queued way. Sends that complete here count as sends in C.

static int grow_buffer(ward_proc_t *p, uint8_t **data, size_t *cap, size_t want);

// handoff_fits reports whether a message of len bytes may become q's
// current message at once (see above), growing q's buffer for it if need
// be. A buffer that cannot grow is left to the queued way, which reports
// that to the guest.
static int handoff_fits(ward_proc_t *q, size_t len) {
  if ((q->inbox && q->inbox->n) || __atomic_load_n(&q->intake_n, __ATOMIC_ACQUIRE) ||
      __atomic_load_n(&q->mb_count, __ATOMIC_ACQUIRE))
    return 0;
  if (!q->registered || q->local_msgs < 1 || (int64_t)len > q->local_bytes) return 0;
  // The budget as the message would meet it queued, for an instant: a
  // look, not a charge and its refund, whose writes would take every
  // budget's line up the chain from the other cores charging it.
  int64_t cost = (int64_t)len + WARD_INTAKE_OVERHEAD;
  for (ward_budget_t *b = q->budget; b; b = b->parent)
    if (__atomic_load_n(&b->used, __ATOMIC_ACQUIRE) > b->max - cost) return 0;
  return len <= q->in_cap || grow_buffer(q, &q->in_data, &q->in_cap, len) > 0;
}

// handoff_deliver makes from's outgoing message to's current message,
// completing the receive to waits in, and counts it a send in C: 1 when it
// did, 0, having done nothing, when to's buffer cannot take it.
static int handoff_deliver(ward_proc_t *from, ward_proc_t *to) {
  if (!ward_proc_set_in(to, from->out_data, from->out_len, from->out_tag, from->id)) return 0;
  to->hret[0] = WARD_STATUS_OK;
  to->ready = 1;
  from->out_len = 0; // sent once
  from->sent_in_c++;
  return 1;
}

// handoff_reply completes p's pending send to its borrower in the
// borrower's current message, when the borrower waits for it (see above):
// 1 when it did.
static int handoff_reply(ward_proc_t *p, uint64_t to) {
  ward_proc_t *b = p->borrower;
  if (!b || b->id != to || !b->awaits_reply || b->ready || !b->host || !p->may_send ||
      p->out_tag < 0)
    return 0;
  // send_receive(pid, tags_ptr, tags_count, timeout): the filter is the
  // borrower's, in its memory, which stays put while it waits. One Go
  // refuses is Go's to report.
  uint32_t ptr = (uint32_t)b->hargs[1], n = (uint32_t)b->hargs[2];
  if (!filter_in_memory(b, ptr, n)) return 0;
  if (!tags_match(n ? b->mem + ptr : NULL, n, p->out_tag) || !handoff_fits(b, p->out_len) ||
      !handoff_deliver(p, b))
    return 0;
  b->awaits_reply = 0;
  return 1;
}

// ward_handoff_run delivers from's outgoing message to to, which from's
// goroutine has taken over while it waits in a receive without a timeout
// whose filter takes the message (Go checks both), then runs to as the
// borrower does (runtime/handoff.go, runBorrowed), with from as its
// borrower, waiting for a reply. It returns -1, having done nothing, when
// the message must take the queued way, and the poll's status otherwise.
int ward_handoff_run(ward_proc_t *from, ward_proc_t *to) {
  if (!to->host || to->ready || from->out_tag < 0 || !handoff_fits(to, from->out_len) ||
      !handoff_deliver(from, to))
    return -1;
  to->fresh_slice = 1; // it waited until now: a preemption at once would hand it back
  inbox_lock_wait(to);  // Go's Resume: it runs, and no sender owes it a wake
  to->waiting = 0;
  to->wake_pending = 0;
  inbox_unlock(to);
  to->spin_off = 1; // its sender is the goroutine a spin would wait for
  to->borrower = from;
  from->awaits_reply = 1;
  return ward_proc_poll(to);
}

// ---------------------------------------------------------------------------
// Host functions that need Go. The callback runs on the fiber: it records
// the call in the proc and returns a continuation that stays pending until
// Go, back on the goroutine's own stack, sets ready. No Go code runs here
// (Go on a fiber stack dies with "morestack on g0").

static int charge_stack(ward_proc_t *p);

static bool cont_cb(void *env) {
  ward_proc_t *p = env;
  if (!p->ready) return false;
  const ward_hostfn_t *h = p->host;
  p->ready = 0;
  p->host = NULL;
  p->mem = NULL;
  p->mem_len = 0;
  if (p->htrap_msg) {
    // wasmtime reads trap_ret after the continuation reports completion.
    *p->htrap = wasmtime_trap_new(p->htrap_msg, strlen(p->htrap_msg));
    free(p->htrap_msg);
    p->htrap_msg = NULL;
    return true;
  }
  for (int i = 0; i < h->nresults; i++) {
    p->hresults[i].kind = h->results[i];
    if (h->results[i] == WT_I32)
      p->hresults[i].of.i32 = (int32_t)p->hret[i];
    else
      p->hresults[i].of.i64 = p->hret[i];
  }
  return true;
}

// caller_memory finds the caller's exported "memory". The lookup by name
// costs a hash-map probe in wasmtime, so the result is cached in the proc:
// an instance's exports never change.
static int caller_memory(ward_proc_t *p, wasmtime_caller_t *caller, uint8_t **base, size_t *size) {
  if (!p->has_memory) {
    wt_extern_t ext;
    if (!wasmtime_caller_export_get(caller, "memory", 6, &ext) || ext.kind != WT_EXTERN_MEMORY)
      return 0;
    p->memory = ext.of.memory;
    p->has_memory = 1;
  }
  wasmtime_context_t *ctx = wasmtime_caller_context(caller);
  *base = wasmtime_memory_data(ctx, &p->memory);
  *size = wasmtime_memory_data_size(ctx, &p->memory);
  return 1;
}

static void snapshot_memory(ward_proc_t *p, wasmtime_caller_t *caller) {
  p->mem = NULL;
  p->mem_len = 0;
  caller_memory(p, caller, &p->mem, &p->mem_len);
}

// inbox_take makes the oldest inbox message whose tag is among tags
// (ntags little-endian i64s, unaligned; any message when ntags is 0) the
// current message. It returns 1 when it did, 0 when none matches, and -1
// when one matches but the current message's buffer cannot grow: the
// receive must then fail rather than take a newer message from Go.
static int inbox_take(ward_proc_t *p, const uint8_t *tags, size_t ntags) {
  ward_inbox_t *b = p->inbox;
  if (!b) return 0;
  for (uint32_t i = b->head; i < b->head + b->n; i++) {
    ward_inmsg_t *e = &b->entries[i];
    if (!tags_match(tags, ntags, e->tag)) continue;
    if (!ward_proc_set_in(p, b->data + e->off, e->len, e->tag, e->sender)) return -1;
    if (i == b->head)
      b->head++;
    else
      memmove(e, e + 1, (b->head + b->n - i - 1) * sizeof *e);
    if (--b->n == 0) b->head = b->used = 0;
    return 1;
  }
  return 0;
}

// ward_proc_take_ahead serves the pending host call's receive, its filter
// of n tags at ptr in the caller's memory, from the inbox when a message
// there matches (inbox_take's results). Anything else, bad arguments
// included, is left to Go, whose checks these are (readTags), so that no
// answer depends on whether a message went ahead. A filter of no tags reads
// no memory, but its pointer must still lie within it (mem_len is 0 for a
// guest without one, where only 0 does).
int ward_proc_take_ahead(ward_proc_t *p, uint32_t ptr, uint32_t n) {
  if ((!p->inbox || !p->inbox->n) && !__atomic_load_n(&p->intake_n, __ATOMIC_ACQUIRE)) return 0;
  if (!filter_in_memory(p, ptr, n)) return 0;
  const uint8_t *tags = n ? p->mem + ptr : NULL;
  int r = inbox_take(p, tags, n);
  return r ? r : intake_take(p, tags, n);
}

// ward_proc_take_intake is intake_take with the filter from Go (n tags).
int ward_proc_take_intake(ward_proc_t *p, const int64_t *tags, size_t n) {
  return intake_take(p, (const uint8_t *)tags, n);
}

// ---------------------------------------------------------------------------
// Spinning receives. A receive that finds nothing would go to Go and park
// its goroutine; the next send in C then owes it a wake, which costs the
// sender a forced yield and Go a goroutine wake-up, several microseconds
// against the send's fraction of one. A receiver that drains faster than
// its sender produces (the common case: taking is cheaper than sending)
// would pay that on nearly every message. So, as BEAM's schedulers do
// before they sleep, the receive first spins here, on the fiber, for at
// most WARD_SPIN_NS, watching its intake: senders see it not waiting, owe
// it nothing, and the message they append completes the receive in C.
//
// It spins only when that cannot keep anything else from running or
// delay anything only Go sees (docs/why.md): never for a receive with a
// timeout of 0, nor for a process a borrower runs (spin_off: its sender is
// the goroutine spinning), nor with a single run slot; and it stops at
// once when a process waits for a run slot, when no other process holds
// one (no send in C can come), and when its mailbox gets a message
// (mb_count: from Go, or a signal) or is woken (mb_gen: a kill), all of
// which Go serves.

#define WARD_SPIN_NS 5000

// For tests (ward_spin_observe): the bound, and what spins do.
static int64_t spin_ns = WARD_SPIN_NS;
static int32_t spin_observed;
static int64_t spins_now, spins_woken;

int64_t ward_spin_observe(int64_t ns, int64_t *now, int64_t *woken) {
  int64_t old = ns > 0 ? __atomic_exchange_n(&spin_ns, ns, __ATOMIC_SEQ_CST)
                       : __atomic_load_n(&spin_ns, __ATOMIC_SEQ_CST);
  __atomic_store_n(&spin_observed, 1, __ATOMIC_SEQ_CST);
  *now = __atomic_load_n(&spins_now, __ATOMIC_SEQ_CST);
  *woken = __atomic_load_n(&spins_woken, __ATOMIC_SEQ_CST);
  return old;
}

static inline int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// spin_gate_open reports whether a spin may go on: nobody waits for a run
// slot, and some other process holds one.
static inline int spin_gate_open(const ward_run_gate_t *g) {
  int64_t f = __atomic_load_n(&g->free, __ATOMIC_RELAXED);
  return f >= 0 && f < g->slots - 1;
}

static int spin_loop(ward_proc_t *p, const ward_run_gate_t *g, uint32_t ptr, uint32_t ntags,
                     uint32_t gen);

// spin_take spins for the pending receive h (see above) and returns
// ward_proc_take_ahead's result for the message it found, or 0.
static int spin_take(ward_proc_t *p, const ward_hostfn_t *h) {
  const ward_run_gate_t *g = h->gate;
  // Unregistered, it can get nothing in C, and its mailbox tells it
  // nothing either (Publish): its first receive is Go's.
  if (!g || g->slots < 2 || !p->registered || p->spin_off || p->hargs[2] == 0 ||
      !spin_gate_open(g))
    return 0;
  // A filter Go refuses is Go's to report, at once.
  uint32_t ptr = (uint32_t)p->hargs[0], ntags = (uint32_t)p->hargs[1];
  if (!filter_in_memory(p, ptr, ntags)) return 0;
  uint32_t gen = __atomic_load_n(&p->mb_gen, __ATOMIC_ACQUIRE);
  if (__atomic_load_n(&p->mb_count, __ATOMIC_ACQUIRE)) return 0; // Go's to serve
  if (!__atomic_load_n(&spin_observed, __ATOMIC_RELAXED)) return spin_loop(p, g, ptr, ntags, gen);
  __atomic_fetch_add(&spins_now, 1, __ATOMIC_SEQ_CST);
  int r = spin_loop(p, g, ptr, ntags, gen);
  if (!r && (__atomic_load_n(&p->mb_gen, __ATOMIC_ACQUIRE) != gen ||
             __atomic_load_n(&p->mb_count, __ATOMIC_ACQUIRE)))
    __atomic_fetch_add(&spins_woken, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_sub(&spins_now, 1, __ATOMIC_SEQ_CST);
  return r;
}

// spin_loop is the spin itself: until a message is taken or the spin must
// stop (see above).
static int spin_loop(ward_proc_t *p, const ward_run_gate_t *g, uint32_t ptr, uint32_t ntags,
                     uint32_t gen) {
  int64_t deadline = mono_ns() + __atomic_load_n(&spin_ns, __ATOMIC_RELAXED);
  uint32_t tried = __atomic_load_n(&p->intake_n, __ATOMIC_ACQUIRE); // none matched
  for (;;) {
    for (int i = 0; i < 16; i++) {
      uint32_t n = __atomic_load_n(&p->intake_n, __ATOMIC_ACQUIRE);
      if (n != tried) {
        if (n) {
          int r = ward_proc_take_ahead(p, ptr, ntags);
          if (r) return r;
        }
        tried = n;
      }
      cpu_relax();
    }
    if (__atomic_load_n(&p->mb_count, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&p->mb_gen, __ATOMIC_ACQUIRE) != gen || !spin_gate_open(g) ||
        mono_ns() >= deadline)
      return 0;
  }
}

static void async_cb(void *env, wasmtime_caller_t *caller, const wt_val_t *args, size_t nargs,
                     wt_val_t *results, size_t nresults, wasm_trap_t **trap_ret,
                     wt_async_continuation_t *cont) {
  (void)nresults;
  ward_proc_t *p = proc_of(caller);
  const ward_hostfn_t *h = env;
  p->host = h;
  for (size_t i = 0; i < nargs && i < WARD_MAX_HOST_ARGS; i++)
    p->hargs[i] = args[i].kind == WT_I32 ? args[i].of.i32 : args[i].of.i64;
  snapshot_memory(p, caller);
  p->hresults = results;
  p->htrap = trap_ret;
  p->ready = 0;
  int charged = charge_stack(p);
  int ahead = charged && h->receive
                  ? ward_proc_take_ahead(p, (uint32_t)p->hargs[0], (uint32_t)p->hargs[1])
                  : 0;
  if (charged && h->receive && !ahead) ahead = spin_take(p, h);
  if (charged && h->send &&
      (handoff_reply(p, (uint64_t)p->hargs[0]) || send_local(p, (uint64_t)p->hargs[0]))) {
    p->hret[0] = WARD_STATUS_OK;
    p->ready = 1; // complete before the first poll: wasmtime never suspends
  } else if (!charged) {
    // The call would wait holding a stack its environment has no room
    // for: it traps instead, before Go sees it.
    p->htrap_msg = strdup("ward: the environment's MaxTotalMemory cannot hold this process's stack");
    p->ready = p->htrap_msg != NULL;
  } else if (ahead > 0) {
    // Complete before the first poll: wasmtime then never suspends.
    p->hret[0] = WARD_STATUS_OK;
    p->ready = 1;
  } else if (ahead < 0) {
    // As Go's path does when it cannot copy a message in. Should even
    // strdup fail, Go serves the receive, out of order: memory is gone.
    p->htrap_msg = strdup("ward_message.receive: out of memory for the message");
    p->ready = p->htrap_msg != NULL;
  }
  cont->callback = cont_cb;
  cont->env = p;
  cont->finalizer = NULL;
}

static wasm_functype_t *functype(const ward_hostfn_t *d) {
  wasm_valtype_t *ps[WARD_MAX_HOST_ARGS], *rs[4];
  wt_ptr_vec_t pv, rv;
  for (int i = 0; i < d->nparams; i++) ps[i] = wasm_valtype_new(d->params[i]);
  for (int i = 0; i < d->nresults; i++) rs[i] = wasm_valtype_new(d->results[i]);
  if (d->nparams)
    wasm_valtype_vec_new(&pv, d->nparams, ps);
  else
    wasm_valtype_vec_new_empty(&pv);
  if (d->nresults)
    wasm_valtype_vec_new(&rv, d->nresults, rs);
  else
    wasm_valtype_vec_new_empty(&rv);
  return wasm_functype_new(&pv, &rv);
}

wasmtime_error_t *ward_define_async(wasmtime_linker_t *l, const char *ns, const char *name,
                                    const ward_hostfn_t *desc) {
  wasm_functype_t *ty = functype(desc);
  wasmtime_error_t *e = wasmtime_linker_define_async_func(
      l, ns, strlen(ns), name, strlen(name), ty, async_cb, (void *)desc, NULL);
  wasm_functype_delete(ty);
  return e;
}

// ---------------------------------------------------------------------------
// Host functions implemented in C: the hot paths, about 11 ns a call.

// They use wasmtime's unchecked form: arguments and results share one array
// of raw values (results overwrite arguments from index 0), which spares the
// typed form's conversions and allocations on every call.
#define C_HOSTFN(name)                                                                 \
  static wasm_trap_t *name(void *env, wasmtime_caller_t *caller, wt_val_raw_t *v, size_t n)

C_HOSTFN(c_self) {
  (void)env, (void)n;
  v[0].i64 = (int64_t)proc_of(caller)->id;
  return NULL;
}

static const char exit_msg[] = "ward: process called exit";

C_HOSTFN(c_exit) {
  (void)env, (void)n;
  ward_proc_t *p = proc_of(caller);
  p->exited = 1;
  p->exit_code = v[0].i32;
  // A trap is the only way to unwind the guest from a host call; Go reads
  // p->exited to report an exit status instead of a trap.
  return wasmtime_trap_new(exit_msg, sizeof exit_msg - 1);
}

// guest_range returns the caller's memory at [ptr, ptr+len), or NULL when
// any of it lies outside; a NULL with len 0 is never returned for a valid
// empty range.
static uint8_t *guest_range(wasmtime_caller_t *caller, int32_t ptr, int32_t len) {
  uint8_t *base;
  size_t size;
  if (!caller_memory(proc_of(caller), caller, &base, &size)) return NULL;
  uint64_t start = (uint32_t)ptr, count = (uint32_t)len;
  if (start + count > size) return NULL;
  return base + start;
}

static wasm_trap_t *bad_range(const char *fn) {
  char msg[128];
  int n = snprintf(msg, sizeof msg, "%s: pointer range outside the caller's memory", fn);
  return wasmtime_trap_new(msg, (size_t)n);
}

// charge_buffer charges the growth of a message buffer from old to want
// bytes to the process's budget: the buffers are host memory the guest
// sizes (up to WARD_MAX_MESSAGE each), so they count with its memory.
static int charge_buffer(ward_proc_t *p, size_t old, size_t want) {
  if (!p->budget || want <= old) return 1;
  if (!budget_take(p->budget, (int64_t)(want - old))) return 0;
  p->buffer_charge += (int64_t)(want - old);
  return 1;
}

// grow_buffer grows *data, of *cap bytes, to want bytes, charged to p's
// budget as charge_buffer does: 1 when it did, 0 when the budget has no
// room, -1 when malloc fails (the charge is given back).
static int grow_buffer(ward_proc_t *p, uint8_t **data, size_t *cap, size_t want) {
  if (!charge_buffer(p, *cap, want)) return 0;
  uint8_t *b = realloc(*data, want);
  if (!b) {
    if (p->budget) {
      budget_give(p->budget, (int64_t)(want - *cap));
      p->buffer_charge -= (int64_t)(want - *cap);
    }
    return -1;
  }
  *data = b;
  *cap = want;
  return 1;
}

C_HOSTFN(c_create_data) {
  (void)env, (void)n;
  ward_proc_t *p = proc_of(caller);
  p->out_len = 0;
  p->out_tag = v[0].i64;
  return NULL;
}

C_HOSTFN(c_write_data) {
  (void)env, (void)n;
  ward_proc_t *p = proc_of(caller);
  uint8_t *src = guest_range(caller, v[0].i32, v[1].i32);
  if (!src) return bad_range("ward_message.write_data");
  size_t len = (uint32_t)v[1].i32;
  if (p->out_len + len > WARD_MAX_MESSAGE) {
    v[0].i32 = 1; // ErrLimit
    return NULL;
  }
  if (p->out_len + len > p->out_cap) {
    size_t cap = p->out_cap ? p->out_cap : 256;
    while (cap < p->out_len + len) cap *= 2;
    if (grow_buffer(p, &p->out_data, &p->out_cap, cap) <= 0) {
      v[0].i32 = 1; // ErrLimit: the environment's MaxTotalMemory, or malloc's
      return NULL;
    }
  }
  memcpy(p->out_data + p->out_len, src, len);
  p->out_len += len;
  v[0].i32 = 0;
  return NULL;
}

C_HOSTFN(c_read_data) {
  (void)env, (void)n;
  ward_proc_t *p = proc_of(caller);
  uint8_t *dst = guest_range(caller, v[0].i32, v[1].i32);
  if (!dst) return bad_range("ward_message.read_data");
  size_t want = (uint32_t)v[1].i32, left = p->in_len - p->in_pos;
  size_t len = want < left ? want : left;
  if (len) memcpy(dst, p->in_data + p->in_pos, len);
  p->in_pos += len;
  v[0].i32 = (int32_t)len;
  return NULL;
}

C_HOSTFN(c_data_size) {
  (void)env, (void)n;
  v[0].i64 = (int64_t)proc_of(caller)->in_len;
  return NULL;
}

C_HOSTFN(c_get_tag) {
  (void)env, (void)n;
  v[0].i64 = proc_of(caller)->in_tag;
  return NULL;
}

C_HOSTFN(c_sender) {
  (void)env, (void)n;
  v[0].i64 = (int64_t)proc_of(caller)->in_sender;
  return NULL;
}

// Fresh tags start far above the small numbers programs pick by hand.
static _Atomic int64_t next_tag = (int64_t)1 << 48;

int64_t ward_unique_tag(void) { return atomic_fetch_add(&next_tag, 1); }

C_HOSTFN(c_unique_tag) {
  (void)env, (void)caller, (void)n;
  v[0].i64 = ward_unique_tag();
  return NULL;
}

// observe_fuel brings fuel_used up to date. It costs one call into
// wasmtime, no more than a poll's own bookkeeping.
static void observe_fuel(ward_proc_t *p) {
  uint64_t left;
  wasmtime_error_t *e = wasmtime_context_get_fuel(p->ctx, &left);
  if (e) {
    wasmtime_error_delete(e);
    return;
  }
  __atomic_store_n(&p->fuel_used, p->fuel_spent + (p->fuel_tank - left), __ATOMIC_RELAXED);
}

// refill fills the tank again, for a message from another process: a
// server's budget is per message. A process's messages to itself do not
// count, or fuel would bound nothing. Called with the guest suspended in a
// host call or between polls, where wasmtime has saved the fuel counter.
static void refill(ward_proc_t *p, uint64_t sender) {
  if (!p->refill || sender == p->id) return;
  uint64_t left;
  wasmtime_error_t *e = wasmtime_context_get_fuel(p->ctx, &left);
  if (!e) e = wasmtime_context_set_fuel(p->ctx, p->refill);
  if (e) {
    wasmtime_error_delete(e);
    return;
  }
  p->fuel_spent += p->fuel_tank - left;
  p->fuel_tank = p->refill;
}

int ward_proc_set_in(ward_proc_t *p, const uint8_t *data, size_t len, int64_t tag,
                     uint64_t sender) {
  if (len > p->in_cap) {
    int grown = grow_buffer(p, &p->in_data, &p->in_cap, len);
    if (grown == 0) p->budget_refused = 1; // the receive traps: the environment's memory is full
    if (grown <= 0) return 0;
  }
  if (len) memcpy(p->in_data, data, len);
  p->in_len = len;
  p->in_pos = 0;
  p->in_tag = tag;
  p->in_sender = sender;
  refill(p, sender);
  return 1;
}

// ---------------------------------------------------------------------------
// Synchronous message calls. send and receive are async host calls
// (async_cb): either may need Go, and only an async call can suspend the
// guest until Go has answered. But most complete in C before wasmtime
// ever polls them (a send to a local receiver, send_local; a receive that
// finds a message, ward_proc_take_ahead), and wasmtime's async wrapper
// costs those about as much again as the work itself (value conversions,
// a boxed future, its poll). try_send and try_receive are the same C
// paths as plain synchronous calls, which cannot suspend: where the async
// call would have completed in C they give the same answer, with the same
// effects (order, limits, budget, fuel refill, the wake owed left for
// the next safe point); anywhere else they change nothing and return
// ErrAgain, and the guest makes the async call, which serves the case,
// including every error and every check that is Go's to make.

#define WARD_STATUS_AGAIN 8 // abi.ErrAgain

C_HOSTFN(c_try_send) {
  (void)env, (void)n;
  ward_proc_t *p = proc_of(caller);
  // send_local leaves the outgoing message as it was when it fails.
  v[0].i32 = send_local(p, (uint64_t)v[0].i64) ? WARD_STATUS_OK : WARD_STATUS_AGAIN;
  return NULL;
}

static const char try_receive_oom[] = "ward_message.try_receive: out of memory for the message";

C_HOSTFN(c_try_receive) {
  (void)env, (void)n;
  ward_proc_t *p = proc_of(caller);
  uint32_t ptr = (uint32_t)v[0].i32, ntags = (uint32_t)v[1].i32;
  // Too many tags is receive's ErrInvalid to report; a range outside
  // memory traps here, as it would there (readTags, whose order of checks
  // this keeps), so a bad filter has one answer whether or not a message
  // is waiting.
  if (ntags > WARD_MAX_RECEIVE_TAGS) {
    v[0].i32 = WARD_STATUS_AGAIN;
    return NULL;
  }
  // ward_proc_take_ahead reads the filter through the snapshot an async
  // call takes; no async call is pending while this one runs (the guest
  // is in this call), and the snapshot is gone again before it returns.
  // The usual receive, of any message with no filter at 0, needs none:
  // it reads nothing, and 0 is always in range.
  if (ptr || ntags) {
    snapshot_memory(p, caller);
    if (!filter_in_memory(p, ptr, ntags)) {
      p->mem = NULL;
      p->mem_len = 0;
      return bad_range("ward_message.try_receive");
    }
  }
  int r = ward_proc_take_ahead(p, ptr, ntags);
  p->mem = NULL;
  p->mem_len = 0;
  if (r < 0) return wasmtime_trap_new(try_receive_oom, sizeof try_receive_oom - 1);
  v[0].i32 = r > 0 ? WARD_STATUS_OK : WARD_STATUS_AGAIN;
  return NULL;
}

static const struct {
  const char *name;
  wt_unchecked_cb_t fn;
} c_impls[] = {
    {"ward_process.self", c_self},
    {"ward_process.exit", c_exit},
    {"ward_message.create_data", c_create_data},
    {"ward_message.write_data", c_write_data},
    {"ward_message.read_data", c_read_data},
    {"ward_message.data_size", c_data_size},
    {"ward_message.get_tag", c_get_tag},
    {"ward_message.sender", c_sender},
    {"ward_message.unique_tag", c_unique_tag},
    {"ward_message.try_send", c_try_send},
    {"ward_message.try_receive", c_try_receive},
};

wasmtime_error_t *ward_define_c(wasmtime_linker_t *l, const char *ns, const char *name,
                                const char *impl, const ward_hostfn_t *desc) {
  for (size_t i = 0; i < sizeof c_impls / sizeof c_impls[0]; i++) {
    if (strcmp(c_impls[i].name, impl) != 0) continue;
    wasm_functype_t *ty = functype(desc);
    wasmtime_error_t *e = wasmtime_linker_define_func_unchecked(l, ns, strlen(ns), name, strlen(name),
                                                                ty, c_impls[i].fn, (void *)desc, NULL);
    wasm_functype_delete(ty);
    return e;
  }
  return wasmtime_error_new("ward: no C implementation with that name");
}

// ---------------------------------------------------------------------------
// Processes.

// Every epoch tick a running guest yields back to its goroutine, which then
// checks for a kill and lets other processes run (the run semaphore has only
// GOMAXPROCS slots). We use the callback form rather than
// wasmtime_context_epoch_deadline_async_yield_and_update, whose v25 header
// declares a return value the library never sets.
// charge_stack charges the process's budget for the fiber stack its call
// has reached, past what WARD_PROCESS_COST includes: a process that
// recurses deep and then waits holds those pages while it waits. Called on
// the fiber at every suspension (host call or yield); 0 when the budget has
// no room.
static int charge_stack(ward_proc_t *p) {
  ward_stack_t *st = p->stack;
  if (!st) return 1;
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  uintptr_t top = (uintptr_t)(st->base + st->pool->stack_size);
  if (sp >= top || sp < (uintptr_t)st->base) return 1; // not on the fiber: nothing to charge
  if (!st->low || sp < st->low) st->low = sp;
  int64_t depth = (int64_t)((top - st->low + 4095) & ~(uintptr_t)4095) - WARD_STACK_KEEP;
  if (!p->budget || depth <= p->stack_charge) return 1;
  if (!budget_take(p->budget, depth - p->stack_charge)) {
    p->budget_refused = 1;
    return 0;
  }
  p->stack_charge = depth;
  return 1;
}

static wasmtime_error_t *epoch_cb(wasmtime_context_t *ctx, void *data, uint64_t *delta,
                                  uint8_t *kind) {
  (void)ctx;
  if (!charge_stack(data))
    return wasmtime_error_new("ward: the environment's MaxTotalMemory cannot hold this process's stack");
  *delta = 1;
  *kind = WT_UPDATE_DEADLINE_YIELD;
  return NULL;
}

// ---------------------------------------------------------------------------
// Store reuse. In wasmtime v25 every store allocates a GC heap on its first
// instantiation (a 512 KiB mmap, whatever the module) and unmaps it when
// deleted: the two syscalls and their VMA splits and merges were half the
// cost of a trivial process (docs/benchmarks.md, "Where spawn time goes").
// A store cannot be reset, but it can hold more than one instance: when a
// process of a module returns normally, its store goes back to the
// module's pool and the next process of that module instantiates in it,
// up to WARD_STORE_USES processes a store.
//
// Why no process can see another's state through a shared store:
//   - instances share nothing in a store unless linked to each other, and
//     ward links modules only to host functions: a new instance has its own
//     memory, globals and tables, made from the module's initialisers;
//   - a retired instance's linear memory is uncharged from the budget,
//     and its mapping taken from it (mem_retire) into the memory pool,
//     which zeroes a mapping before it hands it out again: no instance
//     can reach a retired one (nothing links them, and the retired
//     instance's functions are reachable only through its ward_proc_t,
//     freed), so it never runs again and its memory, left pointing at
//     nothing of its own, is never read or written; the memory object
//     that stays with it is an empty shell that cannot grow;
//   - stores of WASI modules are never reused (the WASI context, with its
//     open files, belongs to the store), nor those of a process that
//     trapped, exited, failed, was killed or met its budget: only a plain
//     return, after which wasmtime's store is as after any call;
//   - the host data (the ward_proc_t), fuel, epoch deadline and limiter
//     are set anew for each process; only wasmtime's bookkeeping of the
//     retired instances remains (about 0.5 KiB each for a trivial
//     module, and their tables), bounded by WARD_STORE_USES and
//     WARD_REUSE_TABLES_ALL.
// Since retired instances hold no memory, a store serves many processes:
// its creation and deletion (the GC heap's mmap and munmap, about 10 µs
// here) are spread over WARD_STORE_USES of them.
#define WARD_STORE_USES 128
#define WARD_STOREPOOL_SLOTS 8
#define WARD_REUSE_TABLE_BYTES ((int64_t)16 << 10)  // a retired instance's tables stay until the store goes
#define WARD_REUSE_TABLES_ALL ((int64_t)256 << 10)  // and so do all of them, up to this much a store

struct ward_storepool {
  pthread_mutex_t mu;
  int refs; // the module's, and one per process that may give its store back
  int closed;
  int n;
  struct {
    wasmtime_store_t *store;
    int32_t uses, mems, tables;
  } slot[WARD_STOREPOOL_SLOTS];
};

static _Atomic uint64_t stores_reused;

uint64_t ward_stores_reused(void) { return atomic_load(&stores_reused); }

ward_storepool_t *ward_storepool_new(void) {
  ward_storepool_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  s->refs = 1;
  return s;
}

static void storepool_unref(ward_storepool_t *s) {
  pthread_mutex_lock(&s->mu);
  int last = --s->refs == 0;
  pthread_mutex_unlock(&s->mu);
  if (!last) return;
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void ward_storepool_close(ward_storepool_t *s) {
  if (!s) return;
  wasmtime_store_t *del[WARD_STOREPOOL_SLOTS];
  pthread_mutex_lock(&s->mu);
  s->closed = 1;
  int n = s->n;
  for (int i = 0; i < n; i++) del[i] = s->slot[i].store;
  s->n = 0;
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < n; i++) wasmtime_store_delete(del[i]);
  storepool_unref(s);
}

// store_take gives p a retired store of its module, if the pool has one.
static void store_take(ward_proc_t *p, ward_storepool_t *s) {
  pthread_mutex_lock(&s->mu);
  if (s->closed) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  s->refs++;
  p->spool = s;
  if (s->n > 0) {
    s->n--;
    p->store = s->slot[s->n].store; // LIFO: the store most recently used is hottest in cache
    p->store_uses = s->slot[s->n].uses;
    p->store_mems = s->slot[s->n].mems;
    p->store_tables = s->slot[s->n].tables;
  }
  pthread_mutex_unlock(&s->mu);
}

// store_give puts p's store back in its module's pool when it can be
// reused (see above), and leaves p->store NULL if it did.
static void store_give(ward_proc_t *p) {
  ward_storepool_t *s = p->spool;
  struct ward_mem *m = p->lin;
  if (!p->returned || p->exited || p->budget_refused || p->fut || p->store_uses + 1 >= WARD_STORE_USES)
    return;
  // A memory mapped from an image (mem_new_image) is not in p->lin: the
  // store's memory count and the memory's charge would be lost with it.
  if (p->image) return;
  // The instance lives on in the store, but its memory is nobody's now:
  // its mapping goes to the memory pool, to be zeroed when it is next
  // handed out, most likely to the next process here.
  if (m && !mem_retire(m)) return;
  pthread_mutex_lock(&s->mu);
  if (!s->closed && s->n < WARD_STOREPOOL_SLOTS) {
    // p is freed next: the store must not point to it while it waits.
    wasmtime_context_set_data(p->ctx, NULL);
    wasmtime_store_epoch_deadline_callback(p->store, epoch_cb, NULL, NULL);
    s->slot[s->n].store = p->store;
    s->slot[s->n].uses = p->store_uses + 1;
    s->slot[s->n].mems = p->store_mems + (m != NULL);
    s->slot[s->n].tables = p->store_tables + p->tables;
    s->n++;
    p->store = NULL;
  }
  pthread_mutex_unlock(&s->mu);
}

ward_new_proc_t ward_proc_new(wasm_engine_t *e, uint64_t id, int64_t max_memory, uint64_t fuel,
                              ward_budget_t *budget, uint32_t tables, uint32_t table_elements,
                              ward_storepool_t *pool) {
  ward_new_proc_t r = {NULL, NULL};
  ward_proc_t *p = calloc(1, sizeof *p);
  if (!p) {
    r.err = wasmtime_error_new("ward: out of memory allocating a process");
    return r;
  }
  p->id = id;
  p->tables = (int32_t)tables;
  if (pool && (int64_t)tables * table_elements * 8 <= WARD_REUSE_TABLE_BYTES) store_take(p, pool);
  if (p->store && (int64_t)(p->store_tables + tables) * table_elements * 8 > WARD_REUSE_TABLES_ALL)
    p->store_uses = WARD_STORE_USES; // its last process: store_give will not keep it
  if (p->store) {
    p->ctx = wasmtime_store_context(p->store);
    wasmtime_context_set_data(p->ctx, p);
    atomic_fetch_add(&stores_reused, 1);
  } else {
    // Our own store, not wasmtime-go's: its finalizer calls back into Go
    // and takes a global lock on every delete; with data and no
    // finalizer, store teardown never leaves C.
    p->store = wasmtime_store_new(e, p, NULL);
    p->ctx = wasmtime_store_context(p->store);
  }
  // MaxMemory counts the whole instance, but wasmtime's limiter only
  // bounds each memory and table on its own. So: one linear memory, which
  // gets all of max_memory, and at most WARD_MAX_TABLES tables of
  // table_elements (the module's largest declared table plus headroom,
  // at most WARD_MAX_TABLE_ELEMENTS: Module.ReadTables), which together
  // hold at most WARD_TABLE_BYTES (8 bytes an element in wasmtime v25) on
  // top of it. Go guests have one funcref table of a few thousand entries.
  // wasmtime counts instances, tables and memories over the store's life:
  // a reused store's limits start from what its retired instances hold,
  // so that this process still gets one memory and WARD_MAX_TABLES tables.
  wasmtime_store_limiter(p->store, max_memory, table_elements, p->store_uses + 4,
                         p->store_tables + WARD_MAX_TABLES, p->store_mems + 1);
  // Tables are wasmtime's own allocations, with no hook like the memory
  // creator's: their limit is charged to the budget whole, up front, with
  // what the process itself holds while it lives (store, instance, fiber
  // stack pages, its goroutine: WARD_PROCESS_COST).
  if (budget) {
    int64_t charge = (int64_t)tables * table_elements * 8 + WARD_PROCESS_COST;
    if (!budget_take(budget, charge)) {
      ward_proc_free(p);
      return r; // no process and no error: the budget refused
    }
    __atomic_fetch_add(&budget->refs, 1, __ATOMIC_SEQ_CST);
    p->budget = budget;
    p->table_charge = charge;
  }
  r.err = wasmtime_context_set_fuel(p->ctx, fuel);
  p->fuel_tank = fuel;
  wasmtime_context_set_epoch_deadline(p->ctx, 1);
  wasmtime_store_epoch_deadline_callback(p->store, epoch_cb, p, NULL);
  if (r.err) {
    ward_proc_free(p);
    return r;
  }
  r.proc = p;
  return r;
}

wasmtime_error_t *ward_proc_wasi(ward_proc_t *p, size_t argc, const char **argv, size_t envc,
                                 const char **names, const char **values, const char *out,
                                 const char *errpath, size_t ndirs, const char **hosts,
                                 const char **guests) {
  wasi_config_t *c = wasi_config_new();
  if (!wasi_config_set_argv(c, argc, argv) || !wasi_config_set_env(c, envc, names, values)) {
    wasi_config_delete(c);
    return wasmtime_error_new("ward: invalid WASI args or environment");
  }
  if (out && !wasi_config_set_stdout_file(c, out)) {
    wasi_config_delete(c);
    return wasmtime_error_new("ward: cannot open WASI stdout");
  }
  if (errpath && !wasi_config_set_stderr_file(c, errpath)) {
    wasi_config_delete(c);
    return wasmtime_error_new("ward: cannot open WASI stderr");
  }
  for (size_t i = 0; i < ndirs; i++) {
    if (!wasi_config_preopen_dir(c, hosts[i], guests[i])) {
      wasi_config_delete(c);
      return wasmtime_error_new("ward: cannot preopen a WASI directory");
    }
  }
  return wasmtime_context_set_wasi(p->ctx, c); // takes ownership of c
}

static int start_call(ward_proc_t *p, const char *name, size_t len, const wt_val_t *args,
                      size_t nargs, wt_val_t *results, size_t nresults) {
  wt_extern_t ext;
  if (!wasmtime_instance_export_get(p->ctx, &p->inst, name, len, &ext)) {
    p->fail = FAIL_NO_EXPORT;
    return 0;
  }
  if (ext.kind != WT_EXTERN_FUNC) {
    p->fail = FAIL_NOT_FUNC;
    return 0;
  }
  p->func = ext.of.func;
  p->fut = wasmtime_func_call_async(p->ctx, &p->func, args, nargs, results, nresults, &p->trap,
                                    &p->err);
  return 1;
}

int ward_proc_start(ward_proc_t *p) {
  p->phase = PHASE_INSTANTIATE;
  p->fut = wasmtime_instance_pre_instantiate_async(p->pre, p->ctx, &p->inst, &p->trap, &p->err);
  return ward_proc_poll(p);
}

// image_globals sets the instance's globals to the image's values, before
// any of its code runs.
static int image_globals(ward_proc_t *p) {
  for (size_t i = 0; i < p->image->nglobals; i++) {
    const ward_image_global_t *g = &p->image->globals[i];
    wt_extern_t ext;
    if (!wasmtime_instance_export_get(p->ctx, &p->inst, g->name, g->len, &ext) ||
        ext.kind != WT_EXTERN_GLOBAL) {
      p->err = wasmtime_error_new("ward: the image names a global the module does not export");
      return 0;
    }
    if ((p->err = wasmtime_global_set(p->ctx, &ext.of.global, &g->val))) return 0;
  }
  return 1;
}

// Drive the process until it finishes, yields at an epoch tick, or waits on
// a host call that Go must serve. Instantiation, a reactor's _initialize and
// the entry call are chained here so a short-lived process costs one cgo
// call for its whole run.
static int proc_poll(ward_proc_t *p);

int ward_proc_poll(ward_proc_t *p) {
  stack_in(p);
  ward_tls_proc = p;
  int s = proc_poll(p);
  ward_tls_proc = NULL;
  observe_fuel(p);
  return s;
}

static int proc_poll(ward_proc_t *p) {
  if (p->fresh_slice) {
    // The deadline was set when the process last ran; after a wait it has
    // passed, and the guest would yield at its first loop back-edge.
    p->fresh_slice = 0;
    wasmtime_context_set_epoch_deadline(p->ctx, 1);
  }
  for (;;) {
    if (!p->fut) return WARD_DONE;
    if (!wasmtime_call_future_poll(p->fut)) return p->host ? WARD_HOST : WARD_YIELD;
    wasmtime_call_future_delete(p->fut);
    p->fut = NULL;
    if (p->trap || p->err) {
      p->end_phase = p->phase;
      p->phase = PHASE_DONE;
      return WARD_DONE;
    }
    switch (p->phase) {
    case PHASE_INSTANTIATE:
      if (p->image && !image_globals(p)) {
        p->end_phase = p->phase;
        p->phase = PHASE_DONE;
        return WARD_DONE;
      }
      if (p->init_name) {
        p->phase = PHASE_INIT;
        if (!start_call(p, p->init_name, strlen(p->init_name), NULL, 0, NULL, 0)) break;
        continue;
      }
      // fallthrough
    case PHASE_INIT:
      p->phase = PHASE_CALL;
      if (!start_call(p, p->entry_name, p->entry_len, p->vals, p->nargs,
                      p->vals ? p->vals + p->nargs : NULL, p->nresults))
        break;
      continue;
    default:
      break;
    }
    p->returned = p->phase == PHASE_CALL && !p->fail;
    p->end_phase = p->phase;
    p->phase = PHASE_DONE;
    return WARD_DONE;
  }
}

// Dropping a suspended future unwinds the guest's frames on this thread. It
// must happen before the store is deleted.
void ward_proc_cancel(ward_proc_t *p) {
  stack_in(p);
  if (p->fut) {
    wasmtime_call_future_delete(p->fut);
    p->fut = NULL;
  }
  p->host = NULL;
  if (p->phase != PHASE_DONE) p->end_phase = p->phase;
  p->phase = PHASE_DONE;
}

void ward_proc_free(ward_proc_t *p) {
  if (!p) return;
  ward_proc_cancel(p);
  if (p->trap) wasm_trap_delete(p->trap);
  if (p->err) wasmtime_error_delete(p->err);
  free(p->htrap_msg);
  free(p->vals);
  free(p->in_data);
  free(p->out_data);
  unregister(p);
  ward_inbox_free(p->inbox);
  if (p->spool) {
    if (p->store) store_give(p);
    storepool_unref(p->spool);
  }
  if (p->store) wasmtime_store_delete(p->store); // frees the memories: they give back their charge
  if (p->budget) {
    budget_give(p->budget, p->table_charge + p->buffer_charge + p->stack_charge);
    ward_budget_unref(p->budget);
  }
  free(p);
}

size_t ward_proc_memory_size(ward_proc_t *p) {
  if (p->mem_size) return p->mem_size;
  wt_extern_t ext;
  int ph = p->phase == PHASE_DONE ? p->end_phase : p->phase;
  if (ph == PHASE_NEW || (ph == PHASE_INSTANTIATE && p->fut)) return 0;
  if (ph == PHASE_INSTANTIATE && (p->trap || p->err)) return 0;
  if (!wasmtime_instance_export_get(p->ctx, &p->inst, "memory", 6, &ext) ||
      ext.kind != WT_EXTERN_MEMORY)
    return 0;
  return wasmtime_memory_data_size(p->ctx, &ext.of.memory);
}

// ward_proc_memory_data returns the exported memory of a finished or
// suspended process and its size, or NULL.
uint8_t *ward_proc_memory_data(ward_proc_t *p, size_t *len) {
  wt_extern_t ext;
  *len = 0;
  if (!wasmtime_instance_export_get(p->ctx, &p->inst, "memory", 6, &ext) ||
      ext.kind != WT_EXTERN_MEMORY)
    return NULL;
  *len = wasmtime_memory_data_size(p->ctx, &ext.of.memory);
  return wasmtime_memory_data(p->ctx, &ext.of.memory);
}

// ward_proc_global reads the exported global name: 1, or 0 if there is none.
int ward_proc_global(ward_proc_t *p, const char *name, size_t len, wt_val_t *out) {
  wt_extern_t ext;
  if (!wasmtime_instance_export_get(p->ctx, &p->inst, name, len, &ext) ||
      ext.kind != WT_EXTERN_GLOBAL)
    return 0;
  wasmtime_global_get(p->ctx, &ext.of.global, out);
  return 1;
}

int ward_proc_outcome(ward_proc_t *p, int *trap_code, int *exit_status) {
  *trap_code = -1;
  *exit_status = 0;
  if (p->trap) {
    uint8_t c;
    if (wasmtime_trap_code(p->trap, &c)) *trap_code = c;
    return 1;
  }
  if (p->err) {
    int st;
    if (wasmtime_error_exit_status(p->err, &st)) {
      *exit_status = st;
      return 3;
    }
    return 2;
  }
  if (p->fail) return 4;
  return 0;
}

static char *vec_str(const wt_byte_vec_t *v) {
  char *s = malloc(v->size + 1);
  if (!s) return NULL;
  memcpy(s, v->data, v->size);
  s[v->size] = 0;
  return s;
}

char *ward_error_message(wasmtime_error_t *e) {
  wt_byte_vec_t v;
  wasmtime_error_message(e, &v);
  char *s = vec_str(&v);
  wasm_byte_vec_delete(&v);
  wasmtime_error_delete(e);
  return s;
}

char *ward_proc_message(ward_proc_t *p) {
  wt_byte_vec_t v;
  if (p->trap)
    wasm_trap_message(p->trap, &v);
  else if (p->err)
    wasmtime_error_message(p->err, &v);
  else
    return NULL;
  char *s = vec_str(&v);
  wasm_byte_vec_delete(&v);
  return s;
}

// One frame per line: func index, module offset, func name, module name.
char *ward_proc_trace(ward_proc_t *p) {
  wt_ptr_vec_t frames = {0, NULL};
  if (p->trap)
    wasm_trap_trace(p->trap, &frames);
  else if (p->err)
    wasmtime_error_wasm_trace(p->err, &frames);
  else
    return NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    wasm_frame_vec_delete(&frames);
    return NULL;
  }
  for (size_t i = 0; i < frames.size; i++) {
    const wasm_frame_t *fr = frames.data[i];
    const wt_byte_vec_t *fn = wasmtime_frame_func_name(fr);
    const wt_byte_vec_t *mn = wasmtime_frame_module_name(fr);
    fprintf(f, "%u\t%zu\t%.*s\t%.*s\n", wasm_frame_func_index(fr), wasm_frame_module_offset(fr),
            fn ? (int)fn->size : 0, fn ? fn->data : "", mn ? (int)mn->size : 0,
            mn ? mn->data : "");
  }
  fclose(f);
  wasm_frame_vec_delete(&frames);
  return buf;
}

// ---------------------------------------------------------------------------
// The epoch ticker runs on its own pthread so it keeps ticking when every Go
// P is busy running guests.

typedef struct ticker {
  wasm_engine_t *e;
  long us;
  int stop; // guarded by mu
  pthread_mutex_t mu;
  pthread_cond_t cv; // signalled by ward_ticker_stop
  pthread_t th;
} ticker_t;

static void *ticker_main(void *arg) {
  ticker_t *t = arg;
  pthread_mutex_lock(&t->mu);
  while (!t->stop) {
    // A timed wait rather than a sleep, so that stopping (Runtime.Close)
    // does not wait out the rest of a long interval.
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long ns = next.tv_nsec + (t->us % 1000000) * 1000;
    next.tv_sec += t->us / 1000000 + ns / 1000000000;
    next.tv_nsec = ns % 1000000000;
    if (pthread_cond_timedwait(&t->cv, &t->mu, &next) == ETIMEDOUT && !t->stop)
      wasmtime_engine_increment_epoch(t->e);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

void *ward_ticker_start(wasm_engine_t *e, long interval_us) {
  ticker_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->e = e;
  t->us = interval_us;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&t->mu, NULL);
  if (pthread_create(&t->th, NULL, ticker_main, t) != 0) {
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return NULL;
  }
  return t;
}

// After an engine with many processes is freed, glibc keeps most of the
// freed C heap (stores, instances) mapped; trimming gives it back.
void ward_trim(void) { malloc_trim(0); }

void ward_ticker_stop(void *tp) {
  ticker_t *t = tp;
  if (!t) return;
  pthread_mutex_lock(&t->mu);
  t->stop = 1;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->th, NULL);
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  free(t);
}
