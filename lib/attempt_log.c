/* attempt_log.c — retries and slow-downs, from workers to the
 * coordinator; see attempt_log.h. */
#include "attempt_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hd__attempt_log {
	pthread_mutex_t mu; /* leaf: guards everything below */
	hd__attempt_entry ring[HD__ATTEMPT_LOG_MAX];
	size_t head, count;
	long dropped;
};

hd__attempt_log *hd__attempt_log_new(void)
{
	hd__attempt_log *l = calloc(1, sizeof(*l));

	if (l && pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		l = NULL;
	}
	return l;
}

void hd__attempt_log_free(hd__attempt_log *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void add(hd__attempt_log *l, const hd__attempt_entry *e)
{
	pthread_mutex_lock(&l->mu);
	if (l->count == HD__ATTEMPT_LOG_MAX) {
		l->dropped++;
	} else {
		l->ring[(l->head + l->count) % HD__ATTEMPT_LOG_MAX] = *e;
		l->count++;
	}
	pthread_mutex_unlock(&l->mu);
}

/* An entry's common part. */
static void entry(hd__attempt_entry *e, hd_event_kind kind, long row,
		  int attempt, const char *reason)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->info.row = row;
	e->info.attempt = attempt;
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
}

void hd__attempt_log_retry(hd__attempt_log *l, long row, int attempt,
			   const char *reason, double wait)
{
	hd__attempt_entry e;

	if (!l)
		return;
	entry(&e, HD_EVENT_RETRY, row, attempt, reason);
	e.info.wait = wait > 0 ? wait : 0;
	add(l, &e);
}

void hd__attempt_log_slow(hd__attempt_log *l, long row, int attempt,
			  const char *reason, const char *dest,
			  hd_ratelimit *rl)
{
	hd__attempt_entry e;

	if (!l)
		return;
	entry(&e, HD_EVENT_SLOW_DOWN, row, attempt, reason);
	if (rl)
		hd_ratelimit_state(rl, &e.info.rate, &e.info.pause);
	snprintf(e.dest, sizeof(e.dest), "%s", dest ? dest : "");
	add(l, &e);
}

size_t hd__attempt_log_take(hd__attempt_log *l, hd__attempt_entry *out,
			    size_t max, long *dropped)
{
	size_t n = 0;

	*dropped = 0;
	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	while (n < max && l->count) {
		out[n] = l->ring[l->head];
		l->head = (l->head + 1) % HD__ATTEMPT_LOG_MAX;
		l->count--;
		n++;
	}
	*dropped = l->dropped;
	l->dropped = 0;
	pthread_mutex_unlock(&l->mu);
	/* the strings are the copy's own */
	for (size_t i = 0; i < n; i++) {
		out[i].info.reason = out[i].reason;
		out[i].info.dest = out[i].dest;
	}
	return n;
}
