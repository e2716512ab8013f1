/* Per-key rate limit for denial records (PROTOCOL.md §8).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fixed windows: each key may emit `burst` records per window of `period`
 * seconds, the window starting at the key's first record after the previous
 * window ended. At most max_keys keys are tracked: an open-addressing table
 * (linear probing, backward-shift deletion) over a fixed array of entries
 * threaded on a doubly linked LRU list; a new key evicts the least recently
 * used one (its pending suppressed count is lost with it). O(1) on average.
 *
 * Keys (client ids) are chosen by clients, so the table hash is seeded with
 * a per-table random value, and keys are compared in full (a hash collision
 * never merges two clients' counters).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include "fwguard/ratelimit.h"

#define NIL UINT32_MAX

struct rl_entry {
	char *key;           /* NULL: free */
	size_t key_len;
	uint64_t hash;
	int64_t window_start;
	unsigned emitted;    /* in the current window */
	uint64_t suppressed; /* dropped since the last emitted record */
	uint32_t prev, next; /* LRU list: head = most recent */
};

struct fwg_ratelimit {
	size_t max_keys;
	unsigned burst, period;
	uint64_t seed;
	struct rl_entry *e;
	size_t nused;        /* entries handed out (free ones are at the end) */
	uint32_t lru_head, lru_tail;
	uint32_t *slots;     /* entry index or NIL */
	size_t mask;
};

static uint64_t key_hash(uint64_t seed, const char *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for(size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 0x100000001b3ULL;
	}
	/* finaliser (splitmix64) so the low bits depend on every byte */
	h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27; h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

struct fwg_ratelimit *fwg_ratelimit_new(size_t max_keys, unsigned burst, unsigned period)
{
	if(max_keys == 0) max_keys = 1;
	if(max_keys > (NIL - 1) / 2) return NULL;
	size_t tsize = 2;
	while(tsize < 2 * max_keys) tsize <<= 1;
	struct fwg_ratelimit *rl = calloc(1, sizeof(*rl));
	if(!rl) return NULL;
	rl->max_keys = max_keys;
	rl->burst = burst;
	rl->period = period;
	rl->mask = tsize - 1;
	rl->lru_head = rl->lru_tail = NIL;
	if(RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1)
		rl->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)rl;
	rl->e = calloc(max_keys, sizeof(*rl->e));
	rl->slots = malloc(tsize * sizeof(*rl->slots));
	if(!rl->e || !rl->slots) {
		fwg_ratelimit_free(rl);
		return NULL;
	}
	for(size_t i = 0; i < tsize; i++) rl->slots[i] = NIL;
	return rl;
}

void fwg_ratelimit_free(struct fwg_ratelimit *rl)
{
	if(!rl) return;
	if(rl->e) {
		for(size_t i = 0; i < rl->nused; i++) free(rl->e[i].key);
	}
	free(rl->e);
	free(rl->slots);
	free(rl);
}

static void lru_unlink(struct fwg_ratelimit *rl, uint32_t i)
{
	struct rl_entry *x = &rl->e[i];
	if(x->prev != NIL) rl->e[x->prev].next = x->next; else rl->lru_head = x->next;
	if(x->next != NIL) rl->e[x->next].prev = x->prev; else rl->lru_tail = x->prev;
	x->prev = x->next = NIL;
}

static void lru_push_front(struct fwg_ratelimit *rl, uint32_t i)
{
	struct rl_entry *x = &rl->e[i];
	x->prev = NIL;
	x->next = rl->lru_head;
	if(rl->lru_head != NIL) rl->e[rl->lru_head].prev = i; else rl->lru_tail = i;
	rl->lru_head = i;
}

static size_t find_slot(const struct fwg_ratelimit *rl, const char *key, size_t n, uint64_t h)
{
	for(size_t i = (size_t)h & rl->mask;; i = (i + 1) & rl->mask) {
		uint32_t ei = rl->slots[i];
		if(ei == NIL) return SIZE_MAX;
		const struct rl_entry *x = &rl->e[ei];
		if(x->hash == h && x->key_len == n && memcmp(x->key, key, n) == 0) return i;
	}
}

static void delete_slot(struct fwg_ratelimit *rl, size_t i)
{
	size_t j = i;
	for(;;) {
		j = (j + 1) & rl->mask;
		uint32_t ei = rl->slots[j];
		if(ei == NIL) break;
		size_t k = (size_t)rl->e[ei].hash & rl->mask;
		bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
		if(stays) continue;
		rl->slots[i] = ei;
		i = j;
	}
	rl->slots[i] = NIL;
}

bool fwg_ratelimit_allow(struct fwg_ratelimit *rl, const char *key, int64_t now,
		uint64_t *suppressed)
{
	uint64_t dummy;
	if(!suppressed) suppressed = &dummy;
	*suppressed = 0;
	if(!rl) return true;
	if(!key) key = "";
	size_t n = strlen(key);
	uint64_t h = key_hash(rl->seed, key, n);
	size_t s = find_slot(rl, key, n, h);
	uint32_t ei;
	struct rl_entry *x;
	if(s != SIZE_MAX) {
		ei = rl->slots[s];
		x = &rl->e[ei];
		lru_unlink(rl, ei);
	} else {
		char *copy = malloc(n + 1);
		if(!copy) return true;   /* cannot track it: let the record through */
		memcpy(copy, key, n + 1);
		if(rl->nused < rl->max_keys) {
			ei = (uint32_t)rl->nused++;
		} else {
			/* evict the least recently used key */
			ei = rl->lru_tail;
			struct rl_entry *old = &rl->e[ei];
			size_t os = find_slot(rl, old->key, old->key_len, old->hash);
			if(os != SIZE_MAX) delete_slot(rl, os);
			lru_unlink(rl, ei);
			free(old->key);
		}
		x = &rl->e[ei];
		x->key = copy;
		x->key_len = n;
		x->hash = h;
		x->window_start = now;
		x->emitted = 0;
		x->suppressed = 0;
		size_t i = (size_t)h & rl->mask;
		while(rl->slots[i] != NIL) i = (i + 1) & rl->mask;
		rl->slots[i] = ei;
	}
	lru_push_front(rl, ei);

	/* a new window once the period has passed (or the clock went back) */
	if(now < x->window_start || (uint64_t)now - (uint64_t)x->window_start >= rl->period) {
		x->window_start = now;
		x->emitted = 0;
	}
	if(x->emitted < rl->burst) {
		x->emitted++;
		*suppressed = x->suppressed;
		x->suppressed = 0;
		return true;
	}
	if(x->suppressed < UINT64_MAX) x->suppressed++;
	return false;
}
