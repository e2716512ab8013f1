/* Raw-text pre-scan of JSON documents. SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "json_lex.h"
#include "fwguard/codec.h"

/* Skip a string starting after its opening quote at buf[*pos]. On success
 * *pos is just past the closing quote. */
static enum fwg_reason skip_string(const uint8_t *buf, size_t len, size_t *pos)
{
	size_t i = *pos;
	while(i < len){
		uint8_t c = buf[i];
		if(c < 0x20) return FWG_R_JSON_INVALID; /* includes NUL */
		if(c == '"'){
			*pos = i + 1;
			return FWG_R_OK;
		}
		if(c == '\\'){
			if(i + 1 >= len) return FWG_R_JSON_INVALID;
			if(buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0)
				return FWG_R_JSON_INVALID;
			if(buf[i + 1] < 0x20) return FWG_R_JSON_INVALID;
			i += 2;
			continue;
		}
		i++;
	}
	return FWG_R_JSON_INVALID; /* unterminated */
}

static bool number_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* A number token starting at buf[*pos]; *pos is moved past it. */
static enum fwg_reason check_number(const uint8_t *buf, size_t len, size_t *pos, bool integers_only)
{
	size_t start = *pos, i = start;
	while(i < len && number_char(buf[i])) i++;
	*pos = i;
	if(!integers_only) return FWG_R_OK;
	if(fwg_parse_u64((const char *)buf + start, i - start, FWG_INT_MAX, NULL) != 0)
		return FWG_R_NUMBER_INVALID;
	return FWG_R_OK;
}

enum fwg_reason fwg_json_prescan(const uint8_t *buf, size_t len, bool integers_only)
{
	if(buf == NULL) return FWG_R_JSON_INVALID;
	size_t i = 0;
	while(i < len){
		uint8_t c = buf[i];
		enum fwg_reason r = FWG_R_OK;
		/* outside strings only the four JSON whitespace characters may be
		 * below 0x20 (cJSON would skip any of them as whitespace) */
		if(c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') return FWG_R_JSON_INVALID;
		if(c == '"'){
			i++;
			r = skip_string(buf, len, &i);
		}else if(c == '-' || (c >= '0' && c <= '9')){
			r = check_number(buf, len, &i, integers_only);
		}else{
			i++;
		}
		if(r != FWG_R_OK) return r;
	}
	return FWG_R_OK;
}
