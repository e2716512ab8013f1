/* Unit tests: key loading, key ids, ECDH and the HKDF tag key (§1, §2).
 * SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include "vectors.h"
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fwguard/keys.h"
#include "fwguard/codec.h"


/* ---- vector helpers ---- */





/* The vectors come out of git as 0644, which the loader refuses (as ssh
 * does); load a 0600 copy (mkstemp creates files 0600). */
static void private_copy(const char *name, char *out, size_t cap, mode_t mode)
{
	size_t len;
	char *pem = vec_slurp(name, &len);
	const char *dir = getenv("TMPDIR");
	snprintf(out, cap, "%s/fwg-test-key-XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(out);
	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, pem, len) == (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	free(pem);
}

static EVP_PKEY *load_priv(const char *name)
{
	char path[1024], err[256] = "";
	EVP_PKEY *k = NULL;
	private_copy(name, path, sizeof(path), 0600);
	ck_assert_msg(fwg_key_load_private_pem(path, &k, err, sizeof(err)) == 0, "%s: %s", name, err);
	unlink(path);
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	return k;
}

START_TEST(private_key_permissions)
{
	static const mode_t loose[] = { 0644, 0640, 0604, 0660, 0620, 0602, 0610 };
	char path[1024], err[256];
	EVP_PKEY *k = NULL;
	for(size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++){
		private_copy("broker-ecdh.pem", path, sizeof(path), loose[i]);
		err[0] = '\0';
		ck_assert_int_eq(fwg_key_load_private_pem(path, &k, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "too open") != NULL, "%s", err);
		ck_assert_ptr_null(strstr(err, "BEGIN")); /* no key material in the message */
		unlink(path);
	}
	private_copy("broker-ecdh.pem", path, sizeof(path), 0400);
	ck_assert_int_eq(fwg_key_load_private_pem(path, &k, err, sizeof(err)), 0);
	EVP_PKEY_free(k);
	unlink(path);
}
END_TEST

static EVP_PKEY *load_pub(const char *name)
{
	size_t len;
	char *b64 = vec_slurp_line(name, &len);
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(fwg_key_parse_public_b64(b64, len, &k), 0);
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	free(b64);
	return k;
}

static void hex32(const uint8_t b[32], char out[65])
{
	fwg_hex_encode(b, 32, out);
}

/* Write key as PEM into a temporary file; returns its path (static buffer). */
static const char *write_temp_pem(EVP_PKEY *key, bool encrypted, bool public_only)
{
	static char path[256];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/fwg-test-key-XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	int ok;
	if(public_only) ok = PEM_write_PUBKEY(f, key);
	else if(encrypted) ok = PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(),
			(unsigned char *)"secret", 6, NULL, NULL);
	else ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	ck_assert_int_eq(ok, 1);
	fclose(f);
	return path;
}

static void write_temp_text(char *path, size_t cap, const char *text)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, cap, "%s/fwg-test-key-XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void assert_load_fails(const char *path)
{
	char err[128] = "";
	EVP_PKEY *k = (EVP_PKEY *)0x1;
	ck_assert_int_eq(fwg_key_load_private_pem(path, &k, err, sizeof(err)), -1);
	ck_assert_ptr_eq(k, (EVP_PKEY *)0x1); /* untouched */
	ck_assert(err[0] != 0);
	ck_assert(strchr(err, '\n') == NULL);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

/* ---- key ids ---- */

START_TEST(key_id_private)
{
	char want[64], kid[FWG_KEY_ID_LEN + 1];
	vec_expected("vendor_sign_key_id", want, sizeof(want));
	EVP_PKEY *k = load_priv("vendor-sign.pem");
	ck_assert_int_eq(fwg_key_id(k, kid), 0);
	ck_assert_str_eq(kid, want);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(key_id_public)
{
	char want[64], kid[FWG_KEY_ID_LEN + 1];
	vec_expected("vendor_sign_key_id", want, sizeof(want));
	EVP_PKEY *k = load_pub("vendor-sign.pub.b64");
	ck_assert_int_eq(fwg_key_id(k, kid), 0);
	ck_assert_str_eq(kid, want);
	/* and straight from the DER */
	size_t len, dlen;
	char *b64 = vec_slurp_line("vendor-sign.pub.b64", &len);
	uint8_t der[256];
	ck_assert_int_eq(fwg_b64_decode(b64, len, der, sizeof(der), &dlen), 0);
	memset(kid, 'x', sizeof(kid));
	fwg_key_id_der(der, dlen, kid);
	ck_assert_str_eq(kid, want);
	free(b64);
	EVP_PKEY_free(k);
}
END_TEST

static const char *const pub_pairs[][2] = {
	{ "vendor-sign.pem", "vendor-sign.pub.b64" },
	{ "vendor-ecdh.pem", "vendor-ecdh.pub.b64" },
	{ "broker-ecdh.pem", "broker-ecdh.pub.b64" },
};

START_TEST(public_b64_matches_vector)
{
	EVP_PKEY *k = load_priv(pub_pairs[_i][0]);
	size_t len;
	char *want = vec_slurp_line(pub_pairs[_i][1], &len);
	char *got = fwg_key_public_b64(k);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	uint8_t *der = NULL;
	size_t dlen = 0;
	ck_assert_int_eq(fwg_key_public_der(k, &der, &dlen), 0);
	ck_assert_uint_eq(dlen, 91);
	OPENSSL_free(der);
	free(got);
	free(want);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- ECDH and HKDF known answers ---- */

START_TEST(ecdh_vendor_side)
{
	char want[128], hex[65];
	uint8_t z[32];
	vec_expected("ecdh_shared_secret_Z", want, sizeof(want));
	EVP_PKEY *priv = load_priv("vendor-ecdh.pem");
	EVP_PKEY *peer = load_pub("broker-ecdh.pub.b64");
	ck_assert_int_eq(fwg_key_ecdh(priv, peer, z), 0);
	hex32(z, hex);
	ck_assert_str_eq(hex, want);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(peer);
}
END_TEST

START_TEST(ecdh_broker_side)
{
	char want[128], hex[65];
	uint8_t z[32];
	vec_expected("ecdh_shared_secret_Z", want, sizeof(want));
	EVP_PKEY *priv = load_priv("broker-ecdh.pem");
	EVP_PKEY *peer = load_pub("vendor-ecdh.pub.b64");
	ck_assert_int_eq(fwg_key_ecdh(priv, peer, z), 0);
	hex32(z, hex);
	ck_assert_str_eq(hex, want);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(peer);
}
END_TEST

START_TEST(tag_key_both_sides)
{
	char want[128], vendor[64], hex[65];
	uint8_t k1[32], k2[32], k3[32];
	vec_expected("tag_key_K", want, sizeof(want));
	vec_expected("vendor_id", vendor, sizeof(vendor));
	EVP_PKEY *vpriv = load_priv("vendor-ecdh.pem");
	EVP_PKEY *vpub = load_pub("vendor-ecdh.pub.b64");
	EVP_PKEY *bpriv = load_priv("broker-ecdh.pem");
	EVP_PKEY *bpub = load_pub("broker-ecdh.pub.b64");
	ck_assert_int_eq(fwg_key_derive_tag_key(vpriv, bpub, vendor, k1), 0);
	ck_assert_int_eq(fwg_key_derive_tag_key(bpriv, vpub, vendor, k2), 0);
	hex32(k1, hex);
	ck_assert_str_eq(hex, want);
	hex32(k2, hex);
	ck_assert_str_eq(hex, want);
	/* another vendor id gives another key */
	ck_assert_int_eq(fwg_key_derive_tag_key(bpriv, vpub, "acme2", k3), 0);
	ck_assert(memcmp(k1, k3, 32) != 0);
	/* a wrong peer gives another key */
	ck_assert_int_eq(fwg_key_derive_tag_key(bpriv, bpub, vendor, k3), 0);
	ck_assert(memcmp(k1, k3, 32) != 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	EVP_PKEY_free(vpriv);
	EVP_PKEY_free(vpub);
	EVP_PKEY_free(bpriv);
	EVP_PKEY_free(bpub);
}
END_TEST

START_TEST(ecdh_needs_private)
{
	uint8_t z[32], k[32];
	EVP_PKEY *vpub = load_pub("vendor-ecdh.pub.b64");
	EVP_PKEY *bpub = load_pub("broker-ecdh.pub.b64");
	ck_assert_int_eq(fwg_key_ecdh(vpub, bpub, z), -1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(fwg_key_derive_tag_key(vpub, bpub, "acme", k), -1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(fwg_key_derive_tag_key(NULL, bpub, "acme", k), -1);
	ck_assert_int_eq(fwg_key_derive_tag_key(vpub, bpub, NULL, k), -1);
	EVP_PKEY_free(vpub);
	EVP_PKEY_free(bpub);
}
END_TEST

START_TEST(ecdh_rejects_other_curve)
{
	uint8_t z[32];
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	ck_assert_ptr_nonnull(p384);
	EVP_PKEY *priv = load_priv("vendor-ecdh.pem");
	ck_assert_int_eq(fwg_key_ecdh(priv, p384, z), -1);
	ck_assert_int_eq(fwg_key_ecdh(p384, priv, z), -1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(priv);
}
END_TEST

/* ---- generation ---- */

START_TEST(generate_round_trip)
{
	EVP_PKEY *a = fwg_key_generate(), *b = fwg_key_generate();
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	uint8_t k1[32], k2[32];
	char *apub = fwg_key_public_b64(a), *bpub = fwg_key_public_b64(b);
	ck_assert_ptr_nonnull(apub);
	ck_assert_ptr_nonnull(bpub);
	EVP_PKEY *apk = NULL, *bpk = NULL;
	ck_assert_int_eq(fwg_key_parse_public_b64(apub, strlen(apub), &apk), 0);
	ck_assert_int_eq(fwg_key_parse_public_b64(bpub, strlen(bpub), &bpk), 0);
	ck_assert_int_eq(fwg_key_derive_tag_key(a, bpk, "v", k1), 0);
	ck_assert_int_eq(fwg_key_derive_tag_key(b, apk, "v", k2), 0);
	ck_assert(memcmp(k1, k2, 32) == 0);
	char ida[17], idb[17];
	ck_assert_int_eq(fwg_key_id(a, ida), 0);
	ck_assert_int_eq(fwg_key_id(apk, idb), 0);
	ck_assert_str_eq(ida, idb);
	ck_assert(fwg_is_lower_hex(ida, 16));
	/* a generated key survives a PEM round trip through the loader */
	const char *path = write_temp_pem(a, false, false);
	EVP_PKEY *loaded = NULL;
	char err[128];
	ck_assert_int_eq(fwg_key_load_private_pem(path, &loaded, err, sizeof(err)), 0);
	ck_assert_int_eq(fwg_key_id(loaded, idb), 0);
	ck_assert_str_eq(ida, idb);
	unlink(path);
	EVP_PKEY_free(loaded);
	EVP_PKEY_free(apk);
	EVP_PKEY_free(bpk);
	free(apub);
	free(bpub);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}
END_TEST

/* ---- private key loading failures ---- */

START_TEST(load_missing_file)
{
	assert_load_fails("/nonexistent/fwguard/key.pem");
	char err[8];
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(fwg_key_load_private_pem(NULL, &k, err, sizeof(err)), -1);
	/* err may be NULL / tiny */
	ck_assert_int_eq(fwg_key_load_private_pem("/nonexistent", &k, NULL, 0), -1);
	ck_assert_int_eq(fwg_key_load_private_pem("/nonexistent", &k, err, sizeof(err)), -1);
	ck_assert_uint_lt(strlen(err), sizeof(err));
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(load_public_pem_as_private)
{
	char path[1024];
	vec_path("vendor-sign.pub.pem", path, sizeof(path));
	assert_load_fails(path);
}
END_TEST

START_TEST(load_garbage)
{
	char path[256];
	write_temp_text(path, sizeof(path), "-----BEGIN PRIVATE KEY-----\nnot base64 !!\n-----END PRIVATE KEY-----\n");
	assert_load_fails(path);
	unlink(path);
	write_temp_text(path, sizeof(path), "");
	assert_load_fails(path);
	unlink(path);
}
END_TEST

START_TEST(load_other_curve)
{
	EVP_PKEY *k = EVP_EC_gen("P-384");
	ck_assert_ptr_nonnull(k);
	const char *path = write_temp_pem(k, false, false);
	assert_load_fails(path);
	unlink(path);
	EVP_PKEY_free(k);
	k = EVP_EC_gen("secp256k1");
	ck_assert_ptr_nonnull(k);
	path = write_temp_pem(k, false, false);
	assert_load_fails(path);
	unlink(path);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(load_ed25519)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(k);
	const char *path = write_temp_pem(k, false, false);
	assert_load_fails(path);
	unlink(path);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(load_encrypted_never_prompts)
{
	EVP_PKEY *k = fwg_key_generate();
	ck_assert_ptr_nonnull(k);
	const char *path = write_temp_pem(k, true, false);
	assert_load_fails(path);
	unlink(path);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- public key parsing failures ---- */

static void assert_pub_fails(const char *b64, size_t len)
{
	EVP_PKEY *k = (EVP_PKEY *)0x1;
	ck_assert_int_eq(fwg_key_parse_public_b64(b64, len, &k), -1);
	ck_assert_ptr_eq(k, (EVP_PKEY *)0x1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

static void assert_pub_der_fails(const uint8_t *der, size_t len)
{
	char b64[1024];
	long l = fwg_b64_encode(der, len, b64, sizeof(b64));
	ck_assert_int_ge(l, 0);
	assert_pub_fails(b64, (size_t)l);
}

START_TEST(pub_rejects_bad_base64)
{
	size_t len;
	char *b64 = vec_slurp_line("vendor-sign.pub.b64", &len);
	assert_pub_fails(b64, len - 1);           /* length not a multiple of 4 */
	assert_pub_fails(b64, len - 4);           /* truncated DER */
	char *ws = malloc(len + 2);
	memcpy(ws, b64, len);
	ws[len] = '\n';
	assert_pub_fails(ws, len + 1);            /* trailing LF */
	memcpy(ws, b64, len);
	ws[10] = '-';
	assert_pub_fails(ws, len);                /* url-safe alphabet */
	assert_pub_fails("", 0);
	assert_pub_fails(NULL, 4);
	free(ws);
	free(b64);
}
END_TEST

START_TEST(pub_rejects_trailing_bytes)
{
	size_t len, dlen;
	char *b64 = vec_slurp_line("vendor-sign.pub.b64", &len);
	uint8_t der[256];
	ck_assert_int_eq(fwg_b64_decode(b64, len, der, sizeof(der), &dlen), 0);
	der[dlen] = 0x00;
	assert_pub_der_fails(der, dlen + 1);
	der[dlen] = 0x30; der[dlen + 1] = 0x00;
	assert_pub_der_fails(der, dlen + 2);
	free(b64);
}
END_TEST

START_TEST(pub_rejects_other_keys)
{
	const char *kinds[] = { "P-384", "secp256k1" };
	for(size_t i = 0; i < 2; i++){
		EVP_PKEY *k = EVP_EC_gen(kinds[i]);
		ck_assert_ptr_nonnull(k);
		uint8_t *der = NULL;
		int n = i2d_PUBKEY(k, &der);
		ck_assert_int_gt(n, 0);
		assert_pub_der_fails(der, (size_t)n);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t *der = NULL;
	int n = i2d_PUBKEY(ed, &der);
	ck_assert_int_gt(n, 0);
	assert_pub_der_fails(der, (size_t)n);
	OPENSSL_free(der);
	EVP_PKEY_free(ed);
}
END_TEST

START_TEST(pub_rejects_compressed_point)
{
	/* a compressed-point SPKI names the same key with other bytes, so
	 * another key id: only the canonical (uncompressed) form is accepted */
	EVP_PKEY *k = fwg_key_generate();
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(EVP_PKEY_set_utf8_string_param(k, "point-format", "compressed"), 1);
	uint8_t *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, 91);
	assert_pub_der_fails(der, (size_t)n);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(pub_rejects_corrupt_point)
{
	size_t len, dlen;
	char *b64 = vec_slurp_line("vendor-sign.pub.b64", &len);
	uint8_t der[256];
	ck_assert_int_eq(fwg_b64_decode(b64, len, der, sizeof(der), &dlen), 0);
	der[dlen - 1] ^= 0x01; /* y no longer on the curve */
	assert_pub_der_fails(der, dlen);
	free(b64);
}
END_TEST

START_TEST(pub_rejects_long_input)
{
	char big[2048];
	memset(big, 'A', sizeof(big));
	assert_pub_fails(big, sizeof(big));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("known_answers");
	tcase_add_test(tc, private_key_permissions);
	tcase_add_test(tc, key_id_private);
	tcase_add_test(tc, key_id_public);
	tcase_add_loop_test(tc, public_b64_matches_vector, 0, N(pub_pairs));
	tcase_add_test(tc, ecdh_vendor_side);
	tcase_add_test(tc, ecdh_broker_side);
	tcase_add_test(tc, tag_key_both_sides);
	suite_add_tcase(s, tc);

	tc = tcase_create("ecdh");
	tcase_add_test(tc, ecdh_needs_private);
	tcase_add_test(tc, ecdh_rejects_other_curve);
	tcase_add_test(tc, generate_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("load_private");
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, load_public_pem_as_private);
	tcase_add_test(tc, load_garbage);
	tcase_add_test(tc, load_other_curve);
	tcase_add_test(tc, load_ed25519);
	tcase_add_test(tc, load_encrypted_never_prompts);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_public");
	tcase_add_test(tc, pub_rejects_bad_base64);
	tcase_add_test(tc, pub_rejects_trailing_bytes);
	tcase_add_test(tc, pub_rejects_other_keys);
	tcase_add_test(tc, pub_rejects_compressed_point);
	tcase_add_test(tc, pub_rejects_corrupt_point);
	tcase_add_test(tc, pub_rejects_long_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(keys_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
