/* Durable anti-rollback state: the accepted manifest of each (vendor, model).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_STATE_H
#define FWGUARD_STATE_H
#include "fwguard/manifest.h"

struct fwg_model_state {
	char vendor[FWG_ID_MAX + 1];
	char model[FWG_ID_MAX + 1];
	uint64_t sequence;            /* highest accepted */
	uint8_t *raw; size_t raw_len; /* the accepted manifest, byte for byte */
	struct fwg_manifest m;        /* parsed raw */
	uint8_t seen[FWG_MAX_CHUNKS / 8]; /* chunks accepted at least once */
	uint32_t seen_count;
	bool complete;
};

/* Operator settings of a model ($CONTROL), persisted with the state. */
struct fwg_model_control {
	char vendor[FWG_ID_MAX + 1];
	char model[FWG_ID_MAX + 1];
	unsigned percent;             /* staged rollout 0..100 */
	bool paused;                  /* nobody new receives the current manifest */
	uint64_t floor;               /* sequence floor set by an operator */
};

struct fwg_state {
	char *path;
	struct fwg_map *models;       /* "vendor/model" -> struct fwg_model_state * */
	struct fwg_map *controls;     /* "vendor/model" -> struct fwg_model_control * */
	struct fwg_map *revoked;      /* "vendor/key_id" -> (non-NULL) : keys revoked by an operator */
};

/* Load: a missing file is an empty state; anything unreadable, corrupt or
 * inconsistent fails (never a silent reset). 0, or -1 with a message. */
int fwg_state_load(const char *path, struct fwg_state **out, char *err, size_t errlen);
void fwg_state_free(struct fwg_state *s);
struct fwg_model_state *fwg_state_get(const struct fwg_state *s, const char *vendor, size_t vlen,
		const char *model, size_t mlen);
/* Serialise s with `next` standing in for its (vendor, model) — so the file
 * can be written before memory changes — and write it atomically: tmp file,
 * fsync, rename, fsync of the directory. next may be NULL. 0, or -1 (errno). */
int fwg_state_save(const struct fwg_state *s, const struct fwg_model_state *next);
/* Operator settings: get (NULL if none), or get-or-create with defaults
 * (100 %, not paused, floor 0). */
struct fwg_model_control *fwg_state_control(const struct fwg_state *s, const char *vendor, size_t vlen,
		const char *model, size_t mlen);
struct fwg_model_control *fwg_state_control_add(struct fwg_state *s, const char *vendor, const char *model);
bool fwg_state_key_revoked(const struct fwg_state *s, const char *vendor, const char *key_id);
/* Mark a key revoked in memory (persist with fwg_state_save). 0 / -1. */
int fwg_state_revoke(struct fwg_state *s, const char *vendor, const char *key_id);
void fwg_state_unrevoke(struct fwg_state *s, const char *vendor, const char *key_id);

/* Replace (or add) the model's entry by next (ownership of next->raw and
 * next->m moves into the state). 0 / -1. */
int fwg_state_commit(struct fwg_state *s, struct fwg_model_state *next);
#endif
