/*
 * ratelimit.h — when a send may start: one pacer shared by all workers
 * (internal).
 *
 * The limiter hands out start times spaced 1/rate apart on the monotonic
 * clock (a token bucket holding one token), so a run never exceeds --rate
 * even in bursts.  When a server says "slow down" the rate for the whole
 * pool halves (multiplicative decrease) and any Retry-After pauses every
 * worker; each clean reply then raises it by a small step (additive
 * increase), never above the configured ceiling.  With no --rate the
 * limiter is open until the first "slow down", which starts it at half the
 * rate achieved so far.
 *
 * All functions are thread-safe (one mutex).
 */
#ifndef HD_RATELIMIT_H
#define HD_RATELIMIT_H

#include "herald.h"

#include <stdatomic.h>

typedef struct hd_ratelimit hd_ratelimit;

/* rate: most starts per second, all workers together; 0: no ceiling. */
hd_ratelimit *hd_ratelimit_new(double rate);
void hd_ratelimit_free(hd_ratelimit *rl);

/* Books the next start: returns when (on the monotonic clock, now or
 * later) the send may start, and counts it as started then.  For callers
 * that wait their own way (an event loop's timer). */
double hd_ratelimit_reserve(hd_ratelimit *rl);

/* Blocks until a send may start.  HD_OK, or HD_EINTERRUPTED when *abort
 * became non-zero while waiting (abort may be NULL). */
hd_status hd_ratelimit_acquire(hd_ratelimit *rl, const atomic_int *abort);

/* The server asked to slow down; retry_after < 0 when it named no time. */
void hd_ratelimit_slow_down(hd_ratelimit *rl, double retry_after);

/* A clean reply: one additive step back towards the ceiling. */
void hd_ratelimit_success(hd_ratelimit *rl);

/* The current rate (starts per second); 0: not limited. */
double hd_ratelimit_rate(hd_ratelimit *rl);

/* The current rate (as hd_ratelimit_rate) and the seconds left of a
 * Retry-After pause (0: none), read together. */
void hd_ratelimit_state(hd_ratelimit *rl, double *rate, double *pause);

/* Seconds on the monotonic clock. */
double hd_monotonic(void);

/* Seconds since the epoch (the wall clock), now. */
double hd__wall_clock(void);

/* Sleeps secs, waking early (HD_EINTERRUPTED) when *abort turns non-zero. */
hd_status hd_sleep_abortable(double secs, const atomic_int *abort);

#endif
