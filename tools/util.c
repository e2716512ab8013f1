/* Shared helpers of the fwguard CLI. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "cli.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "fwguard/topic.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fwguard %s: ", cli_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

int cli_usage(const char *usage)
{
	fprintf(stderr, "Usage: fwguard %s %s", cli_cmd, usage);
	return EXIT_USAGE;
}

int cli_bad_option(int argc, char *argv[], int c)
{
	const char *opt = (optind - 1 < argc && optind > 0) ? argv[optind - 1] : "?";
	if(c == ':')
		cli_err("option '%s' needs a value", opt);
	else
		cli_err("unknown option '%s'", opt);
	return EXIT_USAGE;
}

int cli_parse_u64(const char *what, const char *s, uint64_t max, uint64_t *out)
{
	if(s == NULL || fwg_parse_u64(s, strlen(s), max, out) != 0){
		cli_err("invalid %s '%s'", what, s ? s : "");
		return -1;
	}
	return 0;
}

int cli_check_id(const char *what, const char *s)
{
	if(s == NULL || !fwg_id_valid(s, strlen(s))){
		cli_err("invalid %s '%s' (1-64 of [A-Za-z0-9._-], not . or ..)", what, s ? s : "");
		return -1;
	}
	return 0;
}

int cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		cli_err("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)){
		cli_err("'%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	if((uint64_t)st.st_size > max){
		cli_err("'%s' is too large (%lld bytes, at most %zu)", path, (long long)st.st_size, max);
		close(fd);
		return -1;
	}
	uint8_t *b = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	if(b == NULL){
		cli_err("out of memory reading '%s'", path);
		close(fd);
		return -1;
	}
	while(n < (size_t)st.st_size){
		ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
		if(r < 0 && errno == EINTR) continue;
		if(r <= 0){
			cli_err("cannot read '%s': %s", path, r < 0 ? strerror(errno) : "short read");
			free(b);
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while(len > 0){
		ssize_t w = write(fd, p, len);
		if(w < 0 && errno == EINTR) continue;
		if(w < 0) return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cli_fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if(copy == NULL) return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if(fd < 0) return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int cli_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	if(tmp == NULL) return -1;
	snprintf(tmp, n, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if(fd < 0){
		free(tmp);
		return -1;
	}
	if(cli_write_all(fd, buf, len) != 0 || fsync(fd) != 0){
		int e = errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		errno = e;
		return -1;
	}
	close(fd);
	if(rename(tmp, path) != 0){
		int e = errno;
		unlink(tmp);
		free(tmp);
		errno = e;
		return -1;
	}
	free(tmp);
	return cli_fsync_dir_of(path);
}

static void trim(char *s, size_t *len)
{
	size_t a = 0, b = *len;
	while(a < b && strchr(" \t\r\n", s[a])) a++;
	while(b > a && strchr(" \t\r\n", s[b - 1])) b--;
	memmove(s, s + a, b - a);
	s[b - a] = '\0';
	*len = b - a;
}

EVP_PKEY *cli_load_public(const char *arg)
{
	EVP_PKEY *key = NULL;
	struct stat st;
	if(stat(arg, &st) != 0){
		/* not a file: the base64 text itself? */
		if(strlen(arg) > 40 && fwg_key_parse_public_b64(arg, strlen(arg), &key) == 0) return key;
		cli_err("cannot open key '%s': %s", arg, strerror(errno));
		return NULL;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if(cli_read_file(arg, 65536, &buf, &len) != 0) return NULL;
	if(strstr((char *)buf, "-----BEGIN") != NULL){
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		if(bio && strstr((char *)buf, "-----BEGIN PUBLIC KEY-----"))
			key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		else if(bio)
			key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if(key != NULL){
			/* normalise: only P-256 keys in the canonical SPKI form */
			char *b64 = fwg_key_public_b64(key);
			EVP_PKEY_free(key);
			key = NULL;
			if(b64 == NULL || fwg_key_parse_public_b64(b64, strlen(b64), &key) != 0) key = NULL;
			free(b64);
		}
	}else{
		trim((char *)buf, &len);
		if(fwg_key_parse_public_b64((char *)buf, len, &key) != 0) key = NULL;
	}
	free(buf);
	if(key == NULL) cli_err("'%s' is not a P-256 public key (base64 DER SPKI or PEM)", arg);
	return key;
}

EVP_PKEY *cli_load_private(const char *path)
{
	EVP_PKEY *key = NULL;
	char err[256];
	if(fwg_key_load_private_pem(path, &key, err, sizeof(err)) != 0){
		cli_err("cannot load private key '%s': %s", path, err);
		return NULL;
	}
	return key;
}

int64_t cli_now(void)
{
	const char *e = getenv("FWG_NOW");
	uint64_t v;
	if(e && *e && fwg_parse_u64(e, strlen(e), (uint64_t)INT64_MAX, &v) == 0) return (int64_t)v;
	return (int64_t)time(NULL);
}

double cli_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *label, uint64_t total)
{
	p->label = label;
	p->total = total ? total : 1;
	p->last_pct = -1;
	p->tty = isatty(STDERR_FILENO) && getenv("FWG_NO_PROGRESS_BAR") == NULL;
	p->t0 = cli_mono();
}

void cli_progress_update(struct cli_progress *p, uint64_t done)
{
	int pct = (int)(done * 100 / p->total);
	if(pct == p->last_pct) return;
	if(p->tty){
		char bar[41];
		int fill = pct * 40 / 100;
		for(int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
		bar[40] = '\0';
		fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu", p->label, bar, pct,
				(unsigned long long)done, (unsigned long long)p->total);
		fflush(stderr);
	}else if(pct / 10 != p->last_pct / 10 || p->last_pct < 0){
		fprintf(stderr, "%s: %d%% (%llu/%llu)\n", p->label, pct,
				(unsigned long long)done, (unsigned long long)p->total);
	}
	p->last_pct = pct;
}

void cli_progress_end(struct cli_progress *p)
{
	if(p->tty && p->last_pct >= 0) fputc('\n', stderr);
}
