/* fwguard device: the reference device agent of PROTOCOL §9.
 *
 * Pinned vendor keys; a state directory with the installed sequence
 * (written durably), the manifest being fetched, the staging file and its
 * chunk bitmap. A fresh download of at most SUB_ALL_MAX chunks subscribes to
 * chunk/<seq>/# at once; otherwise (and with --window) the chunks are
 * subscribed a window at a time, by their own topics, and only those
 * missing from the bitmap: after a restart of the agent or the broker only
 * the missing chunks are fetched. Each chunk is checked and written at its
 * offset in the staging file (memory does not depend on the image size).
 * The whole-image SHA-256 runs while the chunks arrive, one pass per byte:
 * a chunk in index order goes into the image digest only (its own digest
 * is implied when the image digest matches; if it does not, every chunk is
 * checked from the staging file and the bad ones fetched again); a chunk
 * out of order is checked against chunk_sha256 on arrival and read back
 * from the staging file when the gap before it closes. Install by atomic
 * rename to --target and/or an --exec hook. Status reports of §7.
 *
 * MQTT is tools/mqttc.c (not libmosquitto): a chunk's payload is handed
 * over in pieces as it comes off the socket, each piece hashed and written
 * at its offset (one write per socket read); the chunk is decided when its
 * payload ends (the PUBACK follows; the PUBACKs of one loop step go out
 * together). A manifest (at
 * most FWG_MANIFEST_MAX) is written to incoming.manifest as it comes and
 * checked from a read-only mapping of that file (fwg_manifest_parse_lean:
 * the chunk digests stay in the text); while its download is active,
 * staging.manifest is mapped and a chunk's digest read from there when it
 * is needed. So the agent's heap holds neither the image, nor the manifest
 * text, nor the digests: its size does not depend on the image.
 *
 * State directory:
 *   installed.seq      the installed sequence (decimal), replaced atomically + fsync
 *   incoming.manifest  a manifest being received (checked, then renamed to
 *                      staging.manifest when its download starts, or removed)
 *   staging.manifest   the manifest being fetched (raw bytes; mapped while active)
 *   staging.bin        the image being assembled
 *   staging.bitmap     one bit per chunk present in staging.bin
 * The bitmap is not fsync'd per chunk: on resume every chunk it marks is
 * re-checked against chunk_sha256 (when listed), and the whole image digest
 * is checked before install in any case.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <openssl/crypto.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>        /* mosquitto_reason_string() only */
#include <mqtt_protocol.h>
#include "check.h"
#include "mqttc.h"
#include "fwguard/codec.h"
#include "fwguard/status.h"
#include "fwguard/topic.h"

static const char usage[] = "[MQTT options] --vendor V --model M --device D --pin KEY [--pin KEY...]\n"
	"              --state-dir DIR (--target PATH | --exec CMD) [--once] [--timeout SECS]\n"
	"              [--window N] [--skew SECS (300)] [--max-backoff SECS (30)]\n"
	"              [--max-rate BYTES_PER_SEC] [--read-buffer BYTES (49152)]\n"
	"  The MQTT username defaults to <vendor>/<model>/<device>.\n"
	"  --once: exit after one install (0, also when up to date) or failure (1).\n"
	"  --window: chunks subscribed at a time (default: all of a fresh download of\n"
	"  at most 512 chunks with one chunk/<seq>/# subscription, otherwise 32).\n"
	"MQTT options:\n" CLI_MQTT_HELP;

#define BITMAP_BYTES (FWG_MAX_CHUNKS / 8)
#define bit_get(b, i) (((b)[(i) >> 3] >> ((i) & 7)) & 1)
#define bit_set(b, i) ((b)[(i) >> 3] |= (uint8_t)(1u << ((i) & 7)))
#define bit_clr(b, i) ((b)[(i) >> 3] &= (uint8_t)~(1u << ((i) & 7)))
/* A fresh download of at most this many chunks subscribes to chunk/<seq>/#:
 * the broker queues them all for the agent (Mosquitto's max_queued_messages
 * is 1000 by default); a chunk still missing after STALL_SECS without any
 * progress is subscribed again by its own topic. */
#define SUB_ALL_MAX 512
#define STALL_SECS 10.0
#define DEFAULT_WINDOW 32
#define TOPIC_MAX 320
/* Start the writeback of the staging file every WRITEBACK_BYTES written, so
 * that the fsync before install does not have the whole image to write. */
#define WRITEBACK_BYTES (4u << 20)
#define PROGRESS_SECS 1.0  /* progress reports: every 10 %, at most one a second */
#define WQ_MAX 8            /* pieces held for one write (chunk_data) */
/* The running image digest cannot be used (a bad chunk or a write error
 * went into it, or a read error): finish() hashes the staging file whole. */
#define HASHED_NONE UINT32_MAX

/* incoming.manifest while on_manifest() checks it from its mapping: the
 * descriptor, and whether the mapping is a heap copy. start_download() may
 * adopt the file as staging.manifest (adopted: renamed, the mapping kept). */
struct incoming {
	int fd;
	bool heap, adopted;
};

struct dev {
	struct cli_mqtt mq;
	struct mqttc *mc;
	const char *vendor, *model, *device, *statedir, *target, *exec;
	struct cli_pins pins;
	bool once;
	int64_t skew;
	unsigned window;
	bool window_set;       /* --window given: always a window at a time */
	char *p_installed, *p_manifest, *p_bin, *p_bitmap, *p_incoming;
	char manifest_topic[512], status_topic[512];
	uint64_t installed;
	/* the download in progress */
	bool active;
	struct fwg_manifest m;
	uint8_t raw_sha[FWG_SHA256_LEN];   /* SHA-256 of the manifest's bytes */
	/* staging.manifest, mapped read-only while the download is active: the
	 * chunk digests are read from its text (fwg_manifest_parse_lean), not
	 * kept on the heap */
	const uint8_t *mraw;
	size_t mraw_len;
	bool mraw_heap;        /* read into memory (a file system without mmap) */
	int bin_fd, bitmap_fd;
	uint8_t have[BITMAP_BYTES], subscribed[BITMAP_BYTES], retries[FWG_MAX_CHUNKS];
	uint32_t nhave, outstanding, fetched, present_at_start;
	uint32_t out_of_order; /* chunks checked one by one (not in index order when they came) */
	int last_pct;
	bool sub_all;          /* subscribed to chunk/<seq>/# */
	bool no_sub_all;       /* after a stall: by their own topics only */
	double last_progress;  /* cli_mono() of the last chunk stored (or the start) */
	/* the image digest so far: chunks [0, hashed) are in `whole` */
	struct cli_sha256 whole, chunk;
	/* what the PUBLISH being received is (begin() said STREAM for it) */
	enum { RX_NONE, RX_CHUNK, RX_MANIFEST, RX_MANIFEST_BIG } rx;
	/* RX_CHUNK: streamed to the staging file */
	bool rx_in_order;      /* it goes into `whole` (saved in `saved` first) */
	bool rx_failed;        /* a write failed: not marked */
	uint32_t rx_index;
	uint64_t rx_off;       /* where the next piece goes in the staging file */
	/* pieces handed over by data() but not yet written: one contiguous
	 * range of the staging file, in up to WQ_MAX pieces of the read buffer
	 * (the end of one chunk and the start of the next are one write) */
	struct iovec wq[WQ_MAX];
	int wq_n;
	uint64_t wq_off, wq_len;
	struct cli_sha256 saved;   /* `whole` before the chunk being received */
	/* RX_MANIFEST: written to incoming.manifest */
	int rx_fd;
	bool rx_err;           /* a write failed */
	size_t rx_len, rx_got; /* its announced length, bytes written */
	/* RX_MANIFEST_BIG: above FWG_MANIFEST_MAX, only hashed, then refused */
	struct cli_sha256 rx_sha;
	uint32_t hashed;
	uint64_t unsynced;     /* bytes written since the last writeback start */
	uint32_t bm_lo, bm_hi; /* bytes [bm_lo, bm_hi) of `have` not yet in staging.bitmap */
	/* the last manifest refused (not retried until another one comes) */
	bool has_refused; uint8_t refused_sha[FWG_SHA256_LEN];
	/* status */
	char *last_status; int status_mid; bool status_acked;
	double last_report;    /* cli_mono() of the last status report */
	bool connected;
	uint64_t max_rate; double rate_t0; uint64_t rate_bytes;   /* --max-rate */
	int result;            /* --once: -1 running, 0 installed/up to date, 1 failed, 2 error */
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if(p) snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* ------------------------------------------------------------- status */
static void send_status(struct dev *d)
{
	if(d->last_status == NULL || !d->connected) return;
	uint16_t mid = 0;
	if(mqttc_publish(d->mc, &mid, d->status_topic, d->last_status, strlen(d->last_status), 1, true) == 0){
		d->status_mid = mid;
		d->status_acked = false;
	}
}

static void report(struct dev *d, enum fwg_dev_state state, uint64_t seq, const char *version,
		int progress, const char *error)
{
	struct fwg_status st;
	memset(&st, 0, sizeof(st));
	st.state = state;
	st.has_sequence = true;
	st.sequence = seq;
	if(version){ st.has_version = true; snprintf(st.version, sizeof(st.version), "%s", version); }
	if(progress >= 0){ st.has_progress = true; st.progress = (unsigned)progress; }
	if(error){ st.has_error = true; snprintf(st.error, sizeof(st.error), "%s", error); }
	char *json = fwg_status_build(&st);
	if(json == NULL) return;
	free(d->last_status);
	d->last_status = json;
	d->last_report = cli_mono();
	send_status(d);
}

/* ------------------------------------------------------- durable state */
static uint64_t read_installed(struct dev *d)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t v = 0;
	if(access(d->p_installed, F_OK) != 0) return 0;
	if(cli_read_file(d->p_installed, 64, &buf, &len) != 0) return UINT64_MAX;
	while(len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
	if(fwg_parse_u64((char *)buf, len, FWG_INT_MAX, &v) != 0){
		cli_err("'%s' does not hold a sequence", d->p_installed);
		v = UINT64_MAX;
	}
	free(buf);
	return v;
}

static int write_installed(struct dev *d, uint64_t seq)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", seq);
	return cli_write_atomic(d->p_installed, buf, (size_t)n, 0644);
}

static void chunk_topic(struct dev *d, uint32_t i, char *out, size_t cap);
static void unsubscribe_all(struct dev *d);

/* A change to the bitmap, written out by bitmap_flush() after the loop step
 * (one write for all the chunks of a step) */
static void bitmap_mark(struct dev *d, uint32_t i)
{
	uint32_t b = i >> 3;
	if(d->bm_lo >= d->bm_hi){
		d->bm_lo = b;
		d->bm_hi = b + 1;
	}else{
		if(b < d->bm_lo) d->bm_lo = b;
		if(b + 1 > d->bm_hi) d->bm_hi = b + 1;
	}
}

/* A write of the staging file failed: take back what the chunks of the
 * lost pieces had earned. The chunk being received fails (not marked, its
 * digest state restored: chunk_end), a chunk already marked is unmarked and
 * fetched again (after a stall), and the running image digest, which holds
 * it, is given up (finish() hashes the staging file). */
static void wq_failed(struct dev *d, int err)
{
	cli_err("cannot write '%s': %s", d->p_bin, strerror(err));
	/* the chunks the lost range [wq_off, wq_off + wq_len) touches */
	uint32_t first = (uint32_t)(d->wq_off / d->m.chunk_size);
	uint32_t last = (uint32_t)((d->wq_off + d->wq_len - 1) / d->m.chunk_size);
	for(uint32_t i = first; i <= last; i++){
		if(i == d->rx_index) d->rx_failed = true;   /* (reset by the next chunk_begin) */
		if(!bit_get(d->have, i)) continue;
		bit_clr(d->have, i);
		bitmap_mark(d, i);
		d->nhave--;
		if(d->fetched > 0) d->fetched--;
		if(d->hashed != HASHED_NONE && i < d->hashed) d->hashed = HASHED_NONE;
	}
}

/* Write out the pieces chunk_data() collected: before the read buffer they
 * point into is reused (mqttc's consumed()), before the bitmap is written
 * (it never marks a chunk whose bytes were not handed to the file system),
 * and before anything reads, syncs or closes the staging file. */
static void wq_flush(struct dev *d)
{
	if(d->wq_n == 0) return;
	struct iovec *v = d->wq;
	int n = d->wq_n;
	uint64_t off = d->wq_off, left = d->wq_len;
	int err = d->bin_fd < 0 ? EBADF : 0;
	while(err == 0 && left > 0){
		ssize_t w = pwritev(d->bin_fd, v, n, (off_t)off);
		if(w < 0 && errno == EINTR) continue;
		if(w <= 0){
			err = w < 0 ? errno : EIO;
			break;
		}
		off += (uint64_t)w;
		left -= (uint64_t)w;
		size_t k = (size_t)w;   /* a short write: on from where it stopped */
		while(n > 0 && k >= v->iov_len){
			k -= v->iov_len;
			v++;
			n--;
		}
		if(n > 0){
			v->iov_base = (uint8_t *)v->iov_base + k;
			v->iov_len -= k;
		}
	}
	if(err) wq_failed(d, err);
	d->wq_n = 0;
	d->wq_len = 0;
}

static void bitmap_flush(struct dev *d)
{
	wq_flush(d);
	if(d->bm_lo >= d->bm_hi) return;
	size_t n = d->bm_hi - d->bm_lo;
	if(d->bitmap_fd >= 0 && pwrite(d->bitmap_fd, d->have + d->bm_lo, n, (off_t)d->bm_lo) != (ssize_t)n)
		cli_err("cannot write '%s': %s", d->p_bitmap, strerror(errno));
	d->bm_lo = d->bm_hi = 0;
}

/* A file of len bytes (at most FWG_MANIFEST_MAX) read-only in memory: a
 * private mapping, or on a file system without mmap a heap copy (*heap).
 * NULL on failure. Release with release_file(). */
static const uint8_t *map_file(int fd, const char *path, size_t len, bool *heap)
{
	*heap = false;
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if(map != MAP_FAILED) return map;
	uint8_t *buf = NULL;
	size_t got = 0;
	if(cli_read_file(path, FWG_MANIFEST_MAX, &buf, &got) != 0 || got != len){   /* (names its own errors) */
		free(buf);
		return NULL;
	}
	*heap = true;
	return buf;
}

static void release_file(const uint8_t *p, size_t len, bool heap)
{
	if(p == NULL) return;
	if(heap) free((void *)p);
	else munmap((void *)p, len);
}

static void unmap_manifest(struct dev *d)
{
	release_file(d->mraw, d->mraw_len, d->mraw_heap);
	d->mraw = NULL;
	d->mraw_len = 0;
	d->mraw_heap = false;
}

/* staging.manifest into d->mraw; 0 / -1 (no such file, or not len bytes) */
static int map_manifest(struct dev *d, size_t len)
{
	unmap_manifest(d);
	int fd = open(d->p_manifest, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if(fd < 0) return -1;
	if(fstat(fd, &st) == 0 && (uint64_t)st.st_size == len && len > 0)
		d->mraw = map_file(fd, d->p_manifest, len, &d->mraw_heap);
	close(fd);
	if(d->mraw == NULL) return -1;
	d->mraw_len = len;
	return 0;
}

/* Chunk i's data hashes to md: its digest, read from the mapped manifest */
static bool chunk_matches(struct dev *d, uint32_t i, const uint8_t md[FWG_SHA256_LEN])
{
	uint8_t want[FWG_SHA256_LEN];
	return fwg_manifest_chunk_sha(&d->m, d->mraw, d->mraw_len, i, want) == 0 &&
		fwg_ct_equal(md, want, FWG_SHA256_LEN);
}

static void close_download(struct dev *d, bool remove_files)
{
	bitmap_flush(d);
	unsubscribe_all(d);
	cli_sha256_free(&d->whole);
	cli_sha256_free(&d->chunk);
	cli_sha256_free(&d->saved);
	if(d->rx == RX_CHUNK) d->rx = RX_NONE;
	if(d->bin_fd >= 0) close(d->bin_fd);
	if(d->bitmap_fd >= 0) close(d->bitmap_fd);
	d->bin_fd = d->bitmap_fd = -1;
	if(d->active) fwg_manifest_free(&d->m);
	d->active = false;
	unmap_manifest(d);
	if(remove_files){
		unlink(d->p_manifest);
		unlink(d->p_bitmap);
		unlink(d->p_bin);
	}
}

/* sha: the SHA-256 of the manifest's bytes */
static void refuse(struct dev *d, const uint8_t sha[FWG_SHA256_LEN], uint64_t seq, const char *version,
		enum fwg_reason r, const char *detail)
{
	memcpy(d->refused_sha, sha, FWG_SHA256_LEN);
	d->has_refused = true;
	fprintf(stderr, "fwguard device: refused sequence %" PRIu64 ": %s%s%s\n", seq, fwg_reason_str(r),
			detail && *detail ? ": " : "", detail ? detail : "");
	report(d, FWG_ST_FAILED, seq, version, -1, fwg_reason_str(r));
	if(d->once) d->result = 1;
}

/* ------------------------------------------------------------ chunks */
static void chunk_topic(struct dev *d, uint32_t i, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s/%s/chunk/%" PRIu64 "/%" PRIu32, d->mq.prefix, d->vendor, d->model,
			d->m.sequence, i);
}

static void all_topic(struct dev *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s/%s/chunk/%" PRIu64 "/#", d->mq.prefix, d->vendor, d->model, d->m.sequence);
}

static void unsubscribe_all(struct dev *d)
{
	if(d->active && d->sub_all && d->connected){
		char topic[TOPIC_MAX];
		all_topic(d, topic, sizeof(topic));
		mqttc_unsubscribe(d->mc, NULL, topic);
	}
	d->sub_all = false;
}

/* Subscribe to the missing chunks: all at once (chunk/<seq>/#) for a fresh
 * download that the broker can queue whole, otherwise the next ones up to
 * the window, by their own topics. */
static void subscribe_more(struct dev *d)
{
	if(!d->active || !d->connected || d->sub_all) return;
	if(!d->window_set && !d->no_sub_all && d->nhave == 0 && d->outstanding == 0 && d->m.nchunks <= SUB_ALL_MAX){
		char topic[TOPIC_MAX];
		all_topic(d, topic, sizeof(topic));
		char *one[1] = { topic };
		if(mqttc_subscribe(d->mc, NULL, one, 1, 1) == 0){
			d->sub_all = true;
			memset(d->subscribed, 0xff, sizeof(d->subscribed));
			d->outstanding = d->m.nchunks;
			return;
		}
		cli_err("cannot subscribe to chunks: %s", mqttc_error(d->mc));
	}
	enum { BATCH = 32 };
	char buf[BATCH][TOPIC_MAX];
	char *topics[BATCH];
	uint32_t i = 0;
	while(d->outstanding < d->window){
		int n = 0;
		for(; i < d->m.nchunks && n < BATCH && d->outstanding + (unsigned)n < d->window; i++){
			if(bit_get(d->have, i) || bit_get(d->subscribed, i)) continue;
			topics[n] = buf[n];
			chunk_topic(d, i, buf[n], TOPIC_MAX);
			bit_set(d->subscribed, i);
			n++;
		}
		if(n == 0) break;
		if(mqttc_subscribe(d->mc, NULL, topics, n, 1) != 0)
			cli_err("cannot subscribe to chunks: %s", mqttc_error(d->mc));
		d->outstanding += (unsigned)n;
	}
}

static void resubscribe_chunk(struct dev *d, uint32_t i)
{
	char topic[TOPIC_MAX];
	chunk_topic(d, i, topic, sizeof(topic));
	char *one[1] = { topic };
	mqttc_subscribe(d->mc, NULL, one, 1, 1);
}

/* No chunk for STALL_SECS while connected: the broker may have dropped some
 * (a full queue). Subscribe to the missing ones again, a window at a time,
 * by their own topics: their retained copies come again. */
static void check_stall(struct dev *d)
{
	if(!d->active || !d->connected || cli_mono() - d->last_progress < STALL_SECS) return;
	d->last_progress = cli_mono();
	unsubscribe_all(d);
	memset(d->subscribed, 0, sizeof(d->subscribed));
	d->outstanding = 0;
	d->no_sub_all = true;
	subscribe_more(d);
}

/* Read chunk i back from the staging file and feed it to the image digest
 * (and, when chunk is not NULL, to that context as well). 0 / -1. */
static int hash_from_file(struct dev *d, uint32_t i, struct cli_sha256 *whole, struct cli_sha256 *chunk)
{
	uint8_t buf[16384];
	uint64_t off = (uint64_t)i * d->m.chunk_size, left = fwg_manifest_chunk_len(&d->m, i);
	while(left > 0){
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t got = pread(d->bin_fd, buf, want, (off_t)off);
		if(got < 0 && errno == EINTR) continue;
		if(got <= 0) return -1;
		cli_sha256_update2(chunk ? chunk : whole, chunk ? whole : NULL, buf, (size_t)got);
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	return 0;
}

/* Feed the chunks present right after the hashed prefix (they came out of
 * order) from the staging file. */
static void catch_up(struct dev *d)
{
	while(d->hashed < d->m.nchunks && bit_get(d->have, d->hashed)){
		if(d->wq_n > 0){
			/* what is read back must be in the file; a failed write
			 * unmarks its chunks and may give the running digest up */
			wq_flush(d);
			continue;
		}
		if(hash_from_file(d, d->hashed, &d->whole, NULL) != 0){
			d->hashed = HASHED_NONE;
			return;
		}
		d->hashed++;
	}
}

static int copy_file(const char *from, const char *to)
{
	size_t n = strlen(to) + 8;
	char *tmp = malloc(n);
	if(tmp == NULL) return -1;
	snprintf(tmp, n, "%s.tmp", to);
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = -1;
	char buf[65536];
	if(in >= 0 && out >= 0){
		ssize_t r;
		while((r = read(in, buf, sizeof(buf))) > 0)
			if(cli_write_all(out, buf, (size_t)r) != 0) break;
		if(r == 0 && fsync(out) == 0 && rename(tmp, to) == 0) rc = 0;
	}
	if(in >= 0) close(in);
	if(out >= 0) close(out);
	if(rc != 0) unlink(tmp);
	free(tmp);
	return rc;
}

static int run_hook(struct dev *d, const char *image)
{
	size_t n = strlen(d->exec) + 16;
	char *cmd = malloc(n), seq[32];
	if(cmd == NULL) return -1;
	snprintf(cmd, n, "%s \"$1\"", d->exec);
	snprintf(seq, sizeof(seq), "%" PRIu64, d->m.sequence);
	fflush(NULL);
	pid_t pid = fork();
	if(pid == 0){
		setenv("FWG_IMAGE", image, 1);
		setenv("FWG_SEQUENCE", seq, 1);
		setenv("FWG_VERSION", d->m.version, 1);
		execl("/bin/sh", "sh", "-c", cmd, "fwguard-exec", image, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	if(pid < 0) return -1;
	int st = 0;
	while(waitpid(pid, &st, 0) < 0)
		if(errno != EINTR) return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void fail_chunk(struct dev *d, uint32_t i, enum fwg_reason r);

/* The image digest of chunks received in order did not match: check each
 * chunk of the staging file against chunk_sha256. The bad ones are dropped
 * from the bitmap and fetched again once (a second failure of the same
 * chunk refuses the manifest). true: handled (download goes on, or refused);
 * false: every chunk matches its digest, so the signed sha256 and
 * chunk_sha256 disagree, or the file could not be read: the caller refuses
 * with image_digest_mismatch. */
static bool locate_bad_chunks(struct dev *d)
{
	bool any = false;
	for(uint32_t i = 0; i < d->m.nchunks; i++){
		uint8_t md[FWG_SHA256_LEN];
		bool bad = cli_sha256_init(&d->chunk) != 0 || hash_from_file(d, i, &d->chunk, NULL) != 0 ||
			(cli_sha256_final(&d->chunk, md), !chunk_matches(d, i, md));
		if(!bad) continue;
		any = true;
		bit_clr(d->have, i);
		bitmap_mark(d, i);
		d->nhave--;
		fail_chunk(d, i, FWG_R_CHUNK_DIGEST);
		if(!d->active) return true;    /* refused */
	}
	return any;
}

/* All chunks are present: verify the whole image, install, record. */
static void finish(struct dev *d)
{
	uint64_t seq = d->m.sequence;
	char version[FWG_ID_MAX + 1];
	snprintf(version, sizeof(version), "%s", d->m.version);
	wq_flush(d);
	if(d->nhave < d->m.nchunks) return;   /* a write failed: those chunks come again */
	report(d, FWG_ST_VERIFYING, seq, version, 100, NULL);
	uint64_t bad = 0;
	enum fwg_reason r = FWG_R_INTERNAL;
	catch_up(d);
	struct stat st;
	if(fsync(d->bin_fd) != 0){
		r = FWG_R_INTERNAL;
	}else if(d->hashed == d->m.nchunks){
		/* every chunk went into the running digest, in order (each one was
		 * checked against chunk_sha256 when it came or on resume) */
		uint8_t md[FWG_SHA256_LEN];
		cli_sha256_final(&d->whole, md);
		d->hashed = HASHED_NONE;    /* final: the context is spent */
		if(fstat(d->bin_fd, &st) != 0) r = FWG_R_INTERNAL;
		else if((uint64_t)st.st_size != d->m.size) r = FWG_R_IMAGE_SIZE;
		else r = fwg_ct_equal(md, d->m.sha256, FWG_SHA256_LEN) ? FWG_R_OK : FWG_R_IMAGE_DIGEST;
		/* chunks in order were not checked one by one: find the bad ones
		 * and fetch them again (or refuse, see locate_bad_chunks) */
		if(r == FWG_R_IMAGE_DIGEST && d->m.has_chunk_sha && locate_bad_chunks(d)) return;
	}else{
		/* the whole file, every chunk again (16 KiB reads: the heap stays
		 * within its bound) */
		r = cli_check_image(d->bin_fd, &d->m, d->mraw, d->mraw_len, 16384, &bad);
	}
	if(r != FWG_R_OK){
		char detail[64] = "";
		if(r == FWG_R_CHUNK_DIGEST) snprintf(detail, sizeof(detail), "chunk %" PRIu64, bad);
		uint8_t sha[FWG_SHA256_LEN];
		memcpy(sha, d->raw_sha, sizeof(sha));
		close_download(d, true);     /* the next attempt starts from scratch */
		refuse(d, sha, seq, version, r, detail);
		return;
	}
	const char *image = d->p_bin;
	bool ok = true;
	if(d->target){
		if(rename(d->p_bin, d->target) != 0){
			if(errno != EXDEV || copy_file(d->p_bin, d->target) != 0){
				cli_err("cannot install to '%s': %s", d->target, strerror(errno));
				ok = false;
			}
		}
		if(ok){
			cli_fsync_dir_of(d->target);
			image = d->target;
		}
	}
	if(ok && d->exec && run_hook(d, image) != 0){
		cli_err("the --exec hook '%s' failed for '%s'", d->exec, image);
		ok = false;
	}
	if(ok && write_installed(d, seq) != 0){
		cli_err("cannot record the installed sequence in '%s': %s", d->p_installed, strerror(errno));
		ok = false;
	}
	uint32_t fetched = d->fetched, total = d->m.nchunks, present = d->present_at_start, ooo = d->out_of_order;
	if(!ok){
		memcpy(d->refused_sha, d->raw_sha, FWG_SHA256_LEN);
		close_download(d, true);
		d->has_refused = true;
		report(d, FWG_ST_FAILED, seq, version, -1, "install_failed");
		if(d->once) d->result = 1;
		return;
	}
	d->installed = seq;
	close_download(d, true);
	cli_fsync_dir_of(d->p_manifest);
	if(ooo > 0) printf("%" PRIu32 " chunks came out of order (each checked against its chunk_sha256)\n", ooo);
	printf("installed sequence %" PRIu64 " (version %s): fetched %" PRIu32 " of %" PRIu32
			" chunks (%" PRIu32 " were already present)\n", seq, version, fetched, total, present);
	fflush(stdout);
	report(d, FWG_ST_INSTALLED, seq, version, 100, NULL);
	if(d->once) d->result = 0;
}

/* Chunk i was bad (r): fetch it again once; the second time, refuse the
 * manifest (the good chunks stay in the staging file for a later attempt). */
static void fail_chunk(struct dev *d, uint32_t i, enum fwg_reason r)
{
	if(d->retries[i]++ < 1){
		fprintf(stderr, "fwguard device: chunk %" PRIu32 ": %s, fetching it again\n", i, fwg_reason_str(r));
		resubscribe_chunk(d, i);
		return;
	}
	char detail[32];
	snprintf(detail, sizeof(detail), "chunk %" PRIu32, i);
	uint64_t seq = d->m.sequence;
	char version[FWG_ID_MAX + 1];
	snprintf(version, sizeof(version), "%s", d->m.version);
	uint8_t sha[FWG_SHA256_LEN];
	memcpy(sha, d->raw_sha, sizeof(sha));
	close_download(d, false);   /* keep the good chunks for a later attempt */
	refuse(d, sha, seq, version, r, detail);
}

static int progress_pct(struct dev *d)
{
	return (int)((uint64_t)d->nhave * 100 / (d->m.nchunks ? d->m.nchunks : 1));
}

/* A chunk's PUBLISH begins (len: its payload length): stream it, or not.
 * The next chunk of the running image digest goes into that digest only:
 * one SHA-256 pass per byte. Its own digest is implied when the image
 * digest matches the signed sha256 at the end, and checked (from the
 * staging file) only if it does not: locate_bad_chunks(). A chunk out of
 * order is checked against chunk_sha256 as it comes and read back into the
 * image digest when the gap before it closes. Each piece is written at its
 * offset in the staging file once the socket read it came in is parsed:
 * the pieces of one read that follow each other in the file (the end of a
 * chunk and the start of the next) in one pwritev (wq_flush). */
static enum mqttc_take chunk_begin(struct dev *d, const struct fwg_topic *t, uint32_t len)
{
	if(!d->active || t->sequence != d->m.sequence || len == 0) return MQTTC_DISCARD; /* 0: the broker clearing */
	if(t->index >= d->m.nchunks) return MQTTC_DISCARD;
	uint32_t i = (uint32_t)t->index;
	if(bit_get(d->have, i)) return MQTTC_DISCARD;      /* already in the bitmap */
	if(len != fwg_manifest_chunk_len(&d->m, i)){
		fail_chunk(d, i, FWG_R_CHUNK_LENGTH);
		return MQTTC_DISCARD;
	}
	d->rx_index = i;
	d->rx_in_order = i == d->hashed;
	d->rx_failed = false;
	d->rx_off = (uint64_t)i * d->m.chunk_size;
	if(d->rx_in_order){
		/* a chunk cut off (connection lost) or not written must not stay
		 * in the image digest: keep it as it was before this chunk */
		if(cli_sha256_copy(&d->saved, &d->whole) != 0) d->rx_in_order = false;
	}
	if(!d->rx_in_order && d->m.has_chunk_sha && cli_sha256_init(&d->chunk) != 0){
		cli_err("out of memory");
		return MQTTC_DISCARD;
	}
	d->rx = RX_CHUNK;
	return MQTTC_STREAM;
}

static void chunk_data(struct dev *d, const uint8_t *p, size_t n)
{
	if(d->wq_n > 0 && (d->wq_n == WQ_MAX || d->wq_off + d->wq_len != d->rx_off)) wq_flush(d);
	if(d->rx_failed) return;
	if(d->rx_in_order) cli_sha256_update(&d->whole, p, n);
	else if(d->m.has_chunk_sha) cli_sha256_update(&d->chunk, p, n);
	/* written by wq_flush(), with what follows it in the file */
	if(d->wq_n == 0) d->wq_off = d->rx_off;
	d->wq[d->wq_n].iov_base = (void *)p;
	d->wq[d->wq_n++].iov_len = n;
	d->wq_len += n;
	d->rx_off += n;
}

/* --max-rate: hold the loop so that the average stays under the rate */
static void rate_limit(struct dev *d, uint64_t len)
{
	if(d->rate_bytes == 0) d->rate_t0 = cli_mono();
	d->rate_bytes += len;
	double ahead = (double)d->rate_bytes / (double)d->max_rate - (cli_mono() - d->rate_t0);
	if(ahead > 0){
		bitmap_flush(d);    /* the chunks so far are on record while it waits */
		if(ahead > 5) ahead = 5;
		struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

/* The chunk's payload is complete (ok) or was cut off. */
static void chunk_end(struct dev *d, bool ok)
{
	uint32_t i = d->rx_index;
	bool in_order = d->rx_in_order;
	/* in its turn when it began; a failed write since (wq_failed) may have
	 * given the running digest up, and with it the only check of this chunk */
	if(in_order && d->hashed != i) ok = false;
	if(!ok || d->rx_failed){
		/* not marked: fetched again (after a reconnect, or a restart) */
		if(in_order && cli_sha256_copy(&d->whole, &d->saved) != 0) d->hashed = HASHED_NONE;
		return;
	}
	if(!in_order && d->m.has_chunk_sha){
		uint8_t md[FWG_SHA256_LEN];
		cli_sha256_final(&d->chunk, md);
		if(!chunk_matches(d, i, md)){
			fail_chunk(d, i, FWG_R_CHUNK_DIGEST);
			return;
		}
	}
	if(!in_order) d->out_of_order++;
	uint64_t len = fwg_manifest_chunk_len(&d->m, i);
#ifdef SYNC_FILE_RANGE_WRITE
	d->unsynced += len;
	if(d->unsynced >= WRITEBACK_BYTES){
		d->unsynced = 0;
		(void)sync_file_range(d->bin_fd, 0, 0, SYNC_FILE_RANGE_WRITE);   /* a hint: fsync() decides */
	}
#endif
	bit_set(d->have, i);
	bitmap_mark(d, i);
	d->nhave++;
	d->fetched++;
	d->last_progress = cli_mono();
	if(in_order){
		d->hashed++;
		catch_up(d);     /* the chunks that came before their turn */
	}
	if(d->outstanding > 0) d->outstanding--;
	/* (after the marking: a write that fails while it waits unmarks) */
	if(d->max_rate) rate_limit(d, len);
	int pct = progress_pct(d);
	if(pct / 10 != d->last_pct / 10 && d->nhave < d->m.nchunks && cli_mono() - d->last_report >= PROGRESS_SECS){
		d->last_pct = pct;
		report(d, FWG_ST_DOWNLOADING, d->m.sequence, d->m.version, pct, NULL);
	}
	if(d->nhave == d->m.nchunks) finish(d);
	else if(d->outstanding <= d->window / 2) subscribe_more(d);
}

/* The manifest being started becomes staging.manifest, mapped (d->mraw):
 * incoming.manifest, which holds exactly these bytes, is made durable and
 * renamed, its mapping kept; otherwise (it came in memory, or the rename
 * failed) written afresh. 0 / -1. */
static int keep_manifest(struct dev *d, const uint8_t *raw, size_t len, struct incoming *in)
{
	if(in != NULL && fsync(in->fd) == 0 && rename(d->p_incoming, d->p_manifest) == 0){
		in->adopted = true;         /* file_manifest_end() neither unmaps nor removes it */
		d->mraw = raw;
		d->mraw_len = len;
		d->mraw_heap = in->heap;
		return cli_fsync_dir_of(d->p_manifest);
	}
	return cli_write_atomic(d->p_manifest, raw, len, 0600) != 0 ? -1 : map_manifest(d, len);
}

/* A verified manifest: start (or resume) its download (in: as for on_manifest). */
static void start_download(struct dev *d, const uint8_t *raw, size_t len, const uint8_t sha[FWG_SHA256_LEN],
		struct fwg_manifest *m, struct incoming *in)
{
	close_download(d, false);
	memcpy(d->raw_sha, sha, FWG_SHA256_LEN);
	d->m = *m;              /* takes ownership of m->chunk_sha */
	d->active = true;
	memset(d->have, 0, sizeof(d->have));
	memset(d->subscribed, 0, sizeof(d->subscribed));
	memset(d->retries, 0, sizeof(d->retries));
	d->nhave = d->outstanding = d->fetched = d->out_of_order = 0;
	d->last_pct = -1;
	d->sub_all = d->no_sub_all = false;
	d->hashed = 0;
	d->unsynced = 0;
	d->last_progress = cli_mono();
	if(cli_sha256_init(&d->whole) != 0) d->hashed = HASHED_NONE;

	/* the same manifest as the staging one? then resume (and keep it
	 * mapped: the chunk digests are read from it) */
	bool resume = map_manifest(d, len) == 0 && memcmp(d->mraw, raw, len) == 0;
	size_t bmlen = (d->m.nchunks + 7) / 8;
	if(resume){
		d->bin_fd = open(d->p_bin, O_RDWR | O_CLOEXEC);
		d->bitmap_fd = open(d->p_bitmap, O_RDWR | O_CLOEXEC);
		struct stat st;
		if(d->bin_fd < 0 || d->bitmap_fd < 0 || fstat(d->bin_fd, &st) != 0 || (uint64_t)st.st_size != d->m.size ||
				pread(d->bitmap_fd, d->have, bmlen, 0) != (ssize_t)bmlen){
			resume = false;
			if(d->bin_fd >= 0) close(d->bin_fd);
			if(d->bitmap_fd >= 0) close(d->bitmap_fd);
			memset(d->have, 0, sizeof(d->have));
		}
	}
	if(resume){
		/* re-check every chunk the bitmap claims (it is not fsync'd); the
		 * ones in order from chunk 0 go into the image digest as well */
		for(uint32_t i = 0; i < d->m.nchunks; i++){
			if(!bit_get(d->have, i)) continue;
			bool in_order = i == d->hashed;
			if(d->m.has_chunk_sha){
				uint8_t md[FWG_SHA256_LEN];
				if(cli_sha256_init(&d->chunk) != 0 ||
						hash_from_file(d, i, in_order ? &d->whole : NULL, &d->chunk) != 0 ||
						(cli_sha256_final(&d->chunk, md), !chunk_matches(d, i, md))){
					bit_clr(d->have, i);
					if(in_order) d->hashed = HASHED_NONE;
					continue;
				}
			}else if(in_order && hash_from_file(d, i, &d->whole, NULL) != 0){
				in_order = false;
				d->hashed = HASHED_NONE;
			}
			if(in_order) d->hashed++;
			d->nhave++;
		}
		for(size_t b = (d->m.nchunks + 7) / 8 * 8; b < sizeof(d->have) * 8; b++) bit_clr(d->have, b);
		if(pwrite(d->bitmap_fd, d->have, bmlen, 0) != (ssize_t)bmlen)
			cli_err("cannot write '%s': %s", d->p_bitmap, strerror(errno));
		printf("resuming sequence %" PRIu64 ": %" PRIu32 " of %" PRIu32 " chunks present, fetching %" PRIu32 "\n",
				d->m.sequence, d->nhave, d->m.nchunks, d->m.nchunks - d->nhave);
	}else{
		unlink(d->p_manifest);
		d->bin_fd = open(d->p_bin, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		d->bitmap_fd = open(d->p_bitmap, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		uint8_t zero[BITMAP_BYTES] = { 0 };
		if(d->bin_fd < 0 || d->bitmap_fd < 0 || ftruncate(d->bin_fd, (off_t)d->m.size) != 0 ||
				cli_write_all(d->bitmap_fd, zero, bmlen) != 0 || fsync(d->bitmap_fd) != 0 ||
				fsync(d->bin_fd) != 0 || keep_manifest(d, raw, len, in) != 0){
			cli_err("cannot set up the staging files in '%s': %s", d->statedir, strerror(errno));
			close_download(d, true);
			if(d->once) d->result = 2;
			return;
		}
		printf("fetching sequence %" PRIu64 " (version %s): %" PRIu32 " chunks, %" PRIu64 " bytes\n",
				d->m.sequence, d->m.version, d->m.nchunks, d->m.size);
	}
	fflush(stdout);
	d->present_at_start = d->nhave;
	d->last_pct = progress_pct(d);
	report(d, FWG_ST_DOWNLOADING, d->m.sequence, d->m.version, d->last_pct, NULL);
	if(d->nhave == d->m.nchunks) finish(d);
	else subscribe_more(d);
}

/* in: the raw bytes map incoming.manifest (NULL: they came in memory) */
static void on_manifest(struct dev *d, const uint8_t *raw, size_t len, struct incoming *in)
{
	if(len == 0) return;
	uint8_t sha[FWG_SHA256_LEN];
	fwg_sha256(raw, len, sha);
	if(d->active && fwg_ct_equal(sha, d->raw_sha, FWG_SHA256_LEN)){
		subscribe_more(d);    /* the same manifest (after a reconnect): carry on */
		return;
	}
	if(d->has_refused && fwg_ct_equal(sha, d->refused_sha, FWG_SHA256_LEN)) return;
	struct fwg_manifest m;
	bool parsed = false;
	char detail[256];
	enum fwg_reason r = cli_check_manifest(raw, len, d->vendor, d->model, &d->pins, d->installed,
			cli_now(), d->skew, &m, &parsed, detail, sizeof(detail));
	if(r == FWG_R_SEQUENCE_NOT_NEWER && m.sequence == d->installed){
		/* up to date */
		fwg_manifest_free(&m);
		if(d->once && d->result < 0){
			printf("up to date: sequence %" PRIu64 " is installed\n", d->installed);
			fflush(stdout);
			report(d, FWG_ST_INSTALLED, d->installed, NULL, 100, NULL);
			d->result = 0;
		}
		return;
	}
	if(r != FWG_R_OK){
		uint64_t seq = parsed ? m.sequence : 0;
		char version[FWG_ID_MAX + 1] = "";
		if(parsed) snprintf(version, sizeof(version), "%s", m.version);
		if(parsed) fwg_manifest_free(&m);
		refuse(d, sha, seq, parsed ? version : NULL, r, detail);
		return;
	}
	start_download(d, raw, len, sha, &m, in);
}

/* ---------------------------------------------------------- callbacks */
static void on_connack(void *ud, int rc)
{
	struct dev *d = ud;
	if(rc != 0){
		cli_err("connection refused by %s:%d: %s", d->mq.host, d->mq.port, mosquitto_reason_string(rc));
		if(d->once && (rc == MQTT_RC_NOT_AUTHORIZED || rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD)) d->result = 2;
		return;
	}
	d->connected = true;
	/* clean start: the chunk subscriptions are gone */
	memset(d->subscribed, 0, sizeof(d->subscribed));
	d->outstanding = 0;
	d->sub_all = false;
	d->last_progress = cli_mono();
	char *one[1] = { d->manifest_topic };
	mqttc_subscribe(d->mc, NULL, one, 1, 1);
	send_status(d);
	/* chunks are subscribed again when the manifest arrives */
}

static void on_puback(void *ud, uint16_t mid, int reason)
{
	struct dev *d = ud;
	if(mid == d->status_mid){
		d->status_acked = true;
		if(reason >= 0x80) cli_err("status report refused: PUBACK 0x%02x (%s)", (unsigned)reason, mosquitto_reason_string(reason));
	}
}

/* An incoming PUBLISH: the manifest written to incoming.manifest (at most
 * FWG_MANIFEST_MAX bytes; a larger one only hashed), a chunk streamed to the
 * staging file, anything else skipped. */
static enum mqttc_take on_begin(void *ud, const char *topic, int qos, bool retain, uint32_t len)
{
	struct dev *d = ud;
	struct fwg_topic t;
	size_t plen = strlen(d->mq.prefix);
	enum fwg_topic_kind k = fwg_topic_parse(d->mq.prefix, plen, topic, &t);
	if(k == FWG_T_MANIFEST && !strcmp(topic, d->manifest_topic)){
		if(len == 0) return MQTTC_DISCARD;        /* the broker clearing it */
		if(len <= FWG_MANIFEST_MAX){
			d->rx_fd = open(d->p_incoming, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if(d->rx_fd >= 0){
				d->rx = RX_MANIFEST;
				d->rx_err = false;
				d->rx_len = len;
				d->rx_got = 0;
				return MQTTC_STREAM;
			}
			cli_err("cannot write '%s': %s", d->p_incoming, strerror(errno));
			return MQTTC_BUFFER;    /* then in memory */
		}
		/* too large to hold: hashed as it comes, to be refused once */
		if(cli_sha256_init(&d->rx_sha) != 0) return MQTTC_DISCARD;
		d->rx = RX_MANIFEST_BIG;
		return MQTTC_STREAM;
	}
	if(k == FWG_T_CHUNK) return chunk_begin(d, &t, len);
	return MQTTC_DISCARD;
}

static void on_consumed(void *ud)
{
	wq_flush(ud);
}

static void on_data(void *ud, const uint8_t *p, size_t n)
{
	struct dev *d = ud;
	switch(d->rx){
	case RX_CHUNK:
		chunk_data(d, p, n);
		break;
	case RX_MANIFEST:
		if(!d->rx_err && cli_write_all(d->rx_fd, p, n) != 0){
			cli_err("cannot write '%s': %s", d->p_incoming, strerror(errno));
			d->rx_err = true;
		}
		d->rx_got += n;
		break;
	case RX_MANIFEST_BIG:
		cli_sha256_update(&d->rx_sha, p, n);
		break;
	case RX_NONE:
		break;
	}
}

/* A manifest above FWG_MANIFEST_MAX came whole: refused as the manifest
 * rules refuse it (too_large), once per content. */
static void big_manifest_end(struct dev *d, bool ok)
{
	if(!ok) return;
	uint8_t sha[FWG_SHA256_LEN];
	cli_sha256_final(&d->rx_sha, sha);
	if(d->has_refused && fwg_ct_equal(sha, d->refused_sha, FWG_SHA256_LEN)) return;
	refuse(d, sha, 0, NULL, FWG_R_TOO_LARGE, "the manifest breaks the rules of PROTOCOL §5");
}

/* A manifest written to incoming.manifest: checked from a read-only
 * mapping (not copied to the heap), then the file is removed, unless its
 * download started with it (keep_manifest: it is staging.manifest now). */
static void file_manifest_end(struct dev *d, bool ok)
{
	int fd = d->rx_fd;
	size_t len = d->rx_got;
	d->rx_fd = -1;
	struct incoming in = { fd, false, false };
	if(ok && !d->rx_err && len == d->rx_len && len > 0){
		const uint8_t *raw = map_file(fd, d->p_incoming, len, &in.heap);
		if(raw != NULL) on_manifest(d, raw, len, &in);
		if(!in.adopted) release_file(raw, len, in.heap);
	}
	close(fd);
	if(!in.adopted) unlink(d->p_incoming);
}

static void on_end(void *ud, bool ok, const uint8_t *buf, size_t len)
{
	struct dev *d = ud;
	if(buf != NULL){
		if(ok) on_manifest(d, buf, len, NULL);
		return;
	}
	int rx = d->rx;
	d->rx = RX_NONE;
	switch(rx){
	case RX_CHUNK: chunk_end(d, ok); break;
	case RX_MANIFEST: file_manifest_end(d, ok); break;
	case RX_MANIFEST_BIG: big_manifest_end(d, ok); break;
	default: break;
	}
}

/* ---------------------------------------------------------------- main */
int device_main(int argc, char *argv[])
{
	enum { O_VENDOR = OPT_LOCAL_FIRST, O_MODEL, O_DEVICE, O_PIN, O_STATE, O_TARGET, O_EXEC, O_ONCE,
		O_TIMEOUT, O_WINDOW, O_SKEW, O_BACKOFF, O_RATE, O_RBUF, O_HELP };
	static const struct option opts[] = {
		CLI_MQTT_LONGOPTS,
		{ "vendor", required_argument, NULL, O_VENDOR },
		{ "model", required_argument, NULL, O_MODEL },
		{ "device", required_argument, NULL, O_DEVICE },
		{ "pin", required_argument, NULL, O_PIN },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "target", required_argument, NULL, O_TARGET },
		{ "exec", required_argument, NULL, O_EXEC },
		{ "once", no_argument, NULL, O_ONCE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "skew", required_argument, NULL, O_SKEW },
		{ "max-backoff", required_argument, NULL, O_BACKOFF },
		{ "max-rate", required_argument, NULL, O_RATE },
		{ "read-buffer", required_argument, NULL, O_RBUF },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	static struct dev d;    /* static: the bitmaps stay off the stack */
	memset(&d, 0, sizeof(d));
	cli_mqtt_defaults(&d.mq);
	d.window = DEFAULT_WINDOW;
	d.skew = 300;
	d.bin_fd = d.bitmap_fd = d.rx_fd = -1;
	d.result = -1;
	/* progress lines go out a line at a time, from a static buffer (stdio
	 * would otherwise take 4 KiB of heap for a file or pipe) */
	static char outbuf[256];
	setvbuf(stdout, outbuf, _IOLBF, sizeof(outbuf));
	d.status_mid = -1;
	uint64_t timeout = 0, window = DEFAULT_WINDOW, skew = 300, max_backoff = 30, rbuf = MQTTC_RBUF;
	int c, rc = EXIT_USAGE;
	/* the keys are loaded after the options: OpenSSL is set up first */
	const char *pin_args[CLI_MAX_PINS + 1];
	size_t npins = 0;
	opterr = 0;
	while((c = getopt_long(argc, argv, ":" CLI_MQTT_SHORTOPTS, opts, NULL)) != -1){
		int r = cli_mqtt_option(&d.mq, c, optarg);
		if(r < 0) goto out;
		if(r > 0) continue;
		switch(c){
		case O_VENDOR: if(cli_check_id("vendor", optarg)) goto out; d.vendor = optarg; break;
		case O_MODEL: if(cli_check_id("model", optarg)) goto out; d.model = optarg; break;
		case O_DEVICE: if(cli_check_id("device", optarg)) goto out; d.device = optarg; break;
		case O_PIN: if(npins < CLI_MAX_PINS + 1) pin_args[npins++] = optarg; break;
		case O_STATE: d.statedir = optarg; break;
		case O_TARGET: d.target = optarg; break;
		case O_EXEC: d.exec = optarg; break;
		case O_ONCE: d.once = true; break;
		case O_TIMEOUT: if(cli_parse_u64("timeout", optarg, 86400 * 365, &timeout)) goto out; break;
		case O_WINDOW:
			if(cli_parse_u64("window", optarg, FWG_MAX_CHUNKS, &window)) goto out;
			if(window == 0){ cli_err("invalid window '%s' (1..%d)", optarg, FWG_MAX_CHUNKS); goto out; }
			d.window_set = true;
			break;
		case O_SKEW: if(cli_parse_u64("skew", optarg, 86400 * 365, &skew)) goto out; break;
		case O_BACKOFF:
			if(cli_parse_u64("maximum backoff", optarg, 3600, &max_backoff)) goto out;
			if(max_backoff == 0){ cli_err("invalid maximum backoff '%s' (1..3600)", optarg); goto out; }
			break;
		case O_RATE:
			if(cli_parse_u64("maximum rate", optarg, FWG_INT_MAX, &d.max_rate)) goto out;
			if(d.max_rate < 1024){ cli_err("invalid maximum rate '%s' (at least 1024 bytes/s)", optarg); goto out; }
			break;
		case O_RBUF:
			if(cli_parse_u64("read buffer", optarg, MQTTC_RBUF_MAX, &rbuf)) goto out;
			if(rbuf < MQTTC_RBUF_MIN){
				cli_err("invalid read buffer '%s' (%u..%u)", optarg, MQTTC_RBUF_MIN, MQTTC_RBUF_MAX);
				goto out;
			}
			break;
		case O_HELP: cli_usage(usage); rc = EXIT_OK; goto out;
		default: cli_bad_option(argc, argv, c); cli_usage(usage); goto out;
		}
	}
	if(optind != argc){
		cli_err("unexpected argument '%s'", argv[optind]);
		cli_usage(usage);
		goto out;
	}
	/* Without TLS the agent needs libcrypto for SHA-256 and P-256 only:
	 * neither the OpenSSL configuration file nor the error strings (nothing
	 * prints them) are loaded, which keeps them off the heap. With TLS,
	 * libssl sets OpenSSL up as usual (configuration, messages). */
	if(!d.mq.cafile && !d.mq.capath && !d.mq.cert && !d.mq.key)
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
				OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL);
	for(size_t i = 0; i < npins; i++)
		if(cli_pins_add(&d.pins, pin_args[i])) goto out;
	if(!d.vendor || !d.model || !d.device || !d.statedir || d.pins.n == 0 || (!d.target && !d.exec)){
		cli_err("--vendor, --model, --device, --pin, --state-dir and --target or --exec are required");
		cli_usage(usage);
		goto out;
	}
	d.window = (unsigned)window;
	d.skew = (int64_t)skew;
	char user[3 * FWG_ID_MAX + 3];
	snprintf(user, sizeof(user), "%s/%s/%s", d.vendor, d.model, d.device);
	if(d.mq.username == NULL) d.mq.username = user;
	snprintf(d.manifest_topic, sizeof(d.manifest_topic), "%s/%s/%s/manifest", d.mq.prefix, d.vendor, d.model);
	snprintf(d.status_topic, sizeof(d.status_topic), "%s/%s/%s/status/%s", d.mq.prefix, d.vendor, d.model, d.device);

	if(mkdir(d.statedir, 0700) != 0 && errno != EEXIST){
		cli_err("cannot create state directory '%s': %s", d.statedir, strerror(errno));
		goto out;
	}
	d.p_installed = path_in(d.statedir, "installed.seq");
	d.p_manifest = path_in(d.statedir, "staging.manifest");
	d.p_bin = path_in(d.statedir, "staging.bin");
	d.p_bitmap = path_in(d.statedir, "staging.bitmap");
	d.p_incoming = path_in(d.statedir, "incoming.manifest");
	if(!d.p_installed || !d.p_manifest || !d.p_bin || !d.p_bitmap || !d.p_incoming){
		cli_err("out of memory");
		goto out;
	}
	d.installed = read_installed(&d);
	if(d.installed == UINT64_MAX) goto out;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char defid[256];
	snprintf(defid, sizeof(defid), "fwgdev/%s/%s/%s", d.vendor, d.model, d.device);
	bool tls = d.mq.cafile || d.mq.capath || d.mq.cert || d.mq.key;
	if(d.mq.port < 0) d.mq.port = tls ? 8883 : 1883;
	struct mqttc_opts mo = {
		.host = d.mq.host, .port = d.mq.port, .bind_address = d.mq.bind_address,
		.client_id = d.mq.client_id ? d.mq.client_id : defid,
		.username = d.mq.username, .password = d.mq.password, .keepalive = d.mq.keepalive,
		.cafile = d.mq.cafile, .capath = d.mq.capath, .cert = d.mq.cert, .key = d.mq.key,
		.insecure = d.mq.insecure, .rbuf = (size_t)rbuf,
	};
	/* PUBACKs and SUBSCRIBEs are small: the client sets TCP_NODELAY, so that
	 * Nagle does not hold them until the broker's delayed ACK (the broker
	 * waits for the PUBACKs to send more) */
	struct mqttc_cb cb = {
		.ud = &d, .buffer_max = FWG_MANIFEST_MAX,
		.begin = on_begin, .data = on_data, .end = on_end, .consumed = on_consumed,
		.connack = on_connack, .puback = on_puback,
	};
	d.mc = mqttc_new(&mo, &cb);
	if(d.mc == NULL) goto out;
	fprintf(stderr, "fwguard device: %s/%s/%s, installed sequence %" PRIu64 ", broker %s:%d\n",
			d.vendor, d.model, d.device, d.installed, d.mq.host, d.mq.port);

	double deadline = timeout ? cli_mono() + (double)timeout : 0;
	double backoff = 0.5, done_at = 0;
	bool need_connect = true;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	while(!g_stop){
		if(deadline && cli_mono() > deadline){
			cli_err("timed out after %" PRIu64 " s (%s)", timeout, d.active ? "download incomplete" : "no usable manifest");
			rc = EXIT_REJECT;
			goto disconnect;
		}
		if(d.result >= 0){
			/* --once: finished; wait (bounded) for the PUBACK of the last status */
			if(done_at == 0) done_at = cli_mono();
			if(d.status_acked || d.result == 2 || cli_mono() - done_at > 10 || (!d.connected && cli_mono() - done_at > 2)){
				rc = d.result;
				goto disconnect;
			}
		}
		if(need_connect){
			if(mqttc_connect(d.mc) != 0){
				double wait = backoff * (0.5 + (double)(rand_r(&seed) % 1000) / 1000.0);
				fprintf(stderr, "fwguard device: cannot connect to %s:%d (%s), retrying in %.1f s\n",
						d.mq.host, d.mq.port, mqttc_error(d.mc), wait);
				struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
				nanosleep(&ts, NULL);   /* reconnect backoff */
				backoff = backoff * 2 > (double)max_backoff ? (double)max_backoff : backoff * 2;
				continue;
			}
			need_connect = false;
		}
		int r = mqttc_loop(d.mc, 500);
		bitmap_flush(&d);
		if(d.connected) backoff = 0.5;
		check_stall(&d);
		if(r != 0){
			d.connected = false;
			if(g_stop) break;
			need_connect = true;
			if(d.result >= 0) continue;
			double wait = backoff * (0.5 + (double)(rand_r(&seed) % 1000) / 1000.0);
			fprintf(stderr, "fwguard device: connection lost (%s), reconnecting in %.1f s\n",
					mqttc_error(d.mc), wait);
			struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
			nanosleep(&ts, NULL);       /* reconnect backoff */
			backoff = backoff * 2 > (double)max_backoff ? (double)max_backoff : backoff * 2;
		}
	}
	rc = EXIT_OK;
disconnect:
	if(d.mc && mqttc_open(d.mc)){
		/* the PUBACKs owed have been sent as each message ended */
		mqttc_disconnect(d.mc);
	}
out:
	close_download(&d, false);
	mqttc_destroy(d.mc);
	cli_sha256_free(&d.rx_sha);
	cli_pins_free(&d.pins);
	free(d.last_status);
	free(d.p_installed);
	free(d.p_manifest);
	free(d.p_bin);
	if(d.rx_fd >= 0){
		close(d.rx_fd);
		unlink(d.p_incoming);
	}
	free(d.p_bitmap);
	free(d.p_incoming);
	return rc;
}
