/* libFuzzer target: manifest parser (§5) and its lean twin, signing base,
 * signature check, policy (§6) and the JSON round trip.
 * SPDX-License-Identifier: Apache-2.0 */
#include <openssl/evp.h>
#include "fwguard/manifest.h"
#include "fwguard/policy.h"
#include "fwguard/keys.h"
#include "fuzz_common.h"

static EVP_PKEY *vendor_pub;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	size_t n = 0;
	char *b64 = fuzz_read_vector("vendor-sign.pub.b64", &n);
	while(n > 0 && (b64[n - 1] == '\n' || b64[n - 1] == '\r')) n--;
	if(fwg_key_parse_public_b64(b64, n, &vendor_pub) != 0) {
		fprintf(stderr, "fuzz: cannot parse vendor-sign.pub.b64\n");
		abort();
	}
	free(b64);
	return 0;
}

/* Every parsed field, compared exactly. */
static bool same_manifest(const struct fwg_manifest *a, const struct fwg_manifest *b)
{
	if(a->format != b->format || strcmp(a->vendor, b->vendor) || strcmp(a->model, b->model)
			|| strcmp(a->version, b->version) || a->sequence != b->sequence || a->size != b->size
			|| memcmp(a->sha256, b->sha256, sizeof(a->sha256)) || a->chunk_size != b->chunk_size
			|| a->issued != b->issued || a->expires != b->expires || strcmp(a->key_id, b->key_id)
			|| a->nchunks != b->nchunks || a->has_chunk_sha != b->has_chunk_sha
			|| a->n_chunk_sha != b->n_chunk_sha || a->sig_len != b->sig_len
			|| memcmp(a->sig, b->sig, a->sig_len))
		return false;
	if(a->n_chunk_sha && memcmp(a->chunk_sha, b->chunk_sha, (size_t)a->n_chunk_sha * sizeof(*a->chunk_sha)))
		return false;
	return true;
}

static void check_parsed(const struct fwg_manifest *m)
{
	FUZZ_CHECK(m->format == 1);
	FUZZ_CHECK(m->sequence >= 1 && m->sequence <= FWG_INT_MAX);
	FUZZ_CHECK(m->size >= 1 && m->size <= FWG_INT_MAX);
	FUZZ_CHECK(m->chunk_size >= FWG_CHUNK_SIZE_MIN && m->chunk_size <= FWG_CHUNK_SIZE_MAX);
	FUZZ_CHECK(m->expires > m->issued && m->expires <= FWG_INT_MAX);
	FUZZ_CHECK(strlen(m->key_id) == FWG_KEY_ID_LEN);
	FUZZ_CHECK(m->sig_len >= 8 && m->sig_len <= FWG_SIG_MAX);
	FUZZ_CHECK(m->nchunks >= 1 && m->nchunks <= FWG_MAX_CHUNKS);
	FUZZ_CHECK((uint64_t)m->nchunks == (m->size + m->chunk_size - 1) / m->chunk_size);
	FUZZ_CHECK(m->n_chunk_sha <= FWG_MAX_CHUNKS);
	FUZZ_CHECK(m->has_chunk_sha || m->n_chunk_sha == 0);
	FUZZ_CHECK(m->n_chunk_sha == 0 || m->chunk_sha != NULL);
	size_t vl = strlen(m->vendor), ml = strlen(m->model), verl = strlen(m->version);
	FUZZ_CHECK(vl >= 1 && vl <= FWG_ID_MAX && ml >= 1 && ml <= FWG_ID_MAX);
	FUZZ_CHECK(verl >= 1 && verl <= FWG_ID_MAX);
	/* chunk lengths add up to the size, and nothing past the last one */
	uint64_t total = 0;
	for(uint64_t i = 0; i < m->nchunks; i++) {
		uint64_t l = fwg_manifest_chunk_len(m, i);
		FUZZ_CHECK(l >= 1 && l <= m->chunk_size);
		total += l;
	}
	FUZZ_CHECK(total == m->size);
	FUZZ_CHECK(fwg_manifest_chunk_len(m, m->nchunks) == 0);
	FUZZ_CHECK(fwg_manifest_chunk_len(m, UINT64_MAX) == 0);
}

static void check_signing_base(const struct fwg_manifest *m)
{
	size_t blen = 0;
	char *base = fwg_manifest_signing_base(m, &blen);
	FUZZ_CHECK(base != NULL);
	FUZZ_CHECK(strlen(base) == blen);
	FUZZ_CHECK(strncmp(base, FWG_SIGN_PREFIX "\n", strlen(FWG_SIGN_PREFIX) + 1) == 0);
	size_t lf = 0;
	for(size_t i = 0; i < blen; i++) lf += base[i] == '\n';
	FUZZ_CHECK(lf == 11);                      /* 12 lines, no trailing LF */
	FUZZ_CHECK(blen == 0 || base[blen - 1] != '\n' || m->n_chunk_sha == 0);
	free(base);
}

/* Reference of fwg_policy_manifest in 128-bit arithmetic. */
static enum fwg_reason ref_policy(const struct fwg_manifest *m, uint64_t acc, uint64_t floor,
		const struct fwg_limits *lim, int64_t now)
{
	if(m->sequence <= acc) return FWG_R_SEQUENCE_NOT_NEWER;
	if(m->sequence < floor) return FWG_R_SEQUENCE_BELOW_FLOOR;
	if((__int128)m->issued > (__int128)now + lim->clock_skew) return FWG_R_ISSUED_IN_FUTURE;
	if((__int128)m->expires <= (__int128)now) return FWG_R_EXPIRED;
	if(m->size > lim->max_image_size) return FWG_R_IMAGE_TOO_LARGE;
	if(m->chunk_size > lim->max_chunk_size) return FWG_R_CHUNK_TOO_LARGE;
	if(m->has_chunk_sha && m->n_chunk_sha != m->nchunks) return FWG_R_CHUNK_DIGEST_COUNT;
	return FWG_R_OK;
}

static void check_policy(const struct fwg_manifest *m)
{
	const int64_t nows[] = { 1764115260, (int64_t)m->issued, (int64_t)m->issued - 301,
		(int64_t)m->expires, (int64_t)m->expires - 1, 0, -1, INT64_MIN, INT64_MAX };
	const int64_t skews[] = { 300, 0, -1, INT64_MAX, INT64_MIN };
	const uint64_t accs[] = { 0, m->sequence - 1, m->sequence };
	const uint64_t floors[] = { 0, m->sequence, m->sequence + 1 };
	struct fwg_limits lim = { 300, 268435456, FWG_CHUNK_SIZE_MAX };
	for(size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		for(size_t j = 0; j < sizeof(skews) / sizeof(skews[0]); j++) {
			lim.clock_skew = skews[j];
			for(size_t k = 0; k < 3; k++) {
				enum fwg_reason got = fwg_policy_manifest(m, accs[k], floors[k], &lim, nows[i]);
				FUZZ_CHECK(got == ref_policy(m, accs[k], floors[k], &lim, nows[i]));
			}
		}
	}
	lim.clock_skew = 300;
	lim.max_image_size = m->size - 1;
	FUZZ_CHECK(fwg_policy_manifest(m, 0, 0, &lim, (int64_t)m->issued) == FWG_R_IMAGE_TOO_LARGE);
	lim.max_image_size = m->size;
	lim.max_chunk_size = m->chunk_size - 1;
	FUZZ_CHECK(fwg_policy_manifest(m, 0, 0, &lim, (int64_t)m->issued) == FWG_R_CHUNK_TOO_LARGE);

	/* chunk rules of the last and one past the last chunk */
	uint64_t last = m->nchunks - 1;
	FUZZ_CHECK(fwg_policy_chunk(m, m->sequence, last, fwg_manifest_chunk_len(m, last)) == FWG_R_OK);
	FUZZ_CHECK(fwg_policy_chunk(m, m->sequence, m->nchunks, 0) == FWG_R_CHUNK_INDEX);
	FUZZ_CHECK(fwg_policy_chunk(m, m->sequence + 1, 0, m->chunk_size) == FWG_R_CHUNK_SEQUENCE);
	uint8_t zero[FWG_SHA256_LEN] = { 0 };
	enum fwg_reason d = fwg_policy_chunk_digest(m, last, zero);
	FUZZ_CHECK(d == FWG_R_OK || d == FWG_R_CHUNK_DIGEST || d == FWG_R_CHUNK_INDEX);
	if(!m->has_chunk_sha) FUZZ_CHECK(d == FWG_R_OK);
}

/* fwg_manifest_parse_lean: the same reason; on success the same fields,
 * every digest read back from the text equal to the copied one, and the
 * same signature result. */
static void check_lean(const uint8_t *data, size_t size, enum fwg_reason r1, const struct fwg_manifest *m)
{
	struct fwg_manifest l;
	enum fwg_reason rl = fwg_manifest_parse_lean(data, size, NULL, NULL, &l);
	FUZZ_CHECK(rl == r1);
	if(rl != FWG_R_OK) return;
	FUZZ_CHECK(l.has_chunk_sha == m->has_chunk_sha && l.n_chunk_sha == m->n_chunk_sha);
	FUZZ_CHECK(l.sequence == m->sequence && l.size == m->size && l.chunk_size == m->chunk_size);
	for(uint32_t k = 0; k < l.n_chunk_sha; k++){
		uint8_t d[FWG_SHA256_LEN];
		FUZZ_CHECK(fwg_manifest_chunk_sha(&l, data, size, k, d) == 0);
		FUZZ_CHECK(memcmp(d, m->chunk_sha[k], FWG_SHA256_LEN) == 0);
	}
	uint8_t d[FWG_SHA256_LEN];
	FUZZ_CHECK(fwg_manifest_chunk_sha(&l, data, size, l.n_chunk_sha, d) == -1);
	FUZZ_CHECK(fwg_manifest_verify_raw(&l, data, size, vendor_pub) == fwg_manifest_verify(m, vendor_pub));
	fwg_manifest_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwg_manifest m, m2, m3, copy;
	enum fwg_reason r1 = fwg_manifest_parse(data, size, NULL, NULL, &m);
	enum fwg_reason r2 = fwg_manifest_parse(data, size, "acme", "thermo-x1", &m2);
	FUZZ_CHECK((unsigned)r1 < FWG_R__COUNT && (unsigned)r2 < FWG_R__COUNT);
	check_lean(data, size, r1, r1 == FWG_R_OK ? &m : NULL);
	if(r1 != FWG_R_OK) {
		/* an expectation can only add failures */
		FUZZ_CHECK(r2 != FWG_R_OK);
		return 0;
	}
	if(r2 == FWG_R_OK) {
		FUZZ_CHECK(same_manifest(&m, &m2));
		fwg_manifest_free(&m2);
	} else {
		FUZZ_CHECK(r2 == FWG_R_VENDOR_MISMATCH || r2 == FWG_R_MODEL_MISMATCH);
		FUZZ_CHECK(strcmp(m.vendor, "acme") != 0 || strcmp(m.model, "thermo-x1") != 0);
	}
	/* expecting exactly what was parsed must succeed */
	char ev[FWG_ID_MAX + 1], em[FWG_ID_MAX + 1];
	memcpy(ev, m.vendor, sizeof(ev));
	memcpy(em, m.model, sizeof(em));
	FUZZ_CHECK(fwg_manifest_parse(data, size, ev, em, &m3) == FWG_R_OK);
	FUZZ_CHECK(same_manifest(&m, &m3));
	fwg_manifest_free(&m3);

	check_parsed(&m);
	check_signing_base(&m);

	enum fwg_reason vr = fwg_manifest_verify(&m, vendor_pub);
	FUZZ_CHECK(vr == FWG_R_OK || vr == FWG_R_SIGNATURE_INVALID);

	check_policy(&m);

	FUZZ_CHECK(fwg_manifest_copy(&copy, &m) == 0);
	FUZZ_CHECK(same_manifest(&m, &copy));
	fwg_manifest_free(&copy);

	/* Round trip: the serialised manifest parses again to identical fields,
	 * and serialising that gives the same bytes. */
	char *json = fwg_manifest_to_json(&m);
	FUZZ_CHECK(json != NULL);
	size_t jl = strlen(json);
	FUZZ_CHECK(jl <= FWG_MANIFEST_MAX);
	enum fwg_reason rr = fwg_manifest_parse((const uint8_t *)json, jl, m.vendor, m.model, &m3);
	if(rr != FWG_R_OK) {
		fprintf(stderr, "round trip: %s\n%s\n", fwg_reason_str(rr), json);
		abort();
	}
	FUZZ_CHECK(same_manifest(&m, &m3));
	char *json2 = fwg_manifest_to_json(&m3);
	FUZZ_CHECK(json2 != NULL && strcmp(json, json2) == 0);
	FUZZ_CHECK(fwg_manifest_verify(&m3, vendor_pub) == vr);
	free(json2);
	free(json);
	fwg_manifest_free(&m3);
	fwg_manifest_free(&m);
	return 0;
}
