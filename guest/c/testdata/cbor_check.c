/*
 * cbor_check.c: a native program, built with AddressSanitizer by
 * cbor_check_test.go, that runs ward_cbor.h's reader over every prefix and
 * every one-byte change of the seed messages on stdin (each a u32 LE
 * length and the bytes), and its writer into buffers of every size. Each
 * input is copied into a heap block of exactly its size, so a read one
 * byte past it is a sanitizer report, not a silent misread. It prints how
 * many inputs it tried and exits 0, or says what failed and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ward_cbor.h"

static unsigned long inputs, accepted;

static void fail(const char *what, const uint8_t *p, size_t n) {
  fprintf(stderr, "%s; input of %zu bytes:", what, n);
  for (size_t i = 0; i < n && i < 64; i++) fprintf(stderr, " %02x", p[i]);
  fprintf(stderr, "\n");
  exit(1);
}

/* walk reads one item with the typed getters, nested items too (down to a
 * depth, then with ward_cbor_skip), and returns the reader's error. */
static int32_t walk(ward_cbor_reader *r, int depth) {
  uint64_t u;
  int64_t i;
  int b;
  size_t n;
  const uint8_t *p;
  const char *s;
  switch (ward_cbor_peek(r)) {
  case WARD_CBOR_NONE:
    /* The end of the data, or a malformed head: a getter must fail. */
    if (ward_cbor_get_null(r) == 0) fail("null read where peek saw none", r->buf, r->len);
    return r->err;
  case WARD_CBOR_UINT:
    return ward_cbor_get_uint(r, &u);
  case WARD_CBOR_NEGINT:
    if (ward_cbor_get_int(r, &i) == 0 && i >= 0) fail("a negative integer read as >= 0", r->buf, r->len);
    return r->err;
  case WARD_CBOR_BYTES:
    if (ward_cbor_get_bytes(r, &p, &n) == 0 && (p < r->buf || p + n > r->buf + r->len))
      fail("bytes outside the buffer", r->buf, r->len);
    return r->err;
  case WARD_CBOR_TEXT:
    if (ward_cbor_get_text(r, &s, &n) == 0 &&
        ((const uint8_t *)s < r->buf || (const uint8_t *)s + n > r->buf + r->len))
      fail("text outside the buffer", r->buf, r->len);
    return r->err;
  case WARD_CBOR_ARRAY:
  case WARD_CBOR_MAP:
    if (depth > 40) return ward_cbor_skip(r);
    if (ward_cbor_peek(r) == WARD_CBOR_ARRAY) {
      if (ward_cbor_get_array(r, &n)) return r->err;
    } else {
      if (ward_cbor_get_map(r, &n)) return r->err;
      n *= 2;
    }
    for (size_t k = 0; k < n; k++)
      if (walk(r, depth + 1)) return r->err;
    return 0;
  case WARD_CBOR_BOOL:
    return ward_cbor_get_bool(r, &b);
  case WARD_CBOR_NULL:
    return ward_cbor_get_null(r);
  default: /* tags, floats, other simple values: only skip takes them */
    if (ward_cbor_get_uint(r, &u) != WARD_CBOR_ERR_TYPE) fail("a tag or float read as uint", r->buf, r->len);
    r->err = 0;
    return ward_cbor_skip(r);
  }
}

/* check reads data[0:n] from an exact-size copy, twice: with the getters,
 * and with one skip, which must agree on whether it is one valid item. */
static void check(const uint8_t *data, size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  memcpy(p, data, n);
  inputs++;
  ward_cbor_reader a, b;
  ward_cbor_reader_init(&a, p, n);
  walk(&a, 0);
  int32_t ea = ward_cbor_end(&a);
  ward_cbor_reader_init(&b, p, n);
  ward_cbor_skip(&b);
  int32_t eb = ward_cbor_end(&b);
  if (a.off > n || b.off > n) fail("offset past the end", p, n);
  if (ea < 0 || ea > WARD_CBOR_ERR_SPACE || (ea != 0 && ea < WARD_CBOR_ERR_TRUNCATED)) fail("unknown error code", p, n);
  /* The getters refuse integers below int64; skip takes them. */
  if ((ea == 0) != (eb == 0) && ea != WARD_CBOR_ERR_RANGE) {
    fprintf(stderr, "getters: %d, skip: %d\n", ea, eb);
    fail("getters and skip disagree", p, n);
  }
  if (ea == 0) accepted++;
  /* Errors stick: another call returns the first error. */
  if (ea) {
    uint64_t u;
    if (ward_cbor_get_uint(&a, &u) != ea) fail("an error did not stick", p, n);
  }
  free(p);
}

/* check_writer writes a fixed message into buffers of every size up to
 * the one it needs: each too small must be WARD_CBOR_ERR_SPACE (and the
 * sanitizer checks nothing was written past it), the last must hold it. */
static void check_writer(void) {
  static const uint8_t blob[300] = {1, 2, 3};
  size_t need = 0;
  for (size_t cap = 0;; cap++) {
    uint8_t *p = malloc(cap ? cap : 1);
    ward_cbor_writer w;
    ward_cbor_writer_init(&w, p, cap);
    ward_cbor_put_map(&w, 3);
    ward_cbor_put_cstr(&w, "n");
    ward_cbor_put_array(&w, 4);
    ward_cbor_put_int(&w, -1);
    ward_cbor_put_int(&w, INT64_MIN);
    ward_cbor_put_uint(&w, UINT64_MAX);
    ward_cbor_put_uint(&w, 65536);
    ward_cbor_put_cstr(&w, "b");
    ward_cbor_put_bytes(&w, blob, sizeof blob);
    ward_cbor_put_cstr(&w, "t");
    ward_cbor_put_bool(&w, 1);
    int32_t err = w.err;
    if (err == 0) {
      need = w.len;
      check(p, w.len);
      if (accepted == 0) fail("the writer's output does not read back", p, w.len);
      free(p);
      break;
    }
    free(p);
    if (err != WARD_CBOR_ERR_SPACE) fail("writer error other than SPACE", blob, 0);
    if (cap > 1000) fail("the writer never fits", blob, 0);
  }
  printf("writer: %zu bytes\n", need);
}

int main(void) {
  check_writer();
  uint8_t hdr[4];
  while (fread(hdr, 1, 4, stdin) == 4) {
    size_t n = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
    uint8_t *seed = malloc(n ? n : 1);
    if (fread(seed, 1, n, stdin) != n) fail("short seed", seed, 0);
    unsigned long before = accepted;
    check(seed, n);
    if (accepted == before) fail("a seed is not accepted", seed, n);
    for (size_t k = 0; k < n; k++) check(seed, k); /* every prefix */
    uint8_t *m = malloc(n ? n : 1);
    for (size_t k = 0; k < n; k++) /* every one-byte change */
      for (int v = 0; v < 256; v++) {
        memcpy(m, seed, n);
        m[k] = (uint8_t)v;
        check(m, n);
      }
    free(m);
    free(seed);
  }
  printf("%lu inputs, %lu accepted\n", inputs, accepted);
  return 0;
}
