/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include "fwguard/map.h"

struct slot {
	char *key;
	size_t klen;
	uint64_t hash;
	void *value;
};

struct fwg_map {
	struct slot *slots;
	size_t cap;   /* power of two */
	size_t count;
};

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for(size_t i = 0; i < n; i++){
		h ^= (uint8_t)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct fwg_map *fwg_map_new(size_t expected)
{
	struct fwg_map *m = calloc(1, sizeof(*m));
	if(!m) return NULL;
	m->cap = 16;
	while(m->cap < expected * 2 && m->cap < ((size_t)1 << 30)) m->cap <<= 1;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if(!m->slots){
		free(m);
		return NULL;
	}
	return m;
}

void fwg_map_free(struct fwg_map *m, void (*free_value)(void *))
{
	if(!m) return;
	for(size_t i = 0; i < m->cap; i++){
		if(m->slots[i].key){
			free(m->slots[i].key);
			if(free_value) free_value(m->slots[i].value);
		}
	}
	free(m->slots);
	free(m);
}

static struct slot *find(const struct fwg_map *m, const char *key, size_t klen, uint64_t h)
{
	size_t mask = m->cap - 1;
	for(size_t i = (size_t)h & mask;; i = (i + 1) & mask){
		struct slot *s = &m->slots[i];
		if(!s->key) return s;
		if(s->hash == h && s->klen == klen && !memcmp(s->key, key, klen)) return s;
	}
}

static int grow(struct fwg_map *m)
{
	size_t ncap = m->cap * 2;
	struct slot *ns = calloc(ncap, sizeof(*ns));
	if(!ns) return -1;
	struct slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = ns;
	m->cap = ncap;
	for(size_t i = 0; i < ocap; i++){
		if(old[i].key) *find(m, old[i].key, old[i].klen, old[i].hash) = old[i];
	}
	free(old);
	return 0;
}

int fwg_map_put(struct fwg_map *m, const char *key, size_t klen, void *value)
{
	if((m->count + 1) * 2 > m->cap && grow(m)) return -1;
	uint64_t h = fnv1a(key, klen);
	struct slot *s = find(m, key, klen, h);
	if(s->key){
		s->value = value;
		return 0;
	}
	s->key = malloc(klen + 1);
	if(!s->key) return -1;
	memcpy(s->key, key, klen);
	s->key[klen] = '\0';
	s->klen = klen;
	s->hash = h;
	s->value = value;
	m->count++;
	return 0;
}

void *fwg_map_get(const struct fwg_map *m, const char *key, size_t klen)
{
	if(!m) return NULL;
	struct slot *s = find(m, key, klen, fnv1a(key, klen));
	return s->key ? s->value : NULL;
}

size_t fwg_map_count(const struct fwg_map *m)
{
	return m ? m->count : 0;
}

bool fwg_map_next(const struct fwg_map *m, size_t *pos, const char **key, size_t *klen, void **value)
{
	for(; *pos < m->cap; (*pos)++){
		struct slot *s = &m->slots[*pos];
		if(s->key){
			if(key) *key = s->key;
			if(klen) *klen = s->klen;
			if(value) *value = s->value;
			(*pos)++;
			return true;
		}
	}
	return false;
}
