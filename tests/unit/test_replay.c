/* Unit tests: bounded tag replay cache (§3). SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fwguard/replay.h"

#define WIN 300

/* A deterministic MAC from a number (all 32 bytes vary). */
static void mac_of(uint64_t n, uint8_t mac[FWG_SHA256_LEN])
{
	uint64_t x = n * 0x9e3779b97f4a7c15ULL + 1;
	for(int i = 0; i < FWG_SHA256_LEN; i++) {
		x ^= x >> 29; x *= 0xbf58476d1ce4e5b9ULL; x ^= x >> 32;
		mac[i] = (uint8_t)x;
	}
}

START_TEST(test_new_same_other)
{
	struct fwg_replay *r = fwg_replay_new(16);
	ck_assert_ptr_nonnull(r);
	uint8_t m1[32], m2[32];
	mac_of(1, m1);
	mac_of(2, m2);
	ck_assert_int_eq(fwg_replay_check(r, m1, "vendor-a", 1000, WIN), FWG_REPLAY_NEW);
	fwg_replay_insert(r, m1, "vendor-a", 1000);
	ck_assert_uint_eq(fwg_replay_count(r), 1);
	ck_assert_int_eq(fwg_replay_check(r, m1, "vendor-a", 1001, WIN), FWG_REPLAY_SAME_CLIENT);
	ck_assert_int_eq(fwg_replay_check(r, m1, "vendor-b", 1001, WIN), FWG_REPLAY_OTHER_CLIENT);
	ck_assert_int_eq(fwg_replay_check(r, m1, "", 1001, WIN), FWG_REPLAY_OTHER_CLIENT);
	ck_assert_int_eq(fwg_replay_check(r, m1, NULL, 1001, WIN), FWG_REPLAY_OTHER_CLIENT);
	ck_assert_int_eq(fwg_replay_check(r, m2, "vendor-a", 1001, WIN), FWG_REPLAY_NEW);
	/* a MAC differing in the last byte only is another MAC */
	uint8_t m3[32];
	memcpy(m3, m1, 32);
	m3[31] ^= 1;
	ck_assert_int_eq(fwg_replay_check(r, m3, "vendor-a", 1001, WIN), FWG_REPLAY_NEW);
	fwg_replay_free(r);
	fwg_replay_free(NULL);
}
END_TEST

START_TEST(test_window)
{
	struct fwg_replay *r = fwg_replay_new(4);
	uint8_t m[32];
	mac_of(7, m);
	fwg_replay_insert(r, m, "c", 1000);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 1000 + WIN, WIN), FWG_REPLAY_SAME_CLIENT);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 1000 + WIN + 1, WIN), FWG_REPLAY_NEW);
	ck_assert_int_eq(fwg_replay_check(r, m, "x", 1000 + WIN + 1, WIN), FWG_REPLAY_NEW);
	/* a clock that went back still sees it */
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 900, WIN), FWG_REPLAY_SAME_CLIENT);
	/* re-inserting an expired MAC refreshes it, without a second entry */
	fwg_replay_insert(r, m, "d", 2000);
	ck_assert_uint_eq(fwg_replay_count(r), 1);
	ck_assert_int_eq(fwg_replay_check(r, m, "d", 2001, WIN), FWG_REPLAY_SAME_CLIENT);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 2001, WIN), FWG_REPLAY_OTHER_CLIENT);
	fwg_replay_free(r);
}
END_TEST

START_TEST(test_eviction)
{
	const size_t cap = 8;
	struct fwg_replay *r = fwg_replay_new(cap);
	uint8_t m[32];
	for(uint64_t i = 0; i < cap; i++) {
		mac_of(i, m);
		fwg_replay_insert(r, m, "c", 1000 + (int64_t)i);
	}
	ck_assert_uint_eq(fwg_replay_count(r), cap);
	for(uint64_t i = 0; i < cap; i++) {
		mac_of(i, m);
		ck_assert_int_eq(fwg_replay_check(r, m, "c", 1010, WIN), FWG_REPLAY_SAME_CLIENT);
	}
	/* one more: the oldest (0) goes, the rest stay */
	mac_of(cap, m);
	fwg_replay_insert(r, m, "c", 1010);
	ck_assert_uint_eq(fwg_replay_count(r), cap);
	mac_of(0, m);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 1010, WIN), FWG_REPLAY_NEW);
	for(uint64_t i = 1; i <= cap; i++) {
		mac_of(i, m);
		ck_assert_int_eq(fwg_replay_check(r, m, "c", 1010, WIN), FWG_REPLAY_SAME_CLIENT);
	}
	/* two more: 1 and 2 go */
	mac_of(cap + 1, m); fwg_replay_insert(r, m, "c", 1011);
	mac_of(cap + 2, m); fwg_replay_insert(r, m, "c", 1011);
	mac_of(1, m);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 1011, WIN), FWG_REPLAY_NEW);
	mac_of(2, m);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 1011, WIN), FWG_REPLAY_NEW);
	mac_of(3, m);
	ck_assert_int_eq(fwg_replay_check(r, m, "c", 1011, WIN), FWG_REPLAY_SAME_CLIENT);
	fwg_replay_free(r);
}
END_TEST

START_TEST(test_capacity_one)
{
	struct fwg_replay *r = fwg_replay_new(1);
	ck_assert_ptr_nonnull(r);
	uint8_t a[32], b[32];
	mac_of(100, a);
	mac_of(200, b);
	fwg_replay_insert(r, a, "c", 1);
	fwg_replay_insert(r, b, "c", 2);
	ck_assert_uint_eq(fwg_replay_count(r), 1);
	ck_assert_int_eq(fwg_replay_check(r, a, "c", 2, WIN), FWG_REPLAY_NEW);
	ck_assert_int_eq(fwg_replay_check(r, b, "c", 2, WIN), FWG_REPLAY_SAME_CLIENT);
	/* re-inserting the only entry */
	fwg_replay_insert(r, b, "d", 3);
	ck_assert_uint_eq(fwg_replay_count(r), 1);
	ck_assert_int_eq(fwg_replay_check(r, b, "d", 3, WIN), FWG_REPLAY_SAME_CLIENT);
	fwg_replay_free(r);
	/* capacity 0 behaves as 1 */
	r = fwg_replay_new(0);
	ck_assert_ptr_nonnull(r);
	fwg_replay_insert(r, a, "c", 1);
	ck_assert_int_eq(fwg_replay_check(r, a, "c", 1, WIN), FWG_REPLAY_SAME_CLIENT);
	fwg_replay_free(r);
}
END_TEST

/* MACs that share their first 8 bytes all land in the same probe run:
 * insertion, eviction and backward-shift deletion must keep every other
 * entry reachable. */
START_TEST(test_colliding_home_slots)
{
	const size_t cap = 16;
	struct fwg_replay *r = fwg_replay_new(cap);
	uint8_t m[32];
	for(uint64_t round = 0; round < 10; round++) {
		for(uint64_t i = 0; i < cap; i++) {
			uint64_t id = round * cap + i;
			memset(m, 0xAB, 32);
			memcpy(m + 24, &id, sizeof(id));      /* first 8 bytes equal */
			fwg_replay_insert(r, m, "c", (int64_t)id);
		}
		for(uint64_t i = 0; i < cap; i++) {
			uint64_t id = round * cap + i;
			memset(m, 0xAB, 32);
			memcpy(m + 24, &id, sizeof(id));
			ck_assert_int_eq(fwg_replay_check(r, m, "c", (int64_t)id, WIN), FWG_REPLAY_SAME_CLIENT);
		}
		ck_assert_uint_eq(fwg_replay_count(r), cap);
	}
	fwg_replay_free(r);
}
END_TEST

/* Many inserts through a small cache: bounded count, the newest `cap` are
 * all found, the older ones are not. */
START_TEST(test_many_inserts)
{
	const size_t cap = 1000;
	const uint64_t total = getenv("FWG_UNDER_VALGRIND") ? 20000 : 200000;
	struct fwg_replay *r = fwg_replay_new(cap);
	uint8_t m[32];
	for(uint64_t i = 0; i < total; i++) {
		mac_of(i, m);
		ck_assert(fwg_replay_check(r, m, "c", (int64_t)i, WIN) == FWG_REPLAY_NEW);
		fwg_replay_insert(r, m, "c", (int64_t)i);
		if(i % 7 == 0 && i >= 10) {
			/* a retry of a recent tag is seen */
			mac_of(i - 3, m);
			ck_assert(fwg_replay_check(r, m, "c", (int64_t)i, WIN) == FWG_REPLAY_SAME_CLIENT);
		}
		ck_assert(fwg_replay_count(r) <= cap);
	}
	ck_assert_uint_eq(fwg_replay_count(r), cap);
	size_t found = 0;
	for(uint64_t i = total - cap; i < total; i++) {
		mac_of(i, m);
		if(fwg_replay_check(r, m, "c", (int64_t)total, (int64_t)total) == FWG_REPLAY_SAME_CLIENT) found++;
	}
	ck_assert_uint_eq(found, cap);
	for(uint64_t i = 0; i < total - cap; i += 97) {
		mac_of(i, m);
		ck_assert(fwg_replay_check(r, m, "c", (int64_t)total, (int64_t)total) == FWG_REPLAY_NEW);
	}
	fwg_replay_free(r);
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("cache");
	tcase_add_test(tc, test_new_same_other);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_eviction);
	tcase_add_test(tc, test_capacity_one);
	tcase_add_test(tc, test_colliding_home_slots);
	tcase_add_test(tc, test_many_inserts);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(replay_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
