/* Pure decisions of PROTOCOL.md §6: manifest policy and chunk rules.
 * SPDX-License-Identifier: Apache-2.0 */
#include <openssl/crypto.h>
#include "fwguard/policy.h"

/* Number of chunks, ceil(size / chunk_size), computed without overflow
 * (0 when chunk_size is 0: such a manifest has no valid chunk). */
static uint64_t policy_nchunks(const struct fwg_manifest *m)
{
	if(m->chunk_size == 0) return 0;
	return m->size / m->chunk_size + (m->size % m->chunk_size != 0);
}

/* Same semantics as fwg_manifest_chunk_len: chunk_size for every chunk but
 * the last, the remainder for the last; 0 when index is out of range. */
static uint64_t policy_chunk_len(const struct fwg_manifest *m, uint64_t index)
{
	uint64_t n = policy_nchunks(m);
	if(index >= n) return 0;
	if(index + 1 < n) return m->chunk_size;
	return m->size - (n - 1) * m->chunk_size;
}

/* v <= now + skew, exactly, for any int64 now/skew (no overflow). */
static bool le_now_plus(uint64_t v, int64_t now, int64_t skew)
{
	if(skew >= 0) {
		if(now >= 0) {
			/* both non-negative: the sum fits in uint64 */
			return v <= (uint64_t)now + (uint64_t)skew;
		}
		/* now < 0 <= skew: the sum fits in int64 */
		int64_t lim = now + skew;
		return lim >= 0 && v <= (uint64_t)lim;
	}
	/* skew < 0 */
	if(now < 0) return false;           /* the sum is negative */
	int64_t lim = now + skew;           /* now >= 0 > skew: fits */
	return lim >= 0 && v <= (uint64_t)lim;
}

enum fwg_reason fwg_policy_manifest(const struct fwg_manifest *m,
		uint64_t accepted_sequence, uint64_t floor,
		const struct fwg_limits *lim, int64_t now)
{
	if(!m || !lim) return FWG_R_INTERNAL;
	if(m->sequence <= accepted_sequence) return FWG_R_SEQUENCE_NOT_NEWER;
	if(m->sequence < floor) return FWG_R_SEQUENCE_BELOW_FLOOR;
	if(!le_now_plus(m->issued, now, lim->clock_skew)) return FWG_R_ISSUED_IN_FUTURE;
	if(now >= 0 && m->expires <= (uint64_t)now) return FWG_R_EXPIRED;
	if(m->size > lim->max_image_size) return FWG_R_IMAGE_TOO_LARGE;
	if(m->chunk_size > lim->max_chunk_size) return FWG_R_CHUNK_TOO_LARGE;
	if(m->has_chunk_sha && (uint64_t)m->n_chunk_sha != policy_nchunks(m))
		return FWG_R_CHUNK_DIGEST_COUNT;
	return FWG_R_OK;
}

enum fwg_reason fwg_policy_chunk(const struct fwg_manifest *current,
		uint64_t sequence, uint64_t index, uint64_t len)
{
	if(!current) return FWG_R_NO_MANIFEST;
	if(sequence != current->sequence) return FWG_R_CHUNK_SEQUENCE;
	if(index >= policy_nchunks(current)) return FWG_R_CHUNK_INDEX;
	if(len != policy_chunk_len(current, index)) return FWG_R_CHUNK_LENGTH;
	return FWG_R_OK;
}

enum fwg_reason fwg_policy_chunk_digest(const struct fwg_manifest *current,
		uint64_t index, const uint8_t sha[FWG_SHA256_LEN])
{
	if(!current) return FWG_R_NO_MANIFEST;
	if(!current->has_chunk_sha) return FWG_R_OK;
	if(!sha || !current->chunk_sha || index >= current->n_chunk_sha) return FWG_R_CHUNK_INDEX;
	if(CRYPTO_memcmp(current->chunk_sha[index], sha, FWG_SHA256_LEN) != 0) return FWG_R_CHUNK_DIGEST;
	return FWG_R_OK;
}
