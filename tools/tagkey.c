/* fwguard tagkey: the fingerprint of the tag key K of PROTOCOL §2, for
 * troubleshooting a "tag_mismatch": first 16 hex of SHA-256(K). The key
 * itself is never printed. Either side can compute it:
 *   vendor:  --vendor ID --vendor-key VENDOR_ECDH_PRIV --broker-pub BROKER_ECDH_PUB
 *   broker:  --vendor ID --broker-key BROKER_ECDH_PRIV --vendor-pub VENDOR_ECDH_PUB
 * SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <string.h>
#include <openssl/crypto.h>
#include "cli.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"

static const char usage[] = "--vendor ID (--vendor-key PRIV --broker-pub PUB | --broker-key PRIV --vendor-pub PUB)\n"
	"  Prints the fingerprint of the tag key (first 16 hex of SHA-256(K)); equal\n"
	"  fingerprints on the vendor and the broker side mean equal keys.\n";

int tagkey_main(int argc, char *argv[])
{
	enum { O_VENDOR = OPT_LOCAL_FIRST, O_VKEY, O_BPUB, O_BKEY, O_VPUB, O_HELP };
	static const struct option opts[] = {
		{ "vendor", required_argument, NULL, O_VENDOR },
		{ "vendor-key", required_argument, NULL, O_VKEY },
		{ "broker-pub", required_argument, NULL, O_BPUB },
		{ "broker-key", required_argument, NULL, O_BKEY },
		{ "vendor-pub", required_argument, NULL, O_VPUB },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *vendor = NULL, *vkey = NULL, *bpub = NULL, *bkey = NULL, *vpub = NULL;
	int c;
	opterr = 0;
	while((c = getopt_long(argc, argv, ":", opts, NULL)) != -1){
		switch(c){
		case O_VENDOR: vendor = optarg; break;
		case O_VKEY: vkey = optarg; break;
		case O_BPUB: bpub = optarg; break;
		case O_BKEY: bkey = optarg; break;
		case O_VPUB: vpub = optarg; break;
		case O_HELP: cli_usage(usage); return EXIT_OK;
		default: cli_bad_option(argc, argv, c); return cli_usage(usage);
		}
	}
	if(optind != argc){
		cli_err("unexpected argument '%s'", argv[optind]);
		return cli_usage(usage);
	}
	if(vendor == NULL) return cli_usage(usage);
	if(cli_check_id("vendor", vendor) != 0) return EXIT_USAGE;
	const char *priv_path, *pub_arg;
	if(vkey && bpub && !bkey && !vpub){
		priv_path = vkey; pub_arg = bpub;
	}else if(bkey && vpub && !vkey && !bpub){
		priv_path = bkey; pub_arg = vpub;
	}else{
		cli_err("give --vendor-key with --broker-pub, or --broker-key with --vendor-pub");
		return cli_usage(usage);
	}
	EVP_PKEY *priv = cli_load_private(priv_path);
	if(priv == NULL) return EXIT_USAGE;
	EVP_PKEY *pub = cli_load_public(pub_arg);
	if(pub == NULL){
		EVP_PKEY_free(priv);
		return EXIT_USAGE;
	}
	uint8_t k[32], md[FWG_SHA256_LEN];
	int rc = EXIT_USAGE;
	if(fwg_key_derive_tag_key(priv, pub, vendor, k) == 0){
		char hex[FWG_SHA256_HEX_LEN + 1];
		fwg_sha256(k, sizeof(k), md);
		fwg_hex_encode(md, 8, hex);
		printf("%s\n", hex);
		rc = EXIT_OK;
	}else{
		cli_err("key agreement failed ('%s' with '%s')", priv_path, pub_arg);
	}
	OPENSSL_cleanse(k, sizeof(k));
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	return rc;
}
