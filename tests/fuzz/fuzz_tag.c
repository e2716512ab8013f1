/* libFuzzer target: the vendor tag check (§3), keyed with the vector K.
 * Input: <topic> NUL <fw-ts> NUL <fw-tag> NUL <payload> (missing parts empty).
 * fwg_tag_verify is compared with a reference (128-bit window arithmetic,
 * OpenSSL's one-shot HMAC) for several clocks and windows.
 * SPDX-License-Identifier: Apache-2.0 */
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include "fwguard/tag.h"
#include "fwguard/codec.h"
#include "fuzz_common.h"

static uint8_t K[32];
static struct fwg_tag_ctx *ctx;
static int64_t vector_now;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	char *k = fuzz_expected("tag_key_K");
	fuzz_hex32(k, K);
	free(k);
	char *ts = fuzz_expected("manifest_tag_ts");
	vector_now = strtoll(ts, NULL, 10);
	free(ts);
	ctx = fwg_tag_ctx_new(K);
	if(!ctx) abort();
	return 0;
}

/* Cut the next NUL-separated part. */
static const uint8_t *part(const uint8_t **p, size_t *left, size_t *n)
{
	const uint8_t *s = *p;
	const uint8_t *z = *left ? memchr(s, 0, *left) : NULL;
	*n = z ? (size_t)(z - s) : *left;
	size_t used = z ? *n + 1 : *n;
	*p += used;
	*left -= used;
	return s;
}

static bool ref_ts(const char *s, size_t n, uint64_t *v)
{
	if(n == 0 || n > 19 || (s[0] == '0' && n > 1)) return false;
	unsigned __int128 x = 0;
	for(size_t i = 0; i < n; i++) {
		if(s[i] < '0' || s[i] > '9') return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	if(x > (unsigned __int128)INT64_MAX) return false;
	*v = (uint64_t)x;
	return true;
}

static bool ref_hex(const char *s, size_t n)
{
	if(n != 64) return false;
	for(size_t i = 0; i < n; i++)
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
	return true;
}

static void check_one(const char *topic, const char *ts, size_t tsl, const char *tag, size_t tagl,
		const uint8_t sha[32], int64_t now, int64_t window)
{
	uint8_t mac[32];
	memset(mac, 0x5a, sizeof(mac));
	enum fwg_reason r = fwg_tag_verify(ctx, topic, ts, tsl, tag, tagl, sha, now, window, mac);
	enum fwg_reason want;
	uint64_t tsv = 0;
	if(!ref_ts(ts, tsl, &tsv)) want = FWG_R_TS_MALFORMED;
	else if(!ref_hex(tag, tagl)) want = FWG_R_TAG_MALFORMED;
	else {
		__int128 w = window < 0 ? 0 : window, d = (__int128)now - (__int128)tsv;
		if(d > w) want = FWG_R_TAG_STALE;
		else if(-d > w) want = FWG_R_TAG_FUTURE;
		else {
			/* the tag base built here, the HMAC by OpenSSL's one-shot API */
			size_t tl = strlen(topic);
			size_t bl = strlen(FWG_TAG_PREFIX) + 1 + tl + 1 + tsl + 1 + 64;
			char *base = malloc(bl + 1), hex[65];
			if(!base) abort();
			fwg_hex_encode(sha, 32, hex);
			size_t o = 0;
			memcpy(base + o, FWG_TAG_PREFIX "\n", strlen(FWG_TAG_PREFIX) + 1); o += strlen(FWG_TAG_PREFIX) + 1;
			memcpy(base + o, topic, tl); o += tl; base[o++] = '\n';
			memcpy(base + o, ts, tsl); o += tsl; base[o++] = '\n';
			memcpy(base + o, hex, 64); o += 64;
			FUZZ_CHECK(o == bl);
			uint8_t ref[32];
			unsigned rl = 0;
			FUZZ_CHECK(HMAC(EVP_sha256(), K, 32, (const uint8_t *)base, bl, ref, &rl) && rl == 32);
			char refhex[65];
			fwg_hex_encode(ref, 32, refhex);
			want = memcmp(refhex, tag, 64) == 0 ? FWG_R_OK : FWG_R_TAG_MISMATCH;
			if(want == FWG_R_OK) FUZZ_CHECK(memcmp(mac, ref, 32) == 0);
			/* fwg_tag_base agrees with the reference base (topic and ts as C strings) */
			if(!memchr(ts, 0, tsl)) {
				char *tsz = fuzz_dup_cstr((const uint8_t *)ts, tsl);
				char *b2 = malloc(bl + 1);
				if(!b2) abort();
				FUZZ_CHECK(fwg_tag_base(b2, bl + 1, topic, tsz, sha) == (long)bl);
				FUZZ_CHECK(memcmp(b2, base, bl) == 0 && b2[bl] == '\0');
				FUZZ_CHECK(fwg_tag_base(b2, bl, topic, tsz, sha) == -1);
				uint8_t mac2[32];
				FUZZ_CHECK(fwg_tag_compute(ctx, topic, tsz, sha, mac2) == 0 && memcmp(mac2, ref, 32) == 0);
				free(b2);
				free(tsz);
			}
			free(base);
		}
	}
	if(r != want) {
		fprintf(stderr, "now=%lld window=%lld: got %s want %s\n", (long long)now, (long long)window,
				fwg_reason_str(r), fwg_reason_str(want));
		abort();
	}
	if(r != FWG_R_OK) {
		uint8_t untouched[32];
		memset(untouched, 0x5a, sizeof(untouched));
		FUZZ_CHECK(memcmp(mac, untouched, 32) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size, tn, sn, gn;
	const uint8_t *t = part(&p, &left, &tn);
	const uint8_t *s = part(&p, &left, &sn);
	const uint8_t *g = part(&p, &left, &gn);
	uint8_t sha[32];
	fwg_sha256(p, left, sha);

	char *topic = fuzz_dup_cstr(t, tn);
	char *ts = fuzz_dup_exact(s, sn);      /* by length, not NUL-terminated */
	char *tag = fuzz_dup_exact(g, gn);
	const int64_t nows[] = { vector_now, 0, -1, INT64_MIN, INT64_MAX };
	const int64_t windows[] = { 300, 0, -1, INT64_MAX, INT64_MIN };
	for(size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++)
		for(size_t j = 0; j < sizeof(windows) / sizeof(windows[0]); j++)
			check_one(topic, ts, sn, tag, gn, sha, nows[i], windows[j]);
	/* NULL arguments are refused, not dereferenced */
	FUZZ_CHECK(fwg_tag_verify(ctx, topic, NULL, 0, tag, gn, sha, vector_now, 300, NULL) == FWG_R_TS_MALFORMED);
	free(topic);
	free(ts);
	free(tag);
	return 0;
}
