/*
 * wire.c — the parts of the pipeline that every run wires the same way
 * (wire.h): herald send and check (run.c, two passes or one) and herald
 * consume (consume.c).
 */
#include "wire.h"

#include "dest.h"
#include "engine.h"
#include "retry.h"
#include "suppress.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONCURRENCY 4
#define DEFAULT_RETRIES 3
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_BACKOFF_MS 1000
#define PROGRESS_EVERY 0.2 /* seconds between progress events */
#define QUEUE_PER_SLOT 2   /* rows queued for the workers, per slot */
/* The pool's queue at least: room for the workers to take rows in
 * batches, a wake-up each, rather than one at a time (pool.c) */
#define QUEUE_MIN 64
#define RESEND_NOTES 50 /* resent-uncertain rows named one by one */

/* Copies src into dst[size], cut to fit, always terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void hd__wire_emit(hd__wire *r, hd_event_kind kind, const hd_error *e,
		   const char *text)
{
	hd_event ev = {kind, e, text, &r->stats, NULL, NULL};

	if (r->cfg->on_event)
		r->cfg->on_event(r->cfg->event_ctx, &ev);
}

/* The row as the report has it, for the caller's summary. */
static void emit_row(hd__wire *r, const hd_report_row *rr)
{
	hd_event ev = {HD_EVENT_ROW, NULL, NULL, &r->stats, rr, NULL};

	if (r->cfg->on_event)
		r->cfg->on_event(r->cfg->event_ctx, &ev);
}

void hd__wire_emit_attempts(hd__wire *r)
{
	hd__attempt_entry e[32];
	long dropped = 0;
	size_t n;

	do {
		n = hd__attempt_log_take(r->attempts, e, 32, &dropped);
		for (size_t i = 0; i < n; i++) {
			hd_event ev = {e[i].kind, NULL, NULL,
				       &r->stats, NULL, &e[i].info};
			if (r->cfg->on_event)
				r->cfg->on_event(r->cfg->event_ctx, &ev);
		}
		if (dropped)
			hd__wire_note(r,
				      "%ld more retries or slow-downs came too "
				      "fast to be told one by one",
				      dropped);
	} while (n == 32);
}

void hd__wire_note(hd__wire *r, const char *fmt, ...)
{
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	hd__wire_emit(r, HD_EVENT_NOTE, NULL, text);
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

/* A row an earlier run left uncertain goes again: say so. */
void hd__wire_note_resend(hd__wire *r, long row, const char *key,
			  const char *why)
{
	r->stats.resent++;
	if (r->stats.resent <= RESEND_NOTES)
		hd__wire_note(
		    r,
		    "row %ld (%.200s): sending again, as --on-uncertain "
		    "resend says: %.300s",
		    row, key, why);
	else if (r->stats.resent == RESEND_NOTES + 1)
		hd__wire_note(
		    r, "more rows left uncertain earlier are sent again; the "
		       "summary counts them");
}

/* Counts a row: taken ones towards done, every one by its status. */
static void count(hd__wire *r, hd_row_status s, int taken)
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
void hd__wire_record(hd__wire *r, hd_report_row *rr, int taken)
{
	count(r, rr->status, taken);
	rr->at = hd__wall_clock();
	if (hd__commit_row(r->commit, rr) != HD_OK)
		r->write_failed = 1;
	emit_row(r, rr);
}

void hd__wire_record_simple(hd__wire *r, long row, const char *key,
			    hd_row_status s, const char *error, int taken)
{
	hd_report_row rr = {0};

	rr.row = row;
	rr.key = key;
	rr.status = s;
	rr.error = error;
	hd__wire_record(r, &rr, taken);
}

/* The row's key and identity; both NULL, and kerr saying why, when the
 * row has none.  Fails only when out of memory. */
hd_status hd__wire_row_key(hd__wire *r, json_t *rec, long row, char **key,
			   char **id, hd_error *kerr, hd_error *err)
{
	hd_status st;

	hd_error_clear(kerr);
	st = hd__key_of(&r->key, r->tmpl, rec, row, key, id, kerr);
	if (st == HD_ENOMEM)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	return HD_OK;
}

void hd__wire_stop_taking(hd__wire *r, hd_status why, const char *msg)
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
		hd__wire_emit(r, HD_EVENT_NOTE, NULL, msg);
}

/* Looks at signals, the clock and the workers' halt flag. */
void hd__wire_check_stops(hd__wire *r)
{
	const hd_run_config *cfg = r->cfg;
	int sig = cfg->interrupt ? (int)*cfg->interrupt : 0;
	char msg[sizeof(r->stop_msg)];
	hd_status why;

	if (sig >= 1)
		hd__wire_stop_taking(
		    r, HD_EINTERRUPTED,
		    "interrupted: finishing the sends in flight "
		    "(interrupt again to abort them)");
	if (sig >= 2 && !atomic_load(&r->sender.abort)) {
		atomic_store(&r->sender.abort, 1);
		/* in-flight transfers, kept connections and their QUITs end
		 * now, whatever the servers do */
		hd__sockets_cut(&r->sockets);
		hd__wire_emit(
		    r, HD_EVENT_NOTE, NULL,
		    "interrupted again: aborting the sends in flight");
	}
	if (cfg->max_runtime > 0 &&
	    hd_monotonic() - r->started >= cfg->max_runtime)
		hd__wire_stop_taking(
		    r, HD_EINTERRUPTED,
		    "--max-runtime reached: taking no more rows");
	why = hd__sender_halted(&r->sender, msg, sizeof(msg));
	if (why != HD_OK)
		hd__wire_stop_taking(r, why, msg);
}

/* --suppress-add: a recipient the server refused as nonexistent goes on
 * the list, so the next run does not try it again.  Only a message with
 * one recipient: libcurl stops at the first refused RCPT, so with several
 * the refused one is not known; never for --redirect's test address. */
static void maybe_suppress(hd__wire *r, hd__job *j)
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
		hd__wire_note(r, "--suppress-add: %s", line);
		return;
	}
	r->stats.suppressed_added++;
}

void hd__wire_job_row(hd__wire *r, hd__job *j, hd_report_row *rr)
{
	memset(rr, 0, sizeof(*rr));
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
		hd__wire_emit(r, HD_EVENT_FAILED_ROW, &e, j->key);
	}
	maybe_suppress(r, j);
	rr->row = j->row;
	rr->key = j->key;
	rr->status = j->status;
	rr->attempts = j->attempts;
	rr->code = j->code;
	rr->response = j->response[0] ? j->response : NULL;
	rr->error = j->error[0] ? j->error : NULL;
	rr->failure = j->status == HD_ROW_FAILED ? j->failure : NULL;
	rr->ms = j->ms;
	rr->message_id = j->message_id;
}

/* A job came back from the pool: its outcome goes to the report (the
 * worker recorded it in the journal already). */
void hd__wire_finish_job(hd__wire *r, hd__job *j)
{
	hd_report_row rr;

	hd__wire_job_row(r, j, &rr);
	hd__wire_record(r, &rr, 1);
	hd__job_free(j);
	hd__wire_check_stops(r);
}

void hd__wire_progress(hd__wire *r)
{
	double now = hd_monotonic();

	r->stats.elapsed = now - r->started;
	if (now - r->last_progress >= PROGRESS_EVERY) {
		r->last_progress = now;
		hd__wire_emit(r, HD_EVENT_PROGRESS, NULL, NULL);
	}
}

size_t hd__wire_queue(const hd__wire *r)
{
	size_t conns =
	    r->cfg->concurrency ? r->cfg->concurrency : DEFAULT_CONCURRENCY;
	size_t streams = r->cfg->streams > 1 ? (size_t)r->cfg->streams : 1;

	return conns * streams * QUEUE_PER_SLOT;
}

hd_status hd__wire_start_pool(hd__wire *r, hd_error *err)
{
	hd__engine_config ec = {0};
	sigset_t block, old;
	hd_status st;

	ec.connections =
	    r->cfg->concurrency ? r->cfg->concurrency : DEFAULT_CONCURRENCY;
	ec.streams = r->cfg->streams > 1 ? (unsigned)r->cfg->streams : 1;
	ec.queue = hd__wire_queue(r);
	if (ec.queue < QUEUE_MIN)
		ec.queue = QUEUE_MIN;
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
	if (r->cfg->verbose && hd__engine_connections(r->engine)) {
		unsigned c = hd__engine_connections(r->engine);
		unsigned t = hd__engine_threads(r->engine);
		hd__wire_note(r,
			      "up to %u connection%s, driven by %u worker "
			      "thread%s",
			      c, c == 1 ? "" : "s", t, t == 1 ? "" : "s");
	}
	if (r->commit)
		hd__commit_on_durable(r->commit, hd__engine_wake_all,
				      r->engine);
	return HD_OK;
}

void hd__wire_stop_pool(hd__wire *r)
{
	if (r->commit)
		hd__commit_on_durable(r->commit, NULL, NULL);
	hd__engine_free(r->engine);
	r->engine = NULL;
	r->pool = NULL;
	if (atomic_load(&r->sender.no_multiplex) && !r->told_streams) {
		r->told_streams = 1;
		hd__wire_note(r, "--streams had no effect: the server answered "
				 "in HTTP/1.1, one request a connection at a "
				 "time");
	}
}

/* The outbox the run writes into, or NULL. */
const char *hd__wire_outbox(const hd_run_config *cfg)
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

/* The transport's own check of its settings; a dry run and check make
 * the same (a bad URL, missing credentials) and then send nothing.  The
 * outbox's check makes its folder, which they must not. */
static hd_status check_transport(hd__wire *r, hd_error *err)
{
	const hd_transport *tp = r->sender.tp;
	hd_status st = HD_OK;

	if (tp->check && !(r->sender.dry && tp == &hd_transport_outbox))
		st = tp->check(&r->tcfg, err);
	if (r->sender.dry) {
		r->sender.dry_of = tp;
		r->sender.tp = &hd_transport_dryrun;
	}
	return st;
}

hd_status hd__wire_choose_transport(hd__wire *r, hd_error *err)
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
	t->sockets = &r->sockets;
	if (kind == HD_MSG_HTTP && cfg->smtp_url)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp needs an .eml template");
	if (cfg->outbox_dir || (kind == HD_MSG_EMAIL && !cfg->smtp_url)) {
		r->sender.tp = &hd_transport_outbox;
		t->outbox_dir = hd__wire_outbox(cfg);
	} else {
		r->sender.tp = kind == HD_MSG_EMAIL ? &hd_transport_smtp
						    : &hd_transport_http;
	}
	return check_transport(r, err);
}

/* The destination table: limits, pauses and pacing per destination. */
static hd_status set_up_dests(hd__wire *r, hd_error *err)
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
hd_status hd__wire_set_up_sender(hd__wire *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd__sender *s = &r->sender;

	r->rl = hd_ratelimit_new(cfg->rate);
	r->attempts = hd__attempt_log_new();
	if (!r->rl || !r->attempts)
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

hd_status hd__wire_open_journal(hd__wire *r, const char *path,
				const char *campaign, hd_error *err)
{
	char fresh[64];
	hd_status st;

	new_campaign(fresh);
	if (!path) {
		copy_text(r->campaign, sizeof(r->campaign),
			  campaign ? campaign : fresh);
		return HD_OK;
	}
	st = hd__journal_open(path, !r->sender.dry, campaign, fresh,
			      &r->journal, err);
	if (st != HD_OK)
		return st;
	copy_text(r->campaign, sizeof(r->campaign),
		  hd__journal_campaign(r->journal));
	if (hd__journal_keys(r->journal) > 0)
		hd__wire_note(
		    r, "journal %s: campaign %s, %zu recipients recorded", path,
		    r->campaign, hd__journal_keys(r->journal));
	return HD_OK;
}

hd_status hd__wire_open_filter(hd__wire *r, hd__dedupe_mode dedupe,
			       hd_error *err)
{
	hd__filter_config fc = {0};
	hd_status st;

	fc.dedupe = dedupe;
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
		hd__wire_note(
		    r, "shard %ld/%ld: taking the rows whose key is in it",
		    fc.shard_index, fc.shard_count);
	if (st == HD_OK && r->cfg->only_failed)
		hd__wire_note(r, "--only-failed: %zu recipients of %s go again",
			      hd__filter_only_count(r->filter),
			      r->cfg->only_failed);
	return st;
}

hd_status hd__wire_open_trace(hd__wire *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd__trace_conn c;
	char line[600];
	hd_status st = hd__trace_open_run(cfg, &r->trace, err);

	if (st != HD_OK || !r->trace)
		return st;
	r->tcfg.trace = r->trace; /* the transports' connections write */
	hd__trace_conn_init(&c, r->trace, 0);
	snprintf(line, sizeof(line), "herald %s: %s %s with %s", HD_VERSION,
		 cfg->check_only ? "check"
		 : cfg->dry_run	 ? "dry run"
				 : "send",
		 cfg->recipients_path ? cfg->recipients_path : "a stream",
		 cfg->template_path);
	hd__trace_line(&c, 0, '*', line, strlen(line));
	return HD_OK;
}

void hd__wire_init(hd__wire *r, const hd_run_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->now = hd__wall_clock();
	hd__sender_init(&r->sender);
	hd__sockets_init(&r->sockets);
}

void hd__wire_cleanup(hd__wire *r)
{
	hd__wire_stop_pool(r);
	hd__filter_free(r->filter);
	hd__suppress_free(r->suppress);
	hd__dests_free(r->dests);
	hd_ratelimit_free(r->rl);
	hd__attempt_log_free(r->attempts);
	hd__trace_close(r->trace, NULL);
	r->trace = NULL;
	hd_source_free(r->src);
	hd_msgtmpl_free(r->tmpl);
	hd__sender_destroy(&r->sender);
	hd__sockets_destroy(&r->sockets);
}

/* Ends the report and the journal; st is the run's status so far. */
hd_status hd__wire_finish(hd__wire *r, hd_status st, hd_error *err)
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
