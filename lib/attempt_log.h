/*
 * attempt_log.h — what the workers tell the coordinating thread about
 * attempts while a row is still on its way: retries and slow-downs
 * (internal).
 *
 * Events are the coordinator's (run.c emits them on the calling
 * thread); a worker that decides a retry or slows the pool down cannot
 * emit one.  It writes an entry here instead, and the coordinator takes
 * the entries each time it collects finished rows (at least every 100
 * ms while rows are in flight) and emits HD_EVENT_RETRY and
 * HD_EVENT_SLOW_DOWN, so that -v shows a retry when it is decided, not
 * when the row is done.
 *
 * Bounded and lock-light: HD__ATTEMPT_LOG_MAX entries in a ring under
 * one leaf mutex, taken only on the retry and slow-down paths (never on
 * a clean send); when the coordinator falls behind, entries beyond the
 * ring are counted, not kept, and never block a worker.
 */
#ifndef HD_ATTEMPT_LOG_H
#define HD_ATTEMPT_LOG_H

#include "herald.h"
#include "ratelimit.h"

#define HD__ATTEMPT_LOG_MAX 256

typedef struct hd__attempt_log hd__attempt_log;

typedef struct hd__attempt_entry {
	hd_event_kind kind;   /* HD_EVENT_RETRY or HD_EVENT_SLOW_DOWN */
	hd_attempt_info info; /* its strings point into the fields below */
	char reason[300];
	char dest[136];
} hd__attempt_entry;

/* NULL when out of memory (nothing is then told). */
hd__attempt_log *hd__attempt_log_new(void);
void hd__attempt_log_free(hd__attempt_log *l);

/* A worker: row's attempt failed for reason and goes again after wait
 * seconds.  l may be NULL. */
void hd__attempt_log_retry(hd__attempt_log *l, long row, int attempt,
			   const char *reason, double wait);

/* A worker: row's attempt made the run (dest "") or the destination
 * dest slow down; rl is the pacer that slowed, read for its new rate and
 * pause.  l may be NULL. */
void hd__attempt_log_slow(hd__attempt_log *l, long row, int attempt,
			  const char *reason, const char *dest,
			  hd_ratelimit *rl);

/* The coordinator: moves up to max entries, oldest first, into out;
 * *dropped gets (and clears) how many did not fit the ring since the
 * last call.  Returns how many were moved. */
size_t hd__attempt_log_take(hd__attempt_log *l, hd__attempt_entry *out,
			    size_t max, long *dropped);

#endif
