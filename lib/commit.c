/*
 * commit.c — the committer thread: a bounded FIFO of report rows and
 * journal records, written by one thread, journal records made durable a
 * batch at a time.
 *
 * Lock order: one leaf mutex (c->mu); nothing else is locked while it is
 * held, and no file is written under it.
 */
#include "commit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Items waiting to be written at most; a producer beyond it waits. */
#define COMMIT_QUEUE_MAX 4096
/* Report lines the committer waits for, at most COMMIT_LINGER_MS, before
 * it writes: one wake-up and one write for many lines. */
#define COMMIT_BATCH 256
#define COMMIT_LINGER_MS 20

enum kind { K_ROW, K_START, K_RETRY, K_END, K_MARK };

struct item {
	struct item *next;
	enum kind kind;
	uint64_t seq;	   /* K_START: what its worker waits for */
	hd_report_row row; /* K_ROW, K_END; K_START/K_RETRY: row.row, .at */
	int attempt;
	const char *id; /* journal key (not K_ROW) */
	char text[];	/* the strings the pointers above point into */
};

struct hd__commit {
	hd_report *report;
	hd_journal *journal;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;	/* an item was queued, or closing */
	pthread_cond_t room;	/* the queue shrank */
	pthread_cond_t durable; /* durable_seq moved, or the journal failed */
	struct item *head, *tail;
	size_t queued;
	uint64_t next_seq;    /* under mu */
	uint64_t durable_seq; /* under mu: starts through this are on disk */
	int journal_failed;   /* under mu */
	void (*on_durable)(void *); /* under mu */
	void *on_durable_ctx;
	int in_callback; /* under mu: on_durable is running (on the thread) */
	int closing;	 /* under mu */
	int urgent;	 /* under mu: a journal start is queued */
	/* written by the committer thread only, read after the join */
	hd_status status;
	hd_error err;
};

static double wall_clock(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void fail(hd__commit *c, hd_status st, const hd_error *e,
		 const char *what)
{
	if (c->status != HD_OK)
		return;
	c->status = st;
	if (e && e->msg[0])
		c->err = *e;
	else
		hd_error_set(&c->err, st, NULL, 0, 0, "%s", what);
}

/* Writes one batch; returns the highest start seq in it (0: none) and
 * whether the journal took it. */
static int write_batch(hd__commit *c, struct item *it, uint64_t *top)
{
	int journaled = 0, ok = 1;
	hd_error e;

	*top = 0;
	for (; it; it = it->next) {
		hd_status st = HD_OK;
		if (it->kind == K_MARK) {
			/* durable with this batch's flush, which covers
			 * everything queued before it */
			*top = it->seq;
			continue;
		}
		if (it->kind == K_ROW && c->report && c->status == HD_OK &&
		    hd_report_write(c->report, &it->row) != HD_OK)
			fail(c, HD_EIO, NULL, "writing the report failed");
		if (!c->journal || it->kind == K_ROW)
			continue;
		journaled = 1;
		if (it->kind == K_START) {
			st = hd__journal_add_start(c->journal, it->row.row,
						   it->id, it->attempt,
						   it->row.at);
			*top = it->seq;
		} else if (it->kind == K_RETRY) {
			st = hd__journal_add_retry(c->journal, it->row.row,
						   it->id, it->attempt,
						   it->row.at);
		} else {
			st = hd__journal_add_end(c->journal, &it->row, it->id);
		}
		if (st != HD_OK)
			ok = 0;
	}
	if (journaled) {
		hd_error_clear(&e);
		/* one write, one fdatasync for the whole batch */
		if (!ok || hd__journal_flush(c->journal, 1, &e) != HD_OK) {
			fail(c, HD_EIO, &e, "writing the journal failed");
			ok = 0;
		}
	}
	return ok;
}

static void *committer(void *arg)
{
	hd__commit *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct item *batch, *next;
		uint64_t top;
		int ok;

		while (!c->head && !c->closing)
			pthread_cond_wait(&c->work, &c->mu);
		/* a few report lines: give them a moment to become a batch
		 * (producers wake us at once for what must not wait) */
		if (!c->closing && c->queued < COMMIT_BATCH && !c->urgent) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += COMMIT_LINGER_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			while (!c->closing && !c->urgent &&
			       c->queued < COMMIT_BATCH &&
			       pthread_cond_timedwait(&c->work, &c->mu, &ts) ==
				   0)
				;
		}
		c->urgent = 0;
		if (!c->head)
			break;
		batch = c->head;
		c->head = c->tail = NULL;
		c->queued = 0;
		pthread_cond_broadcast(&c->room);
		pthread_mutex_unlock(&c->mu);
		ok = write_batch(c, batch, &top);
		for (; batch; batch = next) {
			next = batch->next;
			free(batch);
		}
		pthread_mutex_lock(&c->mu);
		if (!ok)
			c->journal_failed = 1;
		else if (top > c->durable_seq && !c->journal_failed)
			c->durable_seq = top;
		pthread_cond_broadcast(&c->durable);
		if (c->on_durable && (top || !ok)) {
			void (*fn)(void *) = c->on_durable;
			void *ctx = c->on_durable_ctx;
			c->in_callback = 1;
			pthread_mutex_unlock(&c->mu);
			fn(ctx);
			pthread_mutex_lock(&c->mu);
			c->in_callback = 0;
			pthread_cond_broadcast(&c->durable);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

hd_status hd__commit_start(hd_report *report, hd_journal *journal,
			   hd__commit **out, hd_error *err)
{
	hd__commit *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	c->report = report;
	c->journal = journal;
	hd_error_clear(&c->err);
	pthread_mutex_init(&c->mu, NULL);
	{
		pthread_condattr_t attr;
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&c->work, &attr);
		pthread_condattr_destroy(&attr);
	}
	pthread_cond_init(&c->room, NULL);
	pthread_cond_init(&c->durable, NULL);
	if (pthread_create(&c->thread, NULL, committer, c) != 0) {
		pthread_cond_destroy(&c->durable);
		pthread_cond_destroy(&c->room);
		pthread_cond_destroy(&c->work);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return hd_error_set(err, HD_EAGAIN, NULL, 0, 0,
				    "cannot start the report writer thread");
	}
	*out = c;
	return HD_OK;
}

/* Bytes a copy of s needs (0 for NULL). */
static size_t need(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copies s to *pos and returns the copy (NULL for NULL). */
static const char *put(char **pos, const char *s)
{
	char *at = *pos;
	size_t n = need(s);

	if (!s)
		return NULL;
	memcpy(at, s, n);
	*pos += n;
	return at;
}

/* Queues it; returns its sequence number. */
static uint64_t enqueue(hd__commit *c, struct item *it)
{
	uint64_t seq;

	it->next = NULL;
	pthread_mutex_lock(&c->mu);
	while (c->queued >= COMMIT_QUEUE_MAX)
		pthread_cond_wait(&c->room, &c->mu);
	seq = it->seq = ++c->next_seq;
	if (c->tail)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->queued++;
	/* a journal start holds a worker back: at once; report lines can
	 * wait for a batch, as long as the queue is not filling up */
	if (it->kind == K_START)
		c->urgent = 1;
	if (it->kind == K_START || c->queued == 1 || c->queued >= COMMIT_BATCH)
		pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->mu);
	return seq;
}

static struct item *attempt_item(enum kind kind, long row, const char *id,
				 int attempt)
{
	struct item *it = calloc(1, sizeof(*it) + need(id));
	char *pos;

	if (!it)
		return NULL;
	pos = it->text;
	it->kind = kind;
	it->row.row = row;
	it->row.at = wall_clock();
	it->attempt = attempt;
	it->id = put(&pos, id);
	return it;
}

hd_status hd__commit_begin(hd__commit *c, long row, const char *id, int attempt)
{
	struct item *it;
	uint64_t seq;
	hd_status st;

	if (!c->journal || !id)
		return HD_OK;
	it = attempt_item(K_START, row, id, attempt);
	if (!it)
		return HD_ENOMEM;
	seq = enqueue(c, it);
	pthread_mutex_lock(&c->mu);
	while (c->durable_seq < seq && !c->journal_failed)
		pthread_cond_wait(&c->durable, &c->mu);
	st = c->durable_seq >= seq ? HD_OK : HD_EIO;
	pthread_mutex_unlock(&c->mu);
	return st;
}

hd_status hd__commit_begin_async(hd__commit *c, long row, const char *id,
				 int attempt, uint64_t *seq)
{
	struct item *it;

	*seq = 0;
	if (!c->journal || !id)
		return HD_OK;
	it = attempt_item(K_START, row, id, attempt);
	if (!it)
		return HD_ENOMEM;
	*seq = enqueue(c, it);
	return HD_OK;
}

int hd__commit_durable(hd__commit *c, uint64_t seq)
{
	int r;

	if (seq == 0)
		return 1;
	pthread_mutex_lock(&c->mu);
	r = c->durable_seq >= seq ? 1 : c->journal_failed ? -1 : 0;
	pthread_mutex_unlock(&c->mu);
	return r;
}

hd_status hd__commit_mark(hd__commit *c, uint64_t *seq)
{
	struct item *it = calloc(1, sizeof(*it));

	*seq = 0;
	if (!it)
		return HD_ENOMEM;
	it->kind = K_MARK;
	*seq = enqueue(c, it);
	return HD_OK;
}

void hd__commit_on_durable(hd__commit *c, void (*fn)(void *), void *ctx)
{
	pthread_mutex_lock(&c->mu);
	/* a call under way ends first: after this returns, the old ctx is
	 * never touched again (the engine is freed next) */
	while (c->in_callback)
		pthread_cond_wait(&c->durable, &c->mu);
	c->on_durable = fn;
	c->on_durable_ctx = ctx;
	pthread_mutex_unlock(&c->mu);
}

void hd__commit_retry(hd__commit *c, long row, const char *id, int attempt)
{
	struct item *it;

	if (!c->journal || !id)
		return;
	it = attempt_item(K_RETRY, row, id, attempt);
	/* out of memory: the start record alone says "uncertain", which
	 * errs on the side of not sending twice */
	if (it)
		enqueue(c, it);
}

/* A copy of row as an item of kind. */
static struct item *row_item(enum kind kind, const hd_report_row *row,
			     const char *id)
{
	size_t n = need(row->key) + need(row->response) + need(row->error) +
		   need(row->failure) + need(row->message_id) + need(id);
	struct item *it = malloc(sizeof(*it) + n);
	char *pos;

	if (!it)
		return NULL;
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->row = *row;
	pos = it->text;
	it->row.key = put(&pos, row->key);
	it->row.response = put(&pos, row->response);
	it->row.error = put(&pos, row->error);
	it->row.failure = put(&pos, row->failure);
	it->row.message_id = put(&pos, row->message_id);
	it->id = put(&pos, id);
	return it;
}

hd_status hd__commit_row(hd__commit *c, const hd_report_row *row)
{
	struct item *it = row_item(K_ROW, row, NULL);

	if (!it)
		return HD_ENOMEM;
	enqueue(c, it);
	return HD_OK;
}

hd_status hd__commit_end(hd__commit *c, const hd_report_row *row,
			 const char *id)
{
	struct item *it;

	if (!c->journal || !id)
		return HD_OK;
	if (!(it = row_item(K_END, row, id)))
		return HD_ENOMEM;
	enqueue(c, it);
	return HD_OK;
}

hd_status hd__commit_close(hd__commit *c, hd_error *err)
{
	hd_status st;

	if (!c)
		return HD_OK;
	pthread_mutex_lock(&c->mu);
	c->closing = 1;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	st = c->status;
	if (st != HD_OK && err)
		*err = c->err;
	pthread_cond_destroy(&c->durable);
	pthread_cond_destroy(&c->room);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return st;
}
