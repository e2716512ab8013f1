/* Topics of §4: zero-copy parse of names and classification of filters.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_TOPIC_H
#define FWGUARD_TOPIC_H
#include "fwguard/fwguard.h"

enum fwg_topic_kind {
	FWG_T_OUTSIDE = 0,   /* not under <prefix>/ (nor equal to <prefix>) */
	FWG_T_INVALID,       /* under <prefix>/ but not a topic of §4 */
	FWG_T_MANIFEST,
	FWG_T_CHUNK,
	FWG_T_STATUS,
	FWG_T_EVENTS,
	FWG_T_FLEET,
};

struct fwg_topic {
	enum fwg_topic_kind kind;
	const char *vendor; size_t vendor_len;   /* point into the topic string */
	const char *model;  size_t model_len;
	const char *device; size_t device_len;   /* FWG_T_STATUS */
	uint64_t sequence, index;                /* FWG_T_CHUNK */
};

/* <vendor>, <model>, <device>: 1-64 of [A-Za-z0-9._-], not "." or "..". */
bool fwg_id_valid(const char *s, size_t n);

/* false: topic cannot be under prefix (its first byte differs; prefix is
 * never empty), so fwg_topic_parse would say FWG_T_OUTSIDE. A one-byte test
 * for the broker's hot paths, where most topics are ordinary ones. */
static inline bool fwg_topic_maybe_inside(const char *prefix, const char *topic)
{
	return topic[0] == prefix[0];
}

/* Parse a topic name (no wildcards allowed: a name with + or # under the
 * prefix is FWG_T_INVALID). prefix is e.g. "fw" (may have several levels). */
enum fwg_topic_kind fwg_topic_parse(const char *prefix, size_t prefix_len,
		const char *topic, struct fwg_topic *t);

/* Subscription filters. */
enum fwg_filter_scope {
	FWG_F_OUTSIDE = 0, /* cannot match any topic under <prefix>/ */
	FWG_F_MIXED,       /* can match topics under <prefix>/ and outside it (e.g. "#") */
	FWG_F_INSIDE,      /* matches only topics under <prefix>/ */
};
struct fwg_filter {
	enum fwg_filter_scope scope;
	/* For FWG_F_INSIDE: the vendor and model levels; len 0 with wild=true
	 * when that level is '+' or '#' or absent after a '#'. */
	const char *vendor; size_t vendor_len; bool vendor_wild;
	const char *model;  size_t model_len;  bool model_wild;
	/* The rest after <model>/ ("" if none, e.g. "manifest", "chunk/7/#",
	 * "status/dev1", "#"); rest_wild true if it contains + or #. */
	const char *rest; size_t rest_len; bool rest_wild;
};
/* A shared subscription "$share/<group>/<filter>" is classified by <filter>
 * (the fields point into it). The bare "<prefix>" is FWG_F_INSIDE with an
 * empty, non-wild vendor (it matches only the invalid topic "<prefix>").
 * A filter level that contains '+' or '#' among other characters (not a
 * valid MQTT filter) counts as a wildcard at a prefix level, and as a
 * literal (invalid id) at the vendor/model levels. */
enum fwg_filter_scope fwg_filter_classify(const char *prefix, size_t prefix_len,
		const char *filter, struct fwg_filter *f);
#endif
