/* The checks that need no MQTT properties (§6 steps 3-6 and the chunk
 * rules). Shared by the ACL write check (origin) and relay mode.
 * SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include "plugin.h"
#include "fwguard/codec.h"

enum fwg_reason fwg_checks__manifest(struct fwg_plugin *p, const struct fwg_vendor *v,
		const struct fwg_topic *t, const uint8_t *payload, size_t len,
		struct fwg_manifest *m, bool *republish)
{
	char vendor[FWG_ID_MAX + 1], model[FWG_ID_MAX + 1];
	enum fwg_reason r;
	EVP_PKEY *pub = NULL;

	*republish = false;
	memcpy(vendor, t->vendor, t->vendor_len);
	vendor[t->vendor_len] = '\0';
	memcpy(model, t->model, t->model_len);
	model[t->model_len] = '\0';

	/* 3. JSON rules */
	r = fwg_manifest_parse(payload, len, vendor, model, m);
	if(r != FWG_R_OK) return r;

	/* 4. the model is one the vendor may publish */
	if(!fwg_vendor_model_allowed(v, model, t->model_len)){
		r = FWG_R_MODEL_NOT_ALLOWED;
		goto fail;
	}
	/* 5. key and signature */
	r = fwg_vendor_key(v, m->key_id, &pub);
	if(r == FWG_R_OK && fwg_state_key_revoked(p->state, v->id, m->key_id)) r = FWG_R_KEY_REVOKED;
	if(r != FWG_R_OK) goto fail;
	r = fwg_manifest_verify(m, pub);
	if(r != FWG_R_OK) goto fail;
	/* A byte-identical re-publish of the accepted manifest changes nothing
	 * (it restores a lost retained copy), whatever its age. */
	const struct fwg_model_state *ms = fwg_state_get(p->state, vendor, t->vendor_len, model, t->model_len);
	if(ms && ms->raw_len == len && !memcmp(ms->raw, payload, len)){
		*republish = true;
		return FWG_R_OK;
	}
	/* 6. policy */
	uint64_t floor = fwg_vendor_floor(v, model);
	const struct fwg_model_control *c = fwg_state_control(p->state, vendor, t->vendor_len, model, t->model_len);
	if(c && c->floor > floor) floor = c->floor;
	r = fwg_policy_manifest(m, ms ? ms->sequence : 0, floor, &p->cfg.limits, fwg_now());
	if(r != FWG_R_OK) goto fail;
	return FWG_R_OK;
fail:
	fwg_manifest_free(m);
	return r;
}

enum fwg_reason fwg_checks__chunk(struct fwg_plugin *p, const struct fwg_topic *t,
		const uint8_t *payload, size_t len, bool *have_sha, uint8_t sha[FWG_SHA256_LEN])
{
	const struct fwg_model_state *ms = fwg_state_get(p->state, t->vendor, t->vendor_len,
			t->model, t->model_len);
	enum fwg_reason r = fwg_policy_chunk(ms ? &ms->m : NULL, t->sequence, t->index, len);
	if(r != FWG_R_OK) return r;
	if(ms->m.has_chunk_sha){
		fwg_sha256(payload, len, sha);
		*have_sha = true;
		return fwg_policy_chunk_digest(&ms->m, t->index, sha);
	}
	return FWG_R_OK;
}
