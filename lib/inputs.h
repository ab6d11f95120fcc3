/*
 * inputs.h — what a run reads: the template (with its partials and
 * attachments) and the recipients file (internal).
 */
#ifndef HD_INPUTS_H
#define HD_INPUTS_H

#include "herald.h"
#include "message.h"
#include "source.h"

/* Opens cfg's recipients file, then loads its template with mo.  On
 * failure err says which file and why (HD_EUSAGE for missing or
 * contradicting settings or an output among the partials, HD_ENOENT,
 * HD_ETEMPLATE, ...); what was opened is kept (*src may be set while
 * *tmpl is NULL) for the caller to free. */
hd_status hd__inputs_open(const hd_run_config *cfg, const hd_msgtmpl_opts *mo,
			  hd_msgtmpl **tmpl, hd_source **src, hd_error *err);

#endif
