/* fwguard publish: the manifest, then the image's chunks, each tagged
 * (PROTOCOL §3), MQTT v5 QoS 1 with a bounded in-flight window. PUBACK
 * reason codes are checked; the model's events topic is read to report the
 * broker's reason for a refusal. Exit 1 when anything was refused.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/crypto.h>
#include "check.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "fwguard/tag.h"

static const char usage[] = "[MQTT options] (--vendor-key VENDOR_ECDH_KEY --broker-pub BROKER_ECDH_PUB)\n"
	"               [--window N (16)] [--manifest-only | --chunks-only] [--timeout SECS (300)]\n"
	"               [--wait-events SECS (3)] MANIFEST IMAGE\n"
	"MQTT options:\n" CLI_MQTT_HELP;

#define MAX_WINDOW 256

struct pub {
	struct mosquitto *mosq;
	const char *client_id;
	char events_topic[512];
	bool connected, conn_done, sub_done, events_ok, lost;
	int conn_rc;
	int sub_mid;
	/* in-flight publishes: mid -> what (-1 manifest, else chunk index) */
	struct { int mid; long what; } fl[MAX_WINDOW + 1];
	int inflight;
	unsigned acked, refused, events_rejected;
	int manifest_rc;        /* PUBACK reason code of the manifest, -1 until acked */
};

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct pub *p = ud;
	p->conn_done = true;
	p->conn_rc = rc;
	p->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct pub *p = ud;
	p->connected = false;
	p->lost = true;
	if(!p->conn_done){ p->conn_done = true; p->conn_rc = rc ? rc : -1; }
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted,
		const mosquitto_property *props)
{
	struct pub *p = ud;
	if(mid != p->sub_mid) return;
	p->sub_done = true;
	p->events_ok = n == 1 && granted[0] < 0x80;
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int reason, const mosquitto_property *props)
{
	struct pub *p = ud;
	for(int i = 0; i < p->inflight; i++){
		if(p->fl[i].mid != mid) continue;
		long what = p->fl[i].what;
		p->fl[i] = p->fl[--p->inflight];
		p->acked++;
		if(what < 0) p->manifest_rc = reason;
		if(reason >= 0x80){
			p->refused++;
			if(what < 0)
				cli_err("the broker refused the manifest: PUBACK 0x%02x (%s)", (unsigned)reason, mosquitto_reason_string(reason));
			else
				cli_err("the broker refused chunk %ld: PUBACK 0x%02x (%s)", what, (unsigned)reason, mosquitto_reason_string(reason));
		}
		return;
	}
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	struct pub *p = ud;
	if(strcmp(msg->topic, p->events_topic) || msg->payloadlen <= 0) return;
	cJSON *o = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "client");
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "reason");
	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(o, "topic");
	if(cJSON_IsString(ev) && cJSON_IsString(cl) && !strcmp(cl->valuestring, p->client_id)){
		const char *e = ev->valuestring;
		if(cJSON_IsString(rs)){
			p->events_rejected++;
			cli_err("broker: %s %s: %s", e, cJSON_IsString(tp) ? tp->valuestring : "", rs->valuestring);
		}else if(!strcmp(e, "manifest.accepted") || !strcmp(e, "image.complete")){
			fprintf(stderr, "fwguard publish: broker: %s\n", e);
		}
	}
	cJSON_Delete(o);
}

/* Run the network loop until done() or the deadline; false on timeout or a
 * lost connection. */
static bool pump(struct pub *p, double deadline, bool (*done)(struct pub *))
{
	while(!done(p)){
		if(cli_mono() > deadline) return false;
		int rc = mosquitto_loop(p->mosq, 100, 1);
		if(rc != MOSQ_ERR_SUCCESS || p->lost){
			if(done(p)) return true;
			cli_err("connection lost: %s", p->lost ? "disconnected by the broker" : mosquitto_strerror(rc));
			return false;
		}
	}
	return true;
}
static bool is_connected(struct pub *p) { return p->conn_done; }
static bool is_subscribed(struct pub *p) { return p->sub_done; }
static bool all_acked(struct pub *p) { return p->inflight == 0; }
static int g_window;
static bool window_free(struct pub *p) { return p->inflight < g_window; }

static int publish_one(struct pub *p, struct fwg_tag_ctx *tag, const char *topic, const void *buf,
		size_t len, long what)
{
	uint8_t sha[FWG_SHA256_LEN], mac[FWG_SHA256_LEN];
	char ts[24], hex[FWG_TAG_HEX_LEN + 1];
	fwg_sha256(buf, len, sha);
	snprintf(ts, sizeof(ts), "%" PRId64, cli_now());
	if(fwg_tag_compute(tag, topic, ts, sha, mac) != 0){
		cli_err("cannot compute the tag of '%s'", topic);
		return -1;
	}
	fwg_hex_encode(mac, sizeof(mac), hex);
	mosquitto_property *props = NULL;
	if(mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "fw-ts", ts) != MOSQ_ERR_SUCCESS ||
			mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "fw-tag", hex) != MOSQ_ERR_SUCCESS){
		mosquitto_property_free_all(&props);
		cli_err("out of memory");
		return -1;
	}
	int mid = 0;
	int rc = mosquitto_publish_v5(p->mosq, &mid, topic, (int)len, buf, 1, true, props);
	mosquitto_property_free_all(&props);
	if(rc != MOSQ_ERR_SUCCESS){
		cli_err("cannot publish '%s': %s", topic, mosquitto_strerror(rc));
		return -1;
	}
	p->fl[p->inflight].mid = mid;
	p->fl[p->inflight].what = what;
	p->inflight++;
	return 0;
}

int publish_main(int argc, char *argv[])
{
	enum { O_VKEY = OPT_LOCAL_FIRST, O_BPUB, O_WINDOW, O_MONLY, O_CONLY, O_TIMEOUT, O_WAITEV, O_HELP };
	static const struct option opts[] = {
		CLI_MQTT_LONGOPTS,
		{ "vendor-key", required_argument, NULL, O_VKEY },
		{ "broker-pub", required_argument, NULL, O_BPUB },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "manifest-only", no_argument, NULL, O_MONLY },
		{ "chunks-only", no_argument, NULL, O_CONLY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "wait-events", required_argument, NULL, O_WAITEV },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_mqtt mq;
	cli_mqtt_defaults(&mq);
	const char *vkey = NULL, *bpub = NULL;
	uint64_t window = 16, timeout = 300, waitev = 3;
	bool do_manifest = true, do_chunks = true;
	int c;
	opterr = 0;
	while((c = getopt_long(argc, argv, ":" CLI_MQTT_SHORTOPTS, opts, NULL)) != -1){
		int r = cli_mqtt_option(&mq, c, optarg);
		if(r < 0) return EXIT_USAGE;
		if(r > 0) continue;
		switch(c){
		case O_VKEY: vkey = optarg; break;
		case O_BPUB: bpub = optarg; break;
		case O_WINDOW:
			if(cli_parse_u64("window", optarg, MAX_WINDOW, &window) != 0) return EXIT_USAGE;
			if(window == 0){ cli_err("invalid window '%s' (1..%d)", optarg, MAX_WINDOW); return EXIT_USAGE; }
			break;
		case O_MONLY: do_chunks = false; break;
		case O_CONLY: do_manifest = false; break;
		case O_TIMEOUT: if(cli_parse_u64("timeout", optarg, 86400 * 7, &timeout)) return EXIT_USAGE; break;
		case O_WAITEV: if(cli_parse_u64("event wait", optarg, 3600, &waitev)) return EXIT_USAGE; break;
		case O_HELP: cli_usage(usage); return EXIT_OK;
		default: cli_bad_option(argc, argv, c); return cli_usage(usage);
		}
	}
	if(argc - optind != 2 || !vkey || !bpub){
		if(argc - optind > 2) cli_err("unexpected argument '%s'", argv[optind + 2]);
		else if(argc - optind == 2) cli_err("--vendor-key and --broker-pub are required");
		return cli_usage(usage);
	}
	if(!do_manifest && !do_chunks){
		cli_err("--manifest-only and --chunks-only exclude each other");
		return EXIT_USAGE;
	}
	g_window = (int)window;
	const char *mpath = argv[optind], *ipath = argv[optind + 1];

	int rc = EXIT_USAGE, fd = -1;
	uint8_t *raw = NULL, *buf = NULL;
	size_t rawlen = 0;
	struct fwg_manifest m;
	bool have_m = false;
	EVP_PKEY *priv = NULL, *peer = NULL;
	struct fwg_tag_ctx *tag = NULL;
	struct pub p;
	memset(&p, 0, sizeof(p));
	p.manifest_rc = -1;
	char *topic = NULL;

	if(cli_read_file(mpath, FWG_MANIFEST_MAX, &raw, &rawlen) != 0) goto out;
	enum fwg_reason r = fwg_manifest_parse(raw, rawlen, NULL, NULL, &m);
	if(r != FWG_R_OK){
		cli_err("manifest '%s' is invalid: %s", mpath, fwg_reason_str(r));
		rc = EXIT_REJECT;
		goto out;
	}
	have_m = true;
	fd = open(ipath, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		cli_err("cannot open image '%s': %s", ipath, strerror(errno));
		goto out;
	}
	if(do_chunks){
		uint64_t bad = 0;
		r = cli_check_image(fd, &m, NULL, 0, 65536, &bad);
		if(r == FWG_R_INTERNAL){
			cli_err("cannot read image '%s': %s", ipath, strerror(errno));
			goto out;
		}
		if(r != FWG_R_OK){
			cli_err("image '%s' does not match manifest '%s': %s", ipath, mpath, fwg_reason_str(r));
			rc = EXIT_REJECT;
			goto out;
		}
	}
	if((priv = cli_load_private(vkey)) == NULL || (peer = cli_load_public(bpub)) == NULL) goto out;
	uint8_t k[32];
	if(fwg_key_derive_tag_key(priv, peer, m.vendor, k) != 0){
		cli_err("key agreement failed ('%s' with '%s')", vkey, bpub);
		goto out;
	}
	tag = fwg_tag_ctx_new(k);
	OPENSSL_cleanse(k, sizeof(k));
	if(tag == NULL){ cli_err("out of memory"); goto out; }

	char defid[64];
	snprintf(defid, sizeof(defid), "fwguard-publish-%ld", (long)getpid());
	p.client_id = mq.client_id ? mq.client_id : defid;
	snprintf(p.events_topic, sizeof(p.events_topic), "%s/%s/%s/events", mq.prefix, m.vendor, m.model);
	size_t tcap = strlen(mq.prefix) + 2 * FWG_ID_MAX + 64;
	topic = malloc(tcap);
	buf = malloc(m.chunk_size);
	if(topic == NULL || buf == NULL){ cli_err("out of memory"); goto out; }

	p.mosq = cli_mqtt_new(&mq, p.client_id, true, &p);
	if(p.mosq == NULL) goto out;
	mosquitto_connect_v5_callback_set(p.mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(p.mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(p.mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(p.mosq, on_publish);
	mosquitto_message_v5_callback_set(p.mosq, on_message);
	mosquitto_max_inflight_messages_set(p.mosq, (unsigned)window);
	if(cli_mqtt_connect(p.mosq, &mq) != 0) goto out;
	double t_end = cli_mono() + (double)timeout;
	if(!pump(&p, cli_mono() + 15, is_connected) || p.conn_rc != 0){
		cli_err("cannot connect to %s:%d as '%s': %s", mq.host, mq.port, mq.username ? mq.username : "",
				p.conn_done ? mosquitto_reason_string(p.conn_rc) : "timed out");
		goto out;
	}
	if(mosquitto_subscribe_v5(p.mosq, &p.sub_mid, p.events_topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
			!pump(&p, cli_mono() + 10, is_subscribed)){
		cli_err("cannot subscribe to '%s'", p.events_topic);
		goto out;
	}
	if(!p.events_ok)
		cli_err("warning: not allowed to read '%s': the broker's reasons will not be shown", p.events_topic);

	double t0 = cli_mono();
	uint64_t bytes = 0;
	if(do_manifest){
		snprintf(topic, tcap, "%s/%s/%s/manifest", mq.prefix, m.vendor, m.model);
		if(publish_one(&p, tag, topic, raw, rawlen, -1) != 0) goto out;
		if(!pump(&p, t_end, all_acked)){
			cli_err("no PUBACK for the manifest");
			goto out;
		}
		if(p.manifest_rc >= 0x80){
			/* the reason comes on the events topic */
			unsigned before = p.events_rejected;
			double dl = cli_mono() + (double)waitev;
			while(p.events_ok && p.events_rejected == before && cli_mono() < dl)
				if(mosquitto_loop(p.mosq, 100, 1) != MOSQ_ERR_SUCCESS) break;
			rc = EXIT_REJECT;
			goto done;
		}
		bytes += rawlen;
		printf("published %s (%zu bytes)\n", topic, rawlen);
	}
	if(do_chunks){
		struct cli_progress pr;
		cli_progress_init(&pr, "chunks", m.nchunks);
		for(uint32_t i = 0; i < m.nchunks; i++){
			if(!pump(&p, t_end, window_free)) goto timeout;
			size_t len = (size_t)fwg_manifest_chunk_len(&m, i), got = 0;
			while(got < len){
				ssize_t n = pread(fd, buf + got, len - got, (off_t)((uint64_t)i * m.chunk_size + got));
				if(n < 0 && errno == EINTR) continue;
				if(n <= 0){
					cli_err("cannot read image '%s': %s", ipath, n < 0 ? strerror(errno) : "it shrank");
					goto out;
				}
				got += (size_t)n;
			}
			snprintf(topic, tcap, "%s/%s/%s/chunk/%" PRIu64 "/%" PRIu32, mq.prefix, m.vendor, m.model, m.sequence, i);
			if(publish_one(&p, tag, topic, buf, len, (long)i) != 0) goto out;
			bytes += len;
			cli_progress_update(&pr, p.acked - (do_manifest ? 1 : 0));
		}
		if(!pump(&p, t_end, all_acked)) goto timeout;
		cli_progress_update(&pr, m.nchunks);
		cli_progress_end(&pr);
	}
	double dt = cli_mono() - t0;
	if(p.refused && p.events_ok){
		unsigned before = p.events_rejected;
		double dl = cli_mono() + (double)waitev;
		while(p.events_rejected == before && cli_mono() < dl)
			if(mosquitto_loop(p.mosq, 100, 1) != MOSQ_ERR_SUCCESS) break;
	}
	printf("published %s/%s sequence %" PRIu64 ": %s%u chunks, %" PRIu64 " bytes in %.3f s (%.2f MB/s), %u refused\n",
			m.vendor, m.model, m.sequence, do_manifest ? "manifest and " : "", do_chunks ? m.nchunks : 0,
			bytes, dt, dt > 0 ? (double)bytes / dt / 1e6 : 0.0, p.refused);
	rc = p.refused ? EXIT_REJECT : EXIT_OK;
	goto done;
timeout:
	cli_err("%s while %d publishes were in flight", p.lost ? "connection lost" : "timed out", p.inflight);
	rc = EXIT_USAGE;
done:
	mosquitto_disconnect_v5(p.mosq, 0, NULL);
	for(int i = 0; i < 20 && mosquitto_loop(p.mosq, 50, 1) == MOSQ_ERR_SUCCESS; i++)
		;
out:
	if(p.mosq) mosquitto_destroy(p.mosq);
	mosquitto_lib_cleanup();
	fwg_tag_ctx_free(tag);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(peer);
	if(have_m) fwg_manifest_free(&m);
	if(fd >= 0) close(fd);
	free(raw);
	free(buf);
	free(topic);
	return rc;
}
