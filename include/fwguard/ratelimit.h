/* Per-key rate limit for denial records (§8). SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_RATELIMIT_H
#define FWGUARD_RATELIMIT_H
#include "fwguard/fwguard.h"

struct fwg_ratelimit;
/* At most burst records per key per period seconds; at most max_keys keys
 * tracked (least recently used evicted). */
struct fwg_ratelimit *fwg_ratelimit_new(size_t max_keys, unsigned burst, unsigned period);
void fwg_ratelimit_free(struct fwg_ratelimit *rl);
/* true: emit the record, and *suppressed is the number of records dropped for
 * this key since the last emitted one (then reset). false: drop it (counted;
 * *suppressed is 0). suppressed may be NULL; a NULL key is the empty key.
 * The count of an evicted key is lost. */
bool fwg_ratelimit_allow(struct fwg_ratelimit *rl, const char *key, int64_t now,
		uint64_t *suppressed);
#endif
