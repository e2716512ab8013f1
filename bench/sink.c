/* fwg_load sink: the least a receiver of the e2e cell can do, over MQTT.
 * One MQTT v5 subscription (QoS 1, as the cell's other receivers), the
 * device agent's own receive path (tools/mqttc.c: payload pieces straight
 * from the read buffer, PUBACKs of a read sent together), every payload
 * byte written to FILE with one pwritev per socket read and, with --hash,
 * one SHA-256 pass over them in arrival order (what PROTOCOL §9 asks of a
 * device: the image stored and hashed). Nothing else: no manifest, no
 * signature, no chunk bookkeeping, no status, no install. It stops once
 * --bytes payload bytes are stored, prints
 *   {"bytes":..,"messages":..,"hash":0|1,"sha256":"..","cpu_s":..}
 * (cpu_s: user + system time from the first payload byte to the last)
 * and stays connected, idle, until SIGTERM or the timeout (as the cell's
 * other receivers do, so that the bench reads all their CPU times alike).
 *   fwg_load sink -p PORT -u USER -P PASSWORD -t TOPIC --out FILE --bytes N
 *                 [--hash] [--rbuf B (131072)] [--timeout S (60)]
 * The default read buffer is the device agent's whole heap allowance
 * (chunk size + 64 KiB for 64 KiB chunks): a floor, not a copy of the
 * agent. Exit 0 when done (SIGTERM or the timeout after that), 1 on a
 * timeout before, or a lost connection, 2 usage.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "fwguard/codec.h"
#include "fwg_load.h"
#include "../tools/mqttc.h"

/* tools/mqttc.c reports set-up errors through the CLI's cli_err */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fwg_load sink: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

#define IOV_MAX_SINK 64

struct sink {
	int fd;
	EVP_MD_CTX *md;               /* NULL: no hash */
	uint64_t stored, messages;
	struct iovec iov[IOV_MAX_SINK];
	int niov;
	bool connack, failed;
	double c0;
};

static void flush(struct sink *s)
{
	if(s->niov == 0) return;
	size_t len = 0;
	for(int i = 0; i < s->niov; i++) len += s->iov[i].iov_len;
	ssize_t w = pwritev(s->fd, s->iov, s->niov, (off_t)s->stored);
	if(w < 0 || (size_t)w != len){
		fprintf(stderr, "fwg_load sink: pwritev: %s\n", w < 0 ? strerror(errno) : "short write");
		s->failed = true;
	}else{
		s->stored += len;
	}
	s->niov = 0;
}

static enum mqttc_take on_begin(void *ud, const char *topic, int qos, bool retain, uint32_t len)
{
	(void)topic; (void)qos; (void)retain;
	struct sink *s = ud;
	if(len == 0) return MQTTC_DISCARD;
	if(s->messages++ == 0) s->c0 = cpu_s();
	return MQTTC_STREAM;
}

static void on_data(void *ud, const uint8_t *p, size_t n)
{
	struct sink *s = ud;
	if(s->md) EVP_DigestUpdate(s->md, p, n);
	if(s->niov == IOV_MAX_SINK) flush(s);
	s->iov[s->niov].iov_base = (void *)p;
	s->iov[s->niov++].iov_len = n;
}

static void on_consumed(void *ud) { flush(ud); }
static void on_end(void *ud, bool ok, const uint8_t *b, size_t n) { (void)b; (void)n; if(!ok) ((struct sink *)ud)->failed = true; }
static void on_connack(void *ud, int reason) { struct sink *s = ud; s->connack = reason == 0; if(reason) s->failed = true; }
static void on_suback(void *ud, uint16_t mid, int reason) { (void)mid; if(reason) ((struct sink *)ud)->failed = true; }

int cmd_sink(int argc, char **argv)
{
	struct mqttc_opts o = { .host = "127.0.0.1", .port = 1883, .keepalive = 60, .rbuf = 131072 };
	const char *topic = NULL, *out = NULL;
	long long bytes = 0;
	double timeout = 60;
	bool hash = false;
	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--hash")){ hash = true; continue; }
		if(i + 1 >= argc){ fprintf(stderr, "fwg_load sink: %s needs a value\n", argv[i]); return 2; }
		const char *k = argv[i], *v = argv[++i];
		if(!strcmp(k, "-p")) o.port = atoi(v);
		else if(!strcmp(k, "-u")) o.username = v;
		else if(!strcmp(k, "-P")) o.password = v;
		else if(!strcmp(k, "-t")) topic = v;
		else if(!strcmp(k, "--out")) out = v;
		else if(!strcmp(k, "--bytes")) bytes = atoll(v);
		else if(!strcmp(k, "--rbuf")) o.rbuf = (size_t)atol(v);
		else if(!strcmp(k, "--timeout")) timeout = atof(v);
		else { fprintf(stderr, "fwg_load sink: unknown option '%s'\n", k); return 2; }
	}
	if(topic == NULL || out == NULL || bytes <= 0 || o.port <= 0 || o.port > 65535 || timeout <= 0){
		fprintf(stderr, "usage: fwg_load sink -p PORT -u USER -P PASSWORD -t TOPIC --out FILE --bytes N "
				"[--hash] [--rbuf B] [--timeout S]\n");
		return 2;
	}
	struct sink s = { .fd = -1 };
	struct mqttc_cb cb = { .ud = &s, .begin = on_begin, .data = on_data, .consumed = on_consumed, .end = on_end,
		.connack = on_connack, .suback = on_suback };
	struct mqttc *c = NULL;
	int rc = 2;
	s.fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(s.fd < 0){
		fprintf(stderr, "fwg_load sink: cannot open '%s': %s\n", out, strerror(errno));
		goto done;
	}
	if(hash && ((s.md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1)){
		fprintf(stderr, "fwg_load sink: SHA-256 unavailable\n");
		goto done;
	}
	if((c = mqttc_new(&o, &cb)) == NULL) goto done;
	rc = 1;
	bool asked = false;
	double end = now_s() + timeout;
	if(mqttc_connect(c) != 0){
		fprintf(stderr, "fwg_load sink: %s\n", mqttc_error(c));
		goto done;
	}
	while(!s.failed && s.stored < (uint64_t)bytes && now_s() < end){
		if(mqttc_loop(c, 200) != 0){
			fprintf(stderr, "fwg_load sink: %s\n", mqttc_error(c));
			goto done;
		}
		if(s.connack && !asked){
			char *t[1] = { (char *)topic };
			if(mqttc_subscribe(c, NULL, t, 1, 1) != 0) goto done;
			asked = true;
		}
	}
	flush(&s);
	if(s.failed || s.stored < (uint64_t)bytes){
		fprintf(stderr, "fwg_load sink: %llu of %lld bytes stored\n", (unsigned long long)s.stored, bytes);
		goto done;
	}
	double cpu = cpu_s() - s.c0;
	char hex[2 * FWG_SHA256_LEN + 1] = "";
	if(s.md){
		uint8_t md[FWG_SHA256_LEN];
		EVP_DigestFinal_ex(s.md, md, NULL);
		fwg_hex_encode(md, sizeof(md), hex);
	}
	printf("{\"bytes\":%llu,\"messages\":%llu,\"hash\":%d,\"sha256\":\"%s\",\"cpu_s\":%.3f}\n",
			(unsigned long long)s.stored, (unsigned long long)s.messages, hash ? 1 : 0, hex, cpu);
	fflush(stdout);
	rc = 0;
	/* idle until told to go (the bench's SIGTERM ends the process here) */
	while(now_s() < end && mqttc_loop(c, 200) == 0)
		;
	mqttc_disconnect(c);
done:
	mqttc_destroy(c);
	EVP_MD_CTX_free(s.md);
	if(s.fd >= 0) close(s.fd);
	return rc;
}
