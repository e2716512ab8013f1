/* Fleet status from device reports, published as the model's retained
 * `fleet` summary at most once a second; the staged-rollout gate of the
 * READ check. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"
#include "fwguard/codec.h"

#define FWG_FLEET_MAX_DEVICES 1000000

/* bucket = first 8 bytes of SHA-256("<vendor>/<model>/<device>"), big
 * endian, mod 10000: stable across restarts and brokers, and reproducible
 * with `printf %s v/m/d | sha256sum`. */
uint32_t fwg_fleet__bucket(const char *vendor, size_t vl, const char *model, size_t ml,
		const char *device, size_t dl)
{
	char buf[3 * FWG_ID_MAX + 3];
	uint8_t md[FWG_SHA256_LEN];
	uint64_t x = 0;
	int n = snprintf(buf, sizeof(buf), "%.*s/%.*s/%.*s", (int)vl, vendor, (int)ml, model, (int)dl, device);
	fwg_sha256(buf, n > 0 ? (size_t)n : 0, md);
	for(int i = 0; i < 8; i++) x = (x << 8) | md[i];
	return (uint32_t)(x % 10000);
}

struct fwg_fleet *fwg_fleet__get(struct fwg_plugin *p, const char *vendor, size_t vl,
		const char *model, size_t ml, bool create)
{
	char key[2 * FWG_ID_MAX + 2];
	if(vl > FWG_ID_MAX || ml > FWG_ID_MAX) return NULL;
	memcpy(key, vendor, vl);
	key[vl] = '/';
	memcpy(key + vl + 1, model, ml);
	struct fwg_fleet *f = p->fleets ? fwg_map_get(p->fleets, key, vl + 1 + ml) : NULL;
	if(f || !create) return f;
	if(!p->fleets && !(p->fleets = fwg_map_new(16))) return NULL;
	f = calloc(1, sizeof(*f));
	if(!f || !(f->devices = fwg_map_new(64))){
		free(f);
		return NULL;
	}
	memcpy(f->vendor, vendor, vl);
	memcpy(f->model, model, ml);
	if(fwg_map_put(p->fleets, key, vl + 1 + ml, f)){
		fwg_map_free(f->devices, NULL);
		free(f);
		return NULL;
	}
	return f;
}

struct fwg_fleet_device *fwg_fleet__device(struct fwg_plugin *p, struct fwg_fleet *f,
		const char *device, size_t dl, bool create)
{
	struct fwg_fleet_device *d = fwg_map_get(f->devices, device, dl);
	if(d || !create || p->fleet_devices >= FWG_FLEET_MAX_DEVICES) return d;
	d = calloc(1, sizeof(*d));
	if(!d) return NULL;
	d->bucket = fwg_fleet__bucket(f->vendor, strlen(f->vendor), f->model, strlen(f->model), device, dl);
	if(fwg_map_put(f->devices, device, dl, d)){
		free(d);
		return NULL;
	}
	p->fleet_devices++;
	return d;
}

void fwg_fleet__status(struct fwg_plugin *p, const char *vendor, size_t vl, const char *model, size_t ml,
		const char *device, size_t dl, const struct fwg_status *st)
{
	struct fwg_fleet *f = fwg_fleet__get(p, vendor, vl, model, ml, true);
	struct fwg_fleet_device *d = f ? fwg_fleet__device(p, f, device, dl, true) : NULL;
	if(!d) return;
	d->reported = true;
	d->state = st->state;
	d->has_sequence = st->has_sequence;
	d->sequence = st->sequence;
	if(st->has_sequence && (st->state == FWG_ST_INSTALLED || st->state == FWG_ST_IDLE)) d->installed = st->sequence;
	f->dirty = true;
}

cJSON *fwg_fleet__summary(struct fwg_plugin *p, const char *vendor, const char *model)
{
	struct fwg_fleet *f = fwg_fleet__get(p, vendor, strlen(vendor), model, strlen(model), false);
	const struct fwg_model_state *ms = fwg_state_get(p->state, vendor, strlen(vendor), model, strlen(model));
	const struct fwg_model_control *c = fwg_state_control(p->state, vendor, strlen(vendor), model, strlen(model));
	uint64_t per_state[FWG_ST__COUNT] = { 0 }, devices = 0, unknown_installed = 0;
	cJSON *o = cJSON_CreateObject();
	cJSON *seqs = cJSON_CreateObject();
	if(!o || !seqs){
		cJSON_Delete(o);
		cJSON_Delete(seqs);
		return NULL;
	}
	/* per installed sequence: counted with a small map keyed by the decimal */
	struct fwg_map *counts = fwg_map_new(8);
	size_t pos = 0;
	void *val;
	while(f && counts && fwg_map_next(f->devices, &pos, NULL, NULL, &val)){
		const struct fwg_fleet_device *d = val;
		if(!d->reported) continue;
		devices++;
		per_state[d->state]++;
		if(!d->installed){
			unknown_installed++;
			continue;
		}
		char k[24];
		int n = snprintf(k, sizeof(k), "%llu", (unsigned long long)d->installed);
		uintptr_t cnt = (uintptr_t)fwg_map_get(counts, k, (size_t)n);
		fwg_map_put(counts, k, (size_t)n, (void *)(cnt + 1));
	}
	pos = 0;
	const char *k;
	size_t kl;
	while(counts && fwg_map_next(counts, &pos, &k, &kl, &val)) fwg_json_add_u64(seqs, k, (uintptr_t)val);
	fwg_map_free(counts, NULL);

	cJSON_AddStringToObject(o, "vendor", vendor);
	cJSON_AddStringToObject(o, "model", model);
	fwg_json_add_u64(o, "accepted_sequence", ms ? ms->sequence : 0);
	if(ms){
		cJSON_AddStringToObject(o, "version", ms->m.version);
		cJSON_AddBoolToObject(o, "image_complete", ms->complete);
		fwg_json_add_u64(o, "chunks_received", ms->seen_count);
		fwg_json_add_u64(o, "nchunks", ms->m.nchunks);
	}
	fwg_json_add_u64(o, "devices", devices);
	cJSON *states = cJSON_AddObjectToObject(o, "states");
	for(int s = 0; states && s < FWG_ST__COUNT; s++){
		fwg_json_add_u64(states, fwg_status_state_str((enum fwg_dev_state)s), per_state[s]);
	}
	cJSON_AddItemToObject(o, "installed_sequences", seqs);
	fwg_json_add_u64(o, "installed_unknown", unknown_installed);
	cJSON *ro = cJSON_AddObjectToObject(o, "rollout");
	if(ro){
		fwg_json_add_u64(ro, "percent", c ? c->percent : 100);
		cJSON_AddBoolToObject(ro, "paused", c && c->paused);
	}
	char ts[32];
	fwg_audit_timestamp(ts);
	cJSON_AddStringToObject(o, "ts", ts);
	return o;
}

static void fleet_publish(struct fwg_plugin *p, struct fwg_fleet *f)
{
	char topic[256];
	cJSON *o = fwg_fleet__summary(p, f->vendor, f->model);
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	int n = snprintf(topic, sizeof(topic), "%s/%s/%s/fleet", p->cfg.prefix, f->vendor, f->model);
	if(text && n > 0 && (size_t)n < sizeof(topic)){
		mosquitto_broker_publish_copy(NULL, topic, (int)strlen(text), text, 1, true, NULL);
	}
	cJSON_free(text);
	cJSON_Delete(o);
}

void fwg_fleet__tick(struct fwg_plugin *p)
{
	int64_t now = fwg_now();
	if(!p->fleets || now - p->fleet_published_at < 1) return;
	size_t pos = 0;
	void *val;
	bool any = false;
	while(fwg_map_next(p->fleets, &pos, NULL, NULL, &val)){
		struct fwg_fleet *f = val;
		if(!f->dirty) continue;
		f->dirty = false;
		any = true;
		fleet_publish(p, f);
	}
	if(any) p->fleet_published_at = now;
}

static void fleet_free(void *v)
{
	struct fwg_fleet *f = v;
	fwg_map_free(f->devices, free);
	free(f);
}

void fwg_fleet__free(struct fwg_plugin *p)
{
	fwg_map_free(p->fleets, fleet_free);
	p->fleets = NULL;
	p->fleet_devices = 0;
}

void fwg_fleet__touch(struct fwg_plugin *p, const char *vendor, const char *model)
{
	struct fwg_fleet *f = fwg_fleet__get(p, vendor, strlen(vendor), model, strlen(model), true);
	if(f) f->dirty = true;
}

bool fwg_fleet__rollout_allows(struct fwg_plugin *p, const struct fwg_topic *t,
		const struct fwg_model_state *ms, const char *device, size_t dl)
{
	const struct fwg_model_control *c = fwg_state_control(p->state, t->vendor, t->vendor_len,
			t->model, t->model_len);
	bool staged = c && (c->percent < 100 || c->paused);
	if(t->kind == FWG_T_CHUNK && !staged) return true;
	if(!ms) return true; /* nothing accepted: nothing to gate */
	struct fwg_fleet *f = fwg_fleet__get(p, t->vendor, t->vendor_len, t->model, t->model_len, true);
	struct fwg_fleet_device *d = f ? fwg_fleet__device(p, f, device, dl, true) : NULL;
	if(!d) return !staged; /* out of memory or over the cap: staged models fail closed */
	bool in_bucket = c ? d->bucket < c->percent * 100 : true;
	if(t->kind == FWG_T_MANIFEST){
		if(d->delivered == ms->sequence) return true;
		if(staged && (c->paused || !in_bucket)) return false;
		d->delivered = ms->sequence;
		return true;
	}
	return d->delivered == t->sequence || (!c->paused && in_bucket);
}

void fwg_fleet__republish_manifest(struct fwg_plugin *p, const char *vendor, const char *model)
{
	char topic[256];
	const struct fwg_model_state *ms = fwg_state_get(p->state, vendor, strlen(vendor), model, strlen(model));
	int n = snprintf(topic, sizeof(topic), "%s/%s/%s/manifest", p->cfg.prefix, vendor, model);
	if(ms && n > 0 && (size_t)n < sizeof(topic) && ms->raw_len <= FWG_MANIFEST_MAX){
		mosquitto_broker_publish_copy(NULL, topic, (int)ms->raw_len, ms->raw, 1, true, NULL);
	}
}
