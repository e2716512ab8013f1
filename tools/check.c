/* End-to-end checks shared by `verify` and `device`. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define CLI_SHA_NI 1
#endif
#include "check.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"

int cli_pins_add(struct cli_pins *p, const char *arg)
{
	if(p->n >= CLI_MAX_PINS){
		cli_err("too many --pin keys (at most %d): '%s'", CLI_MAX_PINS, arg);
		return -1;
	}
	EVP_PKEY *k = cli_load_public(arg);
	if(k == NULL) return -1;
	if(fwg_key_id(k, p->id[p->n]) != 0){
		EVP_PKEY_free(k);
		cli_err("cannot compute the key id of '%s'", arg);
		return -1;
	}
	p->key[p->n++] = k;
	return 0;
}

void cli_pins_free(struct cli_pins *p)
{
	for(size_t i = 0; i < p->n; i++) EVP_PKEY_free(p->key[i]);
	p->n = 0;
}

enum fwg_reason cli_check_manifest(const uint8_t *raw, size_t len, const char *vendor,
		const char *model, const struct cli_pins *pins, uint64_t installed,
		int64_t now, int64_t skew, struct fwg_manifest *m, bool *parsed,
		char *detail, size_t dlen)
{
	*parsed = false;
	detail[0] = '\0';
	enum fwg_reason r = fwg_manifest_parse(raw, len, vendor, model, m);
	if(r != FWG_R_OK){
		if(r == FWG_R_VENDOR_MISMATCH) snprintf(detail, dlen, "not for vendor '%s'", vendor);
		else if(r == FWG_R_MODEL_MISMATCH) snprintf(detail, dlen, "not for model '%s'", model);
		else snprintf(detail, dlen, "the manifest breaks the rules of PROTOCOL §5");
		return r;
	}
	*parsed = true;
	EVP_PKEY *pub = NULL;
	for(size_t i = 0; i < pins->n; i++)
		if(!strcmp(pins->id[i], m->key_id)) pub = pins->key[i];
	if(pub == NULL){
		snprintf(detail, dlen, "signed by key id %s, which is not pinned", m->key_id);
		return FWG_R_KEY_UNKNOWN;
	}
	r = fwg_manifest_verify(m, pub);
	if(r != FWG_R_OK){
		snprintf(detail, dlen, "the signature does not verify with pinned key %s", m->key_id);
		return r;
	}
	if(m->has_chunk_sha && m->n_chunk_sha != m->nchunks){
		snprintf(detail, dlen, "%" PRIu32 " chunk digests for %" PRIu32 " chunks", m->n_chunk_sha, m->nchunks);
		return FWG_R_CHUNK_DIGEST_COUNT;
	}
	if(m->sequence <= installed){
		snprintf(detail, dlen, "sequence %" PRIu64 " is not newer than the installed %" PRIu64, m->sequence, installed);
		return FWG_R_SEQUENCE_NOT_NEWER;
	}
	if((int64_t)m->issued > now + skew){
		snprintf(detail, dlen, "issued %" PRIu64 " is more than %" PRId64 " s after now (%" PRId64 ")", m->issued, skew, now);
		return FWG_R_ISSUED_IN_FUTURE;
	}
	if((int64_t)m->expires <= now){
		snprintf(detail, dlen, "expired at %" PRIu64 " (now %" PRId64 ")", m->expires, now);
		return FWG_R_EXPIRED;
	}
	return FWG_R_OK;
}

/* ------------------------------------------------------------ SHA-256 */
static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#ifdef CLI_SHA_NI
static const uint32_t sha256_k[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHA_NI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

SHA_NI_TARGET static inline void shani_load(const uint32_t h[8], __m128i *abef, __m128i *cdgh)
{
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);   /* CDAB */
	__m128i u = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);   /* EFGH */
	*abef = _mm_alignr_epi8(t, u, 8);
	*cdgh = _mm_blend_epi16(u, t, 0xF0);
}

SHA_NI_TARGET static inline void shani_store(uint32_t h[8], __m128i abef, __m128i cdgh)
{
	__m128i t = _mm_shuffle_epi32(abef, 0x1B);       /* FEBA */
	__m128i u = _mm_shuffle_epi32(cdgh, 0xB1);       /* DCHG */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, u, 0xF0));   /* DCBA */
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(u, t, 8));      /* HGFE */
}

/* nblocks 64-byte blocks of p into state a and, when b is not NULL, into
 * state b as well: the message schedule is computed once. */
SHA_NI_TARGET __attribute__((always_inline)) static inline void shani_blocks_impl(uint32_t *a, uint32_t *b,
		const uint8_t *p, size_t nblocks, bool two)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i a0, a1, b0 = _mm_setzero_si128(), b1 = _mm_setzero_si128();
	shani_load(a, &a0, &a1);
	if(two) shani_load(b, &b0, &b1);
	for(; nblocks > 0; nblocks--, p += 64){
		__m128i w[16];
		const __m128i sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1;
		for(int g = 0; g < 4; g++)
			w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
		for(int g = 4; g < 16; g++)
			w[g] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[g - 4], w[g - 3]),
					_mm_alignr_epi8(w[g - 1], w[g - 2], 4)), w[g - 1]);
		for(int g = 0; g < 16; g++){
			__m128i wk = _mm_add_epi32(w[g], _mm_load_si128((const __m128i *)&sha256_k[4 * g]));
			__m128i hi = _mm_shuffle_epi32(wk, 0x0E);
			a1 = _mm_sha256rnds2_epu32(a1, a0, wk);
			if(two) b1 = _mm_sha256rnds2_epu32(b1, b0, wk);
			a0 = _mm_sha256rnds2_epu32(a0, a1, hi);
			if(two) b0 = _mm_sha256rnds2_epu32(b0, b1, hi);
		}
		a0 = _mm_add_epi32(a0, sa0);
		a1 = _mm_add_epi32(a1, sa1);
		if(two){
			b0 = _mm_add_epi32(b0, sb0);
			b1 = _mm_add_epi32(b1, sb1);
		}
	}
	shani_store(a, a0, a1);
	if(two) shani_store(b, b0, b1);
}

SHA_NI_TARGET static void shani_blocks1(uint32_t *a, const uint8_t *p, size_t nblocks)
{
	shani_blocks_impl(a, NULL, p, nblocks, false);
}

SHA_NI_TARGET static void shani_blocks2(uint32_t *a, uint32_t *b, const uint8_t *p, size_t nblocks)
{
	shani_blocks_impl(a, b, p, nblocks, true);
}
#endif

static void ni_final(struct cli_sha256 *c, uint8_t md[FWG_SHA256_LEN]);

/* 1: the SHA extensions are there and give the right answers (checked once
 * against a known digest, single and paired) */
static int sha_ni_ok = -1;
static bool sha_ni(void)
{
	if(sha_ni_ok >= 0) return sha_ni_ok;
	sha_ni_ok = 0;
#ifdef CLI_SHA_NI
	unsigned eax, ebx, ecx, edx;
	if(!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_SSE4_1) || !(ecx & bit_SSSE3)) return false;
	if(!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(ebx & bit_SHA)) return false;
	/* SHA-256 of 1000 bytes of 'a' (two contexts, paired) */
	static const uint8_t want[FWG_SHA256_LEN] = {
		0x41, 0xed, 0xec, 0xe4, 0x2d, 0x63, 0xe8, 0xd9, 0xbf, 0x51, 0x5a, 0x9b, 0xa6, 0x93, 0x2e, 0x1c,
		0x20, 0xcb, 0xc9, 0xf5, 0xa5, 0xd1, 0x34, 0x64, 0x5a, 0xdb, 0x5d, 0xb1, 0xb9, 0x73, 0x7e, 0xa3,
	};
	uint8_t msg[1000], m1[FWG_SHA256_LEN], m2[FWG_SHA256_LEN];
	memset(msg, 'a', sizeof(msg));
	struct cli_sha256 x, y;
	memset(&x, 0, sizeof(x));
	memcpy(x.h, sha256_iv, sizeof(x.h));
	y = x;
	sha_ni_ok = 1;       /* for the test itself */
	cli_sha256_update2(&x, &y, msg, 3);
	cli_sha256_update2(&x, &y, msg + 3, sizeof(msg) - 3);
	ni_final(&x, m1);
	ni_final(&y, m2);
	sha_ni_ok = memcmp(m1, want, sizeof(want)) == 0 && memcmp(m2, want, sizeof(want)) == 0;
#endif
	return sha_ni_ok;
}

#ifdef CLI_SHA_NI
static void ni_update(struct cli_sha256 *c, const uint8_t *p, size_t n)
{
	c->total += n;
	if(c->nbuf){
		size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
		memcpy(c->buf + c->nbuf, p, take);
		c->nbuf += (unsigned)take;
		p += take;
		n -= take;
		if(c->nbuf < 64) return;
		shani_blocks1(c->h, c->buf, 1);
		c->nbuf = 0;
	}
	if(n >= 64) shani_blocks1(c->h, p, n / 64);
	p += n / 64 * 64;
	n %= 64;
	memcpy(c->buf, p, n);
	c->nbuf = (unsigned)n;
}
#endif

static void ni_final(struct cli_sha256 *c, uint8_t md[FWG_SHA256_LEN])
{
#ifdef CLI_SHA_NI
	uint64_t bits = c->total * 8;
	c->buf[c->nbuf++] = 0x80;
	if(c->nbuf > 56){
		memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
		shani_blocks1(c->h, c->buf, 1);
		c->nbuf = 0;
	}
	memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
	for(int i = 0; i < 8; i++) c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	shani_blocks1(c->h, c->buf, 1);
	c->nbuf = 0;
	for(int i = 0; i < 8; i++){
		md[4 * i] = (uint8_t)(c->h[i] >> 24);
		md[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		md[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		md[4 * i + 3] = (uint8_t)c->h[i];
	}
#else
	(void)c;
	memset(md, 0, FWG_SHA256_LEN);
#endif
}

int cli_sha256_init(struct cli_sha256 *c)
{
	memcpy(c->h, sha256_iv, sizeof(c->h));
	c->total = 0;
	c->nbuf = 0;
	if(sha_ni()) return 0;
	if(c->evp == NULL && (c->evp = EVP_MD_CTX_new()) == NULL) return -1;
	return EVP_DigestInit_ex(c->evp, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

void cli_sha256_update(struct cli_sha256 *c, const void *p, size_t n)
{
	cli_sha256_update2(c, NULL, p, n);
}

void cli_sha256_update2(struct cli_sha256 *a, struct cli_sha256 *b, const void *data, size_t n)
{
	const uint8_t *p = data;
	if(!sha_ni()){
		EVP_DigestUpdate(a->evp, p, n);
		if(b) EVP_DigestUpdate(b->evp, p, n);
		return;
	}
#ifdef CLI_SHA_NI
	if(b == NULL || a->nbuf != b->nbuf){
		ni_update(a, p, n);
		if(b) ni_update(b, p, n);
		return;
	}
	/* the same offset in a block: pair the whole blocks */
	if(a->nbuf){
		size_t take = 64 - a->nbuf < n ? 64 - a->nbuf : n;
		ni_update(a, p, take);
		ni_update(b, p, take);
		p += take;
		n -= take;
		if(a->nbuf) return;
	}
	size_t blocks = n / 64;
	if(blocks){
		shani_blocks2(a->h, b->h, p, blocks);
		a->total += blocks * 64;
		b->total += blocks * 64;
		p += blocks * 64;
		n -= blocks * 64;
	}
	if(n){
		ni_update(a, p, n);
		ni_update(b, p, n);
	}
#endif
}

void cli_sha256_final(struct cli_sha256 *c, uint8_t md[FWG_SHA256_LEN])
{
	if(sha_ni()){
		ni_final(c, md);
		return;
	}
	unsigned olen = 0;
	if(c->evp == NULL || EVP_DigestFinal_ex(c->evp, md, &olen) != 1 || olen != FWG_SHA256_LEN)
		memset(md, 0, FWG_SHA256_LEN);   /* never matches a digest by accident */
}

void cli_sha256_free(struct cli_sha256 *c)
{
	EVP_MD_CTX_free(c->evp);
	c->evp = NULL;
	OPENSSL_cleanse(c->buf, sizeof(c->buf));
}

enum fwg_reason cli_check_image(int fd, const struct fwg_manifest *m, uint64_t *bad_chunk)
{
	struct stat st;
	if(fstat(fd, &st) != 0) return FWG_R_INTERNAL;
	if((uint64_t)st.st_size != m->size) return FWG_R_IMAGE_SIZE;
	enum { BUFSZ = 65536 };
	uint8_t *buf = malloc(BUFSZ);
	struct cli_sha256 whole, chunk;
	memset(&whole, 0, sizeof(whole));
	memset(&chunk, 0, sizeof(chunk));
	enum fwg_reason r = FWG_R_INTERNAL;
	if(buf == NULL || cli_sha256_init(&whole) != 0 || cli_sha256_init(&chunk) != 0) goto out;
	uint64_t off = 0, idx = 0, in_chunk = 0;
	bool chunks = m->has_chunk_sha && m->n_chunk_sha == m->nchunks;
	while(off < m->size){
		size_t want = BUFSZ;
		if(chunks && m->chunk_size - in_chunk < want) want = (size_t)(m->chunk_size - in_chunk);
		if(m->size - off < want) want = (size_t)(m->size - off);
		ssize_t got = pread(fd, buf, want, (off_t)off);
		if(got < 0 && errno == EINTR) continue;
		if(got < 0) goto out;
		if(got == 0){ r = FWG_R_IMAGE_SIZE; goto out; }
		/* the whole image and the current chunk in one pass */
		cli_sha256_update2(&whole, chunks ? &chunk : NULL, buf, (size_t)got);
		off += (uint64_t)got;
		if(chunks){
			in_chunk += (uint64_t)got;
			if(in_chunk == m->chunk_size || off == m->size){
				uint8_t md[FWG_SHA256_LEN];
				cli_sha256_final(&chunk, md);
				if(!fwg_ct_equal(md, m->chunk_sha[idx], FWG_SHA256_LEN)){
					if(bad_chunk) *bad_chunk = idx;
					r = FWG_R_CHUNK_DIGEST;
					goto out;
				}
				if(cli_sha256_init(&chunk) != 0) goto out;
				idx++;
				in_chunk = 0;
			}
		}
	}
	uint8_t md[FWG_SHA256_LEN];
	cli_sha256_final(&whole, md);
	r = fwg_ct_equal(md, m->sha256, FWG_SHA256_LEN) ? FWG_R_OK : FWG_R_IMAGE_DIGEST;
out:
	free(buf);
	cli_sha256_free(&whole);
	cli_sha256_free(&chunk);
	return r;
}
