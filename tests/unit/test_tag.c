/* Unit tests: vendor authentication tag (§3).
 * SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include "vectors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fwguard/tag.h"
#include "fwguard/codec.h"


/* ---- vector helpers ---- */



/* A message as the vectors describe it. */
struct vec {
	char topic[128];
	char ts[32];
	char tag[80];
	uint8_t sha[FWG_SHA256_LEN];
	const char *base_file;
};

static void load_vec(int which, struct vec *v)
{
	const char *p = which == 0 ? "manifest" : "chunk1";
	const char *payload = which == 0 ? "manifest.json" : "chunk-1.bin";
	char key[64];
	snprintf(key, sizeof(key), "%s_topic", p);
	vec_expected(key, v->topic, sizeof(v->topic));
	snprintf(key, sizeof(key), "%s_tag_ts", p);
	vec_expected(key, v->ts, sizeof(v->ts));
	snprintf(key, sizeof(key), "%s_tag", p);
	vec_expected(key, v->tag, sizeof(v->tag));
	size_t len;
	uint8_t *data = vec_slurp(payload, &len);
	fwg_sha256(data, len, v->sha);
	free(data);
	v->base_file = which == 0 ? "tag-base-manifest.txt" : "tag-base-chunk1.txt";
}

static struct fwg_tag_ctx *vector_ctx(void)
{
	char khex[80];
	uint8_t k[32];
	vec_expected("tag_key_K", khex, sizeof(khex));
	ck_assert_int_eq(fwg_hex_decode(khex, strlen(khex), k, 32), 0);
	struct fwg_tag_ctx *ctx = fwg_tag_ctx_new(k);
	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

static enum fwg_reason verify_at(struct fwg_tag_ctx *ctx, const struct vec *v, const char *ts,
		const char *tag, int64_t now, int64_t window)
{
	return fwg_tag_verify(ctx, v->topic, ts, strlen(ts), tag, strlen(tag), v->sha, now, window, NULL);
}

/* ---- known answers ---- */

START_TEST(tag_base_matches_vector)
{
	struct vec v;
	load_vec(_i, &v);
	size_t blen;
	uint8_t *want = vec_slurp(v.base_file, &blen);
	char buf[512];
	long n = fwg_tag_base(buf, sizeof(buf), v.topic, v.ts, v.sha);
	ck_assert_int_eq(n, (long)blen);
	ck_assert(memcmp(buf, want, blen) == 0);
	ck_assert_int_eq(buf[n], 0);
	ck_assert_int_ne(buf[n - 1], '\n');
	/* exact capacity (with the NUL) and one less */
	ck_assert_int_eq(fwg_tag_base(buf, blen + 1, v.topic, v.ts, v.sha), (long)blen);
	ck_assert_int_eq(fwg_tag_base(buf, blen, v.topic, v.ts, v.sha), -1);
	ck_assert_int_eq(fwg_tag_base(buf, 0, v.topic, v.ts, v.sha), -1);
	free(want);
}
END_TEST

START_TEST(tag_compute_matches_vector)
{
	struct vec v;
	load_vec(_i, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	uint8_t mac[32];
	char hex[65];
	ck_assert_int_eq(fwg_tag_compute(ctx, v.topic, v.ts, v.sha, mac), 0);
	fwg_hex_encode(mac, 32, hex);
	ck_assert_str_eq(hex, v.tag);
	/* again: the context is re-usable */
	ck_assert_int_eq(fwg_tag_compute(ctx, v.topic, v.ts, v.sha, mac), 0);
	fwg_hex_encode(mac, 32, hex);
	ck_assert_str_eq(hex, v.tag);
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(tag_verify_vector)
{
	struct vec v;
	load_vec(_i, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	uint8_t mac[32], want[32];
	ck_assert_int_eq(fwg_hex_decode(v.tag, 64, want, 32), 0);
	memset(mac, 0, sizeof(mac));
	ck_assert_int_eq(fwg_tag_verify(ctx, v.topic, v.ts, strlen(v.ts), v.tag, 64, v.sha,
			ts, 300, mac), FWG_R_OK);
	ck_assert(memcmp(mac, want, 32) == 0);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts + 300, 300), FWG_R_OK);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts - 300, 300), FWG_R_OK);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts + 301, 300), FWG_R_TAG_STALE);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts - 301, 300), FWG_R_TAG_FUTURE);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts, 0), FWG_R_OK);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts + 1, 0), FWG_R_TAG_STALE);
	fwg_tag_ctx_free(ctx);
}
END_TEST

/* The tag matches an independent one-shot HMAC over the vector's tag base. */
START_TEST(tag_matches_oneshot_hmac)
{
	struct vec v;
	load_vec(_i, &v);
	char khex[80];
	uint8_t k[32], mac[32], ref[32];
	unsigned int rlen = 0;
	vec_expected("tag_key_K", khex, sizeof(khex));
	ck_assert_int_eq(fwg_hex_decode(khex, 64, k, 32), 0);
	size_t blen;
	uint8_t *base = vec_slurp(v.base_file, &blen);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k, 32, base, blen, ref, &rlen));
	struct fwg_tag_ctx *ctx = fwg_tag_ctx_new(k);
	ck_assert_int_eq(fwg_tag_compute(ctx, v.topic, v.ts, v.sha, mac), 0);
	ck_assert(memcmp(mac, ref, 32) == 0);
	free(base);
	fwg_tag_ctx_free(ctx);
}
END_TEST

/* ---- negative twins ---- */

START_TEST(tag_flipped_bit)
{
	struct vec v;
	load_vec(_i, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	for(int pos = 0; pos < 64; pos += 7){
		char bad[65];
		memcpy(bad, v.tag, 65);
		uint8_t raw[32];
		ck_assert_int_eq(fwg_hex_decode(v.tag, 64, raw, 32), 0);
		raw[pos / 2] ^= (uint8_t)(1u << (pos % 8));
		fwg_hex_encode(raw, 32, bad);
		uint8_t mac[32] = { 0 }, zero[32] = { 0 };
		ck_assert_int_eq(fwg_tag_verify(ctx, v.topic, v.ts, strlen(v.ts), bad, 64, v.sha,
				ts, 300, mac), FWG_R_TAG_MISMATCH);
		ck_assert(memcmp(mac, zero, 32) == 0); /* not written on failure */
	}
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(tag_wrong_key)
{
	struct vec v;
	load_vec(_i, &v);
	char khex[80];
	uint8_t k[32];
	vec_expected("tag_key_K", khex, sizeof(khex));
	ck_assert_int_eq(fwg_hex_decode(khex, 64, k, 32), 0);
	k[31] ^= 1;
	struct fwg_tag_ctx *ctx = fwg_tag_ctx_new(k);
	ck_assert_ptr_nonnull(ctx);
	int64_t ts = strtoll(v.ts, NULL, 10);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, v.tag, ts, 300), FWG_R_TAG_MISMATCH);
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(tag_wrong_inputs)
{
	struct vec v;
	load_vec(_i, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	char ts2[32];
	snprintf(ts2, sizeof(ts2), "%lld", (long long)ts + 1);
	/* another ts inside the window */
	ck_assert_int_eq(verify_at(ctx, &v, ts2, v.tag, ts, 300), FWG_R_TAG_MISMATCH);
	/* another topic */
	struct vec w = v;
	strcat(w.topic, "x");
	ck_assert_int_eq(verify_at(ctx, &w, v.ts, v.tag, ts, 300), FWG_R_TAG_MISMATCH);
	/* another payload */
	w = v;
	w.sha[0] ^= 0x80;
	ck_assert_int_eq(verify_at(ctx, &w, v.ts, v.tag, ts, 300), FWG_R_TAG_MISMATCH);
	/* the other vector's tag */
	struct vec o;
	load_vec(1 - _i, &o);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, o.tag, ts, 300), FWG_R_TAG_MISMATCH);
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(tag_malformed)
{
	struct vec v;
	load_vec(0, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	char bad[80];
	/* uppercase */
	for(size_t i = 0; i <= 64; i++) bad[i] = (char)(v.tag[i] >= 'a' && v.tag[i] <= 'f' ? v.tag[i] - 32 : v.tag[i]);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts, 300), FWG_R_TAG_MALFORMED);
	/* 63 and 65 characters */
	memcpy(bad, v.tag, 65);
	bad[63] = 0;
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts, 300), FWG_R_TAG_MALFORMED);
	memcpy(bad, v.tag, 64);
	bad[64] = '0'; bad[65] = 0;
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts, 300), FWG_R_TAG_MALFORMED);
	/* non-hex */
	memcpy(bad, v.tag, 65);
	bad[10] = 'g';
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts, 300), FWG_R_TAG_MALFORMED);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, "", ts, 300), FWG_R_TAG_MALFORMED);
	/* an embedded NUL within the given length */
	memcpy(bad, v.tag, 65);
	bad[5] = 0;
	ck_assert_int_eq(fwg_tag_verify(ctx, v.topic, v.ts, strlen(v.ts), bad, 64, v.sha, ts, 300, NULL),
			FWG_R_TAG_MALFORMED);
	ck_assert_int_eq(fwg_tag_verify(ctx, v.topic, v.ts, strlen(v.ts), NULL, 0, v.sha, ts, 300, NULL),
			FWG_R_TAG_MALFORMED);
	fwg_tag_ctx_free(ctx);
}
END_TEST

static const char *const bad_ts[] = {
	"01764115260", "+1764115260", "-1764115260", "-1", "", " 1764115260", "1764115260 ",
	"1764115260.0", "1.76e9", "0x69256c3c", "00", "9223372036854775808",
	"18446744073709551616", "99999999999999999999999",
};

START_TEST(ts_malformed)
{
	struct vec v;
	load_vec(0, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	/* ts is checked first: even with a malformed tag */
	ck_assert_int_eq(verify_at(ctx, &v, bad_ts[_i], v.tag, ts, 300), FWG_R_TS_MALFORMED);
	ck_assert_int_eq(verify_at(ctx, &v, bad_ts[_i], "XYZ", ts, 300), FWG_R_TS_MALFORMED);
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(ts_not_terminated)
{
	struct vec v;
	load_vec(0, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	/* ts and tag come with lengths, not NULs (MQTT properties) */
	char tsbuf[64], tagbuf[128];
	snprintf(tsbuf, sizeof(tsbuf), "%sXYZ", v.ts);
	snprintf(tagbuf, sizeof(tagbuf), "%sQQ", v.tag);
	ck_assert_int_eq(fwg_tag_verify(ctx, v.topic, tsbuf, strlen(v.ts), tagbuf, 64, v.sha,
			ts, 300, NULL), FWG_R_OK);
	ck_assert_int_eq(fwg_tag_verify(ctx, v.topic, tsbuf, strlen(v.ts) + 1, tagbuf, 64, v.sha,
			ts, 300, NULL), FWG_R_TS_MALFORMED);
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(order_of_checks)
{
	struct vec v;
	load_vec(0, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	int64_t ts = strtoll(v.ts, NULL, 10);
	char bad[65];
	memcpy(bad, v.tag, 65);
	bad[0] = bad[0] == '0' ? '1' : '0';
	/* malformed tag before the window */
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, "ABC", ts + 10000, 300), FWG_R_TAG_MALFORMED);
	/* window before the HMAC */
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts + 10000, 300), FWG_R_TAG_STALE);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts - 10000, 300), FWG_R_TAG_FUTURE);
	ck_assert_int_eq(verify_at(ctx, &v, v.ts, bad, ts, 300), FWG_R_TAG_MISMATCH);
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(window_extremes)
{
	struct vec v;
	load_vec(0, &v);
	struct fwg_tag_ctx *ctx = vector_ctx();
	const char *tag = v.tag; /* wrong for these ts: only the window matters */
	ck_assert_int_eq(verify_at(ctx, &v, "9223372036854775807", tag, INT64_MIN, 300), FWG_R_TAG_FUTURE);
	ck_assert_int_eq(verify_at(ctx, &v, "9223372036854775807", tag, INT64_MIN, INT64_MAX), FWG_R_TAG_FUTURE);
	ck_assert_int_eq(verify_at(ctx, &v, "0", tag, INT64_MAX, 300), FWG_R_TAG_STALE);
	ck_assert_int_eq(verify_at(ctx, &v, "0", tag, INT64_MAX, INT64_MAX), FWG_R_TAG_MISMATCH);
	ck_assert_int_eq(verify_at(ctx, &v, "0", tag, -1, 0), FWG_R_TAG_FUTURE);
	ck_assert_int_eq(verify_at(ctx, &v, "0", tag, -1, 1), FWG_R_TAG_MISMATCH);
	ck_assert_int_eq(verify_at(ctx, &v, "0", tag, 0, -5), FWG_R_TAG_MISMATCH);
	ck_assert_int_eq(verify_at(ctx, &v, "1", tag, 0, -5), FWG_R_TAG_FUTURE);
	ck_assert_int_eq(verify_at(ctx, &v, "9223372036854775807", tag, 9223372036854775807LL, 0),
			FWG_R_TAG_MISMATCH);
	fwg_tag_ctx_free(ctx);
}
END_TEST

/* A topic of the MQTT maximum, 65535 bytes. */
START_TEST(long_topic)
{
	size_t tlen = 65535;
	char *topic = malloc(tlen + 1);
	ck_assert_ptr_nonnull(topic);
	for(size_t i = 0; i < tlen; i++) topic[i] = (char)('a' + i % 26);
	topic[tlen] = 0;
	uint8_t k[32], sha[32], mac[32], ref[32];
	for(int i = 0; i < 32; i++){ k[i] = (uint8_t)i; sha[i] = (uint8_t)(0xff - i); }
	struct fwg_tag_ctx *ctx = fwg_tag_ctx_new(k);
	ck_assert_int_eq(fwg_tag_compute(ctx, topic, "1700000000", sha, mac), 0);
	size_t cap = tlen + 200;
	char *base = malloc(cap);
	long blen = fwg_tag_base(base, cap, topic, "1700000000", sha);
	ck_assert_int_eq(blen, (long)(strlen("fwguard-tag-v1") + 1 + tlen + 1 + 10 + 1 + 64));
	unsigned int rlen = 0;
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k, 32, (const unsigned char *)base, (size_t)blen, ref, &rlen));
	ck_assert(memcmp(mac, ref, 32) == 0);
	char hex[65];
	fwg_hex_encode(ref, 32, hex);
	ck_assert_int_eq(fwg_tag_verify(ctx, topic, "1700000000", 10, hex, 64, sha,
			1700000000, 300, NULL), FWG_R_OK);
	free(base);
	free(topic);
	fwg_tag_ctx_free(ctx);
}
END_TEST

/* Re-initialising the context must not carry state between tags. */
START_TEST(interleaved_contexts)
{
	struct vec a, b;
	load_vec(0, &a);
	load_vec(1, &b);
	struct fwg_tag_ctx *ctx = vector_ctx();
	uint8_t mac[32];
	char hex[65];
	for(int i = 0; i < 5; i++){
		const struct vec *v = (i % 2) ? &b : &a;
		ck_assert_int_eq(fwg_tag_compute(ctx, v->topic, v->ts, v->sha, mac), 0);
		fwg_hex_encode(mac, 32, hex);
		ck_assert_str_eq(hex, v->tag);
		/* a failed verify in between does not disturb the next tag */
		ck_assert_int_eq(verify_at(ctx, v, v->ts, "0000000000000000000000000000000000000000000000000000000000000000",
				strtoll(v->ts, NULL, 10), 300), FWG_R_TAG_MISMATCH);
	}
	fwg_tag_ctx_free(ctx);
}
END_TEST

START_TEST(null_arguments)
{
	uint8_t k[32] = { 0 }, sha[32] = { 0 }, mac[32];
	char buf[256];
	ck_assert_ptr_null(fwg_tag_ctx_new(NULL));
	fwg_tag_ctx_free(NULL);
	struct fwg_tag_ctx *ctx = fwg_tag_ctx_new(k);
	ck_assert_int_eq(fwg_tag_compute(NULL, "t", "1", sha, mac), -1);
	ck_assert_int_eq(fwg_tag_compute(ctx, NULL, "1", sha, mac), -1);
	ck_assert_int_eq(fwg_tag_base(NULL, 10, "t", "1", sha), -1);
	ck_assert_int_eq(fwg_tag_base(buf, sizeof(buf), "t", NULL, sha), -1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	fwg_tag_ctx_free(ctx);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *tag_suite(void)
{
	Suite *s = suite_create("tag");
	TCase *tc = tcase_create("known_answers");
	tcase_add_loop_test(tc, tag_base_matches_vector, 0, 2);
	tcase_add_loop_test(tc, tag_compute_matches_vector, 0, 2);
	tcase_add_loop_test(tc, tag_verify_vector, 0, 2);
	tcase_add_loop_test(tc, tag_matches_oneshot_hmac, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("negative");
	tcase_add_loop_test(tc, tag_flipped_bit, 0, 2);
	tcase_add_loop_test(tc, tag_wrong_key, 0, 2);
	tcase_add_loop_test(tc, tag_wrong_inputs, 0, 2);
	tcase_add_test(tc, tag_malformed);
	tcase_add_loop_test(tc, ts_malformed, 0, N(bad_ts));
	tcase_add_test(tc, ts_not_terminated);
	tcase_add_test(tc, order_of_checks);
	tcase_add_test(tc, window_extremes);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, long_topic);
	tcase_add_test(tc, interleaved_contexts);
	tcase_add_test(tc, null_arguments);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tag_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
