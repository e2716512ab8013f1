/* fwguard command line: shared declarations. SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_CLI_H
#define FWGUARD_CLI_H
#include <stdarg.h>
#include <stdio.h>
#include <openssl/evp.h>
#include "fwguard/fwguard.h"

/* Exit codes of every subcommand */
#define EXIT_OK     0   /* success */
#define EXIT_REJECT 1   /* a verification failed, or something was refused */
#define EXIT_USAGE  2   /* usage, I/O or setup error */

/* The name of the running subcommand, for messages ("fwguard sign: ..."). */
extern const char *cli_cmd;

/* Subcommands (one file each) */
int keygen_main(int argc, char *argv[]);
int pubkey_main(int argc, char *argv[]);
int tagkey_main(int argc, char *argv[]);
int sign_main(int argc, char *argv[]);
int verify_main(int argc, char *argv[]);
int publish_main(int argc, char *argv[]);
int device_main(int argc, char *argv[]);
int audit_main(int argc, char *argv[]);
int ctl_main(int argc, char *argv[]);

/* Messages: "fwguard <cmd>: ..." on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Short usage line(s) on stderr; returns EXIT_USAGE. */
int cli_usage(const char *usage);
/* For getopt_long with a leading ':' in optstring and opterr = 0: prints
 * "option '--x' needs a value" (c == ':') or "unknown option '--x'";
 * returns EXIT_USAGE. */
int cli_bad_option(int argc, char *argv[], int c);

/* Strict decimal "0|[1-9][0-9]*" <= max; prints "invalid <what> '<s>'" and
 * returns -1 on error. */
int cli_parse_u64(const char *what, const char *s, uint64_t max, uint64_t *out);
/* An id of §4 (vendor, model, device); prints the error. */
int cli_check_id(const char *what, const char *s);

/* Whole file into a malloc'd NUL-terminated buffer of at most max bytes.
 * 0, or -1 with the error printed. */
int cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* write(2) everything; 0 / -1 (errno) */
int cli_write_all(int fd, const void *buf, size_t len);
/* tmp file in the same directory, fsync, rename, fsync of the directory. 0 / -1 (errno). */
int cli_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);
/* fsync the directory containing path. 0 / -1. */
int cli_fsync_dir_of(const char *path);

/* A public key from a file (base64 DER SPKI as NAME.pub.b64, a PEM public
 * key, or a PEM private key: its public half), or the base64 text itself.
 * NULL with the error printed. */
EVP_PKEY *cli_load_public(const char *arg);
/* A PEM private P-256 key; NULL with the error printed. */
EVP_PKEY *cli_load_private(const char *path);

/* Wall clock, Unix seconds (FWG_NOW overrides it, for tests). */
int64_t cli_now(void);
/* Monotonic seconds as double. */
double cli_mono(void);

/* Progress on stderr: a bar when stderr is a terminal, otherwise a plain
 * line every 10 %. */
struct cli_progress {
	const char *label;
	uint64_t total;
	int last_pct;
	bool tty;
	double t0;
};
void cli_progress_init(struct cli_progress *p, const char *label, uint64_t total);
void cli_progress_update(struct cli_progress *p, uint64_t done);
void cli_progress_end(struct cli_progress *p);

/* ---------------------------------------------------------------- MQTT */
struct mosquitto;
struct cli_mqtt {
	const char *host;
	int port;
	const char *bind_address;
	const char *username;
	const char *password;
	const char *client_id;
	const char *cafile, *capath, *cert, *key;
	bool insecure;
	int keepalive;
	const char *prefix;
};
/* getopt_long option codes of the shared MQTT options (>= 0x100) */
enum {
	OPT_MQTT_FIRST = 0x100,
	OPT_CAFILE, OPT_CAPATH, OPT_CERT, OPT_KEY, OPT_INSECURE, OPT_PREFIX, OPT_BIND,
	OPT_KEEPALIVE,
	OPT_MQTT_LAST,
	OPT_LOCAL_FIRST = 0x200,
};
#define CLI_MQTT_SHORTOPTS "h:p:u:P:i:"
#define CLI_MQTT_LONGOPTS \
	{ "host", required_argument, NULL, 'h' }, \
	{ "port", required_argument, NULL, 'p' }, \
	{ "username", required_argument, NULL, 'u' }, \
	{ "password", required_argument, NULL, 'P' }, \
	{ "id", required_argument, NULL, 'i' }, \
	{ "cafile", required_argument, NULL, OPT_CAFILE }, \
	{ "capath", required_argument, NULL, OPT_CAPATH }, \
	{ "cert", required_argument, NULL, OPT_CERT }, \
	{ "key", required_argument, NULL, OPT_KEY }, \
	{ "insecure", no_argument, NULL, OPT_INSECURE }, \
	{ "prefix", required_argument, NULL, OPT_PREFIX }, \
	{ "bind-address", required_argument, NULL, OPT_BIND }, \
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE }
#define CLI_MQTT_HELP \
	"  -h HOST (localhost)  -p PORT (1883, 8883 with TLS)  -u USER  -P PASS (or FWG_PASSWORD)\n" \
	"  -i CLIENT_ID  --cafile F  --capath D  --cert F  --key F  --insecure\n" \
	"  --bind-address ADDR  --keepalive SECS (30)  --prefix P (fw)\n"

void cli_mqtt_defaults(struct cli_mqtt *m);
/* Handle one getopt_long result if it is a shared MQTT option: 1 handled,
 * 0 not an MQTT option, -1 bad value (printed). */
int cli_mqtt_option(struct cli_mqtt *m, int opt, const char *arg);
/* mosquitto_lib_init, mosquitto_new, MQTT v5, TLS and credentials.
 * NULL with the error printed. */
struct mosquitto *cli_mqtt_new(struct cli_mqtt *m, const char *default_id, bool clean, void *ud);
/* mosquitto_connect_bind_v5; 0 or -1 (printed). */
int cli_mqtt_connect(struct mosquitto *mosq, const struct cli_mqtt *m);
#endif
