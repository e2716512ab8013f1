/* Unit tests: hex, base64, UTF-8, strict integers, SHA-256.
 * SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include "vectors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwguard/codec.h"


/* ---- vector helpers ---- */



/* ---- hex ---- */

START_TEST(hex_encode_known)
{
	const uint8_t in[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
	char out[13];
	fwg_hex_encode(in, sizeof(in), out);
	ck_assert_str_eq(out, "0001abcdefff");
	fwg_hex_encode(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(hex_decode_known)
{
	uint8_t out[4];
	ck_assert_int_eq(fwg_hex_decode("00ff7a10", 8, out, 4), 0);
	ck_assert_int_eq(out[0], 0x00);
	ck_assert_int_eq(out[1], 0xff);
	ck_assert_int_eq(out[2], 0x7a);
	ck_assert_int_eq(out[3], 0x10);
	ck_assert_int_eq(fwg_hex_decode("", 0, out, 0), 0);
}
END_TEST

START_TEST(hex_decode_rejects)
{
	uint8_t out[4];
	ck_assert_int_eq(fwg_hex_decode("00FF7a10", 8, out, 4), -1);  /* uppercase */
	ck_assert_int_eq(fwg_hex_decode("00ff7a1", 7, out, 4), -1);   /* odd/short */
	ck_assert_int_eq(fwg_hex_decode("00ff7a1000", 10, out, 4), -1); /* long */
	ck_assert_int_eq(fwg_hex_decode("00ff7a1g", 8, out, 4), -1);  /* non-hex */
	ck_assert_int_eq(fwg_hex_decode("00ff a10", 8, out, 4), -1);
	ck_assert_int_eq(fwg_hex_decode("00ff\0a10", 8, out, 4), -1);
	ck_assert_int_eq(fwg_hex_decode(NULL, 8, out, 4), -1);
}
END_TEST

START_TEST(hex_is_lower)
{
	ck_assert(fwg_is_lower_hex("0123456789abcdef", 16));
	ck_assert(fwg_is_lower_hex("", 0));
	ck_assert(!fwg_is_lower_hex("0123456789abcdeF", 16));
	ck_assert(!fwg_is_lower_hex("g", 1));
	ck_assert(!fwg_is_lower_hex("-", 1));
}
END_TEST

/* ---- base64 ---- */

static const struct { const char *plain, *b64; } rfc4648[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

START_TEST(b64_rfc4648)
{
	const char *p = rfc4648[_i].plain, *e = rfc4648[_i].b64;
	char out[16];
	uint8_t dec[16];
	size_t dlen = 99;
	ck_assert_int_eq(fwg_b64_encode((const uint8_t *)p, strlen(p), out, sizeof(out)), (long)strlen(e));
	ck_assert_str_eq(out, e);
	ck_assert_int_eq(fwg_b64_decode(e, strlen(e), dec, sizeof(dec), &dlen), 0);
	ck_assert_uint_eq(dlen, strlen(p));
	ck_assert(memcmp(dec, p, dlen) == 0);
}
END_TEST

START_TEST(b64_all_bytes_round_trip)
{
	uint8_t in[256], dec[256];
	char enc[4 * 86 + 1];
	for(int i = 0; i < 256; i++) in[i] = (uint8_t)i;
	for(size_t n = 0; n <= 256; n++){
		long l = fwg_b64_encode(in, n, enc, sizeof(enc));
		ck_assert_int_ge(l, 0);
		size_t dlen = 0;
		ck_assert_int_eq(fwg_b64_decode(enc, (size_t)l, dec, sizeof(dec), &dlen), 0);
		ck_assert_uint_eq(dlen, n);
		ck_assert(memcmp(in, dec, n) == 0);
	}
}
END_TEST

static const char *const b64_bad[] = {
	"Zg",          /* missing padding */
	"Zg=",         /* short */
	"Zm9",         /* not a multiple of 4 */
	"Zh==",        /* non-canonical trailing bits (2 pads) */
	"Zm9=",        /* non-canonical trailing bits (1 pad) */
	"Z===",        /* too much padding */
	"====",
	"Zg=a",        /* data after pad */
	"Zg==Zg==",    /* padding in the middle */
	"Zm9v\n",      /* whitespace */
	"Zm 9v",
	" Zm9v",
	"Zm9v Zm9v",
	"Zm-v",        /* url-safe alphabet */
	"Zm_v",
	"Zm9v!abc",
	"Zm9\x80",
};

START_TEST(b64_rejects)
{
	uint8_t out[16];
	size_t dlen = 0;
	const char *s = b64_bad[_i];
	ck_assert_msg(fwg_b64_decode(s, strlen(s), out, sizeof(out), &dlen) == -1, "accepted '%s'", s);
}
END_TEST

START_TEST(b64_capacity)
{
	char out[8];
	uint8_t dec[2];
	size_t dlen;
	/* "foobar" needs 9 bytes */
	ck_assert_int_eq(fwg_b64_encode((const uint8_t *)"foobar", 6, out, 8), -1);
	ck_assert_int_eq(fwg_b64_encode((const uint8_t *)"foob", 4, out, 8), -1);
	ck_assert_int_eq(fwg_b64_encode((const uint8_t *)"foo", 3, out, 5), 4);
	ck_assert_int_eq(fwg_b64_decode("Zm9v", 4, dec, 2, &dlen), -1);
	ck_assert_int_eq(fwg_b64_decode("Zm8=", 4, dec, 2, &dlen), 0);
	ck_assert_uint_eq(dlen, 2);
	ck_assert_int_eq(fwg_b64_decode(NULL, 4, dec, 2, &dlen), -1);
}
END_TEST

START_TEST(b64_vector_key)
{
	size_t len;
	char *b64 = (char *)vec_slurp("vendor-sign.pub.b64", &len);
	while(len > 0 && (b64[len - 1] == '\n' || b64[len - 1] == '\r')) len--;
	uint8_t der[256];
	size_t dlen = 0;
	ck_assert_int_eq(fwg_b64_decode(b64, len, der, sizeof(der), &dlen), 0);
	ck_assert_uint_eq(dlen, 91); /* P-256 SPKI */
	char re[256];
	ck_assert_int_eq(fwg_b64_encode(der, dlen, re, sizeof(re)), (long)len);
	ck_assert(memcmp(re, b64, len) == 0);
	free(b64);
}
END_TEST

/* ---- UTF-8 ---- */

static const struct { const char *s; size_t n; bool ok; } utf8_cases[] = {
	{ "", 0, true },
	{ "plain ascii", 11, true },
	{ "\x00", 1, true },                  /* U+0000 is valid UTF-8 (JSON rules reject it elsewhere) */
	{ "\xc2\x80", 2, true },              /* U+0080 */
	{ "\xdf\xbf", 2, true },              /* U+07FF */
	{ "\xe0\xa0\x80", 3, true },          /* U+0800 */
	{ "\xed\x9f\xbf", 3, true },          /* U+D7FF */
	{ "\xee\x80\x80", 3, true },          /* U+E000 */
	{ "\xef\xbf\xbf", 3, true },          /* U+FFFF */
	{ "\xf0\x90\x80\x80", 4, true },      /* U+10000 */
	{ "\xf4\x8f\xbf\xbf", 4, true },      /* U+10FFFF */
	{ "h\xc3\xa9llo \xe2\x82\xac", 10, true },
	{ "\xc0\x80", 2, false },             /* overlong NUL */
	{ "\xc1\xbf", 2, false },             /* overlong */
	{ "\xe0\x9f\xbf", 3, false },         /* overlong */
	{ "\xf0\x8f\xbf\xbf", 4, false },     /* overlong */
	{ "\xed\xa0\x80", 3, false },         /* U+D800 */
	{ "\xed\xbf\xbf", 3, false },         /* U+DFFF */
	{ "\xf4\x90\x80\x80", 4, false },     /* U+110000 */
	{ "\xf5\x80\x80\x80", 4, false },
	{ "\xff", 1, false },
	{ "\xfe", 1, false },
	{ "\x80", 1, false },                 /* lone continuation */
	{ "\xc3", 1, false },                 /* truncated */
	{ "\xe2\x82", 2, false },
	{ "\xf0\x90\x80", 3, false },
	{ "\xc3\x28", 2, false },             /* bad continuation */
	{ "\xe2\x28\xa1", 3, false },
	{ "\xe2\x82\x28", 3, false },
	{ "\xf0\x90\x28\xbc", 4, false },
	{ "ok\xc3", 3, false },
};

START_TEST(utf8_table)
{
	ck_assert_msg(fwg_utf8_valid((const uint8_t *)utf8_cases[_i].s, utf8_cases[_i].n) == utf8_cases[_i].ok,
			"case %d", _i);
}
END_TEST

/* ---- integers ---- */

START_TEST(u64_ok)
{
	uint64_t v = 42;
	ck_assert_int_eq(fwg_parse_u64("0", 1, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(fwg_parse_u64("7", 1, 10, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(fwg_parse_u64("10", 2, 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(fwg_parse_u64("1764115260", 10, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 1764115260ULL);
	ck_assert_int_eq(fwg_parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(fwg_parse_u64("9007199254740991", 16, FWG_INT_MAX, &v), 0);
	ck_assert(v == FWG_INT_MAX);
	ck_assert_int_eq(fwg_parse_u64("9223372036854775807", 19, INT64_MAX, &v), 0);
	ck_assert(v == (uint64_t)INT64_MAX);
	ck_assert_int_eq(fwg_parse_u64("123xyz", 3, 1000, &v), 0); /* length-bounded */
	ck_assert_uint_eq(v, 123);
	ck_assert_int_eq(fwg_parse_u64("5", 1, 5, NULL), 0);
}
END_TEST

static const char *const u64_bad[] = {
	"", "00", "07", "-1", "+1", "-0", " 1", "1 ", "1.0", "1e0", "0x10", "a",
	"18446744073709551616", "99999999999999999999", "184467440737095516150",
};

START_TEST(u64_rejects)
{
	uint64_t v = 4242;
	const char *s = u64_bad[_i];
	ck_assert_msg(fwg_parse_u64(s, strlen(s), UINT64_MAX, &v) == -1, "accepted '%s'", s);
	ck_assert_uint_eq(v, 4242);
}
END_TEST

START_TEST(u64_max_bound)
{
	uint64_t v;
	ck_assert_int_eq(fwg_parse_u64("9007199254740992", 16, FWG_INT_MAX, &v), -1);
	ck_assert_int_eq(fwg_parse_u64("9223372036854775808", 19, INT64_MAX, &v), -1);
	ck_assert_int_eq(fwg_parse_u64("11", 2, 10, &v), -1);
	ck_assert_int_eq(fwg_parse_u64("6", 1, 5, &v), -1);
	ck_assert_int_eq(fwg_parse_u64("17", 2, 5, &v), -1);
	ck_assert_int_eq(fwg_parse_u64("1", 1, 0, &v), -1);
	ck_assert_int_eq(fwg_parse_u64("0", 1, 0, &v), 0);
	ck_assert_int_eq(fwg_parse_u64(NULL, 1, 10, &v), -1);
}
END_TEST

/* ---- misc ---- */

START_TEST(ct_equal)
{
	ck_assert(fwg_ct_equal("abcd", "abcd", 4));
	ck_assert(!fwg_ct_equal("abcd", "abce", 4));
	ck_assert(fwg_ct_equal("abcd", "abce", 3));
	ck_assert(fwg_ct_equal("x", "y", 0));
}
END_TEST

START_TEST(sha256_known)
{
	uint8_t md[FWG_SHA256_LEN];
	char hex[FWG_SHA256_HEX_LEN + 1];
	fwg_sha256("abc", 3, md);
	fwg_hex_encode(md, sizeof(md), hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	fwg_sha256("", 0, md);
	fwg_hex_encode(md, sizeof(md), hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

static const struct { const char *file, *key; } digest_vectors[] = {
	{ "image.bin", "image_sha256" },
	{ "chunk-0.bin", "chunk0_sha256" },
	{ "chunk-1.bin", "chunk1_sha256" },
	{ "chunk-2.bin", "chunk2_sha256" },
	{ "manifest.json", "manifest_sha256" },
};

START_TEST(sha256_vectors)
{
	size_t len;
	uint8_t *data = vec_slurp(digest_vectors[_i].file, &len);
	uint8_t md[FWG_SHA256_LEN];
	char hex[FWG_SHA256_HEX_LEN + 1], want[128];
	fwg_sha256(data, len, md);
	fwg_hex_encode(md, sizeof(md), hex);
	vec_expected(digest_vectors[_i].key, want, sizeof(want));
	ck_assert_str_eq(hex, want);
	if(_i == 0){
		char sz[32];
		vec_expected("image_size", sz, sizeof(sz));
		ck_assert_uint_eq(len, strtoul(sz, NULL, 10));
	}
	free(data);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("hex");
	tcase_add_test(tc, hex_encode_known);
	tcase_add_test(tc, hex_decode_known);
	tcase_add_test(tc, hex_decode_rejects);
	tcase_add_test(tc, hex_is_lower);
	suite_add_tcase(s, tc);

	tc = tcase_create("base64");
	tcase_add_loop_test(tc, b64_rfc4648, 0, N(rfc4648));
	tcase_add_test(tc, b64_all_bytes_round_trip);
	tcase_add_loop_test(tc, b64_rejects, 0, N(b64_bad));
	tcase_add_test(tc, b64_capacity);
	tcase_add_test(tc, b64_vector_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_add_loop_test(tc, utf8_table, 0, N(utf8_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("integers");
	tcase_add_test(tc, u64_ok);
	tcase_add_loop_test(tc, u64_rejects, 0, N(u64_bad));
	tcase_add_test(tc, u64_max_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("digest");
	tcase_add_test(tc, ct_equal);
	tcase_add_test(tc, sha256_known);
	tcase_add_loop_test(tc, sha256_vectors, 0, N(digest_vectors));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
