/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fwguard/map.h"

START_TEST(put_get_replace)
{
	struct fwg_map *m = fwg_map_new(1);
	int a = 1, b = 2;
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(fwg_map_put(m, "acme", 4, &a), 0);
	ck_assert_ptr_eq(fwg_map_get(m, "acme", 4), &a);
	ck_assert_ptr_null(fwg_map_get(m, "acm", 3));
	ck_assert_ptr_null(fwg_map_get(m, "acmex", 5));
	ck_assert_int_eq(fwg_map_put(m, "acme", 4, &b), 0);
	ck_assert_ptr_eq(fwg_map_get(m, "acme", 4), &b);
	ck_assert_uint_eq(fwg_map_count(m), 1);
	fwg_map_free(m, NULL);
}
END_TEST

START_TEST(grow_and_iterate)
{
	struct fwg_map *m = fwg_map_new(0);
	char key[32];
	for(int i = 0; i < 5000; i++){
		int n = snprintf(key, sizeof(key), "k%d", i);
		int *v = malloc(sizeof(int));
		*v = i;
		ck_assert_int_eq(fwg_map_put(m, key, (size_t)n, v), 0);
	}
	ck_assert_uint_eq(fwg_map_count(m), 5000);
	for(int i = 0; i < 5000; i++){
		int n = snprintf(key, sizeof(key), "k%d", i);
		int *v = fwg_map_get(m, key, (size_t)n);
		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(*v, i);
	}
	size_t pos = 0, seen = 0;
	const char *k;
	size_t kl;
	void *v;
	long sum = 0;
	while(fwg_map_next(m, &pos, &k, &kl, &v)){
		ck_assert_uint_eq(strlen(k), kl);
		sum += *(int *)v;
		seen++;
	}
	ck_assert_uint_eq(seen, 5000);
	ck_assert_int_eq(sum, 4999L * 5000 / 2);
	fwg_map_free(m, free);
}
END_TEST

START_TEST(binary_keys_with_length)
{
	struct fwg_map *m = fwg_map_new(4);
	int a = 1;
	ck_assert_int_eq(fwg_map_put(m, "acme/thermo", 4, &a), 0); /* only "acme" */
	ck_assert_ptr_eq(fwg_map_get(m, "acme", 4), &a);
	ck_assert_ptr_eq(fwg_map_get(m, "acme/other", 4), &a);
	ck_assert_ptr_null(fwg_map_get(m, "acme/thermo", 11));
	fwg_map_free(m, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("map");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, put_get_replace);
	tcase_add_test(tc, grow_and_iterate);
	tcase_add_test(tc, binary_keys_with_length);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
