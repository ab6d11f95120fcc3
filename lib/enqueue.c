/*
 * enqueue.c — herald enqueue: one Redis stream entry per recipient row.
 *
 * Two passes, as herald check and send: the first reads every row (and,
 * with a template, renders and validates it as check does), so that a
 * broken list adds nothing; the second adds the rows, pipelined.
 */
#include "inputs.h"
#include "redis.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPELINE 512 /* XADDs sent before their replies are read */

struct enq {
	hd__wire w;
	const hd_enqueue_config *cfg;
	hd__redis *r;
	hd__redis_url u;
	long added;
	int pending; /* XADDs whose replies are not read yet */
};

/* Is the current row to go (valid, or no template to say)?  1, 0, or -1
 * with *st set (out of memory; an attachment that is an output). */
static int row_ok(struct enq *q, json_t *rec, int pass1, hd_status *st,
		  hd_error *err)
{
	hd__wire *w = &q->w;
	hd__job j = {0};
	int ok = 1;

	*st = HD_OK;
	if (!w->tmpl)
		return 1;
	if (pass1)
		w->stats.total++;
	/* a check job, as the workers of herald check run it, here */
	j.kind = HD__JOB_CHECK;
	j.sender = &w->sender;
	j.row = hd_source_row(w->src);
	j.line = hd_source_line(w->src);
	j.record = rec;
	hd__job_open(&j, hd_monotonic());
	if (j.status == HD_ROW_INVALID && j.check_error.code == HD_EUSAGE) {
		/* an attachment that is an output */
		*st = HD_EUSAGE;
		if (err)
			*err = j.check_error;
		ok = -1;
	} else if (j.status == HD_ROW_INVALID) {
		ok = 0;
		if (pass1) {
			w->invalid_found++;
			hd__wire_emit(w, HD_EVENT_INVALID_ROW, &j.check_error,
				      NULL);
		}
	}
	free(j.key);
	free(j.id);
	return ok;
}

static hd_status read_replies(struct enq *q, hd_error *err)
{
	redisReply *rep;
	hd_status st = HD_OK, first = HD_OK;

	for (; q->pending > 0; q->pending--) {
		st = hd__redis_reply(q->r, &rep, err);
		if (st != HD_OK)
			return st;
		if (rep->type == REDIS_REPLY_ERROR && first == HD_OK)
			first = hd_error_set(err, HD_EIO, NULL, 0, 0,
					     "%.300s: XADD: %.300s",
					     hd__redis_name(q->r), rep->str);
		else if (rep->type == REDIS_REPLY_STRING)
			q->added++;
		freeReplyObject(rep);
	}
	return first;
}

static hd_status add(struct enq *q, json_t *rec, hd_error *err)
{
	const char *field = q->cfg->field ? q->cfg->field : "record";
	char *js = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	const char *argv[5] = {"XADD", q->u.stream, "*", field, js};
	hd_status st;

	if (!js)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	st = hd__redis_append(q->r, 5, argv, NULL, err);
	free(js);
	if (st == HD_OK && ++q->pending >= PIPELINE)
		st = read_replies(q, err);
	return st;
}

/* One pass over the list; pass1 validates, else rows are added. */
static hd_status pass(struct enq *q, int pass1, hd_error *err)
{
	hd__wire *w = &q->w;
	json_t *rec = NULL;
	hd_status st;

	for (;;) {
		int ok;
		st = hd_source_next(w->src, &rec, err);
		if (st != HD_OK || !rec)
			break;
		if (pass1)
			w->stats.rows = hd_source_row(w->src);
		ok = row_ok(q, rec, pass1, &st, err);
		if (ok > 0 && !pass1)
			st = add(q, rec, err);
		json_decref(rec);
		rec = NULL;
		if (st != HD_OK)
			break;
	}
	if (st == HD_OK && !pass1)
		st = read_replies(q, err);
	return st;
}

static hd_status set_up(struct enq *q, hd_error *err)
{
	const hd_run_config *cfg = &q->cfg->run;
	hd__wire *w = &q->w;
	hd_msgtmpl_opts mo = {.env_names = cfg->env_names,
			      .n_env = cfg->n_env,
			      .redirect = cfg->redirect,
			      .mail = &cfg->mail,
			      .outputs = &w->outputs};
	hd_source_opts so = {.format = HD_FORMAT_AUTO,
			     .delimiter = cfg->delimiter};
	json_t *first = NULL;
	hd_status st;

	st = hd__redis_url_parse(q->cfg->url, &q->u, err);
	if (st != HD_OK)
		return st;
	if (!cfg->recipients_path)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "a recipients file is required");
	if (cfg->template_path) {
		st = hd__inputs_open(cfg, &mo, &w->tmpl, &w->src, err);
	} else {
		so.format = !cfg->format		   ? HD_FORMAT_AUTO
			    : !strcmp(cfg->format, "csv")  ? HD_FORMAT_CSV
			    : !strcmp(cfg->format, "json") ? HD_FORMAT_JSON
							   : HD_FORMAT_JSONL;
		st = hd_source_open(cfg->recipients_path, &so, &w->src, err);
	}
	if (st != HD_OK || !w->tmpl)
		return st;
	/* the key, from the first record, as send chooses it */
	st = hd_source_next(w->src, &first, err);
	if (st != HD_OK)
		return st;
	hd__key_choose(&w->key, cfg->key_field, w->tmpl, first);
	w->key_chosen = 1;
	json_decref(first);
	/* what a check job reads */
	w->sender.tmpl = w->tmpl;
	w->sender.keys = &w->key;
	w->sender.campaign = w->campaign;
	w->sender.source_name = hd_source_name(w->src);
	return hd_source_rewind(w->src, err);
}

hd_status hd_enqueue(const hd_enqueue_config *cfg, long *added, hd_error *err)
{
	struct enq q;
	hd_status st;

	memset(&q, 0, sizeof(q));
	hd_error_clear(err);
	q.cfg = cfg;
	hd__wire_init(&q.w, &cfg->run);
	st = set_up(&q, err);
	if (st == HD_OK)
		st = pass(&q, 1, err);
	if (st == HD_OK && q.w.invalid_found > 0 && !cfg->run.skip_invalid)
		st = hd_error_set(
		    err, HD_EINVALIDROWS, cfg->run.recipients_path, 0, 0,
		    "%ld invalid row%s: nothing was added%s", q.w.invalid_found,
		    q.w.invalid_found == 1 ? "" : "s",
		    q.w.invalid_found < q.w.stats.total
			? " (--skip-invalid adds the rest)"
			: "");
	if (st == HD_OK)
		st = hd__redis_connect(&q.u, cfg->password, &q.r, err);
	if (st == HD_OK)
		st = hd_source_rewind(q.w.src, err);
	if (st == HD_OK)
		st = pass(&q, 0, err);
	if (added)
		*added = q.added;
	hd__redis_free(q.r);
	hd__wire_cleanup(&q.w);
	return st;
}
