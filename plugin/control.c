/* $CONTROL/fwguard/v1: an admin API in the manner of Mosquitto's dynamic
 * security. Request {"commands":[{"command":..., "correlationData":..., ...}]},
 * response {"responses":[{"command":..., "correlationData":..., "data":{...}
 * | "error":"..."}]} on $CONTROL/fwguard/v1/response, sent to the requesting
 * client only. Every command is audited. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"

#define FWG_CONTROL_MAX_PAYLOAD 65536
#define FWG_CONTROL_MAX_COMMANDS 100

struct fwg_cmd {
	struct fwg_plugin *p;
	const struct mosquitto *client;
	const cJSON *in;
	cJSON *data;           /* response data, may stay NULL */
	const char *error;     /* static text */
	char errbuf[256];
	const char *vendor, *model;
};

typedef void (*fwg_cmd_fn)(struct fwg_cmd *c);

static const char *str_arg(struct fwg_cmd *c, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->in, name));
	if(!v){
		snprintf(c->errbuf, sizeof(c->errbuf), "missing or non-string \"%s\"", name);
		c->error = c->errbuf;
	}
	return v;
}

static bool uint_arg(struct fwg_cmd *c, const char *name, uint64_t max, uint64_t *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->in, name);
	if(!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > (double)max
			|| j->valuedouble != (double)(uint64_t)j->valuedouble){
		snprintf(c->errbuf, sizeof(c->errbuf), "\"%s\" must be a whole number from 0 to %llu",
				name, (unsigned long long)max);
		c->error = c->errbuf;
		return false;
	}
	*out = (uint64_t)j->valuedouble;
	return true;
}

/* vendor + model arguments of a registered vendor and an allowed model */
static const struct fwg_vendor *model_args(struct fwg_cmd *c)
{
	c->vendor = str_arg(c, "vendor");
	c->model = c->vendor ? str_arg(c, "model") : NULL;
	if(!c->model) return NULL;
	const struct fwg_vendor *v = fwg_trust_vendor(c->p->trust, c->vendor, strlen(c->vendor));
	if(!v){
		snprintf(c->errbuf, sizeof(c->errbuf), "unknown vendor \"%.64s\"", c->vendor);
		c->error = c->errbuf;
		return NULL;
	}
	if(!fwg_id_valid(c->model, strlen(c->model)) || !fwg_vendor_model_allowed(v, c->model, strlen(c->model))){
		snprintf(c->errbuf, sizeof(c->errbuf), "model \"%.64s\" is not one of vendor \"%s\"", c->model, v->id);
		c->error = c->errbuf;
		return NULL;
	}
	return v;
}

/* Persist the state; on failure the caller restores memory. */
static bool save(struct fwg_cmd *c)
{
	if(fwg_state_save(c->p->state, NULL) == 0) return true;
	snprintf(c->errbuf, sizeof(c->errbuf), "cannot write the state file: %s", strerror(errno));
	c->error = c->errbuf;
	return false;
}

static void cmd_list_vendors(struct fwg_cmd *c)
{
	cJSON *arr;
	c->data = cJSON_CreateObject();
	if(!c->data || !(arr = cJSON_AddArrayToObject(c->data, "vendors"))) return;
	for(size_t i = 0; i < c->p->trust->n_vendors; i++){
		const struct fwg_vendor *v = &c->p->trust->vendors[i];
		cJSON *o = cJSON_CreateObject();
		if(!o) return;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "id", v->id);
		cJSON *models = v->any_model ? NULL : cJSON_AddArrayToObject(o, "models");
		for(size_t j = 0; models && j < v->n_models; j++) cJSON_AddItemToArray(models, cJSON_CreateString(v->models[j]));
		cJSON *keys = cJSON_AddArrayToObject(o, "signingKeys");
		for(size_t j = 0; keys && j < v->n_keys; j++){
			cJSON *k = cJSON_CreateObject();
			if(!k) return;
			cJSON_AddItemToArray(keys, k);
			cJSON_AddStringToObject(k, "keyId", v->keys[j].key_id);
			cJSON_AddBoolToObject(k, "revoked", v->keys[j].revoked);
			cJSON_AddBoolToObject(k, "revokedByOperator", fwg_state_key_revoked(c->p->state, v->id, v->keys[j].key_id));
		}
	}
}

static void cmd_get_model(struct fwg_cmd *c)
{
	const struct fwg_vendor *v = model_args(c);
	if(!v) return;
	const struct fwg_model_control *mc = fwg_state_control(c->p->state, c->vendor, strlen(c->vendor),
			c->model, strlen(c->model));
	uint64_t floor = fwg_vendor_floor(v, c->model);
	c->data = cJSON_CreateObject();
	if(!c->data) return;
	cJSON *fleet = fwg_fleet__summary(c->p, c->vendor, c->model);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(fleet, "accepted_sequence");
	cJSON_AddStringToObject(c->data, "vendor", c->vendor);
	cJSON_AddStringToObject(c->data, "model", c->model);
	if(seq) cJSON_AddItemToObject(c->data, "sequence", cJSON_Duplicate(seq, 1));
	fwg_json_add_u64(c->data, "floor", mc && mc->floor > floor ? mc->floor : floor);
	cJSON *ro = cJSON_AddObjectToObject(c->data, "rollout");
	if(ro){
		fwg_json_add_u64(ro, "percent", mc ? mc->percent : 100);
		cJSON_AddBoolToObject(ro, "paused", mc && mc->paused);
	}
	if(fleet) cJSON_AddItemToObject(c->data, "fleet", fleet);
}

/* Apply a change to the model's control entry, persist, or restore. */
static bool change_control(struct fwg_cmd *c, struct fwg_model_control *nc, bool *widened)
{
	struct fwg_model_control *mc = fwg_state_control_add(c->p->state, c->vendor, c->model);
	if(!mc){
		c->error = "out of memory";
		return false;
	}
	struct fwg_model_control old = *mc;
	*mc = *nc;
	if(!save(c)){
		*mc = old;
		return false;
	}
	*widened = (!nc->paused && old.paused) || (!nc->paused && nc->percent > old.percent);
	return true;
}

static void control_command(struct fwg_cmd *c, int what)
{
	if(!model_args(c)) return;
	const struct fwg_model_control *cur = fwg_state_control(c->p->state, c->vendor, strlen(c->vendor),
			c->model, strlen(c->model));
	struct fwg_model_control nc;
	if(cur) nc = *cur;
	else{
		memset(&nc, 0, sizeof(nc));
		snprintf(nc.vendor, sizeof(nc.vendor), "%s", c->vendor);
		snprintf(nc.model, sizeof(nc.model), "%s", c->model);
		nc.percent = 100;
	}
	uint64_t v;
	switch(what){
		case 0: if(!uint_arg(c, "percent", 100, &v)) return; nc.percent = (unsigned)v; break;
		case 1: nc.paused = true; break;
		case 2: nc.paused = false; break;
		case 3: if(!uint_arg(c, "sequence", FWG_INT_MAX, &v)) return; nc.floor = v; break;
	}
	bool widened = false;
	if(!change_control(c, &nc, &widened)) return;
	fwg_fleet__touch(c->p, c->vendor, c->model);
	/* Newly included devices receive the manifest without resubscribing. */
	if(widened) fwg_fleet__republish_manifest(c->p, c->vendor, c->model);
	c->data = cJSON_CreateObject();
	if(c->data){
		fwg_json_add_u64(c->data, "percent", nc.percent);
		cJSON_AddBoolToObject(c->data, "paused", nc.paused);
		fwg_json_add_u64(c->data, "floor", nc.floor);
	}
}

static void cmd_set_rollout(struct fwg_cmd *c) { control_command(c, 0); }
static void cmd_pause(struct fwg_cmd *c) { control_command(c, 1); }
static void cmd_resume(struct fwg_cmd *c) { control_command(c, 2); }
static void cmd_set_floor(struct fwg_cmd *c) { control_command(c, 3); }

static void cmd_revoke_key(struct fwg_cmd *c)
{
	const char *vendor = str_arg(c, "vendor");
	const char *kid = vendor ? str_arg(c, "keyId") : NULL;
	if(!kid) return;
	c->vendor = vendor;
	const struct fwg_vendor *v = fwg_trust_vendor(c->p->trust, vendor, strlen(vendor));
	if(!v){
		snprintf(c->errbuf, sizeof(c->errbuf), "unknown vendor \"%.64s\"", vendor);
		c->error = c->errbuf;
		return;
	}
	if(strlen(kid) != FWG_KEY_ID_LEN || !fwg_is_lower_hex(kid, FWG_KEY_ID_LEN)){
		snprintf(c->errbuf, sizeof(c->errbuf), "bad key id \"%.32s\": 16 lowercase hex characters", kid);
		c->error = c->errbuf;
		return;
	}
	bool was = fwg_state_key_revoked(c->p->state, vendor, kid);
	if(!was && fwg_state_revoke(c->p->state, vendor, kid)){
		c->error = "out of memory";
		return;
	}
	if(!was && !save(c)){
		fwg_state_unrevoke(c->p->state, vendor, kid);
		return;
	}
	c->data = cJSON_CreateObject();
	if(c->data){
		cJSON_AddStringToObject(c->data, "keyId", kid);
		cJSON_AddBoolToObject(c->data, "registered", fwg_vendor_key(v, kid, &(EVP_PKEY *){ NULL }) != FWG_R_KEY_UNKNOWN);
	}
}

static void cmd_reload(struct fwg_cmd *c)
{
	char err[512];
	if(fwg_plugin__reload_trust(c->p, err, sizeof(err))){
		snprintf(c->errbuf, sizeof(c->errbuf), "%.150s", err);
		c->error = c->errbuf;
		return;
	}
	c->data = cJSON_CreateObject();
	if(c->data) fwg_json_add_u64(c->data, "vendors", c->p->trust->n_vendors);
}

static const struct {
	const char *name;
	fwg_cmd_fn fn;
} fwg_commands[] = {
	{ "listVendors", cmd_list_vendors },
	{ "getModel", cmd_get_model },
	{ "setRollout", cmd_set_rollout },
	{ "pauseModel", cmd_pause },
	{ "resumeModel", cmd_resume },
	{ "setSequenceFloor", cmd_set_floor },
	{ "revokeKey", cmd_revoke_key },
	{ "reloadTrustStore", cmd_reload },
};

/* Refused commands are denials: rate-limited per client id, recorded
 * without their arguments, and attributed to a vendor's model (and so
 * published on its events topic) only when the model is one of the vendor's. */
static void audit_command(struct fwg_plugin *p, const struct mosquitto *client, const char *name,
		const cJSON *in, const char *error, bool admin)
{
	struct fwg_event ev = { .event = "control.command", .client = client, .denial = !admin };
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "vendor"));
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "model"));
	const struct fwg_vendor *vend = v ? fwg_trust_vendor(p->trust, v, strlen(v)) : NULL;
	if(admin && vend && m && fwg_id_valid(m, strlen(m)) && fwg_vendor_model_allowed(vend, m, strlen(m))){
		ev.vendor = v; ev.vendor_len = strlen(v);
		ev.model = m; ev.model_len = strlen(m);
	}
	cJSON *rec = fwg_events__begin(p, &ev);
	if(!rec) return;
	const char *u = mosquitto_client_username(client);
	cJSON_AddStringToObject(rec, "username", u ? u : "");
	cJSON_AddStringToObject(rec, "command", strlen(name) <= 64 ? name : "(too long)");
	cJSON *args = admin ? cJSON_Duplicate(in, 1) : NULL;
	if(args){
		cJSON_DeleteItemFromObjectCaseSensitive(args, "command");
		cJSON_DeleteItemFromObjectCaseSensitive(args, "correlationData");
		cJSON_AddItemToObject(rec, "args", args);
	}
	cJSON_AddStringToObject(rec, "result", error ? error : "ok");
	fwg_events__emit(p, &ev, rec);
}

static cJSON *run_command(struct fwg_plugin *p, const struct mosquitto *client, const cJSON *in, bool admin)
{
	struct fwg_cmd c = { .p = p, .client = client, .in = in };
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "command"));
	const cJSON *corr = cJSON_GetObjectItemCaseSensitive(in, "correlationData");
	cJSON *out = cJSON_CreateObject();
	if(!out) return NULL;
	cJSON_AddStringToObject(out, "command", name ? name : "");
	if(!cJSON_IsObject(in) || !name){
		c.error = "a command must be an object with a string \"command\"";
	}else if(!admin){
		c.error = "not authorized";
	}else{
		size_t i;
		for(i = 0; i < sizeof(fwg_commands) / sizeof(fwg_commands[0]); i++){
			if(!strcmp(name, fwg_commands[i].name)){
				fwg_commands[i].fn(&c);
				break;
			}
		}
		if(i == sizeof(fwg_commands) / sizeof(fwg_commands[0])) c.error = "unknown command";
		else if(!c.error && !c.data) c.error = "out of memory";
	}
	if(c.error) cJSON_AddStringToObject(out, "error", c.error);
	else cJSON_AddItemToObject(out, "data", c.data), c.data = NULL;
	cJSON_Delete(c.data);
	if(cJSON_IsString(corr)) cJSON_AddStringToObject(out, "correlationData", corr->valuestring);
	audit_command(p, client, name ? name : "", in, c.error, admin);
	return out;
}

int fwg_control__on(int event, void *event_data, void *userdata)
{
	struct fwg_plugin *p = userdata;
	struct mosquitto_evt_control *ed = event_data;
	(void)event;

	fwg_plugin__enter(p);
	const char *u = mosquitto_client_username(ed->client);
	bool admin = u && p->cfg.admins && fwg_map_get(p->cfg.admins, u, strlen(u));
	cJSON *resp = cJSON_CreateObject();
	cJSON *arr = resp ? cJSON_AddArrayToObject(resp, "responses") : NULL;
	cJSON *req = NULL;
	if(!arr){
		cJSON_Delete(resp);
		return MOSQ_ERR_NOMEM;
	}
	if(ed->payloadlen <= FWG_CONTROL_MAX_PAYLOAD && fwg_utf8_valid(ed->payload, ed->payloadlen)){
		req = cJSON_ParseWithLength(ed->payload, ed->payloadlen);
	}
	const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(req, "commands");
	if(!cJSON_IsArray(cmds) || cJSON_GetArraySize(cmds) > FWG_CONTROL_MAX_COMMANDS){
		cJSON *o = cJSON_CreateObject();
		if(o){
			cJSON_AddStringToObject(o, "command", "");
			cJSON_AddStringToObject(o, "error", "payload must be {\"commands\":[...]} (at most 100)");
			cJSON_AddItemToArray(arr, o);
		}
		audit_command(p, ed->client, "", NULL, "invalid request", admin);
	}else{
		for(const cJSON *c = cmds->child; c; c = c->next){
			cJSON *o = run_command(p, ed->client, c, admin);
			if(o) cJSON_AddItemToArray(arr, o);
		}
	}
	cJSON_Delete(req);
	char *text = cJSON_PrintUnformatted(resp);
	cJSON_Delete(resp);
	const char *cid = mosquitto_client_id(ed->client);
	if(text && cid){
		mosquitto_broker_publish_copy(cid, FWG_CONTROL_TOPIC "/response", (int)strlen(text), text, 1, false, NULL);
	}
	cJSON_free(text);
	return MOSQ_ERR_SUCCESS;
}
