/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <mosquitto_broker.h>
#include <mqtt_protocol.h>
#include "props.h"

enum fwg_reason fwg_props__tag(const mosquitto_property *props, char **ts, char **tag)
{
	*ts = *tag = NULL;
	for(const mosquitto_property *pr = props; pr; pr = mosquitto_property_next(pr)){
		char *name = NULL, *value = NULL;
		if(mosquitto_property_identifier(pr) != MQTT_PROP_USER_PROPERTY) continue;
		if(!mosquitto_property_read_string_pair(pr, MQTT_PROP_USER_PROPERTY, &name, &value, false)) continue;
		char **slot = !strcmp(name, "fw-ts") ? ts : !strcmp(name, "fw-tag") ? tag : NULL;
		mosquitto_free(name);
		if(!slot){
			mosquitto_free(value);
			continue;
		}
		if(*slot){
			mosquitto_free(value);
			return FWG_R_TAG_MALFORMED;
		}
		*slot = value;
	}
	return *ts && *tag ? FWG_R_OK : FWG_R_TAG_MISSING;
}
