/* libFuzzer target: the state file loader fwg_state_load, on a scratch file
 * (<tmp>/fwguard-fuzz-state-<pid>) holding the input. When the scratch
 * directory is a tmpfs, or FWG_FUZZ_STATE_SAVE=1, a loaded state is also
 * saved (fwg_state_save: two fsyncs, hence not by default on a disk) and
 * loaded again: the same entries must come back.
 * SPDX-License-Identifier: Apache-2.0 */
#include <sys/vfs.h>
#include <linux/magic.h>
#include "fwguard/state.h"
#include "fwguard/map.h"
#include "fwguard/topic.h"
#include "fwguard/codec.h"
#include "fuzz_common.h"

static const char *path;
static char tmp_path[4200];
static bool do_save;

static void cleanup(void)
{
	unlink(tmp_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	path = fuzz_tmp_path("state");
	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path);
	atexit(cleanup);
	const char *e = getenv("FWG_FUZZ_STATE_SAVE");
	if(e && *e) {
		do_save = strcmp(e, "0") != 0;
	} else {
		const char *dir = getenv("FWG_FUZZ_TMPDIR");
		struct statfs sf;
		do_save = statfs(dir && *dir ? dir : "/tmp", &sf) == 0 && sf.f_type == TMPFS_MAGIC;
	}
	return 0;
}

static unsigned popcount_seen(const struct fwg_model_state *ms)
{
	unsigned n = 0;
	for(size_t i = 0; i < sizeof(ms->seen); i++) n += (unsigned)__builtin_popcount(ms->seen[i]);
	return n;
}

static void check_state(const struct fwg_state *s)
{
	size_t pos = 0, klen, count = 0;
	const char *key;
	void *val;
	while(fwg_map_next(s->models, &pos, &key, &klen, &val)) {
		const struct fwg_model_state *ms = val;
		count++;
		size_t vl = strlen(ms->vendor), ml = strlen(ms->model);
		FUZZ_CHECK(fwg_id_valid(ms->vendor, vl) && fwg_id_valid(ms->model, ml));
		FUZZ_CHECK(klen == vl + 1 + ml && !memcmp(key, ms->vendor, vl) && key[vl] == '/'
				&& !memcmp(key + vl + 1, ms->model, ml));
		FUZZ_CHECK(fwg_state_get(s, ms->vendor, vl, ms->model, ml) == ms);
		FUZZ_CHECK(ms->sequence == ms->m.sequence && ms->sequence >= 1);
		FUZZ_CHECK(!strcmp(ms->m.vendor, ms->vendor) && !strcmp(ms->m.model, ms->model));
		FUZZ_CHECK(ms->seen_count == popcount_seen(ms) && ms->seen_count <= ms->m.nchunks);
		FUZZ_CHECK(ms->raw && strlen((const char *)ms->raw) == ms->raw_len);
		struct fwg_manifest m;
		FUZZ_CHECK(fwg_manifest_parse(ms->raw, ms->raw_len, ms->vendor, ms->model, &m) == FWG_R_OK);
		FUZZ_CHECK(m.sequence == ms->sequence && m.nchunks == ms->m.nchunks);
		fwg_manifest_free(&m);
	}
	FUZZ_CHECK(count == fwg_map_count(s->models));
}

static void check_same(const struct fwg_state *a, const struct fwg_state *b)
{
	FUZZ_CHECK(fwg_map_count(a->models) == fwg_map_count(b->models));
	size_t pos = 0, klen;
	const char *key;
	void *val;
	while(fwg_map_next(a->models, &pos, &key, &klen, &val)) {
		const struct fwg_model_state *x = val, *y = fwg_map_get(b->models, key, klen);
		FUZZ_CHECK(y != NULL);
		FUZZ_CHECK(x->sequence == y->sequence && x->raw_len == y->raw_len
				&& !memcmp(x->raw, y->raw, x->raw_len) && !memcmp(x->seen, y->seen, sizeof(x->seen))
				&& x->seen_count == y->seen_count && x->complete == y->complete);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwg_state *s = NULL, *s2 = NULL;
	char err[512];
	fuzz_write_file(path, data, size);
	memset(err, 0x7f, sizeof(err));
	int rc = fwg_state_load(path, &s, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -1);
	if(rc != 0) {
		FUZZ_CHECK(memchr(err, 0, sizeof(err)) && err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(s && s->models && s->path && !strcmp(s->path, path));
	check_state(s);
	if(do_save) {
		FUZZ_CHECK(fwg_state_save(s, NULL) == 0);
		rc = fwg_state_load(path, &s2, err, sizeof(err));
		if(rc != 0) {
			fprintf(stderr, "reload after save: %s\n", err);
			abort();
		}
		check_same(s, s2);
		check_same(s2, s);
		fwg_state_free(s2);
	}
	fwg_state_free(s);
	return 0;
}
