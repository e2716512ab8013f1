/* fwguard sign: a firmware image -> a signed manifest (PROTOCOL §5).
 * The image is read once, in chunk-size pieces (memory independent of its
 * size). SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "cli.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "fwguard/manifest.h"

static const char usage[] = "--key SIGN_KEY --vendor V --model M --version X --sequence N\n"
	"            [--chunk-size BYTES (65536)] [--validity SECS (2592000)] [--issued T]\n"
	"            [--expires T] [--no-chunk-digests] [-o MANIFEST] IMAGE\n"
	"  Writes the manifest JSON of PROTOCOL §5 to MANIFEST (atomically) or stdout.\n";

static bool version_valid(const char *s)
{
	size_t n = strlen(s);
	if(n < 1 || n > FWG_ID_MAX) return false;
	for(size_t i = 0; i < n; i++){
		char c = s[i];
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(".+_~-", c)))
			return false;
	}
	return true;
}

int sign_main(int argc, char *argv[])
{
	enum { O_KEY = OPT_LOCAL_FIRST, O_VENDOR, O_MODEL, O_VERSION, O_SEQ, O_CSIZE, O_VALIDITY,
		O_ISSUED, O_EXPIRES, O_NODIG, O_HELP };
	static const struct option opts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "vendor", required_argument, NULL, O_VENDOR },
		{ "model", required_argument, NULL, O_MODEL },
		{ "version", required_argument, NULL, O_VERSION },
		{ "sequence", required_argument, NULL, O_SEQ },
		{ "chunk-size", required_argument, NULL, O_CSIZE },
		{ "validity", required_argument, NULL, O_VALIDITY },
		{ "issued", required_argument, NULL, O_ISSUED },
		{ "expires", required_argument, NULL, O_EXPIRES },
		{ "no-chunk-digests", no_argument, NULL, O_NODIG },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *keypath = NULL, *vendor = NULL, *model = NULL, *version = NULL, *out = NULL;
	uint64_t seq = 0, csize = 65536, validity = 2592000, issued = 0, expires = 0;
	bool have_seq = false, have_issued = false, have_expires = false, digests = true;
	int c;
	opterr = 0;
	while((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1){
		switch(c){
		case O_KEY: keypath = optarg; break;
		case O_VENDOR: vendor = optarg; break;
		case O_MODEL: model = optarg; break;
		case O_VERSION: version = optarg; break;
		case O_SEQ:
			if(cli_parse_u64("sequence", optarg, FWG_INT_MAX, &seq) != 0) return EXIT_USAGE;
			if(seq == 0){ cli_err("invalid sequence '%s' (1 .. 2^53-1)", optarg); return EXIT_USAGE; }
			have_seq = true;
			break;
		case O_CSIZE:
			if(cli_parse_u64("chunk size", optarg, FWG_INT_MAX, &csize) != 0) return EXIT_USAGE;
			if(csize < FWG_CHUNK_SIZE_MIN || csize > FWG_CHUNK_SIZE_MAX){
				cli_err("invalid chunk size '%s' (%d .. %d)", optarg, FWG_CHUNK_SIZE_MIN, FWG_CHUNK_SIZE_MAX);
				return EXIT_USAGE;
			}
			break;
		case O_VALIDITY:
			if(cli_parse_u64("validity", optarg, FWG_INT_MAX, &validity) != 0) return EXIT_USAGE;
			if(validity == 0){ cli_err("invalid validity '%s' (at least 1 s)", optarg); return EXIT_USAGE; }
			break;
		case O_ISSUED:
			if(cli_parse_u64("issued time", optarg, FWG_INT_MAX, &issued) != 0) return EXIT_USAGE;
			have_issued = true;
			break;
		case O_EXPIRES:
			if(cli_parse_u64("expiry time", optarg, FWG_INT_MAX, &expires) != 0) return EXIT_USAGE;
			have_expires = true;
			break;
		case O_NODIG: digests = false; break;
		case 'o': out = optarg; break;
		case O_HELP: cli_usage(usage); return EXIT_OK;
		default: cli_bad_option(argc, argv, c); return cli_usage(usage);
		}
	}
	if(optind + 1 != argc || !keypath || !vendor || !model || !version || !have_seq){
		if(optind + 1 < argc) cli_err("unexpected argument '%s'", argv[optind + 1]);
		return cli_usage(usage);
	}
	const char *image = argv[optind];
	if(cli_check_id("vendor", vendor) || cli_check_id("model", model)) return EXIT_USAGE;
	if(!version_valid(version)){
		cli_err("invalid version '%s' (1-64 of [A-Za-z0-9.+_~-])", version);
		return EXIT_USAGE;
	}
	if(!have_issued) issued = (uint64_t)cli_now();
	if(!have_expires){
		if(issued + validity > FWG_INT_MAX){ cli_err("invalid validity '%" PRIu64 "' (too long)", validity); return EXIT_USAGE; }
		expires = issued + validity;
	}
	if(expires <= issued){
		cli_err("invalid expiry time '%" PRIu64 "' (not after issued %" PRIu64 ")", expires, issued);
		return EXIT_USAGE;
	}

	EVP_PKEY *key = cli_load_private(keypath);
	if(key == NULL) return EXIT_USAGE;
	int rc = EXIT_USAGE, fd = -1;
	uint8_t *buf = NULL;
	char *json = NULL;
	EVP_MD_CTX *whole = NULL;
	struct fwg_manifest m;
	memset(&m, 0, sizeof(m));

	fd = open(image, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if(fd < 0 || fstat(fd, &st) != 0){
		cli_err("cannot open image '%s': %s", image, strerror(errno));
		goto out;
	}
	if(!S_ISREG(st.st_mode) || st.st_size < 1){
		cli_err("image '%s' is empty or not a regular file", image);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint64_t nchunks = (size + csize - 1) / csize;
	if(nchunks > FWG_MAX_CHUNKS){
		cli_err("image '%s' of %" PRIu64 " bytes needs %" PRIu64 " chunks of %" PRIu64
				" bytes (at most %d): use a larger --chunk-size", image, size, nchunks, csize, FWG_MAX_CHUNKS);
		goto out;
	}
	m.format = 1;
	snprintf(m.vendor, sizeof(m.vendor), "%s", vendor);
	snprintf(m.model, sizeof(m.model), "%s", model);
	snprintf(m.version, sizeof(m.version), "%s", version);
	m.sequence = seq;
	m.size = size;
	m.chunk_size = csize;
	m.issued = issued;
	m.expires = expires;
	m.nchunks = (uint32_t)nchunks;
	if(fwg_key_id(key, m.key_id) != 0){ cli_err("cannot compute the key id"); goto out; }
	if(digests){
		m.chunk_sha = calloc(nchunks, sizeof(*m.chunk_sha));
		if(m.chunk_sha == NULL){ cli_err("out of memory"); goto out; }
		m.has_chunk_sha = true;
		m.n_chunk_sha = (uint32_t)nchunks;
	}
	buf = malloc(csize);
	whole = EVP_MD_CTX_new();
	if(buf == NULL || whole == NULL || EVP_DigestInit_ex(whole, EVP_sha256(), NULL) != 1){
		cli_err("out of memory");
		goto out;
	}
	for(uint64_t i = 0; i < nchunks; i++){
		size_t want = (size_t)(i + 1 < nchunks ? csize : size - i * csize), got = 0;
		while(got < want){
			ssize_t r = read(fd, buf + got, want - got);
			if(r < 0 && errno == EINTR) continue;
			if(r <= 0){
				cli_err("cannot read image '%s': %s", image, r < 0 ? strerror(errno) : "it shrank");
				goto out;
			}
			got += (size_t)r;
		}
		EVP_DigestUpdate(whole, buf, want);
		if(digests) fwg_sha256(buf, want, m.chunk_sha[i]);
	}
	EVP_DigestFinal_ex(whole, m.sha256, NULL);
	if(fwg_manifest_sign(&m, key) != 0){
		cli_err("signing with '%s' failed", keypath);
		goto out;
	}
	json = fwg_manifest_to_json(&m);
	if(json == NULL){ cli_err("cannot serialise the manifest"); goto out; }
	/* self-check: what we write must pass the strict parser */
	struct fwg_manifest back;
	enum fwg_reason pr = fwg_manifest_parse((const uint8_t *)json, strlen(json), vendor, model, &back);
	if(pr != FWG_R_OK){
		cli_err("the manifest does not pass the protocol rules: %s", fwg_reason_str(pr));
		goto out;
	}
	fwg_manifest_free(&back);
	if(out && strcmp(out, "-")){
		if(cli_write_atomic(out, json, strlen(json), 0644) != 0){
			cli_err("cannot write '%s': %s", out, strerror(errno));
			goto out;
		}
		fprintf(stderr, "fwguard sign: %s: %s/%s %s sequence %" PRIu64 ", %" PRIu64 " bytes in %" PRIu64
				" chunks, key id %s, expires %" PRIu64 "\n", out, vendor, model, version, seq, size,
				nchunks, m.key_id, expires);
	}else{
		fputs(json, stdout);
		fflush(stdout);
	}
	rc = EXIT_OK;
out:
	if(fd >= 0) close(fd);
	free(buf);
	free(json);
	EVP_MD_CTX_free(whole);
	fwg_manifest_free(&m);
	EVP_PKEY_free(key);
	return rc;
}
