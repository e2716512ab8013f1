/* Vendor authentication tag (§3). SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "fwguard/tag.h"
#include "fwguard/codec.h"

struct fwg_tag_ctx {
	EVP_MAC_CTX *mac;
};

static const char lf = '\n';

struct fwg_tag_ctx *fwg_tag_ctx_new(const uint8_t key[32])
{
	if(key == NULL) return NULL;
	struct fwg_tag_ctx *ctx = calloc(1, sizeof(*ctx));
	if(ctx == NULL) return NULL;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if(mac != NULL) ctx->mac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context keeps its own reference */
	if(ctx->mac != NULL){
		OSSL_PARAM params[2];
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		if(EVP_MAC_init(ctx->mac, key, 32, params) == 1) return ctx;
	}
	ERR_clear_error();
	fwg_tag_ctx_free(ctx);
	return NULL;
}

void fwg_tag_ctx_free(struct fwg_tag_ctx *ctx)
{
	if(ctx == NULL) return;
	EVP_MAC_CTX_free(ctx->mac); /* cleanses the key */
	free(ctx);
}

long fwg_tag_base(char *buf, size_t cap, const char *topic, const char *ts,
		const uint8_t payload_sha[FWG_SHA256_LEN])
{
	if(buf == NULL || topic == NULL || ts == NULL || payload_sha == NULL) return -1;
	size_t plen = strlen(FWG_TAG_PREFIX);
	size_t tlen = strlen(topic);
	size_t slen = strlen(ts);
	size_t need = plen + 1 + tlen + 1 + slen + 1 + FWG_SHA256_HEX_LEN;
	if(need < tlen || cap <= need) return -1; /* room for the NUL too */
	char *p = buf;
	memcpy(p, FWG_TAG_PREFIX, plen); p += plen;
	*p++ = lf;
	memcpy(p, topic, tlen); p += tlen;
	*p++ = lf;
	memcpy(p, ts, slen); p += slen;
	*p++ = lf;
	fwg_hex_encode(payload_sha, FWG_SHA256_LEN, p); /* writes the NUL */
	return (long)need;
}

/* HMAC over the tag base, fed in pieces (no copy of the topic). */
static int tag_mac(struct fwg_tag_ctx *ctx, const char *topic, size_t topic_len,
		const char *ts, size_t ts_len, const uint8_t payload_sha[FWG_SHA256_LEN],
		uint8_t mac[FWG_SHA256_LEN])
{
	char sha_hex[FWG_SHA256_HEX_LEN + 1];
	size_t maclen = 0;
	EVP_MAC_CTX *m = ctx->mac;
	fwg_hex_encode(payload_sha, FWG_SHA256_LEN, sha_hex);
	if(EVP_MAC_init(m, NULL, 0, NULL) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)FWG_TAG_PREFIX, strlen(FWG_TAG_PREFIX)) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)&lf, 1) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)topic, topic_len) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)&lf, 1) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)ts, ts_len) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)&lf, 1) != 1 ||
			EVP_MAC_update(m, (const unsigned char *)sha_hex, FWG_SHA256_HEX_LEN) != 1 ||
			EVP_MAC_final(m, mac, &maclen, FWG_SHA256_LEN) != 1 ||
			maclen != FWG_SHA256_LEN){
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int fwg_tag_compute(struct fwg_tag_ctx *ctx, const char *topic, const char *ts,
		const uint8_t payload_sha[FWG_SHA256_LEN], uint8_t mac[FWG_SHA256_LEN])
{
	if(ctx == NULL || topic == NULL || ts == NULL || payload_sha == NULL || mac == NULL) return -1;
	return tag_mac(ctx, topic, strlen(topic), ts, strlen(ts), payload_sha, mac);
}

/* Distance check without overflow: returns FWG_R_OK, TAG_STALE or TAG_FUTURE. */
static enum fwg_reason tag_window(int64_t now, uint64_t ts, int64_t window)
{
	uint64_t w = window < 0 ? 0 : (uint64_t)window;
	if(now >= 0 && (uint64_t)now >= ts){
		return (uint64_t)now - ts > w ? FWG_R_TAG_STALE : FWG_R_OK;
	}
	/* ts > now: ts - now fits in uint64 even for negative now */
	uint64_t d = ts - (uint64_t)now; /* modular arithmetic gives the exact difference */
	return d > w ? FWG_R_TAG_FUTURE : FWG_R_OK;
}

enum fwg_reason fwg_tag_verify(struct fwg_tag_ctx *ctx, const char *topic,
		const char *ts, size_t ts_len, const char *tag_hex, size_t tag_len,
		const uint8_t payload_sha[FWG_SHA256_LEN], int64_t now, int64_t window,
		uint8_t mac_out[FWG_SHA256_LEN])
{
	uint64_t tsv = 0;
	uint8_t got[FWG_SHA256_LEN], want[FWG_SHA256_LEN];
	if(ts == NULL || fwg_parse_u64(ts, ts_len, (uint64_t)INT64_MAX, &tsv) != 0)
		return FWG_R_TS_MALFORMED;
	if(tag_hex == NULL || tag_len != FWG_TAG_HEX_LEN ||
			fwg_hex_decode(tag_hex, tag_len, got, sizeof(got)) != 0)
		return FWG_R_TAG_MALFORMED;
	enum fwg_reason r = tag_window(now, tsv, window);
	if(r != FWG_R_OK) return r;
	if(ctx == NULL || topic == NULL || payload_sha == NULL) return FWG_R_INTERNAL;
	if(tag_mac(ctx, topic, strlen(topic), ts, ts_len, payload_sha, want) != 0)
		return FWG_R_INTERNAL;
	bool eq = fwg_ct_equal(got, want, FWG_SHA256_LEN);
	if(eq && mac_out != NULL) memcpy(mac_out, want, FWG_SHA256_LEN);
	OPENSSL_cleanse(want, sizeof(want));
	return eq ? FWG_R_OK : FWG_R_TAG_MISMATCH;
}
