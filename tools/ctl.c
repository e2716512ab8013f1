/* fwguard ctl: the broker's $CONTROL/fwguard/v1 admin API, in the manner of
 * mosquitto_ctrl. One command per run: subscribe to the response topic,
 * publish {"commands":[{..., "correlationData": <random>}]}, wait (bounded)
 * for the response carrying that correlationData, print its data as pretty
 * JSON. Exit 0 ok, 1 the broker answered with an error, 2 usage or
 * connection error (or no answer). SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include "fwguard/audit.h"
#include "fwguard/codec.h"
#include "fwguard/keys.h"
#include "cli.h"

#define CTL_REQUEST_TOPIC "$CONTROL/fwguard/v1"
#define CTL_RESPONSE_TOPIC "$CONTROL/fwguard/v1/response"

static const char usage[] = "[MQTT options] [--timeout SECS (10)] COMMAND [ARGS...]\n"
	"       fwguard ctl [MQTT options] [--timeout SECS (10)] --json '{\"command\":...}'\n"
	"Commands:\n"
	"  listVendors\n"
	"  getModel VENDOR MODEL\n"
	"  setRollout VENDOR MODEL PERCENT\n"
	"  pauseModel VENDOR MODEL\n"
	"  resumeModel VENDOR MODEL\n"
	"  setSequenceFloor VENDOR MODEL SEQUENCE\n"
	"  revokeKey VENDOR KEYID|PUBLIC_KEY\n"
	"  reloadTrustStore\n"
	"MQTT options:\n" CLI_MQTT_HELP;

enum ctl_arg { A_END = 0, A_VENDOR, A_MODEL, A_PERCENT, A_SEQUENCE, A_KEYID };
static const struct {
	const char *name;
	enum ctl_arg args[4];
} ctl_commands[] = {
	{ "listVendors", { A_END } },
	{ "getModel", { A_VENDOR, A_MODEL, A_END } },
	{ "setRollout", { A_VENDOR, A_MODEL, A_PERCENT, A_END } },
	{ "pauseModel", { A_VENDOR, A_MODEL, A_END } },
	{ "resumeModel", { A_VENDOR, A_MODEL, A_END } },
	{ "setSequenceFloor", { A_VENDOR, A_MODEL, A_SEQUENCE, A_END } },
	{ "revokeKey", { A_VENDOR, A_KEYID, A_END } },
	{ "reloadTrustStore", { A_END } },
};
#define CTL_NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

struct ctl {
	struct mosquitto *mosq;
	char corr[40];
	bool conn_done, connected, lost, sub_done, sub_ok, pub_done, answered;
	int conn_rc, sub_mid, pub_mid, pub_rc;
	cJSON *answer;          /* the response object with our correlationData */
};

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct ctl *c = ud;
	(void)mosq; (void)flags; (void)props;
	c->conn_done = true;
	c->conn_rc = rc;
	c->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct ctl *c = ud;
	(void)mosq; (void)props;
	c->connected = false;
	c->lost = true;
	if(!c->conn_done){
		c->conn_done = true;
		c->conn_rc = rc ? rc : -1;
	}
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted,
		const mosquitto_property *props)
{
	struct ctl *c = ud;
	(void)mosq; (void)props;
	if(mid != c->sub_mid) return;
	c->sub_done = true;
	c->sub_ok = n == 1 && granted[0] < 0x80;
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int reason, const mosquitto_property *props)
{
	struct ctl *c = ud;
	(void)mosq; (void)props;
	if(mid != c->pub_mid) return;
	c->pub_done = true;
	c->pub_rc = reason;
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	struct ctl *c = ud;
	(void)mosq; (void)props;
	if(c->answer || strcmp(msg->topic, CTL_RESPONSE_TOPIC) || msg->payloadlen <= 0) return;
	cJSON *o = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "responses");
	const cJSON *r;
	cJSON_ArrayForEach(r, arr){
		const char *corr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "correlationData"));
		if(corr && !strcmp(corr, c->corr)){
			c->answer = cJSON_Duplicate(r, 1);
			c->answered = c->answer != NULL;
			break;
		}
	}
	cJSON_Delete(o);
}

static bool pump(struct ctl *c, double deadline, bool *flag)
{
	while(!*flag){
		if(cli_mono() > deadline) return false;
		int rc = mosquitto_loop(c->mosq, 100, 1);
		if(*flag) return true;
		if(rc != MOSQ_ERR_SUCCESS || c->lost){
			if(!c->conn_done) return false;
			cli_err("connection lost: %s", c->lost ? "disconnected by the broker" : mosquitto_strerror(rc));
			return false;
		}
	}
	return true;
}

static bool is_hex_key_id(const char *s)
{
	return strlen(s) == FWG_KEY_ID_LEN && fwg_is_lower_hex(s, FWG_KEY_ID_LEN);
}

/* The command object from the positional arguments; NULL (printed) on a
 * usage error. */
static cJSON *build_command(int argc, char *argv[])
{
	size_t i;
	for(i = 0; i < CTL_NCOMMANDS; i++)
		if(!strcmp(argv[0], ctl_commands[i].name)) break;
	if(i == CTL_NCOMMANDS){
		cli_err("unknown command '%s'", argv[0]);
		return NULL;
	}
	int want = 0;
	while(ctl_commands[i].args[want] != A_END) want++;
	if(argc - 1 != want){
		cli_err("%s takes %d argument%s, got %d", ctl_commands[i].name, want, want == 1 ? "" : "s", argc - 1);
		return NULL;
	}
	cJSON *o = cJSON_CreateObject();
	if(!o || !cJSON_AddStringToObject(o, "command", ctl_commands[i].name)){
		cli_err("out of memory");
		cJSON_Delete(o);
		return NULL;
	}
	for(int a = 0; a < want; a++){
		const char *s = argv[1 + a];
		uint64_t v;
		bool ok = true;
		switch(ctl_commands[i].args[a]){
		case A_VENDOR:
			ok = cli_check_id("vendor", s) == 0 && cJSON_AddStringToObject(o, "vendor", s);
			break;
		case A_MODEL:
			ok = cli_check_id("model", s) == 0 && cJSON_AddStringToObject(o, "model", s);
			break;
		case A_PERCENT:
			ok = cli_parse_u64("percent (0..100)", s, 100, &v) == 0 && fwg_json_add_u64(o, "percent", v);
			break;
		case A_SEQUENCE:
			ok = cli_parse_u64("sequence", s, FWG_INT_MAX, &v) == 0 && fwg_json_add_u64(o, "sequence", v);
			break;
		case A_KEYID:
			if(is_hex_key_id(s)){
				ok = cJSON_AddStringToObject(o, "keyId", s) != NULL;
			}else{
				/* a public key (file or base64): its key id */
				char kid[FWG_KEY_ID_LEN + 1];
				EVP_PKEY *k = cli_load_public(s);
				ok = k && fwg_key_id(k, kid) == 0 && cJSON_AddStringToObject(o, "keyId", kid);
				EVP_PKEY_free(k);
				if(!ok) cli_err("'%s' is neither a key id (16 lowercase hex) nor a public key", s);
			}
			break;
		case A_END:
			break;
		}
		if(!ok){
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

static int print_answer(const cJSON *a, const char *name)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(a, "error");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(a, "data");
	if(err){
		cli_err("%s: %s", name, cJSON_IsString(err) ? err->valuestring : "error");
		return EXIT_REJECT;
	}
	char *text = data ? cJSON_Print(data) : NULL;
	if(text) printf("%s\n", text);
	else printf("{}\n");
	cJSON_free(text);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

int ctl_main(int argc, char *argv[])
{
	enum { O_JSON = OPT_LOCAL_FIRST, O_TIMEOUT, O_HELP };
	static const struct option opts[] = {
		CLI_MQTT_LONGOPTS,
		{ "json", required_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_mqtt mq;
	cli_mqtt_defaults(&mq);
	const char *json = NULL;
	uint64_t timeout = 10;
	int c;
	opterr = 0;
	while((c = getopt_long(argc, argv, ":" CLI_MQTT_SHORTOPTS, opts, NULL)) != -1){
		int r = cli_mqtt_option(&mq, c, optarg);
		if(r < 0) return EXIT_USAGE;
		if(r > 0) continue;
		switch(c){
		case O_JSON: json = optarg; break;
		case O_TIMEOUT:
			if(cli_parse_u64("timeout", optarg, 3600, &timeout) != 0) return EXIT_USAGE;
			if(timeout == 0){ cli_err("invalid timeout '%s' (1..3600)", optarg); return EXIT_USAGE; }
			break;
		case O_HELP:
			printf("Usage: fwguard %s %s", cli_cmd, usage);
			return EXIT_OK;
		default: cli_bad_option(argc, argv, c); return cli_usage(usage);
		}
	}

	cJSON *cmd = NULL;
	if(json){
		if(optind != argc){
			cli_err("--json takes no COMMAND ('%s')", argv[optind]);
			return cli_usage(usage);
		}
		cmd = cJSON_Parse(json);
		if(!cJSON_IsObject(cmd) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cmd, "command"))){
			cli_err("--json: not a JSON object with a string \"command\": %s", json);
			cJSON_Delete(cmd);
			return EXIT_USAGE;
		}
	}else{
		if(optind >= argc){
			cli_err("no COMMAND");
			return cli_usage(usage);
		}
		cmd = build_command(argc - optind, argv + optind);
		if(!cmd) return cli_usage(usage);
	}

	int rc = EXIT_USAGE;
	struct ctl ct;
	memset(&ct, 0, sizeof(ct));
	char *payload = NULL;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cmd, "command"));
	char cname[256];
	snprintf(cname, sizeof(cname), "%s", name);

	/* correlationData: the caller's (--json) or 16 random bytes in hex */
	const char *given = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cmd, "correlationData"));
	if(given && strlen(given) < sizeof(ct.corr)){
		snprintf(ct.corr, sizeof(ct.corr), "%s", given);
	}else{
		uint8_t rnd[16];
		if(getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)){
			cli_err("getrandom: %s", strerror(errno));
			goto out;
		}
		fwg_hex_encode(rnd, sizeof(rnd), ct.corr);
		cJSON_DeleteItemFromObjectCaseSensitive(cmd, "correlationData");
		if(!cJSON_AddStringToObject(cmd, "correlationData", ct.corr)){
			cli_err("out of memory");
			goto out;
		}
	}
	cJSON *req = cJSON_CreateObject();
	cJSON *arr = req ? cJSON_AddArrayToObject(req, "commands") : NULL;
	if(!arr){
		cJSON_Delete(req);
		cli_err("out of memory");
		goto out;
	}
	cJSON_AddItemToArray(arr, cmd);
	cmd = NULL;
	payload = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if(!payload){
		cli_err("out of memory");
		goto out;
	}

	char defid[64];
	snprintf(defid, sizeof(defid), "fwguard-ctl-%ld-%.8s", (long)getpid(), ct.corr);
	ct.mosq = cli_mqtt_new(&mq, defid, true, &ct);
	if(!ct.mosq) goto out;
	mosquitto_connect_v5_callback_set(ct.mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(ct.mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(ct.mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(ct.mosq, on_publish);
	mosquitto_message_v5_callback_set(ct.mosq, on_message);
	if(cli_mqtt_connect(ct.mosq, &mq) != 0) goto out;
	double deadline = cli_mono() + (double)timeout;
	if(!pump(&ct, deadline, &ct.conn_done) || ct.conn_rc != 0){
		cli_err("cannot connect to %s:%d as '%s': %s", mq.host, mq.port, mq.username ? mq.username : "",
				ct.conn_done ? mosquitto_reason_string(ct.conn_rc) : "timed out");
		goto out;
	}
	/* Subscribe before publishing, so the response cannot be missed. */
	if(mosquitto_subscribe_v5(ct.mosq, &ct.sub_mid, CTL_RESPONSE_TOPIC, 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
			!pump(&ct, deadline, &ct.sub_done)){
		cli_err("cannot subscribe to '%s'%s", CTL_RESPONSE_TOPIC, ct.lost ? "" : ": timed out");
		goto out;
	}
	if(!ct.sub_ok){
		/* the broker sends the response to the requesting client anyway */
		cli_err("warning: the broker refused the subscription to '%s'", CTL_RESPONSE_TOPIC);
	}
	if(mosquitto_publish_v5(ct.mosq, &ct.pub_mid, CTL_REQUEST_TOPIC, (int)strlen(payload), payload, 1, false, NULL)
			!= MOSQ_ERR_SUCCESS || !pump(&ct, deadline, &ct.pub_done)){
		cli_err("cannot send the request to '%s'%s", CTL_REQUEST_TOPIC, ct.lost ? "" : ": timed out");
		goto out;
	}
	if(ct.pub_rc >= 0x80){
		cli_err("the broker refused the request: PUBACK 0x%02x (%s)", (unsigned)ct.pub_rc,
				mosquitto_reason_string(ct.pub_rc));
		goto out;
	}
	if(!pump(&ct, deadline, &ct.answered)){
		if(!ct.lost)
			cli_err("no response on '%s' within %" PRIu64 " s (is the fwguard plugin loaded?)",
					CTL_RESPONSE_TOPIC, timeout);
		goto out;
	}
	rc = print_answer(ct.answer, cname);
	mosquitto_disconnect_v5(ct.mosq, 0, NULL);
	for(int i = 0; i < 10 && mosquitto_loop(ct.mosq, 50, 1) == MOSQ_ERR_SUCCESS; i++)
		;
out:
	if(ct.mosq) mosquitto_destroy(ct.mosq);
	mosquitto_lib_cleanup();
	cJSON_Delete(ct.answer);
	cJSON_Delete(cmd);
	cJSON_free(payload);
	return rc;
}
