/*
 * send.h — the life of one row on the workers' side (internal).
 *
 * SYNOPSIS
 *	hd__sender s = {...};	(filled before the workers start, then fixed)
 *	hd__sender_init(&s);
 *	engine.c drives each taken job:
 *	    hd__job_open(j, now)			render; DONE or READY
 *	    hd__job_try_start(j, now, &wake)	START, WAIT (until wake or an
 *						event), BLOCKED (by its
 *						destination) or DONE
 *	    ... the attempt (a transport's start/finish, or send) ...
 *	    hd__job_attempt_done(j, now)		READY again (a retry, a
 *						free reconnect) or DONE
 *	    hd__job_close(j)			the outcome is final
 *
 * DESCRIPTION
 *	A worker renders its row's message, then sends it with retries:
 *	exponential backoff with full jitter, a server's Retry-After, the
 *	shared pacer, the destination's limits and pauses (dest.h), one free
 *	reconnect for a connection found dead before the message went out,
 *	the journal's start record on disk before anything goes.  These
 *	functions never block: whatever a row waits for (a backoff, the
 *	pacer, the journal's flush, a busy destination) is a time or an
 *	event the engine waits for, with its other rows going on.  What
 *	the row ends as is written into the job, for the coordinator to
 *	report; the outcome rules:
 *	  - sent; failed (permanent, or transient once the retries are
 *	    spent); invalid (it cannot be rendered);
 *	  - uncertain when the message had left and no reply came: never
 *	    retried;
 *	  - not-attempted when a stop or an abort came before it went out.
 *
 * WHO WRITES WHAT
 *	hd__sender's plain fields are written by the coordinating thread
 *	before the workers start and only read afterwards.  Its atomics are
 *	shared; each says below who writes it.  A job is written by the one
 *	worker that took it, between the pool handing it over and handing it
 *	back (pool.h, OWNERSHIP).
 */
#ifndef HD_SEND_H
#define HD_SEND_H

#include "filter.h"
#include "herald.h"
#include "message.h"
#include "pool.h"
#include "ratelimit.h"
#include "report.h"
#include "source.h"
#include "transport.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

struct hd__attempt_log;
struct hd__commit;
struct hd__dests;
struct hd__dest;
struct hd__keyspec;

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
	struct hd__dests *dests;    /* thread-safe; NULL: no limits */
	int per_domain;		    /* email destinations by recipient
				       domain (--per-domain) */
	const char *campaign;
	const char *source_name;    /* recipients file, for row errors */
	int retries;		    /* extra attempts after a transient one */
	double backoff;		    /* first retry's ceiling, seconds */
	int dry;		    /* dry run or check: render only */
	const hd_transport *dry_of; /* dry: the transport a run would use */
	const struct hd__keyspec *keys; /* how a CHECK job finds its key */
	long max_failures;  /* failures in a row that halt; 0: never */
	long failfast_rows; /* unreachable rows that halt (above) */

	/* shared */
	atomic_int abort;	 /* coordinator: in-flight attempts give up
				    (a second signal); tcfg->abort points
				    here */
	atomic_int halt;	 /* workers: no send may start any more
				    (HD__HALT_*); set once */
	atomic_long fail_streak; /* workers: failures in a row, in
				    completion order */
	atomic_int delivered;	 /* workers: some row got through */
	atomic_int no_multiplex; /* workers: --streams met a connection
				    without HTTP/2 */

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

/* What a job is for. */
typedef enum hd__job_kind {
	HD__JOB_SEND = 0,  /* render and send */
	HD__JOB_CHECK = 1, /* render only: is the row valid, what is its key */
} hd__job_kind;

/* What the engine does next with a job. */
enum {
	HD__JOB_DONE = 0,
	HD__JOB_READY,
	HD__JOB_START,
	HD__JOB_WAIT,	 /* until wake, or an event */
	HD__JOB_BLOCKED, /* its destination is at its limit: until one of
			    its sends ends (wake says when to look anyway);
			    it holds nothing */
};

/* One row on its way through the pool. */
typedef struct hd__job {
	hd_task task; /* first: the pool hands back hd_task pointers */
	hd__sender *sender;
	/* set by the coordinator before submit */
	hd__job_kind kind;
	long row;
	long line; /* where the record starts in the recipients file */
	json_t *record;
	/* HD__JOB_CHECK: the record as its text, for the worker to parse
	 * (record NULL until then); text.text NULL: record is given */
	hd__record_text text;
	int drop_record; /* HD__JOB_CHECK: the worker frees the record once
			    checked (the coordinator needs only due) */
	char *key;	 /* as reported (HD__JOB_CHECK: set by the worker) */
	char *id;	 /* the key's identity: seeds Message-ID, journal */
	struct hd__attempt_log *log; /* where retries and slow-downs are
					told (attempt_log.h); NULL: not */
	/* set by the worker */
	hd_row_status status;
	int attempts;
	long code;
	const char *failure; /* "permanent" / "transient" for failed rows */
	int journaled;	     /* a start was recorded in the journal */
	size_t nrcpt;	     /* envelope recipients of the message */
	long ms;
	char *message_id;
	hd_status key_status;
	hd_status broken; /* HD__JOB_CHECK: its text did not parse, and
			     check_error says why (the file is broken) */
	hd__due due;	  /* HD__JOB_CHECK: the row's due time */

	/* the worker's, while it holds the job */
	struct hd__job *next_; /* in its engine's list of waiting jobs, or the
				  coordinator's of checked ones */
	uint64_t seq_;	       /* the coordinator's: a check job's number */
	hd_message msg;	       /* rendered once, sent by every attempt */
	hd_send_result res;    /* the last attempt's outcome */
	double t0;	       /* monotonic: taken, then its first attempt */
	double not_before;     /* monotonic: a backoff or the pacer's slot */
	uint64_t jseq;	       /* the journal start it waits for */
	int booked;	       /* the pacer gave this attempt its slot */
	int started;	       /* this attempt's start is in the journal */
	int reconnected;       /* the free reconnect was used */
	uint64_t rng;	       /* its backoff's random state */
	struct hd__dest *dest; /* where it goes, or NULL */
	int dest_in;	       /* counted in flight there */
	int paused;	       /* ended untried: its destination is paused */

	/* last: room for texts most rows never write, which hd__job_new
	 * only makes empty (prev_error is the first of them) */
	char prev_error[400]; /* the error of the attempt before, for when
				 an abort cuts the next one short */
	char response[512];
	char error[700];
	hd_error check_error; /* HD__JOB_CHECK: why it is invalid, or why it
				 has no key (key_status) */
} hd__job;

/* A new job: zero but for its texts, which are empty; NULL when out of
 * memory.  hd__job_free frees it. */
hd__job *hd__job_new(void);

/* Initialises s's shared fields (the others are the caller's to fill);
 * hd__sender_destroy releases them. */
void hd__sender_init(hd__sender *s);
void hd__sender_destroy(hd__sender *s);

/* After the coordinator saw halt set: the run's status for it
 * (HD_ECONFIG, HD_EINTERRUPTED, HD_EIO) and the line that says why. */
hd_status hd__sender_halted(hd__sender *s, char *msg, size_t size);

/* The life cycle (SYNOPSIS); now is monotonic seconds.  try_start sets
 * *wake (monotonic) when it says WAIT for a time; it may also wait for an
 * event (a destination's send ending, the journal's flush), which the
 * engine notices by asking again. */
int hd__job_open(hd__job *j, double now);
int hd__job_try_start(hd__job *j, double now, double *wake);

/* The run stopped taking rows (a signal, --max-runtime, a halt): a job
 * not yet tried ends not attempted, as one still in the queue would.
 * Returns 1 when it ended (then close it), 0 when it has begun. */
int hd__job_stop_untried(hd__job *j);
int hd__job_attempt_done(hd__job *j, double now);
void hd__job_close(hd__job *j);

/* The destination key of a rendered message (HTTP: host:port; email: the
 * first recipient's domain with per_domain, else "smtp"). */
void hd__job_dest_key(const hd_message *msg, int per_domain, char *out,
		      size_t size);

/* Frees a job and what it owns; NULL is allowed. */
void hd__job_free(hd__job *j);

/* A row's problem is the data's: makes e name the recipients file, the
 * record's line and the row, keeping where in the template the value was
 * needed. */
void hd__blame_row(const char *source_name, hd_error *e, long row, long line);

#endif
