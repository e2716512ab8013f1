/* Bounded tag replay cache (§3). SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_REPLAY_H
#define FWGUARD_REPLAY_H
#include "fwguard/fwguard.h"

struct fwg_replay;
enum fwg_replay_result {
	FWG_REPLAY_NEW = 0,        /* not seen within the window */
	FWG_REPLAY_SAME_CLIENT,    /* seen, from the same client id */
	FWG_REPLAY_OTHER_CLIENT,   /* seen, from another client id */
};
/* capacity entries; the oldest is evicted when full. O(1) lookup/insert,
 * no allocation after creation. The client id is kept as a 64-bit FNV-1a
 * hash: a collision can only turn a refused replay (OTHER_CLIENT) into an
 * acknowledged no-op (SAME_CLIENT), never make a replay take effect. */
struct fwg_replay *fwg_replay_new(size_t capacity);
void fwg_replay_free(struct fwg_replay *r);
/* Entries older than window seconds count as not seen. Inserting a MAC
 * that is already cached replaces its entry (new time and client). */
enum fwg_replay_result fwg_replay_check(struct fwg_replay *r, const uint8_t mac[FWG_SHA256_LEN],
		const char *client_id, int64_t now, int64_t window);
void fwg_replay_insert(struct fwg_replay *r, const uint8_t mac[FWG_SHA256_LEN],
		const char *client_id, int64_t now);
size_t fwg_replay_count(const struct fwg_replay *r);
#endif
