/* Library rdrand: random bytes from the CPU (stdlib/lib/rdrand). */
#ifndef UNILANG_RDRAND_H
#define UNILANG_RDRAND_H

#include <stddef.h>

/* Fills buf with n random bytes from RDRAND (or RDSEED, see the library's
 * `source` parameter).  Returns 0, or -1 when the CPU lacks the instruction
 * (a message says so on the console, once) or it keeps failing. */
int unilang_random_bytes(void *buf, size_t n);

#endif /* UNILANG_RDRAND_H */
