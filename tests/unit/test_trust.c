/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fwguard/trust.h"
#include "fwguard/keys.h"
#include "fwguard/codec.h"
#include "fwguard/tag.h"

static char ecdh_b64[256], sign_b64[256], broker_b64[256];
static EVP_PKEY *broker_priv;

static void read_line(const char *name, char *out, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", FWG_VECTORS_DIR, name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_ptr_nonnull(fgets(out, (int)cap, f));
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

static void setup(void)
{
	char err[256], path[512];
	read_line("vendor-ecdh.pub.b64", ecdh_b64, sizeof(ecdh_b64));
	read_line("vendor-sign.pub.b64", sign_b64, sizeof(sign_b64));
	read_line("broker-ecdh.pub.b64", broker_b64, sizeof(broker_b64));
	/* a 0600 copy: the loader refuses keys that group or others may read */
	char pem[1024], tmp[] = "/tmp/fwg-test-trust-key-XXXXXX";
	read_line("broker-ecdh.pem", pem, sizeof(pem)); /* checks it exists */
	snprintf(path, sizeof(path), "%s/broker-ecdh.pem", FWG_VECTORS_DIR);
	FILE *in = fopen(path, "r");
	int fd = mkstemp(tmp);
	ck_assert(in != NULL && fd >= 0);
	size_t n = fread(pem, 1, sizeof(pem), in);
	fclose(in);
	ck_assert(write(fd, pem, n) == (ssize_t)n);
	close(fd);
	ck_assert_int_eq(fwg_key_load_private_pem(tmp, &broker_priv, err, sizeof(err)), 0);
	unlink(tmp);
}

static void teardown(void)
{
	EVP_PKEY_free(broker_priv);
	broker_priv = NULL;
}

static char *store(const char *extra_vendor_members, const char *second_vendor)
{
	char *buf = malloc(8192);
	snprintf(buf, 8192,
		"{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"acme-deploy\",\"acme-ci\"],"
		"\"ecdh_public_key\":\"%s\",\"signing_keys\":[{\"public_key\":\"%s\",\"revoked\":false}]%s}%s]}",
		ecdh_b64, sign_b64, extra_vendor_members ? extra_vendor_members : "",
		second_vendor ? second_vendor : "");
	return buf;
}

static int load(const char *json, struct fwg_trust **t, char *err, size_t errlen)
{
	return fwg_trust_parse(json, strlen(json), broker_priv, t, err, errlen);
}

START_TEST(valid_store_and_lookups)
{
	struct fwg_trust *t = NULL;
	char err[256] = "";
	char *j = store(",\"models\":[\"thermo-x1\",\"thermo-x2\"],\"min_sequence\":{\"thermo-x1\":5}", NULL);
	ck_assert_msg(load(j, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(t->n_vendors, 1);
	const struct fwg_vendor *v = fwg_trust_vendor(t, "acme", 4);
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_eq(fwg_trust_vendor_by_username(t, "acme-ci"), v);
	ck_assert_ptr_null(fwg_trust_vendor_by_username(t, "mallory"));
	ck_assert_ptr_null(fwg_trust_vendor(t, "acm", 3));
	ck_assert(fwg_vendor_model_allowed(v, "thermo-x1", 9));
	ck_assert(!fwg_vendor_model_allowed(v, "thermo-x3", 9));
	ck_assert_uint_eq(fwg_vendor_floor(v, "thermo-x1"), 5);
	ck_assert_uint_eq(fwg_vendor_floor(v, "thermo-x2"), 0);
	EVP_PKEY *pub = NULL;
	ck_assert_int_eq(fwg_vendor_key(v, "ee9717f948771465", &pub), FWG_R_OK);
	ck_assert_ptr_nonnull(pub);
	ck_assert_int_eq(fwg_vendor_key(v, "0000000000000000", &pub), FWG_R_KEY_UNKNOWN);
	fwg_trust_free(t);
	free(j);
}
END_TEST

/* The broker side of §2 must give the vector's tag: ECDH(broker, vendor). */
START_TEST(derived_tag_key_matches_vectors)
{
	struct fwg_trust *t = NULL;
	char err[256] = "";
	char *j = store(NULL, NULL);
	ck_assert_msg(load(j, &t, err, sizeof(err)) == 0, "%s", err);
	const struct fwg_vendor *v = fwg_trust_vendor(t, "acme", 4);
	uint8_t sha[32], mac[32];
	char hex[65];
	ck_assert_int_eq(fwg_hex_decode("330e6654a2b5e8a1cd32de9807e5fdccae81c496f0e28c8355805b5889303ea9", 64, sha, 32), 0);
	ck_assert_int_eq(fwg_tag_compute(v->tag, "fw/acme/thermo-x1/manifest", "1764115260", sha, mac), 0);
	fwg_hex_encode(mac, 32, hex);
	ck_assert_str_eq(hex, "1a95e614f9dc2815dd44787568826c367c6af5215692d6a516545f203fb40228");
	fwg_trust_free(t);
	free(j);
}
END_TEST

START_TEST(revoked_key)
{
	struct fwg_trust *t = NULL;
	char err[256] = "", buf[4096];
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"u\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\",\"revoked\":true}]}]}", ecdh_b64, sign_b64);
	ck_assert_msg(load(buf, &t, err, sizeof(err)) == 0, "%s", err);
	EVP_PKEY *pub = NULL;
	ck_assert_int_eq(fwg_vendor_key(fwg_trust_vendor(t, "acme", 4), "ee9717f948771465", &pub), FWG_R_KEY_REVOKED);
	fwg_trust_free(t);
}
END_TEST

START_TEST(no_broker_key_relay)
{
	struct fwg_trust *t = NULL;
	char err[256] = "";
	char *j = store(NULL, NULL);
	ck_assert_int_eq(fwg_trust_parse(j, strlen(j), NULL, &t, err, sizeof(err)), 0);
	ck_assert_ptr_null(fwg_trust_vendor(t, "acme", 4)->tag);
	fwg_trust_free(t);
	free(j);
}
END_TEST

static void expect_fail(const char *json, const char *needle)
{
	struct fwg_trust *t = NULL;
	char err[512] = "";
	ck_assert_msg(load(json, &t, err, sizeof(err)) != 0, "accepted: %s", json);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
}

START_TEST(rejections)
{
	char buf[8192], second[4096];
	char *j;
	expect_fail("", "JSON");
	expect_fail("[]", "object");
	expect_fail("{\"vendors\":[]} x", "object");
	expect_fail("{\"vendors\":[],\"extra\":1}", "unknown member \"extra\"");
	expect_fail("{\"vendors\":{}}", "array");
	j = store(",\"colour\":\"red\"", NULL); expect_fail(j, "unknown member \"colour\""); free(j);
	j = store(",\"models\":[\"a\"],\"models\":[\"b\"]", NULL); expect_fail(j, "duplicate member \"models\""); free(j);
	j = store(",\"models\":[\"..\"]", NULL); expect_fail(j, "\"..\""); free(j);
	j = store(",\"models\":[]", NULL); expect_fail(j, "empty"); free(j);
	j = store(",\"min_sequence\":{\"thermo-x1\":1.5}", NULL); expect_fail(j, "min_sequence"); free(j);
	j = store(",\"min_sequence\":{\"thermo-x1\":-1}", NULL); expect_fail(j, "min_sequence"); free(j);
	snprintf(second, sizeof(second), ",{\"id\":\"acme\",\"usernames\":[\"x\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\"}]}", ecdh_b64, sign_b64);
	j = store(NULL, second); expect_fail(j, "vendor id \"acme\" registered twice"); free(j);
	snprintf(second, sizeof(second), ",{\"id\":\"other\",\"usernames\":[\"acme-ci\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\"}]}", ecdh_b64, sign_b64);
	j = store(NULL, second); expect_fail(j, "username \"acme-ci\" registered for two vendors"); free(j);
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"a/b/c\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\"}]}]}", ecdh_b64, sign_b64);
	expect_fail(buf, "\"a/b/c\"");
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"bad\xff\xfename\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\"}]}]}", ecdh_b64, sign_b64);
	expect_fail(buf, "bad entry in \"usernames\"");
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"u\"],\"ecdh_public_key\":\"AAAA\","
			"\"signing_keys\":[{\"public_key\":\"%s\"}]}]}", sign_b64);
	expect_fail(buf, "ecdh_public_key \"AAAA\"");
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"u\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\"},{\"public_key\":\"%s\"}]}]}", ecdh_b64, sign_b64, sign_b64);
	expect_fail(buf, "listed twice");
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"u\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\",\"revoked\":\"no\"}]}]}", ecdh_b64, sign_b64);
	expect_fail(buf, "revoked");
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"acme\",\"usernames\":[\"u\"],\"ecdh_public_key\":\"%s\"}]}", ecdh_b64);
	expect_fail(buf, "signing_keys");
	snprintf(buf, sizeof(buf), "{\"vendors\":[{\"id\":\"ac me\",\"usernames\":[\"u\"],\"ecdh_public_key\":\"%s\","
			"\"signing_keys\":[{\"public_key\":\"%s\"}]}]}", ecdh_b64, sign_b64);
	expect_fail(buf, "\"ac me\"");
}
END_TEST

START_TEST(load_missing_file)
{
	struct fwg_trust *t = NULL;
	char err[512];
	ck_assert_int_ne(fwg_trust_load("/nonexistent/vendors.json", broker_priv, &t, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/vendors.json"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trust");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_store_and_lookups);
	tcase_add_test(tc, derived_tag_key_matches_vectors);
	tcase_add_test(tc, revoked_key);
	tcase_add_test(tc, no_broker_key_relay);
	tcase_add_test(tc, rejections);
	tcase_add_test(tc, load_missing_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
