/*
 * stats.c: a ward guest in C that speaks CBOR, with ward_cbor.h.
 *
 *   stats_server()          answers every request until a message with
 *                           tag 0.
 *   stats_client(report_to) spawns a stats_server, sends it a request,
 *                           checks the reply, reports {"name", "sum"} from
 *                           it to report_to (tag 1), stops the server and
 *                           exits with 0 if all went well.
 *
 * A request is a CBOR map (what runtime.EncodeMessage makes of a Go
 * struct):
 *
 *   {"name": text, "values": [int, ...] or null, "data": bytes or null,
 *    "upper": bool}
 *
 * any key optional, other keys skipped. The reply is a map:
 *
 *   {"name": the name (upper-cased if upper), "sum": the values' sum,
 *    "count": how many, "data": data reversed, "error": null}
 *
 * or, when the request is not such a map (truncated, malformed, of the
 * wrong types, a sum past int64), {"error": what, "code": the
 * WARD_CBOR_ERR_* code}. The server never trusts the request: every read
 * is bounds-checked by ward_cbor.h, and a bad request gets an error reply.
 *
 * Build: guest/c/build.sh (clang --target=wasm32-wasi -mexec-model=reactor).
 */
#include <stdint.h>
#include <stdlib.h>

#include "ward.h"
#include "ward_cbor.h"

enum { TAG_STOP = 0, TAG_REPORT = 1 };

typedef struct request {
  const char *name;
  size_t name_len;
  int64_t sum;
  uint64_t count;
  const uint8_t *data;
  size_t data_len;
  int upper;
} request;

/* decode_values adds up an array of integers, or takes a null. */
static int32_t decode_values(ward_cbor_reader *r, request *q) {
  if (ward_cbor_peek(r) == WARD_CBOR_NULL) return ward_cbor_get_null(r);
  size_t n = 0;
  if (ward_cbor_get_array(r, &n)) return r->err;
  for (size_t i = 0; i < n; i++) {
    int64_t v = 0;
    if (ward_cbor_get_int(r, &v)) return r->err;
    if (__builtin_add_overflow(q->sum, v, &q->sum)) return r->err = WARD_CBOR_ERR_RANGE;
  }
  q->count = n;
  return WARD_CBOR_OK;
}

/* decode reads a whole request; it returns the first error. */
static int32_t decode(ward_cbor_reader *r, request *q) {
  size_t pairs = 0;
  if (ward_cbor_get_map(r, &pairs)) return r->err;
  for (size_t i = 0; i < pairs; i++) {
    const char *key = 0;
    size_t key_len = 0;
    if (ward_cbor_get_text(r, &key, &key_len)) return r->err;
    if (ward_cbor_text_is(key, key_len, "name")) {
      ward_cbor_get_text(r, &q->name, &q->name_len);
    } else if (ward_cbor_text_is(key, key_len, "values")) {
      decode_values(r, q);
    } else if (ward_cbor_text_is(key, key_len, "data")) {
      if (ward_cbor_peek(r) == WARD_CBOR_NULL) ward_cbor_get_null(r);
      else ward_cbor_get_bytes(r, &q->data, &q->data_len);
    } else if (ward_cbor_text_is(key, key_len, "upper")) {
      ward_cbor_get_bool(r, &q->upper);
    } else {
      ward_cbor_skip(r); /* a key this version does not know */
    }
    if (r->err) return r->err;
  }
  return ward_cbor_end(r); /* nothing may follow the map */
}

static const char *describe(int32_t err) {
  switch (err) {
  case WARD_CBOR_ERR_TRUNCATED: return "truncated";
  case WARD_CBOR_ERR_MALFORMED: return "malformed";
  case WARD_CBOR_ERR_TYPE: return "wrong type";
  case WARD_CBOR_ERR_RANGE: return "out of range";
  case WARD_CBOR_ERR_SPACE: return "too large";
  default: return "failed";
  }
}

/* answer replies to the current message, a request of size bytes. */
static void answer(int64_t size) {
  /* Exactly the message's size: a read past the request would leave it. */
  uint8_t *in = malloc(size > 0 ? (size_t)size : 1);
  /* The reply holds at most the name and the data, and a few heads. */
  size_t cap = 2 * (size_t)size + 128;
  uint8_t *out = malloc(cap);
  if (in == NULL || out == NULL) ward_process_exit(100);

  ward_cbor_reader r;
  request q = {0};
  int32_t err = ward_cbor_read(&r, in, (size_t)size);
  if (!err) err = decode(&r, &q);

  ward_cbor_writer w;
  ward_cbor_writer_init(&w, out, cap);
  if (err) {
    ward_cbor_put_map(&w, 2);
    ward_cbor_put_cstr(&w, "error");
    ward_cbor_put_cstr(&w, describe(err));
    ward_cbor_put_cstr(&w, "code");
    ward_cbor_put_int(&w, err);
  } else {
    ward_cbor_put_map(&w, 5);
    ward_cbor_put_cstr(&w, "name");
    /* The name is UTF-8, so upper-casing ASCII letters keeps it UTF-8. It
     * is written in place: the writer reserved its bytes. */
    ward_cbor_put_text(&w, q.name, q.name_len);
    if (q.upper && !w.err)
      for (size_t i = w.len - q.name_len; i < w.len; i++)
        if (w.buf[i] >= 'a' && w.buf[i] <= 'z') w.buf[i] -= 'a' - 'A';
    ward_cbor_put_cstr(&w, "sum");
    ward_cbor_put_int(&w, q.sum);
    ward_cbor_put_cstr(&w, "count");
    ward_cbor_put_uint(&w, q.count);
    ward_cbor_put_cstr(&w, "data");
    ward_cbor_put_bytes(&w, q.data, q.data_len);
    if (!w.err) { /* reversed in place, as for the name */
      uint8_t *d = w.buf + w.len - q.data_len;
      for (size_t i = 0; i < q.data_len / 2; i++) {
        uint8_t t = d[i];
        d[i] = d[q.data_len - 1 - i];
        d[q.data_len - 1 - i] = t;
      }
    }
    ward_cbor_put_cstr(&w, "error");
    ward_cbor_put_null(&w);
  }
  if (ward_cbor_reply(&w) != WARD_OK) ward_process_exit(101);
  free(in);
  free(out);
}

__attribute__((export_name("stats_server")))
void stats_server(void) {
  for (;;) {
    if (ward_message_receive(0, 0, -1) != WARD_OK) ward_process_exit(1);
    if (ward_message_get_tag() == TAG_STOP) return; /* a normal end */
    answer(ward_message_data_size());
  }
}

__attribute__((export_name("stats_client")))
void stats_client(int64_t report_to) {
  static const char entry[] = "stats_server";
  int64_t server = 0; /* written by the host */
  if (ward_process_spawn((int32_t)(uintptr_t)entry, sizeof entry - 1, 0, 0, (int32_t)(uintptr_t)&server) != WARD_OK)
    ward_process_exit(1);

  /* {"values": [40, 2, -1], "name": "from c", "upper": true} */
  uint8_t out[64], in[64];
  ward_cbor_writer w;
  ward_cbor_writer_init(&w, out, sizeof out);
  ward_cbor_put_map(&w, 3);
  ward_cbor_put_cstr(&w, "values");
  ward_cbor_put_array(&w, 3);
  ward_cbor_put_int(&w, 40);
  ward_cbor_put_int(&w, 2);
  ward_cbor_put_int(&w, -1);
  ward_cbor_put_cstr(&w, "name");
  ward_cbor_put_cstr(&w, "from c");
  ward_cbor_put_cstr(&w, "upper");
  ward_cbor_put_bool(&w, 1);
  ward_cbor_reader r;
  if (ward_cbor_request(server, &w, &r, in, sizeof in, 5000) != WARD_OK) ward_process_exit(2);

  /* The reply: name, sum, count, data, error (null), in any order. */
  const char *name = 0;
  size_t name_len = 0, pairs = 0;
  int64_t sum = 0;
  ward_cbor_get_map(&r, &pairs);
  for (size_t i = 0; i < pairs && !r.err; i++) {
    const char *key = 0;
    size_t n = 0;
    ward_cbor_get_text(&r, &key, &n);
    if (ward_cbor_text_is(key, n, "name")) ward_cbor_get_text(&r, &name, &name_len);
    else if (ward_cbor_text_is(key, n, "sum")) ward_cbor_get_int(&r, &sum);
    else if (ward_cbor_text_is(key, n, "error")) ward_cbor_get_null(&r); /* an error is text */
    else ward_cbor_skip(&r);
  }
  if (ward_cbor_end(&r) != WARD_CBOR_OK) ward_process_exit(3);

  ward_cbor_writer_init(&w, out, sizeof out);
  ward_cbor_put_map(&w, 2);
  ward_cbor_put_cstr(&w, "name");
  ward_cbor_put_text(&w, name, name_len);
  ward_cbor_put_cstr(&w, "sum");
  ward_cbor_put_int(&w, sum);
  if (ward_cbor_send(report_to, TAG_REPORT, &w) != WARD_OK) ward_process_exit(4);

  ward_message_create_data(TAG_STOP);
  ward_message_send(server);
  ward_process_exit(0);
}
