/* Audit records and the model's events topic (§8). SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"

static void copy_id(char *dst, const char *src, size_t len)
{
	if(len > FWG_ID_MAX) len = FWG_ID_MAX;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

cJSON *fwg_events__begin(struct fwg_plugin *p, const struct fwg_event *ev)
{
	char vendor[FWG_ID_MAX + 1], model[FWG_ID_MAX + 1];
	const char *cid = ev->client_id ? ev->client_id : ev->client ? mosquitto_client_id(ev->client) : NULL;
	uint64_t suppressed = 0;

	if(ev->denial && !fwg_ratelimit_allow(p->ratelimit, cid ? cid : "", fwg_now(), &suppressed)){
		return NULL;
	}
	if(ev->vendor) copy_id(vendor, ev->vendor, ev->vendor_len);
	if(ev->model) copy_id(model, ev->model, ev->model_len);
	cJSON *rec = fwg_audit_record(ev->event, ev->vendor ? vendor : NULL, ev->model ? model : NULL,
			cid ? cid : (ev->client ? "" : NULL), ev->reason != FWG_R_OK ? fwg_reason_str(ev->reason) : NULL);
	if(rec && suppressed) fwg_json_add_u64(rec, "suppressed", suppressed);
	return rec;
}

int fwg_events__emit(struct fwg_plugin *p, const struct fwg_event *ev, cJSON *rec)
{
	char *line = NULL;
	size_t len = 0;

	if(!rec) return 0;
	if(fwg_audit_append(p->audit, rec, &line, &len)){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "cannot append %s to audit log \"%s\": %s%s",
				ev->event, p->cfg.audit_log, strerror(errno),
				p->cfg.audit_fail_open ? " (audit_failure open: going on)" : "");
		return p->cfg.audit_fail_open ? 0 : -1;
	}
	if(ev->reason != FWG_R_OK){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, FWG_LOG_PREFIX "%s", line);
	}
	if(ev->vendor && ev->model && len <= INT32_MAX){
		char topic[256];
		int n = snprintf(topic, sizeof(topic), "%s/%.*s/%.*s/events", p->cfg.prefix,
				(int)ev->vendor_len, ev->vendor, (int)ev->model_len, ev->model);
		if(n > 0 && (size_t)n < sizeof(topic)){
			mosquitto_broker_publish_copy(NULL, topic, (int)len, line, 1, false, NULL);
		}
	}
	free(line);
	return 0;
}

int fwg_events__simple(struct fwg_plugin *p, const struct fwg_event *ev, const char *topic)
{
	cJSON *rec = fwg_events__begin(p, ev);
	if(!rec) return 0;
	if(topic) cJSON_AddStringToObject(rec, "topic", topic);
	return fwg_events__emit(p, ev, rec);
}

void fwg_report__reject(struct fwg_plugin *p, const struct mosquitto *client,
		const struct fwg_topic *t, const char *topic, enum fwg_reason r)
{
	bool registered = t->kind >= FWG_T_MANIFEST && t->vendor
		&& fwg_trust_vendor(p->trust, t->vendor, t->vendor_len);
	struct fwg_event ev = {
		.event = t->kind == FWG_T_MANIFEST ? "manifest.rejected"
			: t->kind == FWG_T_CHUNK ? "chunk.rejected" : "publish.denied",
		.vendor = registered ? t->vendor : NULL, .vendor_len = t->vendor_len,
		.model = registered ? t->model : NULL, .model_len = t->model_len,
		.client = client, .reason = r, .denial = true,
	};
	cJSON *rec = fwg_events__begin(p, &ev);
	if(!rec) return;
	cJSON_AddStringToObject(rec, "topic", topic);
	if(t->kind == FWG_T_CHUNK){
		fwg_json_add_u64(rec, "sequence", t->sequence);
		fwg_json_add_u64(rec, "index", t->index);
	}
	fwg_events__emit(p, &ev, rec);
}
