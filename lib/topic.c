/* Topics of PROTOCOL.md §4: zero-copy parse of topic names and
 * classification of subscription filters.
 * SPDX-License-Identifier: Apache-2.0
 *
 * fwg_topic_parse runs for every message delivery (ACL READ check), so it
 * allocates nothing, reads each character of the topic once and is O(length).
 */
#include <string.h>
#include "fwguard/topic.h"

static inline bool id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		|| c == '.' || c == '_' || c == '-';
}

bool fwg_id_valid(const char *s, size_t n)
{
	if(!s || n == 0 || n > FWG_ID_MAX) return false;
	if(s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.'))) return false;
	for(size_t i = 0; i < n; i++) {
		if(!id_char((unsigned char)s[i])) return false;
	}
	return true;
}

/* Largest levels after the prefix: <vendor>/<model>/chunk/<sequence>/<index> */
#define TOPIC_LEVELS_MAX 5

/* What the single pass learns about one level. */
struct level {
	const char *p;
	size_t n;
	bool id_ok;        /* every character is in the id charset */
	bool number_ok;    /* decimal, no leading zero, value <= FWG_INT_MAX */
	uint64_t value;
};

static inline bool level_is(const struct level *l, const char *word, size_t wlen)
{
	return l->n == wlen && memcmp(l->p, word, wlen) == 0;
}

static inline bool level_id(const struct level *l)
{
	/* id_ok covers the charset; length 1..64 and "."/".." remain. */
	if(!l->id_ok || l->n == 0 || l->n > FWG_ID_MAX) return false;
	if(l->p[0] == '.' && (l->n == 1 || (l->n == 2 && l->p[1] == '.'))) return false;
	return true;
}

enum fwg_topic_kind fwg_topic_parse(const char *prefix, size_t prefix_len,
		const char *topic, struct fwg_topic *t)
{
	struct fwg_topic dummy;
	if(!t) t = &dummy;
	memset(t, 0, sizeof(*t));
	t->kind = FWG_T_OUTSIDE;
	if(!topic || !prefix) return FWG_T_OUTSIDE;

	/* The prefix, literally, then '/' (or the end: the bare prefix). */
	size_t i = 0;
	for(; i < prefix_len; i++) {
		if(topic[i] != prefix[i]) return FWG_T_OUTSIDE; /* also stops at topic's NUL */
	}
	if(topic[i] == '\0') return t->kind = FWG_T_INVALID;
	if(topic[i] != '/') return FWG_T_OUTSIDE;
	i++;

	struct level lv[TOPIC_LEVELS_MAX];
	size_t nlv = 0;
	struct level cur = { topic + i, 0, true, true, 0 };
	for(;; i++) {
		unsigned char c = (unsigned char)topic[i];
		if(c == '/' || c == '\0') {
			if(cur.n == 0) return t->kind = FWG_T_INVALID;   /* empty level */
			if(nlv == TOPIC_LEVELS_MAX) return t->kind = FWG_T_INVALID;
			lv[nlv++] = cur;
			if(c == '\0') break;
			cur.p = topic + i + 1; cur.n = 0;
			cur.id_ok = true; cur.number_ok = true; cur.value = 0;
			continue;
		}
		cur.n++;
		if(!id_char(c)) {
			/* '+', '#', '$', space, any non-ASCII byte...: nothing of §4 */
			return t->kind = FWG_T_INVALID;
		}
		if(cur.number_ok) {
			if(c < '0' || c > '9' || (cur.n == 2 && cur.value == 0)) {
				cur.number_ok = false;     /* not a digit, or a leading zero */
			} else {
				uint64_t d = (uint64_t)(c - '0');
				if(cur.value > (FWG_INT_MAX - d) / 10) cur.number_ok = false;
				else cur.value = cur.value * 10 + d;
			}
		}
	}

	if(nlv < 3 || !level_id(&lv[0]) || !level_id(&lv[1])) return t->kind = FWG_T_INVALID;
	const struct level *k = &lv[2];
	enum fwg_topic_kind kind = FWG_T_INVALID;
	if(nlv == 3) {
		if(level_is(k, "manifest", 8)) kind = FWG_T_MANIFEST;
		else if(level_is(k, "events", 6)) kind = FWG_T_EVENTS;
		else if(level_is(k, "fleet", 5)) kind = FWG_T_FLEET;
	} else if(nlv == 4) {
		if(level_is(k, "status", 6) && level_id(&lv[3])) {
			kind = FWG_T_STATUS;
			t->device = lv[3].p; t->device_len = lv[3].n;
		}
	} else if(nlv == 5) {
		if(level_is(k, "chunk", 5)
				&& lv[3].number_ok && lv[3].value >= 1          /* 1 .. 2^53-1 */
				&& lv[4].number_ok && lv[4].value <= UINT32_MAX) { /* 0 .. 2^32-1 */
			kind = FWG_T_CHUNK;
			t->sequence = lv[3].value;
			t->index = lv[4].value;
		}
	}
	if(kind == FWG_T_INVALID) {
		t->device = NULL; t->device_len = 0;
		return t->kind = FWG_T_INVALID;
	}
	t->kind = kind;
	t->vendor = lv[0].p; t->vendor_len = lv[0].n;
	t->model = lv[1].p; t->model_len = lv[1].n;
	return kind;
}

/* ---- subscription filters ---- */

/* Length of the level starting at p (up to '/' or NUL). */
static size_t level_len(const char *p)
{
	size_t n = 0;
	while(p[n] != '\0' && p[n] != '/') n++;
	return n;
}

static bool has_wild(const char *p, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		if(p[i] == '+' || p[i] == '#') return true;
	}
	return false;
}

/* A shared subscription "$share/<group>/<filter>" is classified by <filter>:
 * it receives the same messages. NULL if the form is malformed. */
static const char *strip_share(const char *filter)
{
	if(strncmp(filter, "$share/", 7) != 0) return filter;
	const char *g = filter + 7;
	size_t gl = level_len(g);
	if(gl == 0 || g[gl] != '/') return NULL;
	return g + gl + 1;
}

enum fwg_filter_scope fwg_filter_classify(const char *prefix, size_t prefix_len,
		const char *filter, struct fwg_filter *f)
{
	struct fwg_filter dummy;
	if(!f) f = &dummy;
	memset(f, 0, sizeof(*f));
	f->scope = FWG_F_OUTSIDE;
	f->vendor = f->model = f->rest = "";
	if(!filter || !prefix) return FWG_F_OUTSIDE;

	const char *p = strip_share(filter);
	if(!p) {
		/* "$share/" without a group or a filter: no broker accepts it; it
		 * cannot match anything (the broker refuses it anyway). */
		return FWG_F_OUTSIDE;
	}

	/* Walk the prefix levels against the filter levels. */
	size_t pi = 0;
	bool first = true;
	for(;;) {
		size_t pl = 0;
		while(pi + pl < prefix_len && prefix[pi + pl] != '/') pl++;
		size_t fl = level_len(p);
		if((fl == 1 && (p[0] == '+' || p[0] == '#')) || has_wild(p, fl)) {
			/* A wildcard at a prefix level. Topics beginning with '$' are
			 * not matched by a wildcard in the first level (MQTT 4.7.2). */
			if(first && prefix_len > 0 && prefix[0] == '$') return FWG_F_OUTSIDE;
			return f->scope = FWG_F_MIXED;
		}
		if(fl != pl || memcmp(p, prefix + pi, pl) != 0) return FWG_F_OUTSIDE;
		p += fl;
		pi += pl;
		first = false;
		if(pi >= prefix_len) break;        /* prefix consumed */
		/* prefix has another level */
		if(*p != '/') return FWG_F_OUTSIDE; /* filter ended before the prefix */
		p++; pi++;                          /* skip '/' in both */
	}

	/* The prefix levels match literally. */
	f->scope = FWG_F_INSIDE;
	if(*p == '\0') {
		/* The filter is the bare prefix: it matches only the topic "<prefix>",
		 * which is FWG_T_INVALID (inside). vendor "" and not wild: a consumer
		 * that validates the vendor denies it. */
		return FWG_F_INSIDE;
	}
	p++; /* '/' */

	/* vendor */
	size_t vl = level_len(p);
	if(vl == 1 && p[0] == '#') {
		f->vendor_wild = f->model_wild = true;
		f->rest = p; f->rest_len = 1; f->rest_wild = true;
		return FWG_F_INSIDE;
	}
	f->vendor = p; f->vendor_len = vl;
	if(vl == 1 && p[0] == '+') { f->vendor = ""; f->vendor_len = 0; f->vendor_wild = true; }
	p += vl;
	if(*p == '\0') return FWG_F_INSIDE;     /* "<prefix>/<vendor>": model absent */
	p++;

	/* model */
	size_t ml = level_len(p);
	if(ml == 1 && p[0] == '#') {
		f->model = ""; f->model_wild = true;
		f->rest = p; f->rest_len = 1; f->rest_wild = true;
		return FWG_F_INSIDE;
	}
	f->model = p; f->model_len = ml;
	if(ml == 1 && p[0] == '+') { f->model = ""; f->model_len = 0; f->model_wild = true; }
	p += ml;
	if(*p == '\0') return FWG_F_INSIDE;
	p++;

	/* rest */
	f->rest = p;
	f->rest_len = strlen(p);
	f->rest_wild = has_wild(p, f->rest_len);
	return FWG_F_INSIDE;
}
