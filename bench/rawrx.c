/* fwg_load rawrx: the floor of the e2e cell's receiving side, measured on
 * the same machine in the same run. One TCP stream on loopback carries
 * FILES x CHUNKS chunks of CHUNK_SIZE bytes, each after a 64-byte header
 * (about what a chunk's PUBLISH header is); a sender process (pinned to
 * --send-cpu) writes them, this process receives them with reads of
 * --rbuf bytes and writes each read's payload bytes into FILES files in
 * --dir with one pwritev (as the device agent does), and with --hash also
 * runs one SHA-256 pass over them. No MQTT, no acknowledgements, no
 * verification, one process instead of 50: what no receiver that stores
 * the bytes (and hashes them) can go below.
 *   fwg_load rawrx --dir D [--files 50] [--chunks 256] [--chunk-size 65536]
 *                  [--rbuf 49152] [--send-cpu N] [--hash]
 * Output: {"files":..,"bytes":..,"hash":0|1,"cpu_s":..,"wall_s":..}, cpu_s
 * being this process's user + system time while it received.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "fwg_load.h"

#define HDR 64

static void pin(int cpu)
{
	if(cpu < 0) return;
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if(sched_setaffinity(0, sizeof(s), &s) != 0) perror("rawrx: sched_setaffinity");
}

/* the sender: total chunks, each a header and CHUNK_SIZE bytes, 1 MiB writes */
static void sender(const struct sockaddr_in *a, long total, size_t cs)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) != 0) _exit(2);
	size_t per = HDR + cs, n = ((size_t)1 << 20) / per;
	if(n == 0) n = 1;
	uint8_t *buf = malloc(n * per);
	if(buf == NULL) _exit(2);
	xorshift_fill(buf, n * per, 1);
	for(long sent = 0; sent < total; ){
		size_t k = (size_t)(total - sent) < n ? (size_t)(total - sent) : n, len = k * per, done = 0;
		while(done < len){
			ssize_t w = write(fd, buf + done, len - done);
			if(w < 0 && errno == EINTR) continue;
			if(w <= 0) _exit(3);
			done += (size_t)w;
		}
		sent += (long)k;
	}
	close(fd);
	_exit(0);
}

int cmd_rawrx(int argc, char **argv)
{
	const char *dir = NULL;
	long files = 50, chunks = 256, cs = 65536, rb = 49152;
	int send_cpu = -1;
	bool hash = false;
	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--hash")){ hash = true; continue; }
		if(i + 1 >= argc){ fprintf(stderr, "rawrx: %s needs a value\n", argv[i]); return 2; }
		const char *v = argv[++i];
		if(!strcmp(argv[i - 1], "--dir")) dir = v;
		else if(!strcmp(argv[i - 1], "--files")) files = atol(v);
		else if(!strcmp(argv[i - 1], "--chunks")) chunks = atol(v);
		else if(!strcmp(argv[i - 1], "--chunk-size")) cs = atol(v);
		else if(!strcmp(argv[i - 1], "--rbuf")) rb = atol(v);
		else if(!strcmp(argv[i - 1], "--send-cpu")) send_cpu = atoi(v);
		else { fprintf(stderr, "rawrx: unknown option '%s'\n", argv[i - 1]); return 2; }
	}
	if(dir == NULL || files < 1 || files > 1000 || chunks < 1 || chunks > 4096 || cs < 1 || cs > (1 << 24) ||
			rb < 4096 || rb > (1 << 24)){
		fprintf(stderr, "usage: fwg_load rawrx --dir D [--files 1..1000] [--chunks 1..4096] [--chunk-size B] "
				"[--rbuf 4096..16M] [--send-cpu N] [--hash]\n");
		return 2;
	}
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if(ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
			getsockname(ls, (struct sockaddr *)&a, &al) != 0){
		perror("rawrx: listen");
		return 2;
	}
	long total = files * chunks;
	pid_t pid = fork();
	if(pid < 0){ perror("rawrx: fork"); return 2; }
	if(pid == 0){
		pin(send_cpu);
		sender(&a, total, (size_t)cs);
	}
	int fd = accept(ls, NULL, NULL);
	close(ls);
	uint8_t *buf = malloc((size_t)rb);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if(fd < 0 || buf == NULL || md == NULL){
		perror("rawrx");
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 2;
	}
	char path[4096];
	int out = -1;
	long file = -1, chunk = chunks;      /* the chunk being received, in its file */
	size_t left = 0;                     /* bytes of its header + payload still to come */
	size_t per = HDR + (size_t)cs;
	uint8_t dg[EVP_MAX_MD_SIZE];
	int rc = 0;
	double t0 = now_s(), c0 = cpu_s();
	for(long got_chunks = 0; got_chunks < total || left > 0; ){
		ssize_t n = read(fd, buf, (size_t)rb);
		if(n < 0 && errno == EINTR) continue;
		if(n <= 0){ fprintf(stderr, "rawrx: the stream ended early\n"); rc = 1; break; }
		struct iovec iov[64];
		int niov = 0;
		off_t woff = 0;
		for(size_t p = 0; p < (size_t)n; ){
			if(left == 0){   /* the next chunk: maybe the next file */
				if(chunk == chunks){
					if(niov > 0 && pwritev(out, iov, niov, woff) < 0) rc = 1;
					niov = 0;
					if(out >= 0) close(out);
					snprintf(path, sizeof(path), "%s/raw%ld.bin", dir, ++file);
					out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
					if(out < 0){ perror(path); rc = 2; break; }
					chunk = 0;
				}
				left = per;
				got_chunks++;
				if(hash) EVP_DigestInit_ex(md, EVP_sha256(), NULL);
			}
			size_t in_hdr = left > (size_t)cs ? left - (size_t)cs : 0;
			size_t take = (size_t)n - p < left ? (size_t)n - p : left;
			size_t skip = take < in_hdr ? take : in_hdr, pay = take - skip;
			if(pay > 0){
				off_t at = (off_t)(chunk * cs + (cs - (long)(left - skip)));
				if(niov == 0) woff = at;
				if(hash) EVP_DigestUpdate(md, buf + p + skip, pay);
				iov[niov].iov_base = buf + p + skip;
				iov[niov++].iov_len = pay;
				if(niov == 64){
					if(pwritev(out, iov, niov, woff) < 0) rc = 1;
					niov = 0;
				}
			}
			p += take;
			left -= take;
			if(left == 0){
				if(hash) EVP_DigestFinal_ex(md, dg, NULL);
				chunk++;
			}
		}
		if(rc == 2) break;
		if(niov > 0 && pwritev(out, iov, niov, woff) < 0) rc = 1;
		if(rc){ perror("rawrx: pwritev"); break; }
	}
	double cpu = cpu_s() - c0, wall = now_s() - t0;
	if(out >= 0) close(out);
	close(fd);
	int st = 0;
	waitpid(pid, &st, 0);
	for(long f = 0; f <= file; f++){
		snprintf(path, sizeof(path), "%s/raw%ld.bin", dir, f);
		unlink(path);
	}
	EVP_MD_CTX_free(md);
	free(buf);
	if(rc || !WIFEXITED(st) || WEXITSTATUS(st) != 0){
		fprintf(stderr, "rawrx: failed (sender status %d)\n", st);
		return rc ? rc : 1;
	}
	printf("{\"files\":%ld,\"bytes\":%ld,\"hash\":%d,\"cpu_s\":%.3f,\"wall_s\":%.3f}\n", files, total * cs,
			hash ? 1 : 0, cpu, wall);
	return 0;
}
