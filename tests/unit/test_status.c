/* Unit tests: device status (§7). SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fwguard/status.h"

static enum fwg_reason sparse(const char *json, struct fwg_status *st)
{
	return fwg_status_parse((const uint8_t *)json, strlen(json), st);
}

START_TEST(test_valid_full)
{
	struct fwg_status st;
	ck_assert_int_eq(sparse("{\"state\":\"installed\",\"sequence\":7,\"version\":\"1.2.3\","
			"\"progress\":100,\"error\":\"none\"}", &st), FWG_R_OK);
	ck_assert_int_eq(st.state, FWG_ST_INSTALLED);
	ck_assert(st.has_sequence);
	ck_assert_uint_eq(st.sequence, 7);
	ck_assert(st.has_progress);
	ck_assert_uint_eq(st.progress, 100);
	ck_assert(st.has_version);
	ck_assert_str_eq(st.version, "1.2.3");
	ck_assert(st.has_error);
	ck_assert_str_eq(st.error, "none");
}
END_TEST

START_TEST(test_valid_minimal_and_states)
{
	struct fwg_status st;
	const char *names[] = { "idle", "downloading", "verifying", "installed", "failed" };
	const enum fwg_dev_state states[] = { FWG_ST_IDLE, FWG_ST_DOWNLOADING, FWG_ST_VERIFYING,
		FWG_ST_INSTALLED, FWG_ST_FAILED };
	for(int i = 0; i < 5; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), " { \"state\" : \"%s\" }\n", names[i]);
		ck_assert_int_eq(sparse(buf, &st), FWG_R_OK);
		ck_assert_int_eq(st.state, states[i]);
		ck_assert(!st.has_sequence && !st.has_progress && !st.has_version && !st.has_error);
		ck_assert_str_eq(fwg_status_state_str(states[i]), names[i]);
		ck_assert_int_eq(fwg_status_state_parse(names[i]), (int)states[i]);
	}
	ck_assert_int_eq(fwg_status_state_parse("Installed"), -1);
	ck_assert_int_eq(fwg_status_state_parse(""), -1);
	ck_assert_int_eq(fwg_status_state_parse(NULL), -1);
	ck_assert_ptr_null(fwg_status_state_str(FWG_ST__COUNT));
}
END_TEST

START_TEST(test_limits)
{
	struct fwg_status st;
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":0,\"progress\":0}", &st), FWG_R_OK);
	ck_assert_uint_eq(st.sequence, 0);
	ck_assert_uint_eq(st.progress, 0);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":9007199254740991}", &st), FWG_R_OK);
	ck_assert_uint_eq(st.sequence, 9007199254740991ULL);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":9007199254740992}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":-1}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":1.5}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":1e400}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"progress\":101}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"progress\":-1}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"progress\":50.5}", &st), FWG_R_STATUS_INVALID);
	/* an integral value written as a float is an integer for status */
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"progress\":5e1}", &st), FWG_R_OK);
	ck_assert_uint_eq(st.progress, 50);
}
END_TEST

START_TEST(test_wrong_types)
{
	const char *bad[] = {
		"{\"state\":1}",
		"{\"state\":null}",
		"{\"state\":[\"idle\"]}",
		"{\"state\":\"IDLE\"}",
		"{\"state\":\"rebooting\"}",
		"{\"state\":\"\"}",
		"{\"state\":\"idle\",\"sequence\":\"7\"}",
		"{\"state\":\"idle\",\"sequence\":null}",
		"{\"state\":\"idle\",\"sequence\":true}",
		"{\"state\":\"idle\",\"progress\":\"50\"}",
		"{\"state\":\"idle\",\"progress\":{}}",
		"{\"state\":\"idle\",\"version\":1}",
		"{\"state\":\"idle\",\"version\":null}",
		"{\"state\":\"failed\",\"error\":false}",
		"{\"state\":\"failed\",\"error\":[]}",
		"{\"sequence\":7}",                                  /* state missing */
		"{}",
		"{\"State\":\"idle\"}",                              /* names are case sensitive */
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fwg_status st;
		ck_assert_msg(sparse(bad[i], &st) == FWG_R_STATUS_INVALID, "%s", bad[i]);
	}
}
END_TEST

START_TEST(test_duplicates_and_unknown)
{
	struct fwg_status st;
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"state\":\"failed\"}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"sequence\":1,\"sequence\":1}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"progress\":1,\"progress\":2}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"a\",\"version\":\"b\"}", &st), FWG_R_STATUS_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"error\":\"a\",\"error\":\"b\"}", &st), FWG_R_STATUS_INVALID);
	/* unknown members are ignored, whatever their type, duplicated or not */
	ck_assert_int_eq(sparse("{\"uptime\":12.5,\"state\":\"verifying\",\"extra\":{\"a\":[1,2]},"
			"\"extra\":null,\"rssi\":-70}", &st), FWG_R_OK);
	ck_assert_int_eq(st.state, FWG_ST_VERIFYING);
}
END_TEST

START_TEST(test_json_errors)
{
	struct fwg_status st;
	ck_assert_int_eq(sparse("", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\"", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\"} x", &st), FWG_R_JSON_INVALID);   /* trailing garbage */
	ck_assert_int_eq(sparse("{\"state\":\"idle\"}{}", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",}", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{'state':'idle'}", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("[{\"state\":\"idle\"}]", &st), FWG_R_JSON_NOT_OBJECT);
	ck_assert_int_eq(sparse("\"idle\"", &st), FWG_R_JSON_NOT_OBJECT);
	ck_assert_int_eq(sparse("42", &st), FWG_R_JSON_NOT_OBJECT);
	ck_assert_int_eq(sparse("null", &st), FWG_R_JSON_NOT_OBJECT);
	/* NUL byte, \u0000, raw control character */
	const uint8_t nul[] = "{\"state\":\"idle\"}\0";
	ck_assert_int_eq(fwg_status_parse(nul, sizeof(nul) - 1, &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"a\\u0000b\"}", &st), FWG_R_JSON_INVALID);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"a\nb\"}", &st), FWG_R_JSON_INVALID);
}
END_TEST

START_TEST(test_size_and_utf8)
{
	struct fwg_status st;
	/* exactly 4096 bytes: accepted; 4097: too large */
	char *buf = malloc(4098);
	ck_assert_ptr_nonnull(buf);
	const char *head = "{\"state\":\"idle\",\"pad\":\"";
	size_t hl = strlen(head);
	memcpy(buf, head, hl);
	memset(buf + hl, 'p', 4096 - hl - 2);
	memcpy(buf + 4096 - 2, "\"}", 2);
	ck_assert_int_eq(fwg_status_parse((uint8_t *)buf, 4096, &st), FWG_R_OK);
	memset(buf + hl, 'p', 4097 - hl - 2);
	memcpy(buf + 4097 - 2, "\"}", 2);
	ck_assert_int_eq(fwg_status_parse((uint8_t *)buf, 4097, &st), FWG_R_TOO_LARGE);
	free(buf);

	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"\xff\"}", &st), FWG_R_NOT_UTF8);
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"\xc0\xaf\"}", &st), FWG_R_NOT_UTF8); /* overlong */
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"\xed\xa0\x80\"}", &st), FWG_R_NOT_UTF8); /* surrogate */
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"\xc3\"}", &st), FWG_R_NOT_UTF8); /* truncated */
	ck_assert_int_eq(sparse("{\"state\":\"idle\",\"version\":\"caf\xc3\xa9\"}", &st), FWG_R_OK);
	ck_assert_str_eq(st.version, "caf\xc3\xa9");
}
END_TEST

START_TEST(test_truncation)
{
	struct fwg_status st;
	char buf[1024];
	char longv[400];
	memset(longv, 'v', 300);
	longv[300] = '\0';
	snprintf(buf, sizeof(buf), "{\"state\":\"failed\",\"version\":\"%s\",\"error\":\"%s\"}", longv, longv);
	ck_assert_int_eq(sparse(buf, &st), FWG_R_OK);
	ck_assert_uint_eq(strlen(st.version), FWG_STATUS_TEXT_MAX);
	ck_assert_uint_eq(strlen(st.error), FWG_STATUS_TEXT_MAX);
	/* truncation does not split a multi-byte character: 255 'a' then "é" */
	memset(longv, 'a', 255);
	memcpy(longv + 255, "\xc3\xa9zz", 5);
	snprintf(buf, sizeof(buf), "{\"state\":\"failed\",\"error\":\"%s\"}", longv);
	ck_assert_int_eq(sparse(buf, &st), FWG_R_OK);
	ck_assert_uint_eq(strlen(st.error), 255);
}
END_TEST

START_TEST(test_build)
{
	struct fwg_status st;
	memset(&st, 0, sizeof(st));
	st.state = FWG_ST_DOWNLOADING;
	char *s = fwg_status_build(&st);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "{\"state\":\"downloading\"}");
	free(s);

	st.has_sequence = true; st.sequence = 9007199254740991ULL;
	st.has_progress = true; st.progress = 42;
	st.has_version = true; strcpy(st.version, "1.0-rc\"1");
	st.has_error = true; strcpy(st.error, "x");
	s = fwg_status_build(&st);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "{\"state\":\"downloading\",\"sequence\":9007199254740991,"
			"\"version\":\"1.0-rc\\\"1\",\"progress\":42,\"error\":\"x\"}");
	/* round trip */
	struct fwg_status back;
	ck_assert_int_eq(sparse(s, &back), FWG_R_OK);
	ck_assert_int_eq(back.state, st.state);
	ck_assert_uint_eq(back.sequence, st.sequence);
	ck_assert_uint_eq(back.progress, 42);
	ck_assert_str_eq(back.version, st.version);
	ck_assert_str_eq(back.error, "x");
	free(s);

	/* a large round number prints as an integer, not 1e+15 */
	st.has_version = st.has_error = st.has_progress = false;
	st.sequence = 1000000000000000ULL;
	s = fwg_status_build(&st);
	ck_assert_str_eq(s, "{\"state\":\"downloading\",\"sequence\":1000000000000000}");
	free(s);

	st.state = FWG_ST__COUNT;
	ck_assert_ptr_null(fwg_status_build(&st));
	st.state = FWG_ST_IDLE;
	st.has_progress = true; st.progress = 101;
	ck_assert_ptr_null(fwg_status_build(&st));
	ck_assert_ptr_null(fwg_status_build(NULL));
}
END_TEST

static Suite *status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_valid_full);
	tcase_add_test(tc, test_valid_minimal_and_states);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_duplicates_and_unknown);
	tcase_add_test(tc, test_json_errors);
	tcase_add_test(tc, test_size_and_utf8);
	tcase_add_test(tc, test_truncation);
	suite_add_tcase(s, tc);
	TCase *tb = tcase_create("build");
	tcase_add_test(tb, test_build);
	suite_add_tcase(s, tb);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(status_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
