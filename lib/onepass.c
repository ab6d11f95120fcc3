/* onepass.c — a run over a source read once; onepass.h says how. */
#include "onepass.h"

#include "dedupe.h"
#include "ratelimit.h"
#include "source_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One record on its way. */
struct item {
	hd__job job;	   /* first: the pool hands back its task */
	struct item *next; /* in the decision order, or parked */
	char where[64];	   /* the source's name for it (an entry id) */
	int checked;	   /* its check came back */
	int sending;	   /* job is its send */
};

/* An outcome waiting for the journal's flush before the source is told. */
struct ack {
	struct ack *next;
	uint64_t seq; /* the commit mark after its journal records */
	hd__ack how;
	char where[64];
	char *line; /* the report line */
};

struct op {
	hd__wire *w;
	const hd__onepass_hooks *hooks;
	hd__onepass_view view;
	size_t limit;			 /* records in flight at most */
	struct item *order, *order_tail; /* read, not decided, in order */
	struct item *parked;		 /* to go once their key's send ends */
	hd_keyset *sending;		 /* ids of the sends in flight */
	struct ack *acks, *acks_tail;
	int tell;	  /* the source wants outcomes (hd__source_acks) */
	int ended;	  /* the source said there is no more */
	hd_status failed; /* the run's error (the source's, a write) */
	hd_error ferr;
};

/* Keeps the run's first error. */
static void keep_error(struct op *op, hd_status st, const hd_error *e)
{
	if (op->failed != HD_OK)
		return;
	op->failed = st;
	if (e)
		op->ferr = *e;
	else
		hd_error_set(&op->ferr, st, NULL, 0, 0, NULL);
}

/* An error that stops the run at once (the sends in flight end). */
static void fail(struct op *op, hd_status st, const hd_error *e)
{
	keep_error(op, st, e);
	hd__wire_stop_taking(op->w, st, op->ferr.msg);
}

static void free_item(struct op *op, struct item *it)
{
	op->view.inflight--;
	hd__job_free(&it->job);
}

/* ---- telling the source ------------------------------------------------ */

/* Queues how the source is to be told of the row rr ended as, after the
 * journal has it. */
static void tell_later(struct op *op, const char *where, hd__ack how,
		       const hd_report_row *rr)
{
	struct ack *a;

	if (!op->tell)
		return;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->line = hd__report_line(rr)) ||
	    hd__commit_mark(op->w->commit, &a->seq) != HD_OK) {
		/* not told: the source hands it out again, and the journal
		 * knows what became of it */
		if (a)
			free(a->line);
		free(a);
		return;
	}
	a->how = how;
	snprintf(a->where, sizeof(a->where), "%s", where);
	/* held until told: it still takes room from the source */
	op->view.inflight++;
	if (op->acks_tail)
		op->acks_tail->next = a;
	else
		op->acks = a;
	op->acks_tail = a;
}

/* Tells the source every outcome whose journal records are on disk. */
static void tell_durable(struct op *op)
{
	struct ack *a;
	hd_error e;

	while ((a = op->acks) != NULL) {
		int d = hd__commit_durable(op->w->commit, a->seq);
		if (d == 0)
			return;
		/* d < 0: the journal cannot be written; the source is not
		 * told, so the entry comes back to a run that can record it */
		if (d > 0 && op->failed == HD_OK) {
			hd_error_clear(&e);
			if (hd__source_ack(op->w->src, a->where, a->how,
					   a->line, &e) != HD_OK)
				fail(op, e.code ? e.code : HD_EIO, &e);
		}
		op->acks = a->next;
		if (!op->acks)
			op->acks_tail = NULL;
		op->view.inflight--;
		free(a->line);
		free(a);
	}
}

/* ---- ending a record ----------------------------------------------------- */

static void end_simple(struct op *op, struct item *it, hd_row_status s,
		       const char *error, int taken, hd__ack how)
{
	hd_report_row rr = {0};

	rr.row = it->job.row;
	rr.key = it->job.key;
	rr.status = s;
	rr.error = error;
	hd__wire_record(op->w, &rr, taken);
	tell_later(op, it->where, how, &rr);
	free_item(op, it);
}

/* A send came back. */
static void end_send(struct op *op, struct item *it)
{
	hd__job *j = &it->job;
	hd_report_row rr;
	hd__ack how;

	hd__wire_job_row(op->w, j, &rr);
	how = j->status == HD_ROW_NOT_ATTEMPTED ||
		      (j->status == HD_ROW_FAILED && j->failure &&
		       strcmp(j->failure, "transient") == 0)
		  ? HD__ACK_AGAIN
		  : HD__ACK_DONE;
	hd__wire_record(op->w, &rr, 1);
	tell_later(op, it->where, how, &rr);
	free_item(op, it);
}

/* ---- the pool ---------------------------------------------------------- */

static void on_result(struct op *op, struct item *it);

static void submit(struct op *op, struct item *it)
{
	for (;;) {
		hd_status st = hd_pool_submit(op->w->pool, &it->job.task, 100);
		if (st == HD_OK)
			return;
		if (st != HD_ETIMEDOUT) {
			/* the pool stopped taking: as if it came back
			 * cancelled */
			it->job.task.status = HD_ECANCELED;
			on_result(op, it);
			return;
		}
		/* full: the workers empty it without us */
	}
}

/* The checked record it is to be sent: a send job takes over its
 * record, key and identity. */
static void go(struct op *op, struct item *it, int resend, const char *why)
{
	struct item *s = calloc(1, sizeof(*s));
	hd__job *c = &it->job;

	if (!s || hd_keyset_add(op->sending, c->id, strlen(c->id)) < 0) {
		free(s);
		fail(op, HD_ENOMEM, NULL);
		op->w->stats.total++;
		end_simple(op, it, HD_ROW_NOT_ATTEMPTED, NULL, 1,
			   HD__ACK_AGAIN);
		return;
	}
	if (resend)
		hd__wire_note_resend(op->w, c->row, c->key, why);
	s->job.sender = &op->w->sender;
	s->job.log = op->w->attempts;
	s->job.kind = HD__JOB_SEND;
	s->job.row = c->row;
	s->job.line = c->line;
	s->job.record = c->record;
	s->job.key = c->key;
	s->job.id = c->id;
	c->record = NULL;
	c->key = c->id = NULL;
	memcpy(s->where, it->where, sizeof(s->where));
	s->sending = 1;
	op->w->stats.total++;
	hd__job_free(c); /* the check; the count stays with the send */
	submit(op, s);
}

/* Why a checked record cannot be sent, as the report says it; 0 when it
 * can. */
static int invalid(struct op *op, struct item *it, char *text, size_t size)
{
	hd__job *j = &it->job;
	hd_error e = j->check_error;
	double due;

	if (j->status != HD_ROW_INVALID) {
		hd_error_clear(&e);
		if (hd__due_time(j->record, &due, &e) == HD_OK)
			return 0;
	} else if (!e.code) {
		e.code = j->key_status ? j->key_status : HD_EMISSING;
	}
	hd__blame_row(hd_source_name(op->w->src), &e, j->row, j->line);
	op->w->invalid_found++;
	hd__wire_emit(op->w, HD_EVENT_INVALID_ROW, &e, NULL);
	hd_error_format(&e, text, size);
	return 1;
}

/* A checked record, in its turn: the filter (or a hook) decides. */
static void decide(struct op *op, struct item *it)
{
	hd__job *j = &it->job;
	hd__verdict v;
	hd_error e;
	char text[700];

	if (j->task.status == HD_ECANCELED) {
		end_simple(op, it, HD_ROW_NOT_ATTEMPTED, NULL, 0,
			   HD__ACK_AGAIN);
		return;
	}
	hd_error_clear(&e);
	if (!(op->hooks && op->hooks->decide && j->id &&
	      op->hooks->decide(op->hooks->ctx, it->where, j->id, &v))) {
		hd_status st =
		    hd__filter_decide(op->w->filter, HD__PASS_ONE, j->row,
				      j->id, &j->due, &v, &e);
		if (st != HD_OK) {
			fail(op, st, &e);
			end_simple(op, it, HD_ROW_NOT_ATTEMPTED, NULL, 0,
				   HD__ACK_AGAIN);
			return;
		}
	}
	if (!v.take) {
		end_simple(op, it, v.status, v.reason, 0,
			   v.later ? HD__ACK_AGAIN : HD__ACK_DONE);
		return;
	}
	if (invalid(op, it, text, sizeof(text))) {
		op->w->stats.total++;
		end_simple(op, it, HD_ROW_INVALID, text, 1, HD__ACK_DONE);
		return;
	}
	if (op->w->stopping) {
		op->w->stats.total++;
		end_simple(op, it, HD_ROW_NOT_ATTEMPTED, NULL, 1,
			   HD__ACK_AGAIN);
		return;
	}
	if (hd_keyset_has(op->sending, j->id, strlen(j->id))) {
		/* its key is on its way: it waits, then is decided again */
		it->next = op->parked;
		op->parked = it;
		return;
	}
	go(op, it, v.resend, v.reason);
}

/* Decides the checked records at the head of the order. */
static void decide_ready(struct op *op)
{
	struct item *it;

	while ((it = op->order) != NULL && it->checked) {
		op->order = it->next;
		if (!op->order)
			op->order_tail = NULL;
		it->next = NULL;
		decide(op, it);
	}
}

/* The records that waited for id's send decide again. */
static void unpark(struct op *op, const char *id)
{
	struct item **p = &op->parked, *waiting = NULL, *it;

	while ((it = *p) != NULL) {
		if (strcmp(it->job.id, id) == 0) {
			*p = it->next;
			it->next = waiting;
			waiting = it;
		} else {
			p = &it->next;
		}
	}
	while ((it = waiting) != NULL) {
		waiting = it->next;
		it->next = NULL;
		decide(op, it);
	}
}

static void on_result(struct op *op, struct item *it)
{
	char id[1024];

	if (!it->sending) {
		it->checked = 1;
		decide_ready(op);
		return;
	}
	snprintf(id, sizeof(id), "%s", it->job.id);
	hd_keyset_remove(op->sending, id, strlen(id));
	end_send(op, it);
	unpark(op, id);
}

/* Collects what came back, waiting up to timeout_ms for the first. */
static void collect(struct op *op, int timeout_ms)
{
	hd_task *t;

	while ((t = hd_pool_next_result(op->w->pool, timeout_ms)) != NULL) {
		/* a row's retries are told before its outcome */
		hd__wire_emit_attempts(op->w);
		on_result(op, (struct item *)t);
		timeout_ms = 0;
	}
	hd__wire_emit_attempts(op->w);
	hd__wire_check_stops(op->w);
	hd__wire_progress(op->w);
}

/* ---- reading ------------------------------------------------------------ */

/* Starts rec (taken) on its way: a check job. */
static void take(struct op *op, json_t *rec)
{
	hd__wire *w = op->w;
	struct item *it = calloc(1, sizeof(*it));

	if (!it) {
		json_decref(rec);
		fail(op, HD_ENOMEM, NULL);
		return;
	}
	if (!w->key_chosen) {
		/* the first record, as a file run chooses from its first */
		hd__key_choose(&w->key, w->cfg->key_field, w->tmpl, rec);
		w->key_chosen = 1;
		hd__wire_note(w, "recipient key: %s", w->key.desc);
	}
	op->view.inflight++;
	op->view.read++;
	w->stats.rows = hd_source_row(w->src);
	op->view.last_read = hd_monotonic();
	it->job.sender = &w->sender;
	it->job.kind = HD__JOB_CHECK;
	it->job.row = hd_source_row(w->src);
	it->job.line = hd_source_line(w->src);
	it->job.record = rec;
	hd__source_where(w->src, it->where, sizeof(it->where));
	if (op->order_tail)
		op->order_tail->next = it;
	else
		op->order = it;
	op->order_tail = it;
	submit(op, it);
}

/* Reads what there is room for.  Returns 1 when it read nothing now (the
 * loop may wait for results). */
static int read_some(struct op *op)
{
	int got = 0;

	while (!op->ended && !op->w->stopping &&
	       op->view.inflight < op->limit) {
		json_t *rec = NULL;
		hd_error e;
		hd_status st;

		hd_error_clear(&e);
		st = hd_source_next(op->w->src, &rec, &e);
		if (st == HD_EAGAIN)
			break;
		if (st == HD_EINTERRUPTED && op->w->stopping) {
			/* a stop while the input was slow to come */
			op->ended = 1;
			break;
		}
		if (st != HD_OK) {
			char text[900];
			hd_report_row rr = {0};
			/* the rows read before it go on their way */
			op->ended = 1;
			keep_error(op, st, &e);
			/* the report says where the input broke */
			hd_error_format(&e, text, sizeof(text));
			rr.status = HD_ROW_NOT_ATTEMPTED;
			rr.error = text;
			hd__wire_record(op->w, &rr, 0);
			break;
		}
		if (!rec) {
			op->ended = 1;
			break;
		}
		take(op, rec);
		got++;
		/* a file gives records as fast as we ask: look at results
		 * and stops now and then */
		if (got % 64 == 0)
			collect(op, 0);
	}
	return got == 0;
}

/* While the input is slow to come: what came back goes on. */
static int waiting(void *ctx)
{
	struct op *op = ctx;

	/* the input may keep us here: no wake-up is held back meanwhile */
	hd_pool_flush(op->w->pool);
	collect(op, 0);
	tell_durable(op);
	return op->w->stopping;
}

static void wait_a_little(struct op *op)
{
	hd_pool_flush(op->w->pool);
	struct timespec ts = {0, 20 * 1000000};

	nanosleep(&ts, NULL);
}

hd_status hd__onepass_run(hd__wire *w, json_t *first,
			  const hd__onepass_hooks *hooks, hd_error *err)
{
	struct op op;
	hd_status st;

	memset(&op, 0, sizeof(op));
	op.w = w;
	op.hooks = hooks;
	op.tell = hd__source_acks(w->src);
	op.limit = hd__wire_queue(w);
	op.view.last_read = hd_monotonic();
	hd_error_clear(&op.ferr);
	if (!(op.sending = hd_keyset_new())) {
		json_decref(first);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	w->started = hd_monotonic();
	st = hd__wire_start_pool(w, err);
	if (st != HD_OK) {
		json_decref(first);
		hd_keyset_free(op.sending);
		return st;
	}
	hd__source_on_wait(w->src, waiting, &op);
	if (first)
		take(&op, first);
	for (;;) {
		int idle;

		hd__wire_check_stops(w);
		if (hooks && hooks->tick && op.failed == HD_OK &&
		    !w->stopping) {
			int stop = 0;
			hd_error e;
			hd_error_clear(&e);
			st = hooks->tick(hooks->ctx, &op.view, &stop, &e);
			if (st != HD_OK)
				fail(&op, st, &e);
			else if (stop)
				hd__wire_stop_taking(w, HD_OK, e.msg);
		}
		tell_durable(&op);
		idle = read_some(&op);
		collect(&op, 0);
		if ((op.ended || w->stopping) && op.view.inflight == 0) {
			tell_durable(&op);
			if (!op.acks)
				break;
			wait_a_little(&op); /* the committer's flush */
			continue;
		}
		if (idle && op.view.inflight > 0)
			collect(&op, 20);
		else if (idle && op.acks)
			wait_a_little(&op);
	}
	/* the workers end */
	hd_pool_stop(w->pool, HD_POOL_DRAIN);
	while (hd_pool_outstanding(w->pool) > 0)
		collect(&op, 100);
	hd__wire_stop_pool(w);
	hd__wire_check_stops(w);
	w->stats.elapsed = hd_monotonic() - w->started;
	hd__wire_emit(w, HD_EVENT_PROGRESS, NULL, NULL);
	hd__source_on_wait(w->src, NULL, NULL);
	hd_keyset_free(op.sending);
	if (op.failed != HD_OK) {
		if (err)
			*err = op.ferr;
		return op.failed;
	}
	return HD_OK;
}
