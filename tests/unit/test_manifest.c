/* Unit tests: manifest parser, signing base, signature (§5).
 * SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include "vectors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "fwguard/manifest.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "../../lib/json_lex.h"


#define VENDOR "acme"
#define MODEL "thermo-x1"

/* ---- vector helpers ---- */




static EVP_PKEY *vendor_pub(void)
{
	size_t len;
	char *b64 = vec_slurp_line("vendor-sign.pub.b64", &len);
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(fwg_key_parse_public_b64(b64, len, &k), 0);
	free(b64);
	return k;
}

static EVP_PKEY *other_pub(void)
{
	size_t len;
	char *b64 = vec_slurp_line("broker-ecdh.pub.b64", &len);
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(fwg_key_parse_public_b64(b64, len, &k), 0);
	free(b64);
	return k;
}

static enum fwg_reason parse_buf(const char *buf, size_t len, const char *ev, const char *em)
{
	struct fwg_manifest m;
	enum fwg_reason r = fwg_manifest_parse((const uint8_t *)buf, len, ev, em, &m);
	if(r == FWG_R_OK) fwg_manifest_free(&m);
	return r;
}

/* The valid manifest with the first occurrence of from replaced by to. */
static char *edited(const char *from, const char *to, size_t *outlen)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	char *at = strstr(text, from);
	ck_assert_msg(at != NULL, "'%s' not in manifest.json", from);
	size_t flen = strlen(from), tlen = strlen(to);
	char *out = malloc(len - flen + tlen + 1);
	ck_assert_ptr_nonnull(out);
	size_t pre = (size_t)(at - text);
	memcpy(out, text, pre);
	memcpy(out + pre, to, tlen);
	memcpy(out + pre + tlen, at + flen, len - pre - flen);
	*outlen = len - flen + tlen;
	out[*outlen] = 0;
	free(text);
	return out;
}

static enum fwg_reason parse_edit(const char *from, const char *to)
{
	size_t len;
	char *buf = edited(from, to, &len);
	enum fwg_reason r = parse_buf(buf, len, VENDOR, MODEL);
	free(buf);
	return r;
}

/* The valid manifest without member name (and one adjacent comma). */
static char *without_member(const char *name, size_t *outlen)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", name);
	char *start = strstr(text, key);
	ck_assert_ptr_nonnull(start);
	char *p = start + strlen(key);
	if(*p == '"') p = strchr(p + 1, '"') + 1;
	else if(*p == '[') p = strchr(p, ']') + 1;
	else while(*p != ',' && *p != '}') p++;
	if(*p == ',') p++;                           /* "x":v, -> removed with its comma */
	else if(start[-1] == ',') start--;           /* last member: the comma before */
	memmove(start, p, strlen(p) + 1);
	*outlen = strlen(text);
	return text;
}

/* ---- known answers ---- */

static void assert_hex(const uint8_t *b, size_t n, const char *key)
{
	char want[200], hex[200];
	vec_expected(key, want, sizeof(want));
	fwg_hex_encode(b, n, hex);
	ck_assert_str_eq(hex, want);
}

START_TEST(parse_vector)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert_uint_eq(m.format, 1);
	ck_assert_str_eq(m.vendor, "acme");
	ck_assert_str_eq(m.model, "thermo-x1");
	ck_assert_str_eq(m.version, "1.4.2");
	ck_assert_uint_eq(m.sequence, 7);
	ck_assert_uint_eq(m.size, 2600);
	assert_hex(m.sha256, 32, "image_sha256");
	ck_assert_uint_eq(m.chunk_size, 1024);
	ck_assert_uint_eq(m.issued, 1764115200ULL);
	ck_assert_uint_eq(m.expires, 4102444800ULL);
	char kid[32];
	vec_expected("vendor_sign_key_id", kid, sizeof(kid));
	ck_assert_str_eq(m.key_id, kid);
	ck_assert_uint_eq(m.nchunks, 3);
	ck_assert(m.has_chunk_sha);
	ck_assert_uint_eq(m.n_chunk_sha, 3);
	assert_hex(m.chunk_sha[0], 32, "chunk0_sha256");
	assert_hex(m.chunk_sha[1], 32, "chunk1_sha256");
	assert_hex(m.chunk_sha[2], 32, "chunk2_sha256");
	ck_assert_uint_ge(m.sig_len, 8);
	ck_assert_uint_le(m.sig_len, 72);
	/* the topic ids are optional */
	fwg_manifest_free(&m);
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, NULL, NULL, &m), FWG_R_OK);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

static const struct { const char *manifest, *base; } base_vectors[] = {
	{ "manifest.json", "signing-base.txt" },
	{ "manifest-nochunks.json", "signing-base-nochunks.txt" },
};

START_TEST(signing_base_vector)
{
	size_t len, blen, glen = 0;
	char *text = vec_slurp(base_vectors[_i].manifest, &len);
	char *want = vec_slurp(base_vectors[_i].base, &blen);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert(m.has_chunk_sha == (_i == 0));
	char *got = fwg_manifest_signing_base(&m, &glen);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(glen, blen);
	ck_assert(memcmp(got, want, blen) == 0);
	ck_assert_int_eq(got[glen], 0);
	free(got);
	fwg_manifest_free(&m);
	free(want);
	free(text);
}
END_TEST

START_TEST(verify_vector)
{
	size_t len;
	char *text = vec_slurp(base_vectors[_i].manifest, &len);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	EVP_PKEY *pub = vendor_pub(), *other = other_pub();
	ck_assert_int_eq(fwg_manifest_verify(&m, pub), FWG_R_OK);
	ck_assert_int_eq(fwg_manifest_verify(&m, other), FWG_R_SIGNATURE_INVALID);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	/* negative twins: flipped signature bit, edited field */
	struct fwg_manifest t;
	ck_assert_int_eq(fwg_manifest_copy(&t, &m), 0);
	t.sig[t.sig_len / 2] ^= 0x01;
	ck_assert_int_eq(fwg_manifest_verify(&t, pub), FWG_R_SIGNATURE_INVALID);
	t.sig[t.sig_len / 2] ^= 0x01;
	ck_assert_int_eq(fwg_manifest_verify(&t, pub), FWG_R_OK);
	t.sequence++;
	ck_assert_int_eq(fwg_manifest_verify(&t, pub), FWG_R_SIGNATURE_INVALID);
	t.sequence--;
	t.sig_len--;
	ck_assert_int_eq(fwg_manifest_verify(&t, pub), FWG_R_SIGNATURE_INVALID);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(fwg_manifest_verify(&m, NULL), FWG_R_SIGNATURE_INVALID);
	ck_assert_int_eq(fwg_manifest_verify(NULL, pub), FWG_R_SIGNATURE_INVALID);
	fwg_manifest_free(&t);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

START_TEST(verify_tampered)
{
	size_t len;
	char *text = vec_slurp("manifest-tampered.json", &len);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert_str_eq(m.version, "1.4.3");
	EVP_PKEY *pub = vendor_pub();
	ck_assert_int_eq(fwg_manifest_verify(&m, pub), FWG_R_SIGNATURE_INVALID);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	EVP_PKEY_free(pub);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

/* Dropping chunk_sha256 from the signed manifest breaks the signature. */
START_TEST(verify_chunk_list_removed)
{
	size_t len;
	char *text = without_member("chunk_sha256", &len);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert(!m.has_chunk_sha);
	EVP_PKEY *pub = vendor_pub();
	ck_assert_int_eq(fwg_manifest_verify(&m, pub), FWG_R_SIGNATURE_INVALID);
	EVP_PKEY_free(pub);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

START_TEST(to_json_reproduces_vector)
{
	size_t len;
	char *text = vec_slurp(base_vectors[_i].manifest, &len);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	char *json = fwg_manifest_to_json(&m);
	ck_assert_ptr_nonnull(json);
	ck_assert_str_eq(json, text);
	free(json);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

START_TEST(chunk_len)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 0), 1024);
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 1), 1024);
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 2), 552);
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 3), 0);
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, UINT64_MAX), 0);
	m.size = 2048;
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 1), 1024);
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 2), 0);
	m.size = 1;
	ck_assert_uint_eq(fwg_manifest_chunk_len(&m, 0), 1);
	ck_assert_uint_eq(fwg_manifest_chunk_len(NULL, 0), 0);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

START_TEST(copy_is_deep)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	struct fwg_manifest m, c;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert_int_eq(fwg_manifest_copy(&c, &m), 0);
	ck_assert_ptr_ne(c.chunk_sha, m.chunk_sha);
	ck_assert(memcmp(c.chunk_sha, m.chunk_sha, 3 * 32) == 0);
	c.chunk_sha[0][0] ^= 0xff;
	ck_assert(c.chunk_sha[0][0] != m.chunk_sha[0][0]);
	ck_assert_str_eq(c.vendor, m.vendor);
	ck_assert_uint_eq(c.sig_len, m.sig_len);
	fwg_manifest_free(&m);
	ck_assert_ptr_null(m.chunk_sha);
	fwg_manifest_free(&m); /* twice is harmless */
	EVP_PKEY *pub = vendor_pub();
	c.chunk_sha[0][0] ^= 0xff;
	ck_assert_int_eq(fwg_manifest_verify(&c, pub), FWG_R_OK);
	EVP_PKEY_free(pub);
	fwg_manifest_free(&c);
	free(text);
	/* a manifest without a list */
	text = vec_slurp("manifest-nochunks.json", &len);
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)text, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert_int_eq(fwg_manifest_copy(&c, &m), 0);
	ck_assert_ptr_null(c.chunk_sha);
	fwg_manifest_free(&c);
	fwg_manifest_free(&m);
	free(text);
}
END_TEST

/* ---- round trip with a fresh key ---- */

static void build(struct fwg_manifest *m, EVP_PKEY *key, bool chunks)
{
	memset(m, 0, sizeof(*m));
	m->format = 1;
	strcpy(m->vendor, "v-1.x_Y");
	strcpy(m->model, "m.2");
	strcpy(m->version, "2.0.0-rc.1+build~5_x");
	m->sequence = FWG_INT_MAX;
	m->size = 5000;
	for(int i = 0; i < 32; i++) m->sha256[i] = (uint8_t)(i * 7);
	m->chunk_size = 2048;
	m->issued = 0;
	m->expires = FWG_INT_MAX;
	ck_assert_int_eq(fwg_key_id(key, m->key_id), 0);
	m->nchunks = 3;
	if(chunks){
		m->has_chunk_sha = true;
		m->n_chunk_sha = 3;
		m->chunk_sha = calloc(3, 32);
		ck_assert_ptr_nonnull(m->chunk_sha);
		for(int c = 0; c < 3; c++) memset(m->chunk_sha[c], 0x10 * (c + 1), 32);
	}
}

START_TEST(round_trip)
{
	EVP_PKEY *key = fwg_key_generate();
	ck_assert_ptr_nonnull(key);
	struct fwg_manifest m, p;
	build(&m, key, _i == 0);
	ck_assert_int_eq(fwg_manifest_sign(&m, key), 0);
	ck_assert_int_eq(fwg_manifest_verify(&m, key), FWG_R_OK);
	char *json = fwg_manifest_to_json(&m);
	ck_assert_ptr_nonnull(json);
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)json, strlen(json), "v-1.x_Y", "m.2", &p), FWG_R_OK);
	ck_assert_str_eq(p.vendor, m.vendor);
	ck_assert_str_eq(p.model, m.model);
	ck_assert_str_eq(p.version, m.version);
	ck_assert_str_eq(p.key_id, m.key_id);
	ck_assert(p.sequence == m.sequence);
	ck_assert(p.expires == m.expires);
	ck_assert_uint_eq(p.issued, 0);
	ck_assert_uint_eq(p.nchunks, 3);
	ck_assert(p.has_chunk_sha == m.has_chunk_sha);
	ck_assert_uint_eq(p.n_chunk_sha, m.n_chunk_sha);
	if(m.n_chunk_sha) ck_assert(memcmp(p.chunk_sha, m.chunk_sha, 3 * 32) == 0);
	ck_assert(memcmp(p.sha256, m.sha256, 32) == 0);
	ck_assert_uint_eq(p.sig_len, m.sig_len);
	ck_assert(memcmp(p.sig, m.sig, m.sig_len) == 0);
	/* verify with the public key alone */
	char *b64 = fwg_key_public_b64(key);
	EVP_PKEY *pub = NULL;
	ck_assert_int_eq(fwg_key_parse_public_b64(b64, strlen(b64), &pub), 0);
	ck_assert_int_eq(fwg_manifest_verify(&p, pub), FWG_R_OK);
	EVP_PKEY *vpub = vendor_pub();
	ck_assert_int_eq(fwg_manifest_verify(&p, vpub), FWG_R_SIGNATURE_INVALID);
	/* the serialisation is stable */
	char *json2 = fwg_manifest_to_json(&p);
	ck_assert_str_eq(json, json2);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	free(json2);
	EVP_PKEY_free(vpub);
	EVP_PKEY_free(pub);
	free(b64);
	free(json);
	fwg_manifest_free(&p);
	fwg_manifest_free(&m);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(sign_needs_ec_private)
{
	EVP_PKEY *key = fwg_key_generate();
	struct fwg_manifest m;
	build(&m, key, false);
	ck_assert_int_eq(fwg_manifest_sign(&m, NULL), -1);
	EVP_PKEY *pub = vendor_pub();
	ck_assert_int_eq(fwg_manifest_sign(&m, pub), -1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_int_eq(fwg_manifest_sign(&m, ed), -1);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(pub);
	fwg_manifest_free(&m);
	EVP_PKEY_free(key);
}
END_TEST

/* ---- parser: one minimal edit per reason ---- */

#define SIG "\"signature\":\"MEUCIQCIbTto4N52NTRJNTHchi4sbFKs2CecHxBgwkCqpsdwDgIgWLWIoaUCAfV2A5oCau5KazNhV2viOKu9O7FV664LLzU=\""
#define SHA_IMG "eefc125a1d3aa7ac9df3e189120f81d69a7fdb8c1dd8165b18e749933d4d05ea"
#define SHA_C0 "c4cec854cae5b43344bb5641771c6e33b19d62e72d20400266ce00b3e9033cc7"

static const struct edit {
	const char *from, *to;
	enum fwg_reason want;
} edits[] = {
	/* members */
	{ "\"format\":1,", "\"format\":1,\"extra\":1,", FWG_R_MEMBER_UNKNOWN },
	{ "\"format\":1,", "\"format\":1,\"Format\":1,", FWG_R_MEMBER_UNKNOWN },
	{ "\"format\":1,", "\"format\":1,\"\":1,", FWG_R_MEMBER_UNKNOWN },
	{ "\"format\":1,", "\"format\":1,\"form\\u0061t\":1,", FWG_R_MEMBER_DUPLICATE },
	{ "\"format\":1,", "\"format\":1,\"format\":1,", FWG_R_MEMBER_DUPLICATE },
	{ "\"sequence\":7,", "\"sequence\":7,\"sequence\":8,", FWG_R_MEMBER_DUPLICATE },
	{ SIG, SIG "," SIG, FWG_R_MEMBER_DUPLICATE },
	/* wrong type for each member */
	{ "\"format\":1", "\"format\":\"1\"", FWG_R_MEMBER_TYPE },
	{ "\"format\":1", "\"format\":true", FWG_R_MEMBER_TYPE },
	{ "\"vendor\":\"acme\"", "\"vendor\":1", FWG_R_MEMBER_TYPE },
	{ "\"vendor\":\"acme\"", "\"vendor\":[\"acme\"]", FWG_R_MEMBER_TYPE },
	{ "\"model\":\"thermo-x1\"", "\"model\":null", FWG_R_MEMBER_TYPE },
	{ "\"version\":\"1.4.2\"", "\"version\":142", FWG_R_MEMBER_TYPE },
	{ "\"sequence\":7", "\"sequence\":\"7\"", FWG_R_MEMBER_TYPE },
	{ "\"size\":2600", "\"size\":[2600]", FWG_R_MEMBER_TYPE },
	{ "\"sha256\":\"" SHA_IMG "\"", "\"sha256\":{}", FWG_R_MEMBER_TYPE },
	{ "\"chunk_size\":1024", "\"chunk_size\":false", FWG_R_MEMBER_TYPE },
	{ "\"issued\":1764115200", "\"issued\":\"1764115200\"", FWG_R_MEMBER_TYPE },
	{ "\"expires\":4102444800", "\"expires\":null", FWG_R_MEMBER_TYPE },
	{ "\"key_id\":\"ee9717f948771465\"", "\"key_id\":1", FWG_R_MEMBER_TYPE },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":\"x\",\"y\":[", FWG_R_MEMBER_TYPE },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[1,", FWG_R_MEMBER_TYPE },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[[],", FWG_R_MEMBER_TYPE },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[null,", FWG_R_MEMBER_TYPE },
	{ "\"signature\":", "\"signature\":0,\"x\":", FWG_R_MEMBER_TYPE },
	/* numbers: integers only, 0|[1-9][0-9]*, <= 2^53-1 */
	{ "\"sequence\":7", "\"sequence\":7.0", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":7e0", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":7E0", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":-1", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":-0", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":07", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":9007199254740992", FWG_R_NUMBER_INVALID },
	{ "\"sequence\":7", "\"sequence\":18446744073709551616", FWG_R_NUMBER_INVALID },
	{ "\"issued\":1764115200", "\"issued\":1764115200.5", FWG_R_NUMBER_INVALID },
	{ "\"format\":1", "\"format\":1.0", FWG_R_NUMBER_INVALID },
	{ "\"format\":1", "\"format\":+1", FWG_R_JSON_INVALID },         /* not JSON at all */
	{ "\"format\":1", "\"format\":-", FWG_R_NUMBER_INVALID },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[1.5,", FWG_R_NUMBER_INVALID },
	/* missing-member cases are generated from the allow-list (see below) */
	/* encoding and syntax */
	{ "1.4.2", "1.4.\xff", FWG_R_NOT_UTF8 },
	{ "1.4.2", "1.4.\xc0\xae", FWG_R_NOT_UTF8 },
	{ "1.4.2", "1.4.\xed\xa0\x80", FWG_R_NOT_UTF8 },
	{ "1.4.2", "1.4.\x01", FWG_R_JSON_INVALID },
	{ "1.4.2", "1.4.\t", FWG_R_JSON_INVALID },
	{ "1.4.2", "1.4.\\u0000", FWG_R_JSON_INVALID },
	{ "1.4.2", "1.4.\\x", FWG_R_JSON_INVALID },
	{ "1.4.2", "1.4.\\ud800", FWG_R_JSON_INVALID },
	{ "\"format\":1,", "\"format\":1,,", FWG_R_JSON_INVALID },
	{ "\"format\":1,", "'format':1,", FWG_R_JSON_INVALID },
	{ "\"format\":1,", "format:1,", FWG_R_JSON_INVALID },
	{ "{", "[{", FWG_R_JSON_INVALID },
	{ "{", "\xef\xbb\xbf{", FWG_R_JSON_INVALID },
	/* field rules */
	{ "\"format\":1", "\"format\":2", FWG_R_FORMAT_UNSUPPORTED },
	{ "\"format\":1", "\"format\":0", FWG_R_FORMAT_UNSUPPORTED },
	{ "\"vendor\":\"acme\"", "\"vendor\":\"acme2\"", FWG_R_VENDOR_MISMATCH },
	{ "\"vendor\":\"acme\"", "\"vendor\":\"ACME\"", FWG_R_VENDOR_MISMATCH },
	{ "\"vendor\":\"acme\"", "\"vendor\":\"ac/me\"", FWG_R_VENDOR_MISMATCH },
	{ "\"vendor\":\"acme\"", "\"vendor\":\"\"", FWG_R_VENDOR_MISMATCH },
	{ "\"model\":\"thermo-x1\"", "\"model\":\"thermo-x2\"", FWG_R_MODEL_MISMATCH },
	{ "\"model\":\"thermo-x1\"", "\"model\":\"thermo-x1 \"", FWG_R_MODEL_MISMATCH },
	{ "\"model\":\"thermo-x1\"", "\"model\":\"..\"", FWG_R_MODEL_MISMATCH },
	{ "\"version\":\"1.4.2\"", "\"version\":\"\"", FWG_R_VERSION_INVALID },
	{ "\"version\":\"1.4.2\"", "\"version\":\"1.4 2\"", FWG_R_VERSION_INVALID },
	{ "\"version\":\"1.4.2\"", "\"version\":\"1.4/2\"", FWG_R_VERSION_INVALID },
	{ "\"version\":\"1.4.2\"", "\"version\":\"1.4.\xc3\xa9\"", FWG_R_VERSION_INVALID },
	{ "\"version\":\"1.4.2\"", "\"version\":\"1.4.\\n\"", FWG_R_VERSION_INVALID },
	{ "\"version\":\"1.4.2\"", "\"version\":\"12345678901234567890123456789012345678901234567890123456789012345\"", FWG_R_VERSION_INVALID },
	{ "\"sequence\":7", "\"sequence\":0", FWG_R_SEQUENCE_INVALID },
	{ "\"size\":2600", "\"size\":0", FWG_R_SIZE_INVALID },
	{ "\"sha256\":\"eefc", "\"sha256\":\"eef", FWG_R_DIGEST_INVALID },
	{ "\"sha256\":\"eefc", "\"sha256\":\"eefcc", FWG_R_DIGEST_INVALID },
	{ "\"sha256\":\"eefc", "\"sha256\":\"EEFC", FWG_R_DIGEST_INVALID },
	{ "\"sha256\":\"eefc", "\"sha256\":\"xefc", FWG_R_DIGEST_INVALID },
	{ "\"chunk_size\":1024", "\"chunk_size\":255", FWG_R_CHUNK_SIZE_INVALID },
	{ "\"chunk_size\":1024", "\"chunk_size\":1048577", FWG_R_CHUNK_SIZE_INVALID },
	{ "\"chunk_size\":1024", "\"chunk_size\":0", FWG_R_CHUNK_SIZE_INVALID },
	{ "\"expires\":4102444800", "\"expires\":1764115200", FWG_R_VALIDITY_INVALID },
	{ "\"expires\":4102444800", "\"expires\":1764115199", FWG_R_VALIDITY_INVALID },
	{ "\"expires\":4102444800", "\"expires\":0", FWG_R_VALIDITY_INVALID },
	{ "\"key_id\":\"ee9717f948771465\"", "\"key_id\":\"ee9717f94877146\"", FWG_R_KEY_ID_INVALID },
	{ "\"key_id\":\"ee9717f948771465\"", "\"key_id\":\"ee9717f9487714650\"", FWG_R_KEY_ID_INVALID },
	{ "\"key_id\":\"ee9717f948771465\"", "\"key_id\":\"EE9717F948771465\"", FWG_R_KEY_ID_INVALID },
	{ "\"key_id\":\"ee9717f948771465\"", "\"key_id\":\"\"", FWG_R_KEY_ID_INVALID },
	{ "\"" SHA_C0 "\"", "\"" SHA_C0 "0\"", FWG_R_DIGEST_INVALID },
	{ "\"" SHA_C0 "\"", "\"c4cec\"", FWG_R_DIGEST_INVALID },
	{ "\"" SHA_C0 "\"", "\"C4CEC854CAE5B43344BB5641771C6E33B19D62E72D20400266CE00B3E9033CC7\"", FWG_R_DIGEST_INVALID },
	{ "\"" SHA_C0 "\"", "\"\"", FWG_R_DIGEST_INVALID },
	{ "\"size\":2600", "\"size\":9007199254740991", FWG_R_TOO_MANY_CHUNKS },
	{ "\"size\":2600", "\"size\":1048577", FWG_R_TOO_MANY_CHUNKS },         /* 1025 chunks of 1024 */
	{ "\"signature\":\"MEUC", "\"signature\":\"MEU", FWG_R_SIGNATURE_MALFORMED },
	{ "\"signature\":\"MEUC", "\"signature\":\"ME UC", FWG_R_SIGNATURE_MALFORMED },
	{ "\"signature\":\"MEUC", "\"signature\":\"-EUC", FWG_R_SIGNATURE_MALFORMED },
	{ "\"signature\":\"MEUC", "\"signature\":\"\",\"x\":\"", FWG_R_MEMBER_UNKNOWN },
	{ "LLzU=\"", "LLzU\"", FWG_R_SIGNATURE_MALFORMED },
	{ "LLzU=\"", "LLzV=\"", FWG_R_SIGNATURE_MALFORMED },     /* non-canonical pad bits */
	{ "LLzU=\"", "LLzU=\\n\"", FWG_R_SIGNATURE_MALFORMED },
};

START_TEST(parse_edit_table)
{
	const struct edit *e = &edits[_i];
	enum fwg_reason r = parse_edit(e->from, e->to);
	ck_assert_msg(r == e->want, "edit %d ('%s' -> '%s'): got %s, want %s", _i, e->from, e->to,
			fwg_reason_str(r), fwg_reason_str(e->want));
}
END_TEST

/* Edits that must still parse (boundaries). */
static const struct edit accepts[] = {
	{ "\"sequence\":7", "\"sequence\":9007199254740991", FWG_R_OK },
	{ "\"sequence\":7", "\"sequence\":1", FWG_R_OK },
	{ "\"chunk_size\":1024", "\"chunk_size\":1048576", FWG_R_OK },
	{ "\"size\":2600", "\"size\":1048576", FWG_R_OK },            /* exactly 1024 chunks */
	{ "\"issued\":1764115200", "\"issued\":0", FWG_R_OK },
	{ "\"expires\":4102444800", "\"expires\":1764115201", FWG_R_OK },
	{ "\"version\":\"1.4.2\"", "\"version\":\"A-z_0.9+~\"", FWG_R_OK },
	{ "\"version\":\"1.4.2\"", "\"version\":\"1234567890123456789012345678901234567890123456789012345678901234\"", FWG_R_OK },
	{ "\"version\":\"1.4.2\"", "\"version\":\"1.4.\\u0032\"", FWG_R_OK },   /* an escape is just a char */
	{ "\"chunk_sha256\":[\"" SHA_C0 "\",", "\"chunk_sha256\":[", FWG_R_OK }, /* count is policy's */
	{ "{", " \n\t{", FWG_R_OK },
	{ "\"format\":1,", "\"format\" : 1 ,\n", FWG_R_OK },
	{ "\"signature\":\"MEUC", "\"version\":\"x\",\"signature\":\"MEUC", FWG_R_MEMBER_DUPLICATE },
};

START_TEST(parse_accept_table)
{
	const struct edit *e = &accepts[_i];
	enum fwg_reason r = parse_edit(e->from, e->to);
	ck_assert_msg(r == e->want, "edit %d ('%s' -> '%s'): got %s, want %s", _i, e->from, e->to,
			fwg_reason_str(r), fwg_reason_str(e->want));
}
END_TEST

START_TEST(too_many_chunks_small_chunk)
{
	/* 256-byte chunks: 1024 chunks fit, 1025 do not */
	size_t len;
	char *a = edited("\"chunk_size\":1024", "\"chunk_size\":256", &len);
	char *b = strstr(a, "\"size\":2600");
	ck_assert_ptr_nonnull(b);
	memcpy(b, "\"size\":9999", 11); /* same length: 40 chunks */
	ck_assert_int_eq(parse_buf(a, len, VENDOR, MODEL), FWG_R_OK);
	free(a);
	char *c = edited("\"size\":2600", "\"size\":262144", &len);
	char *d = strstr(c, "\"chunk_size\":1024");
	memmove(d + 16, d + 17, strlen(d + 17) + 1);
	memcpy(d, "\"chunk_size\":256", 16);
	len--;
	ck_assert_int_eq(parse_buf(c, len, VENDOR, MODEL), FWG_R_OK);
	free(c);
	c = edited("\"size\":2600", "\"size\":262145", &len);
	d = strstr(c, "\"chunk_size\":1024");
	memmove(d + 16, d + 17, strlen(d + 17) + 1);
	memcpy(d, "\"chunk_size\":256", 16);
	len--;
	ck_assert_int_eq(parse_buf(c, len, VENDOR, MODEL), FWG_R_TOO_MANY_CHUNKS);
	free(c);
}
END_TEST

static const char *const member_names[] = {
	"format", "vendor", "model", "version", "sequence", "size", "sha256",
	"chunk_size", "issued", "expires", "key_id", "signature",
};

START_TEST(missing_member)
{
	size_t len;
	char *text = without_member(member_names[_i], &len);
	ck_assert_int_eq(parse_buf(text, len, VENDOR, MODEL), FWG_R_MEMBER_MISSING);
	free(text);
}
END_TEST

START_TEST(vendor_model_without_expectation)
{
	/* without a topic to compare to, a bad id is a type error; a good one passes */
	size_t len;
	char *t = edited("\"vendor\":\"acme\"", "\"vendor\":\"ac/me\"", &len);
	ck_assert_int_eq(parse_buf(t, len, NULL, NULL), FWG_R_MEMBER_TYPE);
	free(t);
	t = edited("\"vendor\":\"acme\"", "\"vendor\":\".\"", &len);
	ck_assert_int_eq(parse_buf(t, len, NULL, MODEL), FWG_R_MEMBER_TYPE);
	free(t);
	t = edited("\"model\":\"thermo-x1\"", "\"model\":\"\"", &len);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, NULL), FWG_R_MEMBER_TYPE);
	free(t);
	t = edited("\"model\":\"thermo-x1\"",
			"\"model\":\"12345678901234567890123456789012345678901234567890123456789012345\"", &len);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, NULL), FWG_R_MEMBER_TYPE);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, MODEL), FWG_R_MODEL_MISMATCH);
	free(t);
	t = edited("\"vendor\":\"acme\"", "\"vendor\":\"other.vendor_1\"", &len);
	ck_assert_int_eq(parse_buf(t, len, NULL, NULL), FWG_R_OK);
	ck_assert_int_eq(parse_buf(t, len, "other.vendor_1", MODEL), FWG_R_OK);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, MODEL), FWG_R_VENDOR_MISMATCH);
	free(t);
	/* the valid manifest against another topic */
	t = edited("{", "{", &len);
	ck_assert_int_eq(parse_buf(t, len, "acm", MODEL), FWG_R_VENDOR_MISMATCH);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, "thermo"), FWG_R_MODEL_MISMATCH);
	free(t);
}
END_TEST

START_TEST(not_object)
{
	const char *docs[] = { "[1]", "\"x\"", "7", "null", "true", "[]" };
	for(size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++){
		ck_assert_int_eq(parse_buf(docs[i], strlen(docs[i]), VENDOR, MODEL), FWG_R_JSON_NOT_OBJECT);
	}
	ck_assert_int_eq(parse_buf("{}", 2, VENDOR, MODEL), FWG_R_MEMBER_MISSING);
	ck_assert_int_eq(parse_buf("", 0, VENDOR, MODEL), FWG_R_JSON_INVALID);
	ck_assert_int_eq(parse_buf("   ", 3, VENDOR, MODEL), FWG_R_JSON_INVALID);
	ck_assert_int_eq(parse_buf("-", 1, VENDOR, MODEL), FWG_R_NUMBER_INVALID);
}
END_TEST

START_TEST(truncated_and_trailing)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	/* every strict prefix is rejected */
	for(size_t n = 0; n < len; n++){
		enum fwg_reason r = parse_buf(text, n, VENDOR, MODEL);
		ck_assert_msg(r == FWG_R_JSON_INVALID || r == FWG_R_NUMBER_INVALID,
				"prefix %zu: %s", n, fwg_reason_str(r));
	}
	/* trailing garbage */
	const char *tails[] = { "x", "}", "{}", ",", "1", "\"\"", "/", "\x01" };
	char *buf = malloc(len + 8);
	for(size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++){
		memcpy(buf, text, len);
		memcpy(buf + len, tails[i], strlen(tails[i]));
		ck_assert_int_eq(parse_buf(buf, len + strlen(tails[i]), VENDOR, MODEL), FWG_R_JSON_INVALID);
	}
	/* trailing whitespace is fine */
	memcpy(buf, text, len);
	memcpy(buf + len, " \r\n\t", 4);
	ck_assert_int_eq(parse_buf(buf, len + 4, VENDOR, MODEL), FWG_R_OK);
	free(buf);
	free(text);
}
END_TEST

START_TEST(nul_byte)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	char *buf = malloc(len + 2);
	/* a NUL after the object */
	memcpy(buf, text, len);
	buf[len] = 0;
	ck_assert_int_eq(parse_buf(buf, len + 1, VENDOR, MODEL), FWG_R_JSON_INVALID);
	/* a NUL inside a string (would truncate "acme\0x" to "acme") */
	char *t = edited("\"vendor\":\"acme\"", "\"vendor\":\"acme@x\"", &len);
	*strchr(t, '@') = 0;
	ck_assert_int_eq(parse_buf(t, len, VENDOR, MODEL), FWG_R_JSON_INVALID);
	free(t);
	/* and between members */
	t = edited("\"format\":1,", "\"format\":1,@", &len);
	*strchr(t, '@') = 0;
	ck_assert_int_eq(parse_buf(t, len, VENDOR, MODEL), FWG_R_JSON_INVALID);
	free(t);
	free(buf);
	free(text);
}
END_TEST

START_TEST(escaped_quotes_in_strings)
{
	/* the prescan must skip strings with escapes: "7.0" and numbers
	 * inside strings are not number tokens */
	ck_assert_int_eq(parse_edit("\"format\":1,", "\"format\":1,\"x\\\"y\\\\\":7.0,"), FWG_R_NUMBER_INVALID);
	ck_assert_int_eq(parse_edit("\"format\":1,", "\"format\":1,\"a\\\\\":\"7.0\\\" 1e5\","), FWG_R_MEMBER_UNKNOWN);
	ck_assert_int_eq(parse_edit("\"version\":\"1.4.2\"", "\"version\":\"1\\\\\",\"v\":1.5"), FWG_R_NUMBER_INVALID);
	ck_assert_int_eq(parse_edit("\"version\":\"1.4.2\"", "\"version\":\"1\\\"\""), FWG_R_VERSION_INVALID);
	/* an escaped backslash followed by "u0000" is not a \u0000 escape */
	ck_assert_int_eq(parse_edit("\"version\":\"1.4.2\"", "\"version\":\"\\\\u0000\""), FWG_R_VERSION_INVALID);
}
END_TEST

START_TEST(size_limit)
{
	size_t len;
	char *text = vec_slurp("manifest.json", &len);
	size_t big = FWG_MANIFEST_MAX + 1; /* 81921 */
	char *buf = malloc(big);
	memcpy(buf, text, len);
	memset(buf + len, ' ', big - len);
	ck_assert_int_eq(parse_buf(buf, big, VENDOR, MODEL), FWG_R_TOO_LARGE);
	/* 81920 bytes is allowed */
	ck_assert_int_eq(parse_buf(buf, big - 1, VENDOR, MODEL), FWG_R_OK);
	/* size is checked before anything else */
	buf[0] = (char)0xff;
	ck_assert_int_eq(parse_buf(buf, big, VENDOR, MODEL), FWG_R_TOO_LARGE);
	free(buf);
	free(text);
}
END_TEST

/* A chunk list of n entries, with size/chunk_size to match. */
static char *chunk_list_manifest(unsigned n, size_t *len)
{
	size_t cap = 1024 + (size_t)n * 67;
	char *list = malloc(cap);
	size_t o = 0;
	o += (size_t)snprintf(list + o, cap - o, "\"chunk_sha256\":[");
	for(unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(list + o, cap - o, "%s\"%s\"", i ? "," : "", SHA_C0);
	snprintf(list + o, cap - o, "],");
	size_t l0;
	char *t0 = without_member("chunk_sha256", &l0);
	char *sig = strstr(t0, "\"signature\"");
	size_t pre = (size_t)(sig - t0);
	char *out = malloc(l0 + strlen(list) + 1);
	memcpy(out, t0, pre);
	strcpy(out + pre, list);
	strcat(out, sig);
	*len = strlen(out);
	free(t0);
	free(list);
	return out;
}

START_TEST(chunk_list_count)
{
	size_t len;
	char *t = chunk_list_manifest(1024, &len);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, MODEL), FWG_R_OK);
	struct fwg_manifest m;
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)t, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert_uint_eq(m.n_chunk_sha, 1024);
	ck_assert_uint_eq(m.nchunks, 3);
	size_t blen;
	char *base = fwg_manifest_signing_base(&m, &blen);
	ck_assert_ptr_nonnull(base);
	ck_assert_uint_eq(blen, strlen(base));
	fwg_manifest_free(&m);
	free(base);
	free(t);
	t = chunk_list_manifest(1025, &len);
	ck_assert_int_eq(parse_buf(t, len, VENDOR, MODEL), FWG_R_TOO_MANY_CHUNKS);
	free(t);
	t = chunk_list_manifest(0, &len);
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)t, len, VENDOR, MODEL, &m), FWG_R_OK);
	ck_assert(m.has_chunk_sha);
	ck_assert_uint_eq(m.n_chunk_sha, 0);
	fwg_manifest_free(&m);
	free(t);
}
END_TEST

START_TEST(signature_length)
{
	/* 8..FWG_SIG_MAX bytes of base64 */
	uint8_t raw[FWG_SIG_MAX + 1];
	memset(raw, 0x30, sizeof(raw));
	const size_t lens[] = { 7, 8, FWG_SIG_MAX, FWG_SIG_MAX + 1 };
	const enum fwg_reason want[] = { FWG_R_SIGNATURE_MALFORMED, FWG_R_OK, FWG_R_OK, FWG_R_SIGNATURE_MALFORMED };
	for(size_t i = 0; i < 4; i++){
		char b64[200], repl[220];
		fwg_b64_encode(raw, lens[i], b64, sizeof(b64));
		snprintf(repl, sizeof(repl), "\"signature\":\"%s\"", b64);
		ck_assert_msg(parse_edit(SIG, repl) == want[i], "length %zu", lens[i]);
	}
	ck_assert_int_eq(parse_edit(SIG, "\"signature\":\"\""), FWG_R_SIGNATURE_MALFORMED);
}
END_TEST

/* On failure *m is left alone (nothing to free, nothing half-written). */
START_TEST(output_untouched_on_error)
{
	struct fwg_manifest m, pattern;
	memset(&pattern, 0xa5, sizeof(pattern));
	memcpy(&m, &pattern, sizeof(m));
	size_t len;
	/* fails late: after the chunk list was allocated */
	char *t = edited("LLzU=\"", "LLzV=\"", &len);
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)t, len, VENDOR, MODEL, &m), FWG_R_SIGNATURE_MALFORMED);
	ck_assert(memcmp(&m, &pattern, sizeof(m)) == 0);
	free(t);
	t = edited("\"" SHA_C0 "\"", "\"c4cec\"", &len);
	ck_assert_int_eq(fwg_manifest_parse((uint8_t *)t, len, VENDOR, MODEL, &m), FWG_R_DIGEST_INVALID);
	ck_assert(memcmp(&m, &pattern, sizeof(m)) == 0);
	free(t);
}
END_TEST

START_TEST(order_of_checks)
{
	/* UTF-8 before JSON, numbers before syntax, members before fields */
	ck_assert_int_eq(parse_buf("{\"a\":\xff", 7, VENDOR, MODEL), FWG_R_NOT_UTF8);
	ck_assert_int_eq(parse_buf("{\"a\":1.5", 8, VENDOR, MODEL), FWG_R_NUMBER_INVALID);
	ck_assert_int_eq(parse_edit("\"format\":1,", "\"format\":2,\"x\":1,"), FWG_R_MEMBER_UNKNOWN);
	ck_assert_int_eq(parse_edit("\"format\":1,", "\"format\":2,"), FWG_R_FORMAT_UNSUPPORTED);
	/* missing is reported after the walk: an unknown member first */
	size_t len;
	char *t = without_member("size", &len);
	char *u = malloc(len + 16);
	strcpy(u, "{\"zz\":1,");
	strcat(u, t + 1);
	ck_assert_int_eq(parse_buf(u, strlen(u), VENDOR, MODEL), FWG_R_MEMBER_UNKNOWN);
	free(u);
	free(t);
}
END_TEST

START_TEST(deep_nesting)
{
	size_t n = 5000;
	char *buf = malloc(2 * n + 16);
	size_t o = 0;
	buf[o++] = '{';
	memcpy(buf + o, "\"x\":", 4); o += 4;
	for(size_t i = 0; i < n; i++) buf[o++] = '[';
	for(size_t i = 0; i < n; i++) buf[o++] = ']';
	buf[o++] = '}';
	enum fwg_reason r = parse_buf(buf, o, VENDOR, MODEL);
	ck_assert(r == FWG_R_JSON_INVALID || r == FWG_R_MEMBER_UNKNOWN);
	free(buf);
}
END_TEST

/* ---- the raw-text prescan on its own (also used for status JSON) ---- */

static enum fwg_reason prescan(const char *s, bool ints)
{
	return fwg_json_prescan((const uint8_t *)s, strlen(s), ints);
}

START_TEST(prescan_direct)
{
	ck_assert_int_eq(prescan("{\"a\":1,\"b\":[0,9007199254740991]}", true), FWG_R_OK);
	ck_assert_int_eq(prescan("{\"a\":9007199254740992}", true), FWG_R_NUMBER_INVALID);
	ck_assert_int_eq(prescan("{\"a\":-1}", true), FWG_R_NUMBER_INVALID);
	ck_assert_int_eq(prescan("{\"a\":1.5e3}", true), FWG_R_NUMBER_INVALID);
	/* without integers_only numbers are cJSON's business */
	ck_assert_int_eq(prescan("{\"a\":-1.5e3,\"b\":07}", false), FWG_R_OK);
	ck_assert_int_eq(prescan("{\"a\":\"x\\u0000\"}", false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(prescan("{\"a\":\"x\\\\u0000\"}", false), FWG_R_OK);
	ck_assert_int_eq(prescan("{\"a\":\"x\\\"1.5\"}", true), FWG_R_OK);
	ck_assert_int_eq(prescan("{\"a\":\"x\x1f\"}", false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(prescan("{\"a\":\"x\\", false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(prescan("{\"a\":\"x", false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(prescan("{\"a\":1}\x0b", false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(prescan(" {\"a\":\t1}\r\n", true), FWG_R_OK);
	ck_assert_int_eq(fwg_json_prescan((const uint8_t *)"{}\0", 3, false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(fwg_json_prescan((const uint8_t *)"\"a\0b\"", 5, false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(fwg_json_prescan(NULL, 0, false), FWG_R_JSON_INVALID);
	ck_assert_int_eq(fwg_json_prescan((const uint8_t *)"", 0, true), FWG_R_OK);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A chunk_sha256 list in the plain form is read from the raw text (no cJSON
 * nodes); any other spelling goes through cJSON. Both must give the same
 * manifest and the same errors. */
static const struct edit raw_list_edits[] = {
	{ "\"chunk_sha256\"", "\"chunk\\u005fsha256\"", FWG_R_OK },             /* escaped name: cJSON */
	{ "\"chunk_sha256\":[", "\"chunk_sha256\" :\n[ ", FWG_R_OK },            /* whitespace: raw */
	{ "\"chunk_sha256\":[\"c4", "\"chunk_sha256\":[\"\\u0063\\u0034", FWG_R_OK }, /* escaped digit: cJSON */
	{ "\"chunk_sha256\":[\"c4", "\"chunk_sha256\":[\"C4", FWG_R_DIGEST_INVALID },
	{ "\"chunk_sha256\":[\"c4", "\"chunk_sha256\":[\"c", FWG_R_DIGEST_INVALID },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[,", FWG_R_JSON_INVALID },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[\"" SHA_C0 "\"],\"chunk_sha256\":[", FWG_R_MEMBER_DUPLICATE },
	{ "\"chunk_sha256\":[", "\"chunk\\u005fsha256\":[],\"chunk_sha256\":[", FWG_R_MEMBER_DUPLICATE },
	{ "\"chunk_sha256\":[", "\"x\":{\"chunk_sha256\":[]},\"chunk_sha256\":[", FWG_R_MEMBER_UNKNOWN },
	{ "\"chunk_sha256\":[", "\"chunk_sha256\":[\"" SHA_C0 "\"]]],\"y\":[", FWG_R_JSON_INVALID },
};

START_TEST(raw_chunk_list)
{
	const struct edit *e = &raw_list_edits[_i];
	size_t len, len0;
	char *buf = edited(e->from, e->to, &len);
	char *base = vec_slurp("manifest.json", &len0);
	struct fwg_manifest m, m0;
	enum fwg_reason r = fwg_manifest_parse((const uint8_t *)buf, len, VENDOR, MODEL, &m);
	ck_assert_msg(r == e->want, "edit %d: got %s, want %s", _i, fwg_reason_str(r), fwg_reason_str(e->want));
	ck_assert_int_eq(fwg_manifest_parse((const uint8_t *)base, len0, VENDOR, MODEL, &m0), FWG_R_OK);
	if(r == FWG_R_OK){
		/* the same fields, digests and signature result as the vector */
		ck_assert(m.has_chunk_sha && m.n_chunk_sha == m0.n_chunk_sha);
		ck_assert_mem_eq(m.chunk_sha, m0.chunk_sha, (size_t)m0.n_chunk_sha * FWG_SHA256_LEN);
		ck_assert_uint_eq(m.sequence, m0.sequence);
		ck_assert_mem_eq(m.sha256, m0.sha256, FWG_SHA256_LEN);
		EVP_PKEY *k = vendor_pub();
		ck_assert_int_eq(fwg_manifest_verify(&m, k), FWG_R_OK);
		EVP_PKEY_free(k);
		fwg_manifest_free(&m);
	}
	fwg_manifest_free(&m0);
	free(buf);
	free(base);
}
END_TEST

/* fwg_manifest_parse_lean: the same result for every spelling; a plain
 * list stays in the text and reads back digest by digest; the signature
 * verifies from the text. */
static void check_lean(const char *buf, size_t len, enum fwg_reason want, bool plain, bool compact)
{
	size_t len0;
	char *base = vec_slurp("manifest.json", &len0);
	struct fwg_manifest m, m0;
	ck_assert_int_eq(fwg_manifest_parse((const uint8_t *)base, len0, VENDOR, MODEL, &m0), FWG_R_OK);
	enum fwg_reason r = fwg_manifest_parse_lean((const uint8_t *)buf, len, VENDOR, MODEL, &m);
	ck_assert_msg(r == want, "lean: got %s, want %s", fwg_reason_str(r), fwg_reason_str(want));
	if(r == FWG_R_OK){
		ck_assert(m.has_chunk_sha && m.n_chunk_sha == m0.n_chunk_sha);
		ck_assert(plain ? m.chunk_sha == NULL : m.chunk_sha != NULL);
		if(plain) ck_assert_int_eq(m.chunk_list_compact, compact);
		ck_assert_uint_eq(m.sequence, m0.sequence);
		for(uint32_t k = 0; k < m0.n_chunk_sha; k++){
			uint8_t d[FWG_SHA256_LEN];
			ck_assert_int_eq(fwg_manifest_chunk_sha(&m, (const uint8_t *)buf, len, k, d), 0);
			ck_assert_mem_eq(d, m0.chunk_sha[k], FWG_SHA256_LEN);
		}
		uint8_t d[FWG_SHA256_LEN];
		ck_assert_int_eq(fwg_manifest_chunk_sha(&m, (const uint8_t *)buf, len, m0.n_chunk_sha, d), -1);
		EVP_PKEY *k = vendor_pub(), *o = other_pub();
		ck_assert_int_eq(fwg_manifest_verify_raw(&m, (const uint8_t *)buf, len, k), FWG_R_OK);
		ck_assert_int_eq(fwg_manifest_verify_raw(&m, (const uint8_t *)buf, len, o), FWG_R_SIGNATURE_INVALID);
		if(plain){
			/* not the bytes it was parsed from: no digest, no signature */
			ck_assert_int_eq(fwg_manifest_verify(&m, k), FWG_R_NO_MEMORY);
			ck_assert_int_eq(fwg_manifest_chunk_sha(&m, NULL, 0, 0, d), -1);
			ck_assert_int_eq(fwg_manifest_chunk_sha(&m, (const uint8_t *)buf + 1, len - 1, 0, d), -1);
			ck_assert_int_eq(fwg_manifest_verify_raw(&m, (const uint8_t *)buf + 1, len - 1, k), FWG_R_SIGNATURE_INVALID);
			/* an edited digest in the text fails the signature */
			char *t = malloc(len);
			memcpy(t, buf, len);
			t[m.chunk_list_off + 2 + FWG_SHA256_HEX_LEN / 2] ^= 0x01;  /* a hex digit to another */
			ck_assert_int_eq(fwg_manifest_verify_raw(&m, (const uint8_t *)t, len, k), FWG_R_SIGNATURE_INVALID);
			free(t);
		}
		ck_assert_uint_eq(ERR_peek_error(), 0);
		EVP_PKEY_free(k);
		EVP_PKEY_free(o);
		fwg_manifest_free(&m);
	}
	fwg_manifest_free(&m0);
	free(base);
}

START_TEST(lean_vector)
{
	size_t len;
	char *buf = vec_slurp("manifest.json", &len);
	check_lean(buf, len, FWG_R_OK, true, true);
	free(buf);
}
END_TEST

START_TEST(lean_chunk_list)
{
	const struct edit *e = &raw_list_edits[_i];
	size_t len;
	char *buf = edited(e->from, e->to, &len);
	/* edits 0 and 2 are spellings only cJSON reads; 1 puts whitespace in */
	check_lean(buf, len, e->want, _i != 0 && _i != 2, _i != 1);
	free(buf);
}
END_TEST

static Suite *manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("known_answers");
	tcase_add_test(tc, parse_vector);
	tcase_add_loop_test(tc, signing_base_vector, 0, N(base_vectors));
	tcase_add_loop_test(tc, verify_vector, 0, N(base_vectors));
	tcase_add_test(tc, verify_tampered);
	tcase_add_test(tc, verify_chunk_list_removed);
	tcase_add_loop_test(tc, to_json_reproduces_vector, 0, N(base_vectors));
	tcase_add_test(tc, chunk_len);
	tcase_add_test(tc, copy_is_deep);
	tcase_add_loop_test(tc, raw_chunk_list, 0, N(raw_list_edits));
	tcase_add_test(tc, lean_vector);
	tcase_add_loop_test(tc, lean_chunk_list, 0, N(raw_list_edits));
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_add_loop_test(tc, round_trip, 0, 2);
	tcase_add_test(tc, sign_needs_ec_private);
	suite_add_tcase(s, tc);

	tc = tcase_create("parser");
	tcase_add_loop_test(tc, parse_edit_table, 0, N(edits));
	tcase_add_loop_test(tc, parse_accept_table, 0, N(accepts));
	tcase_add_loop_test(tc, missing_member, 0, N(member_names));
	tcase_add_test(tc, too_many_chunks_small_chunk);
	tcase_add_test(tc, vendor_model_without_expectation);
	tcase_add_test(tc, not_object);
	tcase_add_test(tc, truncated_and_trailing);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, escaped_quotes_in_strings);
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, chunk_list_count);
	tcase_add_test(tc, signature_length);
	tcase_add_test(tc, output_untouched_on_error);
	tcase_add_test(tc, order_of_checks);
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, prescan_direct);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(manifest_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
