/* fwguard pubkey KEY: the base64 DER SPKI (line 1) and key id (line 2) of a
 * key given as a PEM private key, a PEM public key or NAME.pub.b64.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "fwguard/keys.h"

static const char usage[] = "KEY\n"
	"  Prints the base64 DER SubjectPublicKeyInfo and, on the next line, the key id.\n";

int pubkey_main(int argc, char *argv[])
{
	if(argc == 2 && !strcmp(argv[1], "--help")){
		cli_usage(usage);
		return EXIT_OK;
	}
	if(argc != 2) return cli_usage(usage);
	if(argv[1][0] == '-' && argv[1][1] != '\0'){
		cli_err("unknown option '%s'", argv[1]);
		return cli_usage(usage);
	}
	EVP_PKEY *key = cli_load_public(argv[1]);
	if(key == NULL) return EXIT_USAGE;
	char kid[FWG_KEY_ID_LEN + 1];
	char *b64 = fwg_key_public_b64(key);
	int rc = EXIT_USAGE;
	if(b64 != NULL && fwg_key_id(key, kid) == 0){
		printf("%s\n%s\n", b64, kid);
		rc = EXIT_OK;
	}else{
		cli_err("cannot encode the public key of '%s'", argv[1]);
	}
	free(b64);
	EVP_PKEY_free(key);
	return rc;
}
