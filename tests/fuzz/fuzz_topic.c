/* libFuzzer target: topic names (§4) and the subscription filter classifier.
 * Input: <prefix> NUL <topic-or-filter> [NUL <topic>] (without a NUL: the
 * prefix "fw"). The optional second topic is matched against the filter
 * with libmosquitto's matcher: what the classifier says must hold for it.
 * SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <mosquitto.h>
#include "fwguard/topic.h"
#include "fuzz_common.h"

/* The plugin's rule for plugin_opt_topic_prefix (plugin/config.c). */
static bool prefix_valid(const char *s, size_t n)
{
	if(n == 0 || n > 128 || s[0] == '/' || s[n - 1] == '/' || s[0] == '$') return false;
	for(size_t i = 0; i < n; i++) {
		if(s[i] == '\0' || s[i] == '+' || s[i] == '#') return false;
		if(s[i] == '/' && i + 1 < n && s[i + 1] == '/') return false;
	}
	return true;
}

static bool inside(const char *p, size_t n, const char *base, size_t blen)
{
	return p >= base && p <= base + blen && (size_t)(base + blen - p) >= n;
}

static bool has_wild(const char *p, size_t n)
{
	for(size_t i = 0; i < n; i++) if(p[i] == '+' || p[i] == '#') return true;
	return false;
}

static void check_topic(const char *prefix, size_t pl, const char *topic, bool pvalid)
{
	struct fwg_topic t;
	size_t tl = strlen(topic);
	enum fwg_topic_kind k = fwg_topic_parse(prefix, pl, topic, &t);
	FUZZ_CHECK(k == t.kind && k <= FWG_T_FLEET);
	/* NULL t is allowed */
	FUZZ_CHECK(fwg_topic_parse(prefix, pl, topic, NULL) == k);

	bool under = tl >= pl && memcmp(topic, prefix, pl) == 0 && (topic[pl] == '/' || topic[pl] == '\0');
	if(memchr(prefix, '\0', pl) == NULL) {
		FUZZ_CHECK((k == FWG_T_OUTSIDE) == !under);
	}
	if(k == FWG_T_OUTSIDE || k == FWG_T_INVALID) {
		FUZZ_CHECK(t.vendor == NULL && t.model == NULL && t.device == NULL);
		return;
	}
	FUZZ_CHECK(under);
	FUZZ_CHECK(inside(t.vendor, t.vendor_len, topic, tl) && inside(t.model, t.model_len, topic, tl));
	FUZZ_CHECK(fwg_id_valid(t.vendor, t.vendor_len) && fwg_id_valid(t.model, t.model_len));
	FUZZ_CHECK(t.vendor == topic + pl + 1);
	FUZZ_CHECK(t.model == t.vendor + t.vendor_len + 1);
	if(k == FWG_T_STATUS) {
		FUZZ_CHECK(inside(t.device, t.device_len, topic, tl) && fwg_id_valid(t.device, t.device_len));
		FUZZ_CHECK(t.device + t.device_len == topic + tl);
	} else {
		FUZZ_CHECK(t.device == NULL && t.device_len == 0);
	}
	if(k == FWG_T_CHUNK) {
		FUZZ_CHECK(t.sequence >= 1 && t.sequence <= FWG_INT_MAX && t.index <= UINT32_MAX);
	} else {
		FUZZ_CHECK(t.sequence == 0 && t.index == 0);
	}
	/* The canonical name built from the parts is the topic itself. */
	char buf[1024];
	int n;
	switch(k) {
	case FWG_T_MANIFEST: case FWG_T_EVENTS: case FWG_T_FLEET:
		n = snprintf(buf, sizeof(buf), "%.*s/%.*s/%.*s/%s", (int)pl, prefix, (int)t.vendor_len, t.vendor,
				(int)t.model_len, t.model, k == FWG_T_MANIFEST ? "manifest" : k == FWG_T_EVENTS ? "events" : "fleet");
		break;
	case FWG_T_STATUS:
		n = snprintf(buf, sizeof(buf), "%.*s/%.*s/%.*s/status/%.*s", (int)pl, prefix, (int)t.vendor_len,
				t.vendor, (int)t.model_len, t.model, (int)t.device_len, t.device);
		break;
	default:
		n = snprintf(buf, sizeof(buf), "%.*s/%.*s/%.*s/chunk/%" PRIu64 "/%" PRIu64, (int)pl, prefix,
				(int)t.vendor_len, t.vendor, (int)t.model_len, t.model, t.sequence, t.index);
		break;
	}
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(buf));
	FUZZ_CHECK((size_t)n == tl && memcmp(buf, topic, tl) == 0);
	(void)pvalid;
}

static void check_filter(const char *prefix, size_t pl, const char *filter, bool pvalid)
{
	struct fwg_filter f;
	size_t fl = strlen(filter);
	enum fwg_filter_scope s = fwg_filter_classify(prefix, pl, filter, &f);
	FUZZ_CHECK(s == f.scope && s <= FWG_F_INSIDE);
	FUZZ_CHECK(fwg_filter_classify(prefix, pl, filter, NULL) == s);
	FUZZ_CHECK(f.vendor && f.model && f.rest);
	/* the pointers are "" or inside the filter, lengths within it */
	FUZZ_CHECK(f.vendor_len == 0 || inside(f.vendor, f.vendor_len, filter, fl));
	FUZZ_CHECK(f.model_len == 0 || inside(f.model, f.model_len, filter, fl));
	FUZZ_CHECK(f.rest_len == 0 || inside(f.rest, f.rest_len, filter, fl));
	FUZZ_CHECK(strnlen(f.vendor, f.vendor_len) == f.vendor_len);
	if(s != FWG_F_INSIDE) {
		FUZZ_CHECK(f.vendor_len == 0 && f.model_len == 0 && f.rest_len == 0);
		FUZZ_CHECK(!f.vendor_wild && !f.model_wild && !f.rest_wild);
	}
	if(s == FWG_F_INSIDE) {
		FUZZ_CHECK(!f.vendor_wild || f.vendor_len == 0);
		FUZZ_CHECK(!f.model_wild || f.model_len == 0);
		FUZZ_CHECK(memchr(f.vendor, '/', f.vendor_len) == NULL);
		FUZZ_CHECK(memchr(f.model, '/', f.model_len) == NULL);
		FUZZ_CHECK(f.rest_wild == has_wild(f.rest, f.rest_len));
		/* the rest is the tail of the filter (but for a '#' vendor/model level) */
		if(f.rest_len > 0 && !(f.rest_len == 1 && f.rest[0] == '#'))
			FUZZ_CHECK(f.rest + f.rest_len == filter + fl);
	}
	if(!pvalid || strncmp(filter, "$share/", 7) == 0) return;

	/* A prefix as the plugin accepts it. A filter without wildcards is a
	 * topic name: the classifier and the parser must agree. */
	if(!has_wild(filter, fl)) {
		struct fwg_topic t;
		enum fwg_topic_kind k = fwg_topic_parse(prefix, pl, filter, &t);
		FUZZ_CHECK(s != FWG_F_MIXED);
		FUZZ_CHECK((s == FWG_F_OUTSIDE) == (k == FWG_T_OUTSIDE));
		if(k != FWG_T_OUTSIDE && k != FWG_T_INVALID) {
			FUZZ_CHECK(f.vendor == t.vendor && f.vendor_len == t.vendor_len);
			FUZZ_CHECK(f.model == t.model && f.model_len == t.model_len);
			FUZZ_CHECK(!f.vendor_wild && !f.model_wild && !f.rest_wild);
		}
	} else if(s == FWG_F_INSIDE) {
		/* wildcards only after the prefix levels */
		FUZZ_CHECK(fl > pl && memcmp(filter, prefix, pl) == 0 && filter[pl] == '/');
		FUZZ_CHECK(!has_wild(filter, pl));
	}
	if(s == FWG_F_OUTSIDE) {
		/* no topic under the prefix matches: the filter does not start
		 * with the prefix levels (literally or by a wildcard) */
		bool starts = fl >= pl && memcmp(filter, prefix, pl) == 0 && (filter[pl] == '/' || filter[pl] == '\0');
		FUZZ_CHECK(!starts);
	}
}

/* Semantics: a topic that the filter matches (MQTT rules, libmosquitto)
 * is under the prefix iff the classifier said so, and has the vendor and
 * model the classifier extracted unless those levels are wild. */
static void check_match(const char *prefix, size_t pl, const char *filter, const char *topic)
{
	bool match = false;
	if(strncmp(filter, "$share/", 7) == 0) return;
	if(mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS) return;
	if(mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS) return;
	if(mosquitto_topic_matches_sub(filter, topic, &match) != MOSQ_ERR_SUCCESS || !match) return;
	struct fwg_filter f;
	struct fwg_topic t;
	enum fwg_filter_scope s = fwg_filter_classify(prefix, pl, filter, &f);
	enum fwg_topic_kind k = fwg_topic_parse(prefix, pl, topic, &t);
	if(s == FWG_F_OUTSIDE) FUZZ_CHECK(k == FWG_T_OUTSIDE);
	if(s == FWG_F_INSIDE) FUZZ_CHECK(k != FWG_T_OUTSIDE);
	if(s == FWG_F_INSIDE && k != FWG_T_OUTSIDE && k != FWG_T_INVALID) {
		if(!f.vendor_wild) FUZZ_CHECK(f.vendor_len == t.vendor_len && !memcmp(f.vendor, t.vendor, t.vendor_len));
		if(!f.model_wild) FUZZ_CHECK(f.model_len == t.model_len && !memcmp(f.model, t.model, t.model_len));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0, size);
	char *prefix, *rest, *topic2 = NULL;
	size_t pl;
	if(sep) {
		pl = (size_t)(sep - data);
		prefix = fuzz_dup_exact(data, pl);  /* not NUL-terminated: by length only */
		size_t rl = size - pl - 1;
		const uint8_t *r = sep + 1, *sep2 = memchr(r, 0, rl);
		if(sep2) {
			topic2 = fuzz_dup_cstr(sep2 + 1, rl - (size_t)(sep2 - r) - 1);
			rl = (size_t)(sep2 - r);
		}
		rest = fuzz_dup_cstr(r, rl);
	} else {
		pl = 2;
		prefix = fuzz_dup_exact((const uint8_t *)"fw", 2);
		rest = fuzz_dup_cstr(data, size);
	}
	bool pvalid = prefix_valid(prefix, pl);
	check_topic(prefix, pl, rest, pvalid);
	check_filter(prefix, pl, rest, pvalid);
	if(topic2) {
		check_topic(prefix, pl, topic2, pvalid);
		if(pvalid) check_match(prefix, pl, rest, topic2);
		free(topic2);
	}

	/* id validation on the raw bytes */
	bool idv = fwg_id_valid(rest, strlen(rest));
	if(idv) FUZZ_CHECK(strlen(rest) >= 1 && strlen(rest) <= FWG_ID_MAX && !strchr(rest, '/'));
	free(prefix);
	free(rest);
	return 0;
}
