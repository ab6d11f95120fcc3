/*
 * commit.c — the committer thread: a bounded FIFO of rows, written by one
 * thread.
 *
 * Lock order: one leaf mutex (c->mu); nothing else is locked while it is
 * held, and no file is written under it.
 */
#include "commit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows waiting to be written at most; a producer beyond it waits. */
#define COMMIT_QUEUE_MAX 4096

struct item {
	struct item *next;
	hd_report_row row; /* strings point into text[] */
	char text[];
};

struct hd__commit {
	hd_report *report;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work; /* an item was queued, or closing */
	pthread_cond_t room; /* the queue shrank */
	struct item *head, *tail;
	size_t queued;
	int closing;
	/* written by the committer thread only, read after the join */
	hd_status status;
	char errmsg[300];
};

static void write_batch(hd__commit *c, struct item *it)
{
	while (it) {
		struct item *next = it->next;
		if (c->report && c->status == HD_OK &&
		    hd_report_write(c->report, &it->row) != HD_OK) {
			c->status = HD_EIO;
			snprintf(c->errmsg, sizeof(c->errmsg),
				 "writing the report failed");
		}
		free(it);
		it = next;
	}
}

static void *committer(void *arg)
{
	hd__commit *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct item *batch;

		while (!c->head && !c->closing)
			pthread_cond_wait(&c->work, &c->mu);
		if (!c->head)
			break;
		batch = c->head;
		c->head = c->tail = NULL;
		c->queued = 0;
		pthread_cond_broadcast(&c->room);
		pthread_mutex_unlock(&c->mu);
		write_batch(c, batch);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

hd_status hd__commit_start(hd_report *report, hd__commit **out, hd_error *err)
{
	hd__commit *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	c->report = report;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->room, NULL);
	if (pthread_create(&c->thread, NULL, committer, c) != 0) {
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

hd_status hd__commit_row(hd__commit *c, const hd_report_row *row)
{
	size_t n = need(row->key) + need(row->response) + need(row->error) +
		   need(row->failure) + need(row->message_id);
	struct item *it = malloc(sizeof(*it) + n);
	char *pos;

	if (!it)
		return HD_ENOMEM;
	it->next = NULL;
	it->row = *row;
	pos = it->text;
	it->row.key = put(&pos, row->key);
	it->row.response = put(&pos, row->response);
	it->row.error = put(&pos, row->error);
	it->row.failure = put(&pos, row->failure);
	it->row.message_id = put(&pos, row->message_id);

	pthread_mutex_lock(&c->mu);
	while (c->queued >= COMMIT_QUEUE_MAX)
		pthread_cond_wait(&c->room, &c->mu);
	if (c->tail)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->queued++;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->mu);
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
	if (st != HD_OK)
		hd_error_set(err, st, NULL, 0, 0, "%s", c->errmsg);
	pthread_cond_destroy(&c->room);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return st;
}
