/* Hash-chained JSON Lines audit log (§8). SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_AUDIT_H
#define FWGUARD_AUDIT_H
#include <cjson/cJSON.h>
#include "fwguard/fwguard.h"

struct fwg_audit;

/* Open (create 0640) for append. Reads the last record to continue the
 * chain. A torn last line (no final LF) is cut off: *repaired is set and
 * *cut_bytes tells how many bytes went (the caller then appends an
 * "audit.repaired" record). 0, or -1 with a one-line message in err. */
int fwg_audit_open(const char *path, struct fwg_audit **out, bool *repaired,
		size_t *cut_bytes, char *err, size_t errlen);
void fwg_audit_close(struct fwg_audit *a);

/* RFC 3339 UTC with milliseconds, e.g. 2026-11-26T18:53:09.123Z */
void fwg_audit_timestamp(char out[32]);

/* Start a record {"ts":now,"event":event} (+ vendor/model/client/reason when
 * not NULL). Add more members, then append. NULL on no memory. */
cJSON *fwg_audit_record(const char *event, const char *vendor, const char *model,
		const char *client, const char *reason);

/* Add an unsigned integer member written as plain decimal digits (cJSON's
 * own number printing turns 10^15 into "1e+15"). false on no memory. */
bool fwg_json_add_u64(cJSON *obj, const char *name, uint64_t value);

/* Adds "prev" (last member), writes the compact line + LF with one write(2),
 * advances the chain. Takes ownership of rec. If line_out is not NULL it gets
 * the malloc'd line (without LF) and *line_len its length. 0 / -1 (errno). */
int fwg_audit_append(struct fwg_audit *a, cJSON *rec, char **line_out, size_t *line_len);

/* Verify a whole file: each line's "prev" is the SHA-256 hex of the previous
 * line's bytes (64 zeros for the first). Calls cb (may be NULL) for each
 * record's event name. Returns 0 if the chain holds, 1 if broken (line number
 * in *bad_line, 1-based), -1 on I/O error. *records gets the count. */
typedef void (*fwg_audit_event_cb)(const char *event, void *ud);
int fwg_audit_verify_file(const char *path, fwg_audit_event_cb cb, void *ud,
		size_t *records, size_t *bad_line);
#endif
