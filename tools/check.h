/* End-to-end checks shared by `verify` and `device` (PROTOCOL §9).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_CLI_CHECK_H
#define FWGUARD_CLI_CHECK_H
#include "cli.h"
#include "fwguard/manifest.h"

#define CLI_MAX_PINS 16
struct cli_pins {
	EVP_PKEY *key[CLI_MAX_PINS];
	char id[CLI_MAX_PINS][FWG_KEY_ID_LEN + 1];
	size_t n;
};
/* Add a pinned key (file or base64); -1 with the error printed. */
int cli_pins_add(struct cli_pins *p, const char *arg);
void cli_pins_free(struct cli_pins *p);

/* Parse and check a manifest end to end, in this order: JSON rules of §5
 * (incl. vendor/model mismatch when given), key_id among the pins
 * (key_unknown), signature (signature_invalid), chunk_sha256 count
 * (chunk_digest_count), sequence > installed (sequence_not_newer),
 * issued <= now + skew (issued_in_future), expires > now (expired).
 * On FWG_R_OK, *m must be freed with fwg_manifest_free; otherwise, it holds
 * nothing. detail gets a human explanation. *parsed tells whether *m holds
 * a parsed manifest (so a failure after parsing can name its sequence; the
 * caller frees it then as well). Parsed with fwg_manifest_parse_lean: a
 * plain chunk_sha256 list stays in raw, so raw must outlive every use of
 * the digests (fwg_manifest_chunk_sha, cli_check_image). */
enum fwg_reason cli_check_manifest(const uint8_t *raw, size_t len, const char *vendor,
		const char *model, const struct cli_pins *pins, uint64_t installed,
		int64_t now, int64_t skew, struct fwg_manifest *m, bool *parsed,
		char *detail, size_t dlen);

/* A running SHA-256 (OpenSSL EVP); update2 feeds the same bytes to two
 * digests (a chunk's and the whole image's) from one read of the data. */
struct cli_sha256 {
	EVP_MD_CTX *evp;
};
/* (Re)start; 0, or -1 (out of memory). Release with cli_sha256_free. */
int cli_sha256_init(struct cli_sha256 *c);
void cli_sha256_update(struct cli_sha256 *c, const void *p, size_t n);
/* The same bytes appended to a and to b (b may be NULL). */
void cli_sha256_update2(struct cli_sha256 *a, struct cli_sha256 *b, const void *p, size_t n);
/* dst = a copy of src's state (dst allocated if needed); 0 / -1. */
int cli_sha256_copy(struct cli_sha256 *dst, const struct cli_sha256 *src);
/* The digest; init again to reuse the context. */
void cli_sha256_final(struct cli_sha256 *c, uint8_t md[FWG_SHA256_LEN]);
void cli_sha256_free(struct cli_sha256 *c);

/* Stream the image (fd, from offset 0), bufsz bytes at a time: size
 * (image_size_mismatch), each chunk's digest when listed
 * (chunk_digest_mismatch, *bad_chunk set), whole digest
 * (image_digest_mismatch). raw/rawlen: the bytes m was parsed from (read
 * for a lean m's digests; NULL/0 for a fully parsed one). FWG_R_INTERNAL on
 * a read error (errno). */
enum fwg_reason cli_check_image(int fd, const struct fwg_manifest *m, const uint8_t *raw, size_t rawlen,
		size_t bufsz, uint64_t *bad_chunk);
#endif
