/* libFuzzer target: the device agent's MQTT receive parser (tools/mqttc.c).
 * Input: <mode> <piece> <stream...>. mode % 3 is what begin() answers
 * (discard, stream, buffer; buffer_max is mode * 64); the stream is fed in
 * pieces of (piece + 1) bytes to one parser and whole to another: both
 * must report the same callbacks and the same result. Invariants: a
 * payload ends with exactly the announced length streamed or buffered,
 * data() pieces are within the pieces fed, nothing is delivered outside a
 * begin()/end() pair, and the parser's error text is set on failure.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include "../../tools/mqttc.h"
#include "fuzz_common.h"

const char *cli_cmd = "fuzz";
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_err(const char *fmt, ...)
{
	(void)fmt;
}

struct seen {
	enum mqttc_take take;
	bool open;                 /* between begin() (not discarded) and end() */
	uint32_t announced;
	uint64_t got, hash, events;
	size_t max_piece, bufmax;
};

static void mix(struct seen *s, uint64_t v)
{
	s->hash = (s->hash ^ v) * 0x100000001b3ull;
	s->events++;
}

static enum mqttc_take cb_begin(void *ud, const char *topic, int qos, bool retain, uint32_t len)
{
	struct seen *s = ud;
	FUZZ_CHECK(!s->open);
	FUZZ_CHECK(qos >= 0 && qos <= 2);
	size_t tl = strlen(topic);
	FUZZ_CHECK(tl >= 1 && tl <= MQTTC_TOPIC_MAX);
	for(size_t i = 0; i < tl; i++) mix(s, (uint8_t)topic[i]);
	mix(s, (uint64_t)qos << 40 | (uint64_t)retain << 32 | len);
	/* a BUFFER payload above buffer_max is dropped: no data(), no end() */
	s->open = s->take == MQTTC_STREAM || (s->take == MQTTC_BUFFER && len <= s->bufmax);
	s->announced = len;
	s->got = 0;
	return s->take;
}

static void cb_data(void *ud, const uint8_t *p, size_t n)
{
	struct seen *s = ud;
	FUZZ_CHECK(s->open && s->take == MQTTC_STREAM);
	FUZZ_CHECK(n > 0 && n <= s->max_piece);
	FUZZ_CHECK(s->got + n <= s->announced);
	for(size_t i = 0; i < n; i++) s->hash = (s->hash ^ p[i]) * 0x100000001b3ull;
	s->got += n;
}

static void cb_end(void *ud, bool ok, const uint8_t *buf, size_t len)
{
	struct seen *s = ud;
	FUZZ_CHECK(s->open);
	s->open = false;
	if(!ok){
		FUZZ_CHECK(buf == NULL && len == 0);
		mix(s, 0xdead);
		return;
	}
	if(s->take == MQTTC_BUFFER){
		FUZZ_CHECK(buf != NULL && len == s->announced);
		for(size_t i = 0; i < len; i++) s->hash = (s->hash ^ buf[i]) * 0x100000001b3ull;
	}else{
		FUZZ_CHECK(buf == NULL && s->got == s->announced);
	}
	mix(s, 0xe0d0 + len);
}

static void ev_ack(void *ctx, uint8_t type, uint16_t pid)
{
	FUZZ_CHECK((type == 4 || type == 5) && pid != 0);
	mix(ctx, (uint64_t)type << 16 | pid);
}

static int ev_packet(void *ctx, uint8_t type, const uint8_t *body, uint32_t kept, uint32_t len)
{
	FUZZ_CHECK(kept <= len && kept <= MQTTC_BODY_MAX && type != 3);
	for(uint32_t i = 0; i < kept; i++) mix(ctx, body[i]);
	mix(ctx, (uint64_t)type << 32 | len);
	return 0;
}

static int run(struct seen *s, const uint8_t *data, size_t size, size_t piece, size_t bufmax, enum mqttc_take take)
{
	memset(s, 0, sizeof(*s));
	s->take = take;
	s->max_piece = piece;
	s->bufmax = bufmax;
	struct mqttc_cb cb = { .ud = s, .buffer_max = bufmax, .begin = cb_begin, .data = cb_data, .end = cb_end };
	struct mqttc_events ev = { ev_ack, ev_packet, s };
	struct mqttc_parser p;
	mqttc_parser_init(&p);
	int rc = 0;
	for(size_t at = 0; at < size && rc == 0; at += piece){
		size_t n = size - at < piece ? size - at : piece;
		rc = mqttc_feed(&p, data + at, n, &cb, &ev);
		FUZZ_CHECK(rc == 0 || rc == -1);
		if(rc != 0) FUZZ_CHECK(p.err[0] != '\0');
	}
	mqttc_parser_reset(&p, &cb);
	FUZZ_CHECK(!s->open);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(size < 2) return 0;
	enum mqttc_take take = (enum mqttc_take)(data[0] % 3);
	size_t bufmax = (size_t)data[0] * 64, piece = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	struct seen a, b;
	int ra = run(&a, data, size, piece, bufmax, take);
	int rb = run(&b, data, size, size ? size : 1, bufmax, take);
	FUZZ_CHECK(ra == rb);
	FUZZ_CHECK(a.hash == b.hash && a.events == b.events);
	return 0;
}
