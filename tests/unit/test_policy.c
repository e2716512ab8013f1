/* Unit tests: manifest policy and chunk rules (§6). SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "fwguard/policy.h"

#define NOW ((int64_t)1700000000)

static const struct fwg_limits lim = {
	.clock_skew = 300,
	.max_image_size = 268435456,
	.max_chunk_size = 1048576,
};

static uint8_t digests[3][FWG_SHA256_LEN];

/* 2600 bytes in chunks of 1024: 1024, 1024, 552 (like the vectors) */
static void base_manifest(struct fwg_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->format = 1;
	strcpy(m->vendor, "acme");
	strcpy(m->model, "thermo-x1");
	strcpy(m->version, "1.0.0");
	m->sequence = 7;
	m->size = 2600;
	m->chunk_size = 1024;
	m->nchunks = 3;
	m->issued = (uint64_t)NOW - 60;
	m->expires = (uint64_t)NOW + 86400;
	strcpy(m->key_id, "0123456789abcdef");
	for(int i = 0; i < 3; i++) memset(digests[i], 0x10 + i, FWG_SHA256_LEN);
}

static void with_digests(struct fwg_manifest *m, uint32_t n)
{
	m->has_chunk_sha = true;
	m->n_chunk_sha = n;
	m->chunk_sha = digests;
}

START_TEST(test_ok)
{
	struct fwg_manifest m;
	base_manifest(&m);
	ck_assert_int_eq(fwg_policy_manifest(&m, 6, 0, &lim, NOW), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 7, &lim, NOW), FWG_R_OK);
	with_digests(&m, 3);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
}
END_TEST

START_TEST(test_sequence)
{
	struct fwg_manifest m;
	base_manifest(&m);
	ck_assert_int_eq(fwg_policy_manifest(&m, 7, 0, &lim, NOW), FWG_R_SEQUENCE_NOT_NEWER); /* equal */
	ck_assert_int_eq(fwg_policy_manifest(&m, 8, 0, &lim, NOW), FWG_R_SEQUENCE_NOT_NEWER); /* lower */
	ck_assert_int_eq(fwg_policy_manifest(&m, 6, 8, &lim, NOW), FWG_R_SEQUENCE_BELOW_FLOOR);
	ck_assert_int_eq(fwg_policy_manifest(&m, 6, 7, &lim, NOW), FWG_R_OK);    /* == floor */
	/* order: not newer is reported before the floor */
	ck_assert_int_eq(fwg_policy_manifest(&m, 7, 100, &lim, NOW), FWG_R_SEQUENCE_NOT_NEWER);
	m.sequence = FWG_INT_MAX;
	ck_assert_int_eq(fwg_policy_manifest(&m, FWG_INT_MAX - 1, 0, &lim, NOW), FWG_R_OK);
}
END_TEST

START_TEST(test_issued)
{
	struct fwg_manifest m;
	base_manifest(&m);
	m.issued = (uint64_t)NOW + 300;            /* exactly now + skew */
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
	m.issued = (uint64_t)NOW + 301;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_ISSUED_IN_FUTURE);
	m.issued = 0;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
	/* order: sequence before issued */
	m.issued = FWG_INT_MAX;
	ck_assert_int_eq(fwg_policy_manifest(&m, 9, 0, &lim, NOW), FWG_R_SEQUENCE_NOT_NEWER);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_ISSUED_IN_FUTURE);

	/* no overflow at the extremes of now and skew */
	struct fwg_limits big = lim;
	big.clock_skew = INT64_MAX;
	m.expires = FWG_INT_MAX;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &big, INT64_MAX - 1), FWG_R_EXPIRED);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &big, NOW), FWG_R_OK);
	m.issued = 0;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, INT64_MIN), FWG_R_ISSUED_IN_FUTURE);
	big.clock_skew = INT64_MIN;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &big, NOW), FWG_R_ISSUED_IN_FUTURE);
	big.clock_skew = 0;
	m.issued = (uint64_t)NOW;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &big, NOW), FWG_R_OK);
	m.issued = (uint64_t)NOW + 1;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &big, NOW), FWG_R_ISSUED_IN_FUTURE);
}
END_TEST

START_TEST(test_expires)
{
	struct fwg_manifest m;
	base_manifest(&m);
	m.expires = (uint64_t)NOW;                /* expires == now: expired */
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_EXPIRED);
	m.expires = (uint64_t)NOW - 1;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_EXPIRED);
	m.expires = (uint64_t)NOW + 1;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
	/* order: issued before expires */
	m.expires = (uint64_t)NOW;
	m.issued = (uint64_t)NOW + 1000;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_ISSUED_IN_FUTURE);
}
END_TEST

START_TEST(test_sizes)
{
	struct fwg_manifest m;
	base_manifest(&m);
	m.size = lim.max_image_size;               /* at the limit */
	m.chunk_size = lim.max_chunk_size;
	m.nchunks = 256;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
	m.size = lim.max_image_size + 1;
	m.nchunks = 257;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_IMAGE_TOO_LARGE);
	m.size = 2600;
	m.nchunks = 1;
	struct fwg_limits small = lim;
	small.max_chunk_size = 4096;
	m.chunk_size = 4096;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &small, NOW), FWG_R_OK);
	m.chunk_size = 4097;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &small, NOW), FWG_R_CHUNK_TOO_LARGE);
	/* order: image size before chunk size, expires before sizes */
	m.size = lim.max_image_size + 1;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &small, NOW), FWG_R_IMAGE_TOO_LARGE);
	m.expires = 1;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &small, NOW), FWG_R_EXPIRED);
}
END_TEST

START_TEST(test_digest_count)
{
	struct fwg_manifest m;
	base_manifest(&m);
	with_digests(&m, 2);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_CHUNK_DIGEST_COUNT);
	with_digests(&m, 4);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_CHUNK_DIGEST_COUNT);
	with_digests(&m, 0);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_CHUNK_DIGEST_COUNT);
	with_digests(&m, 3);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
	/* exact multiple: 2048 / 1024 = 2 chunks */
	m.size = 2048;
	m.nchunks = 2;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_CHUNK_DIGEST_COUNT);
	with_digests(&m, 2);
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_OK);
	/* order: chunk size checked before the digest count */
	m.chunk_size = lim.max_chunk_size + 1;
	ck_assert_int_eq(fwg_policy_manifest(&m, 0, 0, &lim, NOW), FWG_R_CHUNK_TOO_LARGE);
}
END_TEST

START_TEST(test_chunk_rules)
{
	struct fwg_manifest m;
	base_manifest(&m);
	ck_assert_int_eq(fwg_policy_chunk(NULL, 7, 0, 1024), FWG_R_NO_MANIFEST);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 0, 1024), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 1, 1024), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 2, 552), FWG_R_OK);      /* the remainder */
	ck_assert_int_eq(fwg_policy_chunk(&m, 6, 0, 1024), FWG_R_CHUNK_SEQUENCE);
	ck_assert_int_eq(fwg_policy_chunk(&m, 8, 0, 1024), FWG_R_CHUNK_SEQUENCE);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 3, 552), FWG_R_CHUNK_INDEX);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, UINT64_MAX, 0), FWG_R_CHUNK_INDEX);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 0, 1023), FWG_R_CHUNK_LENGTH);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 0, 1025), FWG_R_CHUNK_LENGTH);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 2, 1024), FWG_R_CHUNK_LENGTH);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 2, 0), FWG_R_CHUNK_LENGTH);
	/* order: sequence before index before length */
	ck_assert_int_eq(fwg_policy_chunk(&m, 8, 99, 1), FWG_R_CHUNK_SEQUENCE);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 99, 1), FWG_R_CHUNK_INDEX);
	/* exact multiple: the last chunk is a full chunk */
	m.size = 2048;
	m.nchunks = 2;
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 1, 1024), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 2, 0), FWG_R_CHUNK_INDEX);
	/* a single short chunk */
	m.size = 1;
	m.chunk_size = 256;
	m.nchunks = 1;
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 0, 1), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 0, 256), FWG_R_CHUNK_LENGTH);
	/* the largest image: 1024 chunks of 1 MiB */
	m.size = 1024ULL * 1048576ULL;
	m.chunk_size = 1048576;
	m.nchunks = 1024;
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 1023, 1048576), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_chunk(&m, 7, 1024, 1048576), FWG_R_CHUNK_INDEX);
}
END_TEST

START_TEST(test_chunk_digest)
{
	struct fwg_manifest m;
	base_manifest(&m);
	uint8_t sha[FWG_SHA256_LEN];
	memset(sha, 0x11, sizeof(sha));
	ck_assert_int_eq(fwg_policy_chunk_digest(NULL, 0, sha), FWG_R_NO_MANIFEST);
	/* no digests listed: anything goes */
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 1, sha), FWG_R_OK);
	with_digests(&m, 3);
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 1, sha), FWG_R_OK);
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 0, sha), FWG_R_CHUNK_DIGEST);
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 2, sha), FWG_R_CHUNK_DIGEST);
	sha[FWG_SHA256_LEN - 1] ^= 1;                 /* last byte differs */
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 1, sha), FWG_R_CHUNK_DIGEST);
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 3, digests[2]), FWG_R_CHUNK_INDEX);
	ck_assert_int_eq(fwg_policy_chunk_digest(&m, 2, digests[2]), FWG_R_OK);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("manifest");
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_sequence);
	tcase_add_test(tc, test_issued);
	tcase_add_test(tc, test_expires);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_digest_count);
	suite_add_tcase(s, tc);
	TCase *tch = tcase_create("chunk");
	tcase_add_test(tch, test_chunk_rules);
	tcase_add_test(tch, test_chunk_digest);
	suite_add_tcase(s, tch);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
