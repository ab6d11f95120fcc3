/* filter.c — one decision per row: taken, or left out with a reason. */
#include "filter.h"

#include "dedupe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hd__filter {
	hd__filter_config cfg;
	hd_dedupe *dedupe;
};

hd_status hd__filter_new(const hd__filter_config *cfg, hd__filter **out,
			 hd_error *err)
{
	hd__filter *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f || !(f->dedupe = hd_dedupe_new())) {
		free(f);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	f->cfg = *cfg;
	*out = f;
	return HD_OK;
}

void hd__filter_free(hd__filter *f)
{
	if (!f)
		return;
	hd_dedupe_free(f->dedupe);
	free(f);
}

static int in_range(const hd__filter *f, long row)
{
	if (row <= f->cfg.skip)
		return 0;
	return f->cfg.limit <= 0 || row <= f->cfg.skip + f->cfg.limit;
}

static void leave_out(hd__verdict *v, hd_row_status status, const char *why)
{
	v->take = 0;
	v->status = status;
	snprintf(v->reason, sizeof(v->reason), "%s", why);
}

hd_status hd__filter_decide(hd__filter *f, hd__pass pass, long row,
			    const char *id, json_t *record, hd__verdict *v,
			    hd_error *err)
{
	(void)record;
	memset(v, 0, sizeof(*v));
	v->take = 1;
	if (!in_range(f, row)) {
		leave_out(v, HD_ROW_SKIPPED, "outside --skip/--limit");
		return HD_OK;
	}
	if (!id)
		return HD_OK;
	/* last: only rows that would otherwise go count as first of a key */
	if (pass == HD__PASS_VALIDATE) {
		if (hd_dedupe_note(f->dedupe, id, strlen(id)) != HD_OK)
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		return HD_OK;
	}
	switch (hd_dedupe_seen(f->dedupe, id, strlen(id))) {
	case 0:
		return HD_OK;
	case 1:
		leave_out(v, HD_ROW_SKIPPED,
			  "duplicate key: an earlier row has it");
		return HD_OK;
	default:
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
}
