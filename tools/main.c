/* fwguard — the command line of the fwguard firmware distribution protocol.
 * One executable, one small file per subcommand (in the manner of wg(8)).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

const char *cli_cmd = "fwguard";

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *desc;
} subcommands[] = {
	{ "keygen",  keygen_main,  "Generates a P-256 signing or ECDH key pair" },
	{ "pubkey",  pubkey_main,  "Prints the base64 public key and key id of a key" },
	{ "tagkey",  tagkey_main,  "Prints the fingerprint of a derived tag key (never the key)" },
	{ "sign",    sign_main,    "Makes a signed manifest for a firmware image" },
	{ "verify",  verify_main,  "Checks a manifest and image offline against pinned keys" },
	{ "publish", publish_main, "Publishes a manifest and its chunks to the broker" },
	{ "device",  device_main,  "Runs the reference device agent" },
	{ "audit",   audit_main,   "Verifies the hash chain of an audit log" },
	{ "ctl",     ctl_main,     "Sends an admin command to the broker ($CONTROL/fwguard/v1)" },
};

static void show_usage(FILE *f)
{
	fprintf(f, "Usage: fwguard <cmd> [<args>]\n\nAvailable subcommands:\n");
	for(size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].desc);
	fprintf(f, "You may pass `--help' to any of these subcommands to view usage.\n");
}

int main(int argc, char *argv[])
{
	if(argc < 2){
		show_usage(stderr);
		return EXIT_USAGE;
	}
	if(!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")){
		show_usage(stdout);
		return EXIT_OK;
	}
	if(!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")){
		printf("fwguard %s (protocol version 1)\n", FWG_VERSION);
		return EXIT_OK;
	}
	for(size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++){
		if(!strcmp(argv[1], subcommands[i].name)){
			cli_cmd = subcommands[i].name;
			return subcommands[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "fwguard: invalid subcommand '%s'\n", argv[1]);
	show_usage(stderr);
	return EXIT_USAGE;
}
