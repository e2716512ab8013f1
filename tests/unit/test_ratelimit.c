/* Unit tests: per-key rate limit of denial records (§8). SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fwguard/ratelimit.h"

START_TEST(test_burst_then_suppressed)
{
	struct fwg_ratelimit *rl = fwg_ratelimit_new(16, 3, 60);
	ck_assert_ptr_nonnull(rl);
	uint64_t sup = 99;
	for(int i = 0; i < 3; i++) {
		ck_assert(fwg_ratelimit_allow(rl, "c1", 1000, &sup));
		ck_assert_uint_eq(sup, 0);
	}
	/* the burst is spent: 5 dropped within the period */
	for(int i = 0; i < 5; i++) ck_assert(!fwg_ratelimit_allow(rl, "c1", 1000 + i * 10, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, "c1", 1059, &sup));   /* still the same window */
	/* the period has passed: allowed, with the count of the 6 dropped */
	ck_assert(fwg_ratelimit_allow(rl, "c1", 1060, &sup));
	ck_assert_uint_eq(sup, 6);
	/* the count was reset */
	ck_assert(fwg_ratelimit_allow(rl, "c1", 1061, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert(fwg_ratelimit_allow(rl, "c1", 1062, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert(!fwg_ratelimit_allow(rl, "c1", 1063, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "c1", 1200, &sup));
	ck_assert_uint_eq(sup, 1);
	fwg_ratelimit_free(rl);
	fwg_ratelimit_free(NULL);
}
END_TEST

START_TEST(test_keys_independent)
{
	struct fwg_ratelimit *rl = fwg_ratelimit_new(16, 1, 10);
	uint64_t sup;
	ck_assert(fwg_ratelimit_allow(rl, "a", 0, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, "a", 1, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "b", 1, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "", 1, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, NULL, 1, &sup));   /* NULL is the empty key */
	/* keys are compared in full: a prefix is another key */
	ck_assert(fwg_ratelimit_allow(rl, "ab", 1, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, "b", 2, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "a", 10, &sup));
	ck_assert_uint_eq(sup, 1);
	ck_assert(fwg_ratelimit_allow(rl, "b", 11, &sup));
	ck_assert_uint_eq(sup, 1);
	/* suppressed may be NULL */
	ck_assert(fwg_ratelimit_allow(rl, "c", 11, NULL));
	fwg_ratelimit_free(rl);
}
END_TEST

START_TEST(test_edge_parameters)
{
	uint64_t sup;
	/* burst 0: nothing is ever emitted */
	struct fwg_ratelimit *rl = fwg_ratelimit_new(4, 0, 10);
	ck_assert(!fwg_ratelimit_allow(rl, "a", 0, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, "a", 100, &sup));
	fwg_ratelimit_free(rl);
	/* period 0: every call opens a new window */
	rl = fwg_ratelimit_new(4, 1, 0);
	for(int i = 0; i < 5; i++) ck_assert(fwg_ratelimit_allow(rl, "a", 5, &sup));
	fwg_ratelimit_free(rl);
	/* a clock that goes back opens a new window rather than blocking */
	rl = fwg_ratelimit_new(4, 1, 60);
	ck_assert(fwg_ratelimit_allow(rl, "a", 1000, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, "a", 1001, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "a", 500, &sup));
	ck_assert_uint_eq(sup, 1);
	fwg_ratelimit_free(rl);
	/* max_keys 0 behaves as 1 */
	rl = fwg_ratelimit_new(0, 1, 60);
	ck_assert_ptr_nonnull(rl);
	ck_assert(fwg_ratelimit_allow(rl, "a", 0, &sup));
	ck_assert(!fwg_ratelimit_allow(rl, "a", 0, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "b", 0, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "a", 0, &sup));  /* "a" was evicted by "b" */
	fwg_ratelimit_free(rl);
}
END_TEST

START_TEST(test_lru_eviction)
{
	struct fwg_ratelimit *rl = fwg_ratelimit_new(3, 1, 100);
	uint64_t sup;
	ck_assert(fwg_ratelimit_allow(rl, "a", 0, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "b", 0, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "c", 0, &sup));
	/* touch "a": "b" becomes the least recently used */
	ck_assert(!fwg_ratelimit_allow(rl, "a", 1, &sup));
	ck_assert(fwg_ratelimit_allow(rl, "d", 1, &sup));  /* evicts "b" */
	ck_assert(!fwg_ratelimit_allow(rl, "a", 2, &sup)); /* still tracked */
	ck_assert(!fwg_ratelimit_allow(rl, "c", 2, &sup)); /* still tracked */
	ck_assert(fwg_ratelimit_allow(rl, "b", 2, &sup));  /* forgotten: a fresh window */
	fwg_ratelimit_free(rl);
}
END_TEST

START_TEST(test_many_keys)
{
	const size_t max = 256;
	const int total = getenv("FWG_UNDER_VALGRIND") ? 5000 : 50000;
	struct fwg_ratelimit *rl = fwg_ratelimit_new(max, 2, 60);
	uint64_t sup;
	char key[32];
	/* a flood of distinct client ids: each gets its burst, memory stays bounded */
	for(int i = 0; i < total; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		ck_assert(fwg_ratelimit_allow(rl, key, 100, &sup));
		ck_assert(fwg_ratelimit_allow(rl, key, 100, &sup));
		ck_assert(!fwg_ratelimit_allow(rl, key, 100, &sup));
	}
	/* the last max keys are still tracked, older ones were evicted */
	for(int i = total - (int)max; i < total; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		ck_assert(!fwg_ratelimit_allow(rl, key, 101, &sup));
	}
	snprintf(key, sizeof(key), "flood-%d", 0);
	ck_assert(fwg_ratelimit_allow(rl, key, 101, &sup));
	ck_assert_uint_eq(sup, 0);
	/* after the period each tracked key reports its 2 suppressed records
	 * (the one in the flood and the one above) */
	for(int i = total - (int)max + 1; i < total; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		ck_assert(fwg_ratelimit_allow(rl, key, 200, &sup));
		ck_assert_uint_eq(sup, 2);
	}
	fwg_ratelimit_free(rl);
}
END_TEST

static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("window");
	tcase_add_test(tc, test_burst_then_suppressed);
	tcase_add_test(tc, test_keys_independent);
	tcase_add_test(tc, test_edge_parameters);
	tcase_add_test(tc, test_lru_eviction);
	tcase_add_test(tc, test_many_keys);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ratelimit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
