/* Allocation lifetimes of a process, for benchmarks/bench_alloc_lifetimes.py (LD_PRELOAD, glibc only).
 *
 * Records every malloc-family call of at least EMOGUIDE_ALLOC_TRACE_MIN bytes (default 64 KiB) and
 * every free of a block that large: monotonic time, thread id, size, address. Records go to a fixed
 * array (no allocation inside malloc) and are written to $EMOGUIDE_ALLOC_TRACE_OUT at exit; the
 * script pairs them into lifetimes. Small allocations are not recorded: the heap's holes that
 * matter here are left by large, long-lived buffers laid between short-lived ones.
 *
 * Build: cc -O2 -shared -fPIC -o alloc_trace.so alloc_trace.c
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define CAPACITY (8u << 20) /* records: 256 MiB of address space, touched only as used */

typedef struct { uint64_t t_ns, size, ptr; uint32_t tid, op; } record_t; /* op 1 = allocate, 2 = free */

static record_t records[CAPACITY];
static atomic_uint count;
static size_t min_bytes = 64 * 1024;
static __thread uint32_t my_tid;

__attribute__((constructor)) static void setup(void) {
  const char *v = getenv("EMOGUIDE_ALLOC_TRACE_MIN");
  if (v && atol(v) > 0) min_bytes = (size_t)atol(v);
}

static void note(uint32_t op, uint64_t size, void *p) {
  unsigned i = atomic_fetch_add(&count, 1);
  if (i >= CAPACITY) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  if (!my_tid) my_tid = (uint32_t)syscall(SYS_gettid);
  records[i] = (record_t){(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, size, (uint64_t)p, my_tid, op};
}

void *malloc(size_t s) { void *p = __libc_malloc(s); if (p && s >= min_bytes) note(1, s, p); return p; }
void *calloc(size_t a, size_t b) { void *p = __libc_calloc(a, b); if (p && a * b >= min_bytes) note(1, a * b, p); return p; }
void free(void *p) { if (p && malloc_usable_size(p) >= min_bytes) note(2, 0, p); __libc_free(p); }
void *realloc(void *q, size_t s) {
  if (q && malloc_usable_size(q) >= min_bytes) note(2, 0, q);
  void *p = __libc_realloc(q, s);
  if (p && s >= min_bytes) note(1, s, p);
  return p;
}
int posix_memalign(void **out, size_t align, size_t s) {
  void *p = __libc_memalign(align, s);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  if (s >= min_bytes) note(1, s, p);
  return 0;
}
void *aligned_alloc(size_t align, size_t s) { void *p = __libc_memalign(align, s); if (p && s >= min_bytes) note(1, s, p); return p; }
void *memalign(size_t align, size_t s) { void *p = __libc_memalign(align, s); if (p && s >= min_bytes) note(1, s, p); return p; }

__attribute__((destructor)) static void dump(void) {
  const char *path = getenv("EMOGUIDE_ALLOC_TRACE_OUT");
  if (!path) return;
  FILE *f = fopen(path, "wb");
  if (!f) return;
  unsigned n = atomic_load(&count);
  fwrite(records, sizeof(record_t), n < CAPACITY ? n : CAPACITY, f);
  fclose(f);
}
