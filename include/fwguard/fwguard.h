/* fwguard — secure firmware distribution over MQTT. Core definitions.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_FWGUARD_H
#define FWGUARD_FWGUARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define FWG_VERSION "0.1.0"

/* Limits of PROTOCOL.md */
#define FWG_ID_MAX          64          /* vendor, model, device, version */
#define FWG_MANIFEST_MAX    81920       /* 80 KiB */
#define FWG_STATUS_MAX      4096
#define FWG_MAX_CHUNKS      1024
#define FWG_CHUNK_SIZE_MIN  256
#define FWG_CHUNK_SIZE_MAX  1048576
#define FWG_INT_MAX         9007199254740991ULL /* 2^53 - 1 */
#define FWG_KEY_ID_LEN      16
#define FWG_SHA256_LEN      32
#define FWG_SHA256_HEX_LEN  64
#define FWG_TAG_HEX_LEN     64
#define FWG_HKDF_SALT       "fwguard/v1"
#define FWG_TAG_PREFIX      "fwguard-tag-v1"
#define FWG_SIGN_PREFIX     "fwguard-manifest-v1"

/* Every reason a check can give. The string form is stable snake_case and
 * is used alike in the audit log, the events topic, log lines and tests. */
#define FWG_REASONS(X) \
	X(OK,                     "ok") \
	/* identity / topic */ \
	X(TOPIC_INVALID,          "topic_invalid") \
	X(TOPIC_RESERVED,         "topic_reserved") \
	X(UNKNOWN_VENDOR,         "unknown_vendor") \
	X(NOT_VENDOR,             "not_vendor_identity") \
	X(NOT_OWNER,              "not_owner") \
	X(MODEL_NOT_ALLOWED,      "model_not_allowed") \
	X(WILL_REFUSED,           "will_refused") \
	X(READ_DENIED,            "read_denied") \
	/* tag (§3) */ \
	X(TAG_MISSING,            "tag_missing") \
	X(TAG_MALFORMED,          "tag_malformed") \
	X(TS_MALFORMED,           "ts_malformed") \
	X(TAG_STALE,              "tag_stale") \
	X(TAG_FUTURE,             "tag_future") \
	X(TAG_MISMATCH,           "tag_mismatch") \
	X(TAG_REPLAYED,           "tag_replayed") \
	X(PROTOCOL_VERSION,       "mqtt_v5_required") \
	/* JSON rules (§5, §7) */ \
	X(TOO_LARGE,              "payload_too_large") \
	X(NOT_UTF8,               "not_utf8") \
	X(JSON_INVALID,           "json_invalid") \
	X(JSON_NOT_OBJECT,        "json_not_object") \
	X(MEMBER_UNKNOWN,         "member_unknown") \
	X(MEMBER_DUPLICATE,       "member_duplicate") \
	X(MEMBER_TYPE,            "member_type") \
	X(MEMBER_MISSING,         "member_missing") \
	X(NUMBER_INVALID,         "number_invalid") \
	X(FORMAT_UNSUPPORTED,     "format_unsupported") \
	X(VENDOR_MISMATCH,        "vendor_mismatch") \
	X(MODEL_MISMATCH,         "model_mismatch") \
	X(VERSION_INVALID,        "version_invalid") \
	X(SEQUENCE_INVALID,       "sequence_invalid") \
	X(SIZE_INVALID,           "size_invalid") \
	X(DIGEST_INVALID,         "digest_invalid") \
	X(CHUNK_SIZE_INVALID,     "chunk_size_invalid") \
	X(VALIDITY_INVALID,       "validity_invalid") \
	X(KEY_ID_INVALID,         "key_id_invalid") \
	X(SIGNATURE_MALFORMED,    "signature_malformed") \
	X(TOO_MANY_CHUNKS,        "too_many_chunks") \
	X(STATUS_INVALID,         "status_invalid") \
	/* keys and signature */ \
	X(KEY_UNKNOWN,            "key_unknown") \
	X(KEY_REVOKED,            "key_revoked") \
	X(SIGNATURE_INVALID,      "signature_invalid") \
	/* policy (§6) */ \
	X(SEQUENCE_NOT_NEWER,     "sequence_not_newer") \
	X(SEQUENCE_BELOW_FLOOR,   "sequence_below_floor") \
	X(ISSUED_IN_FUTURE,       "issued_in_future") \
	X(EXPIRED,                "expired") \
	X(IMAGE_TOO_LARGE,        "image_too_large") \
	X(CHUNK_TOO_LARGE,        "chunk_size_too_large") \
	X(CHUNK_DIGEST_COUNT,     "chunk_digest_count") \
	/* chunks (§6) */ \
	X(NO_MANIFEST,            "no_manifest") \
	X(CHUNK_SEQUENCE,         "chunk_sequence_mismatch") \
	X(CHUNK_INDEX,            "chunk_index_out_of_range") \
	X(CHUNK_LENGTH,           "chunk_length") \
	X(CHUNK_DIGEST,           "chunk_digest_mismatch") \
	/* device side (§9) */ \
	X(IMAGE_DIGEST,           "image_digest_mismatch") \
	X(IMAGE_SIZE,             "image_size_mismatch") \
	/* operational */ \
	X(ROUTE_UNCHECKED,        "route_not_checked") \
	X(STATE_WRITE,            "state_write_failed") \
	X(AUDIT_WRITE,            "audit_write_failed") \
	X(NO_MEMORY,              "out_of_memory") \
	X(INTERNAL,               "internal_error")

#define FWG__REASON_ENUM(name, str) FWG_R_##name,
enum fwg_reason {
	FWG_REASONS(FWG__REASON_ENUM)
	FWG_R__COUNT
};
#undef FWG__REASON_ENUM

/* Stable string of a reason; "internal_error" for out-of-range values. */
const char *fwg_reason_str(enum fwg_reason r);

#endif
