/* Durable anti-rollback state. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "fwguard/state.h"
#include "fwguard/audit.h"
#include "fwguard/codec.h"
#include "fwguard/map.h"
#include "fwguard/topic.h"
#include "json_lex.h"

#define STATE_MAX_BYTES (256u * 1024u * 1024u)

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if(!err || !errlen) return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void model_free(void *p)
{
	struct fwg_model_state *ms = p;
	if(!ms) return;
	free(ms->raw);
	fwg_manifest_free(&ms->m);
	free(ms);
}

void fwg_state_free(struct fwg_state *s)
{
	if(!s) return;
	fwg_map_free(s->models, model_free);
	fwg_map_free(s->controls, free);
	fwg_map_free(s->revoked, NULL);
	free(s->path);
	free(s);
}

static int key_of(char *buf, size_t cap, const char *v, size_t vl, const char *m, size_t ml)
{
	if(vl + ml + 2 > cap) return -1;
	memcpy(buf, v, vl);
	buf[vl] = '/';
	memcpy(buf + vl + 1, m, ml);
	buf[vl + 1 + ml] = '\0';
	return (int)(vl + 1 + ml);
}

struct fwg_model_state *fwg_state_get(const struct fwg_state *s, const char *vendor, size_t vlen,
		const char *model, size_t mlen)
{
	char key[2 * FWG_ID_MAX + 2];
	int n = key_of(key, sizeof(key), vendor, vlen, model, mlen);
	if(n < 0) return NULL;
	return fwg_map_get(s->models, key, (size_t)n);
}

static int load_model(const cJSON *o, struct fwg_state *s, char *err, size_t errlen)
{
	static const char *const allowed[] = { "vendor", "model", "sequence", "manifest", "seen", "complete", NULL };
	unsigned seen_members = 0;
	for(const cJSON *c = o->child; c; c = c->next){
		int k = -1;
		for(int i = 0; allowed[i]; i++) if(!strcmp(c->string, allowed[i])) k = i;
		if(k < 0 || (seen_members & (1u << k))){
			seterr(err, errlen, "unexpected member \"%s\"", c->string);
			return -1;
		}
		seen_members |= 1u << k;
	}
	const char *vendor = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "vendor"));
	const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "model"));
	const char *raw = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "manifest"));
	const char *seen = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "seen"));
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence");
	const cJSON *complete = cJSON_GetObjectItemCaseSensitive(o, "complete");
	if(!vendor || !model || !raw || !seen || !cJSON_IsNumber(seq) || !cJSON_IsBool(complete)
			|| !fwg_id_valid(vendor, strlen(vendor)) || !fwg_id_valid(model, strlen(model))){
		seterr(err, errlen, "a model entry is incomplete or malformed");
		return -1;
	}
	struct fwg_model_state *ms = calloc(1, sizeof(*ms));
	if(!ms){
		seterr(err, errlen, "out of memory");
		return -1;
	}
	memcpy(ms->vendor, vendor, strlen(vendor) + 1);
	memcpy(ms->model, model, strlen(model) + 1);
	ms->raw_len = strlen(raw);
	ms->raw = malloc(ms->raw_len + 1);
	if(!ms->raw){
		model_free(ms);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	memcpy(ms->raw, raw, ms->raw_len + 1);
	enum fwg_reason r = fwg_manifest_parse(ms->raw, ms->raw_len, vendor, model, &ms->m);
	if(r != FWG_R_OK){
		free(ms->raw);
		free(ms);
		seterr(err, errlen, "stored manifest of %s/%s does not parse (%s)", vendor, model, fwg_reason_str(r));
		return -1;
	}
	ms->sequence = ms->m.sequence;
	if(seq->valuedouble != (double)ms->sequence
			|| fwg_hex_decode(seen, strlen(seen), ms->seen, sizeof(ms->seen))){
		seterr(err, errlen, "entry %s/%s is inconsistent", vendor, model);
		model_free(ms);
		return -1;
	}
	for(uint32_t i = 0; i < FWG_MAX_CHUNKS; i++){
		if(ms->seen[i / 8] & (1u << (i % 8))){
			if(i >= ms->m.nchunks){
				seterr(err, errlen, "entry %s/%s marks chunks beyond the image", vendor, model);
				model_free(ms);
				return -1;
			}
			ms->seen_count++;
		}
	}
	ms->complete = cJSON_IsTrue(complete);
	char key[2 * FWG_ID_MAX + 2];
	int kl = key_of(key, sizeof(key), vendor, strlen(vendor), model, strlen(model));
	if(fwg_map_get(s->models, key, (size_t)kl)){
		seterr(err, errlen, "entry %s/%s appears twice", vendor, model);
		model_free(ms);
		return -1;
	}
	if(fwg_map_put(s->models, key, (size_t)kl, ms)){
		model_free(ms);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int load_control(const cJSON *o, struct fwg_state *s, char *err, size_t errlen)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "vendor"));
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "model"));
	const cJSON *pc = cJSON_GetObjectItemCaseSensitive(o, "percent");
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(o, "paused");
	const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "floor");
	if(!cJSON_IsObject(o) || cJSON_GetArraySize(o) != 5 || !v || !m || !fwg_id_valid(v, strlen(v))
			|| !fwg_id_valid(m, strlen(m)) || !cJSON_IsNumber(pc) || pc->valuedouble < 0
			|| pc->valuedouble > 100 || !cJSON_IsBool(pa) || !cJSON_IsNumber(fl)
			|| fl->valuedouble < 0 || fl->valuedouble > (double)FWG_INT_MAX){
		seterr(err, errlen, "a control entry is malformed");
		return -1;
	}
	if(fwg_state_control(s, v, strlen(v), m, strlen(m))){
		seterr(err, errlen, "control entry %s/%s appears twice", v, m);
		return -1;
	}
	struct fwg_model_control *c = fwg_state_control_add(s, v, m);
	if(!c){
		seterr(err, errlen, "out of memory");
		return -1;
	}
	c->percent = (unsigned)pc->valuedouble;
	c->paused = cJSON_IsTrue(pa);
	c->floor = (uint64_t)fl->valuedouble;
	return 0;
}

static int parse_state(const char *text, size_t len, struct fwg_state *s, char *err, size_t errlen)
{
	if(fwg_json_prescan((const uint8_t *)text, len, true) != FWG_R_OK){
		seterr(err, errlen, "not valid JSON");
		return -1;
	}
	cJSON *root = cJSON_ParseWithOpts(text, NULL, 1);
	int rc = -1;
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
	const cJSON *controls = cJSON_GetObjectItemCaseSensitive(root, "controls");
	const cJSON *revoked = cJSON_GetObjectItemCaseSensitive(root, "revoked");
	int expect = 2 + (controls != NULL) + (revoked != NULL);
	if(!cJSON_IsObject(root) || cJSON_GetArraySize(root) != expect || !cJSON_IsNumber(fmt)
			|| fmt->valuedouble != 1 || !cJSON_IsArray(models)
			|| (controls && !cJSON_IsArray(controls)) || (revoked && !cJSON_IsArray(revoked))){
		seterr(err, errlen, "not a fwguard state file (format 1)");
		goto out;
	}
	for(const cJSON *c = models->child; c; c = c->next){
		if(!cJSON_IsObject(c) || load_model(c, s, err, errlen)){
			if(!cJSON_IsObject(c)) seterr(err, errlen, "a model entry is not an object");
			goto out;
		}
	}
	for(const cJSON *c = controls ? controls->child : NULL; c; c = c->next){
		if(load_control(c, s, err, errlen)) goto out;
	}
	for(const cJSON *c = revoked ? revoked->child : NULL; c; c = c->next){
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "vendor"));
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key_id"));
		if(!cJSON_IsObject(c) || cJSON_GetArraySize(c) != 2 || !v || !k || !fwg_id_valid(v, strlen(v))
				|| strlen(k) != FWG_KEY_ID_LEN || !fwg_is_lower_hex(k, FWG_KEY_ID_LEN)){
			seterr(err, errlen, "a revoked key entry is malformed");
			goto out;
		}
		if(fwg_state_revoke(s, v, k)){
			seterr(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int fwg_state_load(const char *path, struct fwg_state **out, char *err, size_t errlen)
{
	struct fwg_state *s = calloc(1, sizeof(*s));
	char inner[256] = "";
	if(!s || !(s->path = strdup(path)) || !(s->models = fwg_map_new(16))
			|| !(s->controls = fwg_map_new(4)) || !(s->revoked = fwg_map_new(4))){
		fwg_state_free(s);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		if(errno == ENOENT){
			*out = s;
			return 0;
		}
		seterr(err, errlen, "cannot open state file \"%s\": %s", path, strerror(errno));
		fwg_state_free(s);
		return -1;
	}
	struct stat st;
	char *buf = NULL;
	int rc = -1;
	if(fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > STATE_MAX_BYTES){
		seterr(err, errlen, "state file \"%s\" is not a regular file of sane size", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if(!buf){
		seterr(err, errlen, "out of memory");
		goto out;
	}
	size_t got = 0;
	while(got < (size_t)st.st_size){
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if(n < 0 && errno == EINTR) continue;
		if(n <= 0){
			seterr(err, errlen, "cannot read state file \"%s\"", path);
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	if(parse_state(buf, got, s, inner, sizeof(inner))){
		seterr(err, errlen, "state file \"%s\" is corrupt: %s (refusing to start with a reset state)", path, inner);
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	fwg_state_free(s);
	return rc;
}

static cJSON *model_json(const struct fwg_model_state *ms)
{
	char seen[sizeof(ms->seen) * 2 + 1];
	cJSON *o = cJSON_CreateObject();
	char *raw = malloc(ms->raw_len + 1);
	if(!o || !raw){
		free(raw);
		cJSON_Delete(o);
		return NULL;
	}
	memcpy(raw, ms->raw, ms->raw_len);
	raw[ms->raw_len] = '\0';
	fwg_hex_encode(ms->seen, sizeof(ms->seen), seen);
	bool ok = cJSON_AddStringToObject(o, "vendor", ms->vendor)
		&& cJSON_AddStringToObject(o, "model", ms->model)
		&& fwg_json_add_u64(o, "sequence", ms->sequence)
		&& cJSON_AddStringToObject(o, "manifest", raw)
		&& cJSON_AddStringToObject(o, "seen", seen)
		&& cJSON_AddBoolToObject(o, "complete", ms->complete);
	free(raw);
	if(!ok){
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int add_controls(const struct fwg_state *s, cJSON *root)
{
	size_t pos = 0;
	const char *key;
	size_t klen;
	void *val;
	if(fwg_map_count(s->controls)){
		cJSON *arr = cJSON_AddArrayToObject(root, "controls");
		if(!arr) return -1;
		while(fwg_map_next(s->controls, &pos, NULL, NULL, &val)){
			const struct fwg_model_control *c = val;
			cJSON *o = cJSON_CreateObject();
			if(!o) return -1;
			cJSON_AddItemToArray(arr, o);
			if(!cJSON_AddStringToObject(o, "vendor", c->vendor) || !cJSON_AddStringToObject(o, "model", c->model)
					|| !fwg_json_add_u64(o, "percent", c->percent) || !cJSON_AddBoolToObject(o, "paused", c->paused)
					|| !fwg_json_add_u64(o, "floor", c->floor)) return -1;
		}
	}
	if(fwg_map_count(s->revoked)){
		cJSON *arr = cJSON_AddArrayToObject(root, "revoked");
		if(!arr) return -1;
		pos = 0;
		while(fwg_map_next(s->revoked, &pos, &key, &klen, NULL)){
			const char *slash = memchr(key, '/', klen);
			char vendor[FWG_ID_MAX + 1];
			if(!slash || (size_t)(slash - key) > FWG_ID_MAX) return -1;
			memcpy(vendor, key, (size_t)(slash - key));
			vendor[slash - key] = '\0';
			cJSON *o = cJSON_CreateObject();
			if(!o) return -1;
			cJSON_AddItemToArray(arr, o);
			if(!cJSON_AddStringToObject(o, "vendor", vendor) || !cJSON_AddStringToObject(o, "key_id", slash + 1)) return -1;
		}
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while(len){
		ssize_t n = write(fd, buf, len);
		if(n < 0 && errno == EINTR) continue;
		if(n <= 0){
			if(n == 0) errno = ENOSPC;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if(!copy) return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if(fd < 0) return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int fwg_state_save(const struct fwg_state *s, const struct fwg_model_state *next)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *models = cJSON_CreateArray();
	char *text = NULL, *tmp = NULL;
	int rc = -1, fd = -1, saved_errno = ENOMEM;
	if(!root || !models || !cJSON_AddNumberToObject(root, "format", 1)){
		cJSON_Delete(models);
		goto out;
	}
	cJSON_AddItemToObject(root, "models", models);
	size_t pos = 0;
	void *val;
	bool next_done = false;
	while(fwg_map_next(s->models, &pos, NULL, NULL, &val)){
		const struct fwg_model_state *ms = val;
		if(next && !strcmp(ms->vendor, next->vendor) && !strcmp(ms->model, next->model)){
			ms = next;
			next_done = true;
		}
		cJSON *o = model_json(ms);
		if(!o) goto out;
		cJSON_AddItemToArray(models, o);
	}
	if(next && !next_done){
		cJSON *o = model_json(next);
		if(!o) goto out;
		cJSON_AddItemToArray(models, o);
	}
	if(add_controls(s, root)) goto out;
	text = cJSON_PrintUnformatted(root);
	size_t plen = strlen(s->path);
	tmp = malloc(plen + 5);
	if(!text || !tmp) goto out;
	memcpy(tmp, s->path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0 || write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) || fsync(fd)){
		saved_errno = errno;
		goto out;
	}
	if(close(fd)){
		fd = -1;
		saved_errno = errno;
		goto out;
	}
	fd = -1;
	if(rename(tmp, s->path) || fsync_dir_of(s->path)){
		saved_errno = errno;
		goto out;
	}
	rc = 0;
out:
	if(fd >= 0) close(fd);
	if(rc && tmp) unlink(tmp);
	free(tmp);
	free(text);
	cJSON_Delete(root);
	if(rc) errno = saved_errno;
	return rc;
}

int fwg_state_commit(struct fwg_state *s, struct fwg_model_state *next)
{
	char key[2 * FWG_ID_MAX + 2];
	int kl = key_of(key, sizeof(key), next->vendor, strlen(next->vendor), next->model, strlen(next->model));
	if(kl < 0) return -1;
	struct fwg_model_state *ms = fwg_map_get(s->models, key, (size_t)kl);
	if(!ms){
		ms = calloc(1, sizeof(*ms));
		if(!ms) return -1;
		if(fwg_map_put(s->models, key, (size_t)kl, ms)){
			free(ms);
			return -1;
		}
	}else{
		free(ms->raw);
		fwg_manifest_free(&ms->m);
	}
	*ms = *next;
	memset(next, 0, sizeof(*next));
	return 0;
}

struct fwg_model_control *fwg_state_control(const struct fwg_state *s, const char *vendor, size_t vlen,
		const char *model, size_t mlen)
{
	char key[2 * FWG_ID_MAX + 2];
	if(!fwg_map_count(s->controls)) return NULL;
	int n = key_of(key, sizeof(key), vendor, vlen, model, mlen);
	if(n < 0) return NULL;
	return fwg_map_get(s->controls, key, (size_t)n);
}

struct fwg_model_control *fwg_state_control_add(struct fwg_state *s, const char *vendor, const char *model)
{
	struct fwg_model_control *c = fwg_state_control(s, vendor, strlen(vendor), model, strlen(model));
	if(c) return c;
	char key[2 * FWG_ID_MAX + 2];
	int n = key_of(key, sizeof(key), vendor, strlen(vendor), model, strlen(model));
	if(n < 0 || strlen(vendor) > FWG_ID_MAX || strlen(model) > FWG_ID_MAX) return NULL;
	c = calloc(1, sizeof(*c));
	if(!c) return NULL;
	memcpy(c->vendor, vendor, strlen(vendor) + 1);
	memcpy(c->model, model, strlen(model) + 1);
	c->percent = 100;
	if(fwg_map_put(s->controls, key, (size_t)n, c)){
		free(c);
		return NULL;
	}
	return c;
}

static int revoked_key(char *buf, size_t cap, const char *vendor, const char *key_id)
{
	int n = snprintf(buf, cap, "%s/%s", vendor, key_id);
	return n > 0 && (size_t)n < cap ? n : -1;
}

bool fwg_state_key_revoked(const struct fwg_state *s, const char *vendor, const char *key_id)
{
	char key[FWG_ID_MAX + FWG_KEY_ID_LEN + 2];
	int n;
	if(!fwg_map_count(s->revoked) || (n = revoked_key(key, sizeof(key), vendor, key_id)) < 0) return false;
	return fwg_map_get(s->revoked, key, (size_t)n) != NULL;
}

int fwg_state_revoke(struct fwg_state *s, const char *vendor, const char *key_id)
{
	char key[FWG_ID_MAX + FWG_KEY_ID_LEN + 2];
	int n = revoked_key(key, sizeof(key), vendor, key_id);
	if(n < 0) return -1;
	return fwg_map_put(s->revoked, key, (size_t)n, s);
}

void fwg_state_unrevoke(struct fwg_state *s, const char *vendor, const char *key_id)
{
	/* The map has no delete: rebuild it without the key (rare, operator path). */
	char key[FWG_ID_MAX + FWG_KEY_ID_LEN + 2];
	int n = revoked_key(key, sizeof(key), vendor, key_id);
	struct fwg_map *m = fwg_map_new(fwg_map_count(s->revoked));
	size_t pos = 0;
	const char *k;
	size_t kl;
	if(n < 0 || !m) {
		fwg_map_free(m, NULL);
		return;
	}
	while(fwg_map_next(s->revoked, &pos, &k, &kl, NULL)){
		if(kl == (size_t)n && !memcmp(k, key, kl)) continue;
		if(fwg_map_put(m, k, kl, s)){
			fwg_map_free(m, NULL);
			return;
		}
	}
	fwg_map_free(s->revoked, NULL);
	s->revoked = m;
}
