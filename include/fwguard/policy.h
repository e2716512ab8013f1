/* Pure decisions (§6): manifest policy and chunk rules. SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_POLICY_H
#define FWGUARD_POLICY_H
#include "fwguard/manifest.h"

struct fwg_limits {
	int64_t clock_skew;        /* seconds "issued" may be in the future */
	uint64_t max_image_size;   /* bytes */
	uint64_t max_chunk_size;   /* bytes */
};

/* Policy step 6, in this order: sequence > accepted_sequence
 * (SEQUENCE_NOT_NEWER), sequence >= floor (SEQUENCE_BELOW_FLOOR),
 * issued <= now + skew (ISSUED_IN_FUTURE), expires > now (EXPIRED),
 * size <= max (IMAGE_TOO_LARGE), chunk_size <= max (CHUNK_TOO_LARGE),
 * chunk_sha256 count == nchunks when present (CHUNK_DIGEST_COUNT). */
enum fwg_reason fwg_policy_manifest(const struct fwg_manifest *m,
		uint64_t accepted_sequence, uint64_t floor,
		const struct fwg_limits *lim, int64_t now);

/* Chunk rules without the digest: current may be NULL (NO_MANIFEST);
 * sequence == current->sequence (CHUNK_SEQUENCE); index < nchunks
 * (CHUNK_INDEX); len == expected length (CHUNK_LENGTH). */
enum fwg_reason fwg_policy_chunk(const struct fwg_manifest *current,
		uint64_t sequence, uint64_t index, uint64_t len);
/* Digest rule: FWG_R_OK when the manifest lists no digests or it matches. */
enum fwg_reason fwg_policy_chunk_digest(const struct fwg_manifest *current,
		uint64_t index, const uint8_t sha[FWG_SHA256_LEN]);
#endif
