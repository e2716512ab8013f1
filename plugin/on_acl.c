/* MOSQ_EVT_ACL_CHECK: identity + topic -> allow / deny / defer (§6, §7).
 * The READ check runs for every delivery to every subscriber: it parses the
 * topic in one pass and does one hash lookup, nothing else.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>
#include "plugin.h"

enum fwg_ident_kind { FWG_ID_NOBODY = 0, FWG_ID_VENDOR, FWG_ID_DEVICE, FWG_ID_GATEWAY };
struct fwg_ident {
	enum fwg_ident_kind kind;
	const struct fwg_vendor *vendor;            /* FWG_ID_VENDOR */
	const char *v, *m, *d; size_t vl, ml, dl;   /* FWG_ID_DEVICE: "<vendor>/<model>/<device>" */
};

static void fwg_acl__identify(const struct fwg_plugin *p, const struct mosquitto *client,
		struct fwg_ident *id)
{
	const char *u = mosquitto_client_username(client);
	memset(id, 0, sizeof(*id));
	if(!u) return;
	id->vendor = fwg_trust_vendor_by_username(p->trust, u);
	if(id->vendor){
		id->kind = FWG_ID_VENDOR;
		return;
	}
	if(p->cfg.gateways && fwg_map_get(p->cfg.gateways, u, strlen(u))){
		id->kind = FWG_ID_GATEWAY;
		return;
	}
	const char *s1 = strchr(u, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if(!s2 || strchr(s2 + 1, '/')) return;
	id->v = u; id->vl = (size_t)(s1 - u);
	id->m = s1 + 1; id->ml = (size_t)(s2 - s1 - 1);
	id->d = s2 + 1; id->dl = strlen(s2 + 1);
	if(fwg_id_valid(id->v, id->vl) && fwg_id_valid(id->m, id->ml) && fwg_id_valid(id->d, id->dl)
			&& fwg_trust_vendor(p->trust, id->v, id->vl)){
		id->kind = FWG_ID_DEVICE;
	}
}

static bool same(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

static int fwg_acl__other(const struct fwg_plugin *p)
{
	switch(p->cfg.other_topics){
		case FWG_OTHER_ALLOW: return MOSQ_ERR_SUCCESS;
		case FWG_OTHER_DENY: return MOSQ_ERR_ACL_DENIED;
		default: return MOSQ_ERR_PLUGIN_DEFER;
	}
}

/* Per delivery: one pass over the topic, then either one hash lookup (a
 * vendor or gateway username) or a comparison of the device username's
 * "<vendor>/<model>/<device>" with the topic's levels, which the topic
 * parser has already validated. Vendor usernames never contain '/' (the
 * trust store refuses them), so the two cases are told apart by that. */
static int fwg_acl__read(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed)
{
	struct fwg_topic t;
	switch(fwg_topic_parse(p->cfg.prefix, p->cfg.prefix_len, ed->topic, &t)){
		case FWG_T_OUTSIDE: return fwg_acl__other(p);
		case FWG_T_INVALID: return MOSQ_ERR_ACL_DENIED;
		default: break;
	}
	/* Only what fwguard accepted leaves the broker on a firmware topic,
	 * whatever route put it there: the accepted manifest byte for byte, and
	 * chunks that fit it. (A relay whose bridge traffic skips the plugin has
	 * accepted nothing, so it delivers nothing.) */
	/* (A zero-length chunk is the broker clearing an old image: it carries
	 * nothing, and devices ignore it, §9.) */
	const struct fwg_model_state *ms = NULL;
	if(t.kind == FWG_T_MANIFEST || t.kind == FWG_T_CHUNK){
		ms = fwg_state_get(p->state, t.vendor, t.vendor_len, t.model, t.model_len);
	}
	if(t.kind == FWG_T_MANIFEST || (t.kind == FWG_T_CHUNK && ed->payloadlen)){
		if(!ms) return MOSQ_ERR_ACL_DENIED;
		if(t.kind == FWG_T_MANIFEST
				? (ed->payloadlen != ms->raw_len || memcmp(ed->payload, ms->raw, ms->raw_len))
				: fwg_policy_chunk(&ms->m, t.sequence, t.index, ed->payloadlen) != FWG_R_OK){
			return MOSQ_ERR_ACL_DENIED;
		}
	}
	const char *u = mosquitto_client_username(ed->client);
	if(!u) return MOSQ_ERR_ACL_DENIED;
	const char *s1 = strchr(u, '/');
	if(!s1){
		const struct fwg_vendor *v = fwg_trust_vendor_by_username(p->trust, u);
		if(v) return same(v->id, strlen(v->id), t.vendor, t.vendor_len) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		if(p->cfg.gateways && fwg_map_get(p->cfg.gateways, u, strlen(u))) return MOSQ_ERR_SUCCESS;
		return MOSQ_ERR_ACL_DENIED;
	}
	/* A device: "<vendor>/<model>/<device>" must name the topic's model. */
	const char *dev = u + t.vendor_len + 1 + t.model_len + 1;
	if((size_t)(s1 - u) != t.vendor_len || memcmp(u, t.vendor, t.vendor_len)
			|| strncmp(s1 + 1, t.model, t.model_len) || s1[1 + t.model_len] != '/'){
		return MOSQ_ERR_ACL_DENIED;
	}
	size_t dl = strlen(dev);
	if(!fwg_id_valid(dev, dl)) return MOSQ_ERR_ACL_DENIED;
	/* A relay whose bridge traffic is not verified passes no firmware on. */
	if(p->no_tick && p->cfg.mode == FWG_MODE_RELAY) return MOSQ_ERR_ACL_DENIED;
	switch(t.kind){
		case FWG_T_MANIFEST:
		case FWG_T_CHUNK:
			return fwg_fleet__rollout_allows(p, &t, ms, dev, dl) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		case FWG_T_STATUS:
			return same(dev, dl, t.device, t.device_len) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		default:
			return MOSQ_ERR_ACL_DENIED;
	}
}

/* A device may subscribe under its own model to: manifest, chunk/..., its
 * own status, or a wildcard there (deliveries are still filtered by READ). */
static bool fwg_acl__device_rest_ok(const struct fwg_ident *id, const struct fwg_filter *f)
{
	const char *r = f->rest;
	size_t n = f->rest_len;
	const char *slash = memchr(r, '/', n);
	size_t first = slash ? (size_t)(slash - r) : n;
	if(same(r, first, "+", 1) || same(r, first, "#", 1)) return true;
	if(same(r, n, "manifest", 8)) return true;
	if(same(r, first, "chunk", 5)) return true;
	if(same(r, first, "status", 6) && slash){
		return same(slash + 1, n - first - 1, id->d, id->dl);
	}
	return false;
}

static int fwg_acl__subscribe(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed)
{
	struct fwg_filter f;
	struct fwg_ident id;
	bool ok = false;
	switch(fwg_filter_classify(p->cfg.prefix, p->cfg.prefix_len, ed->topic, &f)){
		case FWG_F_OUTSIDE:
		case FWG_F_MIXED:
			return fwg_acl__other(p);
		default: break;
	}
	fwg_acl__identify(p, ed->client, &id);
	if(id.kind == FWG_ID_GATEWAY){
		ok = true;
	}else if(id.kind == FWG_ID_VENDOR){
		ok = !f.vendor_wild && same(f.vendor, f.vendor_len, id.vendor->id, strlen(id.vendor->id));
	}else if(id.kind == FWG_ID_DEVICE){
		ok = !f.vendor_wild && !f.model_wild && same(f.vendor, f.vendor_len, id.v, id.vl)
			&& same(f.model, f.model_len, id.m, id.ml) && fwg_acl__device_rest_ok(&id, &f);
	}
	if(ok) return MOSQ_ERR_SUCCESS;

	bool registered = !f.vendor_wild && !f.model_wild && fwg_trust_vendor(p->trust, f.vendor, f.vendor_len);
	struct fwg_event ev = {
		.event = "subscribe.denied", .client = ed->client, .reason = FWG_R_READ_DENIED, .denial = true,
		.vendor = registered ? f.vendor : NULL, .vendor_len = f.vendor_len,
		.model = registered ? f.model : NULL, .model_len = f.model_len,
	};
	fwg_events__simple(p, &ev, ed->topic);
	return MOSQ_ERR_ACL_DENIED;
}

static void fwg_acl__pend(struct fwg_plugin *p, enum fwg_pending_kind kind,
		const struct mosquitto_evt_acl_check *ed, const struct fwg_vendor *v, const struct fwg_topic *t)
{
	struct fwg_pending *pd = &p->pending;
	const char *cid = mosquitto_client_id(ed->client);
	fwg_pending__clear(pd);
	pd->kind = kind;
	pd->stamp = p->evcount;
	pd->client = ed->client;
	pd->payload = ed->payload;
	pd->payloadlen = ed->payloadlen;
	pd->vendor = v;
	snprintf(pd->client_id, sizeof(pd->client_id), "%s", cid ? cid : "");
	snprintf(pd->vendor_id, sizeof(pd->vendor_id), "%.*s", (int)t->vendor_len, t->vendor);
	snprintf(pd->model, sizeof(pd->model), "%.*s", (int)t->model_len, t->model);
	if(t->kind == FWG_T_STATUS) snprintf(pd->device, sizeof(pd->device), "%.*s", (int)t->device_len, t->device);
	pd->chunk_index = t->index;
}

static int fwg_acl__deny(struct fwg_plugin *p, const struct mosquitto *client, const struct fwg_topic *t,
		const char *topic, enum fwg_reason r)
{
	fwg_report__reject(p, client, t, topic, r);
	return MOSQ_ERR_ACL_DENIED;
}

static int fwg_acl__write_status(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed,
		const struct fwg_topic *t, bool is_will)
{
	struct fwg_ident id;
	struct fwg_status st;
	if(is_will) return fwg_acl__deny(p, ed->client, t, ed->topic, FWG_R_WILL_REFUSED);
	fwg_acl__identify(p, ed->client, &id);
	if(id.kind == FWG_ID_GATEWAY){
		/* forwarding the status of a device behind it */
	}else if(id.kind != FWG_ID_DEVICE || !same(id.v, id.vl, t->vendor, t->vendor_len)
			|| !same(id.m, id.ml, t->model, t->model_len) || !same(id.d, id.dl, t->device, t->device_len)){
		return fwg_acl__deny(p, ed->client, t, ed->topic, FWG_R_NOT_OWNER);
	}
	enum fwg_reason r = fwg_status_parse(ed->payload, ed->payloadlen, &st);
	if(r != FWG_R_OK){
		return fwg_acl__deny(p, ed->client, t, ed->topic, r == FWG_R_TOO_LARGE ? r : FWG_R_STATUS_INVALID);
	}
	fwg_acl__pend(p, FWG_PEND_STATUS, ed, NULL, t);
	p->pending.status = st;
	return MOSQ_ERR_SUCCESS;
}

static int fwg_acl__write_manifest(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed,
		const struct fwg_vendor *v, const struct fwg_topic *t, bool is_will)
{
	struct fwg_manifest m;
	bool republish;
	enum fwg_reason r = fwg_checks__manifest(p, v, t, ed->payload, ed->payloadlen, &m, &republish);
	if(r != FWG_R_OK) return fwg_acl__deny(p, ed->client, t, ed->topic, r);
	if(is_will){
		/* The vendor's own Will carrying authentic content that passes
		 * policy: accepted without a tag (PROTOCOL §6), state first. */
		if(republish){
			fwg_manifest_free(&m);
			struct fwg_event ev = { .event = "manifest.republished", .vendor = t->vendor,
				.vendor_len = t->vendor_len, .model = t->model, .model_len = t->model_len, .client = ed->client };
			fwg_events__simple(p, &ev, ed->topic);
			return MOSQ_ERR_SUCCESS;
		}
		r = fwg_commit__manifest(p, ed->client, ed->payload, ed->payloadlen, &m, "will");
		return r == FWG_R_OK ? MOSQ_ERR_SUCCESS : fwg_acl__deny(p, ed->client, t, ed->topic, r);
	}
	fwg_acl__pend(p, republish ? FWG_PEND_REPUBLISH : FWG_PEND_MANIFEST, ed, v, t);
	if(republish) fwg_manifest_free(&m);
	if(!republish){
		p->pending.raw = malloc(ed->payloadlen ? ed->payloadlen : 1);
		if(!p->pending.raw){
			fwg_manifest_free(&m);
			fwg_pending__clear(&p->pending);
			return fwg_acl__deny(p, ed->client, t, ed->topic, FWG_R_NO_MEMORY);
		}
		memcpy(p->pending.raw, ed->payload, ed->payloadlen);
		p->pending.raw_len = ed->payloadlen;
		p->pending.m = m;
	}
	return MOSQ_ERR_SUCCESS;
}

static int fwg_acl__write_chunk(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed,
		const struct fwg_vendor *v, const struct fwg_topic *t, bool is_will)
{
	bool have_sha = false;
	uint8_t sha[FWG_SHA256_LEN];
	enum fwg_reason r = fwg_checks__chunk(p, t, ed->payload, ed->payloadlen, &have_sha, sha);
	if(r != FWG_R_OK) return fwg_acl__deny(p, ed->client, t, ed->topic, r);
	if(is_will){
		struct fwg_model_state *ms = fwg_state_get(p->state, t->vendor, t->vendor_len, t->model, t->model_len);
		fwg_commit__chunk(p, ed->client, ms, t->index);
		return MOSQ_ERR_SUCCESS;
	}
	fwg_acl__pend(p, FWG_PEND_CHUNK, ed, v, t);
	p->pending.have_sha = have_sha;
	if(have_sha) memcpy(p->pending.sha, sha, sizeof(sha));
	return MOSQ_ERR_SUCCESS;
}

static int fwg_acl__write(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed)
{
	struct fwg_topic t = { 0 };
	struct fwg_ident id;
	/* Mosquitto 2.0 raises no message event for a Will; its write check
	 * comes straight after the client's disconnect event. */
	bool is_will = p->disconnecting == ed->client && p->disconnect_stamp + 1 == p->evcount;

	t.kind = fwg_topic_parse(p->cfg.prefix, p->cfg.prefix_len, ed->topic, &t);
	switch(t.kind){
		case FWG_T_OUTSIDE: return fwg_acl__other(p);
		case FWG_T_INVALID: return fwg_acl__deny(p, ed->client, &t, ed->topic, FWG_R_TOPIC_INVALID);
		case FWG_T_EVENTS:
		case FWG_T_FLEET: return fwg_acl__deny(p, ed->client, &t, ed->topic, FWG_R_TOPIC_RESERVED);
		case FWG_T_STATUS: return fwg_acl__write_status(p, ed, &t, is_will);
		default: break;
	}
	const struct fwg_vendor *v = fwg_trust_vendor(p->trust, t.vendor, t.vendor_len);
	if(!v) return fwg_acl__deny(p, ed->client, &t, ed->topic, FWG_R_UNKNOWN_VENDOR);
	/* In relay mode firmware comes only over the bridge, which skips ACL
	 * checks: any local publisher here is refused. */
	if(p->cfg.mode == FWG_MODE_RELAY) return fwg_acl__deny(p, ed->client, &t, ed->topic, FWG_R_NOT_VENDOR);
	fwg_acl__identify(p, ed->client, &id);
	if(id.kind != FWG_ID_VENDOR || id.vendor != v){
		return fwg_acl__deny(p, ed->client, &t, ed->topic, FWG_R_NOT_VENDOR);
	}
	if(t.kind == FWG_T_MANIFEST) return fwg_acl__write_manifest(p, ed, v, &t, is_will);
	return fwg_acl__write_chunk(p, ed, v, &t, is_will);
}

static int fwg_acl__unsubscribe(struct fwg_plugin *p, const struct mosquitto_evt_acl_check *ed)
{
	struct fwg_filter f;
	if(fwg_filter_classify(p->cfg.prefix, p->cfg.prefix_len, ed->topic, &f) == FWG_F_INSIDE){
		return MOSQ_ERR_SUCCESS;
	}
	return fwg_acl__other(p);
}

int fwg_acl__check(int event, void *event_data, void *userdata)
{
	struct fwg_plugin *p = userdata;
	const struct mosquitto_evt_acl_check *ed = event_data;
	(void)event;

	fwg_plugin__enter(p);
	if(!p->ticked) fwg_plugin__tick_watch(p);
	if(ed->topic[0] == '$' && !strncmp(ed->topic, FWG_CONTROL_TOPIC, sizeof(FWG_CONTROL_TOPIC) - 1)){
		/* Anyone may send commands (the handler answers "not authorized"
		 * to non-admins) and read the responses, which the broker sends to
		 * the requesting client only. */
		const char *rest = ed->topic + sizeof(FWG_CONTROL_TOPIC) - 1;
		if(ed->access == MOSQ_ACL_WRITE) return rest[0] ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_SUCCESS;
		return strcmp(rest, "/response") ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_SUCCESS;
	}
	/* Every publish and every delivery on an ordinary topic comes through
	 * here: one byte tells most of them apart from the firmware namespace.
	 * Subscriptions are filters ("#" reaches the namespace) and take the
	 * long way. */
	if(!fwg_topic_maybe_inside(p->cfg.prefix, ed->topic) && (ed->access == MOSQ_ACL_READ || ed->access == MOSQ_ACL_WRITE))
		return fwg_acl__other(p);
	switch(ed->access){
		case MOSQ_ACL_READ: return fwg_acl__read(p, ed);
		case MOSQ_ACL_WRITE: return fwg_acl__write(p, ed);
		case MOSQ_ACL_SUBSCRIBE: return fwg_acl__subscribe(p, ed);
		case MOSQ_ACL_UNSUBSCRIBE: return fwg_acl__unsubscribe(p, ed);
		default: return MOSQ_ERR_ACL_DENIED;
	}
}
