/* Raw-text pre-scan of JSON documents, before cJSON parses them.
 * Private to lib/. SPDX-License-Identifier: Apache-2.0 */
#ifndef FWGUARD_JSON_LEX_H
#define FWGUARD_JSON_LEX_H
#include "fwguard/fwguard.h"

/* A small lexer over the raw JSON text (cJSON cannot tell 7 from 7.0):
 *  - no NUL byte anywhere, and outside strings no control
 *    character but TAB, LF and CR                         -> FWG_R_JSON_INVALID
 *  - strings are terminated, hold no raw control character
 *    (< 0x20) and no "\u0000" escape                       -> FWG_R_JSON_INVALID
 *  - when integers_only, every number token outside strings
 *    is "0|[1-9][0-9]*" with value <= 2^53-1 (no sign,
 *    fraction or exponent)                                 -> FWG_R_NUMBER_INVALID
 * It does not check the JSON grammar (cJSON does). FWG_R_OK otherwise. */
enum fwg_reason fwg_json_prescan(const uint8_t *buf, size_t len, bool integers_only);
#endif
