/* fwg_load: a load generator for fwguard on libmosquitto.
 *
 * One process, one thread: one publisher connection and N subscriber
 * connections, all polled with poll() and mosquitto_loop_read/write/misc.
 * Bounded in count (--count) and in time (--duration for publishing,
 * --timeout for everything). MQTT v5 throughout.
 *
 *   fwg_load run  [options]    publisher + subscribers (either may be 0)
 *   fwg_load hash [--size B] [--reps N]   ns per SHA-256 of B bytes (the
 *                              hash speed the "single pass" bound uses)
 *   fwg_load sink -t TOPIC ...  the least an MQTT receiver of that cell does (sink.c)
 *
 * Plain mode (default): payloads of --size bytes on --topic, the first 8
 * bytes a sequence number (little endian); each subscriber counts gaps
 * (lost) and repeats (dup).
 *
 * Firmware mode (--fw): the publisher is the vendor. It makes an image of
 * --nchunks x --chunk-size pseudo-random bytes, signs a manifest for it
 * (sequence --sequence, chunk_sha256 listed) with --sign-key, publishes the
 * manifest (tagged, QoS 1, retained) and waits for its PUBACK, then
 * publishes --count chunks, cycling over the image, each tagged with fw-ts
 * and fw-tag (HMAC with the ECDH-derived K of --vendor-ecdh and
 * --broker-pub). Round r over the image uses fw-ts = start - 200 + r, so
 * every (topic, fw-ts) pair, hence every tag, is distinct. Subscribers
 * subscribe to <prefix>/<vendor>/<model>/chunk/<sequence>/# (retained
 * copies are not sent on subscribe), and count chunks in publish order.
 * With --verify (a rollout: --count = --nchunks), each subscriber also
 * subscribes to the manifest, checks its signature, checks every chunk's
 * length and SHA-256 against the manifest, reassembles the image as a
 * streaming SHA-256 in index order and compares it with the manifest's
 * sha256: an "install" is good or corrupt.
 *
 * Flow control: at most --window publishes in flight (QoS 1 PUBACKs), and
 * with --e2e-window W at most W messages published and not yet received by
 * the slowest subscriber (QoS 0 then loses nothing on loopback).
 *
 * Output: one JSON object on stdout (--json) or a short text summary.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/evp.h>
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "fwguard/manifest.h"
#include "fwguard/tag.h"
#include "fwg_load.h"

#define MAX_WINDOW 4096

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fwg_load: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* FMT with its first "%d" replaced by n. */
static void fmt_user(char *out, size_t cap, const char *fmt, int n)
{
	const char *d = strstr(fmt, "%d");
	if(!d) snprintf(out, cap, "%s", fmt);
	else snprintf(out, cap, "%.*s%d%s", (int)(d - fmt), fmt, n, d + 2);
}

struct sub;

struct cfg {
	const char *host;
	int port;
	int nsubs;
	bool pub;
	const char *sub_user;   /* printf format with %d, or NULL */
	const char *pub_user;
	const char *password;
	const char *pub_id;
	int broker_pid;         /* --broker-pid: its CPU time over the measured run */
	const char *topic;
	size_t size;
	int qos, sub_qos;
	bool retain;
	uint64_t count;
	double duration, timeout;
	int window, e2e_window;
	bool json;
	/* firmware */
	bool fw, verify;
	const char *prefix, *vendor, *model;
	const char *sign_key, *vendor_ecdh, *broker_pub;
	uint64_t sequence;
	size_t chunk_size;
	uint32_t nchunks;
};

/* Firmware image and manifest (publisher side), and the pinned key. */
struct fw {
	uint8_t *image;
	uint8_t (*chunk_sha)[32];
	uint8_t sha[32];
	char *manifest_json;
	size_t manifest_len;
	EVP_PKEY *sign;          /* the vendor signing key: its public half is the device pin */
	struct fwg_tag_ctx *tag;
	char manifest_topic[256], chunk_base[256];
	int64_t ts0;
};

struct sub {
	struct mosquitto *mosq;
	int idx;
	bool connected, subscribed, failed;
	int suback_pending;
	uint64_t received, lost, dup, bytes, expect;
	/* --verify */
	bool have_manifest, done, good;
	struct fwg_manifest m;
	EVP_MD_CTX *img;
	uint32_t next;           /* next chunk index to feed into the image hash */
	uint8_t *have;           /* per chunk: 0 missing, 1 received, 2 fed */
	uint8_t **held;          /* chunks received ahead of order */
	size_t *held_len;
	uint32_t distinct;
	uint64_t corrupt_chunks;
};

struct pubc {
	struct mosquitto *mosq;
	bool connected;
	int inflight;
	uint64_t published, acked, refused;
	int manifest_mid;
	int manifest_rc;         /* -1 until acked */
};

static struct cfg C;
static struct fw F;
static struct sub *S;
static struct pubc P;
static int g_connected_subs, g_subscribed_subs;

/* ---- subscriber callbacks ---- */

static void sub_on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *pr)
{
	struct sub *s = ud;
	(void)m; (void)flags; (void)pr;
	if(rc){
		fprintf(stderr, "fwg_load: subscriber %d: CONNACK %d (%s)\n", s->idx, rc, mosquitto_reason_string(rc));
		s->failed = true;
		return;
	}
	if(!s->connected){ s->connected = true; g_connected_subs++; }
}

static void sub_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
		const mosquitto_property *pr)
{
	struct sub *s = ud;
	(void)m; (void)mid; (void)pr;
	for(int i = 0; i < n; i++){
		if(granted[i] >= 0x80){
			fprintf(stderr, "fwg_load: subscriber %d: SUBACK 0x%02x\n", s->idx, (unsigned)granted[i]);
			s->failed = true;
		}
	}
	if(--s->suback_pending == 0 && !s->subscribed){ s->subscribed = true; g_subscribed_subs++; }
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for(int i = 7; i >= 0; i--) v = v << 8 | p[i];
	return v;
}

static void verify_feed(struct sub *s, uint32_t i, const uint8_t *data, size_t len)
{
	EVP_DigestUpdate(s->img, data, len);
	s->have[i] = 2;
	s->next = i + 1;
}

static void verify_finish(struct sub *s)
{
	uint8_t d[32];
	unsigned dl = 32;
	EVP_DigestFinal_ex(s->img, d, &dl);
	s->done = true;
	s->good = s->next == s->m.nchunks && !memcmp(d, s->m.sha256, 32);
}

static void verify_chunk(struct sub *s, uint32_t i, const uint8_t *data, size_t len)
{
	uint8_t d[32];
	if(i >= s->m.nchunks || len != fwg_manifest_chunk_len(&s->m, i)){
		s->corrupt_chunks++;
		return;
	}
	fwg_sha256(data, len, d);
	if(!s->m.has_chunk_sha || memcmp(d, s->m.chunk_sha[i], 32)){
		s->corrupt_chunks++;
		return;
	}
	if(s->have[i]){ s->dup++; return; }
	s->have[i] = 1;
	s->distinct++;
	if(i != s->next){
		/* ahead of order: hold a copy until its turn */
		s->held[i] = malloc(len);
		if(!s->held[i]) die("%s", "out of memory");
		memcpy(s->held[i], data, len);
		s->held_len[i] = len;
		return;
	}
	verify_feed(s, i, data, len);
	while(s->next < s->m.nchunks && s->have[s->next] == 1){
		uint32_t j = s->next;
		verify_feed(s, j, s->held[j], s->held_len[j]);
		free(s->held[j]);
		s->held[j] = NULL;
	}
	if(s->next == s->m.nchunks) verify_finish(s);
}

static void verify_manifest(struct sub *s, const uint8_t *payload, size_t len)
{
	struct fwg_manifest m;
	if(s->have_manifest) return;
	if(fwg_manifest_parse(payload, len, C.vendor, C.model, &m) != FWG_R_OK){
		s->failed = true;
		return;
	}
	if(fwg_manifest_verify(&m, F.sign) != FWG_R_OK || m.sequence != C.sequence){
		fwg_manifest_free(&m);
		s->failed = true;
		return;
	}
	s->m = m;
	s->have_manifest = true;
	s->img = EVP_MD_CTX_new();
	EVP_DigestInit_ex(s->img, EVP_sha256(), NULL);
	s->have = calloc(m.nchunks, 1);
	s->held = calloc(m.nchunks, sizeof(*s->held));
	s->held_len = calloc(m.nchunks, sizeof(*s->held_len));
	if(!s->img || !s->have || !s->held || !s->held_len) die("%s", "out of memory");
}

/* chunk index from ".../chunk/<seq>/<index>" */
static long topic_index(const char *topic)
{
	const char *sl = strrchr(topic, '/');
	if(!sl || !sl[1]) return -1;
	char *end;
	long v = strtol(sl + 1, &end, 10);
	return *end ? -1 : v;
}

static void sub_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		const mosquitto_property *pr)
{
	struct sub *s = ud;
	(void)m; (void)pr;
	if(!C.fw){
		if(msg->payloadlen < 8){ s->dup++; return; }
		uint64_t seq = le64(msg->payload);
		if(seq < s->expect){
			s->dup++;
			return;
		}
		s->lost += seq - s->expect;
		s->expect = seq + 1;
		s->received++;
		s->bytes += (uint64_t)msg->payloadlen;
		return;
	}
	if(C.verify && !strcmp(msg->topic, F.manifest_topic)){
		verify_manifest(s, msg->payload, (size_t)msg->payloadlen);
		return;
	}
	if(msg->payloadlen == 0) return;   /* the broker clearing an old image */
	long i = topic_index(msg->topic);
	if(i < 0){ s->dup++; return; }
	/* publish order: message k carries index k mod nchunks */
	uint64_t want = s->expect % C.nchunks;
	if((uint64_t)i != want){
		uint64_t gap = ((uint64_t)i + C.nchunks - want) % C.nchunks;
		s->lost += gap;
		s->expect += gap;
	}
	s->expect++;
	s->received++;
	s->bytes += (uint64_t)msg->payloadlen;
	if(C.verify){
		if(!s->have_manifest){
			s->corrupt_chunks++;   /* a chunk before its manifest: a device would drop it */
			return;
		}
		verify_chunk(s, (uint32_t)i, msg->payload, (size_t)msg->payloadlen);
	}
}

/* ---- publisher callbacks ---- */

static void pub_on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *pr)
{
	(void)m; (void)ud; (void)flags; (void)pr;
	if(rc){
		fprintf(stderr, "fwg_load: publisher: CONNACK %d (%s)\n", rc, mosquitto_reason_string(rc));
		exit(2);
	}
	P.connected = true;
}

static void pub_on_publish(struct mosquitto *m, void *ud, int mid, int reason, const mosquitto_property *pr)
{
	(void)m; (void)ud; (void)pr;
	if(C.fw && mid == P.manifest_mid){
		P.manifest_rc = reason;
		return;
	}
	if(P.inflight > 0) P.inflight--;
	P.acked++;
	if(reason >= 0x80) P.refused++;
}

/* ---- setup ---- */

static struct mosquitto *new_client(const char *id, void *ud, const char *user)
{
	struct mosquitto *m = mosquitto_new(id, true, ud);
	if(!m) die("%s", "mosquitto_new failed");
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if(user && mosquitto_username_pw_set(m, user, C.password)) die("%s", "username_pw_set failed");
	int rc = mosquitto_connect_bind_v5(m, C.host, C.port, 60, NULL, NULL);
	if(rc) die("cannot connect: %s", mosquitto_strerror(rc));
	return m;
}

static void xorshift_fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for(size_t i = 0; i < n; i += 8){
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(p + i, &x, k);
	}
}

static void fw_setup(void)
{
	char err[256];
	snprintf(F.manifest_topic, sizeof(F.manifest_topic), "%s/%s/%s/manifest", C.prefix, C.vendor, C.model);
	snprintf(F.chunk_base, sizeof(F.chunk_base), "%s/%s/%s/chunk/%" PRIu64, C.prefix, C.vendor, C.model,
			C.sequence);
	if(!C.sign_key) die("%s", "--fw needs --sign-key");
	if(fwg_key_load_private_pem(C.sign_key, &F.sign, err, sizeof(err))) die("%s", err);
	if(!C.pub) return;
	if(!C.vendor_ecdh || !C.broker_pub) die("%s", "--fw publishing needs --vendor-ecdh and --broker-pub");
	EVP_PKEY *ve, *bp;
	if(fwg_key_load_private_pem(C.vendor_ecdh, &ve, err, sizeof(err))) die("%s", err);
	FILE *f = fopen(C.broker_pub, "r");
	char b64[1024];
	size_t n = f ? fread(b64, 1, sizeof(b64) - 1, f) : 0;
	if(f) fclose(f);
	while(n && (b64[n - 1] == '\n' || b64[n - 1] == '\r' || b64[n - 1] == ' ')) n--;
	b64[n] = '\0';
	if(fwg_key_parse_public_b64(b64, n, &bp)) die("bad --broker-pub %s", C.broker_pub);
	uint8_t k[32];
	if(fwg_key_derive_tag_key(ve, bp, C.vendor, k)) die("%s", "tag key derivation failed");
	F.tag = fwg_tag_ctx_new(k);
	EVP_PKEY_free(ve);
	EVP_PKEY_free(bp);

	size_t size = (size_t)C.nchunks * C.chunk_size;
	F.image = malloc(size);
	F.chunk_sha = calloc(C.nchunks, 32);
	if(!F.image || !F.chunk_sha) die("%s", "out of memory");
	xorshift_fill(F.image, size, C.sequence);
	for(uint32_t i = 0; i < C.nchunks; i++) fwg_sha256(F.image + (size_t)i * C.chunk_size, C.chunk_size, F.chunk_sha[i]);
	fwg_sha256(F.image, size, F.sha);

	struct fwg_manifest m;
	memset(&m, 0, sizeof(m));
	m.format = 1;
	snprintf(m.vendor, sizeof(m.vendor), "%s", C.vendor);
	snprintf(m.model, sizeof(m.model), "%s", C.model);
	snprintf(m.version, sizeof(m.version), "bench.%" PRIu64, C.sequence);
	m.sequence = C.sequence;
	m.size = size;
	memcpy(m.sha256, F.sha, 32);
	m.chunk_size = C.chunk_size;
	m.issued = (uint64_t)time(NULL) - 60;
	m.expires = m.issued + 86400;
	fwg_key_id(F.sign, m.key_id);
	m.nchunks = C.nchunks;
	m.has_chunk_sha = true;
	m.n_chunk_sha = C.nchunks;
	m.chunk_sha = F.chunk_sha;
	if(fwg_manifest_sign(&m, F.sign)) die("%s", "manifest signing failed");
	F.manifest_json = fwg_manifest_to_json(&m);
	F.manifest_len = strlen(F.manifest_json);
	F.ts0 = (int64_t)time(NULL) - 200;
}

/* A tagged firmware publish (PROTOCOL §3). */
static int fw_publish(int *mid, const char *topic, const uint8_t *payload, size_t len,
		const uint8_t sha[32], int64_t ts)
{
	char tsb[24], hex[65];
	uint8_t mac[32];
	mosquitto_property *props = NULL;
	snprintf(tsb, sizeof(tsb), "%" PRId64, ts);
	if(fwg_tag_compute(F.tag, topic, tsb, sha, mac)) die("%s", "tag failed");
	fwg_hex_encode(mac, 32, hex);
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "fw-ts", tsb);
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "fw-tag", hex);
	int rc = mosquitto_publish_v5(P.mosq, mid, topic, (int)len, payload, 1, true, props);
	mosquitto_property_free_all(&props);
	return rc;
}

/* ---- the loop ---- */

static struct pollfd *g_pfd;
static struct mosquitto **g_who;

static void service(struct mosquitto *m)
{
	/* read what is there, bounded, then write */
	for(int k = 0; k < 256; k++){
		errno = 0;
		int rc = mosquitto_loop_read(m, 1);
		if(rc != MOSQ_ERR_SUCCESS){
			if(rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_PROTOCOL){
				fprintf(stderr, "fwg_load: connection lost: %s\n", mosquitto_strerror(rc));
				exit(3);
			}
			break;
		}
		if(errno == EAGAIN || errno == EWOULDBLOCK) break;
	}
}

static int poll_once(int timeout_ms)
{
	int n = 0;
	int total = C.nsubs + (C.pub ? 1 : 0);
	for(int i = 0; i < total; i++){
		struct mosquitto *m = i < C.nsubs ? S[i].mosq : P.mosq;
		if(!m) continue;
		g_pfd[n].fd = mosquitto_socket(m);
		g_pfd[n].events = POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0);
		g_pfd[n].revents = 0;
		g_who[n++] = m;
	}
	int r = poll(g_pfd, (nfds_t)n, timeout_ms);
	if(r < 0 && errno != EINTR) die("poll: %s", strerror(errno));
	for(int i = 0; i < n && r > 0; i++){
		if(!g_pfd[i].revents) continue;
		if(g_pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) service(g_who[i]);
		if(g_pfd[i].revents & POLLOUT || mosquitto_want_write(g_who[i])) mosquitto_loop_write(g_who[i], 1);
	}
	return r;
}

static void misc_all(void)
{
	for(int i = 0; i < C.nsubs; i++) mosquitto_loop_misc(S[i].mosq);
	if(P.mosq) mosquitto_loop_misc(P.mosq);
}

static uint64_t min_received(void)
{
	uint64_t mn = UINT64_MAX;
	for(int i = 0; i < C.nsubs; i++){
		uint64_t r = S[i].received + S[i].lost;
		if(r < mn) mn = r;
	}
	return mn;
}

static bool all_received(uint64_t n)
{
	for(int i = 0; i < C.nsubs; i++){
		if(S[i].failed) continue;
		if(S[i].received + S[i].lost < n) return false;
		if(C.verify && !S[i].done) return false;
	}
	return true;
}

double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec
		+ ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of a process, in seconds (-1 if unreadable) */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if(!f) return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if(!p) return -1;
	unsigned long ut = 0, st = 0;
	/* after ") ": state(3) ... utime is field 14, stime 15 */
	if(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmd_hash(int argc, char **argv)
{
	size_t size = 65536;
	long reps = 2000;
	for(int i = 1; i + 1 < argc; i += 2){
		if(!strcmp(argv[i], "--size")) size = strtoul(argv[i + 1], NULL, 10);
		else if(!strcmp(argv[i], "--reps")) reps = strtol(argv[i + 1], NULL, 10);
	}
	uint8_t *buf = malloc(size), d[32];
	xorshift_fill(buf, size, 1);
	double best = 1e9;
	for(int r = 0; r < 5; r++){
		double t0 = now_s();
		for(long i = 0; i < reps; i++){ buf[0] = (uint8_t)i; fwg_sha256(buf, size, d); }
		double t = (now_s() - t0) / (double)reps;
		if(t < best) best = t;
	}
	printf("{\"size\":%zu,\"ns_per_hash\":%.0f,\"mb_per_s\":%.1f}\n", size, best * 1e9, (double)size / best / 1e6);
	free(buf);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fwg_load run [-h HOST] [-p PORT] [--subs N] [--no-pub] [--sub-user FMT%%d] [--pub-user U]\n"
		"         [-P PASS | FWG_PASSWORD] [--pub-id ID] [--topic T] [--size B] [--qos 0|1] [--sub-qos 0|1]\n"
		"         [--retain] [--count N] [--duration S] [--timeout S] [--window W] [--e2e-window W] [--json]\n"
		"         [--broker-pid PID]\n"
		"         [--fw --vendor V --model M --prefix P --sign-key PEM --vendor-ecdh PEM --broker-pub B64FILE\n"
		"          --sequence N --chunk-size B --nchunks N [--verify]]\n"
		"       fwg_load hash [--size B] [--reps N]\n"
		"       fwg_load sink -p PORT -u USER -P PASSWORD -t TOPIC --out FILE --bytes N [--hash] [--rbuf B]\n"
		"                     [--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if(argc < 2) usage();
	if(!strcmp(argv[1], "hash")) return cmd_hash(argc - 1, argv + 1);
	if(!strcmp(argv[1], "sink")) return cmd_sink(argc - 1, argv + 1);
	if(strcmp(argv[1], "run")) usage();
	argc--; argv++;

	C = (struct cfg){ .host = "127.0.0.1", .port = 1883, .nsubs = 1, .pub = true, .topic = "bench/load",
		.size = 1024, .qos = 1, .sub_qos = -1, .count = 100000, .duration = 10, .timeout = 60,
		.window = 64, .e2e_window = 0, .prefix = "fw", .vendor = "acme", .model = "thermo-x1",
		.sequence = 1, .chunk_size = 65536, .nchunks = 64, .pub_id = "fwg-load-pub" };
	C.password = getenv("FWG_PASSWORD");
	static const struct option lo[] = {
		{ "subs", 1, 0, 's' }, { "no-pub", 0, 0, 'N' }, { "sub-user", 1, 0, 'U' }, { "pub-user", 1, 0, 'u' },
		{ "pub-id", 1, 0, 'I' }, { "topic", 1, 0, 't' }, { "size", 1, 0, 'z' }, { "qos", 1, 0, 'q' },
		{ "sub-qos", 1, 0, 'Q' }, { "retain", 0, 0, 'r' }, { "count", 1, 0, 'c' }, { "duration", 1, 0, 'd' },
		{ "timeout", 1, 0, 'T' }, { "window", 1, 0, 'w' }, { "e2e-window", 1, 0, 'W' }, { "json", 0, 0, 'j' },
		{ "fw", 0, 0, 'f' }, { "verify", 0, 0, 'v' }, { "vendor", 1, 0, 'V' }, { "model", 1, 0, 'M' },
		{ "prefix", 1, 0, 'x' }, { "sign-key", 1, 0, 'k' }, { "vendor-ecdh", 1, 0, 'e' },
		{ "broker-pub", 1, 0, 'b' }, { "sequence", 1, 0, 'n' }, { "chunk-size", 1, 0, 'C' },
		{ "nchunks", 1, 0, 'K' }, { "broker-pid", 1, 0, 'B' }, { 0, 0, 0, 0 } };
	int o;
	while((o = getopt_long(argc, argv, "h:p:P:", lo, NULL)) != -1){
		switch(o){
			case 'h': C.host = optarg; break;
			case 'p': C.port = atoi(optarg); break;
			case 'P': C.password = optarg; break;
			case 's': C.nsubs = atoi(optarg); break;
			case 'N': C.pub = false; break;
			case 'U': C.sub_user = optarg; break;
			case 'u': C.pub_user = optarg; break;
			case 'I': C.pub_id = optarg; break;
			case 't': C.topic = optarg; break;
			case 'z': C.size = strtoul(optarg, NULL, 10); break;
			case 'q': C.qos = atoi(optarg); break;
			case 'Q': C.sub_qos = atoi(optarg); break;
			case 'r': C.retain = true; break;
			case 'c': C.count = strtoull(optarg, NULL, 10); break;
			case 'd': C.duration = atof(optarg); break;
			case 'T': C.timeout = atof(optarg); break;
			case 'w': C.window = atoi(optarg); break;
			case 'W': C.e2e_window = atoi(optarg); break;
			case 'j': C.json = true; break;
			case 'f': C.fw = true; break;
			case 'v': C.verify = true; break;
			case 'V': C.vendor = optarg; break;
			case 'M': C.model = optarg; break;
			case 'x': C.prefix = optarg; break;
			case 'k': C.sign_key = optarg; break;
			case 'e': C.vendor_ecdh = optarg; break;
			case 'b': C.broker_pub = optarg; break;
			case 'n': C.sequence = strtoull(optarg, NULL, 10); break;
			case 'C': C.chunk_size = strtoul(optarg, NULL, 10); break;
			case 'B': C.broker_pid = atoi(optarg); break;
			case 'K': C.nchunks = (uint32_t)strtoul(optarg, NULL, 10); break;
			default: usage();
		}
	}
	if(C.sub_qos < 0) C.sub_qos = C.qos;
	if(C.window < 1 || C.window > MAX_WINDOW) die("%s", "--window out of range");
	if(C.nsubs < 0 || C.nsubs > 100000) die("%s", "--subs out of range");
	if(!C.fw && C.size < 8) die("%s", "--size must be >= 8 (sequence number)");
	if(C.fw){
		C.qos = 1;
		if(C.nchunks < 1 || C.nchunks > 1024) die("%s", "--nchunks must be 1..1024");
		if(C.verify) C.count = C.nchunks;
		if(C.count / C.nchunks > 390) die("%s", "--count too large: at most 390 rounds over the image (fw-ts slots)");
	}
	mosquitto_lib_init();
	if(C.fw) fw_setup();

	double t_start = now_s(), deadline = t_start + C.timeout;
	S = calloc((size_t)C.nsubs + 1, sizeof(*S));
	g_pfd = calloc((size_t)C.nsubs + 2, sizeof(*g_pfd));
	g_who = calloc((size_t)C.nsubs + 2, sizeof(*g_who));
	if(!S || !g_pfd || !g_who) die("%s", "out of memory");

	/* 1. subscribers: connect, subscribe (retained copies not sent) */
	for(int i = 0; i < C.nsubs; i++){
		char id[64], user[256];
		S[i].idx = i;
		snprintf(id, sizeof(id), "fwg-load-sub-%d-%d", (int)getpid(), i);
		if(C.sub_user) fmt_user(user, sizeof(user), C.sub_user, i + 1);
		S[i].mosq = new_client(id, &S[i], C.sub_user ? user : NULL);
		mosquitto_connect_v5_callback_set(S[i].mosq, sub_on_connect);
		mosquitto_subscribe_v5_callback_set(S[i].mosq, sub_on_subscribe);
		mosquitto_message_v5_callback_set(S[i].mosq, sub_on_message);
		/* keep the accept backlog small: drain every 64 connects */
		if(i % 64 == 63) while(poll_once(0) > 0);
	}
	while(g_connected_subs < C.nsubs){
		for(int i = 0; i < C.nsubs; i++) if(S[i].failed) exit(2);
		if(now_s() > deadline) die("%s", "timeout connecting subscribers");
		poll_once(100);
	}
	for(int i = 0; i < C.nsubs; i++){
		char filt[300];
		int opts = MQTT_SUB_OPT_SEND_RETAIN_NEVER;
		if(C.fw) snprintf(filt, sizeof(filt), "%s/#", F.chunk_base);
		else snprintf(filt, sizeof(filt), "%s", C.topic);
		S[i].suback_pending = 1 + (C.verify ? 1 : 0);
		if(mosquitto_subscribe_v5(S[i].mosq, NULL, filt, C.sub_qos, opts, NULL)) die("%s", "subscribe failed");
		if(C.verify && mosquitto_subscribe_v5(S[i].mosq, NULL, F.manifest_topic, 1, 0, NULL)) die("%s", "subscribe failed");
	}
	while(g_subscribed_subs < C.nsubs){
		for(int i = 0; i < C.nsubs; i++) if(S[i].failed) exit(2);
		if(now_s() > deadline) die("%s", "timeout subscribing");
		poll_once(100);
	}
	double t_subscribed = now_s();

	/* 2. publisher */
	double t0 = 0, t_pub_end = 0, t_end = 0;
	P.manifest_rc = -1;
	if(C.pub){
		P.mosq = new_client(C.pub_id, NULL, C.pub_user);
		mosquitto_connect_v5_callback_set(P.mosq, pub_on_connect);
		mosquitto_publish_v5_callback_set(P.mosq, pub_on_publish);
		while(!P.connected){
			if(now_s() > deadline) die("%s", "timeout connecting the publisher");
			poll_once(100);
		}
		if(C.fw){
			uint8_t msha[32];
			fwg_sha256(F.manifest_json, F.manifest_len, msha);
			if(fw_publish(&P.manifest_mid, F.manifest_topic, (uint8_t *)F.manifest_json, F.manifest_len, msha,
					(int64_t)time(NULL))) die("%s", "manifest publish failed");
			while(P.manifest_rc < 0){
				if(now_s() > deadline) die("%s", "timeout waiting for the manifest PUBACK");
				poll_once(100);
			}
			if(P.manifest_rc >= 0x80){
				fprintf(stderr, "fwg_load: manifest refused: PUBACK 0x%02x\n", (unsigned)P.manifest_rc);
				exit(1);
			}
			if(C.verify){
				/* every device has the manifest before the chunks flow */
				for(;;){
					int have = 0;
					for(int i = 0; i < C.nsubs; i++) have += S[i].have_manifest || S[i].failed;
					if(have == C.nsubs) break;
					if(now_s() > deadline) die("%s", "timeout waiting for subscribers to get the manifest");
					poll_once(100);
				}
			}
		}
	}

	/* 3. the measured run */
	uint8_t *buf = C.fw ? NULL : calloc(1, C.size);
	if(buf) xorshift_fill(buf, C.size, 7);
	t0 = now_s();
	double pub_deadline = t0 + C.duration;
	double last_misc = t0;
	uint64_t target = C.count;
	bool pub_done = !C.pub;
	double cpu0 = cpu_s();
	double bcpu0 = C.broker_pid ? proc_cpu_s(C.broker_pid) : -1;
	char topic[300];
	for(;;){
		double t = now_s();
		if(!pub_done){
			uint64_t mr = C.nsubs && C.e2e_window ? min_received() : 0;
			while(P.published < C.count && (C.qos == 0 || P.inflight < C.window)
					&& (!C.e2e_window || !C.nsubs || P.published - mr < (uint64_t)C.e2e_window)){
				int rc;
				if(C.fw){
					uint64_t k = P.published;
					uint32_t i = (uint32_t)(k % C.nchunks);
					snprintf(topic, sizeof(topic), "%s/%u", F.chunk_base, i);
					rc = fw_publish(NULL, topic, F.image + (size_t)i * C.chunk_size, C.chunk_size, F.chunk_sha[i],
							F.ts0 + (int64_t)(k / C.nchunks));
				}else{
					uint64_t k = P.published;
					for(int b = 0; b < 8; b++) buf[b] = (uint8_t)(k >> (8 * b));
					rc = mosquitto_publish_v5(P.mosq, NULL, C.topic, (int)C.size, buf, C.qos, C.retain, NULL);
				}
				if(rc) die("publish failed: %s", mosquitto_strerror(rc));
				P.published++;
				if(C.qos) P.inflight++;
				if((P.published & 15) == 0) mosquitto_loop_write(P.mosq, 1);
			}
			mosquitto_loop_write(P.mosq, 1);
			if(P.published >= C.count || t > pub_deadline){
				pub_done = true;
				t_pub_end = t;
				target = P.published;
			}
		}
		if(pub_done){
			bool acks = !C.pub || C.qos == 0 || P.acked >= P.published;
			if(acks && all_received(target)){ t_end = now_s(); break; }
		}
		if(t > deadline){ t_end = t; break; }
		if(t - last_misc > 0.5){ misc_all(); last_misc = t; }
		poll_once(pub_done ? 50 : 10);
	}
	double cpu1 = cpu_s();
	double bcpu1 = C.broker_pid ? proc_cpu_s(C.broker_pid) : -1;
	bool timed_out = now_s() > deadline;

	/* 4. report */
	uint64_t recv = 0, lost = 0, dup = 0, bytes = 0, corrupt_chunks = 0, missing_chunks = 0;
	int good = 0, corrupt = 0, incomplete = 0, failed = 0;
	for(int i = 0; i < C.nsubs; i++){
		struct sub *s = &S[i];
		recv += s->received; dup += s->dup; bytes += s->bytes;
		uint64_t short_by = s->received + s->lost < target ? target - s->received - s->lost : 0;
		lost += s->lost + short_by;
		failed += s->failed;
		if(C.verify){
			corrupt_chunks += s->corrupt_chunks;
			missing_chunks += s->have_manifest ? s->m.nchunks - s->distinct : C.nchunks;
			if(s->done && s->good) good++;
			else if(s->done) corrupt++;
			else incomplete++;
		}
	}
	double wall = t_end - t0;
	if(wall <= 0) wall = 1e-9;
	if(C.json){
		printf("{\"mode\":\"%s\",\"subs\":%d,\"size\":%zu,\"qos\":%d,\"published\":%" PRIu64 ",\"acked\":%" PRIu64
			",\"refused\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"dup\":%" PRIu64
			",\"bytes\":%" PRIu64 ",\"wall_s\":%.6f,\"pub_s\":%.6f,\"deliveries_per_s\":%.1f,\"mb_per_s\":%.3f"
			",\"pub_per_s\":%.1f,\"loadgen_cpu\":%.3f,\"setup_s\":%.3f,\"timed_out\":%s",
			C.fw ? "fw" : "plain", C.nsubs, C.fw ? C.chunk_size : C.size, C.qos, P.published, P.acked, P.refused,
			recv, lost, dup, bytes, wall, (t_pub_end ? t_pub_end : t_end) - t0, (double)recv / wall,
			(double)bytes / wall / 1e6, (double)P.published / wall, (cpu1 - cpu0) / wall,
			t_subscribed - t_start, timed_out ? "true" : "false");
		if(bcpu0 >= 0 && bcpu1 >= 0) printf(",\"broker_cpu\":%.3f", (bcpu1 - bcpu0) / wall);
		if(C.fw && C.pub){   /* the image's digest, for receivers' checks (bench/run.sh's sinks) */
			char hex[2 * sizeof(F.sha) + 1];
			fwg_hex_encode(F.sha, sizeof(F.sha), hex);
			printf(",\"image_sha256\":\"%s\"", hex);
		}
		if(C.verify){
			printf(",\"installs_good\":%d,\"installs_corrupt\":%d,\"installs_incomplete\":%d,\"corrupt_chunks\":%"
				PRIu64 ",\"missing_chunks\":%" PRIu64 ",\"failed_subs\":%d", good, corrupt, incomplete,
				corrupt_chunks, missing_chunks, failed);
		}
		printf("}\n");
	}else{
		printf("published %" PRIu64 " (acked %" PRIu64 ", refused %" PRIu64 "), %d subscriber(s): received %"
			PRIu64 ", lost %" PRIu64 ", dup %" PRIu64 "\n", P.published, P.acked, P.refused, C.nsubs, recv, lost, dup);
		printf("%.3f s: %.0f deliveries/s, %.1f MB/s delivered, loadgen CPU %.0f%%%s\n", wall, (double)recv / wall,
			(double)bytes / wall / 1e6, 100 * (cpu1 - cpu0) / wall, timed_out ? " (TIMED OUT)" : "");
		if(C.verify){
			printf("installs: %d good, %d corrupt, %d incomplete; %" PRIu64 " corrupt chunk(s), %" PRIu64
				" missing chunk(s), %d failed subscriber(s)\n", good, corrupt, incomplete, corrupt_chunks,
				missing_chunks, failed);
		}
	}
	/* clean disconnects */
	for(int i = 0; i < C.nsubs; i++) mosquitto_disconnect_v5(S[i].mosq, 0, NULL);
	if(P.mosq) mosquitto_disconnect_v5(P.mosq, 0, NULL);
	for(int k = 0; k < 5; k++) poll_once(10);
	int rc = timed_out || lost || P.refused || failed || (C.verify && (corrupt || incomplete || corrupt_chunks)) ? 1 : 0;
	for(int i = 0; i < C.nsubs; i++){
		mosquitto_destroy(S[i].mosq);
		if(S[i].have_manifest){
			for(uint32_t j = 0; j < S[i].m.nchunks; j++) free(S[i].held[j]);
			free(S[i].held); free(S[i].held_len); free(S[i].have);
			EVP_MD_CTX_free(S[i].img);
			fwg_manifest_free(&S[i].m);
		}
	}
	if(P.mosq) mosquitto_destroy(P.mosq);
	mosquitto_lib_cleanup();
	free(buf); free(S); free(g_pfd); free(g_who);
	free(F.image); free(F.chunk_sha); free(F.manifest_json);
	if(F.tag) fwg_tag_ctx_free(F.tag);
	if(F.sign) EVP_PKEY_free(F.sign);
	return rc;
}
