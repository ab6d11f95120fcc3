/*
 * inputs.h — what a run reads: the template (with its partials and
 * attachments) and the recipients file (internal).
 */
#ifndef HD_INPUTS_H
#define HD_INPUTS_H

#include "herald.h"
#include "message.h"
#include "source.h"

/* Loads cfg's template and opens its recipients file.  On failure both
 * outputs are NULL and err says which file and why (HD_EUSAGE for missing
 * or contradicting settings, HD_ENOENT, HD_ETEMPLATE, ...). */
hd_status hd__inputs_open(const hd_run_config *cfg, hd_msgtmpl **tmpl,
			  hd_source **src, hd_error *err);

#endif
