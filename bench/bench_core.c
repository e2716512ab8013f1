/* Micro-benchmarks of the core operations on the broker's hot path:
 * the checks of a manifest accept, the durable state write, and a 64 KiB
 * chunk check. Median of repeated runs, bounded in count.
 *   bench_core [VECTORS_DIR]
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "fwguard/manifest.h"
#include "fwguard/policy.h"
#include "fwguard/state.h"
#include "fwguard/tag.h"
#include "fwguard/topic.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

/* A manifest of n chunks signed with a fresh key. */
static char *make_manifest(EVP_PKEY *key, uint32_t n, size_t *len)
{
	struct fwg_manifest m;
	memset(&m, 0, sizeof(m));
	m.format = 1;
	strcpy(m.vendor, "acme");
	strcpy(m.model, "thermo-x1");
	strcpy(m.version, "2.0.0");
	m.sequence = 8;
	m.chunk_size = 65536;
	m.size = (uint64_t)n * 65536;
	m.issued = (uint64_t)time(NULL) - 10;
	m.expires = m.issued + 86400;
	fwg_key_id(key, m.key_id);
	m.nchunks = n;
	m.has_chunk_sha = true;
	m.n_chunk_sha = n;
	m.chunk_sha = calloc(n, 32);
	for(uint32_t i = 0; i < n; i++) memset(m.chunk_sha[i], (int)i, 32);
	fwg_manifest_sign(&m, key);
	char *json = fwg_manifest_to_json(&m);
	*len = strlen(json);
	fwg_manifest_free(&m);
	return json;
}

#define RUNS 201

static void bench_manifest(const char *label, const uint8_t *raw, size_t len, EVP_PKEY *pub)
{
	double t[RUNS];
	struct fwg_limits lim = { 300, 268435456, 1048576 };
	for(int r = 0; r < RUNS; r++){
		struct fwg_manifest m;
		double t0 = now_us();
		if(fwg_manifest_parse(raw, len, "acme", "thermo-x1", &m) != FWG_R_OK
				|| fwg_manifest_verify(&m, pub) != FWG_R_OK
				|| fwg_policy_manifest(&m, 1, 0, &lim, time(NULL)) != FWG_R_OK){
			fprintf(stderr, "manifest check failed\n");
			exit(1);
		}
		t[r] = now_us() - t0;
		fwg_manifest_free(&m);
	}
	printf("%-44s %9.1f us  (%zu bytes)\n", label, median(t, RUNS), len);
}

int main(int argc, char **argv)
{
	const char *vec = argc > 1 ? argv[1] : "tests/vectors";
	char path[512];
	size_t len;

	/* 1. manifest accept: parse + signature + policy */
	EVP_PKEY *key = fwg_key_generate();
	char *big = make_manifest(key, 1024, &len);
	bench_manifest("manifest check, 1024 chunk digests", (uint8_t *)big, len, key);
	char *small = make_manifest(key, 4, &len);
	bench_manifest("manifest check, 4 chunk digests", (uint8_t *)small, len, key);

	/* 2. the durable state write of an accept (tmp, fsync, rename, fsync dir) */
	char dir[] = "/tmp/fwg-bench-XXXXXX";
	if(!mkdtemp(dir)) return 2;
	snprintf(path, sizeof(path), "%s/fwguard.state", dir);
	struct fwg_state *st;
	char err[256];
	fwg_state_load(path, &st, err, sizeof(err));
	struct fwg_model_state next;
	memset(&next, 0, sizeof(next));
	strcpy(next.vendor, "acme");
	strcpy(next.model, "thermo-x1");
	next.raw = (uint8_t *)small;
	next.raw_len = strlen(small);
	fwg_manifest_parse(next.raw, next.raw_len, "acme", "thermo-x1", &next.m);
	next.sequence = next.m.sequence;
	double ts[51];
	for(int r = 0; r < 51; r++){
		double t0 = now_us();
		fwg_state_save(st, &next);
		ts[r] = now_us() - t0;
	}
	printf("%-44s %9.1f us\n", "state file write + fsync (small state)", median(ts, 51));
	fwg_manifest_free(&next.m);
	fwg_state_free(st);
	unlink(path);
	rmdir(dir);

	/* 3. a 64 KiB chunk: SHA-256 once, tag HMAC, chunk rules, digest */
	uint8_t *chunk = malloc(65536);
	for(int i = 0; i < 65536; i++) chunk[i] = (uint8_t)(i * 7);
	uint8_t k[32], sha[32], mac[32];
	char tag[65], tsbuf[24];
	memset(k, 0x42, 32);
	struct fwg_tag_ctx *tc = fwg_tag_ctx_new(k);
	const char *topic = "fw/acme/thermo-x1/chunk/8/3";
	snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)time(NULL));
	fwg_sha256(chunk, 65536, sha);
	fwg_tag_compute(tc, topic, tsbuf, sha, mac);
	fwg_hex_encode(mac, 32, tag);
	struct fwg_manifest cm;
	fwg_manifest_parse((uint8_t *)small, strlen(small), "acme", "thermo-x1", &cm);
	memcpy(cm.chunk_sha[3], sha, 32);
	double tcs[RUNS], th[RUNS], tt[RUNS];
	for(int r = 0; r < RUNS; r++){
		struct fwg_topic t;
		double t0 = now_us();
		fwg_topic_parse("fw", 2, topic, &t);
		fwg_sha256(chunk, 65536, sha);
		double t1 = now_us();
		enum fwg_reason a = fwg_policy_chunk(&cm, t.sequence, t.index, 65536);
		enum fwg_reason b = fwg_policy_chunk_digest(&cm, t.index, sha);
		double t2 = now_us();
		enum fwg_reason c = fwg_tag_verify(tc, topic, tsbuf, strlen(tsbuf), tag, 64, sha, time(NULL), 300, mac);
		double t3 = now_us();
		if(a || b || c){
			fprintf(stderr, "chunk check failed %d %d %d\n", a, b, c);
			return 1;
		}
		tcs[r] = t3 - t0;
		th[r] = t1 - t0;
		tt[r] = t3 - t2;
	}
	printf("%-44s %9.1f us\n", "64 KiB chunk check (all of it)", median(tcs, RUNS));
	printf("%-44s %9.1f us\n", "  of which SHA-256 of the payload", median(th, RUNS));
	printf("%-44s %9.2f us\n", "  of which the tag HMAC + compare", median(tt, RUNS));
	fwg_manifest_free(&cm);
	fwg_tag_ctx_free(tc);
	free(chunk);
	free(big);
	free(small);
	EVP_PKEY_free(key);
	(void)vec;
	return 0;
}
