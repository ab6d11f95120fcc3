/*
 * dest.h — being fair to every destination (internal).
 *
 * A destination is where a row's message goes: for HTTP the URL's host and
 * port, for email the SMTP server, or with --per-domain the domain of the
 * first envelope recipient.  One table, shared by all workers, keeps per
 * destination:
 *
 *   in flight    at most `limit` sends at once (--per-host, --per-domain);
 *                without one, once a second destination shows up none may
 *                hold more than `fair` of the run's connections, so a
 *                customer's endpoint that hangs cannot hold every worker
 *   trouble      consecutive sends that timed out, could not connect, got
 *                no reply or were told to slow down (429, 421): after
 *                PAUSE_AFTER of them the destination is paused (10 s, then
 *                doubling up to 5 min); rows for a paused destination end
 *                at once (failed, transient, with the reason) instead of
 *                spending their retries; when the pause is over one send
 *                at a time probes it until one succeeds
 *   pacing       a "slow down" from one destination (HTTP 429 with
 *                Retry-After, SMTP 421 or 4.7.x) slows that destination
 *                alone when the run has several; a run with one keeps the
 *                pool-wide pacer (the caller's)
 *
 * Memory stays bounded: idle destinations are forgotten, oldest first,
 * once the table holds HD__DESTS_MAX of them.
 *
 * Thread-safe: one mutex, a leaf (no other lock is taken under it).
 */
#ifndef HD_DEST_H
#define HD_DEST_H

#include "herald.h"
#include "ratelimit.h"

#include <stddef.h>

#define HD__DESTS_MAX 4096

typedef struct hd__dests hd__dests;
typedef struct hd__dest hd__dest;

typedef struct hd__dests_config {
	long limit;	/* sends in flight per destination; 0: no fixed limit */
	long fair;	/* without limit, the share one destination may hold
			   once there are several; 0: none */
	double ceiling; /* --rate: where a slowed destination climbs back
			   to; 0: the rate it had */
} hd__dests_config;

/* What hd__dest_begin says. */
enum {
	HD__DEST_GO = 0,     /* counted in flight: send now */
	HD__DEST_WAIT = 1,   /* at its limit: ask again when a send ends */
	HD__DEST_PAUSED = 2, /* paused: the row ends; why says so */
};

/* How a send ended, for the destination's health. */
enum {
	HD__DEST_OK = 0,      /* the destination answered for itself */
	HD__DEST_TROUBLE = 1, /* timed out, unreachable, no reply, 429/421 */
};

hd__dests *hd__dests_new(const hd__dests_config *cfg);
void hd__dests_free(hd__dests *t);

/* The entry for key, held until hd__dests_put; NULL when out of memory
 * (the caller then goes without a destination). */
hd__dest *hd__dests_get(hd__dests *t, const char *key);
void hd__dests_put(hd__dests *t, hd__dest *d);

/* Has the run seen more than one destination? */
int hd__dests_several(hd__dests *t);

/* May a send to d start at now (monotonic seconds)?  HD__DEST_GO counts
 * it in flight (end it with hd__dest_end).  why gets the reason of a
 * pause. */
int hd__dest_begin(hd__dests *t, hd__dest *d, double now, char *why,
		   size_t size);

/* The destination's own pacing: when the next send may start, booked, or
 * 0 when it is not slowed. */
double hd__dest_reserve(hd__dests *t, hd__dest *d);

/* A send to d that began ended; how: HD__DEST_OK or HD__DEST_TROUBLE
 * (error says what, for the pause's reason). */
void hd__dest_end(hd__dests *t, hd__dest *d, int how, const char *error,
		  double now);

/* d said "slow down".  Returns 1 when d alone is slowed (the run has
 * several destinations), 0 when the caller should slow the whole pool. */
int hd__dest_slow_down(hd__dests *t, hd__dest *d, double retry_after);

/* d's key (as given to hd__dests_get), and its own pacer once it was
 * slowed (else NULL): for telling what slowed down. */
const char *hd__dest_key(const hd__dest *d);
hd_ratelimit *hd__dest_pacer(hd__dests *t, hd__dest *d);

/* d answered cleanly: its own pacing steps back up. */
void hd__dest_success(hd__dests *t, hd__dest *d);

#endif
