/* Hash-chained JSON Lines audit log (PROTOCOL.md §8).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Each line is a compact JSON object whose last member "prev" is the
 * lowercase hex SHA-256 of the previous line's bytes (without its LF); the
 * first record of an empty file has 64 '0's. Lines are appended with one
 * write(2) on an O_APPEND descriptor; there is no fsync (the audit log is a
 * record, the state file is what must survive a crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "fwguard/audit.h"
#include "fwguard/codec.h"

#define AUDIT_BLOCK 65536

struct fwg_audit {
	int fd;
	char prev[FWG_SHA256_HEX_LEN + 1];
};

static const char zero_prev[FWG_SHA256_HEX_LEN + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static void set_err(char *err, size_t errlen, const char *what, const char *path, int e)
{
	if(err && errlen) snprintf(err, errlen, "audit log %s: %s: %s", path, what, strerror(e));
}

static ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	while(got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if(r < 0) {
			if(errno == EINTR) continue;
			return -1;
		}
		if(r == 0) break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Offset just after the last LF in [0, end), or 0 if there is none.
 * Reads backwards in blocks. -1 on I/O error. */
static off_t after_last_lf(int fd, off_t end, unsigned char *blk)
{
	while(end > 0) {
		size_t n = end > AUDIT_BLOCK ? AUDIT_BLOCK : (size_t)end;
		off_t start = end - (off_t)n;
		ssize_t r = pread_full(fd, blk, n, start);
		if(r != (ssize_t)n) {
			if(r >= 0) errno = EIO;
			return -1;
		}
		for(size_t i = n; i > 0; i--) {
			if(blk[i - 1] == '\n') return start + (off_t)i;
		}
		end = start;
	}
	return 0;
}

/* Hex SHA-256 of the bytes [from, to) of fd, streamed in blocks. */
static int hash_range(int fd, off_t from, off_t to, unsigned char *blk, char hex[FWG_SHA256_HEX_LEN + 1])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if(!ctx) { errno = ENOMEM; return -1; }
	int rc = -1;
	if(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { errno = EIO; goto out; }
	while(from < to) {
		size_t n = (to - from) > AUDIT_BLOCK ? AUDIT_BLOCK : (size_t)(to - from);
		ssize_t r = pread_full(fd, blk, n, from);
		if(r != (ssize_t)n) {
			if(r >= 0) errno = EIO;
			goto out;
		}
		if(EVP_DigestUpdate(ctx, blk, n) != 1) { errno = EIO; goto out; }
		from += (off_t)n;
	}
	uint8_t md[FWG_SHA256_LEN];
	unsigned mdlen = 0;
	if(EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != FWG_SHA256_LEN) { errno = EIO; goto out; }
	fwg_hex_encode(md, FWG_SHA256_LEN, hex);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int fwg_audit_open(const char *path, struct fwg_audit **out, bool *repaired,
		size_t *cut_bytes, char *err, size_t errlen)
{
	if(repaired) *repaired = false;
	if(cut_bytes) *cut_bytes = 0;
	if(out) *out = NULL;
	if(!path || !out) {
		if(err && errlen) snprintf(err, errlen, "audit log: no path");
		errno = EINVAL;
		return -1;
	}
	int wfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if(wfd < 0) {
		set_err(err, errlen, "cannot open for append", path, errno);
		return -1;
	}
	int rfd = open(path, O_RDONLY | O_CLOEXEC);
	if(rfd < 0) {
		int e = errno;
		set_err(err, errlen, "cannot open for reading", path, e);
		close(wfd);
		errno = e;
		return -1;
	}
	unsigned char *blk = malloc(AUDIT_BLOCK);
	struct fwg_audit *a = calloc(1, sizeof(*a));
	const char *what = "out of memory";
	int e = ENOMEM;
	if(!blk || !a) goto fail;

	struct stat sb;
	if(fstat(wfd, &sb) != 0) { e = errno; what = "cannot stat"; goto fail; }
	if(!S_ISREG(sb.st_mode)) { e = EINVAL; what = "not a regular file"; goto fail; }
	off_t size = sb.st_size;

	if(size > 0) {
		unsigned char last;
		if(pread_full(rfd, &last, 1, size - 1) != 1) { e = errno ? errno : EIO; what = "cannot read"; goto fail; }
		if(last != '\n') {
			/* A torn last line (a crash in the middle of a write): cut it. */
			off_t keep = after_last_lf(rfd, size, blk);
			if(keep < 0) { e = errno; what = "cannot read"; goto fail; }
			if(ftruncate(wfd, keep) != 0) { e = errno; what = "cannot cut the torn last line"; goto fail; }
			if(repaired) *repaired = true;
			if(cut_bytes) *cut_bytes = (size_t)(size - keep);
			size = keep;
		}
	}
	if(size == 0) {
		memcpy(a->prev, zero_prev, sizeof(a->prev));
	} else {
		/* The last line is [start, size - 1): its LF is at size - 1. */
		off_t start = after_last_lf(rfd, size - 1, blk);
		if(start < 0) { e = errno; what = "cannot read"; goto fail; }
		if(hash_range(rfd, start, size - 1, blk, a->prev) != 0) { e = errno; what = "cannot hash the last record"; goto fail; }
	}
	close(rfd);
	free(blk);
	a->fd = wfd;
	*out = a;
	return 0;

fail:
	set_err(err, errlen, what, path, e);
	free(blk);
	free(a);
	close(rfd);
	close(wfd);
	errno = e;
	return -1;
}

void fwg_audit_close(struct fwg_audit *a)
{
	if(!a) return;
	if(a->fd >= 0) close(a->fd);
	free(a);
}

void fwg_audit_timestamp(char out[32])
{
	struct timespec ts;
	struct tm tm;
	if(clock_gettime(CLOCK_REALTIME, &ts) != 0) { ts.tv_sec = time(NULL); ts.tv_nsec = 0; }
	if(!gmtime_r(&ts.tv_sec, &tm)) memset(&tm, 0, sizeof(tm));
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if(n == 0 || n > 26) n = 0;          /* room for ".mmmZ" and the NUL */
	unsigned ms = (unsigned)((unsigned long)ts.tv_nsec / 1000000UL) % 1000U;
	out[n] = '.';
	out[n + 1] = (char)('0' + ms / 100);
	out[n + 2] = (char)('0' + ms / 10 % 10);
	out[n + 3] = (char)('0' + ms % 10);
	out[n + 4] = 'Z';
	out[n + 5] = '\0';
}

cJSON *fwg_audit_record(const char *event, const char *vendor, const char *model,
		const char *client, const char *reason)
{
	if(!event) return NULL;
	cJSON *o = cJSON_CreateObject();
	if(!o) return NULL;
	char ts[32];
	fwg_audit_timestamp(ts);
	if(!cJSON_AddStringToObject(o, "ts", ts) || !cJSON_AddStringToObject(o, "event", event)
			|| (vendor && !cJSON_AddStringToObject(o, "vendor", vendor))
			|| (model && !cJSON_AddStringToObject(o, "model", model))
			|| (client && !cJSON_AddStringToObject(o, "client", client))
			|| (reason && !cJSON_AddStringToObject(o, "reason", reason))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int fwg_audit_append(struct fwg_audit *a, cJSON *rec, char **line_out, size_t *line_len)
{
	if(line_out) *line_out = NULL;
	if(line_len) *line_len = 0;
	if(!a || !rec || !cJSON_IsObject(rec)) {
		cJSON_Delete(rec);
		errno = EINVAL;
		return -1;
	}
	/* "prev" is ours, once, and last */
	cJSON_DeleteItemFromObjectCaseSensitive(rec, "prev");
	if(!cJSON_AddStringToObject(rec, "prev", a->prev)) {
		cJSON_Delete(rec);
		errno = ENOMEM;
		return -1;
	}
	char *s = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	if(!s) { errno = ENOMEM; return -1; }
	size_t n = strlen(s);
	char *line = malloc(n + 2);
	if(!line) { cJSON_free(s); errno = ENOMEM; return -1; }
	memcpy(line, s, n);
	cJSON_free(s);
	line[n] = '\n';
	line[n + 1] = '\0';

	/* Where the file ends now, to undo a short write (we are its only writer). */
	off_t before = lseek(a->fd, 0, SEEK_END);
	ssize_t w;
	do {
		w = write(a->fd, line, n + 1);
	} while(w < 0 && errno == EINTR);
	if(w != (ssize_t)(n + 1)) {
		int e = (w < 0) ? errno : EIO;
		if(w > 0 && before >= 0) {
			/* leave no torn line behind: the chain would break at it */
			if(ftruncate(a->fd, before) != 0) { /* reopening repairs it */ }
		}
		free(line);
		errno = e;
		return -1;
	}
	uint8_t md[FWG_SHA256_LEN];
	fwg_sha256(line, n, md);
	fwg_hex_encode(md, FWG_SHA256_LEN, a->prev);
	line[n] = '\0';
	if(line_out) {
		*line_out = line;
		if(line_len) *line_len = n;
	} else {
		free(line);
	}
	return 0;
}

int fwg_audit_verify_file(const char *path, fwg_audit_event_cb cb, void *ud,
		size_t *records, size_t *bad_line)
{
	if(records) *records = 0;
	if(bad_line) *bad_line = 0;
	if(!path) { errno = EINVAL; return -1; }
	FILE *fp = fopen(path, "re");
	if(!fp) return -1;
	char expect[FWG_SHA256_HEX_LEN + 1];
	memcpy(expect, zero_prev, sizeof(expect));
	char *line = NULL;
	size_t cap = 0, count = 0, lineno = 0;
	int rc = 0;
	ssize_t got;
	while((got = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		size_t n = (size_t)got;
		bool broken = true;
		if(n > 0 && line[n - 1] == '\n') {
			/* a line without its LF is torn: not a record */
			n--;
			line[n] = '\0';
			const char *end = NULL;
			cJSON *o = cJSON_ParseWithLengthOpts(line, n, &end, false);
			if(o && end == line + n && cJSON_IsObject(o)) {
				const cJSON *prev = cJSON_GetObjectItemCaseSensitive(o, "prev");
				const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
				if(cJSON_IsString(prev) && strcmp(prev->valuestring, expect) == 0
						&& cJSON_IsString(ev)) {
					broken = false;
					count++;
					if(cb) cb(ev->valuestring, ud);
				}
			}
			cJSON_Delete(o);
		}
		if(broken) {
			if(bad_line) *bad_line = lineno;
			rc = 1;
			break;
		}
		uint8_t md[FWG_SHA256_LEN];
		fwg_sha256(line, n, md);
		fwg_hex_encode(md, FWG_SHA256_LEN, expect);
	}
	if(rc == 0 && ferror(fp)) rc = -1;
	free(line);
	fclose(fp);
	if(records) *records = count;
	return rc;
}

bool fwg_json_add_u64(cJSON *obj, const char *name, uint64_t value)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)value);
	return cJSON_AddRawToObject(obj, name, buf) != NULL;
}
