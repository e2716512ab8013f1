/* Durable state changes: accepted manifests, chunk tracking, retained
 * clean-up. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"
#include "fwguard/codec.h"

static void clear_chunks(struct fwg_plugin *p, const char *vendor, const char *model,
		uint64_t sequence, uint32_t nchunks)
{
	char topic[512];
	for(uint32_t i = 0; i < nchunks; i++){
		int n = snprintf(topic, sizeof(topic), "%s/%s/%s/chunk/%llu/%u", p->cfg.prefix, vendor, model,
				(unsigned long long)sequence, i);
		if(n > 0 && (size_t)n < sizeof(topic)){
			/* A zero-length retained message deletes the retained copy. */
			mosquitto_broker_publish(NULL, topic, 0, NULL, 0, true, NULL);
		}
	}
}

enum fwg_reason fwg_commit__manifest(struct fwg_plugin *p, const struct mosquitto *client,
		const uint8_t *raw, size_t len, struct fwg_manifest *m, const char *route)
{
	struct fwg_model_state next;
	char vendor[FWG_ID_MAX + 1], model[FWG_ID_MAX + 1], sha[FWG_SHA256_HEX_LEN + 1];
	const struct fwg_model_state *old = fwg_state_get(p->state, m->vendor, strlen(m->vendor),
			m->model, strlen(m->model));
	uint64_t old_seq = old ? old->sequence : 0;
	uint32_t old_chunks = old ? old->m.nchunks : 0;

	memset(&next, 0, sizeof(next));
	memcpy(vendor, m->vendor, sizeof(vendor));
	memcpy(model, m->model, sizeof(model));
	memcpy(next.vendor, vendor, sizeof(vendor));
	memcpy(next.model, model, sizeof(model));
	next.sequence = m->sequence;
	next.raw = malloc(len + 1);
	if(!next.raw){
		fwg_manifest_free(m);
		return FWG_R_NO_MEMORY;
	}
	memcpy(next.raw, raw, len);
	next.raw[len] = '\0';
	next.raw_len = len;
	next.m = *m;
	memset(m, 0, sizeof(*m));

	/* Durable first: only a state that is on disk lets the manifest through. */
	if(fwg_state_save(p->state, &next)){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "cannot write state file \"%s\": %s",
				p->cfg.state_file, strerror(errno));
		free(next.raw);
		fwg_manifest_free(&next.m);
		return FWG_R_STATE_WRITE;
	}
	struct fwg_event ev = {
		.event = "manifest.accepted", .vendor = vendor, .vendor_len = strlen(vendor),
		.model = model, .model_len = strlen(model), .client = client,
	};
	cJSON *rec = fwg_events__begin(p, &ev);
	if(rec){
		fwg_hex_encode(next.m.sha256, sizeof(next.m.sha256), sha);
		fwg_json_add_u64(rec, "sequence", next.m.sequence);
		cJSON_AddStringToObject(rec, "version", next.m.version);
		fwg_json_add_u64(rec, "size", next.m.size);
		cJSON_AddStringToObject(rec, "sha256", sha);
		fwg_json_add_u64(rec, "nchunks", next.m.nchunks);
		cJSON_AddStringToObject(rec, "key_id", next.m.key_id);
		fwg_json_add_u64(rec, "previous_sequence", old_seq);
		cJSON_AddStringToObject(rec, "route", route);
	}
	if(fwg_state_commit(p->state, &next)){
		/* Unreachable in practice (the entry exists or a put of a short key
		 * failed); the file already holds the new state, which is the safe
		 * direction: it never lowers a sequence. */
		cJSON_Delete(rec);
		free(next.raw);
		fwg_manifest_free(&next.m);
		return FWG_R_NO_MEMORY;
	}
	fwg_fleet__touch(p, vendor, model);
	if(fwg_events__emit(p, &ev, rec)) return FWG_R_AUDIT_WRITE;
	if(old_chunks) clear_chunks(p, vendor, model, old_seq, old_chunks);
	return FWG_R_OK;
}

void fwg_commit__chunk(struct fwg_plugin *p, const struct mosquitto *client,
		struct fwg_model_state *ms, uint64_t index)
{
	if(index >= ms->m.nchunks || (ms->seen[index / 8] & (1u << (index % 8)))) return;
	ms->seen[index / 8] |= (uint8_t)(1u << (index % 8));
	ms->seen_count++;
	if(ms->seen_count != ms->m.nchunks || ms->complete) return;
	/* Kept in memory: written with the next save of the state (the next
	 * accepted manifest, an operator change, the clean shutdown). The
	 * chunk path waits for no disk: an fsync here stalled every client of
	 * the broker at each image's last chunk (about 2 ms on this
	 * project's bench disk, strace: fsync, rename, fsync of the
	 * directory; far more on a gateway's SD card), for a flag that no
	 * check depends on (fleet status and the audit record). */
	ms->complete = true;
	fwg_fleet__touch(p, ms->vendor, ms->model);
	struct fwg_event ev = {
		.event = "image.complete", .vendor = ms->vendor, .vendor_len = strlen(ms->vendor),
		.model = ms->model, .model_len = strlen(ms->model), .client = client,
	};
	cJSON *rec = fwg_events__begin(p, &ev);
	if(rec){
		fwg_json_add_u64(rec, "sequence", ms->sequence);
		fwg_json_add_u64(rec, "nchunks", ms->m.nchunks);
		fwg_events__emit(p, &ev, rec);
	}
}

void fwg_commit__restore_retained(struct fwg_plugin *p)
{
	char topic[256];
	size_t pos = 0;
	void *val;
	while(fwg_map_next(p->state->models, &pos, NULL, NULL, &val)){
		const struct fwg_model_state *ms = val;
		int n = snprintf(topic, sizeof(topic), "%s/%s/%s/manifest", p->cfg.prefix, ms->vendor, ms->model);
		if(n > 0 && (size_t)n < sizeof(topic) && ms->raw_len <= FWG_MANIFEST_MAX){
			mosquitto_broker_publish_copy(NULL, topic, (int)ms->raw_len, ms->raw, 1, true, NULL);
		}
	}
}
