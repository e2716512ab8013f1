/* devsim: N simulated devices in one process for the ops tests — one MQTT v5
 * connection per device (username <vendor>/<model>/<name><i>), all driven
 * by one poll(2) loop.
 *
 * Each device subscribes to its model's manifest, chunk 0 of every
 * sequence (--chunks) and a barrier topic (--ping, an ordinary topic).
 * Output on stdout, one line per event, flushed:
 *   ready N                  every device connected and every SUBACK came
 *   manifest DEV SEQ         a manifest delivered to DEV
 *   chunk DEV SEQ INDEX      a chunk delivered to DEV (non-empty)
 *   ping DEV PAYLOAD         the barrier message delivered to DEV
 *   puback DEV RC            PUBACK of a status publish
 *   disconnect DEV RC        a connection was lost (never reconnected)
 *   error ...                anything else that went wrong
 * Commands on stdin, one per line:
 *   status DEV JSON          DEV publishes JSON (QoS 1) on its status topic
 *   quit                     (or end of input) disconnect everybody, exit 0
 * Exit 0 on quit, 2 on usage/connection errors, 3 at --timeout.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

struct dev {
	struct mosquitto *mosq;
	char name[72];
	int pending_subs;
	bool connected, subscribed, dead;
};

static struct dev *devs;
static int ndevs, nready;
static const char *prefix = "fw", *vendor, *model, *ping_topic;
static char manifest_topic[256], chunk_filter[256], chunk_prefix[256];
static bool want_chunks;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void sub_one(struct dev *d, const char *topic)
{
	if(mosquitto_subscribe_v5(d->mosq, NULL, topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS){
		out("error %s cannot subscribe to %s", d->name, topic);
		return;
	}
	d->pending_subs++;
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct dev *d = ud;
	if(rc != 0){
		out("error %s CONNACK %d (%s)", d->name, rc, mosquitto_reason_string(rc));
		return;
	}
	d->connected = true;
	sub_one(d, manifest_topic);
	if(want_chunks) sub_one(d, chunk_filter);
	if(ping_topic) sub_one(d, ping_topic);
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct dev *d = ud;
	if(!d->dead) out("disconnect %s %d", d->name, rc);
	d->dead = true;
	d->connected = false;
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted,
		const mosquitto_property *props)
{
	struct dev *d = ud;
	for(int i = 0; i < n; i++)
		if(granted[i] >= 0x80) out("error %s SUBACK 0x%02x", d->name, (unsigned)granted[i]);
	if(--d->pending_subs == 0 && !d->subscribed){
		d->subscribed = true;
		if(++nready == ndevs) out("ready %d", ndevs);
	}
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int reason, const mosquitto_property *props)
{
	struct dev *d = ud;
	out("puback %s %d", d->name, reason);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	struct dev *d = ud;
	if(!strcmp(msg->topic, manifest_topic)){
		if(msg->payloadlen <= 0) return;
		cJSON *o = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "sequence");
		if(cJSON_IsNumber(s)) out("manifest %s %.0f", d->name, s->valuedouble);
		else out("error %s manifest without a sequence", d->name);
		cJSON_Delete(o);
	}else if(!strncmp(msg->topic, chunk_prefix, strlen(chunk_prefix))){
		if(msg->payloadlen <= 0) return;
		const char *rest = msg->topic + strlen(chunk_prefix); /* "<seq>/<index>" */
		const char *slash = strchr(rest, '/');
		if(slash) out("chunk %s %.*s %s", d->name, (int)(slash - rest), rest, slash + 1);
	}else if(ping_topic && !strcmp(msg->topic, ping_topic)){
		out("ping %s %.*s", d->name, msg->payloadlen, (const char *)msg->payload);
	}else{
		out("error %s unexpected message on %s", d->name, msg->topic);
	}
}

static struct dev *find_dev(const char *name)
{
	for(int i = 0; i < ndevs; i++)
		if(!strcmp(devs[i].name, name)) return &devs[i];
	return NULL;
}

/* One stdin line; false on quit. */
static bool command(char *line)
{
	char *sp;
	if(!strcmp(line, "quit")) return false;
	if(!strncmp(line, "status ", 7) && (sp = strchr(line + 7, ' '))){
		*sp = '\0';
		struct dev *d = find_dev(line + 7);
		char topic[512];
		if(!d || !d->connected){
			out("error status: no connected device '%s'", line + 7);
			return true;
		}
		snprintf(topic, sizeof(topic), "%s/%s/%s/status/%s", prefix, vendor, model, d->name);
		int rc = mosquitto_publish_v5(d->mosq, NULL, topic, (int)strlen(sp + 1), sp + 1, 1, true, NULL);
		if(rc != MOSQ_ERR_SUCCESS) out("error %s publish: %s", d->name, mosquitto_strerror(rc));
		return true;
	}
	if(line[0]) out("error unknown command '%s'", line);
	return true;
}

int main(int argc, char *argv[])
{
	const char *host = "127.0.0.1", *password = NULL, *name_prefix = "dev";
	int port = 1883, first = 1, c;
	double timeout = 300;
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' }, { "port", required_argument, NULL, 'p' },
		{ "password", required_argument, NULL, 'P' }, { "vendor", required_argument, NULL, 'v' },
		{ "model", required_argument, NULL, 'm' }, { "count", required_argument, NULL, 'n' },
		{ "first", required_argument, NULL, 'f' }, { "name-prefix", required_argument, NULL, 'N' },
		{ "ping", required_argument, NULL, 'g' }, { "chunks", no_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'x' }, { "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	while((c = getopt_long(argc, argv, "h:p:P:v:m:n:f:N:g:cx:t:", opts, NULL)) != -1){
		switch(c){
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'P': password = optarg; break;
		case 'v': vendor = optarg; break;
		case 'm': model = optarg; break;
		case 'n': ndevs = atoi(optarg); break;
		case 'f': first = atoi(optarg); break;
		case 'N': name_prefix = optarg; break;
		case 'g': ping_topic = optarg; break;
		case 'c': want_chunks = true; break;
		case 'x': prefix = optarg; break;
		case 't': timeout = atof(optarg); break;
		default: goto usage;
		}
	}
	if(!vendor || !model || ndevs < 1 || ndevs > 1000 || port < 1 || timeout <= 0 || optind != argc){
usage:
		fprintf(stderr, "usage: devsim -p PORT -P PASS -v VENDOR -m MODEL -n N [-f FIRST (1)] "
				"[-N NAME_PREFIX (dev)] [--ping TOPIC] [--chunks] [--prefix fw] [--timeout SECS (300)]\n");
		return 2;
	}
	snprintf(manifest_topic, sizeof(manifest_topic), "%s/%s/%s/manifest", prefix, vendor, model);
	snprintf(chunk_filter, sizeof(chunk_filter), "%s/%s/%s/chunk/+/0", prefix, vendor, model);
	snprintf(chunk_prefix, sizeof(chunk_prefix), "%s/%s/%s/chunk/", prefix, vendor, model);

	mosquitto_lib_init();
	devs = calloc((size_t)ndevs, sizeof(*devs));
	struct pollfd *pfd = calloc((size_t)ndevs + 1, sizeof(*pfd));
	if(!devs || !pfd) return 2;
	for(int i = 0; i < ndevs; i++){
		struct dev *d = &devs[i];
		char user[256], id[128];
		snprintf(d->name, sizeof(d->name), "%s%d", name_prefix, first + i);
		snprintf(user, sizeof(user), "%s/%s/%s", vendor, model, d->name);
		snprintf(id, sizeof(id), "devsim-%ld-%s", (long)getpid(), d->name);
		d->mosq = mosquitto_new(id, true, d);
		if(!d->mosq) return 2;
		mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
		mosquitto_username_pw_set(d->mosq, user, password);
		mosquitto_connect_v5_callback_set(d->mosq, on_connect);
		mosquitto_disconnect_v5_callback_set(d->mosq, on_disconnect);
		mosquitto_subscribe_v5_callback_set(d->mosq, on_subscribe);
		mosquitto_publish_v5_callback_set(d->mosq, on_publish);
		mosquitto_message_v5_callback_set(d->mosq, on_message);
		int rc = mosquitto_connect(d->mosq, host, port, 60);
		if(rc != MOSQ_ERR_SUCCESS){
			fprintf(stderr, "devsim: %s cannot connect to %s:%d: %s\n", d->name, host, port,
					rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
			return 2;
		}
	}

	double deadline = mono() + timeout;
	char buf[8192];
	size_t blen = 0;
	bool running = true, stdin_open = true;
	while(running){
		if(mono() > deadline){
			out("error timeout after %.0f s", timeout);
			break;
		}
		for(int i = 0; i < ndevs; i++){
			struct dev *d = &devs[i];
			pfd[i].fd = d->dead ? -1 : mosquitto_socket(d->mosq);
			pfd[i].events = POLLIN | (mosquitto_want_write(d->mosq) ? POLLOUT : 0);
			pfd[i].revents = 0;
		}
		pfd[ndevs].fd = stdin_open ? 0 : -1;
		pfd[ndevs].events = POLLIN;
		pfd[ndevs].revents = 0;
		if(poll(pfd, (nfds_t)ndevs + 1, 100) < 0 && errno != EINTR){
			perror("devsim: poll");
			break;
		}
		for(int i = 0; i < ndevs; i++){
			struct dev *d = &devs[i];
			if(d->dead) continue;
			int rc = MOSQ_ERR_SUCCESS;
			if(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) rc = mosquitto_loop_read(d->mosq, 1);
			if(rc == MOSQ_ERR_SUCCESS && (pfd[i].revents & POLLOUT)) rc = mosquitto_loop_write(d->mosq, 1);
			if(rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(d->mosq);
			if(rc != MOSQ_ERR_SUCCESS && !d->dead){
				out("disconnect %s %d", d->name, rc);
				d->dead = true;
			}
		}
		if(pfd[ndevs].revents){
			ssize_t n = read(0, buf + blen, sizeof(buf) - 1 - blen);
			if(n <= 0){
				stdin_open = false;
				running = false;
			}else{
				blen += (size_t)n;
				char *nl;
				while(running && (nl = memchr(buf, '\n', blen))){
					*nl = '\0';
					running = command(buf);
					size_t used = (size_t)(nl + 1 - buf);
					memmove(buf, nl + 1, blen - used);
					blen -= used;
				}
				if(blen == sizeof(buf) - 1){
					out("error command line too long");
					blen = 0;
				}
			}
		}
	}
	for(int i = 0; i < ndevs; i++){
		if(!devs[i].dead) mosquitto_disconnect(devs[i].mosq);
		mosquitto_destroy(devs[i].mosq);
	}
	mosquitto_lib_cleanup();
	free(devs);
	free(pfd);
	return running ? 3 : 0;
}
