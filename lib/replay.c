/* Bounded tag replay cache (PROTOCOL.md §3). SPDX-License-Identifier: Apache-2.0
 *
 * Keyed by the 32-byte tag MAC. An open-addressing hash table (linear
 * probing, load <= 1/2, backward-shift deletion: no tombstones) indexes a
 * FIFO ring of at most `capacity` entries; when the ring is full the oldest
 * entry is evicted. All memory is allocated at creation; check and insert
 * are O(1) on average.
 *
 * The client id is stored as its 64-bit FNV-1a hash, not as a string. A
 * collision between two client ids can only make a replay from another
 * client look like a retry of the same client: the publish is then
 * acknowledged as a no-op instead of refused — it is still never processed
 * again, so a collision can never make a replay take effect.
 *
 * MACs inserted are tags that verified under a vendor's key, so their bits
 * are uniformly distributed and cannot be chosen by an attacker: the first
 * 8 bytes serve as the hash directly.
 */
#include <stdlib.h>
#include <string.h>
#include "fwguard/replay.h"

#define SLOT_EMPTY UINT32_MAX

struct replay_entry {
	uint8_t mac[FWG_SHA256_LEN];
	uint64_t client;     /* FNV-1a 64 of the client id */
	int64_t ts;          /* when inserted */
	bool live;           /* false: superseded by a later insert of the same MAC */
};

struct fwg_replay {
	size_t capacity;     /* ring entries */
	size_t head;         /* oldest ring position */
	size_t used;         /* ring positions in use (live or not) */
	size_t live;         /* live entries = entries in the table */
	struct replay_entry *ring;
	uint32_t *slots;     /* ring index, or SLOT_EMPTY */
	size_t mask;         /* table size - 1 (a power of two >= 2 * capacity) */
};

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	if(s) {
		for(; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 0x100000001b3ULL;
		}
	}
	return h;
}

static size_t home_slot(const struct fwg_replay *r, const uint8_t mac[FWG_SHA256_LEN])
{
	uint64_t h;
	memcpy(&h, mac, sizeof(h));
	/* a cheap mix so that short structured test MACs spread too */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & r->mask;
}

struct fwg_replay *fwg_replay_new(size_t capacity)
{
	if(capacity == 0) capacity = 1;
	if(capacity > (SLOT_EMPTY - 1) / 2) return NULL;
	size_t tsize = 2;
	while(tsize < 2 * capacity) tsize <<= 1;
	struct fwg_replay *r = calloc(1, sizeof(*r));
	if(!r) return NULL;
	r->capacity = capacity;
	r->mask = tsize - 1;
	r->ring = calloc(capacity, sizeof(*r->ring));
	r->slots = malloc(tsize * sizeof(*r->slots));
	if(!r->ring || !r->slots) {
		fwg_replay_free(r);
		return NULL;
	}
	for(size_t i = 0; i < tsize; i++) r->slots[i] = SLOT_EMPTY;
	return r;
}

void fwg_replay_free(struct fwg_replay *r)
{
	if(!r) return;
	free(r->ring);
	free(r->slots);
	free(r);
}

size_t fwg_replay_count(const struct fwg_replay *r)
{
	return r ? r->live : 0;
}

/* Table slot holding mac, or SIZE_MAX. */
static size_t find_slot(const struct fwg_replay *r, const uint8_t mac[FWG_SHA256_LEN])
{
	for(size_t i = home_slot(r, mac);; i = (i + 1) & r->mask) {
		uint32_t e = r->slots[i];
		if(e == SLOT_EMPTY) return SIZE_MAX;
		if(memcmp(r->ring[e].mac, mac, FWG_SHA256_LEN) == 0) return i;
	}
}

/* Backward-shift deletion (linear probing): move later members of the
 * probe run into the hole when their home does not lie in (hole, j]. */
static void delete_slot(struct fwg_replay *r, size_t i)
{
	size_t j = i;
	for(;;) {
		j = (j + 1) & r->mask;
		uint32_t e = r->slots[j];
		if(e == SLOT_EMPTY) break;
		size_t k = home_slot(r, r->ring[e].mac);
		bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
		if(stays) continue;
		r->slots[i] = e;
		i = j;
	}
	r->slots[i] = SLOT_EMPTY;
	r->live--;
}

enum fwg_replay_result fwg_replay_check(struct fwg_replay *r, const uint8_t mac[FWG_SHA256_LEN],
		const char *client_id, int64_t now, int64_t window)
{
	if(!r || !mac) return FWG_REPLAY_NEW;
	size_t s = find_slot(r, mac);
	if(s == SIZE_MAX) return FWG_REPLAY_NEW;
	const struct replay_entry *e = &r->ring[r->slots[s]];
	/* older than the window: as if never seen (overflow-safe age test) */
	if(now > e->ts && (uint64_t)now - (uint64_t)e->ts > (uint64_t)(window < 0 ? 0 : window))
		return FWG_REPLAY_NEW;
	return e->client == fnv1a64(client_id) ? FWG_REPLAY_SAME_CLIENT : FWG_REPLAY_OTHER_CLIENT;
}

void fwg_replay_insert(struct fwg_replay *r, const uint8_t mac[FWG_SHA256_LEN],
		const char *client_id, int64_t now)
{
	if(!r || !mac) return;
	/* A MAC seen before (e.g. outside the window): its old entry goes, the
	 * new one takes the youngest place in the ring. */
	size_t s = find_slot(r, mac);
	if(s != SIZE_MAX) {
		r->ring[r->slots[s]].live = false;
		delete_slot(r, s);
	}
	if(r->used == r->capacity) {
		/* evict the oldest ring position */
		struct replay_entry *old = &r->ring[r->head];
		if(old->live) {
			size_t os = find_slot(r, old->mac);
			if(os != SIZE_MAX) delete_slot(r, os);
			old->live = false;
		}
		r->head = (r->head + 1) % r->capacity;
		r->used--;
	}
	size_t pos = (r->head + r->used) % r->capacity;
	struct replay_entry *e = &r->ring[pos];
	memcpy(e->mac, mac, FWG_SHA256_LEN);
	e->client = fnv1a64(client_id);
	e->ts = now;
	e->live = true;
	r->used++;

	size_t i = home_slot(r, mac);
	while(r->slots[i] != SLOT_EMPTY) i = (i + 1) & r->mask;
	r->slots[i] = (uint32_t)pos;
	r->live++;
}
