/* Unit tests: topics of §4 and subscription filter classes.
 * SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "fwguard/topic.h"

static enum fwg_topic_kind parse(const char *prefix, const char *topic, struct fwg_topic *t)
{
	return fwg_topic_parse(prefix, strlen(prefix), topic, t);
}

static enum fwg_topic_kind kind(const char *topic)
{
	struct fwg_topic t;
	return parse("fw", topic, &t);
}

static bool span_is(const char *p, size_t n, const char *want)
{
	return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

START_TEST(test_id_valid)
{
	ck_assert(fwg_id_valid("acme", 4));
	ck_assert(fwg_id_valid("A-z_0.9", 7));
	ck_assert(fwg_id_valid("...", 3));
	ck_assert(fwg_id_valid(".a", 2));
	ck_assert(!fwg_id_valid(".", 1));
	ck_assert(!fwg_id_valid("..", 2));
	ck_assert(!fwg_id_valid("", 0));
	ck_assert(!fwg_id_valid("a b", 3));
	ck_assert(!fwg_id_valid("a+", 2));
	ck_assert(!fwg_id_valid("a#", 2));
	ck_assert(!fwg_id_valid("a/b", 3));
	ck_assert(!fwg_id_valid("caf\xc3\xa9", 5));
	char id[66];
	memset(id, 'x', sizeof(id));
	ck_assert(fwg_id_valid(id, 64));
	ck_assert(!fwg_id_valid(id, 65));
}
END_TEST

/* the hot-path pre-check never sends a topic of the namespace the short way */
START_TEST(test_maybe_inside)
{
	static const char *topics[] = { "fw/acme/thermo-x1/manifest", "fw/acme/thermo-x1/chunk/1/0", "fw",
		"fwx/a", "f", "bench/q0", "", "$SYS/broker/uptime", "Fw/acme/thermo-x1/manifest" };
	for(size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++){
		enum fwg_topic_kind k = fwg_topic_parse("fw", 2, topics[i], NULL);
		if(!fwg_topic_maybe_inside("fw", topics[i])) ck_assert_int_eq(k, FWG_T_OUTSIDE);
	}
	ck_assert(!fwg_topic_maybe_inside("fw", "bench/q0"));
	ck_assert(fwg_topic_maybe_inside("fw", "fw/acme/thermo-x1/manifest"));
	ck_assert(fwg_topic_maybe_inside("fw/v1", "fw/v1/acme/thermo-x1/manifest"));
}
END_TEST

START_TEST(test_manifest)
{
	struct fwg_topic t;
	const char *topic = "fw/acme/thermo-x1/manifest";
	ck_assert_int_eq(parse("fw", topic, &t), FWG_T_MANIFEST);
	ck_assert_int_eq(t.kind, FWG_T_MANIFEST);
	ck_assert(span_is(t.vendor, t.vendor_len, "acme"));
	ck_assert(span_is(t.model, t.model_len, "thermo-x1"));
	/* zero-copy: pointers into the topic */
	ck_assert_ptr_eq(t.vendor, topic + 3);
	ck_assert_ptr_eq(t.model, topic + 8);
	ck_assert_ptr_null(t.device);
}
END_TEST

START_TEST(test_chunk)
{
	struct fwg_topic t;
	ck_assert_int_eq(parse("fw", "fw/acme/x1/chunk/7/0", &t), FWG_T_CHUNK);
	ck_assert(span_is(t.vendor, t.vendor_len, "acme"));
	ck_assert(span_is(t.model, t.model_len, "x1"));
	ck_assert_uint_eq(t.sequence, 7);
	ck_assert_uint_eq(t.index, 0);
	ck_assert_int_eq(parse("fw", "fw/acme/x1/chunk/1/1023", &t), FWG_T_CHUNK);
	ck_assert_uint_eq(t.sequence, 1);
	ck_assert_uint_eq(t.index, 1023);
	/* limits: sequence 2^53-1, index 2^32-1 */
	ck_assert_int_eq(parse("fw", "fw/acme/x1/chunk/9007199254740991/4294967295", &t), FWG_T_CHUNK);
	ck_assert_uint_eq(t.sequence, 9007199254740991ULL);
	ck_assert_uint_eq(t.index, 4294967295ULL);
}
END_TEST

START_TEST(test_chunk_invalid)
{
	const char *bad[] = {
		"fw/acme/x1/chunk/0/0",                     /* sequence 0 */
		"fw/acme/x1/chunk/07/0",                    /* leading zero */
		"fw/acme/x1/chunk/7/00",
		"fw/acme/x1/chunk/7/01",
		"fw/acme/x1/chunk/+7/0",                    /* sign */
		"fw/acme/x1/chunk/-7/0",
		"fw/acme/x1/chunk/7/-1",
		"fw/acme/x1/chunk/7.0/0",
		"fw/acme/x1/chunk/1e3/0",
		"fw/acme/x1/chunk/0x10/0",
		"fw/acme/x1/chunk/9007199254740992/0",      /* 2^53 */
		"fw/acme/x1/chunk/18446744073709551616/0",  /* 2^64 */
		"fw/acme/x1/chunk/99999999999999999999999/0",
		"fw/acme/x1/chunk/7/4294967296",            /* 2^32 */
		"fw/acme/x1/chunk/7",                       /* missing index */
		"fw/acme/x1/chunk",
		"fw/acme/x1/chunk/",
		"fw/acme/x1/chunk/7/",
		"fw/acme/x1/chunk//0",
		"fw/acme/x1/chunk/7/0/",
		"fw/acme/x1/chunk/7/0/1",
		"fw/acme/x1/chunk/7/#",
		"fw/acme/x1/chunk/+/0",
		"fw/acme/x1/chunk/ 7/0",
		"fw/acme/x1/Chunk/7/0",
		"fw/acme/x1/chunks/7/0",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fwg_topic t;
		ck_assert_msg(parse("fw", bad[i], &t) == FWG_T_INVALID, "%s", bad[i]);
		ck_assert_int_eq(t.kind, FWG_T_INVALID);
	}
}
END_TEST

START_TEST(test_status_events_fleet)
{
	struct fwg_topic t;
	ck_assert_int_eq(parse("fw", "fw/acme/x1/status/dev-001", &t), FWG_T_STATUS);
	ck_assert(span_is(t.vendor, t.vendor_len, "acme"));
	ck_assert(span_is(t.model, t.model_len, "x1"));
	ck_assert(span_is(t.device, t.device_len, "dev-001"));
	ck_assert_int_eq(parse("fw", "fw/acme/x1/events", &t), FWG_T_EVENTS);
	ck_assert(span_is(t.model, t.model_len, "x1"));
	ck_assert_ptr_null(t.device);
	ck_assert_int_eq(parse("fw", "fw/acme/x1/fleet", &t), FWG_T_FLEET);
	ck_assert(span_is(t.vendor, t.vendor_len, "acme"));
}
END_TEST

START_TEST(test_invalid_forms)
{
	char long_id[100];
	memset(long_id, 0, sizeof(long_id));
	strcpy(long_id, "fw/");
	memset(long_id + 3, 'v', 65);
	strcat(long_id, "/x1/manifest");
	char ok_id[100];
	memset(ok_id, 0, sizeof(ok_id));
	strcpy(ok_id, "fw/");
	memset(ok_id + 3, 'v', 64);
	strcat(ok_id, "/x1/manifest");
	ck_assert_int_eq(kind(ok_id), FWG_T_MANIFEST);
	ck_assert_int_eq(kind(long_id), FWG_T_INVALID);

	const char *bad[] = {
		"fw",                              /* the bare prefix */
		"fw/",
		"fw//x1/manifest",                 /* empty levels */
		"fw/acme//manifest",
		"fw/acme/x1/",
		"fw/acme/x1/manifest/",            /* trailing '/' */
		"fw/acme/x1/manifest/extra",       /* extra level */
		"fw/acme/x1/events/x",
		"fw/acme/x1/fleet/x",
		"fw/acme/x1",
		"fw/acme",
		"fw/acme/x1/unknown",
		"fw/acme/x1/Manifest",
		"fw/./x1/manifest",                /* . and .. */
		"fw/../x1/manifest",
		"fw/acme/./manifest",
		"fw/acme/../manifest",
		"fw/acme/x1/status/.",
		"fw/acme/x1/status/..",
		"fw/acme/x1/status",               /* no device */
		"fw/acme/x1/status/",
		"fw/acme/x1/status/dev/more",
		"fw/acme/x1/status/a b",
		"fw/+/x1/manifest",                /* wildcards in names */
		"fw/#",
		"fw/acme/+/manifest",
		"fw/acme/x1/+",
		"fw/acme/x1/#",
		"fw/ac+me/x1/manifest",
		"fw/acme/x#/manifest",
		"fw/acme/x1/status/d+",
		"fw/acme/x1/status/#",
		"fw/ac me/x1/manifest",
		"fw/acm\xc3\xa9/x1/manifest",      /* non-ASCII */
		"fw/$acme/x1/manifest",
		"fw/acme/x1/manifest\t",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fwg_topic t;
		ck_assert_msg(parse("fw", bad[i], &t) == FWG_T_INVALID, "%s", bad[i]);
		ck_assert_ptr_null(t.vendor);
	}
}
END_TEST

START_TEST(test_outside)
{
	const char *out[] = {
		"fwx/acme/x1/manifest",     /* prefix as a substring */
		"fwx",
		"f",
		"",
		"/fw/acme/x1/manifest",
		"FW/acme/x1/manifest",
		"other/acme/x1/manifest",
		"$SYS/broker/uptime",
		"f/acme/x1/manifest",
	};
	for(size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		struct fwg_topic t;
		ck_assert_msg(parse("fw", out[i], &t) == FWG_T_OUTSIDE, "%s", out[i]);
		ck_assert_int_eq(t.kind, FWG_T_OUTSIDE);
	}
	ck_assert_int_eq(fwg_topic_parse("fw", 2, NULL, NULL), FWG_T_OUTSIDE);
	/* t may be NULL */
	ck_assert_int_eq(fwg_topic_parse("fw", 2, "fw/a/b/manifest", NULL), FWG_T_MANIFEST);
}
END_TEST

START_TEST(test_prefix_two_levels)
{
	struct fwg_topic t;
	const char *p = "org/fw";
	ck_assert_int_eq(parse(p, "org/fw/acme/x1/manifest", &t), FWG_T_MANIFEST);
	ck_assert(span_is(t.vendor, t.vendor_len, "acme"));
	ck_assert(span_is(t.model, t.model_len, "x1"));
	ck_assert_int_eq(parse(p, "org/fw/acme/x1/chunk/3/2", &t), FWG_T_CHUNK);
	ck_assert_uint_eq(t.sequence, 3);
	ck_assert_uint_eq(t.index, 2);
	ck_assert_int_eq(parse(p, "org/fw/acme/x1/status/d1", &t), FWG_T_STATUS);
	ck_assert_int_eq(parse(p, "org/fw", &t), FWG_T_INVALID);
	ck_assert_int_eq(parse(p, "org/fw/", &t), FWG_T_INVALID);
	ck_assert_int_eq(parse(p, "org/fw/acme", &t), FWG_T_INVALID);
	ck_assert_int_eq(parse(p, "org/fwx/acme/x1/manifest", &t), FWG_T_OUTSIDE);
	ck_assert_int_eq(parse(p, "org", &t), FWG_T_OUTSIDE);
	ck_assert_int_eq(parse(p, "org/", &t), FWG_T_OUTSIDE);
	ck_assert_int_eq(parse(p, "org/other/acme/x1/manifest", &t), FWG_T_OUTSIDE);
	/* the default prefix's topics are outside this one */
	ck_assert_int_eq(parse(p, "fw/acme/x1/manifest", &t), FWG_T_OUTSIDE);
	/* prefix_len is honoured (prefix need not be NUL-terminated) */
	ck_assert_int_eq(fwg_topic_parse("fwXYZ", 2, "fw/a/b/events", &t), FWG_T_EVENTS);
}
END_TEST

START_TEST(test_long_topic)
{
	/* a long topic is O(length) and invalid, without overflow of anything */
	size_t n = 100000;
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, "fw/", 3);
	for(size_t i = 3; i < n; i++) s[i] = (i % 2) ? 'a' : '/';
	s[n] = '\0';
	ck_assert_int_eq(kind(s), FWG_T_INVALID);
	memset(s + 3, '9', n - 3);
	ck_assert_int_eq(kind(s), FWG_T_INVALID);
	free(s);
}
END_TEST

/* ---- filters ---- */

static enum fwg_filter_scope classify(const char *prefix, const char *filter, struct fwg_filter *f)
{
	return fwg_filter_classify(prefix, strlen(prefix), filter, f);
}

START_TEST(test_filter_outside)
{
	const char *out[] = {
		"other/#", "fwx/#", "fwx", "f/#", "$SYS/#", "a/b/c", "/fw/#", "FW/#", "",
	};
	for(size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		struct fwg_filter f;
		ck_assert_msg(classify("fw", out[i], &f) == FWG_F_OUTSIDE, "%s", out[i]);
		ck_assert_int_eq(f.scope, FWG_F_OUTSIDE);
	}
	struct fwg_filter f;
	ck_assert_int_eq(classify("org/fw", "org", &f), FWG_F_OUTSIDE);
	ck_assert_int_eq(classify("org/fw", "org/x/#", &f), FWG_F_OUTSIDE);
	ck_assert_int_eq(classify("org/fw", "orgx/fw/#", &f), FWG_F_OUTSIDE);
	ck_assert_int_eq(classify("org/fw", "fw/#", &f), FWG_F_OUTSIDE);
	/* a '$' prefix is not matched by a first-level wildcard (MQTT 4.7.2) */
	ck_assert_int_eq(classify("$fw", "#", &f), FWG_F_OUTSIDE);
	ck_assert_int_eq(classify("$fw", "+/acme/#", &f), FWG_F_OUTSIDE);
	ck_assert_int_eq(fwg_filter_classify("fw", 2, NULL, NULL), FWG_F_OUTSIDE);
}
END_TEST

START_TEST(test_filter_mixed)
{
	const char *mixed[] = {
		"#", "+", "+/#", "+/acme/#", "+/+/+/manifest", "+/acme/x1/manifest",
		"f+/#",
	};
	for(size_t i = 0; i < sizeof(mixed) / sizeof(mixed[0]); i++) {
		struct fwg_filter f;
		ck_assert_msg(classify("fw", mixed[i], &f) == FWG_F_MIXED, "%s", mixed[i]);
		ck_assert_int_eq(f.scope, FWG_F_MIXED);
	}
	struct fwg_filter f;
	ck_assert_int_eq(classify("org/fw", "org/#", &f), FWG_F_MIXED);
	ck_assert_int_eq(classify("org/fw", "org/+/acme/x1/manifest", &f), FWG_F_MIXED);
	ck_assert_int_eq(classify("org/fw", "+/fw/#", &f), FWG_F_MIXED);
	ck_assert_int_eq(classify("org/fw", "#", &f), FWG_F_MIXED);
	ck_assert_int_eq(classify("$fw", "$fw/#", &f), FWG_F_INSIDE);
}
END_TEST

START_TEST(test_filter_inside)
{
	struct fwg_filter f;
	ck_assert_int_eq(classify("fw", "fw/acme/x1/manifest", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.vendor, f.vendor_len, "acme"));
	ck_assert(!f.vendor_wild);
	ck_assert(span_is(f.model, f.model_len, "x1"));
	ck_assert(!f.model_wild);
	ck_assert(span_is(f.rest, f.rest_len, "manifest"));
	ck_assert(!f.rest_wild);

	ck_assert_int_eq(classify("fw", "fw/acme/x1/chunk/7/#", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.rest, f.rest_len, "chunk/7/#"));
	ck_assert(f.rest_wild);

	ck_assert_int_eq(classify("fw", "fw/acme/x1/status/+", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.rest, f.rest_len, "status/+"));
	ck_assert(f.rest_wild);

	ck_assert_int_eq(classify("fw", "fw/acme/x1/status/dev1", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.rest, f.rest_len, "status/dev1"));
	ck_assert(!f.rest_wild);

	/* '#' at the vendor level */
	ck_assert_int_eq(classify("fw", "fw/#", &f), FWG_F_INSIDE);
	ck_assert(f.vendor_wild && f.model_wild && f.rest_wild);
	ck_assert_uint_eq(f.vendor_len, 0);
	ck_assert_uint_eq(f.model_len, 0);
	ck_assert(span_is(f.rest, f.rest_len, "#"));

	/* '+' at the vendor level */
	ck_assert_int_eq(classify("fw", "fw/+/x1/manifest", &f), FWG_F_INSIDE);
	ck_assert(f.vendor_wild);
	ck_assert_uint_eq(f.vendor_len, 0);
	ck_assert(span_is(f.model, f.model_len, "x1"));
	ck_assert(!f.model_wild);
	ck_assert(span_is(f.rest, f.rest_len, "manifest"));

	/* '#' at the model level */
	ck_assert_int_eq(classify("fw", "fw/acme/#", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.vendor, f.vendor_len, "acme"));
	ck_assert(!f.vendor_wild);
	ck_assert(f.model_wild);
	ck_assert_uint_eq(f.model_len, 0);
	ck_assert(span_is(f.rest, f.rest_len, "#"));
	ck_assert(f.rest_wild);

	/* '+' at the model level */
	ck_assert_int_eq(classify("fw", "fw/acme/+/events", &f), FWG_F_INSIDE);
	ck_assert(f.model_wild);
	ck_assert(span_is(f.rest, f.rest_len, "events"));

	/* rest absent */
	ck_assert_int_eq(classify("fw", "fw/acme/x1", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.model, f.model_len, "x1"));
	ck_assert_uint_eq(f.rest_len, 0);
	ck_assert(!f.rest_wild);
	ck_assert_int_eq(classify("fw", "fw/acme", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.vendor, f.vendor_len, "acme"));
	ck_assert_uint_eq(f.model_len, 0);
	ck_assert(!f.model_wild);

	/* the bare prefix: inside, no vendor (a consumer denies it) */
	ck_assert_int_eq(classify("fw", "fw", &f), FWG_F_INSIDE);
	ck_assert_uint_eq(f.vendor_len, 0);
	ck_assert(!f.vendor_wild);

	/* two-level prefix */
	ck_assert_int_eq(classify("org/fw", "org/fw/acme/x1/manifest", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.vendor, f.vendor_len, "acme"));
	ck_assert(span_is(f.model, f.model_len, "x1"));
	ck_assert(span_is(f.rest, f.rest_len, "manifest"));
	ck_assert_int_eq(classify("org/fw", "org/fw/#", &f), FWG_F_INSIDE);
	ck_assert(f.vendor_wild && f.model_wild);
}
END_TEST

START_TEST(test_filter_shared)
{
	struct fwg_filter f;
	/* a shared subscription is classified by its filter */
	ck_assert_int_eq(classify("fw", "$share/g1/fw/acme/x1/manifest", &f), FWG_F_INSIDE);
	ck_assert(span_is(f.vendor, f.vendor_len, "acme"));
	ck_assert(span_is(f.rest, f.rest_len, "manifest"));
	ck_assert_int_eq(classify("fw", "$share/g1/#", &f), FWG_F_MIXED);
	ck_assert_int_eq(classify("fw", "$share/g1/other/#", &f), FWG_F_OUTSIDE);
	ck_assert_int_eq(classify("fw", "$share/g1", &f), FWG_F_OUTSIDE);
}
END_TEST

static Suite *topic_suite(void)
{
	Suite *s = suite_create("topic");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_id_valid);
	tcase_add_test(tc, test_manifest);
	tcase_add_test(tc, test_chunk);
	tcase_add_test(tc, test_chunk_invalid);
	tcase_add_test(tc, test_status_events_fleet);
	tcase_add_test(tc, test_invalid_forms);
	tcase_add_test(tc, test_outside);
	tcase_add_test(tc, test_prefix_two_levels);
	tcase_add_test(tc, test_long_topic);
	suite_add_tcase(s, tc);
	TCase *tf = tcase_create("filters");
	tcase_add_test(tf, test_filter_outside);
	tcase_add_test(tf, test_filter_mixed);
	tcase_add_test(tf, test_filter_inside);
	tcase_add_test(tf, test_filter_shared);
	tcase_add_test(tf, test_maybe_inside);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(topic_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
