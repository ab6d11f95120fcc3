/*
 * run.c — herald send and check: the wiring of the pipeline.
 *
 *   reader ─► filter ─► pool ─► sender (workers) ─► transports
 *   results ─► committer ─► report and journal
 *
 *   setup                 outputs are checked against inputs before any
 *                         is opened for writing; the journal is locked and
 *                         read; the key is chosen from the first record
 *   pass 1 (this thread)  read every row, decide whether it is taken
 *                         (filter.c), render and validate the taken ones;
 *                         a broken file stops here, nothing is sent
 *   pass 2 (this thread)  read again, decide again, submit the taken rows
 *                         to the pool (send.c does the rest on the
 *                         workers), hand every row's outcome to the
 *                         committer thread (commit.c), which writes it
 *
 * Two streaming passes keep memory independent of the list's length while
 * still refusing to send anything when any row is bad.  A list that can
 * be read once only (--one-pass: standard input as it comes) is sent in
 * one pass instead (onepass.c), validated row by row on the workers.
 * What every run wires the same way (the journal, the transport, the
 * pool, the committer, the counts) is in wire.c; this thread owns the
 * hd__wire, the workers see only the hd__sender inside it.
 */
#include "fields.h"
#include "inputs.h"
#include "onepass.h"
#include "outbox_prep.h"
#include "wire.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check jobs out at once, at most: the queue and the workers' rows, and
 * the rows that came back before the one the list waits for (a worker
 * that lost its core while the others went on).  Unbounded, those grew to
 * hundreds of jobs of 4 KB each at random, a megabyte and more of peak
 * memory that the rows to send never need. */
#define CHECK_AHEAD 128

/* Rows checked by the workers, held until every earlier one is back, so
 * that what is said of them comes in the order of the list. */
struct hd__checked {
	hd__job *head;	  /* by submission order */
	uint64_t next;	  /* the next to process */
	uint64_t seq;	  /* submitted */
	int reporting;	  /* pass 2 of a refused run: report each row */
	int broken;	  /* a row's text did not parse: status says why */
	hd_status status; /* its first fatal error */
	hd_error err;
};

static void checked_back(hd__wire *r, hd__job *j);

/* Collects finished jobs; waits up to timeout_ms for the first. */
static void drain(hd__wire *r, int timeout_ms)
{
	hd_task *t;

	while ((t = hd_pool_next_result(r->pool, timeout_ms)) != NULL) {
		hd__job *j = (hd__job *)t;
		if (j->kind == HD__JOB_CHECK) {
			checked_back(r, j);
		} else {
			/* a row's retries are told before its outcome */
			hd__wire_emit_attempts(r);
			hd__wire_finish_job(r, j);
		}
		timeout_ms = 0;
	}
	hd__wire_emit_attempts(r);
	/* a check pass goes on to its end: stops are for sending */
	if (!r->checking)
		hd__wire_check_stops(r);
	hd__wire_progress(r);
}

/* What a checked row means to the pass it belongs to. */
static void check_done(hd__wire *r, struct hd__checked *c, hd__job *j)
{
	hd__verdict v;
	hd_error err;
	hd_status st;

	if (c->broken) {
		/* rows after a broken one are not the list's: it ends there */
		hd__job_free(j);
		return;
	}
	if (j->broken != HD_OK) {
		/* the file is broken here: as if the reader had said it */
		c->broken = 1;
		c->status = j->broken;
		c->err = j->check_error;
		if (!c->reporting)
			r->stats.rows = j->row - 1;
		hd__source_fail(r->src, &j->check_error);
		hd__job_free(j);
		return;
	}
	hd_error_clear(&err);
	st = hd__filter_decide(r->filter,
			       c->reporting ? HD__PASS_SEND : HD__PASS_VALIDATE,
			       j->row, j->id, &j->due, &v, &err);
	if (st != HD_OK) {
		if (c->status == HD_OK) {
			c->status = st;
			c->err = err;
		}
	} else if (!v.take) {
		if (c->reporting)
			hd__wire_record_simple(r, j->row, j->key, v.status,
					       v.reason, 0);
	} else if (j->status == HD_ROW_INVALID &&
		   j->check_error.code == HD_EUSAGE) {
		/* an attachment that is an output: the run is wrong */
		if (c->status == HD_OK) {
			c->status = HD_EUSAGE;
			c->err = j->check_error;
		}
	} else if (c->reporting) {
		char text[700] = "";
		if (j->status == HD_ROW_INVALID)
			hd_error_format(&j->check_error, text, sizeof(text));
		hd__wire_record_simple(r, j->row, j->key,
				       j->status == HD_ROW_INVALID
					   ? HD_ROW_INVALID
					   : HD_ROW_NOT_ATTEMPTED,
				       text[0] ? text : NULL, 1);
	} else {
		r->stats.total++;
		if (j->status == HD_ROW_INVALID) {
			r->invalid_found++;
			hd__wire_emit(r, HD_EVENT_INVALID_ROW, &j->check_error,
				      NULL);
		}
	}
	hd__job_free(j);
}

/* A checked row came back: processed in list order. */
static void checked_back(hd__wire *r, hd__job *j)
{
	struct hd__checked *c = r->checking;
	hd__job **p = &c->head;

	while (*p && (*p)->seq_ < j->seq_)
		p = &(*p)->next_;
	j->next_ = *p;
	*p = j;
	while (c->head && c->head->seq_ == c->next) {
		hd__job *h = c->head;
		c->head = h->next_;
		c->next++;
		check_done(r, c, h);
	}
}

/* Now and then (rows 1,024, 2,048, 4,096, ...) an estimate of the rows
 * in all, from the list's size and the bytes the rows so far took, for
 * the filter of keys to size itself by. */
static void expect_rows(hd__wire *r, long row)
{
	long long done, size;

	if (row < 1024 || (row & (row - 1)) != 0 ||
	    !hd_source_progress(r->src, &done, &size) || done <= 0)
		return;
	hd__filter_expect(r->filter,
			  (long)((double)size / (double)done * (double)row));
}

/* Reads every row and has the workers render and check it (its key too);
 * the coordinator only reads the file and decides.  Pass 1 notes keys and
 * counts invalid rows; in pass 2 of a refused run it reports each row.
 * Returns HD_OK, the reader's error (the file itself is broken) or the
 * first fatal one of a row (HD_EUSAGE: an attachment is an output). */
static hd_status pass_check(hd__wire *r, int reporting, hd_error *err)
{
	struct hd__checked c = {0};
	json_t *rec = NULL;
	hd_status st;

	c.reporting = reporting;
	r->checking = &c;
	for (;;) {
		hd__record_text text;
		hd__job *j;
		long row;

		drain(r, 0);
		if (c.broken)
			break;
		/* the workers parse what they can (JSON Lines): this thread
		 * only cuts the file into records */
		st = hd__source_next_text(r->src, &rec, &text, err);
		if (st != HD_OK || (!rec && !text.text))
			break;
		row = hd_source_row(r->src);
		if (!reporting) {
			r->stats.rows = row;
			expect_rows(r, row);
		}
		if (hd__filter_outside(r->filter, row)) {
			if (reporting)
				hd__wire_record_simple(
				    r, row, NULL, HD_ROW_SKIPPED,
				    "outside --skip/--limit", 0);
			json_decref(rec);
			hd__record_text_clear(&text);
			continue;
		}
		/* rows checked ahead of the one the list waits for are
		 * held until it comes back: no more than CHECK_AHEAD */
		while (c.seq - c.next >= CHECK_AHEAD)
			drain(r, 100);
		j = hd__job_new();
		if (!j) {
			json_decref(rec);
			hd__record_text_clear(&text);
			st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
			break;
		}
		j->kind = HD__JOB_CHECK;
		j->sender = &r->sender;
		j->row = row;
		j->line = hd_source_line(r->src);
		j->record = rec;
		j->text = text;
		j->drop_record = 1;
		j->seq_ = c.seq++;
		rec = NULL;
		while (hd_pool_submit(r->pool, &j->task, 100) != HD_OK)
			drain(r, 0);
	}
	/* what is still out comes back (the pool runs until the end) */
	while (c.next < c.seq)
		drain(r, 100);
	r->checking = NULL;
	/* a broken row comes before whatever the reader found after it */
	if (c.broken || (st == HD_OK && c.status != HD_OK)) {
		if (err)
			*err = c.err;
		st = c.status;
	}
	return st;
}

/* Pass 1: every row is read and checked on the workers; keys are noted. */
static hd_status pass_validate(hd__wire *r, hd_error *err)
{
	return pass_check(r, 0, err);
}

/* Pass 1 is over: what the reader passed over, said once, and the
 * caller hears that every invalid row is known. */
static void checked(hd__wire *r)
{
	hd_source_leftovers lo;
	char d = hd__fields_other_delimiter(r->src);
	const char *name = hd_source_name(r->src);

	hd_source_passed_over(r->src, &lo);
	if (lo.delimiter_lines && lo.unnamed)
		hd__wire_note(r,
			      "%s: passed over %ld line%s made only of "
			      "delimiters (the first: line %ld) and %zu empty "
			      "unnamed column%s at the end",
			      name, lo.delimiter_lines,
			      lo.delimiter_lines == 1 ? "" : "s", lo.first_line,
			      lo.unnamed, lo.unnamed == 1 ? "" : "s");
	else if (lo.delimiter_lines)
		hd__wire_note(r,
			      "%s: passed over %ld line%s made only of "
			      "delimiters (the first: line %ld)",
			      name, lo.delimiter_lines,
			      lo.delimiter_lines == 1 ? "" : "s",
			      lo.first_line);
	else if (lo.unnamed)
		hd__wire_note(r,
			      "%s: passed over %zu empty unnamed column%s at "
			      "the end",
			      name, lo.unnamed, lo.unnamed == 1 ? "" : "s");
	if (d)
		hd__wire_note(r,
			      "%s has one column, '%.60s': if it is separated "
			      "by '%s', give --delimiter %s",
			      name, hd_source_column(r->src, 0),
			      d == '\t' ? "tab" : (char[]){d, 0},
			      d == '\t'	 ? "tab"
			      : d == ';' ? "';'"
					 : "'|'");
	hd__wire_emit(r, HD_EVENT_CHECKED, NULL, NULL);
}

/* Hands one taken row to the pool (or reports it, when the pool stopped
 * taking).  Owns key, id and rec. */
static hd_status submit(hd__wire *r, json_t *rec, long row, char *key, char *id,
			hd_error *err)
{
	hd__job *j = hd__job_new();

	if (!j) {
		free(key);
		free(id);
		json_decref(rec);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	j->sender = &r->sender;
	j->log = r->attempts;
	j->row = row;
	j->line = hd_source_line(r->src);
	j->record = rec;
	j->key = key;
	j->id = id;
	for (;;) {
		hd_status sub = hd_pool_submit(r->pool, &j->task, 100);
		if (sub == HD_OK)
			return HD_OK;
		if (sub == HD_ESTOPPED) {
			j->task.status = HD_ECANCELED;
			hd__wire_finish_job(r, j);
			return HD_OK;
		}
		drain(r, 0);
	}
}

/* Pass 2: submits every row that is to go and reports every row. */
static hd_status pass_send(hd__wire *r, int refuse, hd_error *err)
{
	json_t *rec = NULL;
	hd_error kerr;
	hd_status st;

	st = hd_source_rewind(r->src, err);
	if (st != HD_OK)
		return st;
	r->started = hd_monotonic();
	if (refuse)
		return pass_check(r, 1, err);
	/* said once the list is known to be good: a refused run has one
	 * line to say, its reason */
	hd__wire_note(r, "recipient key: %s", r->key.desc);
	if (r->commit)
		hd__commit_on_durable(r->commit, hd__engine_wake_all,
				      r->engine);
	for (;;) {
		hd__verdict v;
		long row;
		char *key = NULL, *id = NULL;

		if (r->pool)
			drain(r, 0);
		st = hd_source_next(r->src, &rec, err);
		if (st != HD_OK || !rec)
			break;
		row = hd_source_row(r->src);
		st = hd__wire_row_key(r, rec, row, &key, &id, &kerr, err);
		if (st == HD_OK) {
			hd__due due;
			hd__due_of(rec, &due);
			st = hd__filter_decide(r->filter, HD__PASS_SEND, row,
					       id, &due, &v, err);
		}
		if (st != HD_OK) {
			/* out of memory, or the journal cannot be read */
		} else if (!v.take) {
			hd__wire_record_simple(r, row, key, v.status, v.reason,
					       0);
		} else if (!id) {
			/* no key: invalid (--skip-invalid got us here) */
			char text[700];
			hd__blame_row(hd_source_name(r->src), &kerr, row,
				      hd_source_line(r->src));
			hd_error_format(&kerr, text, sizeof(text));
			hd__wire_record_simple(r, row, key, HD_ROW_INVALID,
					       text, 1);
		} else if (r->stopping) {
			hd__wire_record_simple(r, row, key,
					       HD_ROW_NOT_ATTEMPTED, NULL, 1);
		} else {
			if (v.resend)
				hd__wire_note_resend(r, row, key, v.reason);
			st = submit(r, rec, row, key, id, err);
			rec = NULL;
			key = id = NULL;
		}
		free(key);
		free(id);
		json_decref(rec);
		rec = NULL;
		if (st != HD_OK)
			break;
	}
	if (r->pool) {
		/* the rest of the pool's work, then the workers end */
		hd_pool_stop(r->pool,
			     r->stopping ? HD_POOL_NOW : HD_POOL_DRAIN);
		while (hd_pool_outstanding(r->pool) > 0)
			drain(r, 100);
		hd__wire_stop_pool(r);
		hd__wire_check_stops(r);
	}
	r->stats.elapsed = hd_monotonic() - r->started;
	hd__wire_emit(r, HD_EVENT_PROGRESS, NULL, NULL);
	return st;
}

/* Before anything is opened for writing: the outputs, distinct from one
 * another and from every input known yet (partials and attachments are
 * checked as they are read). */
static hd_status check_outputs(hd__wire *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd__outputs *o = &r->outputs;
	hd_status st;

	st = hd__outputs_add(o, cfg->report_path, "the report (-o)", 0, err);
	if (st == HD_OK && !r->sender.dry)
		st = hd__outputs_add(o, cfg->journal_path,
				     "the journal (--journal)", 0, err);
	if (st == HD_OK)
		st = hd__outputs_add(o, hd__wire_outbox(cfg), "the outbox", 1,
				     err);
	if (st == HD_OK)
		st = hd__outputs_add(o, cfg->trace_path, "the trace (--trace)",
				     0, err);
	if (st == HD_OK)
		st = hd__outputs_check(o, cfg->template_path, "the template",
				       err);
	if (st == HD_OK)
		st = hd__outputs_check(o, cfg->recipients_path,
				       "the recipients file", err);
	if (st == HD_OK)
		st = hd__outputs_check(o, cfg->only_failed,
				       "the report --only-failed reads", err);
	return st;
}

/* The key is chosen from the first record, before anything else reads
 * the list (--only-failed needs it to read its report). */
static hd_status choose_key(hd__wire *r, hd_error *err)
{
	json_t *first = NULL;
	hd_status st = hd_source_next(r->src, &first, err);

	if (st != HD_OK)
		return st;
	/* the header is known now: its aliases ("First Name" is
	 * {{first_name}}) for the template and --key */
	hd__fields_first(r->tmpl, r->src, r->cfg->key_field, first, &r->key);
	r->key_chosen = 1;
	json_decref(first);
	return hd_source_rewind(r->src, err);
}

/* Does this run continue the one that filled its outbox? */
static int outbox_continues(const hd__wire *r)
{
	return r->cfg->only_failed ||
	       (r->journal && hd__journal_keys(r->journal) > 0);
}

/* The outbox this run writes: an earlier run's messages there are
 * refused (outbox_prep.h), unless --outbox-clean is to remove them once
 * the run is known to go (clean_outbox). */
static hd_status prepare_outbox(hd__wire *r, hd_error *err)
{
	const char *dir = hd__wire_outbox(r->cfg);
	long none;

	if (!dir)
		return HD_OK;
	return hd__outbox_prepare(
	    dir, 0, outbox_continues(r) || r->cfg->outbox_clean, &none, err);
}

/* Once every row is checked and the run goes on: --outbox-clean, and
 * the default folder named, as nobody asked for it. */
static hd_status clean_outbox(hd__wire *r, hd_error *err)
{
	const char *dir = hd__wire_outbox(r->cfg);
	long removed = 0;
	hd_status st;

	if (dir && !r->cfg->outbox_dir)
		hd__wire_note(r,
			      "no --smtp given: each message is written to "
			      "%s/ (--outbox DIR chooses the folder, --smtp "
			      "URL sends)",
			      dir);
	if (!dir || !r->cfg->outbox_clean)
		return HD_OK;
	st = hd__outbox_prepare(dir, 1, outbox_continues(r), &removed, err);
	if (st == HD_OK && removed)
		hd__wire_note(r,
			      "--outbox-clean: removed %ld message%s of an "
			      "earlier run from %s",
			      removed, removed == 1 ? "" : "s", dir);
	return st;
}

/* The run could not start: the report says so instead of keeping an
 * older one in place.  Every row that can be read is not-attempted, with
 * the reason; when none can, one line (row null) holds it. */
static void report_failed_start(hd__wire *r, const hd_error *why)
{
	char text[1200];
	hd_report_row rr = {0};
	json_t *rec = NULL;
	hd_error e;
	long rows = 0;

	hd_error_format(why, text, sizeof(text));
	rr.status = HD_ROW_NOT_ATTEMPTED;
	rr.error = text;
	rr.at = hd__wall_clock();
	if (r->src && hd_source_rewind(r->src, &e) == HD_OK) {
		while (hd_source_next(r->src, &rec, &e) == HD_OK && rec) {
			char *key = NULL, *id = NULL;
			hd_error kerr;
			if (r->key_chosen)
				hd__key_of(&r->key, r->tmpl, rec,
					   hd_source_row(r->src), &key, &id,
					   &kerr);
			rr.row = hd_source_row(r->src);
			rr.key = key;
			hd_report_write(r->report, &rr);
			rows++;
			free(key);
			free(id);
			json_decref(rec);
			rec = NULL;
		}
	}
	if (rows == 0) {
		rr.row = 0;
		rr.key = NULL;
		hd_report_write(r->report, &rr);
	}
}

/* --one-pass: the first record, read to choose the key from, goes on to
 * be the first row sent. */
static hd_status first_key(hd__wire *r, json_t **first, hd_error *err)
{
	hd_status st = hd_source_next(r->src, first, err);

	if (st != HD_OK)
		return st;
	hd__fields_first(r->tmpl, r->src, r->cfg->key_field, *first, &r->key);
	r->key_chosen = 1;
	return HD_OK;
}

/* A run over a list read once (onepass.c). */
static hd_status run_once(hd__wire *r, json_t *first, hd_error *err)
{
	hd_status st;

	r->sender.journal = r->sender.dry ? NULL : r->commit;
	r->sender.failfast_rows = HD__FAILFAST_ROWS;
	hd__wire_note(r, "recipient key: %s", r->key.desc);
	st = hd__onepass_run(r, first, NULL, err);
	if (st == HD_OK && r->stopping)
		st = hd_error_set(err, r->stop_status, NULL, 0, 0, "%s",
				  r->stop_msg);
	return st;
}

/* Everything up to pass 1; with first, for a run over a list read once
 * (first gets its first record). */
static hd_status set_up(hd__wire *r, json_t **first, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd_msgtmpl_opts mo = {.env_names = cfg->env_names,
			      .n_env = cfg->n_env,
			      .redirect = cfg->redirect,
			      .mail = &cfg->mail,
			      .outputs = &r->outputs};
	hd_status st;

	st = check_outputs(r, err);
	if (st == HD_OK && cfg->report_path)
		st = hd_report_open(cfg->report_path, &r->report, err);
	if (st == HD_OK)
		st = hd__wire_open_journal(r, cfg->journal_path, cfg->campaign,
					   err);
	if (st == HD_OK)
		st = hd__wire_open_trace(r, err);
	if (st == HD_OK)
		st = hd__inputs_open(cfg, &mo, &r->tmpl, &r->src, err);
	if (st == HD_OK)
		st = first ? first_key(r, first, err) : choose_key(r, err);
	if (st == HD_OK)
		st = hd__fields_check(r->tmpl, r->src, cfg->key_field, err);
	if (st == HD_OK)
		st = prepare_outbox(r, err);
	if (st == HD_OK)
		st = hd__wire_choose_transport(r, err);
	if (st == HD_OK)
		st = hd__wire_set_up_sender(r, err);
	if (st == HD_OK)
		st = hd__wire_open_filter(
		    r, first ? HD__DEDUPE_RECENT : HD__DEDUPE_PASSES, err);
	/* a journal that a run reading once must see its own sends in */
	if (st == HD_OK && first && r->journal)
		hd__journal_live(r->journal);
	return st;
}

hd_status hd_run(const hd_run_config *cfg, hd_run_stats *stats, hd_error *err)
{
	hd__wire r;
	json_t *first = NULL;
	hd_status st;

	hd_error_clear(err);
	/* once, on this thread, before any worker makes a handle */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "libcurl could not be initialised");
	hd__wire_init(&r, cfg);
	r.sender.dry = cfg->dry_run || cfg->check_only;
	if (!cfg->template_path || !cfg->recipients_path)
		st = hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				  "a template (-t) and a recipients file are "
				  "required");
	else if (cfg->smtp_url && cfg->outbox_dir)
		st = hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				  "--smtp and --outbox exclude each other");
	else
		st = set_up(&r, cfg->one_pass ? &first : NULL, err);
	/* the workers check the rows of pass 1 too */
	if (st == HD_OK && !cfg->one_pass)
		st = hd__wire_start_pool(&r, err);
	if (st == HD_OK && !cfg->one_pass)
		st = pass_validate(&r, err);
	if (st == HD_OK && !cfg->one_pass)
		checked(&r);
	if (st == HD_OK &&
	    (cfg->one_pass || !r.invalid_found || cfg->skip_invalid))
		st = clean_outbox(&r, err);
	if (st != HD_OK && r.report && st != HD_EUSAGE && st != HD_ELOCKED &&
	    err)
		report_failed_start(&r, err);
	if (st == HD_OK)
		st = hd__commit_start(r.report, r.sender.dry ? NULL : r.journal,
				      &r.commit, err);
	if (st == HD_OK && cfg->one_pass) {
		st = run_once(&r, first, err);
		first = NULL;
	} else if (st == HD_OK) {
		int refuse = r.invalid_found > 0 && !cfg->skip_invalid;
		r.sender.journal = r.sender.dry ? NULL : r.commit;
		r.sender.failfast_rows = r.stats.total < HD__FAILFAST_ROWS
					     ? r.stats.total
					     : HD__FAILFAST_ROWS;
		st = pass_send(&r, refuse, err);
		if (st == HD_OK && refuse)
			st = hd_error_set(
			    err, HD_EINVALIDROWS, cfg->recipients_path, 0, 0,
			    "%ld invalid row%s: nothing was sent%s",
			    r.invalid_found, r.invalid_found == 1 ? "" : "s",
			    r.invalid_found < r.stats.total
				? " (--skip-invalid sends the rest)"
				: "");
		else if (st == HD_OK && r.stopping)
			st = hd_error_set(err, r.stop_status, NULL, 0, 0, "%s",
					  r.stop_msg);
	}
	json_decref(first);
	st = hd__wire_finish(&r, st, err);
	if (stats)
		*stats = r.stats;
	hd__wire_cleanup(&r);
	curl_global_cleanup();
	return st;
}
