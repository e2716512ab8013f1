/* libFuzzer target: the trust store loader fwg_trust_parse (§10), without
 * and with the vector broker ECDH key (tag keys derived).
 * SPDX-License-Identifier: Apache-2.0 */
#include <openssl/evp.h>
#include "fwguard/trust.h"
#include "fwguard/keys.h"
#include "fwguard/topic.h"
#include "fwguard/codec.h"
#include "fwguard/map.h"
#include "fuzz_common.h"

static EVP_PKEY *broker_priv, *vendor_ecdh_pub;
static uint8_t manifest_sha[32], manifest_tag[32];
static char *manifest_topic, *manifest_ts;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	char err[256] = "";
	/* fwg_key_load_private_pem refuses a key file readable by group or
	 * others, and the vectors are 0644: load a private (0600) copy. */
	size_t pem_len = 0;
	char *pem = fuzz_read_vector("broker-ecdh.pem", &pem_len);
	const char *path = fuzz_tmp_path("broker-key");
	fuzz_write_file(path, (const uint8_t *)pem, pem_len);
	free(pem);
	int rc = fwg_key_load_private_pem(path, &broker_priv, err, sizeof(err));
	unlink(path);
	if(rc != 0) {
		fprintf(stderr, "fuzz: broker-ecdh.pem: %s\n", err);
		abort();
	}
	size_t n = 0;
	char *b64 = fuzz_read_vector("vendor-ecdh.pub.b64", &n);
	while(n > 0 && (b64[n - 1] == '\n' || b64[n - 1] == '\r')) n--;
	if(fwg_key_parse_public_b64(b64, n, &vendor_ecdh_pub) != 0) abort();
	free(b64);
	char *h = fuzz_expected("manifest_sha256");
	fuzz_hex32(h, manifest_sha);
	free(h);
	h = fuzz_expected("manifest_tag");
	fuzz_hex32(h, manifest_tag);
	free(h);
	manifest_topic = fuzz_expected("manifest_topic");
	manifest_ts = fuzz_expected("manifest_tag_ts");
	return 0;
}

static void check_trust(const struct fwg_trust *t, bool with_key)
{
	FUZZ_CHECK(t->by_id && t->by_username);
	size_t users = 0;
	for(size_t i = 0; i < t->n_vendors; i++) {
		const struct fwg_vendor *v = &t->vendors[i];
		size_t idl = strlen(v->id);
		FUZZ_CHECK(fwg_id_valid(v->id, idl));
		FUZZ_CHECK(fwg_trust_vendor(t, v->id, idl) == v);
		FUZZ_CHECK(v->n_usernames >= 1 && v->ecdh_pub && v->n_keys >= 1);
		FUZZ_CHECK((v->tag != NULL) == with_key);
		for(size_t j = 0; j < v->n_usernames; j++) {
			FUZZ_CHECK(fwg_trust_vendor_by_username(t, v->usernames[j]) == v);
			users++;
		}
		for(size_t j = 0; j < v->n_keys; j++) {
			const struct fwg_signing_key *k = &v->keys[j];
			EVP_PKEY *pub = NULL;
			FUZZ_CHECK(strlen(k->key_id) == FWG_KEY_ID_LEN && fwg_is_lower_hex(k->key_id, FWG_KEY_ID_LEN));
			enum fwg_reason r = fwg_vendor_key(v, k->key_id, &pub);
			FUZZ_CHECK(r == (k->revoked ? FWG_R_KEY_REVOKED : FWG_R_OK));
			if(r == FWG_R_OK) FUZZ_CHECK(pub == k->pub);
		}
		EVP_PKEY *pub = NULL;
		enum fwg_reason r = fwg_vendor_key(v, "zzzzzzzzzzzzzzzz", &pub);
		FUZZ_CHECK(r == FWG_R_KEY_UNKNOWN);
		FUZZ_CHECK(v->any_model == (v->n_models == 0));
		for(size_t j = 0; j < v->n_models; j++) {
			FUZZ_CHECK(fwg_id_valid(v->models[j], strlen(v->models[j])));
			FUZZ_CHECK(fwg_vendor_model_allowed(v, v->models[j], strlen(v->models[j])));
		}
		for(size_t j = 0; j < v->n_floors; j++) {
			FUZZ_CHECK(v->floors[j].floor <= FWG_INT_MAX);
			FUZZ_CHECK(fwg_vendor_floor(v, v->floors[j].model) == v->floors[j].floor);
		}
		/* the vector vendor gets the vector tag key K */
		if(with_key && !strcmp(v->id, "acme") && EVP_PKEY_eq(v->ecdh_pub, vendor_ecdh_pub) == 1) {
			uint8_t mac[32];
			FUZZ_CHECK(fwg_tag_compute(v->tag, manifest_topic, manifest_ts, manifest_sha, mac) == 0);
			FUZZ_CHECK(memcmp(mac, manifest_tag, 32) == 0);
		}
	}
	FUZZ_CHECK(fwg_map_count(t->by_username) == users);
	FUZZ_CHECK(fwg_map_count(t->by_id) == t->n_vendors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = fuzz_dup_exact(data, size);   /* by length, not NUL-terminated */
	struct fwg_trust *t1 = NULL, *t2 = NULL;
	char err1[256], err2[256];
	memset(err1, 0x7f, sizeof(err1));
	memset(err2, 0x7f, sizeof(err2));
	int rc1 = fwg_trust_parse(json, size, NULL, &t1, err1, sizeof(err1));
	int rc2 = fwg_trust_parse(json, size, broker_priv, &t2, err2, sizeof(err2));
	FUZZ_CHECK(rc1 == 0 || rc1 == -1);
	FUZZ_CHECK(rc1 == rc2);
	if(rc1 != 0) {
		FUZZ_CHECK(t1 == NULL && t2 == NULL);
		FUZZ_CHECK(memchr(err1, 0, sizeof(err1)) && err1[0] != '\0');
		FUZZ_CHECK(memchr(err2, 0, sizeof(err2)) && err2[0] != '\0');
	} else {
		FUZZ_CHECK(t1 && t2 && t1->n_vendors == t2->n_vendors);
		check_trust(t1, false);
		check_trust(t2, true);
	}
	fwg_trust_free(t1);
	fwg_trust_free(t2);
	free(json);
	return 0;
}
