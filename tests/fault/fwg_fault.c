/* fwg_fault.so: an LD_PRELOAD fault injector for the fault tests.
 *
 * The tests run as root, so file permissions cannot make the state file or
 * the audit log unwritable; this shim makes chosen calls on chosen files
 * fail instead, switchable while the broker runs:
 *
 *   FWG_FAULT_MATCH    comma-separated path substrings (e.g. "fwguard.state")
 *   FWG_FAULT_TRIGGER  a file; while it exists, its words OP:ERRNO say which
 *                      calls fail on a matching path, with which errno:
 *                      OP is open (opens for writing or creating only), write
 *                      (write, pwrite, pwritev), fsync (fsync and fdatasync)
 *                      or rename (either name);
 *                      ERRNO is EACCES, ENOSPC, EIO, EROFS or EDQUOT.
 *                      Absent or empty: nothing fails.
 *   FWG_FAULT_LOG      optional: one line per injected failure is appended
 *
 * Descriptors are attributed to a path when they are opened (whether or not
 * a fault is active then), so a write to a log opened at start can be made
 * to fail later. The trigger file is re-read on every matching call.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* define open and open64 (etc.) each under its own name */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define FD_TRACK 65536

static unsigned char tracked[FD_TRACK];

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);

static void resolve(void)
{
	if(real_open) return;
	real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	/* off_t is 64 bits on the targets these tests run on: pwrite64 and
	 * pwritev64 are the same calls */
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	real_pwritev = (ssize_t (*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev64");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2");
	real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
}

static int matches(const char *path)
{
	const char *m = getenv("FWG_FAULT_MATCH");
	if(!path || !m || !*m) return 0;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", m);
	for(char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)){
		if(*tok && strstr(path, tok)) return 1;
	}
	return 0;
}

static const struct { const char *name; int value; } errnos[] = {
	{ "EACCES", EACCES }, { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EROFS", EROFS }, { "EDQUOT", EDQUOT },
};

/* The errno the trigger file asks for OP, or 0. */
static int fault_for(const char *op)
{
	const char *trig = getenv("FWG_FAULT_TRIGGER");
	char buf[512];
	if(!trig) return 0;
	int fd = real_openat(AT_FDCWD, trig, O_RDONLY | O_CLOEXEC);
	if(fd < 0) return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	real_close(fd);
	if(n <= 0) return 0;
	buf[n] = '\0';
	size_t ol = strlen(op);
	for(char *save = NULL, *w = strtok_r(buf, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)){
		if(strncmp(w, op, ol) || w[ol] != ':') continue;
		for(size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++){
			if(!strcmp(w + ol + 1, errnos[i].name)) return errnos[i].value;
		}
	}
	return 0;
}

static void note(const char *op, const char *what, int e)
{
	const char *log = getenv("FWG_FAULT_LOG");
	char line[1200];
	if(!log) return;
	int fd = real_openat(AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if(fd < 0) return;
	int n = snprintf(line, sizeof(line), "%s %s -> %s\n", op, what, strerrorname_np(e));
	if(n > 0) real_write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	real_close(fd);
}

static int fail_with(const char *op, const char *what, int e)
{
	note(op, what, e);
	errno = e;
	return -1;
}

static int track(int fd, const char *path)
{
	if(fd >= 0 && fd < FD_TRACK) tracked[fd] = (unsigned char)matches(path);
	return fd;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	resolve();
	if(matches(path) && (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))){
		int e = fault_for("open");
		if(e) return fail_with("open", path, e);
	}
	return track(real_openat(dirfd, path, flags, mode), path);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(AT_FDCWD, path, flags, m);
}
int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(AT_FDCWD, path, flags, m);
}
int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, m);
}
int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, m);
}
/* _FORTIFY_SOURCE variants (no mode: O_CREAT is not allowed with them) */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }
int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags) { return do_openat(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags) { return do_openat(dirfd, path, flags, 0); }

static int is_tracked(int fd) { return fd >= 0 && fd < FD_TRACK && tracked[fd]; }

/* -1 with errno set when a write to fd is to fail, else 0 */
static int write_fault(int fd)
{
	resolve();
	if(!is_tracked(fd)) return 0;
	int e = fault_for("write");
	if(!e) return 0;
	char what[32];
	snprintf(what, sizeof(what), "fd %d", fd);
	return fail_with("write", what, e);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	return write_fault(fd) ? -1 : real_write(fd, buf, len);
}

_Static_assert(sizeof(off_t) == 8, "pwrite is pwrite64 here");
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return write_fault(fd) ? -1 : real_pwrite(fd, buf, len, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) { return pwrite(fd, buf, len, off); }
ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	return write_fault(fd) ? -1 : real_pwritev(fd, iov, n, off);
}
ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off);
ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off) { return pwritev(fd, iov, n, off); }

int fsync(int fd)
{
	resolve();
	if(is_tracked(fd)){
		int e = fault_for("fsync");
		if(e) return fail_with("fsync", "fd", e);
	}
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	resolve();
	if(is_tracked(fd)){
		int e = fault_for("fsync");
		if(e) return fail_with("fdatasync", "fd", e);
	}
	return real_fdatasync(fd);
}

int close(int fd)
{
	resolve();
	if(fd >= 0 && fd < FD_TRACK) tracked[fd] = 0;
	return real_close(fd);
}

static int rename_fault(const char *a, const char *b)
{
	if(!matches(a) && !matches(b)) return 0;
	return fault_for("rename");
}

int rename(const char *a, const char *b)
{
	resolve();
	int e = rename_fault(a, b);
	return e ? fail_with("rename", b, e) : real_rename(a, b);
}
int renameat(int da, const char *a, int db, const char *b)
{
	resolve();
	int e = rename_fault(a, b);
	return e ? fail_with("renameat", b, e) : real_renameat(da, a, db, b);
}
int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	resolve();
	int e = rename_fault(a, b);
	return e ? fail_with("renameat2", b, e) : real_renameat2(da, a, db, b, flags);
}
