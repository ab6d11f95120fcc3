/* send.c — on a worker thread: render one row, send it, retry, decide. */
#include "send.h"

#include "retry.h"

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

/* The attempts of one row, after it was rendered. */
static void deliver(hd__job *j, struct worker *w, const hd_message *msg)
{
	hd__sender *s = j->sender;
	hd_send_result res;
	int reconnected = 0;

	for (;;) {
		if (atomic_load(&s->abort) ||
		    hd_ratelimit_acquire(s->rl, &s->abort) != HD_OK) {
			j->status =
			    j->attempts ? HD_ROW_FAILED : HD_ROW_NOT_ATTEMPTED;
			j->failure = j->attempts ? "transient" : NULL;
			copy_text(j->error, sizeof(j->error),
				  "aborted before the send finished");
			return;
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
			hd_ratelimit_success(s->rl);
			return;
		}
		if (res.fatal) {
			j->fatal = 1;
			j->status = HD_ROW_FAILED;
			j->failure = "permanent";
			return;
		}
		if (res.reconnect && !reconnected) {
			/* a reused connection had died before anything of
			 * this message went out: once, for free */
			reconnected = 1;
			j->attempts--;
			continue;
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
	int none = 0;

	if (j->status == HD_ROW_SENT) {
		atomic_store(&s->fail_streak, 0);
		return;
	}
	if (j->status != HD_ROW_FAILED)
		return;
	n = atomic_fetch_add(&s->fail_streak, 1) + 1;
	if (j->fatal)
		atomic_store(&s->halt, HD__HALT_FATAL);
	else if (s->max_failures > 0 && n >= s->max_failures)
		atomic_compare_exchange_strong(&s->halt, &none,
					       HD__HALT_MAX_FAILURES);
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
}
