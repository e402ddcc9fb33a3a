/*
 * ward_cbor.h: a small CBOR (RFC 8949) writer and reader for C guests, and
 * helpers that send and receive CBOR messages through ward.h. The bytes are
 * the ones Go code exchanges with runtime.EncodeMessage and
 * runtime.DecodeMessage, and Go guests with guest.SendValue and
 * Message.Decode.
 *
 * Covered: unsigned and negative integers, byte strings, text strings,
 * arrays and maps of definite length, true, false and null. The reader also
 * skips (ward_cbor_skip) anything well formed it cannot return: tags,
 * floats, undefined, simple values. Indefinite lengths are refused, as is
 * text that is not UTF-8 (Go's decoder refuses it too).
 *
 * Header only: include it after ward.h. It uses <string.h> (memcpy,
 * memcmp, strlen), so it needs a C library: wasi-libc, as build.sh links.
 *
 * Errors. Every function returns WARD_CBOR_OK (0) or a WARD_CBOR_ERR_*
 * code; the message helpers also return ward.h's WARD_ERR_* statuses,
 * which are all below 100. Errors stick: after the first one, a writer
 * writes nothing more and a reader reads nothing more, and every call
 * returns that first error, so a run of calls can be checked once at the
 * end (ward_cbor_writer.err, ward_cbor_reader.err, ward_cbor_end).
 *
 * The reader never reads outside its buffer: each length and count is
 * checked against the bytes left before anything is read, so a truncated
 * or malformed message is an error code, never a misread.
 */
#ifndef WARD_CBOR_H
#define WARD_CBOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ward.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WARD_CBOR_OK 0
#define WARD_CBOR_ERR_TRUNCATED 101 /* the data ends inside an item */
#define WARD_CBOR_ERR_MALFORMED 102 /* not CBOR this reader takes: reserved or indefinite lengths, bad UTF-8, trailing bytes */
#define WARD_CBOR_ERR_TYPE 103      /* a well-formed item of another type than the one asked for */
#define WARD_CBOR_ERR_RANGE 104     /* an integer or length that does not fit the C type */
#define WARD_CBOR_ERR_SPACE 105     /* the writer's buffer, or the receive buffer, is too small */

/* The type of the next item, from ward_cbor_peek. */
enum ward_cbor_type {
  WARD_CBOR_NONE = 0, /* no item: the data ended, or the reader has an error */
  WARD_CBOR_UINT,
  WARD_CBOR_NEGINT,
  WARD_CBOR_BYTES,
  WARD_CBOR_TEXT,
  WARD_CBOR_ARRAY,
  WARD_CBOR_MAP,
  WARD_CBOR_TAG,
  WARD_CBOR_BOOL,
  WARD_CBOR_NULL,
  WARD_CBOR_OTHER /* a float, undefined or another simple value */
};

/* ---- writer ---- */

/* A writer appends items to a buffer it does not own. */
typedef struct ward_cbor_writer {
  uint8_t *buf;
  size_t cap, len;
  int32_t err;
} ward_cbor_writer;

static inline void ward_cbor_writer_init(ward_cbor_writer *w, void *buf, size_t cap) {
  w->buf = (uint8_t *)buf;
  w->cap = cap;
  w->len = 0;
  w->err = WARD_CBOR_OK;
}

/* ward__cbor_head writes an item's head, the shortest form of major type
 * and argument, as RFC 8949's deterministic encoding asks. */
static inline int32_t ward__cbor_head(ward_cbor_writer *w, uint8_t major, uint64_t arg) {
  uint8_t h[9];
  size_t n;
  if (w->err) return w->err;
  if (arg < 24) {
    h[0] = (uint8_t)(major << 5 | arg);
    n = 1;
  } else {
    int bytes = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffu ? 4 : 8;
    h[0] = (uint8_t)(major << 5 | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
    for (int i = 0; i < bytes; i++) h[1 + i] = (uint8_t)(arg >> (8 * (bytes - 1 - i)));
    n = 1 + (size_t)bytes;
  }
  if (w->cap - w->len < n) return w->err = WARD_CBOR_ERR_SPACE;
  memcpy(w->buf + w->len, h, n);
  w->len += n;
  return WARD_CBOR_OK;
}

static inline int32_t ward__cbor_string(ward_cbor_writer *w, uint8_t major, const void *p, size_t n) {
  if (ward__cbor_head(w, major, n)) return w->err;
  if (w->cap - w->len < n) return w->err = WARD_CBOR_ERR_SPACE;
  if (n) memcpy(w->buf + w->len, p, n);
  w->len += n;
  return WARD_CBOR_OK;
}

static inline int32_t ward_cbor_put_uint(ward_cbor_writer *w, uint64_t v) { return ward__cbor_head(w, 0, v); }

static inline int32_t ward_cbor_put_int(ward_cbor_writer *w, int64_t v) {
  /* CBOR's negative integers carry -1 - v, which ~v is without overflow. */
  return v < 0 ? ward__cbor_head(w, 1, ~(uint64_t)v) : ward__cbor_head(w, 0, (uint64_t)v);
}

static inline int32_t ward_cbor_put_bytes(ward_cbor_writer *w, const void *p, size_t n) {
  return ward__cbor_string(w, 2, p, n);
}

/* ward_cbor_put_text writes n bytes of UTF-8 text. The writer does not
 * check the encoding; Go's decoder refuses text that is not UTF-8. */
static inline int32_t ward_cbor_put_text(ward_cbor_writer *w, const char *s, size_t n) {
  return ward__cbor_string(w, 3, s, n);
}

static inline int32_t ward_cbor_put_cstr(ward_cbor_writer *w, const char *s) {
  return ward__cbor_string(w, 3, s, strlen(s));
}

/* ward_cbor_put_array starts an array of n items: write them next. */
static inline int32_t ward_cbor_put_array(ward_cbor_writer *w, size_t n) { return ward__cbor_head(w, 4, n); }

/* ward_cbor_put_map starts a map of n pairs: write key, value, key, ... */
static inline int32_t ward_cbor_put_map(ward_cbor_writer *w, size_t n) { return ward__cbor_head(w, 5, n); }

static inline int32_t ward_cbor_put_bool(ward_cbor_writer *w, int v) { return ward__cbor_head(w, 7, v ? 21 : 20); }

static inline int32_t ward_cbor_put_null(ward_cbor_writer *w) { return ward__cbor_head(w, 7, 22); }

/* ---- reader ---- */

/* A reader takes items from the front of a buffer it does not own. Byte
 * and text strings it returns point into that buffer. */
typedef struct ward_cbor_reader {
  const uint8_t *buf;
  size_t len, off;
  int32_t err;
} ward_cbor_reader;

static inline void ward_cbor_reader_init(ward_cbor_reader *r, const void *buf, size_t len) {
  r->buf = (const uint8_t *)buf;
  r->len = len;
  r->off = 0;
  r->err = WARD_CBOR_OK;
}

static inline int32_t ward__cbor_fail(ward_cbor_reader *r, int32_t err) {
  if (!r->err) r->err = err;
  return r->err;
}

/* ward__cbor_read_head decodes the head at r->off without moving past it:
 * its major type, its argument (or simple value) and its size in *n. */
static inline int32_t ward__cbor_read_head(ward_cbor_reader *r, uint8_t *major, uint64_t *arg, size_t *n) {
  if (r->err) return r->err;
  size_t left = r->len - r->off;
  if (left == 0) return ward__cbor_fail(r, WARD_CBOR_ERR_TRUNCATED);
  uint8_t b = r->buf[r->off], ai = b & 31;
  *major = b >> 5;
  if (ai < 24) {
    *arg = ai;
    *n = 1;
    return WARD_CBOR_OK;
  }
  if (ai > 27) /* 28-30 are reserved; 31 is an indefinite length or break */
    return ward__cbor_fail(r, WARD_CBOR_ERR_MALFORMED);
  size_t bytes = (size_t)1 << (ai - 24);
  if (left - 1 < bytes) return ward__cbor_fail(r, WARD_CBOR_ERR_TRUNCATED);
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; i++) v = v << 8 | r->buf[r->off + 1 + i];
  /* A one-byte simple value below 32 is not well formed (RFC 8949 3.3). */
  if (*major == 7 && ai == 24 && v < 32) return ward__cbor_fail(r, WARD_CBOR_ERR_MALFORMED);
  *arg = v;
  *n = 1 + bytes;
  return WARD_CBOR_OK;
}

/* ward__cbor_take reads a head of the given major type and moves past it. */
static inline int32_t ward__cbor_take(ward_cbor_reader *r, uint8_t want, uint64_t *arg) {
  uint8_t major;
  size_t n;
  if (ward__cbor_read_head(r, &major, arg, &n)) return r->err;
  if (major != want) return ward__cbor_fail(r, WARD_CBOR_ERR_TYPE);
  r->off += n;
  return WARD_CBOR_OK;
}

/* ward_cbor_peek returns the type of the next item without taking it:
 * WARD_CBOR_NONE at the end of the data, or when the reader has an error,
 * or when the next head is malformed (which sets the error). */
static inline enum ward_cbor_type ward_cbor_peek(ward_cbor_reader *r) {
  uint8_t major;
  uint64_t arg;
  size_t n;
  if (r->err || r->off == r->len || ward__cbor_read_head(r, &major, &arg, &n)) return WARD_CBOR_NONE;
  switch (major) {
  case 0: return WARD_CBOR_UINT;
  case 1: return WARD_CBOR_NEGINT;
  case 2: return WARD_CBOR_BYTES;
  case 3: return WARD_CBOR_TEXT;
  case 4: return WARD_CBOR_ARRAY;
  case 5: return WARD_CBOR_MAP;
  case 6: return WARD_CBOR_TAG;
  default:
    if (n == 1 && (arg == 20 || arg == 21)) return WARD_CBOR_BOOL;
    if (n == 1 && arg == 22) return WARD_CBOR_NULL;
    return WARD_CBOR_OTHER;
  }
}

static inline int32_t ward_cbor_get_uint(ward_cbor_reader *r, uint64_t *v) {
  uint64_t arg = 0;
  if (ward__cbor_take(r, 0, &arg)) return r->err;
  *v = arg;
  return WARD_CBOR_OK;
}

/* ward_cbor_get_int takes an unsigned or negative integer; one outside
 * int64_t is WARD_CBOR_ERR_RANGE. */
static inline int32_t ward_cbor_get_int(ward_cbor_reader *r, int64_t *v) {
  uint8_t major;
  uint64_t arg;
  size_t n;
  if (ward__cbor_read_head(r, &major, &arg, &n)) return r->err;
  if (major > 1) return ward__cbor_fail(r, WARD_CBOR_ERR_TYPE);
  if (arg > (uint64_t)INT64_MAX) return ward__cbor_fail(r, WARD_CBOR_ERR_RANGE);
  *v = major == 0 ? (int64_t)arg : -1 - (int64_t)arg;
  r->off += n;
  return WARD_CBOR_OK;
}

static inline int32_t ward__cbor_get_string(ward_cbor_reader *r, uint8_t major, const uint8_t **p, size_t *n) {
  uint64_t len = 0;
  size_t at = r->off;
  if (ward__cbor_take(r, major, &len)) return r->err;
  if (len > r->len - r->off) {
    r->off = at; /* sticky error: the reader stops where the bad item starts */
    return ward__cbor_fail(r, WARD_CBOR_ERR_TRUNCATED);
  }
  *p = r->buf + r->off;
  *n = (size_t)len;
  r->off += (size_t)len;
  return WARD_CBOR_OK;
}

/* ward_cbor_get_bytes takes a byte string; *p points into the buffer. */
static inline int32_t ward_cbor_get_bytes(ward_cbor_reader *r, const uint8_t **p, size_t *n) {
  return ward__cbor_get_string(r, 2, p, n);
}

/* ward__cbor_utf8 reports whether s[0:n] is well-formed UTF-8 (Unicode
 * table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF). */
static inline int ward__cbor_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) k = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (n - i - 1 < k) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t j = 2; j <= k; j++)
      if (s[i + j] < 0x80 || s[i + j] > 0xbf) return 0;
    i += k + 1;
  }
  return 1;
}

/* ward_cbor_get_text takes a text string, checked to be UTF-8; *s points
 * into the buffer and is not NUL-terminated. */
static inline int32_t ward_cbor_get_text(ward_cbor_reader *r, const char **s, size_t *n) {
  const uint8_t *p = 0;
  size_t at = r->off;
  if (ward__cbor_get_string(r, 3, &p, n)) return r->err;
  if (!ward__cbor_utf8(p, *n)) {
    r->off = at;
    return ward__cbor_fail(r, WARD_CBOR_ERR_MALFORMED);
  }
  *s = (const char *)p;
  return WARD_CBOR_OK;
}

/* ward__cbor_count takes an array or map head whose count, times per
 * (items per entry), must fit in the bytes left: each item takes at least
 * one, so a larger count is a truncated message, found before any loop. */
static inline int32_t ward__cbor_count(ward_cbor_reader *r, uint8_t major, uint64_t per, size_t *n) {
  uint64_t count = 0;
  size_t at = r->off;
  if (ward__cbor_take(r, major, &count)) return r->err;
  if (count > (r->len - r->off) / per) {
    r->off = at;
    return ward__cbor_fail(r, WARD_CBOR_ERR_TRUNCATED);
  }
  *n = (size_t)count;
  return WARD_CBOR_OK;
}

/* ward_cbor_get_array takes an array's head: *n items follow. */
static inline int32_t ward_cbor_get_array(ward_cbor_reader *r, size_t *n) { return ward__cbor_count(r, 4, 1, n); }

/* ward_cbor_get_map takes a map's head: *n key and value pairs follow. */
static inline int32_t ward_cbor_get_map(ward_cbor_reader *r, size_t *n) { return ward__cbor_count(r, 5, 2, n); }

static inline int32_t ward_cbor_get_bool(ward_cbor_reader *r, int *v) {
  uint8_t major;
  uint64_t arg;
  size_t n;
  if (ward__cbor_read_head(r, &major, &arg, &n)) return r->err;
  if (major != 7 || n != 1 || (arg != 20 && arg != 21)) return ward__cbor_fail(r, WARD_CBOR_ERR_TYPE);
  *v = arg == 21;
  r->off += n;
  return WARD_CBOR_OK;
}

/* ward_cbor_get_null takes a null; anything else is WARD_CBOR_ERR_TYPE
 * (check ward_cbor_peek first for an optional value). */
static inline int32_t ward_cbor_get_null(ward_cbor_reader *r) {
  uint8_t major;
  uint64_t arg;
  size_t n;
  if (ward__cbor_read_head(r, &major, &arg, &n)) return r->err;
  if (major != 7 || n != 1 || arg != 22) return ward__cbor_fail(r, WARD_CBOR_ERR_TYPE);
  r->off += n;
  return WARD_CBOR_OK;
}

/* ward_cbor_skip skips one item, nested items and all: a map value the
 * guest does not know, say. It keeps a count of items still to skip rather
 * than recursing, so deep nesting costs no stack. */
static inline int32_t ward_cbor_skip(ward_cbor_reader *r) {
  uint64_t pending = 1;
  size_t start = r->off;
  while (pending > 0) {
    uint8_t major;
    uint64_t arg;
    size_t n;
    if (ward__cbor_read_head(r, &major, &arg, &n)) break;
    size_t left = r->len - r->off - n;
    pending--;
    if (major == 2 || major == 3) {
      if (arg > left) {
        ward__cbor_fail(r, WARD_CBOR_ERR_TRUNCATED);
        break;
      }
      if (major == 3 && !ward__cbor_utf8(r->buf + r->off + n, (size_t)arg)) {
        ward__cbor_fail(r, WARD_CBOR_ERR_MALFORMED);
        break;
      }
      n += (size_t)arg;
    } else if (major == 4 || major == 5 || major == 6) {
      uint64_t more = major == 4 ? arg : major == 5 ? 2 * arg : 1;
      /* Every pending item takes at least a byte: this bounds pending by
       * the buffer's size and stops a huge count early. */
      if (arg > left || pending > left || more > left - pending) {
        ward__cbor_fail(r, WARD_CBOR_ERR_TRUNCATED);
        break;
      }
      pending += more;
    }
    r->off += n;
  }
  if (r->err) r->off = start;
  return r->err;
}

/* ward_cbor_end reports the reader's first error, or
 * WARD_CBOR_ERR_MALFORMED when bytes are left after the items read: call
 * it once a message's items are read. */
static inline int32_t ward_cbor_end(ward_cbor_reader *r) {
  if (!r->err && r->off != r->len) return ward__cbor_fail(r, WARD_CBOR_ERR_MALFORMED);
  return r->err;
}

/* ward_cbor_text_is reports whether a text string of n bytes at s equals
 * the C string want: for matching map keys. */
static inline int ward_cbor_text_is(const char *s, size_t n, const char *want) {
  return strlen(want) == n && memcmp(s, want, n) == 0;
}

/* ---- messages ---- */

/* ward_cbor_send sends the writer's bytes to pid under tag (>= 0). It
 * returns the writer's error if it has one (nothing is sent), else a
 * WARD_ status. */
static inline int32_t ward_cbor_send(int64_t pid, int64_t tag, const ward_cbor_writer *w) {
  if (w->err) return w->err;
  ward_message_create_data(tag);
  if (w->len > 0) {
    if (w->len > WARD_MAX_MESSAGE_SIZE) return WARD_ERR_LIMIT;
    int32_t st = ward_message_write_data((int32_t)(uintptr_t)w->buf, (int32_t)w->len);
    if (st != WARD_OK) return st;
  }
  /* The plain call first: it completes most local sends for a fraction of
   * what send costs; WARD_ERR_AGAIN leaves the message for send. */
  int32_t st = ward_message_try_send(pid);
  return st == WARD_ERR_AGAIN ? ward_message_send(pid) : st;
}

/* ward_cbor_reply answers the current message (a request): it sends the
 * writer's bytes to its sender under its tag. */
static inline int32_t ward_cbor_reply(const ward_cbor_writer *w) {
  return ward_cbor_send(ward_message_sender(), ward_message_get_tag(), w);
}

/* ward_cbor_read copies the current message's data into buf and starts r
 * on it. A message larger than cap is WARD_CBOR_ERR_SPACE, with nothing
 * read: it stays current, for a larger buffer (ward_message_data_size). */
static inline int32_t ward_cbor_read(ward_cbor_reader *r, void *buf, size_t cap) {
  int64_t size = ward_message_data_size();
  ward_cbor_reader_init(r, buf, 0);
  if (size < 0 || (uint64_t)size > cap) return r->err = WARD_CBOR_ERR_SPACE;
  size_t off = 0;
  while (off < (size_t)size) {
    int32_t k = ward_message_read_data((int32_t)(uintptr_t)((uint8_t *)buf + off), (int32_t)((size_t)size - off));
    if (k <= 0) break;
    off += (size_t)k;
  }
  r->len = off;
  return WARD_CBOR_OK;
}

/* ward_cbor_receive waits up to timeout_ms (-1: forever) for a message
 * with one of count tags at tags (any tag when count is 0), and reads it
 * as ward_cbor_read does. It returns a WARD_ status from the receive
 * (WARD_ERR_TIMEOUT, say) or ward_cbor_read's result. ward_message_get_tag
 * and ward_message_sender describe the message. */
static inline int32_t ward_cbor_receive(ward_cbor_reader *r, void *buf, size_t cap, const int64_t *tags,
                                        int32_t count, int64_t timeout_ms) {
  /* As ward_cbor_send: the plain call first, receive when it says to. */
  int32_t st = ward_message_try_receive((int32_t)(uintptr_t)tags, count);
  if (st == WARD_ERR_AGAIN) st = ward_message_receive((int32_t)(uintptr_t)tags, count, timeout_ms);
  if (st != WARD_OK) {
    ward_cbor_reader_init(r, buf, 0);
    return r->err = st;
  }
  return ward_cbor_read(r, buf, cap);
}

/* ward_cbor_request sends the writer's bytes to pid under a fresh tag,
 * waits up to timeout_ms for the reply and reads it into buf, as
 * ward_cbor_read does. WARD_ERR_NOT_FOUND also when pid ends before it
 * replies. */
static inline int32_t ward_cbor_request(int64_t pid, const ward_cbor_writer *w, ward_cbor_reader *r, void *buf,
                                        size_t cap, int64_t timeout_ms) {
  ward_cbor_reader_init(r, buf, 0);
  if (w->err) return r->err = w->err;
  int64_t tag = ward_message_unique_tag();
  ward_message_create_data(tag);
  if (w->len > 0) {
    int32_t st = w->len > WARD_MAX_MESSAGE_SIZE
                     ? WARD_ERR_LIMIT
                     : ward_message_write_data((int32_t)(uintptr_t)w->buf, (int32_t)w->len);
    if (st != WARD_OK) return r->err = st;
  }
  int32_t st = ward_message_send_receive(pid, (int32_t)(uintptr_t)&tag, 1, timeout_ms);
  if (st != WARD_OK) return r->err = st;
  return ward_cbor_read(r, buf, cap);
}

#ifdef __cplusplus
}
#endif

#endif /* WARD_CBOR_H */
