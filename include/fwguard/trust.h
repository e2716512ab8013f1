/* The trust store of §10: registered vendors, identities and keys.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_TRUST_H
#define FWGUARD_TRUST_H
#include <openssl/evp.h>
#include "fwguard/fwguard.h"
#include "fwguard/tag.h"

struct fwg_signing_key {
	EVP_PKEY *pub;
	char key_id[FWG_KEY_ID_LEN + 1];
	bool revoked;
};

struct fwg_floor {
	char model[FWG_ID_MAX + 1];
	uint64_t floor;
};

struct fwg_vendor {
	char id[FWG_ID_MAX + 1];
	char **usernames; size_t n_usernames;
	EVP_PKEY *ecdh_pub;
	struct fwg_signing_key *keys; size_t n_keys;
	char **models; size_t n_models; bool any_model;
	struct fwg_floor *floors; size_t n_floors;
	struct fwg_tag_ctx *tag;   /* NULL when loaded without a broker key */
};

struct fwg_trust {
	struct fwg_vendor *vendors; size_t n_vendors;
	struct fwg_map *by_id;        /* id -> struct fwg_vendor * */
	struct fwg_map *by_username;  /* username -> struct fwg_vendor * */
};

/* Load and validate strictly (unknown members, duplicates of vendor ids,
 * usernames or key ids, bad keys all fail). With broker_priv, derive each
 * vendor's tag key and HMAC context. 0, or -1 with a one-line message. */
int fwg_trust_load(const char *path, EVP_PKEY *broker_priv, struct fwg_trust **out,
		char *err, size_t errlen);
int fwg_trust_parse(const char *json, size_t len, EVP_PKEY *broker_priv,
		struct fwg_trust **out, char *err, size_t errlen);
void fwg_trust_free(struct fwg_trust *t);

const struct fwg_vendor *fwg_trust_vendor(const struct fwg_trust *t, const char *id, size_t len);
const struct fwg_vendor *fwg_trust_vendor_by_username(const struct fwg_trust *t, const char *username);
bool fwg_vendor_model_allowed(const struct fwg_vendor *v, const char *model, size_t len);
uint64_t fwg_vendor_floor(const struct fwg_vendor *v, const char *model);
/* FWG_R_OK with *pub, FWG_R_KEY_UNKNOWN or FWG_R_KEY_REVOKED. */
enum fwg_reason fwg_vendor_key(const struct fwg_vendor *v, const char *key_id, EVP_PKEY **pub);
#endif
