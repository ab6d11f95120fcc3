/* ratelimit.c — the shared pacer with AIMD slow-down. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* Slowest we ever go after repeated "slow down"s: one start a 10 s. */
#define MIN_RATE 0.1
/* Longest pause a Retry-After can impose on the pool. */
#define MAX_PAUSE 300.0
/* Additive increase: this fraction of the ceiling per clean reply. */
#define STEP_FRACTION 0.02
/* Window over which an unlimited run measures what it achieves. */
#define WINDOW 2.0

struct hd_ratelimit {
	pthread_mutex_t mu;
	double ceiling;	     /* --rate, 0 = none */
	double rate;	     /* current; 0 = open */
	double next;	     /* earliest start of the next send */
	double pause_until;  /* Retry-After: nobody starts before this */
	double open_ceiling; /* unlimited runs: the rate to return to */
	double win_start;    /* measuring the achieved rate */
	long win_count;
	double last_rate; /* achieved rate of the last full window */
};

double hd_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double hd__wall_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

hd_status hd_sleep_abortable(double secs, const atomic_int *abort)
{
	double end = hd_monotonic() + secs;

	for (;;) {
		double left = end - hd_monotonic();
		struct timespec ts;

		if (abort && *abort)
			return HD_EINTERRUPTED;
		if (left <= 0)
			return HD_OK;
		if (left > 0.05)
			left = 0.05;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

hd_ratelimit *hd_ratelimit_new(double rate)
{
	hd_ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl);
		return NULL;
	}
	rl->ceiling = rate > 0 ? rate : 0;
	rl->rate = rl->ceiling;
	rl->next = hd_monotonic();
	rl->win_start = rl->next;
	return rl;
}

void hd_ratelimit_free(hd_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

double hd_ratelimit_reserve(hd_ratelimit *rl)
{
	double now, slot;

	pthread_mutex_lock(&rl->mu);
	now = hd_monotonic();
	if (now - rl->win_start >= WINDOW) {
		rl->last_rate = (double)rl->win_count / (now - rl->win_start);
		rl->win_start = now;
		rl->win_count = 0;
	}
	rl->win_count++;
	slot = now;
	if (slot < rl->pause_until)
		slot = rl->pause_until;
	if (rl->rate > 0) {
		if (slot < rl->next)
			slot = rl->next;
		rl->next = slot + 1.0 / rl->rate;
	}
	pthread_mutex_unlock(&rl->mu);
	return slot;
}

hd_status hd_ratelimit_acquire(hd_ratelimit *rl, const atomic_int *abort)
{
	double slot = hd_ratelimit_reserve(rl), now = hd_monotonic();

	if (slot > now)
		return hd_sleep_abortable(slot - now, abort);
	return abort && *abort ? HD_EINTERRUPTED : HD_OK;
}

void hd_ratelimit_slow_down(hd_ratelimit *rl, double retry_after)
{
	double now;

	pthread_mutex_lock(&rl->mu);
	now = hd_monotonic();
	if (rl->rate == 0) {
		/* open until now: start from half of what was achieved */
		double achieved = rl->last_rate;
		if (achieved <= 0 && now > rl->win_start)
			achieved =
			    (double)rl->win_count / (now - rl->win_start);
		if (achieved < 2 * MIN_RATE)
			achieved = 2 * MIN_RATE;
		rl->open_ceiling = achieved;
		rl->rate = achieved / 2;
		rl->next = now;
	} else {
		rl->rate /= 2;
		if (rl->rate < MIN_RATE)
			rl->rate = MIN_RATE;
	}
	if (retry_after > 0) {
		if (retry_after > MAX_PAUSE)
			retry_after = MAX_PAUSE;
		if (now + retry_after > rl->pause_until)
			rl->pause_until = now + retry_after;
	}
	pthread_mutex_unlock(&rl->mu);
}

void hd_ratelimit_success(hd_ratelimit *rl)
{
	pthread_mutex_lock(&rl->mu);
	if (rl->rate > 0) {
		double top = rl->ceiling > 0 ? rl->ceiling : rl->open_ceiling;
		double step = top * STEP_FRACTION;
		if (step < MIN_RATE)
			step = MIN_RATE;
		rl->rate += step;
		if (rl->rate >= top) {
			/* back at the ceiling; an unlimited run opens again */
			rl->rate = rl->ceiling > 0 ? rl->ceiling : 0;
		}
	}
	pthread_mutex_unlock(&rl->mu);
}

double hd_ratelimit_rate(hd_ratelimit *rl)
{
	double r;

	pthread_mutex_lock(&rl->mu);
	r = rl->rate;
	pthread_mutex_unlock(&rl->mu);
	return r;
}

void hd_ratelimit_state(hd_ratelimit *rl, double *rate, double *pause)
{
	double left;

	pthread_mutex_lock(&rl->mu);
	*rate = rl->rate;
	left = rl->pause_until - hd_monotonic();
	pthread_mutex_unlock(&rl->mu);
	*pause = left > 0 ? left : 0;
}
