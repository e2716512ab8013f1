/* What fwg_load.c and sink.c share.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_BENCH_FWG_LOAD_H
#define FWGUARD_BENCH_FWG_LOAD_H
#include <stddef.h>
#include <stdint.h>

double now_s(void);     /* CLOCK_MONOTONIC, seconds */
double cpu_s(void);     /* this process's user + system time, seconds */
/* fwg_load sink (sink.c) */
int cmd_sink(int argc, char **argv);
#endif
