/* Device status (§7). SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_STATUS_H
#define FWGUARD_STATUS_H
#include "fwguard/fwguard.h"

enum fwg_dev_state {
	FWG_ST_IDLE = 0,
	FWG_ST_DOWNLOADING,
	FWG_ST_VERIFYING,
	FWG_ST_INSTALLED,
	FWG_ST_FAILED,
	FWG_ST__COUNT
};

#define FWG_STATUS_TEXT_MAX 256

struct fwg_status {
	enum fwg_dev_state state;
	bool has_sequence; uint64_t sequence;       /* integer 0..2^53-1 */
	bool has_progress; unsigned progress;       /* 0..100 */
	bool has_version;  char version[FWG_STATUS_TEXT_MAX + 1]; /* truncated copy */
	bool has_error;    char error[FWG_STATUS_TEXT_MAX + 1];   /* truncated copy */
};

/* <= 4 KiB, UTF-8, a JSON object, "state" required and one of the five,
 * known members with their types (duplicates of known members rejected),
 * unknown members ignored. FWG_R_OK, FWG_R_TOO_LARGE, FWG_R_NOT_UTF8,
 * FWG_R_JSON_INVALID, FWG_R_JSON_NOT_OBJECT or FWG_R_STATUS_INVALID. */
enum fwg_reason fwg_status_parse(const uint8_t *buf, size_t len, struct fwg_status *st);
/* Compact JSON of st (only the members that are set); malloc'd, or NULL. */
char *fwg_status_build(const struct fwg_status *st);
const char *fwg_status_state_str(enum fwg_dev_state s);
/* -1 if unknown */
int fwg_status_state_parse(const char *s);
#endif
