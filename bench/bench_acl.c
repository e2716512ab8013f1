/* bench_acl: the cost of fwguard's ACL READ check — the check Mosquitto
 * runs for every delivery to every subscriber — measured on the real
 * plugin. The built mosquitto_fwguard.so is dlopen'ed by this program,
 * which provides the dozen broker functions the plugin imports (client
 * username and id, callback registration, log, publish), initialises it
 * with a real trust store, broker key, state and audit files, and calls the
 * registered MOSQ_EVT_ACL_CHECK callback directly.
 *   bench_acl PLUGIN.so WORKDIR [ITERATIONS [CASE]]
 * WORKDIR holds keys/vendors.json and keys/broker-ecdh.pem (bench/lib.sh).
 * Prints ns per call (best of 7 runs) for: a chunk delivered to a device of
 * the model, the manifest delivered to it, a chunk to a device of another
 * model (denied), a chunk to the vendor, an ordinary topic.
 * Run it under callgrind for instruction counts per call.
 * SPDX-License-Identifier: Apache-2.0 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include "fwguard/keys.h"
#include "fwguard/manifest.h"
#include "fwguard/state.h"

#define EXPORT __attribute__((visibility("default")))

struct mosquitto {                 /* the broker's client, as far as the plugin can see */
	const char *id, *username;
	int protocol;
};

static MOSQ_FUNC_generic_callback g_cb[MOSQ_EVT_CONTROL + 16];
static void *g_ud[MOSQ_EVT_CONTROL + 16];

EXPORT int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event,
		MOSQ_FUNC_generic_callback cb, const void *event_data, void *userdata)
{
	(void)identifier; (void)event_data;
	if(event < 0 || event >= (int)(sizeof(g_cb) / sizeof(g_cb[0]))) return MOSQ_ERR_INVAL;
	g_cb[event] = cb;
	g_ud[event] = userdata;
	return MOSQ_ERR_SUCCESS;
}

EXPORT int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event,
		MOSQ_FUNC_generic_callback cb, const void *event_data)
{
	(void)identifier; (void)cb; (void)event_data;
	if(event >= 0 && event < (int)(sizeof(g_cb) / sizeof(g_cb[0]))) g_cb[event] = NULL;
	return MOSQ_ERR_SUCCESS;
}

EXPORT const char *mosquitto_client_id(const struct mosquitto *client) { return client ? client->id : NULL; }
EXPORT const char *mosquitto_client_username(const struct mosquitto *client) { return client ? client->username : NULL; }
EXPORT int mosquitto_client_protocol_version(const struct mosquitto *client) { return client ? client->protocol : 0; }
EXPORT void mosquitto_free(void *mem) { free(mem); }

__attribute__((format(printf, 2, 3)))
EXPORT void mosquitto_log_printf(int level, const char *fmt, ...)
{
	(void)level;
	if(getenv("BENCH_ACL_LOG")){
		va_list ap;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

EXPORT int mosquitto_broker_publish(const char *clientid, const char *topic, int payloadlen, void *payload,
		int qos, bool retain, mosquitto_property *properties)
{
	(void)clientid; (void)topic; (void)payloadlen; (void)qos; (void)retain;
	free(payload);
	mosquitto_property_free_all(&properties);
	return MOSQ_ERR_SUCCESS;
}

EXPORT int mosquitto_broker_publish_copy(const char *clientid, const char *topic, int payloadlen,
		const void *payload, int qos, bool retain, mosquitto_property *properties)
{
	(void)clientid; (void)topic; (void)payloadlen; (void)payload; (void)qos; (void)retain;
	mosquitto_property_free_all(&properties);
	return MOSQ_ERR_SUCCESS;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The payload delivered: the accepted manifest, or a chunk of its length
 * (the READ check lets only what fwguard accepted through). */
static const void *g_payload;
static uint32_t g_payloadlen;

static int acl(struct mosquitto *c, const char *topic, int access)
{
	struct mosquitto_evt_acl_check ed;
	memset(&ed, 0, sizeof(ed));
	ed.client = c;
	ed.topic = topic;
	ed.access = access;
	ed.payload = g_payload;
	ed.payloadlen = g_payloadlen;
	ed.qos = 1;
	return g_cb[MOSQ_EVT_ACL_CHECK](MOSQ_EVT_ACL_CHECK, &ed, g_ud[MOSQ_EVT_ACL_CHECK]);
}

static const char *g_only;

static void run(const char *label, struct mosquitto *c, const char *topic, int expect, long iters,
		const void *payload, uint32_t payloadlen)
{
	double best = 1e30;
	if(g_only && strcmp(g_only, label)) return;
	g_payload = payload;
	g_payloadlen = payloadlen;
	int rc = acl(c, topic, MOSQ_ACL_READ);
	if(rc != expect){
		fprintf(stderr, "bench_acl: %s: READ check returned %d, expected %d\n", label, rc, expect);
		exit(1);
	}
	for(int r = 0; r < 7; r++){
		double t0 = now_ns();
		for(long i = 0; i < iters; i++) rc |= acl(c, topic, MOSQ_ACL_READ);
		double t = (now_ns() - t0) / (double)iters;
		if(t < best) best = t;
	}
	printf("{\"case\":\"%s\",\"ns_per_read_check\":%.1f,\"iterations\":%ld}\n", label, best, iters);
	(void)rc;
}

int main(int argc, char **argv)
{
	if(argc < 3){
		fprintf(stderr, "usage: bench_acl PLUGIN.so WORKDIR [ITERATIONS [CASE]]\n");
		return 2;
	}
	long iters = argc > 3 ? atol(argv[3]) : 2000000;
	g_only = argc > 4 ? argv[4] : NULL;
	char trust[512], key[512], state[512], audit[512];
	snprintf(trust, sizeof(trust), "%s/keys/vendors.json", argv[2]);
	snprintf(key, sizeof(key), "%s/keys/broker-ecdh.pem", argv[2]);
	snprintf(state, sizeof(state), "%s/bench_acl.state", argv[2]);
	snprintf(audit, sizeof(audit), "%s/bench_acl.audit", argv[2]);
	remove(state);
	remove(audit);
	/* an accepted manifest in the state: acme/thermo-x1 sequence 7, 256
	 * chunks of 64 KiB (the plugin does not re-check its signature at load) */
	struct fwg_manifest m;
	memset(&m, 0, sizeof(m));
	m.format = 1;
	strcpy(m.vendor, "acme");
	strcpy(m.model, "thermo-x1");
	strcpy(m.version, "7.0.0");
	m.sequence = 7;
	m.chunk_size = 65536;
	m.size = 256ULL * 65536;
	m.nchunks = 256;
	m.issued = (uint64_t)time(NULL);
	m.expires = m.issued + 86400;
	EVP_PKEY *sk = fwg_key_generate();
	char err[256];
	struct fwg_state *st = NULL;
	if(!sk || fwg_key_id(sk, m.key_id) || fwg_manifest_sign(&m, sk) || fwg_state_load(state, &st, err, sizeof(err))){
		fprintf(stderr, "bench_acl: cannot make the state\n");
		return 2;
	}
	char *raw = fwg_manifest_to_json(&m);
	struct fwg_model_state ms;
	memset(&ms, 0, sizeof(ms));
	strcpy(ms.vendor, "acme");
	strcpy(ms.model, "thermo-x1");
	ms.sequence = 7;
	ms.raw = (uint8_t *)raw;
	ms.raw_len = strlen(raw);
	ms.m = m;
	if(fwg_state_save(st, &ms)){
		fprintf(stderr, "bench_acl: cannot write %s\n", state);
		return 2;
	}
	static uint8_t chunk[65536];
	struct mosquitto_opt opts[] = {
		{ "trust_store", trust }, { "broker_key", key }, { "state_file", state }, { "audit_log", audit },
		{ "other_topics", "allow" },
	};
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if(!h){
		fprintf(stderr, "bench_acl: %s\n", dlerror());
		return 2;
	}
	int (*init)(mosquitto_plugin_id_t *, void **, struct mosquitto_opt *, int) =
		(int (*)(mosquitto_plugin_id_t *, void **, struct mosquitto_opt *, int))dlsym(h, "mosquitto_plugin_init");
	int (*cleanup)(void *, struct mosquitto_opt *, int) =
		(int (*)(void *, struct mosquitto_opt *, int))dlsym(h, "mosquitto_plugin_cleanup");
	void *ud = NULL;
	if(!init || !cleanup || init(NULL, &ud, opts, (int)(sizeof(opts) / sizeof(opts[0]))) != MOSQ_ERR_SUCCESS
			|| !g_cb[MOSQ_EVT_ACL_CHECK]){
		fprintf(stderr, "bench_acl: plugin init failed (BENCH_ACL_LOG=1 shows its log)\n");
		return 2;
	}
	struct mosquitto_evt_tick tick;
	memset(&tick, 0, sizeof(tick));
	tick.now_s = time(NULL);
	if(g_cb[MOSQ_EVT_TICK]) g_cb[MOSQ_EVT_TICK](MOSQ_EVT_TICK, &tick, g_ud[MOSQ_EVT_TICK]);

	struct mosquitto dev = { "fwgdev/acme/thermo-x1/dev17", "acme/thermo-x1/dev17", 5 };
	struct mosquitto other = { "fwgdev/acme/thermo-x2/dev1", "acme/thermo-x2/dev1", 5 };
	struct mosquitto vendor = { "acme-deploy-1", "acme-deploy", 5 };
	struct mosquitto plain = { "sensor-1", "bench-user", 5 };
	uint32_t rl = (uint32_t)strlen(raw);
	run("chunk_to_device", &dev, "fw/acme/thermo-x1/chunk/7/123", MOSQ_ERR_SUCCESS, iters, chunk, sizeof(chunk));
	run("manifest_to_device", &dev, "fw/acme/thermo-x1/manifest", MOSQ_ERR_SUCCESS, iters, raw, rl);
	run("chunk_to_other_model_denied", &other, "fw/acme/thermo-x1/chunk/7/123", MOSQ_ERR_ACL_DENIED, iters,
			chunk, sizeof(chunk));
	run("chunk_to_vendor", &vendor, "fw/acme/thermo-x1/chunk/7/123", MOSQ_ERR_SUCCESS, iters, chunk, sizeof(chunk));
	run("ordinary_topic", &plain, "sensors/room1/temperature", MOSQ_ERR_SUCCESS, iters, chunk, 1024);
	free(raw);
	fwg_manifest_free(&ms.m);
	fwg_state_free(st);
	EVP_PKEY_free(sk);
	cleanup(ud, opts, (int)(sizeof(opts) / sizeof(opts[0])));
	dlclose(h);
	remove(state);
	remove(audit);
	return 0;
}
