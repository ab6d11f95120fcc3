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
 * still refusing to send anything when any row is bad.  This thread owns
 * the struct run; the workers see only the hd__sender inside it.
 */
#include "commit.h"
#include "dest.h"
#include "engine.h"
#include "filter.h"
#include "inputs.h"
#include "journal.h"
#include "key.h"
#include "outputs.h"
#include "retry.h"
#include "send.h"
#include "suppress.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_CONCURRENCY 4
#define DEFAULT_RETRIES 3
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_BACKOFF_MS 1000
#define PROGRESS_EVERY 0.2 /* seconds between progress events */
#define QUEUE_PER_SLOT 2   /* rows queued for the workers, per slot */
#define RESEND_NOTES 50	   /* resent-uncertain rows named one by one */

struct run {
	const hd_run_config *cfg;
	hd__outputs outputs;
	hd_msgtmpl *tmpl;
	hd_source *src;
	hd_report *report;
	hd_journal *journal;
	hd__filter *filter;
	hd__commit *commit;
	hd__engine *engine;
	hd_pool *pool; /* the engine's */
	hd_ratelimit *rl;
	hd__dests *dests;
	hd_suppress *suppress; /* --suppress, or NULL */
	hd__keyspec key;
	int key_chosen;
	hd_transport_config tcfg;
	hd__sender sender; /* what the workers read */
	char campaign[64];
	double now; /* wall clock when the run started */
	hd_run_stats stats;
	long invalid_found; /* pass 1 */
	double started, last_progress;
	int stopping; /* no more rows are taken */
	hd_status stop_status;
	char stop_msg[800];
	int write_failed; /* handing a row to the committer failed */
};

/* Copies src into dst[size], cut to fit, always terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static double wall_clock(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void emit(struct run *r, hd_event_kind kind, const hd_error *e,
		 const char *text)
{
	hd_event ev = {kind, e, text, &r->stats};

	if (r->cfg->on_event)
		r->cfg->on_event(r->cfg->event_ctx, &ev);
}

static void note(struct run *r, const char *fmt, ...) HD_PRINTF(2, 3);
static void note(struct run *r, const char *fmt, ...)
{
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit(r, HD_EVENT_NOTE, NULL, text);
}

static void new_campaign(char out[64])
{
	unsigned char b[8] = {0};
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	uint64_t x;

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		x = hd_rng_seed((uint64_t)getpid());
		memcpy(b, &x, sizeof(b));
	}
	if (fd >= 0)
		close(fd);
	snprintf(out, 64, "run-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7]);
}

/* Counts a row: taken ones towards done, every one by its status. */
static void count(struct run *r, hd_row_status s, int taken)
{
	r->stats.done += taken;
	switch (s) {
	case HD_ROW_SENT:
		r->stats.sent++;
		break;
	case HD_ROW_FAILED:
		r->stats.failed++;
		break;
	case HD_ROW_INVALID:
		r->stats.invalid++;
		break;
	case HD_ROW_SKIPPED:
		r->stats.skipped++;
		break;
	case HD_ROW_DRY_RUN:
		r->stats.dry_run++;
		break;
	case HD_ROW_NOT_ATTEMPTED:
		r->stats.not_attempted++;
		break;
	case HD_ROW_UNCERTAIN:
		r->stats.uncertain++;
		r->stats.held += !taken;
		break;
	}
}

/* Counts a row and hands its report line to the committer. */
static void record(struct run *r, hd_report_row *rr, int taken)
{
	count(r, rr->status, taken);
	rr->at = wall_clock();
	if (hd__commit_row(r->commit, rr) != HD_OK)
		r->write_failed = 1;
}

static void record_simple(struct run *r, long row, const char *key,
			  hd_row_status s, const char *error, int taken)
{
	hd_report_row rr = {0};

	rr.row = row;
	rr.key = key;
	rr.status = s;
	rr.error = error;
	record(r, &rr, taken);
}

/* The row's key and identity; both NULL, and kerr saying why, when the
 * row has none.  Fails only when out of memory. */
static hd_status row_key(struct run *r, json_t *rec, long row, char **key,
			 char **id, hd_error *kerr, hd_error *err)
{
	hd_status st;

	hd_error_clear(kerr);
	st = hd__key_of(&r->key, r->tmpl, rec, row, key, id, kerr);
	if (st == HD_ENOMEM)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	return HD_OK;
}

/* Renders one row on this thread to see whether it can be sent.  kerr
 * says why the row has no key when id is NULL. */
static hd_status validate_row(struct run *r, json_t *rec, long row,
			      const char *id, const hd_error *kerr, hd_error *e)
{
	hd_status st;
	double due;

	hd_error_clear(e);
	if (!id) {
		*e = *kerr;
		st = e->code ? e->code : HD_EMISSING;
	} else if ((st = hd__due_time(rec, &due, e)) == HD_OK) {
		/* everything but the DKIM signatures, which no data can make
		 * fail and which cost most */
		st = hd_msgtmpl_check(r->tmpl, rec, r->campaign, id, row, e);
	}
	if (st != HD_OK)
		hd__blame_row(hd_source_name(r->src), e, row,
			      hd_source_line(r->src));
	return st;
}

/* Pass 1: every row is read; taken rows are rendered and checked; keys
 * are noted.  Returns HD_OK, the reader's error (the file itself is
 * broken) or HD_EUSAGE (a row's attachment is an output). */
static hd_status pass_validate(struct run *r, hd_error *err)
{
	json_t *rec = NULL;
	hd_error e, kerr;
	hd_status st;

	for (;;) {
		hd__verdict v;
		long row;
		char *key, *id;

		st = hd_source_next(r->src, &rec, err);
		if (st != HD_OK || !rec)
			return st;
		row = hd_source_row(r->src);
		r->stats.rows = row;
		st = row_key(r, rec, row, &key, &id, &kerr, err);
		if (st == HD_OK)
			st = hd__filter_decide(r->filter, HD__PASS_VALIDATE,
					       row, id, rec, &v, err);
		if (st == HD_OK && v.take) {
			r->stats.total++;
			st = validate_row(r, rec, row, id, &kerr, &e);
			if (st == HD_EUSAGE) {
				if (err)
					*err = e;
			} else if (st != HD_OK) {
				r->invalid_found++;
				emit(r, HD_EVENT_INVALID_ROW, &e, NULL);
				st = HD_OK;
			}
		}
		free(key);
		free(id);
		json_decref(rec);
		if (st != HD_OK)
			return st;
	}
}

static void stop_taking(struct run *r, hd_status why, const char *msg)
{
	if (r->stopping)
		return;
	r->stopping = 1;
	r->stop_status = why;
	copy_text(r->stop_msg, sizeof(r->stop_msg), msg);
	if (r->pool)
		hd_pool_stop(r->pool, HD_POOL_NOW);
	/* a signal gets an answer at once; other stops are the run's final
	 * error, which the caller prints */
	if (why == HD_EINTERRUPTED && r->cfg->interrupt && *r->cfg->interrupt)
		emit(r, HD_EVENT_NOTE, NULL, msg);
}

/* Looks at signals, the clock and the workers' halt flag. */
static void check_stops(struct run *r)
{
	const hd_run_config *cfg = r->cfg;
	int sig = cfg->interrupt ? (int)*cfg->interrupt : 0;
	char msg[sizeof(r->stop_msg)];
	hd_status why;

	if (sig >= 1)
		stop_taking(r, HD_EINTERRUPTED,
			    "interrupted: finishing the sends in flight "
			    "(interrupt again to abort them)");
	if (sig >= 2 && !atomic_load(&r->sender.abort)) {
		atomic_store(&r->sender.abort, 1);
		emit(r, HD_EVENT_NOTE, NULL,
		     "interrupted again: aborting the sends in flight");
	}
	if (cfg->max_runtime > 0 &&
	    hd_monotonic() - r->started >= cfg->max_runtime)
		stop_taking(r, HD_EINTERRUPTED,
			    "--max-runtime reached: taking no more rows");
	why = hd__sender_halted(&r->sender, msg, sizeof(msg));
	if (why != HD_OK)
		stop_taking(r, why, msg);
}

/* --suppress-add: a recipient the server refused as nonexistent goes on
 * the list, so the next run does not try it again.  Only a message with
 * one recipient: libcurl stops at the first refused RCPT, so with several
 * the refused one is not known; never for --redirect's test address. */
static void maybe_suppress(struct run *r, hd__job *j)
{
	hd_error e;

	if (!r->cfg->suppress_add_path || r->cfg->redirect ||
	    j->status != HD_ROW_FAILED || j->nrcpt != 1 || !j->key ||
	    !j->failure || strcmp(j->failure, "permanent") != 0 ||
	    !hd__suppress_reply_means_gone(j->code, j->response))
		return;
	hd_error_clear(&e);
	if (hd__suppress_add(r->cfg->suppress_add_path, j->key, &e) != HD_OK) {
		char line[900];
		hd_error_format(&e, line, sizeof(line));
		note(r, "--suppress-add: %s", line);
		return;
	}
	r->stats.suppressed_added++;
}

/* A job came back from the pool: its outcome goes to the report (the
 * worker recorded it in the journal already). */
static void finish_job(struct run *r, hd__job *j)
{
	hd_report_row rr = {0};

	if (j->task.status == HD_ECANCELED) {
		j->status = HD_ROW_NOT_ATTEMPTED;
		j->error[0] = '\0';
	}
	r->stats.attempts += j->attempts;
	if (j->status == HD_ROW_FAILED) {
		hd_error e;
		hd_error_clear(&e);
		e.row = j->row;
		copy_text(e.msg, sizeof(e.msg), j->error);
		emit(r, HD_EVENT_FAILED_ROW, &e, j->key);
	}
	maybe_suppress(r, j);
	rr.row = j->row;
	rr.key = j->key;
	rr.status = j->status;
	rr.attempts = j->attempts;
	rr.code = j->code;
	rr.response = j->response[0] ? j->response : NULL;
	rr.error = j->error[0] ? j->error : NULL;
	rr.failure = j->status == HD_ROW_FAILED ? j->failure : NULL;
	rr.ms = j->ms;
	rr.message_id = j->message_id;
	record(r, &rr, 1);
	hd__job_free(j);
	check_stops(r);
}

static void maybe_progress(struct run *r)
{
	double now = hd_monotonic();

	r->stats.elapsed = now - r->started;
	if (now - r->last_progress >= PROGRESS_EVERY) {
		r->last_progress = now;
		emit(r, HD_EVENT_PROGRESS, NULL, NULL);
	}
}

/* Collects finished jobs; waits up to timeout_ms for the first. */
static void drain(struct run *r, int timeout_ms)
{
	hd_task *t;

	while ((t = hd_pool_next_result(r->pool, timeout_ms)) != NULL) {
		finish_job(r, (hd__job *)t);
		timeout_ms = 0;
	}
	check_stops(r);
	maybe_progress(r);
}

static hd_status start_pool(struct run *r, hd_error *err)
{
	hd__engine_config ec = {0};
	sigset_t block, old;
	hd_status st;

	ec.connections =
	    r->cfg->concurrency ? r->cfg->concurrency : DEFAULT_CONCURRENCY;
	ec.streams = r->cfg->streams > 1 ? (unsigned)r->cfg->streams : 1;
	ec.queue = (size_t)ec.connections * ec.streams * QUEUE_PER_SLOT;
	/* workers inherit a mask without SIGINT/SIGTERM/SIGPIPE, so signals
	 * reach the coordinating thread and never interrupt a transfer */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	st = hd__engine_new(&r->sender, &ec, &r->engine, err);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (st != HD_OK)
		return st;
	r->pool = hd__engine_pool(r->engine);
	if (r->commit)
		hd__commit_on_durable(r->commit, hd__engine_wake_all,
				      r->engine);
	return HD_OK;
}

static void stop_pool(struct run *r)
{
	if (r->commit)
		hd__commit_on_durable(r->commit, NULL, NULL);
	hd__engine_free(r->engine);
	r->engine = NULL;
	r->pool = NULL;
}

/* Hands one taken row to the pool (or reports it, when the pool stopped
 * taking).  Owns key, id and rec. */
static hd_status submit(struct run *r, json_t *rec, long row, char *key,
			char *id, hd_error *err)
{
	hd__job *j = calloc(1, sizeof(*j));

	if (!j) {
		free(key);
		free(id);
		json_decref(rec);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	j->sender = &r->sender;
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
			finish_job(r, j);
			return HD_OK;
		}
		drain(r, 0);
	}
}

/* A row an earlier run left uncertain goes again: say so. */
static void note_resend(struct run *r, long row, const char *key,
			const char *why)
{
	r->stats.resent++;
	if (r->stats.resent <= RESEND_NOTES)
		note(r,
		     "row %ld (%.200s): sending again, as --on-uncertain "
		     "resend says: %.300s",
		     row, key, why);
	else if (r->stats.resent == RESEND_NOTES + 1)
		note(r, "more rows left uncertain earlier are sent again; the "
			"summary counts them");
}

/* Pass 2: submits every row that is to go and reports every row. */
static hd_status pass_send(struct run *r, int refuse, hd_error *err)
{
	json_t *rec = NULL;
	hd_error kerr;
	hd_status st;

	st = hd_source_rewind(r->src, err);
	if (st != HD_OK)
		return st;
	r->started = hd_monotonic();
	if (!refuse) {
		/* said once the list is known to be good: a refused run has
		 * one line to say, its reason */
		note(r, "recipient key: %s", r->key.desc);
		st = start_pool(r, err);
		if (st != HD_OK)
			return st;
	}
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
		st = row_key(r, rec, row, &key, &id, &kerr, err);
		if (st == HD_OK)
			st = hd__filter_decide(r->filter, HD__PASS_SEND, row,
					       id, rec, &v, err);
		if (st != HD_OK) {
			/* out of memory, or the journal cannot be read */
		} else if (!v.take) {
			record_simple(r, row, key, v.status, v.reason, 0);
		} else if (refuse || !id) {
			hd_error e;
			char text[700];
			if (validate_row(r, rec, row, id, &kerr, &e) != HD_OK) {
				hd_error_format(&e, text, sizeof(text));
				record_simple(r, row, key, HD_ROW_INVALID, text,
					      1);
			} else {
				record_simple(r, row, key, HD_ROW_NOT_ATTEMPTED,
					      NULL, 1);
			}
		} else if (r->stopping) {
			record_simple(r, row, key, HD_ROW_NOT_ATTEMPTED, NULL,
				      1);
		} else {
			if (v.resend)
				note_resend(r, row, key, v.reason);
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
		stop_pool(r);
		check_stops(r);
	}
	r->stats.elapsed = hd_monotonic() - r->started;
	emit(r, HD_EVENT_PROGRESS, NULL, NULL);
	return st;
}

/* The outbox the run writes into, or NULL. */
static const char *outbox_of(const hd_run_config *cfg)
{
	if (cfg->dry_run || cfg->check_only || cfg->smtp_url)
		return NULL;
	if (cfg->outbox_dir)
		return cfg->outbox_dir;
	if (cfg->template_path) {
		size_t n = strlen(cfg->template_path);
		if (n >= 4 && !strcmp(cfg->template_path + n - 4, ".eml"))
			return "outbox";
	}
	return NULL;
}

static hd_status choose_transport(struct run *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd_message_kind kind = hd_msgtmpl_kind(r->tmpl);
	hd_transport_config *t = &r->tcfg;

	t->url = cfg->smtp_url;
	t->user = cfg->smtp_user;
	t->password = cfg->smtp_password;
	t->cacert = cfg->cacert;
	t->insecure = cfg->insecure;
	t->allow_plaintext_auth = cfg->allow_plaintext_auth;
	t->timeout_ms =
	    cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	t->max_per_connection = cfg->max_per_connection;
	t->outbox_dir = cfg->outbox_dir;
	t->verbose = cfg->verbose;
	t->abort = &r->sender.abort;
	if (kind == HD_MSG_HTTP && cfg->smtp_url)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp needs an .eml template");
	if (r->sender.dry) {
		r->sender.tp = &hd_transport_dryrun;
	} else if (cfg->outbox_dir ||
		   (kind == HD_MSG_EMAIL && !cfg->smtp_url)) {
		r->sender.tp = &hd_transport_outbox;
		t->outbox_dir = outbox_of(cfg);
	} else {
		r->sender.tp = kind == HD_MSG_EMAIL ? &hd_transport_smtp
						    : &hd_transport_http;
	}
	return r->sender.tp->check ? r->sender.tp->check(t, err) : HD_OK;
}

/* The destination table: limits, pauses and pacing per destination. */
static hd_status set_up_dests(struct run *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	long conns = cfg->concurrency ? cfg->concurrency : DEFAULT_CONCURRENCY;
	long streams = cfg->streams > 1 ? cfg->streams : 1;
	hd__dests_config dc = {0};

	dc.limit = hd_msgtmpl_kind(r->tmpl) == HD_MSG_HTTP ? cfg->per_host
							   : cfg->per_domain;
	/* one destination that hangs must not hold every connection once
	 * there are others */
	dc.fair = conns * streams / 2 > 0 ? conns * streams / 2 : 1;
	dc.ceiling = cfg->rate;
	r->dests = hd__dests_new(&dc);
	if (!r->dests)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	r->sender.dests = r->dests;
	return HD_OK;
}

/* What the workers read, fixed from here on. */
static hd_status set_up_sender(struct run *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd__sender *s = &r->sender;

	r->rl = hd_ratelimit_new(cfg->rate);
	if (!r->rl)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	s->tmpl = r->tmpl;
	s->tcfg = &r->tcfg;
	s->rl = r->rl;
	s->campaign = r->campaign;
	s->source_name = hd_source_name(r->src);
	s->retries = cfg->retries >= 0 ? cfg->retries : DEFAULT_RETRIES;
	s->backoff = (cfg->backoff_ms > 0 ? (double)cfg->backoff_ms
					  : DEFAULT_BACKOFF_MS) /
		     1000.0;
	s->max_failures = cfg->max_failures == 0  ? HD_DEFAULT_MAX_FAILURES
			  : cfg->max_failures < 0 ? 0
						  : cfg->max_failures;
	s->keys = &r->key;
	s->per_domain = cfg->per_domain > 0;
	return set_up_dests(r, err);
}

/* Before anything is opened for writing: the outputs, distinct from one
 * another and from every input known yet (partials and attachments are
 * checked as they are read). */
static hd_status check_outputs(struct run *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd__outputs *o = &r->outputs;
	hd_status st;

	st = hd__outputs_add(o, cfg->report_path, "the report (-o)", 0, err);
	if (st == HD_OK && !r->sender.dry)
		st = hd__outputs_add(o, cfg->journal_path,
				     "the journal (--journal)", 0, err);
	if (st == HD_OK)
		st = hd__outputs_add(o, outbox_of(cfg), "the outbox", 1, err);
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

static hd_status open_journal(struct run *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	char fresh[64];
	hd_status st;

	new_campaign(fresh);
	if (!cfg->journal_path) {
		copy_text(r->campaign, sizeof(r->campaign),
			  cfg->campaign ? cfg->campaign : fresh);
		return HD_OK;
	}
	st = hd__journal_open(cfg->journal_path, !r->sender.dry, cfg->campaign,
			      fresh, &r->journal, err);
	if (st != HD_OK)
		return st;
	copy_text(r->campaign, sizeof(r->campaign),
		  hd__journal_campaign(r->journal));
	if (hd__journal_keys(r->journal) > 0)
		note(r, "journal %s: campaign %s, %zu recipients recorded",
		     cfg->journal_path, r->campaign,
		     hd__journal_keys(r->journal));
	return HD_OK;
}

/* The key is chosen from the first record, before anything else reads
 * the list (--only-failed needs it to read its report). */
static hd_status choose_key(struct run *r, hd_error *err)
{
	json_t *first = NULL;
	hd_status st = hd_source_next(r->src, &first, err);

	if (st != HD_OK)
		return st;
	hd__key_choose(&r->key, r->cfg->key_field, r->tmpl, first);
	r->key_chosen = 1;
	json_decref(first);
	return hd_source_rewind(r->src, err);
}

static hd_status open_filter(struct run *r, hd_error *err)
{
	hd__filter_config fc = {0};
	hd_status st;

	fc.skip = r->cfg->skip;
	fc.limit = r->cfg->limit;
	fc.journal = r->journal;
	fc.hold_uncertain = r->cfg->on_uncertain_skip;
	fc.only_failed = r->cfg->only_failed;
	fc.keys = &r->key;
	fc.now = r->now;
	fc.shard_index = r->cfg->shard_index;
	fc.shard_count = r->cfg->shard_count;
	if (r->cfg->suppress_path) {
		st =
		    hd__suppress_load(r->cfg->suppress_path, &r->suppress, err);
		if (st != HD_OK)
			return st;
		fc.suppress = r->suppress;
		fc.suppress_name = r->cfg->suppress_path;
	}
	st = hd__filter_new(&fc, &r->filter, err);
	if (st == HD_OK && fc.shard_count > 1)
		note(r, "shard %ld/%ld: taking the rows whose key is in it",
		     fc.shard_index, fc.shard_count);
	if (st == HD_OK && r->cfg->only_failed)
		note(r, "--only-failed: %zu recipients of %s go again",
		     hd__filter_only_count(r->filter), r->cfg->only_failed);
	return st;
}

/* The run could not start: the report says so instead of keeping an
 * older one in place.  Every row that can be read is not-attempted, with
 * the reason; when none can, one line (row null) holds it. */
static void report_failed_start(struct run *r, const hd_error *why)
{
	char text[1200];
	hd_report_row rr = {0};
	json_t *rec = NULL;
	hd_error e;
	long rows = 0;

	hd_error_format(why, text, sizeof(text));
	rr.status = HD_ROW_NOT_ATTEMPTED;
	rr.error = text;
	rr.at = wall_clock();
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

/* Everything up to pass 1. */
static hd_status set_up(struct run *r, hd_error *err)
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
		st = open_journal(r, err);
	if (st == HD_OK)
		st = hd__inputs_open(cfg, &mo, &r->tmpl, &r->src, err);
	if (st == HD_OK)
		st = choose_key(r, err);
	if (st == HD_OK)
		st = choose_transport(r, err);
	if (st == HD_OK)
		st = set_up_sender(r, err);
	if (st == HD_OK)
		st = open_filter(r, err);
	return st;
}

static void run_cleanup(struct run *r)
{
	stop_pool(r);
	hd__filter_free(r->filter);
	hd__suppress_free(r->suppress);
	hd__dests_free(r->dests);
	hd_ratelimit_free(r->rl);
	hd_source_free(r->src);
	hd_msgtmpl_free(r->tmpl);
	hd__sender_destroy(&r->sender);
}

/* Ends the report and the journal; st is the run's status so far. */
static hd_status finish(struct run *r, hd_status st, hd_error *err)
{
	hd_status cst = HD_OK;
	hd_error cerr;

	hd_error_clear(&cerr);
	if (r->commit) {
		cst = hd__commit_close(r->commit, &cerr);
		r->commit = NULL;
	}
	if (cst == HD_OK && r->write_failed)
		cst = hd_error_set(&cerr, HD_EIO, NULL, 0, 0,
				   "out of memory while writing the report");
	if (hd__journal_close(r->journal, cst == HD_OK ? &cerr : NULL) !=
		HD_OK &&
	    cst == HD_OK)
		cst = HD_EIO;
	r->journal = NULL;
	if (st == HD_EUSAGE || st == HD_ELOCKED)
		hd_report_abandon(r->report);
	else if (hd_report_close(r->report, cst == HD_OK ? &cerr : NULL) !=
		     HD_OK &&
		 cst == HD_OK)
		cst = HD_EIO;
	r->report = NULL;
	if (cst != HD_OK &&
	    (st == HD_OK || st == HD_EINTERRUPTED || st == HD_EINVALIDROWS)) {
		if (err) {
			*err = cerr;
			if (!err->file[0] && r->cfg->report_path)
				copy_text(err->file, sizeof(err->file),
					  r->cfg->report_path);
		}
		st = HD_EIO;
	}
	return st;
}

hd_status hd_run(const hd_run_config *cfg, hd_run_stats *stats, hd_error *err)
{
	struct run r;
	hd_status st;

	memset(&r, 0, sizeof(r));
	hd_error_clear(err);
	/* once, on this thread, before any worker makes a handle */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "libcurl could not be initialised");
	r.cfg = cfg;
	r.now = wall_clock();
	hd__sender_init(&r.sender);
	r.sender.dry = cfg->dry_run || cfg->check_only;
	if (!cfg->template_path || !cfg->recipients_path)
		st = hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				  "a template (-t) and a recipients file are "
				  "required");
	else if (cfg->smtp_url && cfg->outbox_dir)
		st = hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				  "--smtp and --outbox exclude each other");
	else
		st = set_up(&r, err);
	if (st == HD_OK)
		st = pass_validate(&r, err);
	if (st != HD_OK && r.report && st != HD_EUSAGE && st != HD_ELOCKED &&
	    err)
		report_failed_start(&r, err);
	if (st == HD_OK)
		st = hd__commit_start(r.report, r.sender.dry ? NULL : r.journal,
				      &r.commit, err);
	if (st == HD_OK) {
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
	st = finish(&r, st, err);
	if (stats)
		*stats = r.stats;
	run_cleanup(&r);
	curl_global_cleanup();
	return st;
}
