/* A small string-keyed hash map (open addressing, FNV-1a). Keys are copied.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_MAP_H
#define FWGUARD_MAP_H
#include "fwguard/fwguard.h"

struct fwg_map;
struct fwg_map *fwg_map_new(size_t expected);
/* free_value (may be NULL) is called on each value. */
void fwg_map_free(struct fwg_map *m, void (*free_value)(void *));
/* Insert or replace; 0 / -1 (no memory). */
int fwg_map_put(struct fwg_map *m, const char *key, size_t klen, void *value);
void *fwg_map_get(const struct fwg_map *m, const char *key, size_t klen);
size_t fwg_map_count(const struct fwg_map *m);
/* Iterate: *pos starts at 0; returns false at the end. */
bool fwg_map_next(const struct fwg_map *m, size_t *pos, const char **key, size_t *klen, void **value);
#endif
