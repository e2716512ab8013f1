/* A small MQTT v5 client for the device agent: PUBLISH payloads are handed
 * to the caller in pieces as they come off the socket (never the whole
 * payload in memory, except a payload the caller asks to have buffered, up
 * to a bound). TCP or TLS (OpenSSL), one connection, blocking writes,
 * poll-based reads. Other subcommands use libmosquitto.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_CLI_MQTTC_H
#define FWGUARD_CLI_MQTTC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQTTC_RBUF      49152   /* socket read buffer, by default (docs/performance.md) */
#define MQTTC_RBUF_MIN  4096
#define MQTTC_RBUF_MAX  (1u << 20)
#define MQTTC_TOPIC_MAX 1024    /* longest topic of an incoming PUBLISH */
#define MQTTC_ACKS      8       /* acknowledgements held until the end of a loop step, at most */
#define MQTTC_BODY_MAX  512     /* bytes kept of a packet other than PUBLISH (the rest is skipped) */

/* What begin() wants done with a PUBLISH payload */
enum mqttc_take {
	MQTTC_DISCARD,   /* skip it: no data(), no end() */
	MQTTC_STREAM,    /* data() for each piece, then end() */
	MQTTC_BUFFER,    /* collected (at most buffer_max bytes, else dropped) and given to end() */
};

struct mqttc_cb {
	void *ud;
	size_t buffer_max;
	/* An incoming PUBLISH: topic (NUL-terminated), QoS, retain, payload length. */
	enum mqttc_take (*begin)(void *ud, const char *topic, int qos, bool retain, uint32_t len);
	/* A piece of a streamed payload. p points into the read buffer: valid
	 * until consumed() (or end(!ok)), which comes before the next read. */
	void (*data)(void *ud, const uint8_t *p, size_t n);
	/* Every byte of one read has been parsed: the pieces data() was given
	 * since the last call are about to be overwritten (a place to write
	 * out what was collected from them). May be NULL. */
	void (*consumed)(void *ud);
	/* The payload is complete (ok) or was cut off (!ok: connection lost or
	 * malformed). buf/len: the whole payload for MQTTC_BUFFER, else NULL/0. */
	void (*end)(void *ud, bool ok, const uint8_t *buf, size_t len);
	/* CONNACK (reason code; 0: connected) */
	void (*connack)(void *ud, int reason);
	/* PUBACK of an outgoing QoS 1 PUBLISH */
	void (*puback)(void *ud, uint16_t mid, int reason);
	/* SUBACK/UNSUBACK: the first reason code >= 0x80, or 0 */
	void (*suback)(void *ud, uint16_t mid, int reason);
};

/* ------------------------------------------------- the receive parser */
struct mqttc_parser {
	int state;
	uint8_t type;            /* first byte of the fixed header */
	uint32_t rem, vmul;      /* remaining length (being read / read) */
	uint32_t left;           /* bytes of the packet body still to come */
	uint8_t vbytes;          /* bytes of the varint read so far */
	/* PUBLISH */
	uint16_t tlen, tgot, pid;
	uint8_t two[2], ntwo;
	uint32_t plen, pleft;    /* properties length, properties left to skip */
	uint32_t paylen;
	enum mqttc_take take;
	bool in_payload;         /* begin() returned STREAM/BUFFER and end() is due */
	uint8_t *pbuf;           /* MQTTC_BUFFER: the payload so far */
	size_t pgot;
	char topic[MQTTC_TOPIC_MAX + 1];
	/* other packets */
	uint8_t body[MQTTC_BODY_MAX];
	uint32_t blen;
	char err[160];
};

/* What the connection has to do for a complete packet (filled by the
 * parser for mqttc_feed's caller) */
struct mqttc_events {
	/* PUBACK (QoS 1) / PUBREC (QoS 2) owed for this packet id */
	void (*ack)(void *ctx, uint8_t type, uint16_t pid);
	/* any other complete packet: type (high nibble), body (at most
	 * MQTTC_BODY_MAX bytes kept), full body length */
	int (*packet)(void *ctx, uint8_t type, const uint8_t *body, uint32_t kept, uint32_t len);
	void *ctx;
};

void mqttc_parser_init(struct mqttc_parser *p);
/* Cut off: end(!ok) if a payload was being delivered; frees the buffer. */
void mqttc_parser_reset(struct mqttc_parser *p, const struct mqttc_cb *cb);
/* Feed n bytes from the socket. 0, or -1 with p->err set (malformed or out
 * of bounds: close the connection). ev may be NULL (parser only). */
int mqttc_feed(struct mqttc_parser *p, const uint8_t *buf, size_t n, const struct mqttc_cb *cb,
		const struct mqttc_events *ev);

/* Variable byte integer (§1.5.5): bytes used (1..4) into out[4]. */
size_t mqttc_varint(uint32_t v, uint8_t out[4]);

/* ------------------------------------------------------ the connection */
struct mqttc_opts {
	const char *host;
	int port;
	const char *bind_address;
	const char *client_id, *username, *password;
	int keepalive;
	const char *cafile, *capath, *cert, *key;   /* TLS when any is set */
	bool insecure;
	size_t rbuf;        /* socket read buffer: 0 for MQTTC_RBUF, else MQTTC_RBUF_MIN..MQTTC_RBUF_MAX */
};

struct mqttc;
/* NULL with the error printed (bad TLS set-up, out of memory). */
struct mqttc *mqttc_new(const struct mqttc_opts *o, const struct mqttc_cb *cb);
void mqttc_destroy(struct mqttc *c);
/* TCP (+ TLS) connect and CONNECT (clean start). 0, or -1 with mqttc_error()
 * set. The CONNACK comes through the loop (cb->connack). */
int mqttc_connect(struct mqttc *c);
/* One step: PINGREQ when due, wait up to timeout_ms for data, parse what
 * came. 0, or -1: the connection is closed (mqttc_error() tells why). */
int mqttc_loop(struct mqttc *c, int timeout_ms);
bool mqttc_connected(const struct mqttc *c);   /* CONNACK 0 received */
bool mqttc_open(const struct mqttc *c);        /* socket open */
const char *mqttc_error(const struct mqttc *c);
/* Outgoing packets (blocking writes). 0, or -1 (the connection is closed
 * at the next loop step). *mid: the packet id. */
int mqttc_subscribe(struct mqttc *c, uint16_t *mid, char *const *topics, int n, int qos);
int mqttc_unsubscribe(struct mqttc *c, uint16_t *mid, const char *topic);
int mqttc_publish(struct mqttc *c, uint16_t *mid, const char *topic, const void *payload, size_t len,
		int qos, bool retain);
/* DISCONNECT (normal) and close. */
void mqttc_disconnect(struct mqttc *c);
#endif
