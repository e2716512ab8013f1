/* Key loading, key ids and the ECDH -> HKDF tag key (§1, §2).
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fwguard/keys.h"
#include "fwguard/codec.h"

/* A DER SPKI of a P-256 key is 91 bytes; allow some slack for the parser
 * to give a precise answer, but bound the work. */
#define SPKI_DER_MAX 256

static void set_err(char *err, size_t errlen, const char *msg)
{
	if(err != NULL && errlen > 0) snprintf(err, errlen, "%s", msg);
}

static bool key_is_p256(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	if(key == NULL || !EVP_PKEY_is_a(key, "EC")) return false;
	if(EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) != 1) return false;
	return strcasecmp(group, "prime256v1") == 0 || strcasecmp(group, "P-256") == 0;
}

/* Never prompt for a pass phrase: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return 0;
}

#define KEY_FILE_MAX 65536

/* Read a private key file: a regular file that neither group nor others
 * may access (as ssh requires), at most 64 KiB. The caller cleanses *buf. */
static int read_key_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	char msg[160];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		snprintf(msg, sizeof(msg), "cannot open key file: %s", strerror(errno));
		set_err(err, errlen, msg);
		return -1;
	}
	if(fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX){
		close(fd);
		set_err(err, errlen, "key file is not a regular file of at most 64 KiB");
		return -1;
	}
	if(st.st_mode & 077){
		close(fd);
		snprintf(msg, sizeof(msg), "permissions %04o are too open: a private key must not be "
				"accessible by group or others (chmod 600)", (unsigned)(st.st_mode & 07777));
		set_err(err, errlen, msg);
		return -1;
	}
	*buf = OPENSSL_malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while(*buf && got < (size_t)st.st_size){
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);
		if(n < 0 && errno == EINTR) continue;
		if(n <= 0) break;
		got += (size_t)n;
	}
	close(fd);
	if(!*buf || got != (size_t)st.st_size){
		OPENSSL_clear_free(*buf, (size_t)st.st_size + 1);
		*buf = NULL;
		set_err(err, errlen, "cannot read key file");
		return -1;
	}
	*len = got;
	return 0;
}

int fwg_key_load_private_pem(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	if(path == NULL || out == NULL){
		set_err(err, errlen, "no key path");
		return -1;
	}
	if(read_key_file(path, &text, &len, err, errlen)) return -1;
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_clear_free(text, len + 1); /* key material: cleansed after use */
	if(key == NULL){
		ERR_clear_error();
		set_err(err, errlen, "not a PEM private key (or encrypted)");
		return -1;
	}
	if(!key_is_p256(key)){
		EVP_PKEY_free(key);
		ERR_clear_error();
		set_err(err, errlen, "key is not EC P-256 (prime256v1)");
		return -1;
	}
	ERR_clear_error(); /* decoders may leave errors of tried formats */
	*out = key;
	return 0;
}

/* §1: keys are exchanged as `openssl pkey -pubout` prints them, with an
 * uncompressed point; another encoding of the same key would have another
 * key id. */
static bool point_uncompressed(EVP_PKEY *key)
{
	char fmt[32];
	size_t flen = 0;
	if(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			fmt, sizeof(fmt), &flen) != 1)
		return false;
	return strcmp(fmt, "uncompressed") == 0;
}

/* The DER SPKI of a P-256 key with an uncompressed point, as `openssl
 * pkey -pubout` writes it: this prefix, then 0x04 and X, Y (32 bytes each).
 * Every canonical key has these exact bytes up to the point, so keys are
 * parsed and written without OpenSSL's DER decoders and encoders (whose
 * method stores cost tens of KiB of heap on a device). */
static const uint8_t spki_p256_prefix[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};
#define SPKI_P256_POINT 65
#define SPKI_P256_LEN (sizeof(spki_p256_prefix) + SPKI_P256_POINT)

/* A public P-256 key from its uncompressed point (the curve check is
 * OpenSSL's: a point not on the curve is refused). NULL on error. */
static EVP_PKEY *p256_from_point(const uint8_t point[SPKI_P256_POINT])
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[3];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, SPKI_P256_POINT);
	params[2] = OSSL_PARAM_construct_end();
	if(ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
			EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1){
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int fwg_key_parse_public_b64(const char *b64, size_t len, EVP_PKEY **out)
{
	uint8_t der[SPKI_DER_MAX];
	size_t derlen = 0;
	if(b64 == NULL || out == NULL || len == 0 || len > (SPKI_DER_MAX / 3) * 4) return -1;
	if(fwg_b64_decode(b64, len, der, sizeof(der), &derlen) != 0 || derlen == 0) return -1;
	/* P-256 only, and the exact DER we would produce (so the key id of the
	 * text equals the key id of the key): no trailing bytes, named curve,
	 * uncompressed point */
	if(derlen != SPKI_P256_LEN || memcmp(der, spki_p256_prefix, sizeof(spki_p256_prefix)) != 0 ||
			der[sizeof(spki_p256_prefix)] != 0x04)
		return -1;
	EVP_PKEY *key = p256_from_point(der + sizeof(spki_p256_prefix));
	ERR_clear_error();
	if(key == NULL) return -1;
	*out = key;
	return 0;
}

int fwg_key_public_der(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	if(key == NULL || der == NULL || len == NULL) return -1;
	uint8_t point[SPKI_P256_POINT];
	size_t plen = 0;
	if(key_is_p256(key) && point_uncompressed(key) &&
			EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &plen) == 1 &&
			plen == SPKI_P256_POINT && point[0] == 0x04){
		uint8_t *buf = OPENSSL_malloc(SPKI_P256_LEN);
		if(buf == NULL) return -1;
		memcpy(buf, spki_p256_prefix, sizeof(spki_p256_prefix));
		memcpy(buf + sizeof(spki_p256_prefix), point, SPKI_P256_POINT);
		*der = buf;
		*len = SPKI_P256_LEN;
		return 0;
	}
	ERR_clear_error();
	/* another curve or point form: OpenSSL's encoder */
	unsigned char *buf = NULL;
	int n = i2d_PUBKEY(key, &buf);
	if(n <= 0 || buf == NULL){
		OPENSSL_free(buf);
		ERR_clear_error();
		return -1;
	}
	*der = buf;
	*len = (size_t)n;
	return 0;
}

char *fwg_key_public_b64(EVP_PKEY *key)
{
	uint8_t *der = NULL;
	size_t len = 0;
	if(fwg_key_public_der(key, &der, &len) != 0) return NULL;
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *s = malloc(cap);
	if(s != NULL && fwg_b64_encode(der, len, s, cap) < 0){
		free(s);
		s = NULL;
	}
	OPENSSL_free(der);
	return s;
}

void fwg_key_id_der(const uint8_t *der, size_t len, char out[FWG_KEY_ID_LEN + 1])
{
	uint8_t md[FWG_SHA256_LEN];
	fwg_sha256(der, len, md);
	fwg_hex_encode(md, FWG_KEY_ID_LEN / 2, out);
}

int fwg_key_id(EVP_PKEY *key, char out[FWG_KEY_ID_LEN + 1])
{
	uint8_t *der = NULL;
	size_t len = 0;
	if(out == NULL || fwg_key_public_der(key, &der, &len) != 0) return -1;
	fwg_key_id_der(der, len, out);
	OPENSSL_free(der);
	return 0;
}

int fwg_key_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z_out[32])
{
	if(z_out == NULL || !key_is_p256(priv) || !key_is_p256(peer)){
		ERR_clear_error();
		return -1;
	}
	int rc = -1;
	size_t zlen = 0;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	if(pctx != NULL && EVP_PKEY_derive_init(pctx) == 1 &&
			EVP_PKEY_derive_set_peer(pctx, peer) == 1 &&
			EVP_PKEY_derive(pctx, NULL, &zlen) == 1 && zlen == 32 &&
			EVP_PKEY_derive(pctx, z_out, &zlen) == 1 && zlen == 32){
		rc = 0;
	}
	EVP_PKEY_CTX_free(pctx);
	if(rc != 0){
		OPENSSL_cleanse(z_out, 32);
		ERR_clear_error();
	}
	return rc;
}

static int hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t out[32])
{
	int rc = -1;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	if(kctx != NULL){
		OSSL_PARAM params[5];
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
		params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
				(void *)FWG_HKDF_SALT, strlen(FWG_HKDF_SALT));
		params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
				(void *)info, strlen(info));
		params[4] = OSSL_PARAM_construct_end();
		if(EVP_KDF_derive(kctx, out, 32, params) == 1) rc = 0;
	}
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	if(rc != 0){
		OPENSSL_cleanse(out, 32);
		ERR_clear_error();
	}
	return rc;
}

int fwg_key_derive_tag_key(EVP_PKEY *priv, EVP_PKEY *peer, const char *vendor_id,
		uint8_t key_out[32])
{
	uint8_t z[32];
	if(vendor_id == NULL || key_out == NULL) return -1;
	if(fwg_key_ecdh(priv, peer, z) != 0) return -1;
	int rc = hkdf_sha256(z, sizeof(z), vendor_id, key_out);
	OPENSSL_cleanse(z, sizeof(z));
	return rc;
}

EVP_PKEY *fwg_key_generate(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if(key == NULL) ERR_clear_error();
	return key;
}
