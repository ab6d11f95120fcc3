/*
 * pool.h — a fixed pool of worker threads fed by a bounded queue.
 *
 * SYNOPSIS
 *	struct job { hd_task task; ... };	(hd_task is the FIRST member)
 *
 *	hd_pool_new(&cfg, &pool, &err);
 *	hd_pool_submit(pool, &job->task, -1);	(blocks while the queue is full)
 *	while ((t = hd_pool_next_result(pool, -1)) != NULL)
 *		... t->status is HD_OK or HD_ECANCELED ...
 *	hd_pool_stop(pool, HD_POOL_DRAIN);
 *	hd_pool_free(pool);
 *
 * DESCRIPTION
 *	N threads (cfg->workers) take tasks from one FIFO queue that holds at
 *	most cfg->queue_capacity tasks waiting to start; submit blocks while it
 *	is full, which is how a fast reader is held back by slow senders.  A
 *	task that comes back (ran, or was handed back unstarted by an
 *	immediate stop) goes to a results queue, FIFO by completion, read with
 *	hd_pool_next_result().  Each worker may own private state (the curl
 *	handle) created by worker_init and destroyed by worker_fini, both run
 *	on that worker's own thread.
 *
 * INVARIANTS
 *	- Every task accepted by hd_pool_submit (HD_OK) is returned by
 *	  hd_pool_next_result exactly once, with status HD_OK (work ran once)
 *	  or HD_ECANCELED (work never ran).  A task that submit refused was
 *	  never taken: the caller still owns it and its fields are untouched.
 *	- At most queue_capacity tasks wait to start; at most `workers` run.
 *	- outstanding = waiting + running + finished-but-not-collected.
 *	- hd_pool_next_result never blocks when nothing is outstanding, so a
 *	  collector loop "while (next_result(-1))" ends once all came back.
 *
 * STOPPING
 *	hd_pool_stop(DRAIN) refuses new submits and lets queued tasks run.
 *	hd_pool_stop(NOW) also hands queued, unstarted tasks back as
 *	HD_ECANCELED; running ones finish (a work function that wants to end
 *	early polls hd_pool_stopping()).  DRAIN then NOW escalates (the second
 *	Ctrl-C); a stop never goes back down.  The usual ending is
 *	    hd_pool_stop(p, mode); while ((t = next_result(p, -1))) ...;
 *	    hd_pool_free(p);
 *
 * OWNERSHIP
 *	The caller owns every task's memory.  Between a successful submit and
 *	the next_result that returns it, the pool owns the task's link
 *	(next_) and status and the worker may touch the rest through work();
 *	the caller must not touch or free it, nor submit it again while it
 *	is there (one task, one slot in the pool).  The pool never frees a task:
 *	tasks still uncollected when hd_pool_free returns belong to the caller
 *	again (they ran, since free drains, but were never handed back).
 *
 * DRIVERS
 *	A worker may run cfg->drive instead: its own loop that takes tasks
 *	with hd_pool_take and hands them back with hd_pool_done, keeping as
 *	many going at once as it likes (one curl multi handle driving several
 *	transfers).  The invariants above hold for it too: every accepted
 *	task comes back exactly once; "running" counts tasks taken and not
 *	yet done.  A driver that waits outside the pool (in poll) is woken by
 *	cfg->wake when a task is queued for it.
 *
 * THREAD-SAFETY
 *	submit, next_result, stop, stopping, outstanding and get_stats may be
 *	called from any threads at once (not from a signal handler: set a
 *	flag there and call stop from a thread).  hd_pool_free must be the
 *	last call, made when no other thread is inside the pool, and never
 *	from a work function.  A work function may call stopping, stop,
 *	outstanding and get_stats; it must not block in submit (the queue may
 *	only empty through the workers themselves) nor in next_result.
 *	Worker threads are started with asynchronous signals blocked, so
 *	SIGINT/SIGTERM are delivered to the caller's threads.
 */
#ifndef HD_POOL_H
#define HD_POOL_H

#include "herald.h"

#include <stddef.h>
#include <stdint.h>

#define HD_POOL_MAX_WORKERS 1024u

typedef struct hd_pool hd_pool;
typedef struct hd_task hd_task;

/* One unit of work.  Embed it as the first member of your own struct and
 * cast back in work() and after next_result(). */
struct hd_task {
	/* private: queue link, owned by the pool while queued */
	hd_task *next_;
	/* runs on a worker thread; worker_state is what worker_init gave */
	void (*work)(hd_task *task, void *worker_state);
	/* set by the pool when the task comes back: HD_OK after work ran,
	 * HD_ECANCELED when an immediate stop handed it back unstarted */
	hd_status status;
};

typedef struct hd_pool_config {
	unsigned workers;      /* >= 1, <= HD_POOL_MAX_WORKERS */
	size_t queue_capacity; /* >= 1: tasks waiting (not running) at most */
	/* optional; runs on each worker's own thread before it takes tasks;
	 * sets *state (per-worker state, e.g. a curl handle).  A status other
	 * than HD_OK makes hd_pool_new fail with it; err may be filled. */
	hd_status (*worker_init)(void *ctx, unsigned index, void **state,
				 hd_error *err);
	/* optional; runs on the worker's own thread when it exits, with the
	 * state init gave; only for workers whose init succeeded */
	void (*worker_fini)(void *ctx, unsigned index, void *state);
	void *ctx; /* passed to worker_init, worker_fini, drive and wake */
	/* optional: a worker that keeps many tasks going at once (an event
	 * loop over several connections) runs drive() instead of taking one
	 * task at a time.  drive takes tasks with hd_pool_take, hands each
	 * back with hd_pool_done, and returns once hd_pool_take said
	 * HD_ESTOPPED and it has handed back every task it took.  Each task's
	 * work function is not called by the pool then: drive does the work
	 * its own way. */
	void (*drive)(hd_pool *p, void *ctx, unsigned index, void *state);
	/* with drive: wakes worker index out of whatever it waits in (e.g.
	 * a write to the eventfd it waits on) because a task was queued or
	 * the pool is ending.  Called from any thread, never under the pool's
	 * lock; it must be safe to call before the wait begins (the wait must
	 * then return at once). */
	void (*wake)(void *ctx, unsigned index);
} hd_pool_config;

typedef enum { HD_POOL_DRAIN = 1, HD_POOL_NOW = 2 } hd_pool_stop_mode;

/* A consistent snapshot of the counters, taken under the pool's lock. */
typedef struct hd_pool_stats {
	size_t queued;	    /* accepted, waiting to start */
	size_t running;	    /* inside work() right now */
	size_t ready;	    /* came back, not yet collected by next_result */
	size_t outstanding; /* queued + running + ready */
	size_t queued_peak; /* most tasks ever waiting at once */
	uint64_t accepted;  /* submits that returned HD_OK */
	uint64_t completed; /* tasks whose work ran */
	uint64_t canceled;  /* tasks handed back unstarted by HD_POOL_NOW */
} hd_pool_stats;

/* Starts cfg->workers threads and waits until every worker_init returned.
 * If one failed, joins all workers (fini runs for those whose init
 * succeeded), sets *out to NULL and returns that init's status with err
 * filled.  HD_EINVAL for a NULL or out-of-range argument, HD_ENOMEM or
 * HD_EAGAIN when memory or threads run out.  cfg is copied. */
hd_status hd_pool_new(const hd_pool_config *cfg, hd_pool **out, hd_error *err);

/* Queues t (t->work must be set).  Blocks while the queue is full for up
 * to timeout_ms (negative: forever, 0: try once).  HD_OK: the pool owns t
 * until next_result returns it.  HD_ETIMEDOUT: still full, not queued.
 * HD_ESTOPPED: a stop was requested before or during the wait, not
 * queued.  HD_EINVAL: NULL argument.  On any error the caller owns t. */
hd_status hd_pool_submit(hd_pool *p, hd_task *t, int timeout_ms);

/* The next task that came back, FIFO by completion, waiting up to
 * timeout_ms (negative: forever).  NULL on timeout, for a NULL pool, or
 * as soon as nothing is outstanding (nothing more can come). */
hd_task *hd_pool_next_result(hd_pool *p, int timeout_ms);

/* For a drive() worker: the next task waiting to start, waiting up to
 * timeout_ms (negative: forever).  HD_OK with *t: the worker owns it
 * until hd_pool_done.  HD_ETIMEDOUT: none now; with timeout_ms 0 the pool
 * calls cfg->wake for this worker when one is queued (so the worker may
 * then wait elsewhere without missing it).  HD_ESTOPPED: no task will
 * come any more (the pool is being freed). */
hd_status hd_pool_take(hd_pool *p, unsigned index, hd_task **t, int timeout_ms);

/* Wake-ups of drivers are coalesced: a task queued within a millisecond
 * of the last wake-up (with fewer than 32 waiting) wakes nobody at once;
 * the next submit after that millisecond, a next_result that may wait, or
 * this call sends it.  A submitter about to block elsewhere (reading a
 * slow input) calls hd_pool_flush first. */
void hd_pool_flush(hd_pool *p);

/* hd_pool_take's timeout for a driver that has other reasons to wake
 * soon (transfers in flight): like 0, but no wake-up is asked for. */
#define HD_POOL_NO_WAKE (-2)

/* For a drive() worker: t (taken with hd_pool_take) is finished; it goes
 * to the results queue with status HD_OK. */
void hd_pool_done(hd_pool *p, hd_task *t);

/* Tasks accepted by submit and not yet returned by next_result. */
size_t hd_pool_outstanding(hd_pool *p);

/* Fills *out with the current counters; zeros for a NULL pool. */
void hd_pool_get_stats(hd_pool *p, hd_pool_stats *out);

/* Refuses further submits and wakes blocked submitters (HD_ESTOPPED).
 * HD_POOL_NOW also hands unstarted tasks back as HD_ECANCELED, in queue
 * order.  May be repeated; the mode only escalates (DRAIN -> NOW).
 * Other mode values and a NULL pool are ignored. */
void hd_pool_stop(hd_pool *p, hd_pool_stop_mode mode);

/* 0, HD_POOL_DRAIN or HD_POOL_NOW.  One atomic load: cheap enough to poll
 * from a work function.  0 for a NULL pool. */
int hd_pool_stopping(const hd_pool *p);

/* Stops (DRAIN) unless already stopped, waits for the queued and running
 * tasks, joins every worker (each runs worker_fini on its own thread) and
 * frees the pool.  Uncollected tasks stay the caller's; none is freed.
 * NULL is allowed. */
void hd_pool_free(hd_pool *p);

#endif
