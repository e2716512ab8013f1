/* Reading the known-answer vectors (FWG_VECTORS_DIR) in the unit tests.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWG_TEST_VECTORS_H
#define FWG_TEST_VECTORS_H
#include <stddef.h>

#ifndef FWG_VECTORS_DIR
#error "FWG_VECTORS_DIR must be defined"
#endif

/* "<FWG_VECTORS_DIR>/<name>" into out. */
void vec_path(const char *name, char *out, size_t cap);
/* A whole vector file, NUL-terminated (malloc'd; the test fails if absent). */
void *vec_slurp(const char *name, size_t *len);
/* A one-line file without its line end. */
char *vec_slurp_line(const char *name, size_t *len);
/* The value of key in expected.txt (the test fails if absent). */
void vec_expected(const char *key, char *out, size_t cap);
#endif
