/* libFuzzer target: device status parser (§7) and fwg_status_build round trip.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fwguard/status.h"
#include "fwguard/codec.h"
#include "fuzz_common.h"

static bool same_status(const struct fwg_status *a, const struct fwg_status *b)
{
	return a->state == b->state
		&& a->has_sequence == b->has_sequence && (!a->has_sequence || a->sequence == b->sequence)
		&& a->has_progress == b->has_progress && (!a->has_progress || a->progress == b->progress)
		&& a->has_version == b->has_version && (!a->has_version || !strcmp(a->version, b->version))
		&& a->has_error == b->has_error && (!a->has_error || !strcmp(a->error, b->error));
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for(size_t i = 0; i < n; i++) if(b[i]) return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwg_status st, st2;
	memset(&st, 0xa5, sizeof(st));
	enum fwg_reason r = fwg_status_parse(data, size, &st);
	FUZZ_CHECK(r == FWG_R_OK || r == FWG_R_TOO_LARGE || r == FWG_R_NOT_UTF8 || r == FWG_R_JSON_INVALID
			|| r == FWG_R_JSON_NOT_OBJECT || r == FWG_R_STATUS_INVALID);
	if(r != FWG_R_OK) {
		FUZZ_CHECK(all_zero(&st, sizeof(st)));   /* nothing half-filled on failure */
		return 0;
	}
	FUZZ_CHECK(size <= FWG_STATUS_MAX);
	FUZZ_CHECK((unsigned)st.state < FWG_ST__COUNT);
	FUZZ_CHECK(!st.has_sequence || st.sequence <= FWG_INT_MAX);
	FUZZ_CHECK(!st.has_progress || st.progress <= 100);
	FUZZ_CHECK(!st.has_version || (strlen(st.version) <= FWG_STATUS_TEXT_MAX
			&& fwg_utf8_valid((const uint8_t *)st.version, strlen(st.version))));
	FUZZ_CHECK(!st.has_error || (strlen(st.error) <= FWG_STATUS_TEXT_MAX
			&& fwg_utf8_valid((const uint8_t *)st.error, strlen(st.error))));
	FUZZ_CHECK(fwg_status_state_parse(fwg_status_state_str(st.state)) == (int)st.state);

	/* build -> parse gives the same fields; building again the same bytes */
	char *json = fwg_status_build(&st);
	FUZZ_CHECK(json != NULL);
	r = fwg_status_parse((const uint8_t *)json, strlen(json), &st2);
	if(r != FWG_R_OK) {
		fprintf(stderr, "round trip: %s\n%s\n", fwg_reason_str(r), json);
		abort();
	}
	FUZZ_CHECK(same_status(&st, &st2));
	char *json2 = fwg_status_build(&st2);
	FUZZ_CHECK(json2 != NULL && strcmp(json, json2) == 0);
	free(json2);
	free(json);
	return 0;
}
