/* A small MQTT v5 client with a streaming receive path (see mqttc.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "cli.h"
#include "mqttc.h"

/* packet types (high nibble of the first byte) */
enum {
	PT_CONNECT = 1, PT_CONNACK, PT_PUBLISH, PT_PUBACK, PT_PUBREC, PT_PUBREL, PT_PUBCOMP,
	PT_SUBSCRIBE, PT_SUBACK, PT_UNSUBSCRIBE, PT_UNSUBACK, PT_PINGREQ, PT_PINGRESP,
	PT_DISCONNECT, PT_AUTH,
};
/* parser states */
enum { S_TYPE, S_LEN, S_TLEN, S_TOPIC, S_PID, S_PLEN, S_PROPS, S_PAYLOAD, S_BODY };

#define IO_TIMEOUT_MS 30000     /* a write, the TCP connect or the TLS handshake */

/* ================================================== the receive parser */
void mqttc_parser_init(struct mqttc_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = S_TYPE;
}

void mqttc_parser_reset(struct mqttc_parser *p, const struct mqttc_cb *cb)
{
	if(p->in_payload && cb && cb->end) cb->end(cb->ud, false, NULL, 0);
	free(p->pbuf);
	char err[sizeof(p->err)];
	memcpy(err, p->err, sizeof(err));
	mqttc_parser_init(p);
	memcpy(p->err, err, sizeof(err));
}

static int perr(struct mqttc_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct mqttc_parser *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return -1;
}

size_t mqttc_varint(uint32_t v, uint8_t out[4])
{
	size_t n = 0;
	do{
		uint8_t b = v & 0x7f;
		v >>= 7;
		out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
	}while(v && n < 4);
	return n;
}

/* The first byte of a packet: its type and flags (§2.1.3). */
static int check_type(struct mqttc_parser *p, uint8_t b)
{
	unsigned t = b >> 4, fl = b & 0x0f;
	switch(t){
	case PT_PUBLISH:
		if(((fl >> 1) & 3) == 3) return perr(p, "malformed PUBLISH: QoS 3");
		return 0;
	case PT_PUBREL:
		return fl == 2 ? 0 : perr(p, "malformed PUBREL: flags 0x%x", fl);
	case PT_CONNACK: case PT_PUBACK: case PT_PUBREC: case PT_PUBCOMP: case PT_SUBACK:
	case PT_UNSUBACK: case PT_PINGRESP: case PT_DISCONNECT: case PT_AUTH:
		return fl == 0 ? 0 : perr(p, "malformed packet type %u: flags 0x%x", t, fl);
	default:
		return perr(p, "unexpected packet type %u from the broker", t);
	}
}

/* The remaining length is read: set up the body. */
static void start_body(struct mqttc_parser *p)
{
	p->left = p->rem;
	p->blen = 0;
	p->ntwo = 0;
	p->state = (p->type >> 4) == PT_PUBLISH ? S_TLEN : S_BODY;
}

static int publish_begin(struct mqttc_parser *p, const struct mqttc_cb *cb)
{
	int qos = (p->type >> 1) & 3;
	p->paylen = p->left;
	p->take = cb && cb->begin ? cb->begin(cb->ud, p->topic, qos, p->type & 1, p->paylen) : MQTTC_DISCARD;
	if(p->take == MQTTC_BUFFER && p->paylen > cb->buffer_max) p->take = MQTTC_DISCARD;
	if(p->take == MQTTC_BUFFER){
		p->pbuf = malloc(p->paylen ? p->paylen : 1);
		if(p->pbuf == NULL) return perr(p, "out of memory for a payload of %u bytes", p->paylen);
		p->pgot = 0;
	}
	p->in_payload = p->take != MQTTC_DISCARD;
	p->state = S_PAYLOAD;
	return 0;
}

/* A packet is complete. */
static int complete(struct mqttc_parser *p, const struct mqttc_cb *cb, const struct mqttc_events *ev)
{
	uint8_t t = p->type >> 4;
	int rc = 0;
	if(t == PT_PUBLISH){
		if(p->in_payload){
			p->in_payload = false;
			if(cb && cb->end) cb->end(cb->ud, true, p->pbuf, p->take == MQTTC_BUFFER ? p->pgot : 0);
		}
		free(p->pbuf);
		p->pbuf = NULL;
		int qos = (p->type >> 1) & 3;
		if(qos > 0 && ev && ev->ack) ev->ack(ev->ctx, qos == 1 ? PT_PUBACK : PT_PUBREC, p->pid);
	}else if(ev && ev->packet){
		rc = ev->packet(ev->ctx, t, p->body, p->blen, p->rem);
	}
	p->state = S_TYPE;
	return rc;
}

/* Two bytes of the variable header (big-endian u16) collected into p->two;
 * true when both are there. */
static bool take_two(struct mqttc_parser *p, const uint8_t **b, size_t *n)
{
	while(p->ntwo < 2 && *n > 0){
		p->two[p->ntwo++] = **b;
		(*b)++;
		(*n)--;
		p->left--;
	}
	return p->ntwo == 2;
}

static int step(struct mqttc_parser *p, const uint8_t **b, size_t *n, const struct mqttc_cb *cb,
		const struct mqttc_events *ev)
{
	switch(p->state){
	case S_TYPE:
		if(check_type(p, **b) != 0) return -1;
		p->type = **b;
		p->rem = 0;
		p->vmul = 1;
		p->vbytes = 0;
		(*b)++; (*n)--;
		p->state = S_LEN;
		return 0;
	case S_LEN: {
		uint8_t v = **b;
		(*b)++; (*n)--;
		p->rem += (uint32_t)(v & 0x7f) * p->vmul;
		p->vbytes++;
		if(v & 0x80){
			if(p->vbytes == 4) return perr(p, "malformed remaining length (more than 4 bytes)");
			p->vmul *= 128;
			return 0;
		}
		if(p->vbytes > 1 && v == 0) return perr(p, "malformed remaining length (not minimal)");
		start_body(p);
		if(p->left > 0) return 0;
		if((p->type >> 4) == PT_PUBLISH) return perr(p, "malformed PUBLISH: no topic");
		return complete(p, cb, ev);
	}
	case S_TLEN:
		if(p->ntwo == 0 && p->left < 2) return perr(p, "malformed PUBLISH: no topic");
		if(!take_two(p, b, n)) return 0;
		p->tlen = (uint16_t)(p->two[0] << 8 | p->two[1]);
		p->tgot = 0;
		p->ntwo = 0;
		if(p->tlen == 0) return perr(p, "malformed PUBLISH: empty topic (no topic alias was allowed)");
		if(p->tlen > MQTTC_TOPIC_MAX) return perr(p, "PUBLISH topic of %u bytes (at most %d)", p->tlen, MQTTC_TOPIC_MAX);
		if(p->tlen > p->left) return perr(p, "malformed PUBLISH: topic length %u beyond the packet", p->tlen);
		p->state = S_TOPIC;
		return 0;
	case S_TOPIC: {
		size_t k = p->tlen - p->tgot;
		if(k > *n) k = *n;
		if(memchr(*b, 0, k) != NULL) return perr(p, "malformed PUBLISH: NUL in the topic");
		memcpy(p->topic + p->tgot, *b, k);
		p->tgot = (uint16_t)(p->tgot + k);
		p->left -= (uint32_t)k;
		*b += k; *n -= k;
		if(p->tgot < p->tlen) return 0;
		p->topic[p->tlen] = '\0';
		p->state = ((p->type >> 1) & 3) ? S_PID : S_PLEN;
		p->plen = 0; p->vmul = 1; p->vbytes = 0;
		if(p->left == 0)
			return perr(p, "malformed PUBLISH: %s", p->state == S_PID ? "no packet id" : "no properties length");
		return 0;
	}
	case S_PID:
		if(p->ntwo == 0 && p->left < 2) return perr(p, "malformed PUBLISH: no packet id");
		if(!take_two(p, b, n)) return 0;
		p->pid = (uint16_t)(p->two[0] << 8 | p->two[1]);
		p->ntwo = 0;
		if(p->pid == 0) return perr(p, "malformed PUBLISH: packet id 0 with QoS %d", (p->type >> 1) & 3);
		p->state = S_PLEN;
		if(p->left == 0) return perr(p, "malformed PUBLISH: no properties length");
		return 0;
	case S_PLEN: {
		if(p->left == 0) return perr(p, "malformed PUBLISH: no properties length");
		uint8_t v = **b;
		(*b)++; (*n)--;
		p->left--;
		p->plen += (uint32_t)(v & 0x7f) * p->vmul;
		p->vbytes++;
		if(v & 0x80){
			if(p->vbytes == 4) return perr(p, "malformed PUBLISH: properties length of more than 4 bytes");
			if(p->left == 0) return perr(p, "malformed PUBLISH: properties length cut off");
			p->vmul *= 128;
			return 0;
		}
		if(p->vbytes > 1 && v == 0) return perr(p, "malformed PUBLISH: properties length not minimal");
		if(p->plen > p->left)
			return perr(p, "malformed PUBLISH: properties length %u beyond the packet (%u left)", p->plen, p->left);
		p->pleft = p->plen;
		if(p->pleft > 0){
			p->state = S_PROPS;
			return 0;
		}
		if(publish_begin(p, cb) != 0) return -1;
		return p->left == 0 ? complete(p, cb, ev) : 0;
	}
	case S_PROPS: {
		size_t k = p->pleft < *n ? p->pleft : *n;
		p->pleft -= (uint32_t)k;
		p->left -= (uint32_t)k;
		*b += k; *n -= k;
		if(p->pleft > 0) return 0;
		if(publish_begin(p, cb) != 0) return -1;
		return p->left == 0 ? complete(p, cb, ev) : 0;
	}
	case S_PAYLOAD: {
		size_t k = p->left < *n ? p->left : *n;
		if(p->take == MQTTC_STREAM && cb->data) cb->data(cb->ud, *b, k);
		else if(p->take == MQTTC_BUFFER){
			memcpy(p->pbuf + p->pgot, *b, k);
			p->pgot += k;
		}
		p->left -= (uint32_t)k;
		*b += k; *n -= k;
		return p->left == 0 ? complete(p, cb, ev) : 0;
	}
	case S_BODY: {
		size_t k = p->left < *n ? p->left : *n;
		size_t keep = MQTTC_BODY_MAX - p->blen;
		if(keep > k) keep = k;
		memcpy(p->body + p->blen, *b, keep);
		p->blen += (uint32_t)keep;
		p->left -= (uint32_t)k;
		*b += k; *n -= k;
		return p->left == 0 ? complete(p, cb, ev) : 0;
	}
	}
	return perr(p, "internal parser state %d", p->state);
}

int mqttc_feed(struct mqttc_parser *p, const uint8_t *buf, size_t n, const struct mqttc_cb *cb,
		const struct mqttc_events *ev)
{
	/* each step consumes at least one byte, or completes a packet whose
	 * body is empty (after consuming its last length byte): bounded by n */
	while(n > 0)
		if(step(p, &buf, &n, cb, ev) != 0) return -1;
	return 0;
}

/* ======================================================= the connection */
struct mqttc {
	struct mqttc_opts o;
	struct mqttc_cb cb;       /* the caller's */
	struct mqttc_cb pcb;      /* given to the parser: begin() checks the state first */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	bool connected, broken;
	uint16_t next_mid;
	int keepalive;
	double last_out, ping_sent, t_connect;
	struct mqttc_parser p;
	uint8_t *rbuf;
	size_t rbuf_len;
	/* acknowledgements owed, sent together at the end of the loop step
	 * (or before any other packet): one send for every PUBACK of a step */
	uint8_t acks[MQTTC_ACKS * 4];
	size_t nacks;
	char err[256];
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cerr(struct mqttc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cerr(struct mqttc *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* The OpenSSL error queue as one line. */
static const char *ssl_errstr(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();
	if(e == 0) snprintf(buf, cap, "%s", errno ? strerror(errno) : "unknown error");
	else ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	return buf;
}

static bool tls_wanted(const struct mqttc_opts *o)
{
	return o->cafile || o->capath || o->cert || o->key;
}

static SSL_CTX *tls_ctx(const struct mqttc_opts *o)
{
	char e[200];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if(ctx == NULL){
		cli_err("TLS set-up failed: %s", ssl_errstr(e, sizeof(e)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	const char *what = NULL;
	if(SSL_CTX_load_verify_locations(ctx, o->cafile, o->capath) != 1) what = "--cafile/--capath";
	else if(o->cert && SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) what = "--cert";
	else if(o->key && SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1) what = "--key";
	else if(o->cert && SSL_CTX_check_private_key(ctx) != 1) what = "--cert/--key";
	if(what){
		cli_err("TLS set-up failed (--cafile '%s', --cert '%s', --key '%s'): %s: %s",
				o->cafile ? o->cafile : "", o->cert ? o->cert : "", o->key ? o->key : "", what,
				ssl_errstr(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A PUBLISH before CONNACK breaks the protocol: skipped, and the
 * connection closes at the end of the loop step. */
static enum mqttc_take wrap_begin(void *ud, const char *topic, int qos, bool retain, uint32_t len)
{
	struct mqttc *c = ud;
	if(!c->connected){
		if(!c->broken) cerr(c, "PUBLISH before CONNACK");
		c->broken = true;
		return MQTTC_DISCARD;
	}
	return c->cb.begin ? c->cb.begin(c->cb.ud, topic, qos, retain, len) : MQTTC_DISCARD;
}

static void wrap_data(void *ud, const uint8_t *p, size_t n)
{
	struct mqttc *c = ud;
	if(c->cb.data) c->cb.data(c->cb.ud, p, n);
}

static void wrap_end(void *ud, bool ok, const uint8_t *buf, size_t len)
{
	struct mqttc *c = ud;
	if(c->cb.end) c->cb.end(c->cb.ud, ok, buf, len);
}

struct mqttc *mqttc_new(const struct mqttc_opts *o, const struct mqttc_cb *cb)
{
	if(tls_wanted(o)){
		if((o->cert == NULL) != (o->key == NULL)){
			cli_err("--cert and --key go together");
			return NULL;
		}
		if(o->cafile == NULL && o->capath == NULL){
			cli_err("TLS needs --cafile or --capath");
			return NULL;
		}
	}
	if(o->client_id && strlen(o->client_id) > 65535){ cli_err("invalid client id '%s'", o->client_id); return NULL; }
	if(o->username && strlen(o->username) > 65535){ cli_err("invalid username '%s'", o->username); return NULL; }
	if(o->password && strlen(o->password) > 65535){ cli_err("invalid password (too long)"); return NULL; }
	size_t rlen = o->rbuf ? o->rbuf : MQTTC_RBUF;
	if(rlen < MQTTC_RBUF_MIN || rlen > MQTTC_RBUF_MAX){
		cli_err("invalid read buffer size %zu (%u..%u)", rlen, MQTTC_RBUF_MIN, MQTTC_RBUF_MAX);
		return NULL;
	}
	struct mqttc *c = calloc(1, sizeof(*c));
	if(c == NULL || (c->rbuf = malloc(rlen)) == NULL){
		cli_err("cannot create the MQTT client: %s", strerror(ENOMEM));
		free(c);
		return NULL;
	}
	c->o = *o;
	c->rbuf_len = rlen;
	c->cb = *cb;
	c->pcb = *cb;
	c->pcb.ud = c;
	c->pcb.begin = wrap_begin;
	c->pcb.data = wrap_data;
	c->pcb.end = wrap_end;
	c->fd = -1;
	c->next_mid = 1;
	mqttc_parser_init(&c->p);
	if(tls_wanted(o) && (c->ctx = tls_ctx(o)) == NULL){
		free(c->rbuf);
		free(c);
		return NULL;
	}
	return c;
}

/* Close the socket; a payload being delivered gets end(!ok). */
static void conn_close(struct mqttc *c)
{
	mqttc_parser_reset(&c->p, &c->pcb);
	if(c->ssl){
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if(c->fd >= 0) close(c->fd);
	c->fd = -1;
	c->nacks = 0;            /* owed to a connection that is gone */
	c->connected = false;
	c->broken = false;
}

void mqttc_destroy(struct mqttc *c)
{
	if(c == NULL) return;
	conn_close(c);
	SSL_CTX_free(c->ctx);
	free(c->rbuf);
	free(c);
}

bool mqttc_connected(const struct mqttc *c) { return c->connected && c->fd >= 0 && !c->broken; }
bool mqttc_open(const struct mqttc *c) { return c->fd >= 0; }
const char *mqttc_error(const struct mqttc *c) { return c->err; }

/* Wait for the socket: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int r;
	do r = poll(&pfd, 1, ms); while(r < 0 && errno == EINTR);
	return r < 0 ? -1 : r > 0;
}

/* Everything out, waiting up to IO_TIMEOUT_MS. 0 / -1 (c->err, broken). */
static int write_raw(struct mqttc *c, const uint8_t *b, size_t n)
{
	if(c->broken) return -1;     /* c->err tells why */
	if(c->fd < 0) return cerr(c, "not connected");
	double end = mono() + IO_TIMEOUT_MS / 1000.0;
	while(n > 0){
		ssize_t w;
		short want = POLLOUT;
		if(c->ssl){
			ERR_clear_error();
			int r = SSL_write(c->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
			if(r > 0){
				w = r;
			}else{
				int e = SSL_get_error(c->ssl, r);
				if(e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ){
					char s[200];
					c->broken = true;
					return cerr(c, "TLS write failed: %s", ssl_errstr(s, sizeof(s)));
				}
				if(e == SSL_ERROR_WANT_READ) want = POLLIN;
				w = -1;
			}
		}else{
			w = send(c->fd, b, n, MSG_NOSIGNAL);
			if(w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR){
				c->broken = true;
				return cerr(c, "%s", strerror(errno));
			}
		}
		if(w < 0){
			int ms = (int)((end - mono()) * 1000);
			if(ms <= 0 || wait_fd(c->fd, want, ms) <= 0){
				c->broken = true;
				return cerr(c, "write timed out");
			}
			continue;
		}
		b += w;
		n -= (size_t)w;
	}
	c->last_out = mono();
	return 0;
}

/* The acknowledgements owed, in the order they were owed. */
static int flush_acks(struct mqttc *c)
{
	if(c->nacks == 0) return 0;
	size_t n = c->nacks;
	c->nacks = 0;
	return write_raw(c, c->acks, n);
}

/* A packet out, after the acknowledgements owed (the broker sees every
 * packet in the order the client made it). */
static int write_all(struct mqttc *c, const uint8_t *b, size_t n)
{
	if(flush_acks(c) != 0) return -1;
	return write_raw(c, b, n);
}

/* ------------------------------------------------ building packets */
struct pk {
	uint8_t *b;
	size_t n, cap;
	bool oom;
};
#define PK_HEAD 5     /* room for the fixed header in front of the body */

static void pk_put(struct pk *k, const void *p, size_t n)
{
	if(k->oom) return;
	if(k->n + n > k->cap){
		size_t cap = k->cap ? k->cap : 64;
		while(cap < k->n + n && cap < SIZE_MAX / 2) cap *= 2;
		uint8_t *nb = cap >= k->n + n ? realloc(k->b, cap) : NULL;
		if(nb == NULL){ k->oom = true; return; }
		k->b = nb;
		k->cap = cap;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
}
static void pk_u8(struct pk *k, uint8_t v) { pk_put(k, &v, 1); }
static void pk_u16(struct pk *k, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	pk_put(k, b, 2);
}
static void pk_str(struct pk *k, const char *s)
{
	size_t n = strlen(s);
	if(n > 65535){ k->oom = true; return; }
	pk_u16(k, (uint16_t)n);
	pk_put(k, s, n);
}
static void pk_start(struct pk *k)
{
	memset(k, 0, sizeof(*k));
	uint8_t z[PK_HEAD] = { 0 };
	pk_put(k, z, sizeof(z));
}

/* Prepend the fixed header and send. */
static int pk_send(struct mqttc *c, struct pk *k, uint8_t first)
{
	int rc = -1;
	size_t body = k->n - PK_HEAD;
	if(k->oom || body > 268435455){
		cerr(c, "cannot build a packet: %s", k->oom ? "too large or out of memory" : "too large");
	}else{
		uint8_t v[4];
		size_t vn = mqttc_varint((uint32_t)body, v);
		uint8_t *h = k->b + PK_HEAD - 1 - vn;
		h[0] = first;
		memcpy(h + 1, v, vn);
		rc = write_all(c, h, body + 1 + vn);
	}
	free(k->b);
	k->b = NULL;
	return rc;
}

static uint16_t new_mid(struct mqttc *c)
{
	uint16_t m = c->next_mid++;
	if(c->next_mid == 0) c->next_mid = 1;
	return m;
}

static int send_short(struct mqttc *c, uint8_t first, uint16_t pid)
{
	uint8_t b[4] = { first, 2, (uint8_t)(pid >> 8), (uint8_t)pid };
	return write_all(c, b, sizeof(b));
}

/* ----------------------------------------------- incoming packets */
static void on_ack(void *ctx, uint8_t type, uint16_t pid)
{
	struct mqttc *c = ctx;
	if(c->broken || c->fd < 0) return;
	if(c->nacks + 4 > sizeof(c->acks) && flush_acks(c) != 0) return;
	uint8_t *a = c->acks + c->nacks;
	a[0] = (uint8_t)(type << 4);
	a[1] = 2;
	a[2] = (uint8_t)(pid >> 8);
	a[3] = (uint8_t)pid;
	c->nacks += 4;
}

/* A property list at b[0..n): the Server Keep Alive (0x13) if any. -1 when
 * the list is malformed. */
static int props_keepalive(const uint8_t *b, size_t n, int *ka)
{
	size_t i = 0;
	for(int guard = 0; i < n && guard < 1000; guard++){
		uint8_t id = b[i++];
		size_t need;
		switch(id){
		case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2a: need = 1; break;
		case 0x13: case 0x21: case 0x22: need = 2; break;
		case 0x02: case 0x11: case 0x27: need = 4; break;
		case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1a: case 0x1c: case 0x1f:
			if(n - i < 2) return -1;
			need = 2 + ((size_t)b[i] << 8 | b[i + 1]);
			break;
		case 0x26:
			if(n - i < 2) return -1;
			need = 2 + ((size_t)b[i] << 8 | b[i + 1]);
			if(n - i < need + 2) return -1;
			need += 2 + ((size_t)b[i + need] << 8 | b[i + need + 1]);
			break;
		default:
			return -1;
		}
		if(n - i < need) return -1;
		if(id == 0x13) *ka = b[i] << 8 | b[i + 1];
		i += need;
	}
	return i == n ? 0 : -1;
}

/* Read a varint from b[*i..n); -1 when malformed or cut off. */
static int read_varint(const uint8_t *b, size_t n, size_t *i, uint32_t *out)
{
	uint32_t v = 0, mul = 1;
	for(int k = 0; k < 4; k++){
		if(*i >= n) return -1;
		uint8_t x = b[(*i)++];
		v += (uint32_t)(x & 0x7f) * mul;
		if(!(x & 0x80)){
			*out = v;
			return 0;
		}
		mul *= 128;
	}
	return -1;
}

static int on_connack(struct mqttc *c, const uint8_t *b, uint32_t kept, uint32_t len)
{
	if(len < 2) return cerr(c, "malformed CONNACK (%u bytes)", len);
	if(c->connected) return cerr(c, "a second CONNACK");
	int reason = b[1];
	if(reason == 0 && len == kept){
		size_t i = 2;
		uint32_t plen;
		if(len > 2){
			if(read_varint(b, kept, &i, &plen) != 0 || plen != kept - i)
				return cerr(c, "malformed CONNACK properties");
			int ka = c->keepalive;
			if(props_keepalive(b + i, plen, &ka) != 0) return cerr(c, "malformed CONNACK properties");
			c->keepalive = ka;
		}
	}
	if(reason == 0) c->connected = true;
	if(c->cb.connack) c->cb.connack(c->cb.ud, reason);
	if(reason != 0) return cerr(c, "connection refused (reason 0x%02x)", (unsigned)reason);
	return 0;
}

static int on_packet(void *ctx, uint8_t type, const uint8_t *b, uint32_t kept, uint32_t len)
{
	struct mqttc *c = ctx;
	if(c->broken) return -1;     /* stop parsing: c->err tells why */
	if(type != PT_CONNACK && type != PT_DISCONNECT && !c->connected)
		return cerr(c, "packet type %u before CONNACK", type);
	switch(type){
	case PT_CONNACK:
		return on_connack(c, b, kept, len);
	case PT_PUBACK: case PT_PUBREC: case PT_PUBCOMP:
		if(len < 2) return cerr(c, "malformed acknowledgement (type %u, %u bytes)", type, len);
		{
			uint16_t mid = (uint16_t)(b[0] << 8 | b[1]);
			int reason = len > 2 ? b[2] : 0;
			if(type == PT_PUBACK && c->cb.puback) c->cb.puback(c->cb.ud, mid, reason);
		}
		return 0;
	case PT_PUBREL:
		if(len < 2) return cerr(c, "malformed PUBREL (%u bytes)", len);
		return send_short(c, PT_PUBCOMP << 4, (uint16_t)(b[0] << 8 | b[1]));
	case PT_SUBACK: case PT_UNSUBACK: {
		if(len < 3) return cerr(c, "malformed %s (%u bytes)", type == PT_SUBACK ? "SUBACK" : "UNSUBACK", len);
		size_t i = 2;
		uint32_t plen;
		if(read_varint(b, kept, &i, &plen) != 0 || plen > len - i)
			return cerr(c, "malformed %s properties", type == PT_SUBACK ? "SUBACK" : "UNSUBACK");
		int bad = 0;
		for(size_t k = i + plen; k < kept && !bad; k++)
			if(b[k] >= 0x80) bad = b[k];
		if(c->cb.suback) c->cb.suback(c->cb.ud, (uint16_t)(b[0] << 8 | b[1]), bad);
		return 0;
	}
	case PT_PINGRESP:
		c->ping_sent = 0;
		return 0;
	case PT_DISCONNECT:
		return cerr(c, "disconnected by the broker (reason 0x%02x)", len > 0 ? (unsigned)b[0] : 0u);
	default:
		return cerr(c, "unexpected packet type %u from the broker", type);
	}
}

/* ------------------------------------------------------- connecting */
static int tcp_connect(struct mqttc *c)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", c->o.port);
	struct addrinfo hints, *res = NULL, *bres = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int g = getaddrinfo(c->o.host, port, &hints, &res);
	if(g != 0) return cerr(c, "%s", gai_strerror(g));
	if(c->o.bind_address && (g = getaddrinfo(c->o.bind_address, NULL, &hints, &bres)) != 0){
		freeaddrinfo(res);
		return cerr(c, "bind address '%s': %s", c->o.bind_address, gai_strerror(g));
	}
	int e = ECONNREFUSED;
	for(struct addrinfo *a = res; a && c->fd < 0; a = a->ai_next){
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if(fd < 0){ e = errno; continue; }
		bool ok = true;
		if(bres){
			struct addrinfo *ba = bres;
			while(ba && ba->ai_family != a->ai_family) ba = ba->ai_next;
			ok = ba && bind(fd, ba->ai_addr, ba->ai_addrlen) == 0;
			if(!ok) e = ba ? errno : EAFNOSUPPORT;
		}
		if(ok && connect(fd, a->ai_addr, a->ai_addrlen) != 0){
			ok = false;
			e = errno;
			if(e == EINPROGRESS){
				int err = 0;
				socklen_t sl = sizeof(err);
				int w = wait_fd(fd, POLLOUT, IO_TIMEOUT_MS);
				if(w == 0) e = ETIMEDOUT;
				else if(w < 0) e = errno;
				else if(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0) e = errno;
				else if(err != 0) e = err;
				else ok = true;
			}
		}
		if(!ok){
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
	}
	freeaddrinfo(res);
	if(bres) freeaddrinfo(bres);
	if(c->fd < 0){
		errno = e;
		return cerr(c, "%s", strerror(e));
	}
	return 0;
}

static int tls_handshake(struct mqttc *c)
{
	char e[200];
	c->ssl = SSL_new(c->ctx);
	if(c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) return cerr(c, "TLS: %s", ssl_errstr(e, sizeof(e)));
	struct in6_addr a6;
	bool ip = inet_pton(AF_INET, c->o.host, &a6) == 1 || inet_pton(AF_INET6, c->o.host, &a6) == 1;
	if(!ip) SSL_set_tlsext_host_name(c->ssl, c->o.host);
	if(!c->o.insecure && SSL_set1_host(c->ssl, c->o.host) != 1)
		return cerr(c, "TLS: cannot check the host name '%s'", c->o.host);
	double end = mono() + IO_TIMEOUT_MS / 1000.0;
	for(;;){
		ERR_clear_error();
		int r = SSL_connect(c->ssl);
		if(r == 1) return 0;
		int se = SSL_get_error(c->ssl, r);
		int ms = (int)((end - mono()) * 1000);
		if((se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) && ms > 0){
			if(wait_fd(c->fd, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, ms) > 0) continue;
			return cerr(c, "TLS handshake timed out");
		}
		long v = SSL_get_verify_result(c->ssl);
		if(v != X509_V_OK) return cerr(c, "TLS handshake failed: %s", X509_verify_cert_error_string(v));
		return cerr(c, "TLS handshake failed: %s", ssl_errstr(e, sizeof(e)));
	}
}

int mqttc_connect(struct mqttc *c)
{
	conn_close(c);
	c->err[0] = '\0';
	c->keepalive = c->o.keepalive;
	c->ping_sent = 0;
	c->t_connect = mono();
	if(tcp_connect(c) != 0) return -1;
	if(c->ctx && tls_handshake(c) != 0){
		int e = errno;
		conn_close(c);
		errno = e;
		return -1;
	}
	struct pk k;
	pk_start(&k);
	static const uint8_t proto[] = { 0, 4, 'M', 'Q', 'T', 'T', 5 };
	pk_put(&k, proto, sizeof(proto));
	uint8_t flags = 0x02;          /* clean start */
	if(c->o.username) flags |= 0x80;
	if(c->o.password) flags |= 0x40;
	pk_u8(&k, flags);
	pk_u16(&k, (uint16_t)c->o.keepalive);
	pk_u8(&k, 0);                  /* no properties */
	pk_str(&k, c->o.client_id ? c->o.client_id : "");
	if(c->o.username) pk_str(&k, c->o.username);
	if(c->o.password) pk_str(&k, c->o.password);
	if(pk_send(c, &k, PT_CONNECT << 4) != 0){
		char e[sizeof(c->err)];
		memcpy(e, c->err, sizeof(e));
		conn_close(c);
		memcpy(c->err, e, sizeof(e));
		return -1;
	}
	return 0;
}

/* ----------------------------------------------------------- the loop */
/* Read once: >0 bytes, 0 nothing now, -1 closed/error (c->err). */
static ssize_t read_some(struct mqttc *c)
{
	if(c->ssl){
		ERR_clear_error();
		int r = SSL_read(c->ssl, c->rbuf, c->rbuf_len > INT32_MAX ? INT32_MAX : (int)c->rbuf_len);
		if(r > 0) return r;
		int e = SSL_get_error(c->ssl, r);
		if(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
		if(e == SSL_ERROR_ZERO_RETURN) return cerr(c, "the broker closed the connection");
		char s[200];
		if(e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			return cerr(c, "%s", errno ? strerror(errno) : "the broker closed the connection");
		return cerr(c, "TLS read failed: %s", ssl_errstr(s, sizeof(s)));
	}
	ssize_t r = recv(c->fd, c->rbuf, c->rbuf_len, 0);
	if(r > 0) return r;
	if(r == 0) return cerr(c, "the broker closed the connection");
	if(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
	return cerr(c, "%s", strerror(errno));
}

static int keepalive(struct mqttc *c)
{
	double now = mono();
	if(!c->connected){
		/* a broker that accepts the connection but never answers */
		int wait = c->o.keepalive > 10 ? c->o.keepalive : 10;
		if(now - c->t_connect > wait) return cerr(c, "no CONNACK within %d s", wait);
		return 0;
	}
	if(c->keepalive <= 0) return 0;
	if(c->ping_sent > 0 && now - c->ping_sent > c->keepalive * 1.5)
		return cerr(c, "no PINGRESP within %.0f s", c->keepalive * 1.5);
	if(c->ping_sent == 0 && now - c->last_out >= c->keepalive){
		static const uint8_t ping[2] = { PT_PINGREQ << 4, 0 };
		if(write_all(c, ping, sizeof(ping)) != 0) return -1;
		c->ping_sent = now;
	}
	return 0;
}

int mqttc_loop(struct mqttc *c, int timeout_ms)
{
	if(c->fd < 0){
		if(!c->err[0]) cerr(c, "not connected");
		return -1;
	}
	struct mqttc_events ev = { on_ack, on_packet, c };
	int rc = c->broken ? -1 : keepalive(c);
	/* then read what is there: up to 64 reads per step; only the
	 * first waits (the socket is non-blocking: a read that would block
	 * ends the step) */
	for(int i = 0; rc == 0 && i < 64 && !c->broken; i++){
		if(i == 0 && !(c->ssl && SSL_pending(c->ssl) > 0)){
			int w = wait_fd(c->fd, POLLIN, timeout_ms);
			if(w < 0) rc = cerr(c, "%s", strerror(errno));
			if(w <= 0) break;
		}
		ssize_t n = read_some(c);
		if(n == 0) break;
		if(n < 0){
			rc = -1;
			break;
		}
		if(mqttc_feed(&c->p, c->rbuf, (size_t)n, &c->pcb, &ev) != 0){
			if(c->p.err[0]) cerr(c, "%s", c->p.err);
			c->p.err[0] = '\0';
			rc = -1;
		}
		if(c->cb.consumed) c->cb.consumed(c->cb.ud);
		/* a short read over TCP drained the socket: the next read would only
		 * say EAGAIN (not so with TLS, which reads a record at a time) */
		if(!c->ssl && (size_t)n < c->rbuf_len) break;
	}
	if(rc == 0 && flush_acks(c) != 0) rc = -1;
	if(rc == 0 && c->broken) rc = -1;
	if(rc != 0){
		char e[sizeof(c->err)];
		memcpy(e, c->err, sizeof(e));
		conn_close(c);
		memcpy(c->err, e, sizeof(e));
	}
	return rc;
}

/* ---------------------------------------------------- outgoing packets */
int mqttc_subscribe(struct mqttc *c, uint16_t *mid, char *const *topics, int n, int qos)
{
	if(!mqttc_connected(c)) return c->broken ? -1 : cerr(c, "not connected");
	struct pk k;
	pk_start(&k);
	uint16_t m = new_mid(c);
	pk_u16(&k, m);
	pk_u8(&k, 0);
	for(int i = 0; i < n; i++){
		pk_str(&k, topics[i]);
		pk_u8(&k, (uint8_t)(qos & 3));
	}
	if(mid) *mid = m;
	return pk_send(c, &k, PT_SUBSCRIBE << 4 | 2);
}

int mqttc_unsubscribe(struct mqttc *c, uint16_t *mid, const char *topic)
{
	if(!mqttc_connected(c)) return c->broken ? -1 : cerr(c, "not connected");
	struct pk k;
	pk_start(&k);
	uint16_t m = new_mid(c);
	pk_u16(&k, m);
	pk_u8(&k, 0);
	pk_str(&k, topic);
	if(mid) *mid = m;
	return pk_send(c, &k, PT_UNSUBSCRIBE << 4 | 2);
}

int mqttc_publish(struct mqttc *c, uint16_t *mid, const char *topic, const void *payload, size_t len,
		int qos, bool retain)
{
	if(!mqttc_connected(c)) return c->broken ? -1 : cerr(c, "not connected");
	if(qos < 0 || qos > 1) return cerr(c, "QoS %d is not supported", qos);
	struct pk k;
	pk_start(&k);
	pk_str(&k, topic);
	uint16_t m = 0;
	if(qos > 0){
		m = new_mid(c);
		pk_u16(&k, m);
	}
	pk_u8(&k, 0);
	pk_put(&k, payload, len);
	if(mid) *mid = m;
	return pk_send(c, &k, (uint8_t)(PT_PUBLISH << 4 | qos << 1 | (retain ? 1 : 0)));
}

void mqttc_disconnect(struct mqttc *c)
{
	if(c->fd >= 0 && !c->broken){
		static const uint8_t d[2] = { PT_DISCONNECT << 4, 0 };
		write_all(c, d, sizeof(d));
		if(c->ssl) SSL_shutdown(c->ssl);
	}
	conn_close(c);
}
