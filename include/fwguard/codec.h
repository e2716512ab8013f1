/* Hex, base64, UTF-8 and strict decimal integers. SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_CODEC_H
#define FWGUARD_CODEC_H
#include "fwguard/fwguard.h"

/* Lowercase hex of n bytes into out (2n chars + NUL). */
void fwg_hex_encode(const uint8_t *in, size_t n, char *out);
/* Exact lowercase hex: inlen must be 2*outlen. 0 on success, -1 otherwise. */
int fwg_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);
/* true if s[0..n) is lowercase hex [0-9a-f] (n may be 0). */
bool fwg_is_lower_hex(const char *s, size_t n);

/* Standard base64, padded. Returns chars written (without NUL) or -1 when
 * outcap is too small (needs 4*ceil(n/3)+1). */
long fwg_b64_encode(const uint8_t *in, size_t n, char *out, size_t outcap);
/* Strict base64: standard alphabet, padded, length a multiple of 4, no
 * whitespace, unused pad bits zero. 0 on success with *outlen set, -1 otherwise. */
int fwg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen);

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool fwg_utf8_valid(const uint8_t *s, size_t n);

/* Strict unsigned decimal "0|[1-9][0-9]*", value <= max. 0 ok, -1 otherwise. */
int fwg_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Constant-time equality of n bytes. */
bool fwg_ct_equal(const void *a, const void *b, size_t n);

/* SHA-256 of a buffer (one pass). */
void fwg_sha256(const void *data, size_t n, uint8_t out[FWG_SHA256_LEN]);
#endif
