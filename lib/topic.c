/* Topics of PROTOCOL.md §4: zero-copy parse of topic names and
 * classification of subscription filters.
 * SPDX-License-Identifier: Apache-2.0
 *
 * fwg_topic_parse runs for every message delivery (ACL READ check), so it
 * allocates nothing, reads each character of the topic once and is O(length).
 */
#include <string.h>
#include "fwguard/topic.h"

/* [A-Za-z0-9._-]: a table, because the READ check of every delivery runs
 * this for every character of the topic. */
static const unsigned char id_table[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
	['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
	['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
	['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
	['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['.'] = 1, ['_'] = 1, ['-'] = 1,
};

static inline bool id_char(unsigned char c)
{
	return id_table[c] != 0;
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

/* One level of the topic. */
struct level {
	const char *p;
	size_t n;
};

/* Strict decimal "0|[1-9][0-9]*" <= max (chunk sequence and index only). */
static bool level_number(const struct level *l, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if(l->n == 0 || l->n > 16 || (l->n > 1 && l->p[0] == '0')) return false;
	for(size_t i = 0; i < l->n; i++){
		unsigned char c = (unsigned char)l->p[i];
		if(c < '0' || c > '9') return false;
		v = v * 10 + (uint64_t)(c - '0');   /* 16 digits cannot overflow */
	}
	if(v > max) return false;
	*out = v;
	return true;
}

static inline bool level_is(const struct level *l, const char *word, size_t wlen)
{
	return l->n == wlen && memcmp(l->p, word, wlen) == 0;
}

static inline bool level_id(const struct level *l)
{
	/* the parse loop checked the charset; length 1..64 and "."/".." remain. */
	if(l->n == 0 || l->n > FWG_ID_MAX) return false;
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
	const char *start = topic + i;
	for(;; i++) {
		unsigned char c = (unsigned char)topic[i];
		if(id_char(c)) continue;
		if(c != '/' && c != '\0') {
			/* '+', '#', '$', space, any non-ASCII byte...: nothing of §4 */
			return t->kind = FWG_T_INVALID;
		}
		size_t n = (size_t)(topic + i - start);
		if(n == 0 || nlv == TOPIC_LEVELS_MAX) return t->kind = FWG_T_INVALID; /* empty level, too deep */
		lv[nlv].p = start;
		lv[nlv].n = n;
		nlv++;
		if(c == '\0') break;
		start = topic + i + 1;
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
		uint64_t seq, idx;
		if(level_is(k, "chunk", 5)
				&& level_number(&lv[3], FWG_INT_MAX, &seq) && seq >= 1   /* 1 .. 2^53-1 */
				&& level_number(&lv[4], UINT32_MAX, &idx)) {            /* 0 .. 2^32-1 */
			kind = FWG_T_CHUNK;
			t->sequence = seq;
			t->index = idx;
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
