/* fwguard keygen --sign|--ecdh OUT: a fresh P-256 key pair.
 * The private key is written 0600 with O_EXCL (never overwritten), the
 * public key as OUT.pub.b64 (base64 DER SPKI, one line, no newline: the
 * form of PROTOCOL §1 and the trust store). SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "cli.h"
#include "fwguard/keys.h"

static const char usage[] = "--sign|--ecdh OUT\n"
	"  Writes the private key OUT (PEM, mode 0600, never overwritten) and\n"
	"  OUT.pub.b64; prints the key id.\n";

int keygen_main(int argc, char *argv[])
{
	const char *kind = NULL, *out = NULL;
	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--help")){
			cli_usage(usage);
			return EXIT_OK;
		}else if(!strcmp(argv[i], "--sign") || !strcmp(argv[i], "--ecdh")){
			if(kind && strcmp(kind, argv[i])){
				cli_err("give only one of --sign and --ecdh");
				return EXIT_USAGE;
			}
			kind = argv[i];
		}else if(argv[i][0] == '-' && argv[i][1] != '\0'){
			cli_err("unknown option '%s'", argv[i]);
			return cli_usage(usage);
		}else if(out == NULL){
			out = argv[i];
		}else{
			cli_err("unexpected argument '%s'", argv[i]);
			return cli_usage(usage);
		}
	}
	if(kind == NULL || out == NULL) return cli_usage(usage);

	EVP_PKEY *key = fwg_key_generate();
	if(key == NULL){
		cli_err("key generation failed");
		return EXIT_USAGE;
	}
	int rc = EXIT_USAGE;
	char *pem = NULL, *b64 = NULL, *pubpath = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	if(bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1){
		cli_err("cannot encode the private key");
		goto out;
	}
	char *data = NULL;
	long plen = BIO_get_mem_data(bio, &data);
	b64 = fwg_key_public_b64(key);
	char kid[FWG_KEY_ID_LEN + 1];
	if(b64 == NULL || fwg_key_id(key, kid) != 0){
		cli_err("cannot encode the public key");
		goto out;
	}
	size_t n = strlen(out) + sizeof(".pub.b64");
	pubpath = malloc(n);
	if(pubpath == NULL) goto out;
	snprintf(pubpath, n, "%s.pub.b64", out);

	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if(fd < 0){
		if(errno == EEXIST)
			cli_err("'%s' exists: refusing to overwrite a key", out);
		else
			cli_err("cannot create '%s': %s", out, strerror(errno));
		goto out;
	}
	if(fchmod(fd, 0600) != 0 || cli_write_all(fd, data, (size_t)plen) != 0 || fsync(fd) != 0){
		cli_err("cannot write '%s': %s", out, strerror(errno));
		close(fd);
		unlink(out);
		goto out;
	}
	close(fd);
	int pfd = open(pubpath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if(pfd < 0 || cli_write_all(pfd, b64, strlen(b64)) != 0 || fsync(pfd) != 0){
		cli_err("cannot write '%s': %s", pubpath, strerror(errno));
		if(pfd >= 0) close(pfd);
		goto out;
	}
	close(pfd);
	cli_fsync_dir_of(out);
	printf("%s key %s (key id %s), public key %s\n",
			!strcmp(kind, "--sign") ? "signing" : "ECDH", out, kid, pubpath);
	rc = EXIT_OK;
out:
	if(bio) BIO_free(bio);
	free(pem);
	free(b64);
	free(pubpath);
	EVP_PKEY_free(key);
	return rc;
}
