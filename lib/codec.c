/* Hex, base64, UTF-8 and strict decimal integers.
 * SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/err.h>

#include "fwguard/codec.h"

static const char hex_digits[] = "0123456789abcdef";

void fwg_hex_encode(const uint8_t *in, size_t n, char *out)
{
	for(size_t i = 0; i < n; i++){
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int lower_hex_val(char c)
{
	if(c >= '0' && c <= '9') return c - '0';
	if(c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

int fwg_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	if(in == NULL || outlen > SIZE_MAX / 2 || inlen != 2 * outlen) return -1;
	for(size_t i = 0; i < outlen; i++){
		int hi = lower_hex_val(in[2 * i]);
		int lo = lower_hex_val(in[2 * i + 1]);
		if(hi < 0 || lo < 0) return -1;
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return 0;
}

bool fwg_is_lower_hex(const char *s, size_t n)
{
	for(size_t i = 0; i < n; i++){
		if(lower_hex_val(s[i]) < 0) return false;
	}
	return true;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long fwg_b64_encode(const uint8_t *in, size_t n, char *out, size_t outcap)
{
	size_t groups = n / 3 + (n % 3 != 0);
	if(groups > (SIZE_MAX - 1) / 4 || outcap < 4 * groups + 1) return -1;
	size_t o = 0;
	for(size_t i = 0; i < n; i += 3){
		size_t rem = n - i;
		uint32_t v = (uint32_t)in[i] << 16;
		if(rem > 1) v |= (uint32_t)in[i + 1] << 8;
		if(rem > 2) v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = rem > 1 ? b64_alphabet[(v >> 6) & 0x3f] : '=';
		out[o++] = rem > 2 ? b64_alphabet[v & 0x3f] : '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int b64_val(char c)
{
	if(c >= 'A' && c <= 'Z') return c - 'A';
	if(c >= 'a' && c <= 'z') return c - 'a' + 26;
	if(c >= '0' && c <= '9') return c - '0' + 52;
	if(c == '+') return 62;
	if(c == '/') return 63;
	return -1;
}

/* Decode one group of 4 characters; pads only allowed when last. Returns
 * the number of bytes produced (1..3) or -1. */
static int b64_group(const char *g, bool last, uint8_t dst[3])
{
	int v[4];
	int pads = 0;
	for(int i = 0; i < 4; i++){
		if(g[i] == '='){
			if(!last || i < 2) return -1;
			pads++;
			v[i] = 0;
		}else{
			if(pads) return -1; /* data after a pad */
			v[i] = b64_val(g[i]);
			if(v[i] < 0) return -1;
		}
	}
	/* non-canonical: unused bits must be zero */
	if(pads == 2 && (v[1] & 0x0f)) return -1;
	if(pads == 1 && (v[2] & 0x03)) return -1;
	uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
		((uint32_t)v[2] << 6) | (uint32_t)v[3];
	dst[0] = (uint8_t)(w >> 16);
	dst[1] = (uint8_t)(w >> 8);
	dst[2] = (uint8_t)w;
	return 3 - pads;
}

int fwg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
	if(in == NULL || inlen % 4 != 0) return -1;
	size_t o = 0;
	for(size_t i = 0; i < inlen; i += 4){
		uint8_t tmp[3];
		int nb = b64_group(in + i, i + 4 == inlen, tmp);
		if(nb < 0 || (size_t)nb > outcap - o) return -1;
		memcpy(out + o, tmp, (size_t)nb);
		o += (size_t)nb;
	}
	if(outlen) *outlen = o;
	return 0;
}

/* Length of the UTF-8 sequence at s (n bytes left) or 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf; /* bounds for the second byte */
	if(c < 0x80) return 1;
	if(c >= 0xc2 && c <= 0xdf) len = 2;
	else if(c >= 0xe0 && c <= 0xef){
		len = 3;
		if(c == 0xe0) lo = 0xa0;        /* overlong */
		else if(c == 0xed) hi = 0x9f;   /* surrogates */
	}else if(c >= 0xf0 && c <= 0xf4){
		len = 4;
		if(c == 0xf0) lo = 0x90;        /* overlong */
		else if(c == 0xf4) hi = 0x8f;   /* > U+10FFFF */
	}else return 0;
	if(n < len) return 0;
	if(s[1] < lo || s[1] > hi) return 0;
	for(size_t i = 2; i < len; i++){
		if((s[i] & 0xc0) != 0x80) return 0;
	}
	return len;
}

bool fwg_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while(i < n){
		size_t l = utf8_seq(s + i, n - i);
		if(l == 0) return false;
		i += l;
	}
	return true;
}

int fwg_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if(s == NULL || n == 0) return -1;
	if(s[0] == '0' && n > 1) return -1;
	uint64_t v = 0;
	for(size_t i = 0; i < n; i++){
		if(s[i] < '0' || s[i] > '9') return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if(d > max || v > (max - d) / 10) return -1;
		v = v * 10 + d;
	}
	if(v > max) return -1;
	if(out) *out = v;
	return 0;
}

bool fwg_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void fwg_sha256(const void *data, size_t n, uint8_t out[FWG_SHA256_LEN])
{
	unsigned int olen = 0;
	if(EVP_Digest(data, n, out, &olen, EVP_sha256(), NULL) != 1 || olen != FWG_SHA256_LEN){
		/* cannot happen short of a broken libcrypto; never leave garbage */
		ERR_clear_error();
		memset(out, 0, FWG_SHA256_LEN);
	}
}
