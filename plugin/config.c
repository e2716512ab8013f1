/* plugin_opt_* -> struct fwg_config. Fail closed: unknown, missing or bad
 * options stop the broker. SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "plugin.h"
#include "fwguard/codec.h"

static int bad(const char *key, const char *value, const char *why)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "plugin_opt_%s \"%s\": %s", key, value, why);
	return -1;
}

static int set_str(char **dst, const char *key, const char *value)
{
	if(*dst) return bad(key, value, "given twice");
	if(!value[0]) return bad(key, value, "empty");
	*dst = strdup(value);
	return *dst ? 0 : bad(key, value, "out of memory");
}

static int set_num(uint64_t *dst, const char *key, const char *value, uint64_t min, uint64_t max)
{
	uint64_t v;
	if(fwg_parse_u64(value, strlen(value), max, &v) || v < min){
		char why[96];
		snprintf(why, sizeof(why), "must be a whole number from %llu to %llu",
				(unsigned long long)min, (unsigned long long)max);
		return bad(key, value, why);
	}
	*dst = v;
	return 0;
}

/* Comma-separated usernames (gateway bridges, administrators). */
static int set_names(struct fwg_map **dst, const char *key, const char *value)
{
	if(*dst) return bad(key, value, "given twice");
	*dst = fwg_map_new(4);
	if(!*dst) return bad(key, value, "out of memory");
	const char *s = value;
	for(;;){
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		while(n && s[0] == ' '){ s++; n--; }
		while(n && s[n - 1] == ' ') n--;
		if(n == 0 || memchr(s, '/', n) || memchr(s, '+', n) || memchr(s, '#', n)){
			return bad(key, value, "must be a comma-separated list of usernames without '/', '+' or '#'");
		}
		if(fwg_map_put(*dst, s, n, dst)) return bad(key, value, "out of memory");
		if(!e) break;
		s = e + 1;
	}
	return 0;
}

static bool prefix_valid(const char *s)
{
	size_t n = strlen(s);
	if(n == 0 || n > 128 || s[0] == '/' || s[n - 1] == '/' || s[0] == '$') return false;
	for(size_t i = 0; i < n; i++){
		if(s[i] == '+' || s[i] == '#') return false;
		if(s[i] == '/' && s[i + 1] == '/') return false;
	}
	return true;
}

int fwg_config__parse(struct fwg_config *cfg, struct mosquitto_opt *opts, int n)
{
	uint64_t window = 300, skew = 300, max_image = 268435456, max_chunk = FWG_CHUNK_SIZE_MAX;
	uint64_t replay = 65536, burst = 20, period = 60;
	const char *mode = "origin", *other = "defer", *audit_failure = "closed";

	memset(cfg, 0, sizeof(*cfg));
	for(int i = 0; i < n; i++){
		const char *k = opts[i].key, *v = opts[i].value ? opts[i].value : "";
		int rc;
		if(!strcasecmp(k, "trust_store")) rc = set_str(&cfg->trust_store, k, v);
		else if(!strcasecmp(k, "broker_key")) rc = set_str(&cfg->broker_key, k, v);
		else if(!strcasecmp(k, "state_file")) rc = set_str(&cfg->state_file, k, v);
		else if(!strcasecmp(k, "audit_log")) rc = set_str(&cfg->audit_log, k, v);
		else if(!strcasecmp(k, "topic_prefix")) rc = set_str(&cfg->prefix, k, v);
		else if(!strcasecmp(k, "mode")){ mode = v; rc = 0; }
		else if(!strcasecmp(k, "other_topics")){ other = v; rc = 0; }
		else if(!strcasecmp(k, "audit_failure")){ audit_failure = v; rc = 0; }
		else if(!strcasecmp(k, "tag_window")) rc = set_num(&window, k, v, 1, 86400);
		else if(!strcasecmp(k, "clock_skew")) rc = set_num(&skew, k, v, 0, 86400);
		else if(!strcasecmp(k, "max_image_size")) rc = set_num(&max_image, k, v, 1, FWG_INT_MAX);
		else if(!strcasecmp(k, "max_chunk_size")) rc = set_num(&max_chunk, k, v, FWG_CHUNK_SIZE_MIN, FWG_CHUNK_SIZE_MAX);
		else if(!strcasecmp(k, "replay_cache")) rc = set_num(&replay, k, v, 16, 16777216);
		else if(!strcasecmp(k, "deny_log_burst")) rc = set_num(&burst, k, v, 1, 1000000);
		else if(!strcasecmp(k, "deny_log_period")) rc = set_num(&period, k, v, 1, 86400);
		else if(!strcasecmp(k, "gateway_usernames")) rc = set_names(&cfg->gateways, k, v);
		else if(!strcasecmp(k, "admin_usernames")) rc = set_names(&cfg->admins, k, v);
		else rc = bad(k, v, "unknown option");
		if(rc) goto fail;
	}
	if(!strcasecmp(mode, "origin")) cfg->mode = FWG_MODE_ORIGIN;
	else if(!strcasecmp(mode, "relay")) cfg->mode = FWG_MODE_RELAY;
	else{ bad("mode", mode, "must be origin or relay"); goto fail; }
	if(!strcasecmp(other, "defer")) cfg->other_topics = FWG_OTHER_DEFER;
	else if(!strcasecmp(other, "allow")) cfg->other_topics = FWG_OTHER_ALLOW;
	else if(!strcasecmp(other, "deny")) cfg->other_topics = FWG_OTHER_DENY;
	else{ bad("other_topics", other, "must be defer, allow or deny"); goto fail; }
	if(!strcasecmp(audit_failure, "closed")) cfg->audit_fail_open = false;
	else if(!strcasecmp(audit_failure, "open")) cfg->audit_fail_open = true;
	else{ bad("audit_failure", audit_failure, "must be closed or open"); goto fail; }

	static const char *const required[] = { "trust_store", "state_file", "audit_log" };
	char *const *vals[] = { &cfg->trust_store, &cfg->state_file, &cfg->audit_log };
	for(size_t i = 0; i < 3; i++){
		if(!*vals[i]){
			mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "plugin_opt_%s is required", required[i]);
			goto fail;
		}
	}
	if(cfg->mode == FWG_MODE_ORIGIN && !cfg->broker_key){
		mosquitto_log_printf(MOSQ_LOG_ERR, FWG_LOG_PREFIX "plugin_opt_broker_key is required in origin mode");
		goto fail;
	}
	if(cfg->mode == FWG_MODE_RELAY && cfg->broker_key){
		bad("broker_key", cfg->broker_key, "not used in relay mode (no tag check there); remove it");
		goto fail;
	}
	if(!cfg->prefix && !(cfg->prefix = strdup("fw"))) goto fail;
	if(!prefix_valid(cfg->prefix)){
		bad("topic_prefix", cfg->prefix, "must be a topic without wildcards, empty levels, leading '$' or '/'");
		goto fail;
	}
	cfg->prefix_len = strlen(cfg->prefix);
	cfg->tag_window = (int64_t)window;
	cfg->limits.clock_skew = (int64_t)skew;
	cfg->limits.max_image_size = max_image;
	cfg->limits.max_chunk_size = max_chunk;
	cfg->replay_cache = replay;
	cfg->deny_log_burst = burst;
	cfg->deny_log_period = period;
	return 0;
fail:
	fwg_config__free(cfg);
	return -1;
}

void fwg_config__free(struct fwg_config *cfg)
{
	free(cfg->trust_store);
	free(cfg->broker_key);
	free(cfg->state_file);
	free(cfg->audit_log);
	free(cfg->prefix);
	fwg_map_free(cfg->gateways, NULL);
	fwg_map_free(cfg->admins, NULL);
	memset(cfg, 0, sizeof(*cfg));
}
