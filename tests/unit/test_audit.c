/* Unit tests: hash-chained audit log (§8). SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/sha.h>
#include "fwguard/audit.h"

static char dir[256];
static char path[300];

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/fwg-audit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static char *slurp(size_t *len)
{
	FILE *fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
	fclose(fp);
}

static void sha_hex(const char *s, size_t n, char out[65])
{
	unsigned char md[32];
	SHA256((const unsigned char *)s, n, md);
	for(int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct fwg_audit *open_ok(bool *repaired, size_t *cut)
{
	struct fwg_audit *a = NULL;
	char err[256] = "";
	int rc = fwg_audit_open(path, &a, repaired, cut, err, sizeof(err));
	ck_assert_msg(rc == 0, "open: %s", err);
	ck_assert_ptr_nonnull(a);
	return a;
}

static void append_event(struct fwg_audit *a, const char *event, char **line, size_t *len)
{
	cJSON *r = fwg_audit_record(event, "acme", "x1", "client-1", NULL);
	ck_assert_ptr_nonnull(r);
	cJSON_AddNumberToObject(r, "sequence", 7);
	ck_assert_int_eq(fwg_audit_append(a, r, line, len), 0);
}

/* Writes 3 records; returns the file. */
static void write_three(void)
{
	bool rep = true;
	size_t cut = 99;
	struct fwg_audit *a = open_ok(&rep, &cut);
	ck_assert(!rep);
	ck_assert_uint_eq(cut, 0);
	append_event(a, "manifest.accepted", NULL, NULL);
	append_event(a, "chunk.rejected", NULL, NULL);
	append_event(a, "image.complete", NULL, NULL);
	fwg_audit_close(a);
}

struct events { int n; char names[8][32]; };
static void collect(const char *ev, void *ud)
{
	struct events *e = ud;
	if(e->n < 8) snprintf(e->names[e->n], sizeof(e->names[0]), "%s", ev);
	e->n++;
}

START_TEST(test_timestamp)
{
	char ts[32];
	fwg_audit_timestamp(ts);
	/* 2026-11-26T18:53:09.123Z */
	ck_assert_uint_eq(strlen(ts), 24);
	ck_assert(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':');
	ck_assert(ts[19] == '.' && ts[23] == 'Z');
	for(int i = 20; i < 23; i++) ck_assert(ts[i] >= '0' && ts[i] <= '9');
}
END_TEST

START_TEST(test_record_members)
{
	cJSON *r = fwg_audit_record("publish.denied", "acme", NULL, "c1", "tag_mismatch");
	ck_assert_ptr_nonnull(r);
	const cJSON *c = r->child;
	ck_assert_str_eq(c->string, "ts");
	c = c->next;
	ck_assert_str_eq(c->string, "event");
	ck_assert_str_eq(c->valuestring, "publish.denied");
	ck_assert_str_eq(c->next->string, "vendor");
	ck_assert_str_eq(c->next->next->string, "client");
	ck_assert_str_eq(c->next->next->next->string, "reason");
	ck_assert_ptr_null(c->next->next->next->next);
	cJSON_Delete(r);
	ck_assert_ptr_null(fwg_audit_record(NULL, NULL, NULL, NULL, NULL));
}
END_TEST

START_TEST(test_first_record_and_chain)
{
	struct fwg_audit *a = open_ok(NULL, NULL);
	char *l1 = NULL, *l2 = NULL;
	size_t n1 = 0, n2 = 0;
	append_event(a, "manifest.accepted", &l1, &n1);
	append_event(a, "image.complete", &l2, &n2);
	fwg_audit_close(a);
	ck_assert_uint_eq(strlen(l1), n1);
	/* compact, "prev" last, 64 zeros for the first record */
	const char *zeros = ",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}";
	ck_assert_uint_ge(n1, strlen(zeros));
	ck_assert_str_eq(l1 + n1 - strlen(zeros), zeros);
	ck_assert_ptr_null(strchr(l1, ' '));
	ck_assert_ptr_null(strchr(l1, '\n'));
	ck_assert_int_eq(strncmp(l1, "{\"ts\":\"", 7), 0);
	char h[65], want[80];
	sha_hex(l1, n1, h);
	snprintf(want, sizeof(want), ",\"prev\":\"%s\"}", h);
	ck_assert_str_eq(l2 + n2 - strlen(want), want);
	/* the file is exactly the two lines, each with its LF */
	size_t len;
	char *buf = slurp(&len);
	ck_assert_uint_eq(len, n1 + 1 + n2 + 1);
	ck_assert_int_eq(memcmp(buf, l1, n1), 0);
	ck_assert_int_eq(buf[n1], '\n');
	ck_assert_int_eq(memcmp(buf + n1 + 1, l2, n2), 0);
	ck_assert_int_eq(buf[len - 1], '\n');
	free(buf);
	free(l1);
	free(l2);
	/* mode 0640 (under the usual umask 022 / 027) */
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0137, 0);
}
END_TEST

START_TEST(test_prev_replaced)
{
	/* a caller-supplied "prev" is replaced by the real one, still last */
	struct fwg_audit *a = open_ok(NULL, NULL);
	cJSON *r = fwg_audit_record("config.reloaded", NULL, NULL, NULL, NULL);
	cJSON_AddStringToObject(r, "prev", "forged");
	cJSON_AddStringToObject(r, "note", "x");
	char *line = NULL;
	size_t n = 0;
	ck_assert_int_eq(fwg_audit_append(a, r, &line, &n), 0);
	fwg_audit_close(a);
	ck_assert_ptr_null(strstr(line, "forged"));
	ck_assert_ptr_nonnull(strstr(line, "\"note\":\"x\",\"prev\":\"000"));
	free(line);
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 1);
}
END_TEST

START_TEST(test_verify_three)
{
	write_three();
	struct events ev = { 0 };
	size_t recs = 0, bad = 99;
	ck_assert_int_eq(fwg_audit_verify_file(path, collect, &ev, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 3);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(ev.n, 3);
	ck_assert_str_eq(ev.names[0], "manifest.accepted");
	ck_assert_str_eq(ev.names[1], "chunk.rejected");
	ck_assert_str_eq(ev.names[2], "image.complete");
}
END_TEST

START_TEST(test_edit_detected)
{
	write_three();
	size_t len;
	char *buf = slurp(&len);
	/* edit one byte of the first line (its client id): line 2's prev breaks */
	char *p = strstr(buf, "client-1");
	ck_assert_ptr_nonnull(p);
	p[7] = '2';
	spit(buf, len);
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 2);
	ck_assert_uint_eq(recs, 1);
	/* edit the second line instead */
	p[7] = '1';
	char *l2 = strchr(buf, '\n') + 1;
	p = strstr(l2, "chunk.rejected");
	ck_assert_ptr_nonnull(p);
	p[0] = 'C';
	spit(buf, len);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 3);
	ck_assert_uint_eq(recs, 2);
	/* a broken prev on the first line */
	p[0] = 'c';
	p = strstr(buf, "\"prev\":\"0");
	p[8] = '1';
	spit(buf, len);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(recs, 0);
	free(buf);
}
END_TEST

START_TEST(test_delete_middle_detected)
{
	write_three();
	size_t len;
	char *buf = slurp(&len);
	char *l2 = strchr(buf, '\n') + 1;
	char *l3 = strchr(l2, '\n') + 1;
	memmove(l2, l3, (size_t)(buf + len - l3));
	len -= (size_t)(l3 - l2);
	spit(buf, len);
	free(buf);
	struct events ev = { 0 };
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, collect, &ev, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 2);
	ck_assert_uint_eq(recs, 1);
	ck_assert_int_eq(ev.n, 1);
}
END_TEST

START_TEST(test_garbage_lines)
{
	size_t recs, bad;
	spit("not json\n", 9);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 1);
	spit("\n", 1);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 1);
	spit("", 0);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 0);
	ck_assert_uint_eq(bad, 0);
	/* trailing data after the object */
	write_three();
	size_t len;
	char *buf = slurp(&len);
	buf = realloc(buf, len + 8);
	char *l1end = strchr(buf, '\n');
	memmove(l1end + 1, l1end, (size_t)(buf + len - l1end));
	*l1end = ' ';
	spit(buf, len + 1);
	free(buf);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 1);
	/* no file */
	unlink(path);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), -1);
}
END_TEST

START_TEST(test_reopen_continues)
{
	write_three();
	bool rep = true;
	size_t cut = 5;
	struct fwg_audit *a = open_ok(&rep, &cut);
	ck_assert(!rep);
	ck_assert_uint_eq(cut, 0);
	append_event(a, "device.status", NULL, NULL);
	fwg_audit_close(a);
	a = open_ok(NULL, NULL);
	append_event(a, "subscribe.denied", NULL, NULL);
	fwg_audit_close(a);
	struct events ev = { 0 };
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, collect, &ev, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 5);
	ck_assert_str_eq(ev.names[3], "device.status");
	ck_assert_str_eq(ev.names[4], "subscribe.denied");
}
END_TEST

START_TEST(test_torn_line_cut)
{
	write_three();
	size_t len0;
	char *orig = slurp(&len0);
	/* a crash in the middle of the fourth write */
	FILE *fp = fopen(path, "ab");
	ck_assert_ptr_nonnull(fp);
	fputs("{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"manif", fp);
	fclose(fp);
	bool rep = false;
	size_t cut = 0;
	struct fwg_audit *a = open_ok(&rep, &cut);
	ck_assert(rep);
	ck_assert_uint_eq(cut, strlen("{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"manif"));
	size_t len1;
	char *now = slurp(&len1);
	ck_assert_uint_eq(len1, len0);
	ck_assert_int_eq(memcmp(now, orig, len0), 0);
	free(now);
	free(orig);
	cJSON *r = fwg_audit_record("audit.repaired", NULL, NULL, NULL, NULL);
	cJSON_AddNumberToObject(r, "cut_bytes", (double)cut);
	ck_assert_int_eq(fwg_audit_append(a, r, NULL, NULL), 0);
	fwg_audit_close(a);
	struct events ev = { 0 };
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, collect, &ev, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 4);
	ck_assert_str_eq(ev.names[3], "audit.repaired");
}
END_TEST

START_TEST(test_torn_only_line)
{
	/* the only line is torn: the file is cut to 0 and the chain restarts */
	spit("{\"ts\":", 6);
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 1);
	ck_assert_uint_eq(bad, 1);
	bool rep = false;
	size_t cut = 0;
	struct fwg_audit *a = open_ok(&rep, &cut);
	ck_assert(rep);
	ck_assert_uint_eq(cut, 6);
	char *line = NULL;
	append_event(a, "audit.repaired", &line, NULL);
	fwg_audit_close(a);
	ck_assert_ptr_nonnull(strstr(line, "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"));
	free(line);
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 1);
}
END_TEST

START_TEST(test_long_lines)
{
	/* lines longer than the backward-scan block and getline's first buffer */
	struct fwg_audit *a = open_ok(NULL, NULL);
	size_t big = 200000;
	char *pad = malloc(big + 1);
	ck_assert_ptr_nonnull(pad);
	memset(pad, 'p', big);
	pad[big] = '\0';
	for(int i = 0; i < 3; i++) {
		cJSON *r = fwg_audit_record("manifest.rejected", "acme", "x1", "c", "json_invalid");
		cJSON_AddStringToObject(r, "detail", pad);
		ck_assert_int_eq(fwg_audit_append(a, r, NULL, NULL), 0);
	}
	fwg_audit_close(a);
	/* reopen: the last (long) line is hashed to continue the chain */
	a = open_ok(NULL, NULL);
	cJSON *r = fwg_audit_record("manifest.rejected", "acme", "x1", "c", "json_invalid");
	cJSON_AddStringToObject(r, "detail", pad);
	ck_assert_int_eq(fwg_audit_append(a, r, NULL, NULL), 0);
	fwg_audit_close(a);
	free(pad);
	/* and a long torn tail (no LF within the last block) */
	int fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	char *junk = malloc(150000);
	memset(junk, 'j', 150000);
	ck_assert_int_eq(write(fd, junk, 150000), 150000);
	close(fd);
	free(junk);
	bool rep = false;
	size_t cut = 0;
	a = open_ok(&rep, &cut);
	ck_assert(rep);
	ck_assert_uint_eq(cut, 150000);
	append_event(a, "image.complete", NULL, NULL);
	fwg_audit_close(a);
	size_t recs, bad;
	ck_assert_int_eq(fwg_audit_verify_file(path, NULL, NULL, &recs, &bad), 0);
	ck_assert_uint_eq(recs, 5);
}
END_TEST

START_TEST(test_open_errors)
{
	struct fwg_audit *a = (struct fwg_audit *)1;
	char err[256] = "";
	char bad[400];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/audit.log", dir);
	ck_assert_int_eq(fwg_audit_open(bad, &a, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_null(a);
	ck_assert_uint_gt(strlen(err), 0);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_int_eq(fwg_audit_append(NULL, fwg_audit_record("x", NULL, NULL, NULL, NULL), NULL, NULL), -1);
	fwg_audit_close(NULL);
}
END_TEST

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("chain");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_timestamp);
	tcase_add_test(tc, test_record_members);
	tcase_add_test(tc, test_first_record_and_chain);
	tcase_add_test(tc, test_prev_replaced);
	tcase_add_test(tc, test_verify_three);
	tcase_add_test(tc, test_edit_detected);
	tcase_add_test(tc, test_delete_middle_detected);
	tcase_add_test(tc, test_garbage_lines);
	tcase_add_test(tc, test_reopen_continues);
	tcase_add_test(tc, test_torn_line_cut);
	tcase_add_test(tc, test_torn_only_line);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_open_errors);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(audit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
