/* send.c — on a worker thread: render one row, send it, retry, decide. */
#include "send.h"

#include "commit.h"
#include "retry.h"

#include <stdarg.h>
#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-worker state: the transport's connection and a random source. */
struct worker {
	void *conn;
	uint64_t rng;
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

void hd__sender_init(hd__sender *s)
{
	atomic_init(&s->abort, 0);
	atomic_init(&s->halt, 0);
	atomic_init(&s->fail_streak, 0);
	atomic_init(&s->delivered, 0);
	pthread_mutex_init(&s->ff_mu, NULL);
}

void hd__sender_destroy(hd__sender *s)
{
	pthread_mutex_destroy(&s->ff_mu);
}

void hd__blame_row(const char *source_name, hd_error *e, long row, long line)
{
	char where[300] = "";
	size_t n;

	if (e->file[0] && strcmp(e->file, source_name) != 0) {
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
	snprintf(e->file, sizeof(e->file), "%s", source_name);
	e->line = line;
	e->column = 0;
	e->row = row;
}

hd_status hd__worker_init(void *ctx, unsigned index, void **state,
			  hd_error *err)
{
	hd__sender *s = ctx;
	struct worker *w = calloc(1, sizeof(*w));
	hd_status st;

	if (!w)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	w->rng = hd_rng_seed(index + 1);
	st = s->tp->open(s->tcfg, index, &w->conn, err);
	if (st != HD_OK) {
		free(w);
		return st;
	}
	*state = w;
	return HD_OK;
}

void hd__worker_fini(void *ctx, unsigned index, void *state)
{
	hd__sender *s = ctx;
	struct worker *w = state;

	(void)index;
	if (!w)
		return;
	s->tp->close(w->conn);
	free(w);
}

void hd__job_free(hd__job *j)
{
	if (!j)
		return;
	json_decref(j->record);
	free(j->key);
	free(j->id);
	free(j->message_id);
	free(j);
}

/* The attempt was cut short by an abort before the message went out. */
static void aborted_before(hd__job *j)
{
	if (j->attempts == 0) {
		j->status = HD_ROW_NOT_ATTEMPTED;
		copy_text(j->error, sizeof(j->error),
			  "interrupted before the message went out");
		j->code = 0;
		j->response[0] = '\0';
		return;
	}
	j->status = HD_ROW_FAILED;
	j->failure = "transient";
	snprintf(j->error, sizeof(j->error),
		 "interrupted before attempt %d went out; attempt %d: %s",
		 j->attempts + 1, j->attempts, j->prev_error);
}

/* Sets halt (once: the first reason wins) with the line that says why. */
static void halt(hd__sender *s, int why, const char *fmt, ...) HD_PRINTF(3, 4);
static void halt(hd__sender *s, int why, const char *fmt, ...)
{
	int none = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&s->halt, &none, HD__HALT_CLAIMED))
		return;
	va_start(ap, fmt);
	vsnprintf(s->halt_msg, sizeof(s->halt_msg), fmt, ap);
	va_end(ap);
	atomic_store(&s->halt, why);
}

/* A row found the destination unreachable before any row got through:
 * after a few such rows (to one destination) nothing is likely to work,
 * and the run stops rather than spend every row's retries. */
static void fail_fast(hd__sender *s, const hd_send_result *res)
{
	static const char *const advice[] = {
	    [HD_UNREACH_CONNECT] = "try again later",
	    [HD_UNREACH_RESOLVE] = "check the host name",
	    [HD_UNREACH_TLS] = "check the URL's scheme and port (smtps:// "
			       "and https:// speak TLS from the first byte)",
	};
	long rows;
	int stop;

	pthread_mutex_lock(&s->ff_mu);
	if (s->ff_rows == 0)
		copy_text(s->ff_dest, sizeof(s->ff_dest), res->dest);
	else if (strcmp(s->ff_dest, res->dest) != 0)
		s->ff_multi = 1;
	rows = ++s->ff_rows;
	stop = !s->ff_multi && rows >= s->failfast_rows &&
	       !atomic_load(&s->delivered);
	pthread_mutex_unlock(&s->ff_mu);
	if (stop)
		halt(s,
		     res->unreachable == HD_UNREACH_CONNECT
			 ? HD__HALT_UNREACHABLE
			 : HD__HALT_FATAL,
		     "%s: %ld row%s tried, none got through (%s): stopping, "
		     "%s",
		     res->dest[0] ? res->dest : "the server", rows,
		     rows == 1 ? "" : "s", res->error,
		     advice[res->unreachable]);
}

/* The attempts of one row, after it was rendered. */
static void deliver(hd__job *j, struct worker *w, const hd_message *msg)
{
	hd__sender *s = j->sender;
	hd_send_result res;
	int reconnected = 0;

	for (;;) {
		if (atomic_load(&s->abort) ||
		    hd_ratelimit_acquire(s->rl, &s->abort) != HD_OK) {
			aborted_before(j);
			return;
		}
		if (s->journal) {
			/* on disk before anything goes out: a crash from here
			 * on leaves the row known as uncertain */
			if (hd__commit_begin(s->journal, j->row, j->id,
					     j->attempts + 1) != HD_OK) {
				halt(s, HD__HALT_JOURNAL,
				     "the journal cannot be written: "
				     "nothing more is sent");
				aborted_before(j);
				return;
			}
			j->journaled = 1;
		}
		memset(&res, 0, sizeof(res));
		res.retry_after = -1;
		j->attempts++;
		s->tp->send(w->conn, msg, j->row, &res);
		j->code = res.code;
		copy_text(j->response, sizeof(j->response), res.response);
		copy_text(j->error, sizeof(j->error), res.error);
		if (res.status == HD_OK) {
			j->status = HD_ROW_SENT;
			j->error[0] = '\0';
			atomic_store(&s->delivered, 1);
			hd_ratelimit_success(s->rl);
			return;
		}
		if (res.uncertain) {
			/* it may have arrived: never again in this run */
			j->status = HD_ROW_UNCERTAIN;
			return;
		}
		if (atomic_load(&s->abort)) {
			j->attempts--;
			aborted_before(j);
			return;
		}
		if (res.fatal) {
			j->status = HD_ROW_FAILED;
			j->failure = "permanent";
			halt(s, HD__HALT_FATAL, "%s", res.error);
			return;
		}
		if (s->journal)
			hd__commit_retry(s->journal, j->row, j->id,
					 j->attempts);
		copy_text(j->prev_error, sizeof(j->prev_error), res.error);
		if (res.reconnect && !reconnected) {
			/* a reused connection had died before anything of
			 * this message went out: once, for free */
			reconnected = 1;
			j->attempts--;
			continue;
		}
		if (res.unreachable && !atomic_load(&s->delivered)) {
			j->status = HD_ROW_FAILED;
			j->failure = "transient";
			fail_fast(s, &res);
			return;
		}
		if (res.slow_down)
			hd_ratelimit_slow_down(s->rl, res.retry_after);
		if (res.status == HD_ETRANSIENT && j->attempts <= s->retries) {
			double d = hd_retry_delay(j->attempts, s->backoff,
						  res.retry_after, &w->rng);
			if (hd_sleep_abortable(d, &s->abort) == HD_OK)
				continue;
		}
		j->status = HD_ROW_FAILED;
		j->failure =
		    res.status == HD_ETRANSIENT ? "transient" : "permanent";
		return;
	}
}

/* Keeps the failure streak and the halt flag where sends start, so a
 * limit holds however fast the queue is worked through. */
static void note_outcome(hd__job *j)
{
	hd__sender *s = j->sender;
	long n;

	if (j->status == HD_ROW_SENT) {
		atomic_store(&s->fail_streak, 0);
		return;
	}
	/* an uncertain row counts: a server that swallows every message
	 * without answering must stop the run too */
	if (j->status != HD_ROW_FAILED && j->status != HD_ROW_UNCERTAIN)
		return;
	n = atomic_fetch_add(&s->fail_streak, 1) + 1;
	if (s->max_failures > 0 && n >= s->max_failures)
		halt(s, HD__HALT_MAX_FAILURES,
		     "%ld failures in a row (--max-failures %ld): stopping; "
		     "the last: row %ld: %s",
		     n, s->max_failures, j->row, j->error);
}

hd_status hd__sender_halted(hd__sender *s, char *msg, size_t size)
{
	int why = atomic_load(&s->halt);

	if (why == 0 || why == HD__HALT_CLAIMED)
		return HD_OK;
	snprintf(msg, size, "%s", s->halt_msg);
	switch (why) {
	case HD__HALT_FATAL:
		return HD_ECONFIG;
	case HD__HALT_JOURNAL:
		return HD_EIO;
	default:
		return HD_EINTERRUPTED;
	}
}

/* The row's outcome into the journal, before this worker takes another
 * row (commit.h says why). */
static void journal_end(hd__job *j)
{
	hd_report_row rr = {0};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	rr.row = j->row;
	rr.status = j->status;
	rr.code = j->code;
	rr.error = j->error[0] ? j->error : NULL;
	rr.message_id = j->message_id;
	rr.at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	/* out of memory: the start alone says uncertain, which errs on the
	 * side of not sending twice */
	(void)hd__commit_end(j->sender->journal, &rr, j->id);
}

void hd__send_job(hd_task *t, void *worker_state)
{
	hd__job *j = (hd__job *)t;
	hd__sender *s = j->sender;
	struct worker *w = worker_state;
	hd_message msg;
	hd_error e;
	double t0 = hd_monotonic();

	hd_error_clear(&e);
	if (hd_msgtmpl_build(s->tmpl, j->record, s->campaign, j->id, j->row,
			     &msg, &e) != HD_OK) {
		j->status = HD_ROW_INVALID;
		hd__blame_row(s->source_name, &e, j->row, j->line);
		hd_error_format(&e, j->error, sizeof(j->error));
		goto done;
	}
	j->message_id = msg.id ? strdup(msg.id) : NULL;
	if (s->dry)
		j->status = HD_ROW_DRY_RUN;
	else if (atomic_load(&s->halt))
		j->status = HD_ROW_NOT_ATTEMPTED;
	else
		deliver(j, w, &msg);
	note_outcome(j);
done:
	hd_message_clear(&msg);
	j->ms = (long)((hd_monotonic() - t0) * 1000.0);
	if (j->journaled)
		journal_end(j);
}
