/* SPDX-License-Identifier: Apache-2.0 */
#include "fwguard/fwguard.h"

#define FWG__REASON_STR(name, str) str,
static const char *const reason_strings[] = { FWG_REASONS(FWG__REASON_STR) };
#undef FWG__REASON_STR

const char *fwg_reason_str(enum fwg_reason r)
{
	if((unsigned)r >= FWG_R__COUNT) return "internal_error";
	return reason_strings[r];
}
