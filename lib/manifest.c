/* Manifest (§5): strict parser, signing base, signature.
 * SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "fwguard/manifest.h"
#include "fwguard/codec.h"
#include "json_lex.h"

/* ------------------------------------------------------------------ */
/* The allow-list                                                      */

enum member_type { MT_INT, MT_STR, MT_STRARR };

enum member_idx {
	MI_FORMAT, MI_VENDOR, MI_MODEL, MI_VERSION, MI_SEQUENCE, MI_SIZE, MI_SHA256,
	MI_CHUNK_SIZE, MI_ISSUED, MI_EXPIRES, MI_KEY_ID, MI_CHUNK_SHA256, MI_SIGNATURE,
	MI__COUNT
};

static const struct member_def {
	const char *name;
	enum member_type type;
	bool required;
} members[MI__COUNT] = {
	[MI_FORMAT]       = { "format",       MT_INT,    true },
	[MI_VENDOR]       = { "vendor",       MT_STR,    true },
	[MI_MODEL]        = { "model",        MT_STR,    true },
	[MI_VERSION]      = { "version",      MT_STR,    true },
	[MI_SEQUENCE]     = { "sequence",     MT_INT,    true },
	[MI_SIZE]         = { "size",         MT_INT,    true },
	[MI_SHA256]       = { "sha256",       MT_STR,    true },
	[MI_CHUNK_SIZE]   = { "chunk_size",   MT_INT,    true },
	[MI_ISSUED]       = { "issued",       MT_INT,    true },
	[MI_EXPIRES]      = { "expires",      MT_INT,    true },
	[MI_KEY_ID]       = { "key_id",       MT_STR,    true },
	[MI_CHUNK_SHA256] = { "chunk_sha256", MT_STRARR, false },
	[MI_SIGNATURE]    = { "signature",    MT_STR,    true },
};

static int member_lookup(const char *name)
{
	if(name == NULL) return -1;
	for(int i = 0; i < MI__COUNT; i++){
		if(strcmp(members[i].name, name) == 0) return i;
	}
	return -1;
}

static bool type_ok(const cJSON *item, enum member_type t)
{
	switch(t){
	case MT_INT: return cJSON_IsNumber(item);
	case MT_STR: return cJSON_IsString(item) && item->valuestring != NULL;
	case MT_STRARR:
		if(!cJSON_IsArray(item)) return false;
		for(const cJSON *e = item->child; e != NULL; e = e->next){
			if(!cJSON_IsString(e) || e->valuestring == NULL) return false;
		}
		return true;
	}
	return false;
}

/* Walk the members of the top-level object into items[]. */
static enum fwg_reason collect_members(const cJSON *root, const cJSON *items[MI__COUNT])
{
	uint32_t seen = 0;
	for(const cJSON *it = root->child; it != NULL; it = it->next){
		int idx = member_lookup(it->string);
		if(idx < 0) return FWG_R_MEMBER_UNKNOWN;
		if(seen & (1u << idx)) return FWG_R_MEMBER_DUPLICATE;
		seen |= 1u << idx;
		if(!type_ok(it, members[idx].type)) return FWG_R_MEMBER_TYPE;
		items[idx] = it;
	}
	for(int i = 0; i < MI__COUNT; i++){
		if(members[i].required && !(seen & (1u << i))) return FWG_R_MEMBER_MISSING;
	}
	return FWG_R_OK;
}

/* ------------------------------------------------------------------ */
/* Field rules                                                         */

/* The prescan bounded every number token to an integer <= 2^53-1, so the
 * double is exact; re-check defensively anyway. */
static enum fwg_reason num_u64(const cJSON *item, uint64_t *out)
{
	double d = item->valuedouble;
	if(!(d >= 0.0) || d > (double)FWG_INT_MAX) return FWG_R_NUMBER_INVALID;
	uint64_t v = (uint64_t)d;
	if((double)v != d) return FWG_R_NUMBER_INVALID;
	*out = v;
	return FWG_R_OK;
}

static bool id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-';
}

static bool version_char(char c)
{
	return id_char(c) || c == '+' || c == '~';
}

static bool charset_ok(const char *s, size_t min, size_t max, bool (*ok)(char))
{
	size_t n = strlen(s);
	if(n < min || n > max) return false;
	for(size_t i = 0; i < n; i++){
		if(!ok(s[i])) return false;
	}
	return true;
}

static bool id_valid(const char *s)
{
	return charset_ok(s, 1, FWG_ID_MAX, id_char) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* vendor / model: with an expected value, any difference (including an
 * invalid id, which can never equal a topic id) is a mismatch; without one
 * an invalid id is a type error. */
static enum fwg_reason check_id(const char *s, const char *expect, enum fwg_reason mismatch,
		char out[FWG_ID_MAX + 1])
{
	bool valid = id_valid(s);
	if(expect != NULL && (!valid || strcmp(s, expect) != 0)) return mismatch;
	if(!valid) return FWG_R_MEMBER_TYPE;
	memcpy(out, s, strlen(s) + 1);
	return FWG_R_OK;
}

static enum fwg_reason check_hex(const char *s, size_t hexlen, uint8_t *out, enum fwg_reason bad)
{
	if(strlen(s) != hexlen || fwg_hex_decode(s, hexlen, out, hexlen / 2) != 0) return bad;
	return FWG_R_OK;
}

static enum fwg_reason check_strings(const cJSON *items[MI__COUNT], const char *expect_vendor,
		const char *expect_model, struct fwg_manifest *m)
{
	enum fwg_reason r;
	r = check_id(items[MI_VENDOR]->valuestring, expect_vendor, FWG_R_VENDOR_MISMATCH, m->vendor);
	if(r != FWG_R_OK) return r;
	r = check_id(items[MI_MODEL]->valuestring, expect_model, FWG_R_MODEL_MISMATCH, m->model);
	if(r != FWG_R_OK) return r;
	const char *ver = items[MI_VERSION]->valuestring;
	if(!charset_ok(ver, 1, FWG_ID_MAX, version_char)) return FWG_R_VERSION_INVALID;
	memcpy(m->version, ver, strlen(ver) + 1);
	return FWG_R_OK;
}

static enum fwg_reason read_numbers(const cJSON *items[MI__COUNT], struct fwg_manifest *m)
{
	static const struct { enum member_idx idx; size_t off; } nums[] = {
		{ MI_FORMAT, offsetof(struct fwg_manifest, format) },
		{ MI_SEQUENCE, offsetof(struct fwg_manifest, sequence) },
		{ MI_SIZE, offsetof(struct fwg_manifest, size) },
		{ MI_CHUNK_SIZE, offsetof(struct fwg_manifest, chunk_size) },
		{ MI_ISSUED, offsetof(struct fwg_manifest, issued) },
		{ MI_EXPIRES, offsetof(struct fwg_manifest, expires) },
	};
	for(size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++){
		uint64_t *dst = (uint64_t *)((char *)m + nums[i].off);
		enum fwg_reason r = num_u64(items[nums[i].idx], dst);
		if(r != FWG_R_OK) return r;
	}
	return FWG_R_OK;
}

/* chunk_sha256 digests read from the raw text (see pre_chunk_list) */
struct pre_chunks {
	bool used;
	bool lean;             /* fwg_manifest_parse_lean: the digests stay in the text */
	bool compact;
	size_t off;            /* the list's '[' in the text */
	uint32_t n;
	uint8_t (*sha)[FWG_SHA256_LEN];
};

static enum fwg_reason check_chunk_list(const cJSON *arr, struct fwg_manifest *m, struct pre_chunks *pre)
{
	if(pre->used){
		/* the array cJSON saw is the "[]" put in place of the digests */
		m->has_chunk_sha = true;
		m->n_chunk_sha = pre->n;
		m->chunk_sha = pre->sha;    /* NULL when lean */
		m->chunk_list_off = pre->off;
		m->chunk_list_compact = pre->compact;
		pre->sha = NULL;
		return FWG_R_OK;
	}
	int n = cJSON_GetArraySize(arr);
	if(n < 0 || n > FWG_MAX_CHUNKS) return FWG_R_TOO_MANY_CHUNKS;
	m->has_chunk_sha = true;
	m->n_chunk_sha = (uint32_t)n;
	if(n == 0) return FWG_R_OK;
	m->chunk_sha = malloc((size_t)n * sizeof(*m->chunk_sha));
	if(m->chunk_sha == NULL) return FWG_R_NO_MEMORY;
	size_t i = 0;
	for(const cJSON *e = arr->child; e != NULL; e = e->next, i++){
		enum fwg_reason r = check_hex(e->valuestring, FWG_SHA256_HEX_LEN, m->chunk_sha[i],
				FWG_R_DIGEST_INVALID);
		if(r != FWG_R_OK) return r;
	}
	return FWG_R_OK;
}

static enum fwg_reason check_fields(const cJSON *items[MI__COUNT], const char *expect_vendor,
		const char *expect_model, struct fwg_manifest *m, struct pre_chunks *pre)
{
	enum fwg_reason r = read_numbers(items, m);
	if(r != FWG_R_OK) return r;
	if(m->format != 1) return FWG_R_FORMAT_UNSUPPORTED;
	if((r = check_strings(items, expect_vendor, expect_model, m)) != FWG_R_OK) return r;
	if(m->sequence < 1) return FWG_R_SEQUENCE_INVALID;
	if(m->size < 1) return FWG_R_SIZE_INVALID;
	r = check_hex(items[MI_SHA256]->valuestring, FWG_SHA256_HEX_LEN, m->sha256, FWG_R_DIGEST_INVALID);
	if(r != FWG_R_OK) return r;
	if(m->chunk_size < FWG_CHUNK_SIZE_MIN || m->chunk_size > FWG_CHUNK_SIZE_MAX)
		return FWG_R_CHUNK_SIZE_INVALID;
	if(m->expires <= m->issued) return FWG_R_VALIDITY_INVALID;
	const char *kid = items[MI_KEY_ID]->valuestring;
	if(strlen(kid) != FWG_KEY_ID_LEN || !fwg_is_lower_hex(kid, FWG_KEY_ID_LEN))
		return FWG_R_KEY_ID_INVALID;
	memcpy(m->key_id, kid, FWG_KEY_ID_LEN + 1);
	if(items[MI_CHUNK_SHA256] != NULL &&
			(r = check_chunk_list(items[MI_CHUNK_SHA256], m, pre)) != FWG_R_OK) return r;
	uint64_t nchunks = m->size / m->chunk_size + (m->size % m->chunk_size != 0);
	if(nchunks > FWG_MAX_CHUNKS) return FWG_R_TOO_MANY_CHUNKS;
	m->nchunks = (uint32_t)nchunks;
	const char *sig = items[MI_SIGNATURE]->valuestring;
	if(fwg_b64_decode(sig, strlen(sig), m->sig, sizeof(m->sig), &m->sig_len) != 0 ||
			m->sig_len < 8)
		return FWG_R_SIGNATURE_MALFORMED;
	return FWG_R_OK;
}

/* ------------------------------------------------------------------ */
/* Parse                                                               */

static size_t skip_ws(const uint8_t *b, size_t len, size_t i)
{
	while(i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
	return i;
}

/* The offset of the value of the first member of the root object spelt
 * "chunk_sha256" (no escapes) in the raw text, or 0. The text passed the
 * prescan (strings are terminated). */
static size_t find_chunk_list(const uint8_t *b, size_t len)
{
	static const char key[] = "\"chunk_sha256\"";
	int depth = 0;
	for(size_t i = 0; i < len; i++){
		uint8_t c = b[i];
		if(c == '"'){
			size_t s = i;
			for(i++; i < len && b[i] != '"'; i++)
				if(b[i] == '\\') i++;
			if(i >= len) return 0;
			if(depth == 1 && i + 1 - s == sizeof(key) - 1 && memcmp(b + s, key, sizeof(key) - 1) == 0){
				size_t j = skip_ws(b, len, i + 1);
				if(j < len && b[j] == ':') return skip_ws(b, len, j + 1);
			}
		}else if(c == '{' || c == '['){
			depth++;
		}else if(c == '}' || c == ']'){
			depth--;
		}
	}
	return 0;
}

/* One item of a plain digest list (below): at b[*i] the '[' before the
 * first item or the ',' before another, JSON whitespace, "<64 hex digits>",
 * JSON whitespace. The digest into out, *i past it. 0 / -1. The parser and
 * the readers of a list left in the text (fwg_manifest_parse_lean) share
 * it, so they accept the same items. */
static int list_next(const uint8_t *b, size_t len, size_t *i, bool first, uint8_t out[FWG_SHA256_LEN])
{
	size_t j = *i;
	if(j >= len || b[j] != (first ? '[' : ',')) return -1;
	j = skip_ws(b, len, j + 1);
	if(len - j < FWG_SHA256_HEX_LEN + 2 || b[j] != '"' || b[j + 1 + FWG_SHA256_HEX_LEN] != '"' ||
			fwg_hex_decode((const char *)b + j + 1, FWG_SHA256_HEX_LEN, out, FWG_SHA256_LEN) != 0)
		return -1;
	*i = skip_ws(b, len, j + FWG_SHA256_HEX_LEN + 2);
	return 0;
}

/* At b[i], the plain form of a digest list: '[' then one or more
 * "<64 hex digits>" separated by ',' then ']' (JSON whitespace between
 * tokens), at most FWG_MAX_CHUNKS. The offset just after ']' (digests into
 * out when not NULL, their count into *n), or 0 when the text is in another
 * form (cJSON then parses it as before: escapes, errors, ...). */
static size_t plain_chunk_list(const uint8_t *b, size_t len, size_t i, uint32_t *n,
		uint8_t (*out)[FWG_SHA256_LEN])
{
	for(uint32_t k = 0; k < FWG_MAX_CHUNKS; k++){
		uint8_t tmp[FWG_SHA256_LEN];
		if(list_next(b, len, &i, k == 0, out ? out[k] : tmp) != 0 || i >= len) return 0;
		if(b[i] == ']'){
			*n = k + 1;
			return i + 1;
		}
	}
	return 0;
}

/* A long chunk_sha256 list would cost cJSON two allocations per digest
 * (about 160 bytes each with the allocator's overhead, 40 KiB for 256
 * chunks): when the list is in the plain form, its digests are read from
 * the raw text and cJSON parses a copy of the text with "[]" in its place.
 * The copy parses the same as the original (a well-formed array value
 * replaced by another); any other form goes to cJSON whole. *text is the
 * copy (free it) or NULL. */
static enum fwg_reason pre_chunk_list(const uint8_t *buf, size_t len, struct pre_chunks *pre,
		uint8_t **text, size_t *tlen)
{
	*text = NULL;
	size_t v = find_chunk_list(buf, len), vend;
	uint32_t n = 0;
	if(v == 0 || (vend = plain_chunk_list(buf, len, v, &n, NULL)) == 0) return FWG_R_OK;
	if(!pre->lean) pre->sha = malloc((size_t)n * sizeof(*pre->sha));
	*tlen = len - (vend - v) + 2;
	*text = malloc(*tlen);
	if((!pre->lean && pre->sha == NULL) || *text == NULL){
		free(pre->sha);
		pre->sha = NULL;
		free(*text);
		*text = NULL;
		return FWG_R_NO_MEMORY;
	}
	if(!pre->lean) plain_chunk_list(buf, len, v, &n, pre->sha);
	pre->n = n;
	pre->off = v;
	/* '[' n x ("<64 hex>" ',') less the last ',' then ']' */
	pre->compact = pre->lean && vend - v == (size_t)n * (FWG_SHA256_HEX_LEN + 3) + 1;
	pre->used = true;
	memcpy(*text, buf, v);
	memcpy(*text + v, "[]", 2);
	memcpy(*text + v + 2, buf + vend, len - vend);
	return FWG_R_OK;
}

static enum fwg_reason parse_text(const uint8_t *buf, size_t len, cJSON **root)
{
	/* a byte order mark is not part of the contract's JSON (cJSON would skip it) */
	if(len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf) return FWG_R_JSON_INVALID;
	/* parsed in place (cJSON stops at len; no copy of up to 80 KiB), then
	 * nothing but whitespace may follow the value */
	const char *end = NULL;
	*root = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
	if(*root == NULL) return FWG_R_JSON_INVALID;
	size_t i = end != NULL && end >= (const char *)buf ? (size_t)(end - (const char *)buf) : len + 1;
	for(; i < len; i++){
		if(buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') break;
	}
	if(i != len){
		cJSON_Delete(*root);
		*root = NULL;
		return FWG_R_JSON_INVALID;
	}
	return FWG_R_OK;
}

static enum fwg_reason parse(const uint8_t *buf, size_t len, const char *expect_vendor,
		const char *expect_model, struct fwg_manifest *m, bool lean)
{
	if(m == NULL) return FWG_R_INTERNAL;
	if(buf == NULL && len > 0) return FWG_R_INTERNAL;
	if(len > FWG_MANIFEST_MAX) return FWG_R_TOO_LARGE;
	if(!fwg_utf8_valid(buf, len)) return FWG_R_NOT_UTF8;
	if(len == 0) return FWG_R_JSON_INVALID;
	enum fwg_reason r = fwg_json_prescan(buf, len, true);
	if(r != FWG_R_OK) return r;
	struct pre_chunks pre = { .lean = lean };
	uint8_t *text = NULL;
	size_t tlen = 0;
	if((r = pre_chunk_list(buf, len, &pre, &text, &tlen)) != FWG_R_OK) return r;
	cJSON *root = NULL;
	r = parse_text(text ? text : buf, text ? tlen : len, &root);
	free(text);
	if(r != FWG_R_OK){
		free(pre.sha);
		return r;
	}

	struct fwg_manifest tmp;
	memset(&tmp, 0, sizeof(tmp));
	const cJSON *items[MI__COUNT] = { 0 };
	if(!cJSON_IsObject(root)) r = FWG_R_JSON_NOT_OBJECT;
	else if((r = collect_members(root, items)) == FWG_R_OK)
		r = check_fields(items, expect_vendor, expect_model, &tmp, &pre);
	cJSON_Delete(root);
	free(pre.sha);    /* not taken (an error before the list) */
	if(r != FWG_R_OK){
		fwg_manifest_free(&tmp);
		return r;
	}
	*m = tmp;
	return FWG_R_OK;
}

enum fwg_reason fwg_manifest_parse(const uint8_t *buf, size_t len,
		const char *expect_vendor, const char *expect_model, struct fwg_manifest *m)
{
	return parse(buf, len, expect_vendor, expect_model, m, false);
}

enum fwg_reason fwg_manifest_parse_lean(const uint8_t *buf, size_t len,
		const char *expect_vendor, const char *expect_model, struct fwg_manifest *m)
{
	return parse(buf, len, expect_vendor, expect_model, m, true);
}

int fwg_manifest_chunk_sha(const struct fwg_manifest *m, const uint8_t *raw, size_t len, uint32_t k,
		uint8_t out[FWG_SHA256_LEN])
{
	if(m == NULL || !m->has_chunk_sha || k >= m->n_chunk_sha) return -1;
	if(m->chunk_sha != NULL){
		memcpy(out, m->chunk_sha[k], FWG_SHA256_LEN);
		return 0;
	}
	if(raw == NULL || m->chunk_list_off >= len) return -1;
	if(m->chunk_list_compact){
		/* the item's '"' at off + 1 + 67 k, preceded by '[' or ',' */
		size_t at = m->chunk_list_off + 1 + (size_t)k * (FWG_SHA256_HEX_LEN + 3);
		if(at > len || len - at < FWG_SHA256_HEX_LEN + 3) return -1;
		size_t i = at - 1;
		return list_next(raw, len, &i, k == 0, out) == 0 && raw[i] == (k + 1 == m->n_chunk_sha ? ']' : ',') ? 0 : -1;
	}
	size_t i = m->chunk_list_off;
	for(uint32_t j = 0; j <= k; j++)
		if(list_next(raw, len, &i, j == 0, out) != 0) return -1;
	return 0;
}

void fwg_manifest_free(struct fwg_manifest *m)
{
	if(m == NULL) return;
	free(m->chunk_sha);
	m->chunk_sha = NULL;
	m->n_chunk_sha = 0;
	m->has_chunk_sha = false;
}

int fwg_manifest_copy(struct fwg_manifest *dst, const struct fwg_manifest *src)
{
	if(dst == NULL || src == NULL) return -1;
	struct fwg_manifest tmp = *src;
	tmp.chunk_sha = NULL;
	if(src->n_chunk_sha > 0){
		if(src->chunk_sha == NULL) return -1;
		size_t bytes = (size_t)src->n_chunk_sha * sizeof(*src->chunk_sha);
		tmp.chunk_sha = malloc(bytes);
		if(tmp.chunk_sha == NULL) return -1;
		memcpy(tmp.chunk_sha, src->chunk_sha, bytes);
	}
	*dst = tmp;
	return 0;
}

/* ------------------------------------------------------------------ */
/* A small growable string                                             */

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_reserve(struct sbuf *b, size_t more)
{
	if(b->failed) return;
	if(more > SIZE_MAX - b->len - 1){
		b->failed = true;
		return;
	}
	size_t need = b->len + more + 1;
	if(need <= b->cap) return;
	size_t cap = b->cap ? b->cap : 256;
	while(cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *np = realloc(b->p, cap);
	if(np == NULL){
		b->failed = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if(b->failed) return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);
	sb_add(b, num, (size_t)n);
}

static void sb_hex(struct sbuf *b, const uint8_t *bytes, size_t n)
{
	sb_reserve(b, 2 * n);
	if(b->failed) return;
	fwg_hex_encode(bytes, n, b->p + b->len);
	b->len += 2 * n;
}

static char *sb_finish(struct sbuf *b, size_t *len)
{
	sb_reserve(b, 0); /* a NUL-terminated buffer even when empty */
	if(b->failed){
		free(b->p);
		return NULL;
	}
	if(len != NULL) *len = b->len;
	return b->p;
}

/* Field of a fixed-size char array, bounded even if not NUL-terminated. */
static void sb_field(struct sbuf *b, const char *s, size_t cap)
{
	sb_add(b, s, strnlen(s, cap));
}

/* ------------------------------------------------------------------ */
/* Signing base, signature                                             */

char *fwg_manifest_signing_base(const struct fwg_manifest *m, size_t *len)
{
	if(m == NULL || (m->n_chunk_sha > 0 && m->chunk_sha == NULL)) return NULL;
	struct sbuf b = { 0 };
	sb_reserve(&b, 512 + (size_t)m->n_chunk_sha * (FWG_SHA256_HEX_LEN + 1));
	sb_str(&b, FWG_SIGN_PREFIX "\n");
	sb_field(&b, m->vendor, sizeof(m->vendor)); sb_str(&b, "\n");
	sb_field(&b, m->model, sizeof(m->model)); sb_str(&b, "\n");
	sb_field(&b, m->version, sizeof(m->version)); sb_str(&b, "\n");
	sb_u64(&b, m->sequence); sb_str(&b, "\n");
	sb_u64(&b, m->size); sb_str(&b, "\n");
	sb_hex(&b, m->sha256, FWG_SHA256_LEN); sb_str(&b, "\n");
	sb_u64(&b, m->chunk_size); sb_str(&b, "\n");
	sb_u64(&b, m->issued); sb_str(&b, "\n");
	sb_u64(&b, m->expires); sb_str(&b, "\n");
	sb_field(&b, m->key_id, sizeof(m->key_id)); sb_str(&b, "\n");
	for(uint32_t i = 0; m->has_chunk_sha && i < m->n_chunk_sha; i++){
		if(i > 0) sb_str(&b, ",");
		sb_hex(&b, m->chunk_sha[i], FWG_SHA256_LEN);
	}
	return sb_finish(&b, len);
}

static enum fwg_reason verify(const struct fwg_manifest *m, const uint8_t *raw, size_t rawlen, EVP_PKEY *pub)
{
	if(m == NULL || pub == NULL || !EVP_PKEY_is_a(pub, "EC") ||
			m->sig_len < 1 || m->sig_len > FWG_SIG_MAX)
		return FWG_R_SIGNATURE_INVALID;
	if(m->n_chunk_sha > 0 && m->chunk_sha == NULL && raw == NULL) return FWG_R_NO_MEMORY;
	/* the signing base streamed into the verifier: its head (the fields up
	 * to key_id), then the chunk digests in hex one by one, never the whole
	 * text (65 bytes per chunk) in memory */
	struct fwg_manifest head = *m;
	head.has_chunk_sha = false;
	head.n_chunk_sha = 0;
	head.chunk_sha = NULL;
	size_t blen = 0;
	char *base = fwg_manifest_signing_base(&head, &blen);
	if(base == NULL) return FWG_R_NO_MEMORY;
	enum fwg_reason r = FWG_R_SIGNATURE_INVALID;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
			EVP_DigestVerifyUpdate(md, base, blen) == 1;
	size_t at = m->chunk_list_off;    /* lean: walking the list in raw */
	enum { PER = 64 };                /* digests per update: "," + hex each */
	char hex[PER * (1 + FWG_SHA256_HEX_LEN) + 1];
	size_t hl = 0;
	for(uint32_t i = 0; ok && m->has_chunk_sha && i < m->n_chunk_sha; i++){
		uint8_t d[FWG_SHA256_LEN];
		if(m->chunk_sha == NULL && list_next(raw, rawlen, &at, i == 0, d) != 0){
			ok = false;
			break;
		}
		if(i > 0) hex[hl++] = ',';
		fwg_hex_encode(m->chunk_sha != NULL ? m->chunk_sha[i] : d, FWG_SHA256_LEN, hex + hl);
		hl += FWG_SHA256_HEX_LEN;
		if(hl + 1 + FWG_SHA256_HEX_LEN >= sizeof(hex)){
			ok = EVP_DigestVerifyUpdate(md, hex, hl) == 1;
			hl = 0;
		}
	}
	if(ok && hl > 0) ok = EVP_DigestVerifyUpdate(md, hex, hl) == 1;
	if(ok && EVP_DigestVerifyFinal(md, m->sig, m->sig_len) == 1) r = FWG_R_OK;
	EVP_MD_CTX_free(md);
	free(base);
	ERR_clear_error();
	return r;
}

enum fwg_reason fwg_manifest_verify(const struct fwg_manifest *m, EVP_PKEY *pub)
{
	return verify(m, NULL, 0, pub);
}

enum fwg_reason fwg_manifest_verify_raw(const struct fwg_manifest *m, const uint8_t *raw, size_t len,
		EVP_PKEY *pub)
{
	return verify(m, raw, len, pub);
}

int fwg_manifest_sign(struct fwg_manifest *m, EVP_PKEY *priv)
{
	if(m == NULL || priv == NULL || !EVP_PKEY_is_a(priv, "EC")) return -1;
	size_t blen = 0;
	char *base = fwg_manifest_signing_base(m, &blen);
	if(base == NULL) return -1;
	int rc = -1;
	uint8_t sig[FWG_SIG_MAX];
	size_t siglen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if(md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv) == 1 &&
			EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)base, blen) == 1 &&
			siglen <= sizeof(sig) &&
			EVP_DigestSign(md, sig, &siglen, (const unsigned char *)base, blen) == 1){
		memcpy(m->sig, sig, siglen);
		m->sig_len = siglen;
		rc = 0;
	}
	EVP_MD_CTX_free(md);
	free(base);
	if(rc != 0) ERR_clear_error();
	return rc;
}

/* ------------------------------------------------------------------ */
/* JSON output                                                         */

static void sb_json_string(struct sbuf *b, const char *s, size_t n)
{
	sb_str(b, "\"");
	for(size_t i = 0; i < n; i++){
		unsigned char c = (unsigned char)s[i];
		if(c == '"' || c == '\\'){
			char esc[2] = { '\\', (char)c };
			sb_add(b, esc, 2);
		}else if(c < 0x20){
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sb_add(b, esc, 6);
		}else{
			sb_add(b, (const char *)&s[i], 1);
		}
	}
	sb_str(b, "\"");
}

static void sb_member_str(struct sbuf *b, const char *name, const char *s, size_t cap)
{
	sb_str(b, ",\"");
	sb_str(b, name);
	sb_str(b, "\":");
	sb_json_string(b, s, strnlen(s, cap));
}

static void sb_member_u64(struct sbuf *b, const char *name, uint64_t v)
{
	sb_str(b, ",\"");
	sb_str(b, name);
	sb_str(b, "\":");
	sb_u64(b, v);
}

static void sb_member_hex(struct sbuf *b, const char *name, const uint8_t *bytes, size_t n)
{
	sb_str(b, ",\"");
	sb_str(b, name);
	sb_str(b, "\":\"");
	sb_hex(b, bytes, n);
	sb_str(b, "\"");
}

static void sb_signature(struct sbuf *b, const struct fwg_manifest *m)
{
	char sig[4 * ((FWG_SIG_MAX + 2) / 3) + 1];
	size_t n = m->sig_len <= FWG_SIG_MAX ? m->sig_len : 0;
	long l = fwg_b64_encode(m->sig, n, sig, sizeof(sig));
	if(l < 0){
		b->failed = true;
		return;
	}
	sb_str(b, ",\"signature\":\"");
	sb_add(b, sig, (size_t)l);
	sb_str(b, "\"");
}

char *fwg_manifest_to_json(const struct fwg_manifest *m)
{
	if(m == NULL || (m->n_chunk_sha > 0 && m->chunk_sha == NULL)) return NULL;
	struct sbuf b = { 0 };
	sb_str(&b, "{\"format\":");
	sb_u64(&b, m->format);
	sb_member_str(&b, "vendor", m->vendor, sizeof(m->vendor));
	sb_member_str(&b, "model", m->model, sizeof(m->model));
	sb_member_str(&b, "version", m->version, sizeof(m->version));
	sb_member_u64(&b, "sequence", m->sequence);
	sb_member_u64(&b, "size", m->size);
	sb_member_hex(&b, "sha256", m->sha256, FWG_SHA256_LEN);
	sb_member_u64(&b, "chunk_size", m->chunk_size);
	sb_member_u64(&b, "issued", m->issued);
	sb_member_u64(&b, "expires", m->expires);
	sb_member_str(&b, "key_id", m->key_id, sizeof(m->key_id));
	if(m->has_chunk_sha){
		sb_str(&b, ",\"chunk_sha256\":[");
		for(uint32_t i = 0; i < m->n_chunk_sha; i++){
			sb_str(&b, i > 0 ? ",\"" : "\"");
			sb_hex(&b, m->chunk_sha[i], FWG_SHA256_LEN);
			sb_str(&b, "\"");
		}
		sb_str(&b, "]");
	}
	sb_signature(&b, m);
	sb_str(&b, "}");
	return sb_finish(&b, NULL);
}

uint64_t fwg_manifest_chunk_len(const struct fwg_manifest *m, uint64_t index)
{
	if(m == NULL || m->chunk_size == 0 || m->size == 0) return 0;
	uint64_t n = m->size / m->chunk_size + (m->size % m->chunk_size != 0);
	if(index >= n) return 0;
	if(index + 1 < n) return m->chunk_size;
	return m->size - index * m->chunk_size;
}
