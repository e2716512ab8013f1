/* SPDX-License-Identifier: Apache-2.0 */
/* stub: to be written */
#include "fwguard/fwguard.h"
