/*
 * run.c — the orchestrator: wires reader, validation, pool, transports
 * and report together (DESIGN.md, Pipeline).
 *
 *   pass 1 (this thread)  read every row, render and validate it, note its
 *                         key for dedupe; a broken file stops here
 *   pass 2 (this thread)  read again; skip, dedupe, submit to the pool;
 *                         collect results and write the report
 *   workers               render, send with their own connection, retry
 *
 * Two streaming passes keep memory independent of the list's length while
 * still refusing to send anything when any row is bad.  This thread alone
 * writes the report; workers hand results back through the pool.
 */
#include "dedupe.h"
#include "message.h"
#include "pool.h"
#include "ratelimit.h"
#include "report.h"
#include "retry.h"
#include "source.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

/* Why workers start no more sends (struct run, halt). */
enum { HALT_MAX_FAILURES = 1, HALT_FATAL = 2 };

struct job {
	hd_task task; /* first: the pool hands back hd_task pointers */
	struct run *run;
	long row;
	long line; /* where the record starts in the recipients file */
	json_t *record;
	char *key;
	hd_row_status status;
	int attempts;
	long code;
	const char *failure;
	int fatal;
	long ms;
	double at;
	char *message_id;
	char response[512];
	char error[700];
};

struct worker {
	void *conn;
	uint64_t rng;
};

struct run {
	const hd_run_config *cfg;
	hd_msgtmpl *tmpl;
	const hd_transport *tp;
	hd_transport_config tcfg;
	hd_ratelimit *rl;
	hd_source *src;
	hd_report *report;
	hd_dedupe *dedupe;
	hd_pool *pool;
	char campaign[64];
	char key_field[128];
	int retries;
	double backoff;
	int dry;
	atomic_int abort; /* in-flight attempts give up */
	hd_run_stats stats;
	long invalid_found; /* pass 1 */
	double started, last_progress;
	/* failures in a row, in completion order, and whether no send may
	 * start any more (the streak reached --max-failures, or a fatal
	 * failure): kept by the workers, so the decision is made where sends
	 * start and not after the queue has been worked through */
	atomic_long fail_streak;
	atomic_int halt;
	int stopping; /* no more rows are taken */
	hd_status stop_status;
	char stop_msg[600];
};

/* Copies src into dst[size], cut to fit, always terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
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

/* The row's key as text: a string as is, a number or boolean as JSON.
 * NULL when the field is missing, null or empty. */
static char *key_of(const char *field, json_t *record)
{
	json_t *v = json_object_get(record, field);

	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_length(v) ? strdup(json_string_value(v))
					     : NULL;
	if (json_is_object(v) || json_is_array(v))
		return NULL;
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

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

static hd_status open_inputs(struct run *r, hd_error *err)
{
	const hd_run_config *cfg = r->cfg;
	hd_msgtmpl_opts mo = {cfg->env_names, cfg->n_env, cfg->redirect,
			      &cfg->mail};
	hd_source_opts so = {0};
	hd_status st;

	so.format = format_of(cfg->format);
	so.delimiter = cfg->delimiter;
	if ((int)so.format < 0)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--format must be csv, json or jsonl");
	if (!cfg->template_path || !cfg->recipients_path)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "a template (-t) and a recipients file "
				    "are required");
	st = hd_msgtmpl_load(cfg->template_path, &mo, &r->tmpl, err);
	if (st != HD_OK)
		return st;
	return hd_source_open(cfg->recipients_path, &so, &r->src, err);
}

/* Picks the key field from the first record: --key, else "email" when
 * present, else the first field. */
static hd_status choose_key(struct run *r, json_t *first, hd_error *err)
{
	const char *k = r->cfg->key_field;

	if (r->key_field[0])
		return HD_OK;
	if (!k) {
		void *it = json_object_iter(first);
		if (json_object_get(first, "email"))
			k = "email";
		else if (it)
			k = json_object_iter_key(it);
		else
			return hd_error_set(err, HD_EPARSE,
					    hd_source_name(r->src),
					    hd_source_line(r->src), 0,
					    "the first record has no fields");
	}
	snprintf(r->key_field, sizeof(r->key_field), "%s", k);
	return HD_OK;
}

/* Is row inside --skip/--limit? */
static int in_range(const struct run *r, long row)
{
	if (row <= r->cfg->skip)
		return 0;
	return r->cfg->limit <= 0 || row <= r->cfg->skip + r->cfg->limit;
}

/* A row's problem is the data's: the error names the recipients file,
 * the record's line, the row and the field, and keeps where in the
 * template the value was needed. */
static void blame_row(const struct run *r, hd_error *e, long row, long line)
{
	char where[300] = "";
	size_t n;

	if (e->file[0] && strcmp(e->file, hd_source_name(r->src)) != 0) {
		if (e->line > 0)
			snprintf(where, sizeof(where), " (template %s:%ld)",
				 e->file, e->line);
		else
			snprintf(where, sizeof(where), " (template %s)",
				 e->file);
	}
	n = strlen(e->msg);
	if (where[0] && n + strlen(where) < sizeof(e->msg))
		memcpy(e->msg + n, where, strlen(where) + 1);
	snprintf(e->file, sizeof(e->file), "%s", hd_source_name(r->src));
	e->line = line;
	e->column = 0;
	e->row = row;
}

/* Renders one row on this thread to see whether it can be sent. */
static hd_status validate_row(struct run *r, json_t *rec, long row,
			      const char *key, hd_error *e)
{
	hd_message msg;
	hd_status st;

	hd_error_clear(e);
	if (!key) {
		hd_error_set(e, HD_EMISSING, hd_source_name(r->src),
			     hd_source_line(r->src), 0,
			     "no recipient key: the field is missing or empty");
		hd_error_set_field(e, r->key_field);
		e->row = row;
		return HD_EMISSING;
	}
	st = hd_msgtmpl_build(r->tmpl, rec, r->campaign, key, row, &msg, e);
	hd_message_clear(&msg);
	if (st != HD_OK)
		blame_row(r, e, row, hd_source_line(r->src));
	return st;
}

/* Pass 1: every row is read, rendered and checked; keys are noted.
 * Returns HD_OK or the reader's error (the file itself is broken). */
static hd_status pass_validate(struct run *r, hd_error *err)
{
	json_t *rec = NULL;
	hd_error e;
	hd_status st;

	for (;;) {
		long row;
		char *key;

		st = hd_source_next(r->src, &rec, err);
		if (st != HD_OK || !rec)
			return st;
		row = hd_source_row(r->src);
		r->stats.rows = row;
		st = choose_key(r, rec, err);
		if (st != HD_OK) {
			json_decref(rec);
			return st;
		}
		if (!in_range(r, row)) {
			json_decref(rec);
			continue;
		}
		r->stats.total++;
		key = key_of(r->key_field, rec);
		if (key &&
		    hd_dedupe_note(r->dedupe, key, strlen(key)) != HD_OK) {
			free(key);
			json_decref(rec);
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		}
		if (validate_row(r, rec, row, key, &e) != HD_OK) {
			r->invalid_found++;
			emit(r, HD_EVENT_INVALID_ROW, &e, NULL);
		}
		free(key);
		json_decref(rec);
	}
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	json_decref(j->record);
	free(j->key);
	free(j->message_id);
	free(j);
}

/* On a worker thread: render, then send with retries. */
static void job_work(hd_task *t, void *state)
{
	struct job *j = (struct job *)t;
	struct worker *w = state;
	struct run *r = j->run;
	hd_message msg;
	hd_send_result res;
	hd_error e;
	double t0 = hd_monotonic();
	int reconnected = 0;

	hd_error_clear(&e);
	if (hd_msgtmpl_build(r->tmpl, j->record, r->campaign, j->key, j->row,
			     &msg, &e) != HD_OK) {
		j->status = HD_ROW_INVALID;
		blame_row(r, &e, j->row, j->line);
		hd_error_format(&e, j->error, sizeof(j->error));
		goto done;
	}
	j->message_id = msg.id ? strdup(msg.id) : NULL;
	if (r->dry) {
		j->status = HD_ROW_DRY_RUN;
		goto done;
	}
	if (atomic_load(&r->halt)) {
		j->status = HD_ROW_NOT_ATTEMPTED;
		goto done;
	}
	for (;;) {
		if (atomic_load(&r->abort) ||
		    hd_ratelimit_acquire(r->rl, &r->abort) != HD_OK) {
			j->status =
			    j->attempts ? HD_ROW_FAILED : HD_ROW_NOT_ATTEMPTED;
			j->failure = j->attempts ? "transient" : NULL;
			copy_text(j->error, sizeof(j->error),
				  "aborted before the send finished");
			break;
		}
		memset(&res, 0, sizeof(res));
		res.retry_after = -1;
		j->attempts++;
		r->tp->send(w->conn, &msg, j->row, &res);
		j->code = res.code;
		copy_text(j->response, sizeof(j->response), res.response);
		copy_text(j->error, sizeof(j->error), res.error);
		if (res.status == HD_OK) {
			j->status = HD_ROW_SENT;
			j->error[0] = '\0';
			hd_ratelimit_success(r->rl);
			break;
		}
		if (res.fatal) {
			j->fatal = 1;
			j->status = HD_ROW_FAILED;
			j->failure = "permanent";
			break;
		}
		if (res.reconnect && !reconnected) {
			/* a reused connection had died before anything of
			 * this message went out: once, for free */
			reconnected = 1;
			j->attempts--;
			continue;
		}
		if (res.slow_down)
			hd_ratelimit_slow_down(r->rl, res.retry_after);
		if (res.status == HD_ETRANSIENT && j->attempts <= r->retries) {
			double d = hd_retry_delay(j->attempts, r->backoff,
						  res.retry_after, &w->rng);
			if (hd_sleep_abortable(d, &r->abort) == HD_OK)
				continue;
		}
		j->status = HD_ROW_FAILED;
		j->failure =
		    res.status == HD_ETRANSIENT ? "transient" : "permanent";
		break;
	}
	if (j->status == HD_ROW_SENT) {
		atomic_store(&r->fail_streak, 0);
	} else if (j->status == HD_ROW_FAILED) {
		long n = atomic_fetch_add(&r->fail_streak, 1) + 1;
		int none = 0;
		if (j->fatal)
			atomic_store(&r->halt, HALT_FATAL);
		else if (r->cfg->max_failures > 0 && n >= r->cfg->max_failures)
			atomic_compare_exchange_strong(&r->halt, &none,
						       HALT_MAX_FAILURES);
	}
done:
	hd_message_clear(&msg);
	j->ms = (long)((hd_monotonic() - t0) * 1000.0);
}

static hd_status worker_init(void *ctx, unsigned index, void **state,
			     hd_error *err)
{
	struct run *r = ctx;
	struct worker *w = calloc(1, sizeof(*w));
	hd_status st;

	if (!w)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	w->rng = hd_rng_seed(index + 1);
	st = r->tp->open(&r->tcfg, index, &w->conn, err);
	if (st != HD_OK) {
		free(w);
		return st;
	}
	*state = w;
	return HD_OK;
}

static void worker_fini(void *ctx, unsigned index, void *state)
{
	struct run *r = ctx;
	struct worker *w = state;

	(void)index;
	if (!w)
		return;
	r->tp->close(w->conn);
	free(w);
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

static hd_status report_simple(struct run *r, long row, const char *key,
			       hd_row_status s, const char *error)
{
	hd_report_row rr = {0};

	count(r, s);
	if (!r->report)
		return HD_OK;
	rr.row = row;
	rr.key = key;
	rr.status = s;
	rr.error = error;
	rr.at = wall_clock();
	return hd_report_write(r->report, &rr);
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

/* Looks at signals, the clock and the failure streak. */
static void check_stops(struct run *r)
{
	const hd_run_config *cfg = r->cfg;
	int sig = cfg->interrupt ? (int)*cfg->interrupt : 0;

	if (sig >= 1)
		stop_taking(r, HD_EINTERRUPTED,
			    "interrupted: finishing the sends in flight "
			    "(interrupt again to abort them)");
	if (sig >= 2 && !atomic_load(&r->abort)) {
		atomic_store(&r->abort, 1);
		emit(r, HD_EVENT_NOTE, NULL,
		     "interrupted again: aborting the sends in flight");
	}
	if (cfg->max_runtime > 0 &&
	    hd_monotonic() - r->started >= cfg->max_runtime)
		stop_taking(r, HD_EINTERRUPTED,
			    "--max-runtime reached: taking no more rows");
}

static hd_status finish_job(struct run *r, struct job *j)
{
	hd_report_row rr = {0};
	hd_status st = HD_OK;

	if (j->task.status == HD_ECANCELED) {
		j->status = HD_ROW_NOT_ATTEMPTED;
		j->error[0] = '\0';
	}
	count(r, j->status);
	r->stats.attempts += j->attempts;
	if (j->status == HD_ROW_FAILED) {
		hd_error e;
		hd_error_clear(&e);
		e.row = j->row;
		copy_text(e.msg, sizeof(e.msg), j->error);
		emit(r, HD_EVENT_FAILED_ROW, &e, j->key);
		if (j->fatal) {
			stop_taking(r, HD_ECONFIG, j->error);
		} else if (atomic_load(&r->halt) == HALT_MAX_FAILURES) {
			char m[128];
			snprintf(m, sizeof(m),
				 "%ld failures in a row (--max-failures): "
				 "stopping",
				 r->cfg->max_failures);
			stop_taking(r, HD_EINTERRUPTED, m);
		}
	}
	if (r->report) {
		rr.row = j->row;
		rr.key = j->key;
		rr.status = j->status;
		rr.attempts = j->attempts;
		rr.code = j->code;
		rr.response = j->response[0] ? j->response : NULL;
		rr.error = j->error[0] ? j->error : NULL;
		rr.failure = j->status == HD_ROW_FAILED ? j->failure : NULL;
		rr.ms = j->ms;
		rr.at = wall_clock();
		rr.message_id = j->message_id;
		st = hd_report_write(r->report, &rr);
	}
	job_free(j);
	return st;
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
static hd_status drain(struct run *r, int timeout_ms)
{
	hd_task *t;
	hd_status st = HD_OK;

	while ((t = hd_pool_next_result(r->pool, timeout_ms)) != NULL) {
		if (finish_job(r, (struct job *)t) != HD_OK)
			st = HD_EIO;
		timeout_ms = 0;
	}
	check_stops(r);
	maybe_progress(r);
	return st;
}

static hd_status start_pool(struct run *r, hd_error *err)
{
	hd_pool_config pc = {0};
	sigset_t block, old;
	hd_status st;

	pc.workers =
	    r->cfg->concurrency ? r->cfg->concurrency : DEFAULT_CONCURRENCY;
	pc.queue_capacity = pc.workers * QUEUE_PER_WORKER;
	pc.worker_init = worker_init;
	pc.worker_fini = worker_fini;
	pc.ctx = r;
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

/* Pass 2: submits every row that is to go and reports every row. */
static hd_status pass_send(struct run *r, int refuse, hd_error *err)
{
	json_t *rec = NULL;
	hd_status st, wst = HD_OK;

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
		struct job *j;
		long row;
		char *key;
		int dup;

		if (r->pool && drain(r, 0) != HD_OK)
			wst = HD_EIO;
		st = hd_source_next(r->src, &rec, err);
		if (st != HD_OK || !rec)
			break;
		row = hd_source_row(r->src);
		key = key_of(r->key_field, rec);
		if (!in_range(r, row)) {
			report_simple(r, row, key, HD_ROW_SKIPPED,
				      "outside --skip/--limit");
			goto next;
		}
		dup = key ? hd_dedupe_seen(r->dedupe, key, strlen(key)) : 0;
		if (dup < 0) {
			st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
			free(key);
			json_decref(rec);
			break;
		}
		if (dup) {
			report_simple(r, row, key, HD_ROW_SKIPPED,
				      "duplicate key: an earlier row has it");
			goto next;
		}
		if (refuse || !key) {
			hd_error e;
			char text[700];
			if (validate_row(r, rec, row, key, &e) != HD_OK) {
				hd_error_format(&e, text, sizeof(text));
				report_simple(r, row, key, HD_ROW_INVALID,
					      text);
			} else {
				report_simple(r, row, key, HD_ROW_NOT_ATTEMPTED,
					      NULL);
			}
			goto next;
		}
		if (r->stopping) {
			report_simple(r, row, key, HD_ROW_NOT_ATTEMPTED, NULL);
			goto next;
		}
		j = calloc(1, sizeof(*j));
		if (!j) {
			st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
			free(key);
			json_decref(rec);
			break;
		}
		j->task.work = job_work;
		j->run = r;
		j->row = row;
		j->line = hd_source_line(r->src);
		j->record = rec;
		j->key = key;
		rec = NULL;
		key = NULL;
		for (;;) {
			hd_status sub = hd_pool_submit(r->pool, &j->task, 100);
			if (sub == HD_OK)
				break;
			if (sub == HD_ESTOPPED) {
				j->task.status = HD_ECANCELED;
				finish_job(r, j);
				break;
			}
			if (drain(r, 0) != HD_OK)
				wst = HD_EIO;
		}
	next:
		free(key);
		json_decref(rec);
		rec = NULL;
	}
	if (r->pool) {
		/* the rest of the pool's work, then the workers end */
		hd_pool_stop(r->pool,
			     r->stopping ? HD_POOL_NOW : HD_POOL_DRAIN);
		while (hd_pool_outstanding(r->pool) > 0)
			if (drain(r, 100) != HD_OK)
				wst = HD_EIO;
		hd_pool_free(r->pool);
		r->pool = NULL;
	}
	r->stats.elapsed = hd_monotonic() - r->started;
	emit(r, HD_EVENT_PROGRESS, NULL, NULL);
	if (st == HD_OK && wst != HD_OK)
		st = hd_error_set(err, HD_EIO, r->cfg->report_path, 0, 0,
				  "writing the report failed");
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
	t->abort = &r->abort;
	if (cfg->smtp_url && cfg->outbox_dir)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp and --outbox exclude each other");
	if (kind == HD_MSG_HTTP && cfg->smtp_url)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp needs an .eml template");
	r->dry = cfg->dry_run || cfg->check_only;
	if (r->dry) {
		r->tp = &hd_transport_dryrun;
	} else if (cfg->outbox_dir ||
		   (kind == HD_MSG_EMAIL && !cfg->smtp_url)) {
		r->tp = &hd_transport_outbox;
		if (!t->outbox_dir)
			t->outbox_dir = "outbox";
	} else {
		r->tp = kind == HD_MSG_EMAIL ? &hd_transport_smtp
					     : &hd_transport_http;
	}
	return r->tp->check ? r->tp->check(t, err) : HD_OK;
}

static void run_cleanup(struct run *r)
{
	hd_pool_free(r->pool);
	hd_dedupe_free(r->dedupe);
	hd_ratelimit_free(r->rl);
	hd_source_free(r->src);
	hd_msgtmpl_free(r->tmpl);
}

hd_status hd_run(const hd_run_config *cfg, hd_run_stats *stats, hd_error *err)
{
	struct run r;
	hd_status st;
	hd_error cerr;

	memset(&r, 0, sizeof(r));
	hd_error_clear(err);
	/* once, on this thread, before any worker makes a handle */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "libcurl could not be initialised");
	r.cfg = cfg;
	r.retries = cfg->retries >= 0 ? cfg->retries : DEFAULT_RETRIES;
	r.backoff = (cfg->backoff_ms > 0 ? (double)cfg->backoff_ms
					 : DEFAULT_BACKOFF_MS) /
		    1000.0;
	atomic_init(&r.abort, 0);
	atomic_init(&r.fail_streak, 0);
	atomic_init(&r.halt, 0);
	if (cfg->campaign)
		copy_text(r.campaign, sizeof(r.campaign), cfg->campaign);
	else
		new_campaign(r.campaign);
	st = open_inputs(&r, err);
	if (st == HD_OK)
		st = choose_transport(&r, err);
	if (st == HD_OK) {
		r.dedupe = hd_dedupe_new();
		r.rl = hd_ratelimit_new(cfg->rate);
		if (!r.dedupe || !r.rl)
			st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	if (st == HD_OK)
		st = pass_validate(&r, err);
	if (st == HD_OK && cfg->report_path)
		st = hd_report_open(cfg->report_path, &r.report, err);
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
	if (hd_report_close(r.report, &cerr) != HD_OK && st == HD_OK) {
		if (err)
			*err = cerr;
		st = HD_EIO;
	}
	if (stats)
		*stats = r.stats;
	run_cleanup(&r);
	curl_global_cleanup();
	return st;
}

hd_status hd_render(const hd_run_config *cfg, long row, const char *key,
		    char **data, size_t *len, char **envelope, hd_error *err)
{
	struct run r;
	json_t *rec = NULL;
	hd_message msg;
	hd_buf out = HD_BUF_INIT, env = HD_BUF_INIT;
	hd_status st;

	*data = NULL;
	*envelope = NULL;
	*len = 0;
	memset(&r, 0, sizeof(r));
	memset(&msg, 0, sizeof(msg));
	hd_error_clear(err);
	r.cfg = cfg;
	copy_text(r.campaign, sizeof(r.campaign),
		  cfg->campaign ? cfg->campaign : "render");
	st = open_inputs(&r, err);
	while (st == HD_OK) {
		char *k;
		st = hd_source_next(r.src, &rec, err);
		if (st != HD_OK)
			break;
		if (!rec) {
			st = key ? hd_error_set(err, HD_EINVAL,
						cfg->recipients_path, 0, 0,
						"no row has the key '%s'", key)
				 : hd_error_set(err, HD_EINVAL,
						cfg->recipients_path, 0, 0,
						"there is no row %ld", row);
			break;
		}
		st = choose_key(&r, rec, err);
		if (st != HD_OK)
			break;
		k = key_of(r.key_field, rec);
		if ((key && k && strcmp(k, key) == 0) ||
		    (!key && hd_source_row(r.src) == row)) {
			st = hd_msgtmpl_build(r.tmpl, rec, r.campaign,
					      k ? k : "", hd_source_row(r.src),
					      &msg, err);
			free(k);
			break;
		}
		free(k);
		json_decref(rec);
		rec = NULL;
	}
	json_decref(rec);
	if (st == HD_OK && msg.kind == HD_MSG_EMAIL) {
		st = hd_buf_append(&out, msg.email.data, msg.email.len);
		if (st == HD_OK)
			st = hd_buf_printf(&env, "MAIL FROM:<%s>\n",
					   msg.email.from);
		for (size_t i = 0; st == HD_OK && i < msg.email.nrcpt; i++)
			st = hd_buf_printf(&env, "RCPT TO:<%s>\n",
					   msg.email.rcpt[i]);
	} else if (st == HD_OK) {
		st = hd_request_format(&out, &msg.http);
		if (st == HD_OK)
			st = hd_buf_puts(&env, "");
	}
	hd_message_clear(&msg);
	run_cleanup(&r);
	if (st != HD_OK) {
		hd_buf_free(&out);
		hd_buf_free(&env);
		return st;
	}
	*data = hd_buf_detach(&out, len);
	*envelope = hd_buf_detach(&env, NULL);
	return HD_OK;
}
