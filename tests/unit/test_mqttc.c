/* Unit tests: the device agent's MQTT receive parser (tools/mqttc.c):
 * partial reads at every byte boundary, streaming of payloads larger than
 * the read buffer, malformed and oversize packets.
 * SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../tools/mqttc.h"

/* mqttc.c reports set-up errors through the CLI's cli_err */
const char *cli_cmd = "test";
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- what the callbacks saw ---- */
struct seen {
	char log[4096];
	size_t loglen;
	enum mqttc_take take;      /* begin()'s answer */
	uint64_t bytes, sum;       /* streamed bytes and a position-weighted sum */
	size_t max_piece;
};

static void logf_(struct seen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct seen *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->log + s->loglen, sizeof(s->log) - s->loglen, fmt, ap);
	va_end(ap);
	if(n > 0) s->loglen += (size_t)n;
	if(s->loglen >= sizeof(s->log)) s->loglen = sizeof(s->log) - 1;
}

static enum mqttc_take cb_begin(void *ud, const char *topic, int qos, bool retain, uint32_t len)
{
	struct seen *s = ud;
	logf_(s, "begin(%s,%d,%d,%u) ", topic, qos, retain, len);
	return s->take;
}

static void cb_data(void *ud, const uint8_t *p, size_t n)
{
	struct seen *s = ud;
	for(size_t i = 0; i < n; i++) s->sum += (s->bytes + i + 1) * p[i];
	s->bytes += n;
	if(n > s->max_piece) s->max_piece = n;
}

static void cb_end(void *ud, bool ok, const uint8_t *buf, size_t len)
{
	struct seen *s = ud;
	uint64_t sum = 0;
	for(size_t i = 0; buf && i < len; i++) sum += (i + 1) * buf[i];
	logf_(s, "end(%d,%s,%zu,%llu) streamed(%llu,%llu) ", ok, buf ? "buf" : "-", len,
			(unsigned long long)sum, (unsigned long long)s->bytes, (unsigned long long)s->sum);
	s->bytes = s->sum = 0;
}

static void ev_ack(void *ctx, uint8_t type, uint16_t pid)
{
	logf_(ctx, "ack(%u,%u) ", type, pid);
}

static int ev_packet(void *ctx, uint8_t type, const uint8_t *body, uint32_t kept, uint32_t len)
{
	logf_(ctx, "packet(%u,%u,%u,%02x) ", type, kept, len, kept ? body[0] : 0);
	return 0;
}

static struct mqttc_cb make_cb(struct seen *s, size_t bufmax)
{
	struct mqttc_cb cb = { .ud = s, .buffer_max = bufmax, .begin = cb_begin, .data = cb_data, .end = cb_end };
	return cb;
}

/* ---- building packets ---- */
struct buf {
	uint8_t *p;
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n + 1);
	ck_assert_ptr_nonnull(b->p);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u8(struct buf *b, uint8_t v) { put(b, &v, 1); }

/* A PUBLISH: topic, QoS, packet id, properties bytes, payload of plen
 * bytes (a pattern). */
static void put_publish(struct buf *b, const char *topic, int qos, bool retain, uint16_t pid,
		const uint8_t *props, size_t proplen, size_t plen)
{
	struct buf body = { 0 };
	size_t tl = strlen(topic);
	put_u8(&body, (uint8_t)(tl >> 8));
	put_u8(&body, (uint8_t)tl);
	put(&body, topic, tl);
	if(qos > 0){
		put_u8(&body, (uint8_t)(pid >> 8));
		put_u8(&body, (uint8_t)pid);
	}
	uint8_t v[4];
	put(&body, v, mqttc_varint((uint32_t)proplen, v));
	if(proplen) put(&body, props, proplen);
	for(size_t i = 0; i < plen; i++) put_u8(&body, (uint8_t)(i * 7 + 3));
	put_u8(b, (uint8_t)(0x30 | qos << 1 | (retain ? 1 : 0)));
	put(b, v, mqttc_varint((uint32_t)body.n, v));
	put(b, body.p, body.n);
	free(body.p);
}

/* A session's worth of packets from a broker. */
static struct buf session(size_t big)
{
	struct buf b = { 0 };
	static const uint8_t connack[] = { 0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x14 };
	static const uint8_t suback[] = { 0x90, 0x04, 0x00, 0x01, 0x00, 0x01 };
	static const uint8_t props[] = { 0x26, 0x00, 0x02, 't', 's', 0x00, 0x01, '1', 0x01, 0x01 };
	put(&b, connack, sizeof(connack));
	put(&b, suback, sizeof(suback));
	put_publish(&b, "fw/acme/x1/chunk/1/0", 1, true, 7, props, sizeof(props), big);
	put_publish(&b, "fw/acme/x1/manifest", 0, false, 0, NULL, 0, 0);
	put_publish(&b, "a", 2, false, 65535, NULL, 0, 3);
	static const uint8_t tail[] = { 0xd0, 0x00, 0x40, 0x02, 0x00, 0x09, 0x62, 0x02, 0x00, 0x05 };
	put(&b, tail, sizeof(tail));
	return b;
}

/* Feed b in pieces at the given cut points; the log. */
static int feed_cuts(struct seen *s, enum mqttc_take take, const struct buf *b, const size_t *cuts, size_t ncuts)
{
	struct mqttc_parser p;
	memset(s, 0, sizeof(*s));
	s->take = take;
	struct mqttc_cb cb = make_cb(s, 1 << 20);
	struct mqttc_events ev = { ev_ack, ev_packet, s };
	mqttc_parser_init(&p);
	size_t at = 0;
	int rc = 0;
	for(size_t i = 0; i <= ncuts && rc == 0; i++){
		size_t to = i < ncuts ? cuts[i] : b->n;
		rc = mqttc_feed(&p, b->p + at, to - at, &cb, &ev);
		at = to;
	}
	mqttc_parser_reset(&p, &cb);
	return rc;
}

START_TEST(every_boundary)
{
	/* every split into two reads, and into three around each byte, gives
	 * the same callbacks as one read */
	enum mqttc_take takes[] = { MQTTC_STREAM, MQTTC_BUFFER, MQTTC_DISCARD };
	for(size_t t = 0; t < 3; t++){
		struct buf b = session(300);
		struct seen one, two;
		ck_assert_int_eq(feed_cuts(&one, takes[t], &b, NULL, 0), 0);
		ck_assert(strstr(one.log, "ack(4,7)") != NULL);
		ck_assert(strstr(one.log, "ack(5,65535)") != NULL);
		ck_assert(strstr(one.log, "packet(13,0,0,00)") != NULL);
		for(size_t i = 0; i <= b.n; i++){
			ck_assert_int_eq(feed_cuts(&two, takes[t], &b, &i, 1), 0);
			ck_assert_str_eq(two.log, one.log);
			size_t c3[2] = { i, i + 1 < b.n ? i + 1 : b.n };
			ck_assert_int_eq(feed_cuts(&two, takes[t], &b, c3, 2), 0);
			ck_assert_str_eq(two.log, one.log);
		}
		free(b.p);
	}
}
END_TEST

START_TEST(byte_at_a_time)
{
	struct buf b = session(1000);
	struct seen one, bytes;
	ck_assert_int_eq(feed_cuts(&one, MQTTC_STREAM, &b, NULL, 0), 0);
	size_t *cuts = malloc(b.n * sizeof(*cuts));
	for(size_t i = 0; i < b.n; i++) cuts[i] = i + 1;
	ck_assert_int_eq(feed_cuts(&bytes, MQTTC_STREAM, &b, cuts, b.n - 1), 0);
	ck_assert_str_eq(bytes.log, one.log);
	ck_assert_uint_eq(bytes.max_piece, 1);
	free(cuts);
	free(b.p);
}
END_TEST

START_TEST(stream_larger_than_read_buffer)
{
	/* a 200 000-byte payload read MQTTC_RBUF bytes at a time: streamed in
	 * pieces of at most MQTTC_RBUF, never buffered whole */
	size_t big = 200000;
	struct buf b = session(big);
	size_t ncuts = b.n / MQTTC_RBUF, *cuts = malloc((ncuts + 1) * sizeof(*cuts));
	for(size_t i = 0; i < ncuts; i++) cuts[i] = (i + 1) * MQTTC_RBUF;
	struct seen one, rd;
	ck_assert_int_eq(feed_cuts(&one, MQTTC_STREAM, &b, NULL, 0), 0);
	ck_assert_int_eq(feed_cuts(&rd, MQTTC_STREAM, &b, cuts, ncuts), 0);
	ck_assert_str_eq(rd.log, one.log);
	ck_assert_uint_le(rd.max_piece, MQTTC_RBUF);
	ck_assert(strstr(rd.log, "begin(fw/acme/x1/chunk/1/0,1,1,200000)") != NULL);
	ck_assert(strstr(rd.log, "end(1,-,0,0) streamed(200000,") != NULL);
	free(cuts);
	free(b.p);
}
END_TEST

START_TEST(buffer_bound)
{
	/* MQTTC_BUFFER above buffer_max: dropped (no end), the packet still acked */
	struct buf b = { 0 };
	put_publish(&b, "m", 1, false, 3, NULL, 0, 100);
	struct seen s;
	memset(&s, 0, sizeof(s));
	s.take = MQTTC_BUFFER;
	struct mqttc_cb cb = make_cb(&s, 99);
	struct mqttc_events ev = { ev_ack, ev_packet, &s };
	struct mqttc_parser p;
	mqttc_parser_init(&p);
	ck_assert_int_eq(mqttc_feed(&p, b.p, b.n, &cb, &ev), 0);
	ck_assert_str_eq(s.log, "begin(m,1,0,100) ack(4,3) ");
	mqttc_parser_reset(&p, &cb);
	free(b.p);
}
END_TEST

START_TEST(cut_off)
{
	/* the connection closes mid-payload: end(!ok) */
	struct buf b = { 0 };
	put_publish(&b, "c", 0, false, 0, NULL, 0, 1000);
	for(int take = MQTTC_STREAM; take <= MQTTC_BUFFER; take++){
		struct seen s;
		memset(&s, 0, sizeof(s));
		s.take = (enum mqttc_take)take;
		struct mqttc_cb cb = make_cb(&s, 4096);
		struct mqttc_parser p;
		mqttc_parser_init(&p);
		ck_assert_int_eq(mqttc_feed(&p, b.p, 500, &cb, NULL), 0);
		mqttc_parser_reset(&p, &cb);
		ck_assert(strstr(s.log, "end(0,-,0,0)") != NULL);
		mqttc_parser_reset(&p, &cb);    /* twice: nothing more */
		ck_assert_ptr_null(strstr(strstr(s.log, "end(") + 1, "end("));
	}
	free(b.p);
}
END_TEST

/* ---- malformed input: -1 and a message, never a crash ---- */
static const struct bad {
	const char *what;
	size_t len;
	const uint8_t bytes[16];
	const char *msg;
} bad[] = {
	{ "varint 5 bytes", 6, { 0x30, 0x80, 0x80, 0x80, 0x80, 0x01 }, "more than 4 bytes" },
	{ "varint not minimal", 3, { 0xd0, 0x80, 0x00 }, "not minimal" },
	{ "QoS 3", 1, { 0x36 }, "QoS 3" },
	{ "CONNECT", 1, { 0x10 }, "unexpected packet type 1" },
	{ "SUBSCRIBE", 1, { 0x82 }, "unexpected packet type 8" },
	{ "reserved 0", 1, { 0x00 }, "unexpected packet type 0" },
	{ "PUBREL flags", 1, { 0x60 }, "PUBREL" },
	{ "PUBACK flags", 1, { 0x41 }, "flags" },
	{ "PUBLISH empty", 2, { 0x30, 0x00 }, "no topic" },
	{ "PUBLISH 1 byte", 3, { 0x30, 0x01, 0x00 }, "no topic" },
	{ "empty topic", 5, { 0x30, 0x03, 0x00, 0x00, 0x00 }, "empty topic" },
	{ "topic beyond", 6, { 0x30, 0x04, 0x00, 0x05, 'a', 'b' }, "beyond the packet" },
	{ "topic too long", 4, { 0x30, 0x7f, 0x04, 0x01 }, "at most" },
	{ "NUL in topic", 7, { 0x30, 0x05, 0x00, 0x02, 'a', 0x00, 0x00 }, "NUL" },
	{ "pid 0", 8, { 0x32, 0x06, 0x00, 0x01, 'a', 0x00, 0x00, 0x00 }, "packet id 0" },
	{ "no pid", 5, { 0x32, 0x03, 0x00, 0x01, 'a' }, "no packet id" },
	{ "no properties", 5, { 0x30, 0x03, 0x00, 0x01, 'a' }, "no properties length" },
	{ "props beyond", 7, { 0x30, 0x05, 0x00, 0x01, 'a', 0x05, 0x00 }, "beyond the packet" },
	{ "props varint cut", 6, { 0x30, 0x04, 0x00, 0x01, 'a', 0x80 }, "cut off" },
	{ "props varint 5", 12, { 0x30, 0x0a, 0x00, 0x01, 'a', 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0 }, "more than 4 bytes" },
};

START_TEST(malformed)
{
	const struct bad *b = &bad[_i];
	struct seen s;
	memset(&s, 0, sizeof(s));
	s.take = MQTTC_STREAM;
	struct mqttc_cb cb = make_cb(&s, 1024);
	/* whole, then one byte at a time: the same error */
	for(int mode = 0; mode < 2; mode++){
		struct mqttc_parser p;
		mqttc_parser_init(&p);
		int rc = 0;
		if(mode == 0) rc = mqttc_feed(&p, b->bytes, b->len, &cb, NULL);
		for(size_t i = 0; mode == 1 && i < b->len && rc == 0; i++)
			rc = mqttc_feed(&p, b->bytes + i, 1, &cb, NULL);
		ck_assert_msg(rc == -1, "%s: accepted", b->what);
		ck_assert_msg(strstr(p.err, b->msg) != NULL, "%s: '%s'", b->what, p.err);
		mqttc_parser_reset(&p, &cb);
	}
	ck_assert_ptr_null(strstr(s.log, "begin"));
}
END_TEST

START_TEST(topic_bound)
{
	/* MQTTC_TOPIC_MAX bytes: accepted; one more: refused */
	for(size_t extra = 0; extra < 2; extra++){
		size_t tl = MQTTC_TOPIC_MAX + extra;
		char *topic = malloc(tl + 1);
		memset(topic, 'x', tl);
		topic[tl] = '\0';
		struct buf b = { 0 };
		put_publish(&b, topic, 0, false, 0, NULL, 0, 1);
		struct seen s;
		memset(&s, 0, sizeof(s));
		struct mqttc_cb cb = make_cb(&s, 1024);
		struct mqttc_parser p;
		mqttc_parser_init(&p);
		ck_assert_int_eq(mqttc_feed(&p, b.p, b.n, &cb, NULL), extra ? -1 : 0);
		mqttc_parser_reset(&p, &cb);
		free(b.p);
		free(topic);
	}
}
END_TEST

START_TEST(varint_encode)
{
	static const struct { uint32_t v; size_t n; uint8_t b[4]; } t[] = {
		{ 0, 1, { 0 } }, { 127, 1, { 0x7f } }, { 128, 2, { 0x80, 0x01 } },
		{ 16383, 2, { 0xff, 0x7f } }, { 16384, 3, { 0x80, 0x80, 0x01 } },
		{ 268435455, 4, { 0xff, 0xff, 0xff, 0x7f } },
	};
	for(size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++){
		uint8_t out[4];
		ck_assert_uint_eq(mqttc_varint(t[i].v, out), t[i].n);
		ck_assert_mem_eq(out, t[i].b, t[i].n);
	}
}
END_TEST

static Suite *mqttc_suite(void)
{
	Suite *s = suite_create("mqttc");
	TCase *tc = tcase_create("parser");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_boundary);
	tcase_add_test(tc, byte_at_a_time);
	tcase_add_test(tc, stream_larger_than_read_buffer);
	tcase_add_test(tc, buffer_bound);
	tcase_add_test(tc, cut_off);
	tcase_add_loop_test(tc, malformed, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, topic_bound);
	tcase_add_test(tc, varint_encode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mqttc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
