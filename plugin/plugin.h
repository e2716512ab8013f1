/* fwguard broker plugin: all state in one struct, passed as callback userdata.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWG_PLUGIN_H
#define FWG_PLUGIN_H

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>
#include <openssl/evp.h>

#include "fwguard/fwguard.h"
#include "fwguard/audit.h"
#include "fwguard/manifest.h"
#include "fwguard/policy.h"
#include "fwguard/ratelimit.h"
#include "fwguard/replay.h"
#include "fwguard/state.h"
#include "fwguard/status.h"
#include "fwguard/topic.h"
#include "fwguard/trust.h"
#include "fwguard/map.h"

#define FWG_LOG_PREFIX "fwguard: "

enum fwg_mode { FWG_MODE_ORIGIN = 0, FWG_MODE_RELAY };
enum fwg_other { FWG_OTHER_DEFER = 0, FWG_OTHER_ALLOW, FWG_OTHER_DENY };

struct fwg_config {
	char *trust_store;
	char *broker_key;
	char *state_file;
	char *audit_log;
	char *prefix;
	size_t prefix_len;
	enum fwg_mode mode;
	enum fwg_other other_topics;
	int64_t tag_window;
	struct fwg_limits limits;
	uint64_t replay_cache;
	uint64_t deny_log_burst;
	uint64_t deny_log_period;
	struct fwg_map *gateways;       /* plugin_opt_gateway_usernames */
	struct fwg_map *admins;         /* plugin_opt_admin_usernames ($CONTROL) */
	bool audit_fail_open;           /* plugin_opt_audit_failure open */
};

/* What the ACL write check found, handed to the message callback that
 * immediately follows it for a live publish (so the payload is hashed,
 * parsed and verified once). If any other callback runs first, the write
 * check was for a Will: see fwg_plugin__settle(). */
enum fwg_pending_kind { FWG_PEND_NONE = 0, FWG_PEND_MANIFEST, FWG_PEND_REPUBLISH, FWG_PEND_CHUNK, FWG_PEND_STATUS };
struct fwg_pending {
	enum fwg_pending_kind kind;
	uint64_t stamp;                 /* event counter of the write check */
	const struct mosquitto *client;
	const void *payload;
	uint32_t payloadlen;
	const struct fwg_vendor *vendor;
	bool have_sha;
	uint8_t sha[FWG_SHA256_LEN];
	struct fwg_manifest m;          /* FWG_PEND_MANIFEST: parsed and verified */
	uint64_t chunk_index;           /* FWG_PEND_CHUNK */
	struct fwg_status status;       /* FWG_PEND_STATUS */
	uint8_t *raw; size_t raw_len;   /* FWG_PEND_MANIFEST: a copy (a Will's buffer dies) */
	char client_id[128];            /* copies: the client may be gone when settled */
	char vendor_id[FWG_ID_MAX + 1], model[FWG_ID_MAX + 1], device[FWG_ID_MAX + 1];
};

struct fwg_plugin {
	mosquitto_plugin_id_t *id;
	struct fwg_config cfg;
	EVP_PKEY *broker_key;
	struct fwg_trust *trust;
	struct fwg_state *state;
	struct fwg_audit *audit;
	struct fwg_replay *replay;
	struct fwg_ratelimit *ratelimit;
	uint64_t evcount;               /* bumped by every callback */
	struct fwg_pending pending;
	const struct mosquitto *disconnecting;
	uint64_t disconnect_stamp;
	bool restored;                  /* retained manifests restored at first tick */
	bool ticked;                    /* a MOSQ_EVT_TICK has been seen */
	struct fwg_map *fleets;         /* "vendor/model" -> struct fwg_fleet * */
	int64_t fleet_published_at;
	size_t fleet_devices;           /* tracked, all models (capped) */
	bool no_tick;                   /* none for a while: per_listener_settings true */
	int64_t started_at;
};

/* Mosquitto 2.0 raises no tick (and skips message callbacks for bridges)
 * when per_listener_settings is true. */
void fwg_plugin__tick_watch(struct fwg_plugin *p);
/* Re-read the trust store; on success swap it in (the pending write check
 * points into the old one and is dropped). 0, or -1 with err, old store kept. */
int fwg_plugin__reload_trust(struct fwg_plugin *p, char *err, size_t errlen);

/* fleet.c: device states from status reports; staged rollout buckets */
struct fwg_fleet_device {
	enum fwg_dev_state state;
	bool reported;                  /* has sent a status */
	bool has_sequence; uint64_t sequence;
	uint64_t installed;             /* 0: unknown */
	uint32_t bucket;                /* 0..9999, stable */
	uint64_t delivered;             /* sequence of the manifest it was given */
};
struct fwg_fleet {
	char vendor[FWG_ID_MAX + 1], model[FWG_ID_MAX + 1];
	struct fwg_map *devices;        /* device id -> struct fwg_fleet_device * */
	bool dirty;
};
uint32_t fwg_fleet__bucket(const char *vendor, size_t vl, const char *model, size_t ml,
		const char *device, size_t dl);
struct fwg_fleet *fwg_fleet__get(struct fwg_plugin *p, const char *vendor, size_t vl,
		const char *model, size_t ml, bool create);
struct fwg_fleet_device *fwg_fleet__device(struct fwg_plugin *p, struct fwg_fleet *f,
		const char *device, size_t dl, bool create);
void fwg_fleet__status(struct fwg_plugin *p, const char *vendor, size_t vl, const char *model, size_t ml,
		const char *device, size_t dl, const struct fwg_status *st);
cJSON *fwg_fleet__summary(struct fwg_plugin *p, const char *vendor, const char *model);
void fwg_fleet__tick(struct fwg_plugin *p);
void fwg_fleet__free(struct fwg_plugin *p);
/* Staged rollout: may this device read the firmware topic? */
bool fwg_fleet__rollout_allows(struct fwg_plugin *p, const struct fwg_topic *t,
		const struct fwg_model_state *ms, const char *device, size_t dl);
/* The model's summary changed: publish it on a coming tick. */
void fwg_fleet__touch(struct fwg_plugin *p, const char *vendor, const char *model);
/* Re-publish the retained manifest so newly included devices receive it. */
void fwg_fleet__republish_manifest(struct fwg_plugin *p, const char *vendor, const char *model);

/* control.c: $CONTROL/fwguard/v1 */
#define FWG_CONTROL_TOPIC "$CONTROL/fwguard/v1"
int fwg_control__on(int event, void *event_data, void *userdata);

/* config.c */
int fwg_config__parse(struct fwg_config *cfg, struct mosquitto_opt *opts, int n);
void fwg_config__free(struct fwg_config *cfg);

/* events.c: audit log + events topic */
struct fwg_event {
	const char *event;
	const char *vendor; size_t vendor_len;   /* registered vendor, or NULL */
	const char *model; size_t model_len;
	const struct mosquitto *client;
	const char *client_id;                   /* overrides client when set */
	enum fwg_reason reason;                  /* FWG_R_OK: none */
	bool denial;                             /* rate-limited per client id */
};
/* Build the base record; add members to the returned object; then emit.
 * NULL when a denial is rate-limited away (or no memory). */
cJSON *fwg_events__begin(struct fwg_plugin *p, const struct fwg_event *ev);
/* Append to the audit log and publish on the model's events topic. -1 if the
 * audit write failed. */
int fwg_events__emit(struct fwg_plugin *p, const struct fwg_event *ev, cJSON *rec);
/* One-call form for records without extra members. */
int fwg_events__simple(struct fwg_plugin *p, const struct fwg_event *ev, const char *topic);

/* commit.c: durable state changes */
enum fwg_reason fwg_commit__manifest(struct fwg_plugin *p, const struct mosquitto *client,
		const uint8_t *raw, size_t len, struct fwg_manifest *m, const char *route);
void fwg_commit__chunk(struct fwg_plugin *p, const struct mosquitto *client,
		struct fwg_model_state *ms, uint64_t index);
void fwg_commit__restore_retained(struct fwg_plugin *p);

/* checks.c: property-free checks shared by the write check and relay mode */
enum fwg_reason fwg_checks__manifest(struct fwg_plugin *p, const struct fwg_vendor *v,
		const struct fwg_topic *t, const uint8_t *payload, size_t len,
		struct fwg_manifest *m, bool *republish);
enum fwg_reason fwg_checks__chunk(struct fwg_plugin *p, const struct fwg_topic *t,
		const uint8_t *payload, size_t len, bool *have_sha, uint8_t sha[FWG_SHA256_LEN]);

/* on_acl.c / on_message.c / plugin.c */
int fwg_acl__check(int event, void *event_data, void *userdata);
int fwg_message__on(int event, void *event_data, void *userdata);
int fwg_plugin__on_tick(int event, void *event_data, void *userdata);
int fwg_plugin__on_disconnect(int event, void *event_data, void *userdata);
int fwg_plugin__on_reload(int event, void *event_data, void *userdata);

/* Bump the event counter and settle a pending write check that no message
 * callback consumed (a Will). */
void fwg_plugin__enter(struct fwg_plugin *p);
void fwg_plugin__settle(struct fwg_plugin *p);
void fwg_pending__clear(struct fwg_pending *pd);

/* Reject reporting helper for manifest/chunk topics. */
void fwg_report__reject(struct fwg_plugin *p, const struct mosquitto *client,
		const struct fwg_topic *t, const char *topic, enum fwg_reason r);

int64_t fwg_now(void);
#endif
