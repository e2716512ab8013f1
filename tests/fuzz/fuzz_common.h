/* Shared helpers of the libFuzzer targets. Not part of the library.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_FUZZ_COMMON_H
#define FWGUARD_FUZZ_COMMON_H
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FWG_VECTORS_DIR
#define FWG_VECTORS_DIR "tests/vectors"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the harness failed: report and abort (libFuzzer keeps
 * the input as a crash file). */
#define FUZZ_CHECK(cond) do { \
	if(!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while(0)

static inline const char *fuzz_vectors_dir(void)
{
	const char *d = getenv("FWG_VECTORS_DIR");
	return d && *d ? d : FWG_VECTORS_DIR;
}

static inline void fuzz_vector_path(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", fuzz_vectors_dir(), name);
	if(n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "fuzz: vector path too long\n");
		abort();
	}
}

/* Whole file, NUL-terminated; aborts on failure (setup error). */
static inline char *fuzz_read_vector(const char *name, size_t *len)
{
	char path[4096];
	fuzz_vector_path(path, sizeof(path), name);
	FILE *fp = fopen(path, "rb");
	if(!fp) {
		fprintf(stderr, "fuzz: cannot open %s: %s (set FWG_VECTORS_DIR)\n", path, strerror(errno));
		abort();
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for(;;) {
		if(!buf) abort();
		n += fread(buf + n, 1, cap - n - 1, fp);
		if(n < cap - 1) break;
		cap *= 2;
		buf = realloc(buf, cap);
	}
	fclose(fp);
	buf[n] = '\0';
	if(len) *len = n;
	return buf;
}

/* Value of "name=" in expected.txt, malloc'd; aborts when absent. */
static inline char *fuzz_expected(const char *name)
{
	char *txt = fuzz_read_vector("expected.txt", NULL);
	size_t nl = strlen(name);
	char *val = NULL;
	for(char *line = txt; line && *line; ) {
		char *next = strchr(line, '\n');
		if(next) *next++ = '\0';
		if(strncmp(line, name, nl) == 0 && line[nl] == '=') {
			val = strdup(line + nl + 1);
			break;
		}
		line = next;
	}
	free(txt);
	if(!val) {
		fprintf(stderr, "fuzz: %s missing from expected.txt\n", name);
		abort();
	}
	return val;
}

static inline void fuzz_hex32(const char *hex, uint8_t out[32])
{
	if(strlen(hex) != 64) abort();
	for(int i = 0; i < 32; i++) {
		unsigned v;
		if(sscanf(hex + 2 * i, "%2x", &v) != 1) abort();
		out[i] = (uint8_t)v;
	}
}

/* A fixed scratch file per process: <tmp>/fwguard-fuzz-<what>-<pid>. */
static char fuzz__tmp_path[4096];
static inline void fuzz__tmp_cleanup(void)
{
	if(fuzz__tmp_path[0]) unlink(fuzz__tmp_path);
}
static inline const char *fuzz_tmp_path(const char *what)
{
	if(!fuzz__tmp_path[0]) {
		const char *dir = getenv("FWG_FUZZ_TMPDIR");
		if(!dir || !*dir) dir = "/tmp";
		snprintf(fuzz__tmp_path, sizeof(fuzz__tmp_path), "%s/fwguard-fuzz-%s-%ld",
				dir, what, (long)getpid());
		atexit(fuzz__tmp_cleanup);
	}
	return fuzz__tmp_path;
}

/* Replace the scratch file's contents by data; aborts on I/O failure. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0) { perror(path); abort(); }
	size_t off = 0;
	while(off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if(w < 0 && errno == EINTR) continue;
		if(w <= 0) { perror(path); abort(); }
		off += (size_t)w;
	}
	close(fd);
}

/* An exact-size heap copy without a terminating NUL, so that a read past
 * the given length is an ASan report. size 0 gives a 1-byte block. */
static inline char *fuzz_dup_exact(const uint8_t *p, size_t n)
{
	char *c = malloc(n ? n : 1);
	if(!c) abort();
	if(n) memcpy(c, p, n);
	return c;
}

/* NUL-terminated heap copy (stops at an embedded NUL for C-string APIs). */
static inline char *fuzz_dup_cstr(const uint8_t *p, size_t n)
{
	char *c = malloc(n + 1);
	if(!c) abort();
	if(n) memcpy(c, p, n);
	c[n] = '\0';
	return c;
}
#endif
