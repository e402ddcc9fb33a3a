// sealed.c: see deserialize.go.
#define _GNU_SOURCE
#include "sealed.h"
#include <fcntl.h>
#include <sys/mman.h>

int ward_memfd(void) { return memfd_create("ward-cwasm", MFD_CLOEXEC | MFD_ALLOW_SEALING); }

int ward_seal(int fd) {
  return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}
