/*
 * run.c — herald send and check: the wiring of the pipeline.
 *
 *   reader ─► filter ─► pool ─► sender (workers) ─► transports
 *   results ─► committer ─► report
 *
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
#include "filter.h"
#include "inputs.h"
#include "key.h"
#include "retry.h"
#include "send.h"

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
#define QUEUE_PER_WORKER 4 /* queue capacity = workers * this */

struct run {
	const hd_run_config *cfg;
	hd_msgtmpl *tmpl;
	hd_source *src;
	hd_report *report;
	hd__filter *filter;
	hd__commit *commit;
	hd_pool *pool;
	hd_ratelimit *rl;
	hd__keyspec key;
	int key_chosen;
	hd_transport_config tcfg;
	hd__sender sender; /* what the workers read */
	char campaign[64];
	hd_run_stats stats;
	long invalid_found; /* pass 1 */
	double started, last_progress;
	int stopping; /* no more rows are taken */
	hd_status stop_status;
	char stop_msg[600];
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

static void count(struct run *r, hd_row_status s)
{
	r->stats.done++;
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
		break;
	}
}

/* Counts a row and hands its report line to the committer. */
static void record(struct run *r, hd_report_row *rr)
{
	count(r, rr->status);
	rr->at = wall_clock();
	if (hd__commit_row(r->commit, rr) != HD_OK)
		r->write_failed = 1;
}

static void record_simple(struct run *r, long row, const char *key,
			  hd_row_status s, const char *error)
{
	hd_report_row rr = {0};

	rr.row = row;
	rr.key = key;
	rr.status = s;
	rr.error = error;
	record(r, &rr);
}

/* The row's key and identity; *id is NULL when the row has none. */
static hd_status row_key(struct run *r, json_t *rec, char **key, char **id,
			 hd_error *err)
{
	hd_status st;

	*key = *id = NULL;
	if (!r->key_chosen) {
		st = hd__key_choose(&r->key, r->cfg->key_field, rec,
				    hd_source_name(r->src),
				    hd_source_line(r->src), err);
		if (st != HD_OK)
			return st;
		r->key_chosen = 1;
	}
	*key = hd__key_of(&r->key, rec);
	if (*key && !(*id = hd__key_identity(&r->key, *key))) {
		free(*key);
		*key = NULL;
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	return HD_OK;
}

/* Renders one row on this thread to see whether it can be sent. */
static hd_status validate_row(struct run *r, json_t *rec, long row,
			      const char *id, hd_error *e)
{
	hd_message msg;
	hd_status st;

	hd_error_clear(e);
	if (!id) {
		hd_error_set(e, HD_EMISSING, hd_source_name(r->src),
			     hd_source_line(r->src), 0,
			     "no recipient key: the field is missing or empty");
		hd_error_set_field(e, r->key.field);
		e->row = row;
		return HD_EMISSING;
	}
	st = hd_msgtmpl_build(r->tmpl, rec, r->campaign, id, row, &msg, e);
	hd_message_clear(&msg);
	if (st != HD_OK)
		hd__blame_row(hd_source_name(r->src), e, row,
			      hd_source_line(r->src));
	return st;
}

/* Pass 1: every row is read; taken rows are rendered and checked; keys
 * are noted.  Returns HD_OK or the reader's error (the file itself is
 * broken). */
static hd_status pass_validate(struct run *r, hd_error *err)
{
	json_t *rec = NULL;
	hd_error e;
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
		st = row_key(r, rec, &key, &id, err);
		if (st == HD_OK)
			st = hd__filter_decide(r->filter, HD__PASS_VALIDATE,
					       row, id, rec, &v, err);
		if (st == HD_OK && v.take) {
			r->stats.total++;
			if (validate_row(r, rec, row, id, &e) != HD_OK) {
				r->invalid_found++;
				emit(r, HD_EVENT_INVALID_ROW, &e, NULL);
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

/* Looks at signals and the clock. */
static void check_stops(struct run *r)
{
	const hd_run_config *cfg = r->cfg;
	int sig = cfg->interrupt ? (int)*cfg->interrupt : 0;

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
}

/* A job came back from the pool: its outcome goes to the report. */
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
		if (j->fatal) {
			stop_taking(r, HD_ECONFIG, j->error);
		} else if (atomic_load(&r->sender.halt) ==
			   HD__HALT_MAX_FAILURES) {
			char m[128];
			snprintf(m, sizeof(m),
				 "%ld failures in a row (--max-failures): "
				 "stopping",
				 r->cfg->max_failures);
			stop_taking(r, HD_EINTERRUPTED, m);
		}
	}
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
	record(r, &rr);
	hd__job_free(j);
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
	hd_pool_config pc = {0};
	sigset_t block, old;
	hd_status st;

	pc.workers =
	    r->cfg->concurrency ? r->cfg->concurrency : DEFAULT_CONCURRENCY;
	pc.queue_capacity = pc.workers * QUEUE_PER_WORKER;
	pc.worker_init = hd__worker_init;
	pc.worker_fini = hd__worker_fini;
	pc.ctx = &r->sender;
	/* workers inherit a mask without SIGINT/SIGTERM/SIGPIPE, so signals
	 * reach the coordinating thread and never interrupt a transfer */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	st = hd_pool_new(&pc, &r->pool, err);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return st;
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
	j->task.work = hd__send_job;
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

/* Pass 2: submits every row that is to go and reports every row. */
static hd_status pass_send(struct run *r, int refuse, hd_error *err)
{
	json_t *rec = NULL;
	hd_status st;

	st = hd_source_rewind(r->src, err);
	if (st != HD_OK)
		return st;
	r->started = hd_monotonic();
	if (!refuse) {
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
		st = row_key(r, rec, &key, &id, err);
		if (st == HD_OK)
			st = hd__filter_decide(r->filter, HD__PASS_SEND, row,
					       id, rec, &v, err);
		if (st != HD_OK) {
			/* out of memory */
		} else if (!v.take) {
			record_simple(r, row, key, v.status, v.reason);
		} else if (refuse || !id) {
			hd_error e;
			char text[700];
			if (validate_row(r, rec, row, id, &e) != HD_OK) {
				hd_error_format(&e, text, sizeof(text));
				record_simple(r, row, key, HD_ROW_INVALID,
					      text);
			} else {
				record_simple(r, row, key, HD_ROW_NOT_ATTEMPTED,
					      NULL);
			}
		} else if (r->stopping) {
			record_simple(r, row, key, HD_ROW_NOT_ATTEMPTED, NULL);
		} else {
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
		hd_pool_free(r->pool);
		r->pool = NULL;
	}
	r->stats.elapsed = hd_monotonic() - r->started;
	emit(r, HD_EVENT_PROGRESS, NULL, NULL);
	return st;
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
	if (cfg->smtp_url && cfg->outbox_dir)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp and --outbox exclude each other");
	if (kind == HD_MSG_HTTP && cfg->smtp_url)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp needs an .eml template");
	r->sender.dry = cfg->dry_run || cfg->check_only;
	if (r->sender.dry) {
		r->sender.tp = &hd_transport_dryrun;
	} else if (cfg->outbox_dir ||
		   (kind == HD_MSG_EMAIL && !cfg->smtp_url)) {
		r->sender.tp = &hd_transport_outbox;
		if (!t->outbox_dir)
			t->outbox_dir = "outbox";
	} else {
		r->sender.tp = kind == HD_MSG_EMAIL ? &hd_transport_smtp
						    : &hd_transport_http;
	}
	return r->sender.tp->check ? r->sender.tp->check(t, err) : HD_OK;
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
	s->max_failures = cfg->max_failures;
	return HD_OK;
}

static hd_status open_filter(struct run *r, hd_error *err)
{
	hd__filter_config fc = {0};

	fc.skip = r->cfg->skip;
	fc.limit = r->cfg->limit;
	return hd__filter_new(&fc, &r->filter, err);
}

static void run_cleanup(struct run *r)
{
	hd_pool_free(r->pool);
	hd__filter_free(r->filter);
	hd_ratelimit_free(r->rl);
	hd_source_free(r->src);
	hd_msgtmpl_free(r->tmpl);
}

hd_status hd_run(const hd_run_config *cfg, hd_run_stats *stats, hd_error *err)
{
	struct run r;
	hd_status st, cst;
	hd_error cerr;

	memset(&r, 0, sizeof(r));
	hd_error_clear(err);
	/* once, on this thread, before any worker makes a handle */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "libcurl could not be initialised");
	r.cfg = cfg;
	hd__sender_init(&r.sender);
	if (cfg->campaign)
		copy_text(r.campaign, sizeof(r.campaign), cfg->campaign);
	else
		new_campaign(r.campaign);
	st = hd__inputs_open(cfg, &r.tmpl, &r.src, err);
	if (st == HD_OK)
		st = choose_transport(&r, err);
	if (st == HD_OK)
		st = set_up_sender(&r, err);
	if (st == HD_OK)
		st = open_filter(&r, err);
	if (st == HD_OK)
		st = pass_validate(&r, err);
	if (st == HD_OK && cfg->report_path)
		st = hd_report_open(cfg->report_path, &r.report, err);
	if (st == HD_OK)
		st = hd__commit_start(r.report, &r.commit, err);
	if (st == HD_OK) {
		int refuse = r.invalid_found > 0 && !cfg->skip_invalid;
		st = pass_send(&r, refuse, err);
		if (st == HD_OK && refuse)
			st = hd_error_set(
			    err, HD_EINVALIDROWS, cfg->recipients_path, 0, 0,
			    "%ld invalid row%s: nothing was sent "
			    "(--skip-invalid sends the rest)",
			    r.invalid_found, r.invalid_found == 1 ? "" : "s");
		else if (st == HD_OK && r.stopping)
			st = hd_error_set(err, r.stop_status, NULL, 0, 0, "%s",
					  r.stop_msg);
	}
	hd_error_clear(&cerr);
	cst = hd__commit_close(r.commit, &cerr);
	if (cst == HD_OK && r.write_failed)
		cst = hd_error_set(&cerr, HD_EIO, NULL, 0, 0,
				   "out of memory while writing the report");
	if (hd_report_close(r.report, cst == HD_OK ? &cerr : NULL) != HD_OK &&
	    cst == HD_OK)
		cst = HD_EIO;
	if (cst != HD_OK && (st == HD_OK || st == HD_EINTERRUPTED)) {
		if (err) {
			*err = cerr;
			if (!err->file[0] && cfg->report_path)
				copy_text(err->file, sizeof(err->file),
					  cfg->report_path);
		}
		st = HD_EIO;
	}
	if (stats)
		*stats = r.stats;
	run_cleanup(&r);
	curl_global_cleanup();
	return st;
}
