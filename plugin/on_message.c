/* MOSQ_EVT_MESSAGE: the tag (§3) on what the write check passed, then the
 * commit; in relay mode the full checks on what the bridge brings in.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include "plugin.h"
#include "fwguard/codec.h"
#include "fwguard/tag.h"
#include "props.h"

enum { FWG_TAG_FRESH = 0, FWG_TAG_RETRY = 1 };

/* FWG_R_OK with *retry set when the same client re-sent a verified tag. */
static enum fwg_reason fwg_message__tag(struct fwg_plugin *p, struct mosquitto_evt_message *ed,
		const struct fwg_vendor *v, const uint8_t sha[FWG_SHA256_LEN], uint8_t mac[FWG_SHA256_LEN],
		int *retry)
{
	char *ts = NULL, *tag = NULL;
	enum fwg_reason r;
	int64_t now = fwg_now();

	*retry = FWG_TAG_FRESH;
	if(mosquitto_client_protocol_version(ed->client) != 5) return FWG_R_PROTOCOL_VERSION;
	r = fwg_props__tag(ed->properties, &ts, &tag);
	if(r == FWG_R_OK && !v->tag) r = FWG_R_INTERNAL;
	if(r == FWG_R_OK){
		r = fwg_tag_verify(v->tag, ed->topic, ts, strlen(ts), tag, strlen(tag), sha, now,
				p->cfg.tag_window, mac);
	}
	mosquitto_free(ts);
	mosquitto_free(tag);
	if(r != FWG_R_OK) return r;
	const char *cid = mosquitto_client_id(ed->client);
	switch(fwg_replay_check(p->replay, mac, cid ? cid : "", now, p->cfg.tag_window)){
		case FWG_REPLAY_OTHER_CLIENT: return FWG_R_TAG_REPLAYED;
		case FWG_REPLAY_SAME_CLIENT: *retry = FWG_TAG_RETRY; return FWG_R_OK;
		default: return FWG_R_OK;
	}
}

static void fwg_message__status(struct fwg_plugin *p, struct mosquitto_evt_message *ed,
		const struct fwg_topic *t, const struct fwg_status *st)
{
	struct fwg_event ev = { .event = "device.status", .vendor = t->vendor, .vendor_len = t->vendor_len,
		.model = t->model, .model_len = t->model_len, .client = ed->client };
	ed->retain = true;
	fwg_fleet__status(p, t->vendor, t->vendor_len, t->model, t->model_len, t->device, t->device_len, st);
	if(!fwg_trust_vendor(p->trust, t->vendor, t->vendor_len)) ev.vendor = ev.model = NULL;
	cJSON *rec = fwg_events__begin(p, &ev);
	if(!rec) return;
	cJSON_AddStringToObject(rec, "device", p->pending.device);
	cJSON_AddStringToObject(rec, "state", fwg_status_state_str(st->state));
	if(st->has_sequence) fwg_json_add_u64(rec, "sequence", st->sequence);
	if(st->has_progress) fwg_json_add_u64(rec, "progress", st->progress);
	if(st->has_error) cJSON_AddStringToObject(rec, "error", st->error);
	fwg_events__emit(p, &ev, rec);
}

static int fwg_message__deny(struct fwg_plugin *p, struct mosquitto_evt_message *ed,
		const struct fwg_topic *t, enum fwg_reason r)
{
	fwg_report__reject(p, ed->client, t, ed->topic, r);
	fwg_pending__clear(&p->pending);
	return MOSQ_ERR_ACL_DENIED;
}

/* A live publish that the write check passed: tag, then commit. */
static int fwg_message__checked(struct fwg_plugin *p, struct mosquitto_evt_message *ed,
		const struct fwg_topic *t)
{
	struct fwg_pending *pd = &p->pending;
	uint8_t mac[FWG_SHA256_LEN];
	int retry;
	enum fwg_reason r;

	if(pd->kind == FWG_PEND_STATUS){
		fwg_message__status(p, ed, t, &pd->status);
		fwg_pending__clear(pd);
		return MOSQ_ERR_SUCCESS;
	}
	if(!pd->have_sha){
		fwg_sha256(ed->payload, ed->payloadlen, pd->sha);
		pd->have_sha = true;
	}
	r = fwg_message__tag(p, ed, pd->vendor, pd->sha, mac, &retry);
	if(r != FWG_R_OK) return fwg_message__deny(p, ed, t, r);
	ed->retain = true;
	if(retry == FWG_TAG_RETRY){
		/* A QoS retry of what was already processed: acknowledged, no effect. */
		fwg_pending__clear(pd);
		return MOSQ_ERR_SUCCESS;
	}
	if(pd->kind == FWG_PEND_MANIFEST){
		r = fwg_commit__manifest(p, ed->client, pd->raw, pd->raw_len, &pd->m, "publish");
		if(r != FWG_R_OK) return fwg_message__deny(p, ed, t, r);
	}else if(pd->kind == FWG_PEND_REPUBLISH){
		struct fwg_event ev = { .event = "manifest.republished", .vendor = t->vendor,
			.vendor_len = t->vendor_len, .model = t->model, .model_len = t->model_len, .client = ed->client };
		if(fwg_events__simple(p, &ev, ed->topic)) return fwg_message__deny(p, ed, t, FWG_R_AUDIT_WRITE);
	}else{
		struct fwg_model_state *ms = fwg_state_get(p->state, t->vendor, t->vendor_len, t->model, t->model_len);
		if(ms) fwg_commit__chunk(p, ed->client, ms, t->index);
	}
	const char *cid = mosquitto_client_id(ed->client);
	fwg_replay_insert(p->replay, mac, cid ? cid : "", fwg_now());
	fwg_pending__clear(pd);
	return MOSQ_ERR_SUCCESS;
}

/* A publish that no write check saw: a bridge (Mosquitto skips ACL checks
 * for bridges). Relay mode verifies it; origin mode takes no firmware that way. */
static int fwg_message__unchecked(struct fwg_plugin *p, struct mosquitto_evt_message *ed,
		const struct fwg_topic *t)
{
	if(p->cfg.mode == FWG_MODE_ORIGIN) return fwg_message__deny(p, ed, t, FWG_R_ROUTE_UNCHECKED);
	if(t->kind == FWG_T_INVALID) return fwg_message__deny(p, ed, t, FWG_R_TOPIC_INVALID);
	if(t->kind != FWG_T_MANIFEST && t->kind != FWG_T_CHUNK) return MOSQ_ERR_SUCCESS;

	/* Upstream clearing the retained chunks of a superseded image: this
	 * relay clears its own when it accepts the newer manifest. */
	if(t->kind == FWG_T_CHUNK && ed->payloadlen == 0) return MOSQ_ERR_ACL_DENIED;
	const struct fwg_vendor *v = fwg_trust_vendor(p->trust, t->vendor, t->vendor_len);
	if(!v) return fwg_message__deny(p, ed, t, FWG_R_UNKNOWN_VENDOR);
	enum fwg_reason r;
	ed->retain = true;
	if(t->kind == FWG_T_MANIFEST){
		struct fwg_manifest m;
		bool republish;
		r = fwg_checks__manifest(p, v, t, ed->payload, ed->payloadlen, &m, &republish);
		if(r != FWG_R_OK) return fwg_message__deny(p, ed, t, r);
		if(republish){
			fwg_manifest_free(&m);
			return MOSQ_ERR_SUCCESS;
		}
		r = fwg_commit__manifest(p, ed->client, ed->payload, ed->payloadlen, &m, "bridge");
		return r == FWG_R_OK ? MOSQ_ERR_SUCCESS : fwg_message__deny(p, ed, t, r);
	}
	bool have_sha = false;
	uint8_t sha[FWG_SHA256_LEN];
	r = fwg_checks__chunk(p, t, ed->payload, ed->payloadlen, &have_sha, sha);
	if(r != FWG_R_OK) return fwg_message__deny(p, ed, t, r);
	fwg_commit__chunk(p, ed->client, fwg_state_get(p->state, t->vendor, t->vendor_len,
				t->model, t->model_len), t->index);
	return MOSQ_ERR_SUCCESS;
}

int fwg_message__on(int event, void *event_data, void *userdata)
{
	struct fwg_plugin *p = userdata;
	struct mosquitto_evt_message *ed = event_data;
	struct fwg_pending *pd = &p->pending;
	struct fwg_topic t = { 0 };
	(void)event;

	p->evcount++;
	if(!p->ticked) fwg_plugin__tick_watch(p);
	bool match = pd->kind != FWG_PEND_NONE && pd->stamp + 1 == p->evcount && pd->client == ed->client
		&& pd->payload == ed->payload && pd->payloadlen == ed->payloadlen;
	if(!match && pd->kind != FWG_PEND_NONE) fwg_plugin__settle(p);

	if(!fwg_topic_maybe_inside(p->cfg.prefix, ed->topic)) return MOSQ_ERR_SUCCESS;
	t.kind = fwg_topic_parse(p->cfg.prefix, p->cfg.prefix_len, ed->topic, &t);
	if(t.kind == FWG_T_OUTSIDE) return MOSQ_ERR_SUCCESS;
	if(!match) return fwg_message__unchecked(p, ed, &t);
	return fwg_message__checked(p, ed, &t);
}
