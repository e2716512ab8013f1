/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vectors.h"

void vec_path(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", FWG_VECTORS_DIR, name);
}

void *vec_slurp(const char *name, size_t *len)
{
	char path[1024];
	vec_path(name, path, sizeof(path));
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for(;;){
		if(n == cap){
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if(r == 0) break;
		n += r;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

char *vec_slurp_line(const char *name, size_t *len)
{
	char *s = vec_slurp(name, len);
	while(*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r')) s[--*len] = 0;
	return s;
}

void vec_expected(const char *key, char *out, size_t cap)
{
	size_t len;
	char *txt = vec_slurp("expected.txt", &len);
	size_t klen = strlen(key);
	char *line = txt;
	bool found = false;
	while(line && *line){
		char *nl = strchr(line, '\n');
		if(nl) *nl = 0;
		if(strncmp(line, key, klen) == 0 && line[klen] == '='){
			snprintf(out, cap, "%s", line + klen + 1);
			found = true;
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(txt);
	ck_assert_msg(found, "no %s in expected.txt", key);
}
