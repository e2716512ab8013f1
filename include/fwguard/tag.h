/* Vendor authentication tag (§3). SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_TAG_H
#define FWGUARD_TAG_H
#include "fwguard/fwguard.h"

/* A reusable HMAC-SHA256 context keyed once with K (EVP_MAC, re-initialised
 * per tag without re-keying). Not thread-safe; one per vendor. */
struct fwg_tag_ctx;

struct fwg_tag_ctx *fwg_tag_ctx_new(const uint8_t key[32]);
void fwg_tag_ctx_free(struct fwg_tag_ctx *ctx);

/* tag_base = "fwguard-tag-v1" LF topic LF ts LF hex(sha). Writes into buf
 * (NUL-terminated); returns its length or -1 if cap is too small. */
long fwg_tag_base(char *buf, size_t cap, const char *topic, const char *ts,
		const uint8_t payload_sha[FWG_SHA256_LEN]);

/* HMAC over the tag base. 0 / -1. */
int fwg_tag_compute(struct fwg_tag_ctx *ctx, const char *topic, const char *ts,
		const uint8_t payload_sha[FWG_SHA256_LEN], uint8_t mac[FWG_SHA256_LEN]);

/* Check a received tag, cheapest first:
 *  ts well formed ("0|[1-9][0-9]*", fits int64)      -> FWG_R_TS_MALFORMED
 *  tag is 64 lowercase hex                           -> FWG_R_TAG_MALFORMED
 *  now - ts > window                                 -> FWG_R_TAG_STALE
 *  ts - now > window                                 -> FWG_R_TAG_FUTURE
 *  HMAC equal (constant time)                        -> FWG_R_TAG_MISMATCH
 * ts/tag are not NUL-terminated (lengths given). On FWG_R_OK the verified MAC
 * is copied to mac_out (the replay cache key) when mac_out is not NULL. */
enum fwg_reason fwg_tag_verify(struct fwg_tag_ctx *ctx, const char *topic,
		const char *ts, size_t ts_len, const char *tag_hex, size_t tag_len,
		const uint8_t payload_sha[FWG_SHA256_LEN], int64_t now, int64_t window,
		uint8_t mac_out[FWG_SHA256_LEN]);
#endif
