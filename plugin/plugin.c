/* fwguard: Mosquitto 2.0 plugin (v5 API). Init, cleanup and callback
 * registration; each concern lives in its own file.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "plugin.h"
#include "fwguard/keys.h"

#define FWG_EXPORT __attribute__((visibility("default")))

FWG_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions);
FWG_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count);
FWG_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count);

int64_t fwg_now(void)
{
	return (int64_t)time(NULL);
}

void fwg_pending__clear(struct fwg_pending *pd)
{
	if(pd->kind == FWG_PEND_NONE) return;
	fwg_manifest_free(&pd->m);
	free(pd->raw);
	memset(pd, 0, sizeof(*pd));
}

/* A write check that no message callback followed was a Will on a route the
 * disconnect event did not announce (delayed Will, session take-over): it
 * has been delivered by now, so record its effect. */
void fwg_plugin__settle(struct fwg_plugin *p)
{
	struct fwg_pending *pd = &p->pending;
	struct fwg_event ev = { .vendor = pd->vendor_id, .vendor_len = strlen(pd->vendor_id),
		.model = pd->model, .model_len = strlen(pd->model), .client_id = pd->client_id };
	switch(pd->kind){
		case FWG_PEND_MANIFEST:
			fwg_commit__manifest(p, NULL, pd->raw, pd->raw_len, &pd->m, "will");
			break;
		case FWG_PEND_REPUBLISH:
			ev.event = "manifest.republished";
			fwg_events__simple(p, &ev, NULL);
			break;
		case FWG_PEND_CHUNK: {
			struct fwg_model_state *ms = fwg_state_get(p->state, pd->vendor_id, strlen(pd->vendor_id),
					pd->model, strlen(pd->model));
			if(ms && ms->sequence == ms->m.sequence) fwg_commit__chunk(p, NULL, ms, pd->chunk_index);
			break;
		}
		case FWG_PEND_STATUS:
			ev.event = "device.status";
			mosquitto_log_printf(MOSQ_LOG_WARNING, FWG_LOG_PREFIX
					"a delayed Will of \"%s\" reached status topic of device %s", pd->client_id, pd->device);
			fwg_events__simple(p, &ev, NULL);
			break;
		default:
			break;
	}
	fwg_pending__clear(pd);
}

void fwg_plugin__enter(struct fwg_plugin *p)
{
	p->evcount++;
	if(p->pending.kind != FWG_PEND_NONE) fwg_plugin__settle(p);
}

int fwg_plugin__on_tick(int event, void *event_data, void *userdata)
{
	struct fwg_plugin *p = userdata;
	(void)event; (void)event_data;
	fwg_plugin__enter(p);
	p->ticked = true;
	if(p->no_tick){
		p->no_tick = false;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, FWG_LOG_PREFIX "tick events arrive after all");
	}
	fwg_fleet__tick(p);
	if(!p->restored){
		/* Restore the accepted manifests as retained messages, in case the
		 * broker lost its retained store (PROTOCOL §6). */
		p->restored = true;
		fwg_commit__restore_retained(p);
	}
	return MOSQ_ERR_SUCCESS;
}

void fwg_plugin__tick_watch(struct fwg_plugin *p)
{
	if(p->no_tick || fwg_now() - p->started_at < 3) return;
	p->no_tick = true;
	mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "no tick event from the broker for 3 s: "
			"per_listener_settings true? Then Mosquitto 2.0 skips plugin message callbacks for bridge "
			"traffic%s. Set per_listener_settings false.",
			p->cfg.mode == FWG_MODE_RELAY ? ", so this relay now withholds all firmware from devices" : "");
}

int fwg_plugin__on_disconnect(int event, void *event_data, void *userdata)
{
	struct fwg_plugin *p = userdata;
	const struct mosquitto_evt_disconnect *ed = event_data;
	(void)event;
	fwg_plugin__enter(p);
	p->disconnecting = ed->client;
	p->disconnect_stamp = p->evcount;
	return MOSQ_ERR_SUCCESS;
}

int fwg_plugin__reload_trust(struct fwg_plugin *p, char *err, size_t errlen)
{
	struct fwg_trust *t = NULL;
	if(fwg_trust_load(p->cfg.trust_store, p->broker_key, &t, err, errlen)) return -1;
	fwg_pending__clear(&p->pending); /* it points into the old store */
	fwg_trust_free(p->trust);
	p->trust = t;
	return 0;
}

int fwg_plugin__on_reload(int event, void *event_data, void *userdata)
{
	struct fwg_plugin *p = userdata;
	char err[512];
	(void)event; (void)event_data;

	fwg_plugin__enter(p);
	if(fwg_plugin__reload_trust(p, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "reload failed, previous trust store stays in force: %s", err);
		struct fwg_event ev = { .event = "config.reload_failed", .reason = FWG_R_INTERNAL };
		cJSON *rec = fwg_events__begin(p, &ev);
		if(rec){
			cJSON_AddStringToObject(rec, "error", err);
			fwg_events__emit(p, &ev, rec);
		}
	}else{
		const struct fwg_trust *t = p->trust;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, FWG_LOG_PREFIX "trust store reloaded: %zu vendor(s)", t->n_vendors);
		struct fwg_event ev = { .event = "config.reloaded" };
		cJSON *rec = fwg_events__begin(p, &ev);
		if(rec){
			fwg_json_add_u64(rec, "vendors", t->n_vendors);
			fwg_events__emit(p, &ev, rec);
		}
	}
	/* Mosquitto 2.0 stops calling further reload callbacks on SUCCESS; 2.1
	 * treats anything but SUCCESS as fatal. */
#if LIBMOSQUITTO_MAJOR == 2 && LIBMOSQUITTO_MINOR == 0
	return MOSQ_ERR_PLUGIN_DEFER;
#else
	return MOSQ_ERR_SUCCESS;
#endif
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

static void fwg_plugin__free(struct fwg_plugin *p)
{
	if(!p) return;
	fwg_pending__clear(&p->pending);
	fwg_fleet__free(p);
	fwg_replay_free(p->replay);
	fwg_ratelimit_free(p->ratelimit);
	fwg_audit_close(p->audit);
	fwg_state_free(p->state);
	fwg_trust_free(p->trust);
	EVP_PKEY_free(p->broker_key);
	fwg_config__free(&p->cfg);
	free(p);
}

static int fwg_plugin__load(struct fwg_plugin *p)
{
	char err[512];
	bool repaired = false;
	size_t cut = 0;

	if(p->cfg.mode == FWG_MODE_ORIGIN
			&& fwg_key_load_private_pem(p->cfg.broker_key, &p->broker_key, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "plugin_opt_broker_key: %s", err);
		return -1;
	}
	if(fwg_trust_load(p->cfg.trust_store, p->broker_key, &p->trust, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "%s", err);
		return -1;
	}
	if(fwg_state_load(p->cfg.state_file, &p->state, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "%s", err);
		return -1;
	}
	if(fwg_audit_open(p->cfg.audit_log, &p->audit, &repaired, &cut, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "audit log: %s", err);
		return -1;
	}
	p->replay = fwg_replay_new((size_t)p->cfg.replay_cache);
	p->ratelimit = fwg_ratelimit_new(4096, (unsigned)p->cfg.deny_log_burst, (unsigned)p->cfg.deny_log_period);
	if(!p->replay || !p->ratelimit){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "out of memory");
		return -1;
	}
	if(repaired){
		struct fwg_event ev = { .event = "audit.repaired" };
		cJSON *rec = fwg_events__begin(p, &ev);
		if(rec) fwg_json_add_u64(rec, "cut_bytes", cut);
		if(fwg_events__emit(p, &ev, rec)) return -1;
		mosquitto_log_printf(MOSQ_LOG_WARNING, FWG_LOG_PREFIX "audit log had a torn last line: %zu byte(s) cut", cut);
	}
	struct fwg_event ev = { .event = "plugin.started" };
	cJSON *rec = fwg_events__begin(p, &ev);
	if(rec){
		cJSON_AddStringToObject(rec, "mode", p->cfg.mode == FWG_MODE_ORIGIN ? "origin" : "relay");
		cJSON_AddStringToObject(rec, "version", FWG_VERSION);
		fwg_json_add_u64(rec, "vendors", p->trust->n_vendors);
		fwg_json_add_u64(rec, "models", fwg_map_count(p->state->models));
	}
	if(fwg_events__emit(p, &ev, rec)) return -1;
	return 0;
}

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} fwg_callbacks[] = {
	{ MOSQ_EVT_ACL_CHECK, fwg_acl__check },
	{ MOSQ_EVT_MESSAGE, fwg_message__on },
	{ MOSQ_EVT_RELOAD, fwg_plugin__on_reload },
	{ MOSQ_EVT_TICK, fwg_plugin__on_tick },
	{ MOSQ_EVT_DISCONNECT, fwg_plugin__on_disconnect },
	{ MOSQ_EVT_CONTROL, fwg_control__on },
};
#define FWG_CB_DATA(ev) ((ev) == MOSQ_EVT_CONTROL ? FWG_CONTROL_TOPIC : NULL)
#define FWG_NCALLBACKS (sizeof(fwg_callbacks) / sizeof(fwg_callbacks[0]))

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	struct fwg_plugin *p = calloc(1, sizeof(*p));
	size_t registered = 0;

	if(!p) return MOSQ_ERR_NOMEM;
	p->id = identifier;
	p->started_at = fwg_now();
	if(fwg_config__parse(&p->cfg, options, option_count) || fwg_plugin__load(p)) goto fail;
	for(; registered < FWG_NCALLBACKS; registered++){
		if(mosquitto_callback_register(identifier, fwg_callbacks[registered].event,
					fwg_callbacks[registered].cb, FWG_CB_DATA(fwg_callbacks[registered].event), p)){
			mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "cannot register callback for event %d",
					fwg_callbacks[registered].event);
			goto fail;
		}
	}
	*userdata = p;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, FWG_LOG_PREFIX "%s mode, prefix \"%s\", %zu vendor(s), %zu model state(s)",
			p->cfg.mode == FWG_MODE_ORIGIN ? "origin" : "relay", p->cfg.prefix,
			p->trust->n_vendors, fwg_map_count(p->state->models));
	return MOSQ_ERR_SUCCESS;
fail:
	while(registered-- > 0){
		mosquitto_callback_unregister(identifier, fwg_callbacks[registered].event, fwg_callbacks[registered].cb,
				FWG_CB_DATA(fwg_callbacks[registered].event));
	}
	mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "not started; the broker must not run without it");
	fwg_plugin__free(p);
	return MOSQ_ERR_UNKNOWN;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct fwg_plugin *p = userdata;
	(void)options; (void)option_count;
	if(!p) return MOSQ_ERR_SUCCESS;
	for(size_t i = 0; i < FWG_NCALLBACKS; i++){
		mosquitto_callback_unregister(p->id, fwg_callbacks[i].event, fwg_callbacks[i].cb,
				FWG_CB_DATA(fwg_callbacks[i].event));
	}
	/* Keep chunk progress across a clean restart (no fsync needed for that). */
	if(p->state && fwg_map_count(p->state->models)) fwg_state_save(p->state, NULL);
	fwg_plugin__free(p);
	return MOSQ_ERR_SUCCESS;
}
