/* The tag's MQTT v5 user properties (PROTOCOL §3). Needs only libmosquitto
 * and mosquitto_free, so the fuzz target links this very file.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef FWG_PROPS_H
#define FWG_PROPS_H
#include <mosquitto.h>
#include "fwguard/fwguard.h"

/* fw-ts and fw-tag, each exactly once: FWG_R_OK with *ts and *tag (free
 * with mosquitto_free), FWG_R_TAG_MISSING, or FWG_R_TAG_MALFORMED (one of
 * them twice). Other properties are ignored. */
enum fwg_reason fwg_props__tag(const mosquitto_property *props, char **ts, char **tag);
#endif
