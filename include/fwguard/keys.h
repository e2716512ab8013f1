/* Key loading, key ids and the ECDH -> HKDF tag key (§1, §2).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_KEYS_H
#define FWGUARD_KEYS_H
#include <openssl/evp.h>
#include "fwguard/fwguard.h"

/* Load a PEM private key that must be EC P-256, from a regular file that
 * neither group nor others may access (mode & 077 == 0, as ssh requires).
 * The file's bytes are cleansed after parsing. On failure returns -1 and
 * writes a one-line reason (no key material) into err. */
int fwg_key_load_private_pem(const char *path, EVP_PKEY **out, char *err, size_t errlen);

/* Parse base64 (strict) DER SubjectPublicKeyInfo of an EC P-256 key.
 * Returns 0 or -1. */
int fwg_key_parse_public_b64(const char *b64, size_t len, EVP_PKEY **out);

/* DER SPKI of a (public or private) key; *der is OPENSSL_malloc'd. 0 / -1. */
int fwg_key_public_der(EVP_PKEY *key, uint8_t **der, size_t *len);
/* Base64 DER SPKI, malloc'd NUL-terminated string, or NULL. */
char *fwg_key_public_b64(EVP_PKEY *key);

/* key_id = first 16 lowercase hex chars of SHA-256(DER SPKI). 0 / -1. */
int fwg_key_id(EVP_PKEY *key, char out[FWG_KEY_ID_LEN + 1]);
void fwg_key_id_der(const uint8_t *der, size_t len, char out[FWG_KEY_ID_LEN + 1]);

/* Z = ECDH(priv, peer) (32 bytes); K = HKDF-SHA256(Z, salt "fwguard/v1",
 * info vendor_id, 32). Z is cleansed. 0 / -1. */
int fwg_key_derive_tag_key(EVP_PKEY *priv, EVP_PKEY *peer, const char *vendor_id,
		uint8_t key_out[32]);
/* The raw ECDH secret (for tests and troubleshooting). 0 / -1. */
int fwg_key_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z_out[32]);

/* Generate a fresh P-256 key, or NULL. */
EVP_PKEY *fwg_key_generate(void);
#endif
