/* libFuzzer target: the plugin's fw-ts / fw-tag extraction from MQTT v5
 * properties (plugin/props.c itself, on a
 * property list built with libmosquitto), then the tag check as the plugin
 * calls it (topic and payload of the manifest vector, its clock, window 300).
 * Input: records <type byte> <string> NUL [<string> NUL]:
 *   type % 6: 0 user property name,value; 1 user property "fw-ts",value;
 *   2 user property "fw-tag",value; 3 content type; 4 response topic;
 *   5 message expiry interval (4 bytes of the string).
 * SPDX-License-Identifier: Apache-2.0 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include "fwguard/tag.h"
#include "fwguard/codec.h"
#include "fuzz_common.h"
#include "../../plugin/props.h"

static uint8_t K[32], sha[32];
static struct fwg_tag_ctx *ctx;
static int64_t vector_now;
static char *topic;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	char *k = fuzz_expected("tag_key_K");
	fuzz_hex32(k, K);
	free(k);
	char *ts = fuzz_expected("manifest_tag_ts");
	vector_now = strtoll(ts, NULL, 10);
	free(ts);
	char *h = fuzz_expected("manifest_sha256");
	fuzz_hex32(h, sha);
	free(h);
	topic = fuzz_expected("manifest_topic");
	ctx = fwg_tag_ctx_new(K);
	if(!ctx) abort();
	return 0;
}

/* The plugin's own extraction (plugin/props.c is compiled into this target).
 * mosquitto_free is the broker's; the client library's property functions
 * allocate with plain malloc. */
void mosquitto_free(void *p);
void mosquitto_free(void *p)
{
	free(p);
}
#define fwg_message__props fwg_props__tag

static const char *next_str(const uint8_t **p, size_t *left)
{
	const uint8_t *z = *left ? memchr(*p, 0, *left) : NULL;
	if(!z) return NULL;                 /* an unterminated tail is dropped */
	const char *s = (const char *)*p;
	*left -= (size_t)(z - *p) + 1;
	*p = z + 1;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mosquitto_property *props = NULL;
	const uint8_t *p = data;
	size_t left = size;
	unsigned n_ts = 0, n_tag = 0, n_props = 0;
	const char *last_ts = NULL, *last_tag = NULL;
	while(left > 0 && n_props < 64) {
		unsigned type = *p++ % 6;
		left--;
		const char *a = next_str(&p, &left), *b = NULL;
		if(!a) break;
		int rc;
		switch(type) {
		case 0:
			if(!(b = next_str(&p, &left))) goto built;
			rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, a, b);
			if(rc == MOSQ_ERR_SUCCESS) {
				if(!strcmp(a, "fw-ts")) { n_ts++; last_ts = b; }
				if(!strcmp(a, "fw-tag")) { n_tag++; last_tag = b; }
			}
			break;
		case 1:
			rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "fw-ts", a);
			if(rc == MOSQ_ERR_SUCCESS) { n_ts++; last_ts = a; }
			break;
		case 2:
			rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "fw-tag", a);
			if(rc == MOSQ_ERR_SUCCESS) { n_tag++; last_tag = a; }
			break;
		case 3:
			rc = mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, a);
			break;
		case 4:
			rc = mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, a);
			break;
		default: {
			uint32_t v = 0;
			memcpy(&v, a, strnlen(a, 4));
			rc = mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, v);
			break;
		}
		}
		if(rc == MOSQ_ERR_SUCCESS) n_props++;
	}
built:;
	char *ts = NULL, *tag = NULL;
	enum fwg_reason r = fwg_message__props(props, &ts, &tag);
	if(n_ts > 1 || n_tag > 1) {
		FUZZ_CHECK(r == FWG_R_TAG_MALFORMED);
	} else if(n_ts == 1 && n_tag == 1) {
		FUZZ_CHECK(r == FWG_R_OK);
		FUZZ_CHECK(ts && tag && !strcmp(ts, last_ts) && !strcmp(tag, last_tag));
	} else {
		FUZZ_CHECK(r == FWG_R_TAG_MISSING);
	}
	if(r == FWG_R_OK) {
		uint8_t mac[32];
		/* as the plugin calls it: strlen of the property values */
		enum fwg_reason v = fwg_tag_verify(ctx, topic, ts, strlen(ts), tag, strlen(tag), sha,
				vector_now, 300, mac);
		FUZZ_CHECK(v == FWG_R_OK || v == FWG_R_TS_MALFORMED || v == FWG_R_TAG_MALFORMED
				|| v == FWG_R_TAG_STALE || v == FWG_R_TAG_FUTURE || v == FWG_R_TAG_MISMATCH);
	}
	mosquitto_free(ts);
	mosquitto_free(tag);
	mosquitto_property_free_all(&props);
	return 0;
}
