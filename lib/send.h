/*
 * send.h — the workers' side of a run (internal).
 *
 * SYNOPSIS
 *	hd__sender s = {...};	(filled before the pool starts, then fixed)
 *	hd__sender_init(&s);
 *	pool config: worker_init = hd__worker_init, worker_fini =
 *	    hd__worker_fini, ctx = &s
 *	job->task.work = hd__send_job; job->sender = &s; ... submit ...
 *
 * DESCRIPTION
 *	A worker renders its row's message, then sends it through its own
 *	connection with retries: exponential backoff with full jitter, a
 *	server's Retry-After, the shared pacer, one free reconnect for a
 *	connection found dead before the message went out.  What the row
 *	ends as is written into the job, for the coordinator to report.
 *
 * WHO WRITES WHAT
 *	hd__sender's plain fields are written by the coordinating thread
 *	before the pool starts and only read afterwards, by every worker.
 *	Its atomics are shared; each says below who writes it.  A job is
 *	written by the one worker that runs it, between the pool handing it
 *	over and handing it back (pool.h, OWNERSHIP).
 */
#ifndef HD_SEND_H
#define HD_SEND_H

#include "herald.h"
#include "message.h"
#include "pool.h"
#include "ratelimit.h"
#include "report.h"
#include "transport.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

struct hd__commit;

/* Why workers start no more sends (hd__sender.halt). */
enum {
	HD__HALT_MAX_FAILURES = 1, /* --max-failures failures in a row */
	HD__HALT_FATAL = 2,	   /* a row's failure is every row's */
	HD__HALT_UNREACHABLE = 3,  /* the destination cannot be reached */
	HD__HALT_JOURNAL = 4,	   /* the journal cannot be written */
	HD__HALT_CLAIMED = 99,	   /* being set: halt_msg not yet written */
};

/* Rows that find the destination unreachable, before any row got
 * through, that stop the run (fewer when fewer rows are taken). */
#define HD__FAILFAST_ROWS 3

typedef struct hd__sender {
	/* fixed before the pool starts */
	const hd_msgtmpl *tmpl;
	const hd_transport *tp;
	const hd_transport_config *tcfg;
	hd_ratelimit *rl;	    /* thread-safe */
	struct hd__commit *journal; /* thread-safe; NULL: no journal */
	const char *campaign;
	const char *source_name; /* recipients file, for row errors */
	int retries;		 /* extra attempts after a transient one */
	double backoff;		 /* first retry's ceiling, seconds */
	int dry;		 /* dry run or check: render only */
	long max_failures;	 /* failures in a row that halt; 0: never */
	long failfast_rows;	 /* unreachable rows that halt (above) */

	/* shared */
	atomic_int abort;	 /* coordinator: in-flight attempts give up
				    (a second signal); tcfg->abort points
				    here */
	atomic_int halt;	 /* workers: no send may start any more
				    (HD__HALT_*); set once */
	atomic_long fail_streak; /* workers: failures in a row, in
				    completion order */
	atomic_int delivered;	 /* workers: some row got through */

	/* Fail fast: rows that could not reach the destination before any
	 * got through.  Workers write these under ff_mu (a rare path). */
	pthread_mutex_t ff_mu;
	long ff_rows;
	int ff_multi; /* another destination failed too: a run to many
			 hosts is not stopped by the first ones */
	char ff_dest[136];

	/* written by the one worker whose compare-and-swap set halt,
	 * before it did; read by the coordinator after it sees halt */
	char halt_msg[700];
} hd__sender;

/* One row on its way through the pool. */
typedef struct hd__job {
	hd_task task; /* first: the pool hands back hd_task pointers */
	hd__sender *sender;
	/* set by the coordinator before submit */
	long row;
	long line; /* where the record starts in the recipients file */
	json_t *record;
	char *key; /* as reported */
	char *id;  /* the key's identity: seeds Message-ID, journal */
	/* set by the worker */
	hd_row_status status;
	int attempts;
	long code;
	const char *failure;  /* "permanent" / "transient" for failed rows */
	int journaled;	      /* a start was recorded in the journal */
	char prev_error[400]; /* the error of the attempt before, for when
				 an abort cuts the next one short */
	long ms;
	char *message_id;
	char response[512];
	char error[700];
} hd__job;

/* Initialises s's shared fields (the others are the caller's to fill);
 * hd__sender_destroy releases them. */
void hd__sender_init(hd__sender *s);
void hd__sender_destroy(hd__sender *s);

/* After the coordinator saw halt set: the run's status for it
 * (HD_ECONFIG, HD_EINTERRUPTED, HD_EIO) and the line that says why. */
hd_status hd__sender_halted(hd__sender *s, char *msg, size_t size);

/* The pool's worker_init / worker_fini with ctx = the hd__sender. */
hd_status hd__worker_init(void *ctx, unsigned index, void **state,
			  hd_error *err);
void hd__worker_fini(void *ctx, unsigned index, void *state);

/* The pool's work function for an hd__job. */
void hd__send_job(hd_task *t, void *worker_state);

/* Frees a job and what it owns; NULL is allowed. */
void hd__job_free(hd__job *j);

/* A row's problem is the data's: makes e name the recipients file, the
 * record's line and the row, keeping where in the template the value was
 * needed. */
void hd__blame_row(const char *source_name, hd_error *e, long row, long line);

#endif
