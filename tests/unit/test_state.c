/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fwguard/state.h"
#include "fwguard/map.h"

static char dir[256], path[300];
static uint8_t *raw;
static size_t raw_len;

static void setup(void)
{
	char vp[512];
	snprintf(dir, sizeof(dir), "/tmp/fwg-test-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fwguard.state", dir);
	snprintf(vp, sizeof(vp), "%s/manifest.json", FWG_VECTORS_DIR);
	FILE *f = fopen(vp, "rb");
	ck_assert_ptr_nonnull(f);
	raw = malloc(100000);
	raw_len = fread(raw, 1, 100000, f);
	fclose(f);
	while(raw_len && (raw[raw_len - 1] == '\n' || raw[raw_len - 1] == '\r')) raw_len--;
}

static void teardown(void)
{
	char tmp[320];
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
	free(raw);
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void make_next(struct fwg_model_state *next)
{
	memset(next, 0, sizeof(*next));
	strcpy(next->vendor, "acme");
	strcpy(next->model, "thermo-x1");
	next->raw = malloc(raw_len);
	memcpy(next->raw, raw, raw_len);
	next->raw_len = raw_len;
	ck_assert_int_eq(fwg_manifest_parse(raw, raw_len, "acme", "thermo-x1", &next->m), FWG_R_OK);
	next->sequence = next->m.sequence;
}

START_TEST(missing_is_empty)
{
	struct fwg_state *s = NULL;
	char err[256];
	ck_assert_int_eq(fwg_state_load(path, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(fwg_map_count(s->models), 0);
	ck_assert_ptr_null(fwg_state_get(s, "acme", 4, "thermo-x1", 9));
	fwg_state_free(s);
}
END_TEST

START_TEST(save_commit_reload)
{
	struct fwg_state *s = NULL, *s2 = NULL;
	struct fwg_model_state next;
	char err[256];
	ck_assert_int_eq(fwg_state_load(path, &s, err, sizeof(err)), 0);
	make_next(&next);
	next.seen[0] = 0x5; /* chunks 0 and 2 */
	ck_assert_int_eq(fwg_state_save(s, &next), 0);
	/* Saved before the commit: memory still has nothing. */
	ck_assert_ptr_null(fwg_state_get(s, "acme", 4, "thermo-x1", 9));
	ck_assert_int_eq(fwg_state_commit(s, &next), 0);
	struct fwg_model_state *ms = fwg_state_get(s, "acme", 4, "thermo-x1", 9);
	ck_assert_ptr_nonnull(ms);
	ck_assert_uint_eq(ms->sequence, 7);
	ck_assert_msg(fwg_state_load(path, &s2, err, sizeof(err)) == 0, "%s", err);
	ms = fwg_state_get(s2, "acme", 4, "thermo-x1", 9);
	ck_assert_ptr_nonnull(ms);
	ck_assert_uint_eq(ms->sequence, 7);
	ck_assert_uint_eq(ms->raw_len, raw_len);
	ck_assert(!memcmp(ms->raw, raw, raw_len));
	ck_assert_uint_eq(ms->seen_count, 2);
	ck_assert_uint_eq(ms->m.nchunks, 3);
	ck_assert(!ms->complete);
	char tmp[320];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	fwg_state_free(s);
	fwg_state_free(s2);
}
END_TEST

static void expect_corrupt(const char *text)
{
	struct fwg_state *s = NULL;
	char err[512] = "";
	write_file(text);
	ck_assert_msg(fwg_state_load(path, &s, err, sizeof(err)) != 0, "accepted: %s", text);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "corrupt") != NULL, "%s", err);
}

START_TEST(corrupt_files_refused)
{
	char buf[200000], esc[100000];
	size_t k = 0;
	for(size_t i = 0; i < raw_len; i++){
		if(raw[i] == '"' || raw[i] == '\\') esc[k++] = '\\';
		esc[k++] = (char)raw[i];
	}
	esc[k] = '\0';
	expect_corrupt("");
	expect_corrupt("{\"format\":1,\"models\":[");
	expect_corrupt("{\"format\":2,\"models\":[]}");
	expect_corrupt("{\"format\":1,\"models\":[],\"x\":1}");
	expect_corrupt("{\"format\":1,\"models\":[1]}");
	expect_corrupt("{\"format\":1,\"models\":[{\"vendor\":\"acme\"}]}");
	/* sequence disagrees with the stored manifest */
	snprintf(buf, sizeof(buf), "{\"format\":1,\"models\":[{\"vendor\":\"acme\",\"model\":\"thermo-x1\",\"sequence\":6,"
			"\"manifest\":\"%s\",\"seen\":\"%0256d\",\"complete\":false}]}", esc, 0);
	expect_corrupt(buf);
	/* manifest edited (no longer parses as the model's) */
	snprintf(buf, sizeof(buf), "{\"format\":1,\"models\":[{\"vendor\":\"acme\",\"model\":\"thermo-x2\",\"sequence\":7,"
			"\"manifest\":\"%s\",\"seen\":\"%0256d\",\"complete\":false}]}", esc, 0);
	expect_corrupt(buf);
	/* a chunk beyond the image marked seen */
	snprintf(buf, sizeof(buf), "{\"format\":1,\"models\":[{\"vendor\":\"acme\",\"model\":\"thermo-x1\",\"sequence\":7,"
			"\"manifest\":\"%s\",\"seen\":\"10%0254d\",\"complete\":false}]}", esc, 0);
	expect_corrupt(buf);
	/* a torn file: the valid text cut short */
	snprintf(buf, sizeof(buf), "{\"format\":1,\"models\":[{\"vendor\":\"acme\",\"model\":\"thermo-x1\",\"sequence\":7,"
			"\"manifest\":\"%s\",\"seen\":\"%0256d\",\"complete\":false}]}", esc, 0);
	struct fwg_state *s = NULL;
	char err[256];
	write_file(buf);
	ck_assert_msg(fwg_state_load(path, &s, err, sizeof(err)) == 0, "%s", err);
	fwg_state_free(s);
	buf[strlen(buf) / 2] = '\0';
	expect_corrupt(buf);
}
END_TEST

/* cJSON prints 1e15 as "1e+15"; the state must keep plain integers. */
START_TEST(large_sequence_round_trip)
{
	struct fwg_state *s = NULL, *s2 = NULL;
	struct fwg_model_state next;
	char err[256];
	const char *from = "\"sequence\":7,";
	const char *to = "\"sequence\":1000000000000000,";
	uint8_t *p = (uint8_t *)strstr((char *)raw, from);
	ck_assert_ptr_nonnull(p);
	uint8_t *edited = malloc(raw_len + 32);
	size_t pre = (size_t)(p - raw);
	memcpy(edited, raw, pre);
	memcpy(edited + pre, to, strlen(to));
	memcpy(edited + pre + strlen(to), p + strlen(from), raw_len - pre - strlen(from));
	size_t elen = raw_len - strlen(from) + strlen(to);
	ck_assert_int_eq(fwg_state_load(path, &s, err, sizeof(err)), 0);
	memset(&next, 0, sizeof(next));
	strcpy(next.vendor, "acme");
	strcpy(next.model, "thermo-x1");
	next.raw = edited;
	next.raw_len = elen;
	ck_assert_int_eq(fwg_manifest_parse(edited, elen, "acme", "thermo-x1", &next.m), FWG_R_OK);
	next.sequence = next.m.sequence;
	ck_assert_int_eq(fwg_state_save(s, &next), 0);
	ck_assert_int_eq(fwg_state_commit(s, &next), 0);
	ck_assert_msg(fwg_state_load(path, &s2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(fwg_state_get(s2, "acme", 4, "thermo-x1", 9)->sequence, 1000000000000000ULL);
	fwg_state_free(s);
	fwg_state_free(s2);
}
END_TEST

START_TEST(controls_and_revocations_persist)
{
	struct fwg_state *s = NULL, *s2 = NULL;
	char err[256];
	ck_assert_int_eq(fwg_state_load(path, &s, err, sizeof(err)), 0);
	ck_assert_ptr_null(fwg_state_control(s, "acme", 4, "thermo-x1", 9));
	struct fwg_model_control *c = fwg_state_control_add(s, "acme", "thermo-x1");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->percent, 100);
	c->percent = 10;
	c->paused = true;
	c->floor = 1000000000000000ULL;
	ck_assert_int_eq(fwg_state_revoke(s, "acme", "0123456789abcdef"), 0);
	ck_assert_int_eq(fwg_state_revoke(s, "acme", "fedcba9876543210"), 0);
	fwg_state_unrevoke(s, "acme", "fedcba9876543210");
	ck_assert(fwg_state_key_revoked(s, "acme", "0123456789abcdef"));
	ck_assert(!fwg_state_key_revoked(s, "acme", "fedcba9876543210"));
	ck_assert(!fwg_state_key_revoked(s, "other", "0123456789abcdef"));
	ck_assert_int_eq(fwg_state_save(s, NULL), 0);
	ck_assert_msg(fwg_state_load(path, &s2, err, sizeof(err)) == 0, "%s", err);
	c = fwg_state_control(s2, "acme", 4, "thermo-x1", 9);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->percent, 10);
	ck_assert(c->paused);
	ck_assert_uint_eq(c->floor, 1000000000000000ULL);
	ck_assert(fwg_state_key_revoked(s2, "acme", "0123456789abcdef"));
	ck_assert(!fwg_state_key_revoked(s2, "acme", "fedcba9876543210"));
	fwg_state_free(s);
	fwg_state_free(s2);
	expect_corrupt("{\"format\":1,\"models\":[],\"controls\":[{\"vendor\":\"acme\",\"model\":\"m\",\"percent\":101,\"paused\":false,\"floor\":0}]}");
	expect_corrupt("{\"format\":1,\"models\":[],\"revoked\":[{\"vendor\":\"acme\",\"key_id\":\"XYZ\"}]}");
	expect_corrupt("{\"format\":1,\"models\":[],\"controls\":{}}");
}
END_TEST

START_TEST(save_fails_in_missing_dir)
{
	struct fwg_state *s = NULL;
	struct fwg_model_state next;
	char err[256];
	ck_assert_int_eq(fwg_state_load("/nonexistent-dir/fwguard.state", &s, err, sizeof(err)), 0);
	make_next(&next);
	errno = 0;
	ck_assert_int_ne(fwg_state_save(s, &next), 0);
	ck_assert_int_eq(errno, ENOENT);
	free(next.raw);
	fwg_manifest_free(&next.m);
	fwg_state_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, missing_is_empty);
	tcase_add_test(tc, save_commit_reload);
	tcase_add_test(tc, corrupt_files_refused);
	tcase_add_test(tc, save_fails_in_missing_dir);
	tcase_add_test(tc, large_sequence_round_trip);
	tcase_add_test(tc, controls_and_revocations_persist);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
