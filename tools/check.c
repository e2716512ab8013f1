/* End-to-end checks shared by `verify` and `device`. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "check.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"

int cli_pins_add(struct cli_pins *p, const char *arg)
{
	if(p->n >= CLI_MAX_PINS){
		cli_err("too many --pin keys (at most %d): '%s'", CLI_MAX_PINS, arg);
		return -1;
	}
	EVP_PKEY *k = cli_load_public(arg);
	if(k == NULL) return -1;
	if(fwg_key_id(k, p->id[p->n]) != 0){
		EVP_PKEY_free(k);
		cli_err("cannot compute the key id of '%s'", arg);
		return -1;
	}
	p->key[p->n++] = k;
	return 0;
}

void cli_pins_free(struct cli_pins *p)
{
	for(size_t i = 0; i < p->n; i++) EVP_PKEY_free(p->key[i]);
	p->n = 0;
}

enum fwg_reason cli_check_manifest(const uint8_t *raw, size_t len, const char *vendor,
		const char *model, const struct cli_pins *pins, uint64_t installed,
		int64_t now, int64_t skew, struct fwg_manifest *m, bool *parsed,
		char *detail, size_t dlen)
{
	*parsed = false;
	detail[0] = '\0';
	enum fwg_reason r = fwg_manifest_parse_lean(raw, len, vendor, model, m);
	if(r != FWG_R_OK){
		if(r == FWG_R_VENDOR_MISMATCH) snprintf(detail, dlen, "not for vendor '%s'", vendor);
		else if(r == FWG_R_MODEL_MISMATCH) snprintf(detail, dlen, "not for model '%s'", model);
		else snprintf(detail, dlen, "the manifest breaks the rules of PROTOCOL §5");
		return r;
	}
	*parsed = true;
	EVP_PKEY *pub = NULL;
	for(size_t i = 0; i < pins->n; i++)
		if(!strcmp(pins->id[i], m->key_id)) pub = pins->key[i];
	if(pub == NULL){
		snprintf(detail, dlen, "signed by key id %s, which is not pinned", m->key_id);
		return FWG_R_KEY_UNKNOWN;
	}
	r = fwg_manifest_verify_raw(m, raw, len, pub);
	if(r != FWG_R_OK){
		snprintf(detail, dlen, "the signature does not verify with pinned key %s", m->key_id);
		return r;
	}
	if(m->has_chunk_sha && m->n_chunk_sha != m->nchunks){
		snprintf(detail, dlen, "%" PRIu32 " chunk digests for %" PRIu32 " chunks", m->n_chunk_sha, m->nchunks);
		return FWG_R_CHUNK_DIGEST_COUNT;
	}
	if(m->sequence <= installed){
		snprintf(detail, dlen, "sequence %" PRIu64 " is not newer than the installed %" PRIu64, m->sequence, installed);
		return FWG_R_SEQUENCE_NOT_NEWER;
	}
	if((int64_t)m->issued > now + skew){
		snprintf(detail, dlen, "issued %" PRIu64 " is more than %" PRId64 " s after now (%" PRId64 ")", m->issued, skew, now);
		return FWG_R_ISSUED_IN_FUTURE;
	}
	if((int64_t)m->expires <= now){
		snprintf(detail, dlen, "expired at %" PRIu64 " (now %" PRId64 ")", m->expires, now);
		return FWG_R_EXPIRED;
	}
	return FWG_R_OK;
}

/* Both digests are OpenSSL's (no SHA-256 of our own in a security tool):
 * one EVP context per running digest. */
int cli_sha256_init(struct cli_sha256 *c)
{
	if(c->evp == NULL && (c->evp = EVP_MD_CTX_new()) == NULL) return -1;
	return EVP_DigestInit_ex(c->evp, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

void cli_sha256_update(struct cli_sha256 *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c->evp, p, n);
}

void cli_sha256_update2(struct cli_sha256 *a, struct cli_sha256 *b, const void *p, size_t n)
{
	EVP_DigestUpdate(a->evp, p, n);
	if(b) EVP_DigestUpdate(b->evp, p, n);
}

int cli_sha256_copy(struct cli_sha256 *dst, const struct cli_sha256 *src)
{
	if(src->evp == NULL) return -1;
	if(dst->evp == NULL && (dst->evp = EVP_MD_CTX_new()) == NULL) return -1;
	return EVP_MD_CTX_copy_ex(dst->evp, src->evp) == 1 ? 0 : -1;
}

void cli_sha256_final(struct cli_sha256 *c, uint8_t md[FWG_SHA256_LEN])
{
	unsigned olen = 0;
	if(c->evp == NULL || EVP_DigestFinal_ex(c->evp, md, &olen) != 1 || olen != FWG_SHA256_LEN)
		memset(md, 0, FWG_SHA256_LEN);   /* never matches a digest by accident */
}

void cli_sha256_free(struct cli_sha256 *c)
{
	EVP_MD_CTX_free(c->evp);
	c->evp = NULL;
}

enum fwg_reason cli_check_image(int fd, const struct fwg_manifest *m, const uint8_t *raw, size_t rawlen,
		size_t bufsz, uint64_t *bad_chunk)
{
	struct stat st;
	if(fstat(fd, &st) != 0) return FWG_R_INTERNAL;
	if((uint64_t)st.st_size != m->size) return FWG_R_IMAGE_SIZE;
	uint8_t *buf = bufsz > 0 ? malloc(bufsz) : NULL;
	struct cli_sha256 whole, chunk;
	memset(&whole, 0, sizeof(whole));
	memset(&chunk, 0, sizeof(chunk));
	enum fwg_reason r = FWG_R_INTERNAL;
	if(buf == NULL || cli_sha256_init(&whole) != 0 || cli_sha256_init(&chunk) != 0) goto out;
	uint64_t off = 0, idx = 0, in_chunk = 0;
	bool chunks = m->has_chunk_sha && m->n_chunk_sha == m->nchunks;
	while(off < m->size){
		size_t want = bufsz;
		if(chunks && m->chunk_size - in_chunk < want) want = (size_t)(m->chunk_size - in_chunk);
		if(m->size - off < want) want = (size_t)(m->size - off);
		ssize_t got = pread(fd, buf, want, (off_t)off);
		if(got < 0 && errno == EINTR) continue;
		if(got < 0) goto out;
		if(got == 0){ r = FWG_R_IMAGE_SIZE; goto out; }
		/* the whole image and the current chunk in one pass */
		cli_sha256_update2(&whole, chunks ? &chunk : NULL, buf, (size_t)got);
		off += (uint64_t)got;
		if(chunks){
			in_chunk += (uint64_t)got;
			if(in_chunk == m->chunk_size || off == m->size){
				uint8_t md[FWG_SHA256_LEN];
				cli_sha256_final(&chunk, md);
				uint8_t want_md[FWG_SHA256_LEN];
				if(fwg_manifest_chunk_sha(m, raw, rawlen, (uint32_t)idx, want_md) != 0) goto out;
				if(!fwg_ct_equal(md, want_md, FWG_SHA256_LEN)){
					if(bad_chunk) *bad_chunk = idx;
					r = FWG_R_CHUNK_DIGEST;
					goto out;
				}
				if(cli_sha256_init(&chunk) != 0) goto out;
				idx++;
				in_chunk = 0;
			}
		}
	}
	uint8_t md[FWG_SHA256_LEN];
	cli_sha256_final(&whole, md);
	r = fwg_ct_equal(md, m->sha256, FWG_SHA256_LEN) ? FWG_R_OK : FWG_R_IMAGE_DIGEST;
out:
	free(buf);
	cli_sha256_free(&whole);
	cli_sha256_free(&chunk);
	return r;
}
