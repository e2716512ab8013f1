/* fwguard verify: a manifest (and its image) checked offline with pinned
 * keys, exactly as the device agent does; names the check that failed with
 * the reason strings of fwguard.h. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

static const char usage[] = "--pin KEY [--pin KEY...] [--vendor V] [--model M] [--installed SEQ]\n"
	"              [--now T] [--skew SECS (300)] MANIFEST [IMAGE]\n"
	"  Exit 0: valid; 1: a check failed (its reason is printed); 2: usage or I/O error.\n";

int verify_main(int argc, char *argv[])
{
	enum { O_PIN = OPT_LOCAL_FIRST, O_VENDOR, O_MODEL, O_INSTALLED, O_NOW, O_SKEW, O_HELP };
	static const struct option opts[] = {
		{ "pin", required_argument, NULL, O_PIN },
		{ "vendor", required_argument, NULL, O_VENDOR },
		{ "model", required_argument, NULL, O_MODEL },
		{ "installed", required_argument, NULL, O_INSTALLED },
		{ "now", required_argument, NULL, O_NOW },
		{ "skew", required_argument, NULL, O_SKEW },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_pins pins = { 0 };
	uint8_t *raw = NULL;      /* the manifest's bytes: a lean parse reads its digests from them */
	size_t len = 0;
	const char *vendor = NULL, *model = NULL;
	uint64_t installed = 0, now = (uint64_t)cli_now(), skew = 300;
	int c, rc = EXIT_USAGE;
	opterr = 0;
	while((c = getopt_long(argc, argv, ":", opts, NULL)) != -1){
		switch(c){
		case O_PIN: if(cli_pins_add(&pins, optarg) != 0) goto out; break;
		case O_VENDOR: if(cli_check_id("vendor", optarg) != 0) goto out; vendor = optarg; break;
		case O_MODEL: if(cli_check_id("model", optarg) != 0) goto out; model = optarg; break;
		case O_INSTALLED: if(cli_parse_u64("installed sequence", optarg, FWG_INT_MAX, &installed)) goto out; break;
		case O_NOW: if(cli_parse_u64("time", optarg, (uint64_t)INT64_MAX / 2, &now)) goto out; break;
		case O_SKEW: if(cli_parse_u64("skew", optarg, 86400 * 365, &skew)) goto out; break;
		case O_HELP: cli_usage(usage); rc = EXIT_OK; goto out;
		default: cli_bad_option(argc, argv, c); cli_usage(usage); goto out;
		}
	}
	if(optind >= argc || argc - optind > 2 || pins.n == 0){
		if(pins.n == 0 && optind < argc) cli_err("at least one --pin is required");
		if(argc - optind > 2) cli_err("unexpected argument '%s'", argv[optind + 2]);
		cli_usage(usage);
		goto out;
	}
	const char *mpath = argv[optind], *ipath = optind + 1 < argc ? argv[optind + 1] : NULL;
	if(cli_read_file(mpath, FWG_MANIFEST_MAX, &raw, &len) != 0) goto out;
	struct fwg_manifest m;
	bool parsed = false;
	char detail[256];
	enum fwg_reason r = cli_check_manifest(raw, len, vendor, model, &pins, installed,
			(int64_t)now, (int64_t)skew, &m, &parsed, detail, sizeof(detail));
	if(r != FWG_R_OK){
		printf("%s: FAILED %s: %s\n", mpath, fwg_reason_str(r), detail);
		if(parsed) fwg_manifest_free(&m);
		rc = EXIT_REJECT;
		goto out;
	}
	printf("%s: ok: %s/%s version %s sequence %" PRIu64 ", %" PRIu64 " bytes, %" PRIu32
			" chunks of %" PRIu64 "%s, signed by %s, expires %" PRIu64 "\n",
			mpath, m.vendor, m.model, m.version, m.sequence, m.size, m.nchunks, m.chunk_size,
			m.has_chunk_sha ? " with digests" : "", m.key_id, m.expires);
	rc = EXIT_OK;
	if(ipath){
		int fd = open(ipath, O_RDONLY | O_CLOEXEC);
		if(fd < 0){
			cli_err("cannot open image '%s': %s", ipath, strerror(errno));
			rc = EXIT_USAGE;
		}else{
			uint64_t bad = 0;
			r = cli_check_image(fd, &m, raw, len, 65536, &bad);
			close(fd);
			if(r == FWG_R_OK){
				printf("%s: ok: size and sha256 match\n", ipath);
			}else if(r == FWG_R_INTERNAL){
				cli_err("cannot read image '%s': %s", ipath, strerror(errno));
				rc = EXIT_USAGE;
			}else{
				if(r == FWG_R_CHUNK_DIGEST)
					printf("%s: FAILED %s: chunk %" PRIu64 "\n", ipath, fwg_reason_str(r), bad);
				else
					printf("%s: FAILED %s\n", ipath, fwg_reason_str(r));
				rc = EXIT_REJECT;
			}
		}
	}
	fwg_manifest_free(&m);
out:
	free(raw);
	cli_pins_free(&pins);
	return rc;
}
