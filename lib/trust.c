/* Trust store (§10): strict load, fail closed. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include "fwguard/trust.h"
#include "fwguard/keys.h"
#include "fwguard/codec.h"
#include "fwguard/map.h"
#include "fwguard/topic.h"
#include "json_lex.h"

#define TRUST_MAX_BYTES (16u * 1024u * 1024u)

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if(!err || !errlen) return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void vendor_clear(struct fwg_vendor *v)
{
	for(size_t i = 0; i < v->n_usernames; i++) free(v->usernames[i]);
	free(v->usernames);
	EVP_PKEY_free(v->ecdh_pub);
	for(size_t i = 0; i < v->n_keys; i++) EVP_PKEY_free(v->keys[i].pub);
	free(v->keys);
	for(size_t i = 0; i < v->n_models; i++) free(v->models[i]);
	free(v->models);
	free(v->floors);
	fwg_tag_ctx_free(v->tag);
	memset(v, 0, sizeof(*v));
}

void fwg_trust_free(struct fwg_trust *t)
{
	if(!t) return;
	for(size_t i = 0; i < t->n_vendors; i++) vendor_clear(&t->vendors[i]);
	free(t->vendors);
	fwg_map_free(t->by_id, NULL);
	fwg_map_free(t->by_username, NULL);
	free(t);
}

/* Members of an object must be from the allow-list and appear once. */
static int check_members(const cJSON *obj, const char *const *allowed, const char *where,
		char *err, size_t errlen)
{
	unsigned seen = 0;
	for(const cJSON *c = obj->child; c; c = c->next){
		int k = -1;
		for(int i = 0; allowed[i]; i++){
			if(!strcmp(c->string, allowed[i])){
				k = i;
				break;
			}
		}
		if(k < 0){
			seterr(err, errlen, "%s: unknown member \"%s\"", where, c->string);
			return -1;
		}
		if(seen & (1u << k)){
			seterr(err, errlen, "%s: duplicate member \"%s\"", where, c->string);
			return -1;
		}
		seen |= 1u << k;
	}
	return 0;
}

static char **string_array(const cJSON *arr, size_t *n, bool ids, const char *where,
		const char *name, char *err, size_t errlen)
{
	if(!cJSON_IsArray(arr)){
		seterr(err, errlen, "%s: \"%s\" must be an array of strings", where, name);
		return NULL;
	}
	size_t count = (size_t)cJSON_GetArraySize(arr);
	if(count == 0){
		seterr(err, errlen, "%s: \"%s\" is empty", where, name);
		return NULL;
	}
	char **out = calloc(count, sizeof(*out));
	if(!out){
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	size_t i = 0;
	for(const cJSON *c = arr->child; c; c = c->next, i++){
		const char *s = cJSON_GetStringValue(c);
		size_t len = s ? strlen(s) : 0;
		bool ok = s && len > 0 && len <= 256 && fwg_utf8_valid((const uint8_t *)s, len)
			&& (!ids || fwg_id_valid(s, len));
		if(ok && !ids) ok = strchr(s, '/') == NULL && strchr(s, '+') == NULL && strchr(s, '#') == NULL;
		if(!ok){
			seterr(err, errlen, "%s: bad entry in \"%s\": \"%s\"", where, name, s ? s : "(not a string)");
			goto fail;
		}
		for(size_t j = 0; j < i; j++){
			if(!strcmp(out[j], s)){
				seterr(err, errlen, "%s: duplicate entry in \"%s\": \"%s\"", where, name, s);
				goto fail;
			}
		}
		out[i] = strdup(s);
		if(!out[i]){
			seterr(err, errlen, "out of memory");
			goto fail;
		}
	}
	*n = count;
	return out;
fail:
	for(size_t j = 0; j < count; j++) free(out[j]);
	free(out);
	return NULL;
}

static int parse_keys(const cJSON *arr, struct fwg_vendor *v, const char *where, char *err, size_t errlen)
{
	static const char *const allowed[] = { "public_key", "revoked", NULL };
	if(!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0){
		seterr(err, errlen, "%s: \"signing_keys\" must be a non-empty array", where);
		return -1;
	}
	size_t count = (size_t)cJSON_GetArraySize(arr);
	v->keys = calloc(count, sizeof(*v->keys));
	if(!v->keys){
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for(const cJSON *c = arr->child; c; c = c->next){
		if(!cJSON_IsObject(c) || check_members(c, allowed, where, err, errlen)){
			if(!cJSON_IsObject(c)) seterr(err, errlen, "%s: signing_keys entries must be objects", where);
			return -1;
		}
		const cJSON *pk = cJSON_GetObjectItemCaseSensitive(c, "public_key");
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(c, "revoked");
		const char *b64 = cJSON_GetStringValue(pk);
		struct fwg_signing_key *k = &v->keys[v->n_keys];
		if(!b64 || fwg_key_parse_public_b64(b64, strlen(b64), &k->pub)){
			seterr(err, errlen, "%s: signing key \"%.40s\" is not a base64 DER P-256 public key",
					where, b64 ? b64 : "(missing)");
			return -1;
		}
		v->n_keys++;
		if(rv && !cJSON_IsBool(rv)){
			seterr(err, errlen, "%s: \"revoked\" must be true or false", where);
			return -1;
		}
		k->revoked = rv && cJSON_IsTrue(rv);
		if(fwg_key_id(k->pub, k->key_id)){
			seterr(err, errlen, "%s: cannot compute a key id", where);
			return -1;
		}
		for(size_t j = 0; j + 1 < v->n_keys; j++){
			if(!strcmp(v->keys[j].key_id, k->key_id)){
				seterr(err, errlen, "%s: signing key %s listed twice", where, k->key_id);
				return -1;
			}
		}
	}
	return 0;
}

static int parse_floors(const cJSON *obj, struct fwg_vendor *v, const char *where, char *err, size_t errlen)
{
	if(!cJSON_IsObject(obj)){
		seterr(err, errlen, "%s: \"min_sequence\" must be an object", where);
		return -1;
	}
	size_t count = (size_t)cJSON_GetArraySize(obj);
	v->floors = calloc(count ? count : 1, sizeof(*v->floors));
	if(!v->floors){
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for(const cJSON *c = obj->child; c; c = c->next){
		size_t len = strlen(c->string);
		double d = cJSON_IsNumber(c) ? c->valuedouble : -1;
		if(!fwg_id_valid(c->string, len) || !(d >= 0 && d <= (double)FWG_INT_MAX) || d != (double)(uint64_t)d){
			seterr(err, errlen, "%s: bad min_sequence entry \"%s\"", where, c->string);
			return -1;
		}
		for(size_t j = 0; j < v->n_floors; j++){
			if(!strcmp(v->floors[j].model, c->string)){
				seterr(err, errlen, "%s: duplicate min_sequence entry \"%s\"", where, c->string);
				return -1;
			}
		}
		memcpy(v->floors[v->n_floors].model, c->string, len + 1);
		v->floors[v->n_floors].floor = (uint64_t)d;
		v->n_floors++;
	}
	return 0;
}

static int parse_vendor(const cJSON *o, size_t idx, struct fwg_vendor *v, EVP_PKEY *broker_priv,
		char *err, size_t errlen)
{
	static const char *const allowed[] = { "id", "usernames", "ecdh_public_key", "signing_keys",
		"models", "min_sequence", NULL };
	char where[96];
	snprintf(where, sizeof(where), "vendors[%zu]", idx);
	if(!cJSON_IsObject(o)){
		seterr(err, errlen, "%s: must be an object", where);
		return -1;
	}
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
	if(!id || !fwg_id_valid(id, strlen(id))){
		seterr(err, errlen, "%s: bad or missing \"id\" \"%s\"", where, id ? id : "");
		return -1;
	}
	memcpy(v->id, id, strlen(id) + 1);
	snprintf(where, sizeof(where), "vendor \"%s\"", id);
	if(check_members(o, allowed, where, err, errlen)) return -1;

	const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "usernames");
	if(!u){
		seterr(err, errlen, "%s: missing \"usernames\"", where);
		return -1;
	}
	v->usernames = string_array(u, &v->n_usernames, false, where, "usernames", err, errlen);
	if(!v->usernames) return -1;

	const char *ecdh = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ecdh_public_key"));
	if(!ecdh || fwg_key_parse_public_b64(ecdh, strlen(ecdh), &v->ecdh_pub)){
		seterr(err, errlen, "%s: ecdh_public_key \"%.40s\" is not a base64 DER P-256 public key",
				where, ecdh ? ecdh : "(missing)");
		return -1;
	}
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(o, "signing_keys");
	if(!sk){
		seterr(err, errlen, "%s: missing \"signing_keys\"", where);
		return -1;
	}
	if(parse_keys(sk, v, where, err, errlen)) return -1;

	const cJSON *models = cJSON_GetObjectItemCaseSensitive(o, "models");
	v->any_model = models == NULL;
	if(models){
		v->models = string_array(models, &v->n_models, true, where, "models", err, errlen);
		if(!v->models) return -1;
	}
	const cJSON *floors = cJSON_GetObjectItemCaseSensitive(o, "min_sequence");
	if(floors && parse_floors(floors, v, where, err, errlen)) return -1;

	if(broker_priv){
		uint8_t k[32];
		if(fwg_key_derive_tag_key(broker_priv, v->ecdh_pub, v->id, k)){
			seterr(err, errlen, "%s: ECDH with the broker key failed", where);
			return -1;
		}
		v->tag = fwg_tag_ctx_new(k);
		OPENSSL_cleanse(k, sizeof(k));
		if(!v->tag){
			seterr(err, errlen, "%s: cannot set up the HMAC context", where);
			return -1;
		}
	}
	return 0;
}

static int index_vendors(struct fwg_trust *t, char *err, size_t errlen)
{
	t->by_id = fwg_map_new(t->n_vendors);
	t->by_username = fwg_map_new(t->n_vendors * 2);
	if(!t->by_id || !t->by_username){
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for(size_t i = 0; i < t->n_vendors; i++){
		struct fwg_vendor *v = &t->vendors[i];
		if(fwg_map_get(t->by_id, v->id, strlen(v->id))){
			seterr(err, errlen, "vendor id \"%s\" registered twice", v->id);
			return -1;
		}
		if(fwg_map_put(t->by_id, v->id, strlen(v->id), v)) goto oom;
		for(size_t j = 0; j < v->n_usernames; j++){
			const char *u = v->usernames[j];
			if(fwg_map_get(t->by_username, u, strlen(u))){
				seterr(err, errlen, "username \"%s\" registered for two vendors", u);
				return -1;
			}
			if(fwg_map_put(t->by_username, u, strlen(u), v)) goto oom;
		}
	}
	return 0;
oom:
	seterr(err, errlen, "out of memory");
	return -1;
}

int fwg_trust_parse(const char *json, size_t len, EVP_PKEY *broker_priv, struct fwg_trust **out,
		char *err, size_t errlen)
{
	static const char *const top_allowed[] = { "vendors", NULL };
	struct fwg_trust *t = NULL;
	cJSON *root = NULL;
	int rc = -1;

	if(fwg_json_prescan((const uint8_t *)json, len, false) != FWG_R_OK){
		seterr(err, errlen, "not valid JSON text");
		return -1;
	}
	char *copy = malloc(len + 1);
	if(!copy){
		seterr(err, errlen, "out of memory");
		return -1;
	}
	memcpy(copy, json, len);
	copy[len] = '\0';
	root = cJSON_ParseWithOpts(copy, NULL, 1);
	free(copy);
	if(!cJSON_IsObject(root)){
		seterr(err, errlen, "not a JSON object");
		goto out;
	}
	if(check_members(root, top_allowed, "trust store", err, errlen)) goto out;
	const cJSON *vendors = cJSON_GetObjectItemCaseSensitive(root, "vendors");
	if(!cJSON_IsArray(vendors)){
		seterr(err, errlen, "trust store: \"vendors\" must be an array");
		goto out;
	}
	t = calloc(1, sizeof(*t));
	size_t n = (size_t)cJSON_GetArraySize(vendors);
	if(!t || !(t->vendors = calloc(n ? n : 1, sizeof(*t->vendors)))){
		seterr(err, errlen, "out of memory");
		goto out;
	}
	size_t i = 0;
	for(const cJSON *c = vendors->child; c; c = c->next, i++){
		t->n_vendors = i + 1;
		if(parse_vendor(c, i, &t->vendors[i], broker_priv, err, errlen)) goto out;
	}
	t->n_vendors = n;
	if(index_vendors(t, err, errlen)) goto out;
	*out = t;
	t = NULL;
	rc = 0;
out:
	cJSON_Delete(root);
	fwg_trust_free(t);
	return rc;
}

int fwg_trust_load(const char *path, EVP_PKEY *broker_priv, struct fwg_trust **out,
		char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if(!f){
		seterr(err, errlen, "cannot open trust store \"%s\": %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(TRUST_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, TRUST_MAX_BYTES + 1, f) : 0;
	int ioerr = ferror(f);
	fclose(f);
	if(!buf || ioerr || n > TRUST_MAX_BYTES){
		seterr(err, errlen, "cannot read trust store \"%s\"%s", path,
				n > TRUST_MAX_BYTES ? ": larger than 16 MiB" : "");
		free(buf);
		return -1;
	}
	char inner[384];
	int rc = fwg_trust_parse(buf, n, broker_priv, out, inner, sizeof(inner));
	free(buf);
	if(rc) seterr(err, errlen, "trust store \"%s\": %s", path, inner);
	return rc;
}

const struct fwg_vendor *fwg_trust_vendor(const struct fwg_trust *t, const char *id, size_t len)
{
	return t ? fwg_map_get(t->by_id, id, len) : NULL;
}

const struct fwg_vendor *fwg_trust_vendor_by_username(const struct fwg_trust *t, const char *username)
{
	if(!t || !username) return NULL;
	return fwg_map_get(t->by_username, username, strlen(username));
}

bool fwg_vendor_model_allowed(const struct fwg_vendor *v, const char *model, size_t len)
{
	if(v->any_model) return true;
	for(size_t i = 0; i < v->n_models; i++){
		if(strlen(v->models[i]) == len && !memcmp(v->models[i], model, len)) return true;
	}
	return false;
}

uint64_t fwg_vendor_floor(const struct fwg_vendor *v, const char *model)
{
	for(size_t i = 0; i < v->n_floors; i++){
		if(!strcmp(v->floors[i].model, model)) return v->floors[i].floor;
	}
	return 0;
}

enum fwg_reason fwg_vendor_key(const struct fwg_vendor *v, const char *key_id, EVP_PKEY **pub)
{
	for(size_t i = 0; i < v->n_keys; i++){
		if(!strcmp(v->keys[i].key_id, key_id)){
			if(v->keys[i].revoked) return FWG_R_KEY_REVOKED;
			*pub = v->keys[i].pub;
			return FWG_R_OK;
		}
	}
	return FWG_R_KEY_UNKNOWN;
}
