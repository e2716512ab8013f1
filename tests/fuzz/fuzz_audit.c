/* libFuzzer target: the audit chain verifier fwg_audit_verify_file (§8) on a
 * scratch file (<tmp>/fwguard-fuzz-audit-<pid>) holding the input; when the
 * chain holds, or only a torn last line breaks it, fwg_audit_open repairs and
 * continues it and the verifier must accept one more record.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fwguard/audit.h"
#include "fuzz_common.h"

static const char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	path = fuzz_tmp_path("audit");
	return 0;
}

struct events { size_t n; };
static void on_event(const char *event, void *ud)
{
	FUZZ_CHECK(event != NULL);
	((struct events *)ud)->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(path, data, size);
	size_t lines = 0, after_lf = 0;
	for(size_t i = 0; i < size; i++) if(data[i] == '\n') { lines++; after_lf = i + 1; }
	bool torn = size > 0 && data[size - 1] != '\n';

	struct events ev = { 0 };
	size_t records = 99, bad = 99;
	int rc = fwg_audit_verify_file(path, on_event, &ev, &records, &bad);
	FUZZ_CHECK(rc == 0 || rc == 1);
	FUZZ_CHECK(records == ev.n);
	if(rc == 0) {
		FUZZ_CHECK(!torn && records == lines && bad == 0);
	} else {
		FUZZ_CHECK(bad == records + 1 && bad <= lines + (torn ? 1 : 0));
	}
	/* without the callback and the out-parameters: same answer */
	FUZZ_CHECK(fwg_audit_verify_file(path, NULL, NULL, NULL, NULL) == rc);

	bool only_torn = rc == 1 && torn && records == lines;
	if(rc != 0 && !only_torn) return 0;

	struct fwg_audit *a = NULL;
	bool repaired = false;
	size_t cut = 0;
	char err[256];
	FUZZ_CHECK(fwg_audit_open(path, &a, &repaired, &cut, err, sizeof(err)) == 0);
	FUZZ_CHECK(repaired == torn && cut == (torn ? size - after_lf : 0));
	cJSON *rec = fwg_audit_record("fuzz.appended", "acme", "thermo-x1", "fuzz", NULL);
	FUZZ_CHECK(rec != NULL);
	FUZZ_CHECK(fwg_audit_append(a, rec, NULL, NULL) == 0);
	fwg_audit_close(a);
	rc = fwg_audit_verify_file(path, NULL, NULL, &records, &bad);
	if(rc != 0) {
		fprintf(stderr, "chain broken at line %zu after repair + append\n", bad);
		abort();
	}
	FUZZ_CHECK(records == lines + 1);
	return 0;
}
