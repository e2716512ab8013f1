/* What fwg_load.c and rawrx.c share.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_BENCH_FWG_LOAD_H
#define FWGUARD_BENCH_FWG_LOAD_H
#include <stddef.h>
#include <stdint.h>

double now_s(void);     /* CLOCK_MONOTONIC, seconds */
double cpu_s(void);     /* this process's user + system time, seconds */
/* n pseudo-random bytes (xorshift64) from seed */
void xorshift_fill(uint8_t *p, size_t n, uint64_t seed);
/* fwg_load rawrx (rawrx.c) */
int cmd_rawrx(int argc, char **argv);
#endif
