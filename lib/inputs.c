/* inputs.c — opening the template and the recipients file of a run. */
#include "inputs.h"

#include <string.h>

static hd_format format_of(const char *name)
{
	if (!name)
		return HD_FORMAT_AUTO;
	if (strcmp(name, "csv") == 0)
		return HD_FORMAT_CSV;
	if (strcmp(name, "json") == 0)
		return HD_FORMAT_JSON;
	if (strcmp(name, "jsonl") == 0 || strcmp(name, "ndjson") == 0)
		return HD_FORMAT_JSONL;
	return (hd_format)-1;
}

hd_status hd__inputs_open(const hd_run_config *cfg, const hd_msgtmpl_opts *mo,
			  hd_msgtmpl **tmpl, hd_source **src, hd_error *err)
{
	hd_source_opts so = {0};
	hd_status st;

	*tmpl = NULL;
	*src = NULL;
	so.format = format_of(cfg->format);
	so.delimiter = cfg->delimiter;
	so.encoding = cfg->encoding;
	so.once = cfg->one_pass;
	if ((int)so.format < 0)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--format must be csv, json or jsonl");
	if (!cfg->template_path || !cfg->recipients_path)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "a template (-t) and a recipients file "
				    "are required");
	/* the list first: a run whose template is broken can still report
	 * every row as not attempted */
	st = hd_source_open(cfg->recipients_path, &so, src, err);
	if (st == HD_OK)
		st = hd_msgtmpl_load(cfg->template_path, mo, tmpl, err);
	return st;
}
