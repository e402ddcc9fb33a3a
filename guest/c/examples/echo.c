/*
 * echo.c: a complete ward guest in C, using ward.h.
 *
 * Two exports, so two kinds of process from one module:
 *
 *   echo_server(upper i32)  registers as "echo" 1.0.0 and answers every
 *                           request with its data (upper-cased when upper
 *                           is nonzero), until a message with tag 0.
 *   client(report_to i64)   spawns an echo_server, monitors it, sends it a
 *                           request, forwards the reply to report_to, finds
 *                           the server again by name, stops it, waits for
 *                           its end, and exits with 0 if all went well.
 *
 * Build: guest/c/build.sh (clang --target=wasm32-wasi -mexec-model=reactor).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ward.h"

enum { TAG_STOP = 0, TAG_REPORT = 1 };

/* Pointers go to the host as i32 offsets into linear memory. */
static int32_t ptr(const void *p) { return (int32_t)(uintptr_t)p; }

/* send_bytes sends n bytes at p to pid under tag; returns a WARD_ status. */
static int32_t send_bytes(int64_t pid, int64_t tag, const void *p, int32_t n) {
  ward_message_create_data(tag);
  if (n > 0) {
    int32_t st = ward_message_write_data(ptr(p), n);
    if (st != WARD_OK) return st;
  }
  return ward_message_send(pid);
}

/* read_message copies the current message's data into a new buffer (NUL
 * terminated, for convenience) and stores its length in *len. */
static char *read_message(int32_t *len) {
  int64_t size = ward_message_data_size();
  char *buf = malloc((size_t)size + 1);
  if (buf == NULL) ward_process_exit(100);
  int32_t off = 0;
  while (off < size) {
    int32_t k = ward_message_read_data(ptr(buf + off), (int32_t)(size - off));
    if (k <= 0) break;
    off += k;
  }
  buf[off] = 0;
  *len = off;
  return buf;
}

__attribute__((export_name("echo_server")))
void echo_server(int32_t upper) {
  static const char name[] = "echo", version[] = "1.0.0";
  if (ward_registry_register(ptr(name), sizeof name - 1, ptr(version), sizeof version - 1) != WARD_OK)
    ward_process_exit(1);
  for (;;) {
    /* Any message (no tags), no timeout (-1). */
    if (ward_message_receive(0, 0, -1) != WARD_OK) ward_process_exit(2);
    int64_t tag = ward_message_get_tag();
    if (tag == TAG_STOP) return; /* a normal end */
    int64_t from = ward_message_sender();
    int32_t n;
    char *data = read_message(&n);
    if (upper)
      for (int32_t i = 0; i < n; i++)
        if (data[i] >= 'a' && data[i] <= 'z') data[i] -= 'a' - 'A';
    /* The reply goes back under the request's tag. */
    send_bytes(from, tag, data, n);
    free(data);
  }
}

__attribute__((export_name("client")))
void client(int64_t report_to) {
  /* Spawn echo_server(1): one i32 parameter record. */
  static const char entry[] = "echo_server";
  ward_spawn_param_t params[1] = {{.type = WARD_TYPE_I32, .value = 1}};
  int64_t server = 0; /* written by the host through its address */
  if (ward_process_spawn(ptr(entry), sizeof entry - 1, ptr(params), 1, ptr(&server)) != WARD_OK)
    ward_process_exit(1);
  int64_t ref = ward_process_monitor(server);

  /* Request and reply: a fresh tag, then send and wait for that tag. */
  static const char hello[] = "hello from c";
  int64_t tag = ward_message_unique_tag();
  ward_message_create_data(tag);
  ward_message_write_data(ptr(hello), sizeof hello - 1);
  if (ward_message_send_receive(server, ptr(&tag), 1, 5000) != WARD_OK) ward_process_exit(2);
  int32_t n;
  char *reply = read_message(&n);
  if (send_bytes(report_to, TAG_REPORT, reply, n) != WARD_OK) ward_process_exit(3);
  free(reply);

  /* The server registered before it replied, so the registry has it. */
  static const char name[] = "echo", constraint[] = "^1";
  int64_t found = 0;
  if (ward_registry_lookup(ptr(name), sizeof name - 1, ptr(constraint), sizeof constraint - 1,
                           ptr(&found)) != WARD_OK || found != server)
    ward_process_exit(4);

  /* Stop it and wait for its TagDown: ref (u64), id (u64), kind (u32), text. */
  send_bytes(server, TAG_STOP, NULL, 0);
  int64_t down = WARD_TAG_DOWN;
  if (ward_message_receive(ptr(&down), 1, 5000) != WARD_OK) ward_process_exit(5);
  int32_t len;
  char *d = read_message(&len);
  uint64_t got_ref, got_pid;
  uint32_t kind;
  if (len < 20) ward_process_exit(6);
  memcpy(&got_ref, d, 8); /* Wasm is little-endian, as the layout */
  memcpy(&got_pid, d + 8, 8);
  memcpy(&kind, d + 16, 4);
  free(d);
  if ((int64_t)got_ref != ref || (int64_t)got_pid != server || kind != WARD_REASON_NORMAL)
    ward_process_exit(7);
  ward_process_exit(0);
}
