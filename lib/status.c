/* Device status (PROTOCOL.md §7). SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "fwguard/status.h"
#include "fwguard/codec.h"
#include "json_lex.h"

static const char *const state_names[FWG_ST__COUNT] = {
	[FWG_ST_IDLE] = "idle",
	[FWG_ST_DOWNLOADING] = "downloading",
	[FWG_ST_VERIFYING] = "verifying",
	[FWG_ST_INSTALLED] = "installed",
	[FWG_ST_FAILED] = "failed",
};

const char *fwg_status_state_str(enum fwg_dev_state s)
{
	if((unsigned)s >= FWG_ST__COUNT) return NULL;
	return state_names[s];
}

int fwg_status_state_parse(const char *s)
{
	if(!s) return -1;
	for(int i = 0; i < FWG_ST__COUNT; i++) {
		if(strcmp(s, state_names[i]) == 0) return i;
	}
	return -1;
}

/* Copy at most FWG_STATUS_TEXT_MAX bytes of the (valid UTF-8) string s,
 * without cutting a multi-byte character. */
static void copy_text(char dst[FWG_STATUS_TEXT_MAX + 1], const char *s)
{
	size_t n = strlen(s);
	if(n > FWG_STATUS_TEXT_MAX) {
		n = FWG_STATUS_TEXT_MAX;
		/* back off continuation bytes: s[n] must start a character */
		while(n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* An integral double in [0, max]. */
static bool json_uint(const cJSON *it, uint64_t max, uint64_t *out)
{
	if(!cJSON_IsNumber(it)) return false;
	double d = it->valuedouble;
	if(!isfinite(d) || d < 0 || d != floor(d) || d > (double)max) return false;
	uint64_t v = (uint64_t)d;
	if(v > max) return false;
	*out = v;
	return true;
}

enum fwg_reason fwg_status_parse(const uint8_t *buf, size_t len, struct fwg_status *st)
{
	if(!st) return FWG_R_INTERNAL;
	memset(st, 0, sizeof(*st));
	if(len > FWG_STATUS_MAX) return FWG_R_TOO_LARGE;
	if(!buf && len > 0) return FWG_R_INTERNAL;
	if(len == 0) return FWG_R_JSON_INVALID;
	if(!fwg_utf8_valid(buf, len)) return FWG_R_NOT_UTF8;
	enum fwg_reason r = fwg_json_prescan(buf, len, false);
	if(r != FWG_R_OK) return (r == FWG_R_NOT_UTF8 || r == FWG_R_TOO_LARGE) ? r : FWG_R_JSON_INVALID;

	char text[FWG_STATUS_MAX + 1];
	memcpy(text, buf, len);
	text[len] = '\0';
	const char *end = NULL;
	/* one value then only whitespace: trailing garbage is rejected */
	cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
	if(!root) return FWG_R_JSON_INVALID;
	if(!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return FWG_R_JSON_NOT_OBJECT;
	}

	bool has_state = false;
	r = FWG_R_OK;
	for(const cJSON *it = root->child; it && r == FWG_R_OK; it = it->next) {
		const char *k = it->string;
		if(!k) { r = FWG_R_JSON_INVALID; break; }
		if(strcmp(k, "state") == 0) {
			int s;
			if(has_state || !cJSON_IsString(it) || (s = fwg_status_state_parse(it->valuestring)) < 0) {
				r = FWG_R_STATUS_INVALID;
			} else {
				st->state = (enum fwg_dev_state)s;
				has_state = true;
			}
		} else if(strcmp(k, "sequence") == 0) {
			if(st->has_sequence || !json_uint(it, FWG_INT_MAX, &st->sequence)) r = FWG_R_STATUS_INVALID;
			else st->has_sequence = true;
		} else if(strcmp(k, "progress") == 0) {
			uint64_t p;
			if(st->has_progress || !json_uint(it, 100, &p)) r = FWG_R_STATUS_INVALID;
			else { st->progress = (unsigned)p; st->has_progress = true; }
		} else if(strcmp(k, "version") == 0) {
			if(st->has_version || !cJSON_IsString(it)) r = FWG_R_STATUS_INVALID;
			else { copy_text(st->version, it->valuestring); st->has_version = true; }
		} else if(strcmp(k, "error") == 0) {
			if(st->has_error || !cJSON_IsString(it)) r = FWG_R_STATUS_INVALID;
			else { copy_text(st->error, it->valuestring); st->has_error = true; }
		}
		/* unknown members are ignored (§7) */
	}
	cJSON_Delete(root);
	if(r == FWG_R_OK && !has_state) r = FWG_R_STATUS_INVALID;
	if(r != FWG_R_OK) memset(st, 0, sizeof(*st));
	return r;
}

char *fwg_status_build(const struct fwg_status *st)
{
	if(!st) return NULL;
	const char *state = fwg_status_state_str(st->state);
	if(!state) return NULL;
	if((st->has_sequence && st->sequence > FWG_INT_MAX) || (st->has_progress && st->progress > 100))
		return NULL;
	cJSON *o = cJSON_CreateObject();
	if(!o) return NULL;
	char num[24];
	bool ok = cJSON_AddStringToObject(o, "state", state) != NULL;
	if(ok && st->has_sequence) {
		/* raw decimal: cJSON would print large doubles with an exponent */
		snprintf(num, sizeof(num), "%" PRIu64, st->sequence);
		ok = cJSON_AddRawToObject(o, "sequence", num) != NULL;
	}
	if(ok && st->has_version) ok = cJSON_AddStringToObject(o, "version", st->version) != NULL;
	if(ok && st->has_progress) {
		snprintf(num, sizeof(num), "%u", st->progress);
		ok = cJSON_AddRawToObject(o, "progress", num) != NULL;
	}
	if(ok && st->has_error) ok = cJSON_AddStringToObject(o, "error", st->error) != NULL;
	char *out = NULL;
	if(ok) {
		char *s = cJSON_PrintUnformatted(o);
		if(s) {
			/* hand out plain malloc'd memory whatever cJSON's hooks are */
			size_t n = strlen(s);
			out = malloc(n + 1);
			if(out) memcpy(out, s, n + 1);
			cJSON_free(s);
		}
	}
	cJSON_Delete(o);
	return out;
}
