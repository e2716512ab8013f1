/* Shared MQTT options and connection set-up (libmosquitto, MQTT v5).
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>
#include "cli.h"
#include "fwguard/codec.h"

void cli_mqtt_defaults(struct cli_mqtt *m)
{
	memset(m, 0, sizeof(*m));
	m->host = "localhost";
	m->port = -1;
	m->keepalive = 30;
	m->prefix = "fw";
	m->password = getenv("FWG_PASSWORD");
}

int cli_mqtt_option(struct cli_mqtt *m, int opt, const char *arg)
{
	uint64_t v;
	switch(opt){
	case 'h': m->host = arg; return 1;
	case 'p':
		if(cli_parse_u64("port", arg, 65535, &v) != 0 || v == 0){
			if(v == 0) cli_err("invalid port '%s'", arg);
			return -1;
		}
		m->port = (int)v;
		return 1;
	case 'u': m->username = arg; return 1;
	case 'P': m->password = arg; return 1;
	case 'i': m->client_id = arg; return 1;
	case OPT_CAFILE: m->cafile = arg; return 1;
	case OPT_CAPATH: m->capath = arg; return 1;
	case OPT_CERT: m->cert = arg; return 1;
	case OPT_KEY: m->key = arg; return 1;
	case OPT_INSECURE: m->insecure = true; return 1;
	case OPT_BIND: m->bind_address = arg; return 1;
	case OPT_KEEPALIVE:
		if(cli_parse_u64("keepalive", arg, 65535, &v) != 0 || v < 5){
			if(v < 5) cli_err("invalid keepalive '%s' (5..65535)", arg);
			return -1;
		}
		m->keepalive = (int)v;
		return 1;
	case OPT_PREFIX: {
		/* one or more levels of the id charset */
		size_t n = strlen(arg);
		bool ok = n > 0 && n <= 128 && arg[0] != '/' && arg[n - 1] != '/';
		for(size_t i = 0; ok && i < n; i++)
			ok = arg[i] != '+' && arg[i] != '#' && arg[i] != '\0';
		if(!ok){
			cli_err("invalid prefix '%s'", arg);
			return -1;
		}
		m->prefix = arg;
		return 1;
	}
	default:
		return 0;
	}
}

struct mosquitto *cli_mqtt_new(struct cli_mqtt *m, const char *default_id, bool clean, void *ud)
{
	mosquitto_lib_init();
	const char *id = m->client_id ? m->client_id : default_id;
	struct mosquitto *mosq = mosquitto_new(id, clean, ud);
	if(mosq == NULL){
		cli_err("cannot create the MQTT client: %s", strerror(errno));
		return NULL;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if(m->username || m->password){
		if(mosquitto_username_pw_set(mosq, m->username, m->password) != MOSQ_ERR_SUCCESS){
			cli_err("invalid username '%s'", m->username ? m->username : "");
			mosquitto_destroy(mosq);
			return NULL;
		}
	}
	bool tls = m->cafile || m->capath || m->cert || m->key;
	if(tls){
		if((m->cert == NULL) != (m->key == NULL)){
			cli_err("--cert and --key go together");
			mosquitto_destroy(mosq);
			return NULL;
		}
		if(m->cafile == NULL && m->capath == NULL){
			cli_err("TLS needs --cafile or --capath");
			mosquitto_destroy(mosq);
			return NULL;
		}
		int rc = mosquitto_tls_set(mosq, m->cafile, m->capath, m->cert, m->key, NULL);
		if(rc != MOSQ_ERR_SUCCESS){
			cli_err("TLS set-up failed (--cafile '%s', --cert '%s', --key '%s'): %s",
					m->cafile ? m->cafile : "", m->cert ? m->cert : "", m->key ? m->key : "",
					mosquitto_strerror(rc));
			mosquitto_destroy(mosq);
			return NULL;
		}
		if(m->insecure) mosquitto_tls_insecure_set(mosq, true);
	}
	if(m->port < 0) m->port = tls ? 8883 : 1883;
	return mosq;
}

int cli_mqtt_connect(struct mosquitto *mosq, const struct cli_mqtt *m)
{
	int rc = mosquitto_connect_bind_v5(mosq, m->host, m->port, m->keepalive, m->bind_address, NULL);
	if(rc != MOSQ_ERR_SUCCESS){
		cli_err("cannot connect to %s:%d: %s", m->host, m->port,
				rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}
