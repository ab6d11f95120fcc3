/*
 * pool.c — worker threads + bounded queue (see pool.h for the contract).
 *
 * Shaped like libuv's src/threadpool.c: one mutex guards everything; the
 * queue link lives in the task, so queueing never allocates; idle workers
 * sleep on "work available"; shutdown puts a sentinel task at the tail of
 * the work queue and joins.  Our additions: a bound on the queue with a
 * "room in the queue" condition for blocked submitters, a results queue
 * with a "result available" condition (libuv hands results to its event
 * loop instead), and stop modes.
 *
 * Locking
 *	p->mutex is the only lock, and a leaf: nothing else is locked while
 *	it is held and no user code (work, worker_init, worker_fini) runs
 *	under it.  Every field below the mutex is read and written under it,
 *	except `stopping`, which is also read without it (atomic).  All
 *	condition variables use p->mutex and CLOCK_MONOTONIC.
 *
 *	The three wake-ups sent once per task (work available, room, result)
 *	are sent just after unlocking, unlike libuv: a thread woken while we
 *	still hold the mutex only blocks on it again.  With a one-slot queue
 *	on two cores that cut the cost of a task from ~28 us to ~9 us.  It is
 *	safe because every waiter re-checks its condition under the mutex
 *	(a wake-up that finds nothing to do just waits again), and the pool
 *	outlives every call into it (hd_pool_free's contract).  The rare
 *	wake-ups (stop, sentinel, startup) stay under the lock.
 *
 *	A driver's wake-up (cfg->wake: a syscall on both sides) is not sent
 *	once per task: see coalesced_waker.  A producer slower than its
 *	drivers once paid one per row, in a validation pass more than half
 *	the run's CPU.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Drivers' wake-ups (see coalesced_waker): at most one per gap unless
 * this many tasks wait (or the queue is full). */
#define WAKE_GAP_NS 1000000LL
#define WAKE_BATCH 32

struct worker {
	hd_pool *pool;
	unsigned index;
	pthread_t thread;
	int wants_wake; /* a driver polled and found nothing: wake it when a
			   task comes (under p->mutex) */
};

struct hd_pool {
	pthread_mutex_t mutex;
	pthread_cond_t work_cond;    /* work queue not empty (or sentinel) */
	pthread_cond_t room_cond;    /* work queue below capacity, or stop */
	pthread_cond_t result_cond;  /* result ready, or nothing outstanding */
	pthread_cond_t started_cond; /* one more worker_init returned */

	hd_task *wq_head, *wq_tail; /* waiting to start; may end in `exit` */
	size_t wq_len;		    /* real tasks in wq (not the sentinel) */
	hd_task *rq_head, *rq_tail; /* came back, not yet collected */
	size_t rq_len;
	size_t capacity;
	size_t outstanding; /* wq_len + running + rq_len */
	size_t running;
	size_t wq_peak;
	uint64_t accepted, completed, canceled;

	unsigned idle_workers;	 /* waiting on work_cond */
	unsigned room_waiters;	 /* submitters waiting on room_cond */
	unsigned result_waiters; /* collectors waiting on result_cond */
	_Atomic int stopping;	 /* 0, HD_POOL_DRAIN, HD_POOL_NOW */
	hd_task exit_task;	 /* sentinel: never run, never removed */

	/* wake-ups of drivers, coalesced: a submitter that queues a task
	 * while a wake-up went out less than WAKE_GAP_NS ago leaves the
	 * driver's request standing (the woken driver takes what is queued
	 * then); the wake is sent by a later submit, by a collector about to
	 * wait, or by hd_pool_flush */
	long long last_drive_wake; /* CLOCK_MONOTONIC ns */

	unsigned nstarted;     /* workers whose init returned (ok or not) */
	hd_status init_status; /* first failing init's status */
	hd_error init_err;     /* ... and its error */

	hd_pool_config cfg;
	unsigned nthreads; /* threads actually created */
	struct worker *workers;
};

/* Appends t to a singly linked queue. */
static void queue_push(hd_task **head, hd_task **tail, hd_task *t)
{
	t->next_ = NULL;
	if (*tail)
		(*tail)->next_ = t;
	else
		*head = t;
	*tail = t;
}

/* Removes and returns the head of a non-empty queue. */
static hd_task *queue_pop(hd_task **head, hd_task **tail)
{
	hd_task *t = *head;

	*head = t->next_;
	if (!*head)
		*tail = NULL;
	t->next_ = NULL;
	return t;
}

/* The absolute CLOCK_MONOTONIC time timeout_ms from now. */
static struct timespec deadline_after(int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * Waits on cond until signalled or *deadline (when timeout_ms >= 0).
 * Returns 1 on timeout.  The caller loops and re-checks its condition
 * after every return, timed out or not: a timed-out waiter may have been
 * the one signalled, so it must still take what is there.
 */
static int cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex,
		     int timeout_ms, const struct timespec *deadline)
{
	if (timeout_ms < 0) {
		pthread_cond_wait(cond, mutex);
		return 0;
	}
	return pthread_cond_timedwait(cond, mutex, deadline) == ETIMEDOUT;
}

/* Sets the stop flag; only ever raises it.  Called with p->mutex held. */
static void set_stopping(hd_pool *p, int mode)
{
	if (atomic_load_explicit(&p->stopping, memory_order_relaxed) < mode)
		atomic_store_explicit(&p->stopping, mode, memory_order_release);
}

/*
 * Should a submitter waiting for room be woken?  Only once the queue is
 * down to half: a producer faster than the workers then fills it in
 * bursts instead of being woken, and waking them, once per task (that
 * ping-pong cost more than the tasks at tens of thousands a second).
 * A one-slot queue is woken at once.  Called with p->mutex held.
 */
static int room_to_tell(const hd_pool *p)
{
	return p->room_waiters > 0 && p->wq_len <= p->capacity / 2;
}

/*
 * The thread body.  Runs worker_init, reports to hd_pool_new, then takes
 * tasks until it finds the exit sentinel at the head of the queue, which
 * it leaves there for the next worker.
 * Locks: p->mutex (dropped around init, work and fini).
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	hd_pool *p = w->pool;
	void *state = NULL;
	hd_status st = HD_OK;
	hd_error err;
	hd_task *t;
	int wake;

	hd_error_clear(&err);
	if (p->cfg.worker_init) {
		st = p->cfg.worker_init(p->cfg.ctx, w->index, &state, &err);
		if (st != HD_OK && err.code == HD_OK)
			hd_error_set(&err, st, NULL, 0, 0,
				     "worker %u: initialisation failed: %s",
				     w->index, hd_strerror(st));
	}

	pthread_mutex_lock(&p->mutex);
	if (st != HD_OK && p->init_status == HD_OK) {
		p->init_status = st;
		p->init_err = err;
	}
	p->nstarted++;
	pthread_cond_signal(&p->started_cond);
	if (st != HD_OK) {
		/* No fini: init did not succeed, there is nothing to undo. */
		pthread_mutex_unlock(&p->mutex);
		return NULL;
	}
	if (p->cfg.drive) {
		pthread_mutex_unlock(&p->mutex);
		p->cfg.drive(p, p->cfg.ctx, w->index, state);
		if (p->cfg.worker_fini)
			p->cfg.worker_fini(p->cfg.ctx, w->index, state);
		return NULL;
	}

	for (;;) {
		while (p->wq_head == NULL) {
			p->idle_workers++;
			pthread_cond_wait(&p->work_cond, &p->mutex);
			p->idle_workers--;
		}
		t = p->wq_head;
		if (t == &p->exit_task) {
			/* Leave the sentinel queued and pass the wake-up on,
			 * so every worker sees it in turn. */
			pthread_cond_signal(&p->work_cond);
			break;
		}
		queue_pop(&p->wq_head, &p->wq_tail);
		p->wq_len--;
		p->running++;
		wake = room_to_tell(p);
		pthread_mutex_unlock(&p->mutex);
		if (wake)
			pthread_cond_signal(&p->room_cond);

		t->work(t, state);

		pthread_mutex_lock(&p->mutex);
		t->status = HD_OK;
		queue_push(&p->rq_head, &p->rq_tail, t);
		p->rq_len++;
		p->running--;
		p->completed++;
		/* wake a collector outside the lock, then take it back for
		 * the next turn of the loop */
		if (p->result_waiters > 0) {
			pthread_mutex_unlock(&p->mutex);
			pthread_cond_signal(&p->result_cond);
			pthread_mutex_lock(&p->mutex);
		}
	}
	pthread_mutex_unlock(&p->mutex);

	if (p->cfg.worker_fini)
		p->cfg.worker_fini(p->cfg.ctx, w->index, state);
	return NULL;
}

/*
 * Queues the exit sentinel behind every real task and joins the threads.
 * Only after a stop, so no submit can queue behind the sentinel.
 * Locks: p->mutex.
 */
static void exit_and_join(hd_pool *p)
{
	unsigned i;

	pthread_mutex_lock(&p->mutex);
	queue_push(&p->wq_head, &p->wq_tail, &p->exit_task);
	if (p->idle_workers > 0)
		pthread_cond_signal(&p->work_cond);
	for (i = 0; i < p->nthreads; i++)
		p->workers[i].wants_wake = 0;
	pthread_mutex_unlock(&p->mutex);
	/* drivers waiting outside the pool look again and find the end */
	if (p->cfg.drive && p->cfg.wake)
		for (i = 0; i < p->nthreads; i++)
			p->cfg.wake(p->cfg.ctx, i);

	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->workers[i].thread, NULL);
	p->nthreads = 0;
}

/* Frees what init_sync() set up; the threads are gone. */
static void destroy(hd_pool *p)
{
	pthread_cond_destroy(&p->started_cond);
	pthread_cond_destroy(&p->result_cond);
	pthread_cond_destroy(&p->room_cond);
	pthread_cond_destroy(&p->work_cond);
	pthread_mutex_destroy(&p->mutex);
	free(p->workers);
	free(p);
}

/* Creates the mutex and the condition variables (monotonic clock). */
static int init_sync(hd_pool *p)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0 && (rc = pthread_mutex_init(&p->mutex, NULL)) == 0) {
		rc = pthread_cond_init(&p->work_cond, &attr);
		if (rc == 0 &&
		    (rc = pthread_cond_init(&p->room_cond, &attr)) != 0)
			pthread_cond_destroy(&p->work_cond);
		if (rc == 0 &&
		    (rc = pthread_cond_init(&p->result_cond, &attr)) != 0) {
			pthread_cond_destroy(&p->room_cond);
			pthread_cond_destroy(&p->work_cond);
		}
		if (rc == 0 &&
		    (rc = pthread_cond_init(&p->started_cond, &attr)) != 0) {
			pthread_cond_destroy(&p->result_cond);
			pthread_cond_destroy(&p->room_cond);
			pthread_cond_destroy(&p->work_cond);
		}
		if (rc != 0)
			pthread_mutex_destroy(&p->mutex);
	}
	pthread_condattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

/*
 * Starts the workers and waits for all their inits.
 * Locks: p->mutex.
 */
hd_status hd_pool_new(const hd_pool_config *cfg, hd_pool **out, hd_error *err)
{
	sigset_t all, old;
	hd_status st = HD_OK;
	hd_pool *p;
	unsigned i;
	int rc = 0;

	if (out)
		*out = NULL;
	if (!cfg || !out)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0, "pool: NULL %s",
				    cfg ? "out" : "config");
	if (cfg->workers < 1 || cfg->workers > HD_POOL_MAX_WORKERS) {
		hd_error_set(err, HD_EINVAL, NULL, 0, 0,
			     "pool: workers must be 1..%u, not %u",
			     HD_POOL_MAX_WORKERS, cfg->workers);
		hd_error_set_field(err, "workers");
		return HD_EINVAL;
	}
	if (cfg->queue_capacity < 1) {
		hd_error_set(err, HD_EINVAL, NULL, 0, 0,
			     "pool: queue capacity must be at least 1");
		hd_error_set_field(err, "queue_capacity");
		return HD_EINVAL;
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	p->workers = calloc(cfg->workers, sizeof(*p->workers));
	if (!p->workers || init_sync(p) != 0) {
		free(p->workers);
		free(p);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	p->cfg = *cfg;
	p->capacity = cfg->queue_capacity;

	/* Workers inherit this mask: process signals go to the caller's
	 * threads, where the CLI's handler sets its flag.  Faults stay
	 * deliverable to the thread that caused them. */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < cfg->workers; i++) {
		p->workers[i].pool = p;
		p->workers[i].index = i;
		rc = pthread_create(&p->workers[i].thread, NULL, worker_main,
				    &p->workers[i]);
		if (rc != 0)
			break;
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	pthread_mutex_lock(&p->mutex);
	while (p->nstarted < p->nthreads)
		pthread_cond_wait(&p->started_cond, &p->mutex);
	st = p->init_status;
	pthread_mutex_unlock(&p->mutex);

	if (rc != 0) {
		st = rc == EAGAIN ? HD_EAGAIN : HD_ENOMEM;
		hd_error_set(err, st, NULL, 0, 0,
			     "pool: cannot start worker thread %u of %u "
			     "(error %d)",
			     p->nthreads + 1, cfg->workers, rc);
	} else if (st != HD_OK && err) {
		*err = p->init_err;
	}
	if (st != HD_OK) {
		hd_pool_stop(p, HD_POOL_NOW);
		exit_and_join(p);
		destroy(p);
		return st;
	}
	*out = p;
	return HD_OK;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A driver that asked to be woken for the next task, or -1; clears its
 * request.  Called with p->mutex held. */
static int take_waker(hd_pool *p)
{
	for (unsigned i = 0; i < p->cfg.workers; i++) {
		if (p->workers[i].wants_wake) {
			p->workers[i].wants_wake = 0;
			return (int)i;
		}
	}
	return -1;
}

/* The driver to wake for a task just queued, or -1: a driver that asked,
 * unless a wake-up went out less than WAKE_GAP_NS ago and fewer than
 * WAKE_BATCH tasks wait (one woken so recently is still taking, or soon
 * will be; a producer slower than the drivers would otherwise pay a
 * wake-up, and a driver a trip through poll, for every task).  Called
 * with p->mutex held. */
static int coalesced_waker(hd_pool *p)
{
	long long now = now_ns();
	int i;

	if (p->wq_len < WAKE_BATCH && now - p->last_drive_wake < WAKE_GAP_NS)
		return -1;
	i = take_waker(p);
	if (i >= 0)
		p->last_drive_wake = now;
	return i;
}

/* A wake-up that coalesced_waker held back, now (always, or with
 * gap_only once the gap is over): the driver to wake, or -1.  Called
 * with p->mutex held. */
static int owed_waker(hd_pool *p, int gap_only)
{
	long long now;
	int i;

	if (!p->cfg.drive || !p->cfg.wake || !p->wq_head ||
	    p->wq_head == &p->exit_task)
		return -1;
	now = now_ns();
	if (gap_only && now - p->last_drive_wake < WAKE_GAP_NS)
		return -1;
	i = take_waker(p);
	if (i >= 0)
		p->last_drive_wake = now;
	return i;
}

/*
 * Locks: p->mutex.
 */
void hd_pool_flush(hd_pool *p)
{
	int driver;

	if (!p)
		return;
	pthread_mutex_lock(&p->mutex);
	driver = owed_waker(p, 0);
	pthread_mutex_unlock(&p->mutex);
	if (driver >= 0)
		p->cfg.wake(p->cfg.ctx, (unsigned)driver);
}

/*
 * Locks: p->mutex.
 */
hd_status hd_pool_submit(hd_pool *p, hd_task *t, int timeout_ms)
{
	struct timespec deadline = {0, 0};
	hd_status st;
	int wake = 0, driver = -1;

	if (!p || !t || (!t->work && !p->cfg.drive))
		return HD_EINVAL;
	if (timeout_ms > 0)
		deadline = deadline_after(timeout_ms);

	pthread_mutex_lock(&p->mutex);
	for (;;) {
		if (atomic_load_explicit(&p->stopping, memory_order_relaxed)) {
			st = HD_ESTOPPED;
			break;
		}
		if (p->wq_len < p->capacity) {
			queue_push(&p->wq_head, &p->wq_tail, t);
			p->wq_len++;
			if (p->wq_len > p->wq_peak)
				p->wq_peak = p->wq_len;
			p->outstanding++;
			p->accepted++;
			wake = p->idle_workers > 0;
			if (!wake)
				driver = coalesced_waker(p);
			st = HD_OK;
			break;
		}
		if (timeout_ms == 0) {
			st = HD_ETIMEDOUT;
			break;
		}
		/* the queue is full: a wake-up held back goes out before we
		 * wait for the room only the drivers can make */
		if ((driver = owed_waker(p, 0)) >= 0) {
			pthread_mutex_unlock(&p->mutex);
			p->cfg.wake(p->cfg.ctx, (unsigned)driver);
			driver = -1;
			pthread_mutex_lock(&p->mutex);
			continue;
		}
		p->room_waiters++;
		if (cond_wait(&p->room_cond, &p->mutex, timeout_ms, &deadline))
			timeout_ms = 0; /* one last look, then give up */
		p->room_waiters--;
	}
	pthread_mutex_unlock(&p->mutex);
	if (wake)
		pthread_cond_signal(&p->work_cond);
	if (driver >= 0 && p->cfg.wake)
		p->cfg.wake(p->cfg.ctx, (unsigned)driver);
	return st;
}

/*
 * Locks: p->mutex.
 */
hd_status hd_pool_take(hd_pool *p, unsigned index, hd_task **t, int timeout_ms)
{
	struct timespec deadline = {0, 0};
	hd_status st;
	int wake = 0;

	*t = NULL;
	if (!p || index >= p->cfg.workers)
		return HD_EINVAL;
	if (timeout_ms > 0)
		deadline = deadline_after(timeout_ms);
	pthread_mutex_lock(&p->mutex);
	for (;;) {
		if (p->wq_head == &p->exit_task) {
			st = HD_ESTOPPED;
			break;
		}
		if (p->wq_head) {
			*t = queue_pop(&p->wq_head, &p->wq_tail);
			p->wq_len--;
			p->running++;
			p->workers[index].wants_wake = 0;
			wake = room_to_tell(p);
			st = HD_OK;
			break;
		}
		if (timeout_ms == 0 || timeout_ms == HD_POOL_NO_WAKE) {
			/* with HD_POOL_NO_WAKE the driver will look again
			 * soon on its own: a wake-up would be wasted */
			if (timeout_ms == 0)
				p->workers[index].wants_wake = 1;
			st = HD_ETIMEDOUT;
			break;
		}
		p->idle_workers++;
		if (cond_wait(&p->work_cond, &p->mutex, timeout_ms, &deadline))
			timeout_ms = 0;
		p->idle_workers--;
	}
	pthread_mutex_unlock(&p->mutex);
	if (wake)
		pthread_cond_signal(&p->room_cond);
	return st;
}

/*
 * Locks: p->mutex.
 */
void hd_pool_done(hd_pool *p, hd_task *t)
{
	int wake;

	pthread_mutex_lock(&p->mutex);
	t->status = HD_OK;
	queue_push(&p->rq_head, &p->rq_tail, t);
	p->rq_len++;
	p->running--;
	p->completed++;
	wake = p->result_waiters > 0;
	pthread_mutex_unlock(&p->mutex);
	if (wake)
		pthread_cond_signal(&p->result_cond);
}

/*
 * Locks: p->mutex.
 */
hd_task *hd_pool_next_result(hd_pool *p, int timeout_ms)
{
	struct timespec deadline = {0, 0};
	hd_task *t = NULL;
	int driver = -1;

	if (!p)
		return NULL;
	if (timeout_ms > 0)
		deadline = deadline_after(timeout_ms);

	pthread_mutex_lock(&p->mutex);
	/* a wake-up held back goes out once its gap is over, or now when
	 * the collector may wait */
	driver = owed_waker(p, timeout_ms == 0);
	if (driver >= 0) {
		pthread_mutex_unlock(&p->mutex);
		p->cfg.wake(p->cfg.ctx, (unsigned)driver);
		pthread_mutex_lock(&p->mutex);
	}
	for (;;) {
		if (p->rq_head) {
			t = queue_pop(&p->rq_head, &p->rq_tail);
			p->rq_len--;
			p->outstanding--;
			/* Other collectors wait for something that can no
			 * longer come: let them return NULL. */
			if (p->outstanding == 0 && p->result_waiters > 0)
				pthread_cond_broadcast(&p->result_cond);
			break;
		}
		if (p->outstanding == 0 || timeout_ms == 0)
			break;
		p->result_waiters++;
		if (cond_wait(&p->result_cond, &p->mutex, timeout_ms,
			      &deadline))
			timeout_ms = 0;
		p->result_waiters--;
	}
	pthread_mutex_unlock(&p->mutex);
	return t;
}

/*
 * Locks: p->mutex.
 */
size_t hd_pool_outstanding(hd_pool *p)
{
	size_t n;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mutex);
	n = p->outstanding;
	pthread_mutex_unlock(&p->mutex);
	return n;
}

/*
 * Locks: p->mutex.
 */
void hd_pool_get_stats(hd_pool *p, hd_pool_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!p)
		return;
	pthread_mutex_lock(&p->mutex);
	out->queued = p->wq_len;
	out->running = p->running;
	out->ready = p->rq_len;
	out->outstanding = p->outstanding;
	out->queued_peak = p->wq_peak;
	out->accepted = p->accepted;
	out->completed = p->completed;
	out->canceled = p->canceled;
	pthread_mutex_unlock(&p->mutex);
}

/*
 * Locks: p->mutex.
 */
void hd_pool_stop(hd_pool *p, hd_pool_stop_mode mode)
{
	hd_task *t;

	if (!p || (mode != HD_POOL_DRAIN && mode != HD_POOL_NOW))
		return;
	pthread_mutex_lock(&p->mutex);
	set_stopping(p, (int)mode);
	if (mode == HD_POOL_NOW) {
		/* Hand back, in queue order, everything not yet started.
		 * The sentinel (only present inside hd_pool_free) stays. */
		while (p->wq_head && p->wq_head != &p->exit_task) {
			t = queue_pop(&p->wq_head, &p->wq_tail);
			t->status = HD_ECANCELED;
			queue_push(&p->rq_head, &p->rq_tail, t);
			p->wq_len--;
			p->rq_len++;
			p->canceled++;
		}
		if (p->rq_head && p->result_waiters > 0)
			pthread_cond_broadcast(&p->result_cond);
	}
	/* Blocked submitters re-check the flag and return HD_ESTOPPED. */
	if (p->room_waiters > 0)
		pthread_cond_broadcast(&p->room_cond);
	pthread_mutex_unlock(&p->mutex);
}

int hd_pool_stopping(const hd_pool *p)
{
	if (!p)
		return 0;
	return atomic_load_explicit(&p->stopping, memory_order_acquire);
}

/*
 * Locks: p->mutex (through hd_pool_stop and exit_and_join).
 */
void hd_pool_free(hd_pool *p)
{
	if (!p)
		return;
	hd_pool_stop(p, HD_POOL_DRAIN);
	exit_and_join(p);
	destroy(p);
}
