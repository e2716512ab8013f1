/* Manifest (§5): strict parser, signing base, signature. SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_MANIFEST_H
#define FWGUARD_MANIFEST_H
#include <openssl/evp.h>
#include "fwguard/fwguard.h"

#define FWG_SIG_MAX 80

struct fwg_manifest {
	uint64_t format;
	char vendor[FWG_ID_MAX + 1];
	char model[FWG_ID_MAX + 1];
	char version[FWG_ID_MAX + 1];
	uint64_t sequence;
	uint64_t size;
	uint8_t sha256[FWG_SHA256_LEN];
	uint64_t chunk_size;
	uint64_t issued;
	uint64_t expires;
	char key_id[FWG_KEY_ID_LEN + 1];
	uint32_t nchunks;             /* ceil(size / chunk_size), <= FWG_MAX_CHUNKS */
	bool has_chunk_sha;           /* member present */
	uint32_t n_chunk_sha;         /* entries in the array (policy checks == nchunks) */
	uint8_t (*chunk_sha)[FWG_SHA256_LEN]; /* malloc'd, n_chunk_sha entries; NULL when */
	size_t chunk_list_off;        /* fwg_manifest_parse_lean left them in the text: its '[' here */
	bool chunk_list_compact;      /* ... with no whitespace: digest k at chunk_list_off + 2 + 67 k */
	uint8_t sig[FWG_SIG_MAX];
	size_t sig_len;
};

/* Strict parse of §5's JSON rules: size <= 80 KiB, UTF-8, one JSON object,
 * allow-listed members, no duplicates, exact types, every number token an
 * integer "0|[1-9][0-9]*" <= 2^53-1, format 1, id/version charsets, exact
 * hex lengths, 256 <= chunk_size <= 1 MiB, expires > issued, nchunks <= 1024,
 * base64 signature of at most FWG_SIG_MAX bytes.
 * expect_vendor/expect_model (may be NULL) are the topic's; a difference
 * gives FWG_R_VENDOR_MISMATCH / FWG_R_MODEL_MISMATCH.
 * On error *m holds nothing to free. On FWG_R_OK call fwg_manifest_free. */
enum fwg_reason fwg_manifest_parse(const uint8_t *buf, size_t len,
		const char *expect_vendor, const char *expect_model, struct fwg_manifest *m);
void fwg_manifest_free(struct fwg_manifest *m);
/* The same rules and results, but a chunk_sha256 list in the plain form
 * ('[', "<64 hex>" items, ',', ']', JSON whitespace) is checked and left in
 * buf instead of being copied (32 bytes of heap per chunk): m->chunk_sha is
 * NULL and m->chunk_list_off says where the list is. Any other spelling of
 * the list is copied as by fwg_manifest_parse. Read the digests with
 * fwg_manifest_chunk_sha and verify with fwg_manifest_verify_raw, given the
 * same bytes. */
enum fwg_reason fwg_manifest_parse_lean(const uint8_t *buf, size_t len,
		const char *expect_vendor, const char *expect_model, struct fwg_manifest *m);
/* Digest k of chunk_sha256 into out, from m->chunk_sha or (lean) from raw,
 * the bytes m was parsed from. 0, or -1 (k out of range, or raw is not
 * those bytes). O(1) for a list without whitespace, else O(k). */
int fwg_manifest_chunk_sha(const struct fwg_manifest *m, const uint8_t *raw, size_t len, uint32_t k,
		uint8_t out[FWG_SHA256_LEN]);
/* Deep copy; 0 / -1. */
int fwg_manifest_copy(struct fwg_manifest *dst, const struct fwg_manifest *src);

/* signing_base of §5, malloc'd and NUL-terminated (length in *len). */
char *fwg_manifest_signing_base(const struct fwg_manifest *m, size_t *len);

/* ECDSA-SHA256 verification of m->sig over the signing base with pub.
 * FWG_R_OK or FWG_R_SIGNATURE_INVALID. */
enum fwg_reason fwg_manifest_verify(const struct fwg_manifest *m, EVP_PKEY *pub);
/* The same for a manifest of fwg_manifest_parse_lean: raw/len are the
 * bytes it was parsed from (the digests are read from there). */
enum fwg_reason fwg_manifest_verify_raw(const struct fwg_manifest *m, const uint8_t *raw, size_t len,
		EVP_PKEY *pub);

/* For the vendor tool: sign m (fills sig/sig_len) with an EC private key. 0/-1. */
int fwg_manifest_sign(struct fwg_manifest *m, EVP_PKEY *priv);
/* Serialise m (with signature) as compact JSON in the member order of §5;
 * malloc'd NUL-terminated string, or NULL. */
char *fwg_manifest_to_json(const struct fwg_manifest *m);

/* Length of chunk index (chunk_size, the last: the remainder); 0 if out of range. */
uint64_t fwg_manifest_chunk_len(const struct fwg_manifest *m, uint64_t index);
#endif
