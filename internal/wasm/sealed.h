#ifndef WARD_SEALED_H
#define WARD_SEALED_H

// A memory file that can be sealed, or -1 with errno set.
int ward_memfd(void);
// Seals fd against writing, growing and shrinking, and against unsealing:
// 0, or -1 with errno set.
int ward_seal(int fd);

#endif
