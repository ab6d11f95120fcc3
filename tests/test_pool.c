/*
 * test_pool.c — the worker pool: one result per task, backpressure, stop
 * modes, per-worker state on the worker's own thread, and a randomised
 * stress run (HERALD_POOL_STRESS_TASKS, default 1,000,000; HERALD_POOL_SEED
 * replays a run's plan, though not its thread schedule).
 */
#include "pool.h"

#include <poll.h>
#include <unistd.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- helpers ---------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of the whole process, user + system. */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

#define NJOBS 2000

/* One test's shared counters; reset by setup(). */
static atomic_uint ran[NJOBS];	  /* work() calls per job id */
static atomic_uint ran_total;	  /* work() calls in all */
static atomic_uint started_total; /* gated jobs that entered work() */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open; /* under gate_mu */

struct job {
	hd_task task; /* first member */
	unsigned id;
	int gated; /* wait for the gate before returning */
	void *ctx; /* for work functions that need more */
};

/*
 * A hang is a failure too (next_result must never wait for what cannot
 * come): the watchdog aborts the run when one test takes too long.  The
 * last "[ RUN ]" line names the culprit.
 */
static atomic_llong watchdog_deadline_ms; /* 0: off */
static atomic_int watchdog_quit;

static void watchdog_arm(long seconds)
{
	atomic_store(&watchdog_deadline_ms,
		     (long long)now_ms() + seconds * 1000);
}

static void *watchdog_main(void *arg)
{
	long long d;

	(void)arg;
	while (!atomic_load(&watchdog_quit)) {
		sleep_us(100000);
		d = atomic_load(&watchdog_deadline_ms);
		if (d && (long long)now_ms() > d) {
			fprintf(stderr, "test_pool: the running test hangs "
					"(watchdog)\n");
			abort();
		}
	}
	return NULL;
}

static int setup(void **state)
{
	unsigned i;

	(void)state;
	watchdog_arm(60);
	for (i = 0; i < NJOBS; i++)
		atomic_store(&ran[i], 0);
	atomic_store(&ran_total, 0);
	atomic_store(&started_total, 0);
	pthread_mutex_lock(&gate_mu);
	gate_open = 0;
	pthread_mutex_unlock(&gate_mu);
	return 0;
}

static void gate_release(void)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static void job_work(hd_task *task, void *worker_state)
{
	struct job *j = (struct job *)task;

	(void)worker_state;
	if (j->gated) {
		atomic_fetch_add(&started_total, 1);
		pthread_mutex_lock(&gate_mu);
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &gate_mu);
		pthread_mutex_unlock(&gate_mu);
	}
	atomic_fetch_add(&ran[j->id], 1);
	atomic_fetch_add(&ran_total, 1);
}

static void job_init(struct job *j, unsigned id, int gated)
{
	memset(j, 0, sizeof(*j));
	j->task.work = job_work;
	j->task.status = HD_EIO; /* a value the pool never sets */
	j->id = id;
	j->gated = gated;
}

/* Waits up to 5 s for started_total to reach n; fails the test if not. */
static void wait_started(unsigned n)
{
	double end = now_ms() + 5000;

	while (atomic_load(&started_total) < n && now_ms() < end)
		sleep_us(500);
	assert_int_equal(atomic_load(&started_total), n);
}

static hd_pool *pool_make(unsigned workers, size_t capacity)
{
	hd_pool_config cfg = {workers, capacity, NULL, NULL, NULL, NULL, NULL};
	hd_pool *p = NULL;
	hd_error err;

	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_OK);
	assert_non_null(p);
	return p;
}

/* ---- configuration and arguments -------------------------------------- */

static void test_new_bad_config(void **state)
{
	hd_pool_config cfg = {2, 4, NULL, NULL, NULL, NULL, NULL};
	hd_pool *p = (hd_pool *)&cfg; /* must be reset to NULL on failure */
	hd_error err;

	(void)state;
	assert_int_equal(hd_pool_new(NULL, &p, &err), HD_EINVAL);
	assert_null(p);
	assert_int_equal(err.code, HD_EINVAL);
	assert_int_equal(hd_pool_new(&cfg, NULL, &err), HD_EINVAL);

	cfg.workers = 0;
	p = (hd_pool *)&cfg;
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_EINVAL);
	assert_null(p);
	assert_string_equal(err.field, "workers");

	cfg.workers = HD_POOL_MAX_WORKERS + 1;
	hd_error_clear(&err);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_EINVAL);
	assert_null(p);
	assert_string_equal(err.field, "workers");
	assert_non_null(strstr(err.msg, "1025"));

	cfg.workers = 2;
	cfg.queue_capacity = 0;
	hd_error_clear(&err);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_EINVAL);
	assert_null(p);
	assert_string_equal(err.field, "queue_capacity");
	/* err may be NULL */
	assert_int_equal(hd_pool_new(&cfg, &p, NULL), HD_EINVAL);
}

static void test_bad_args(void **state)
{
	hd_pool_stats st;
	struct job j;
	hd_pool *p;

	(void)state;
	job_init(&j, 0, 0);
	assert_int_equal(hd_pool_submit(NULL, &j.task, 0), HD_EINVAL);
	assert_null(hd_pool_next_result(NULL, -1));
	assert_int_equal(hd_pool_outstanding(NULL), 0);
	assert_int_equal(hd_pool_stopping(NULL), 0);
	hd_pool_stop(NULL, HD_POOL_NOW);
	hd_pool_free(NULL);
	memset(&st, 0xff, sizeof(st));
	hd_pool_get_stats(NULL, &st);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(st.accepted, 0);

	p = pool_make(2, 2);
	assert_int_equal(hd_pool_submit(p, NULL, 0), HD_EINVAL);
	j.task.work = NULL;
	assert_int_equal(hd_pool_submit(p, &j.task, 0), HD_EINVAL);
	assert_int_equal(j.task.status, HD_EIO); /* untouched */
	/* unknown stop modes are ignored */
	hd_pool_stop(p, (hd_pool_stop_mode)0);
	hd_pool_stop(p, (hd_pool_stop_mode)3);
	assert_int_equal(hd_pool_stopping(p), 0);
	j.task.work = job_work;
	assert_int_equal(hd_pool_submit(p, &j.task, 0), HD_OK);
	assert_ptr_equal(hd_pool_next_result(p, -1), &j.task);
	assert_int_equal(hd_pool_outstanding(p), 0);
	hd_pool_get_stats(p, NULL); /* no crash */
	hd_pool_free(p);
}

/* ---- exactly n results ------------------------------------------------ */

static void test_n_tasks_n_results(void **state)
{
	static const unsigned sizes[] = {0, 1, 7, 1000};
	static const unsigned workers[] = {1, 3, 8};
	static struct job jobs[1000];
	static unsigned char seen[1000];
	unsigned si, wi, i, n, got;
	hd_task *t;
	hd_pool *p;

	(void)state;
	for (si = 0; si < 4; si++) {
		for (wi = 0; wi < 3; wi++) {
			setup(NULL);
			n = sizes[si];
			p = pool_make(workers[wi], 5);
			for (i = 0; i < n; i++) {
				job_init(&jobs[i], i, 0);
				assert_int_equal(
				    hd_pool_submit(p, &jobs[i].task, -1),
				    HD_OK);
			}
			assert_true(hd_pool_outstanding(p) <= n);
			memset(seen, 0, sizeof(seen));
			got = 0;
			while ((t = hd_pool_next_result(p, -1)) != NULL) {
				struct job *j = (struct job *)t;

				assert_int_equal(t->status, HD_OK);
				assert_true(j->id < n);
				assert_int_equal(seen[j->id], 0);
				seen[j->id] = 1;
				got++;
			}
			assert_int_equal(got, n);
			assert_int_equal(atomic_load(&ran_total), n);
			for (i = 0; i < n; i++)
				assert_int_equal(atomic_load(&ran[i]), 1);
			assert_int_equal(hd_pool_outstanding(p), 0);
			assert_null(hd_pool_next_result(p, 0));
			hd_pool_free(p);
		}
	}
}

/* ---- submit after stop ------------------------------------------------ */

static void submit_after_stop(hd_pool_stop_mode mode)
{
	struct job a, b;
	hd_pool *p = pool_make(2, 4);

	job_init(&a, 0, 0);
	job_init(&b, 1, 0);
	assert_int_equal(hd_pool_submit(p, &a.task, -1), HD_OK);
	hd_pool_stop(p, mode);
	assert_int_equal(hd_pool_stopping(p), (int)mode);
	assert_int_equal(hd_pool_submit(p, &b.task, -1), HD_ESTOPPED);
	assert_int_equal(hd_pool_submit(p, &b.task, 0), HD_ESTOPPED);
	assert_int_equal(hd_pool_submit(p, &b.task, 100), HD_ESTOPPED);
	assert_int_equal(b.task.status, HD_EIO); /* never touched */
	/* a was accepted: it comes back (ran, or cancelled if NOW won) */
	assert_ptr_equal(hd_pool_next_result(p, -1), &a.task);
	assert_int_equal(atomic_load(&ran[0]),
			 a.task.status == HD_OK ? 1u : 0u);
	assert_null(hd_pool_next_result(p, -1));
	assert_int_equal(atomic_load(&ran[1]), 0);
	hd_pool_free(p);
}

static void test_submit_after_stop_drain(void **state)
{
	(void)state;
	submit_after_stop(HD_POOL_DRAIN);
}

static void test_submit_after_stop_now(void **state)
{
	(void)state;
	submit_after_stop(HD_POOL_NOW);
}

struct submitter {
	hd_pool *pool;
	hd_task *task;
	int timeout;
	hd_status result;
	atomic_int done;
};

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;

	s->result = hd_pool_submit(s->pool, s->task, s->timeout);
	atomic_store(&s->done, 1);
	return NULL;
}

/* One worker busy, queue (capacity 1) full, a third submit blocked: a stop
 * must wake it with HD_ESTOPPED. */
static void blocked_submitter(hd_pool_stop_mode mode)
{
	struct job a, b, c;
	struct submitter s;
	pthread_t th;
	hd_pool *p = pool_make(1, 1);

	job_init(&a, 0, 1);
	job_init(&b, 1, 1);
	job_init(&c, 2, 0);
	assert_int_equal(hd_pool_submit(p, &a.task, -1), HD_OK);
	wait_started(1);
	assert_int_equal(hd_pool_submit(p, &b.task, -1), HD_OK);
	assert_int_equal(hd_pool_submit(p, &c.task, 0), HD_ETIMEDOUT);

	s.pool = p;
	s.task = &c.task;
	s.timeout = -1;
	s.result = HD_OK;
	atomic_store(&s.done, 0);
	assert_int_equal(pthread_create(&th, NULL, submitter_main, &s), 0);
	sleep_us(50000);
	assert_int_equal(atomic_load(&s.done), 0); /* still blocked */
	hd_pool_stop(p, mode);
	pthread_join(th, NULL);
	assert_int_equal(s.result, HD_ESTOPPED);
	assert_int_equal(c.task.status, HD_EIO);
	assert_int_equal(hd_pool_outstanding(p), 2);

	if (mode == HD_POOL_NOW) {
		/* b never started: back at once, while a still runs */
		assert_ptr_equal(hd_pool_next_result(p, 0), &b.task);
		assert_int_equal(b.task.status, HD_ECANCELED);
	}
	gate_release();
	assert_ptr_equal(hd_pool_next_result(p, -1), &a.task);
	assert_int_equal(a.task.status, HD_OK);
	if (mode == HD_POOL_DRAIN) {
		assert_ptr_equal(hd_pool_next_result(p, -1), &b.task);
		assert_int_equal(b.task.status, HD_OK);
	}
	assert_null(hd_pool_next_result(p, -1));
	assert_int_equal(atomic_load(&ran[0]), 1);
	assert_int_equal(atomic_load(&ran[1]), mode == HD_POOL_DRAIN ? 1 : 0);
	assert_int_equal(atomic_load(&ran[2]), 0);
	hd_pool_free(p);
}

static void test_blocked_submitter_stop_drain(void **state)
{
	(void)state;
	blocked_submitter(HD_POOL_DRAIN);
}

static void test_blocked_submitter_stop_now(void **state)
{
	(void)state;
	blocked_submitter(HD_POOL_NOW);
}

/* ---- backpressure ----------------------------------------------------- */

static void test_backpressure(void **state)
{
	struct job jobs[7];
	hd_pool_stats st;
	double t0, waited;
	unsigned i;
	hd_pool *p = pool_make(2, 3);

	(void)state;
	for (i = 0; i < 7; i++)
		job_init(&jobs[i], i, 1);
	/* two run (and block), three wait: the queue is full */
	for (i = 0; i < 2; i++)
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, 0), HD_OK);
	wait_started(2);
	for (i = 2; i < 5; i++)
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, 0), HD_OK);
	assert_int_equal(hd_pool_submit(p, &jobs[5].task, 0), HD_ETIMEDOUT);
	t0 = now_ms();
	assert_int_equal(hd_pool_submit(p, &jobs[5].task, 60), HD_ETIMEDOUT);
	waited = now_ms() - t0;
	assert_true(waited >= 59.0);
	assert_true(waited < 5000.0);
	assert_int_equal(jobs[5].task.status, HD_EIO);

	hd_pool_get_stats(p, &st);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.ready, 0);
	assert_int_equal(st.outstanding, 5);
	assert_int_equal(st.queued_peak, 3);
	assert_int_equal(st.accepted, 5);
	assert_int_equal(hd_pool_outstanding(p), 5);
	assert_int_equal(atomic_load(&ran_total), 0);

	/* once the workers move, the blocked submit gets its room */
	gate_release();
	assert_int_equal(hd_pool_submit(p, &jobs[5].task, -1), HD_OK);
	assert_int_equal(hd_pool_submit(p, &jobs[6].task, 5000), HD_OK);
	for (i = 0; i < 7; i++)
		assert_non_null(hd_pool_next_result(p, -1));
	assert_null(hd_pool_next_result(p, -1));
	assert_int_equal(atomic_load(&ran_total), 7);
	hd_pool_get_stats(p, &st);
	assert_int_equal(st.queued_peak, 3); /* never above capacity */
	assert_int_equal(st.completed, 7);
	hd_pool_free(p);
}

/* ---- per-worker state ------------------------------------------------- */

#define NW 4

struct wstate {
	unsigned index;
	pthread_t tid;
};

struct init_ctx {
	int fail_index; /* -1: none, -2: all */
	int fill_err;	/* the failing init fills err itself */
	pthread_t init_tid[NW], fini_tid[NW];
	uintptr_t init_state[NW], fini_state[NW];
	int sigint_blocked[NW];
	atomic_int inits[NW], finis[NW];
	atomic_int init_returned;
	atomic_int wrong_thread; /* work() saw another worker's state */
};

static hd_status w_init(void *ctx, unsigned index, void **state, hd_error *err)
{
	struct init_ctx *c = ctx;
	struct wstate *ws;
	sigset_t cur;

	atomic_fetch_add(&c->inits[index], 1);
	c->init_tid[index] = pthread_self();
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	c->sigint_blocked[index] = sigismember(&cur, SIGINT);
	sleep_us(20000); /* hd_pool_new must wait for this */
	if (c->fail_index == -2 || c->fail_index == (int)index) {
		if (c->fill_err)
			hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				     "worker %u: no curl", index);
		atomic_fetch_add(&c->init_returned, 1);
		return HD_ECONFIG;
	}
	ws = malloc(sizeof(*ws));
	if (!ws)
		abort(); /* cmocka asserts belong to the main thread */
	ws->index = index;
	ws->tid = pthread_self();
	*state = ws;
	c->init_state[index] = (uintptr_t)ws;
	atomic_fetch_add(&c->init_returned, 1);
	return HD_OK;
}

static void w_fini(void *ctx, unsigned index, void *state)
{
	struct init_ctx *c = ctx;

	atomic_fetch_add(&c->finis[index], 1);
	c->fini_tid[index] = pthread_self();
	c->fini_state[index] = (uintptr_t)state;
	free(state);
}

static void state_work(hd_task *task, void *worker_state)
{
	struct job *j = (struct job *)task;
	struct wstate *ws = worker_state;
	struct init_ctx *c = j->ctx;

	if (!ws || !pthread_equal(ws->tid, pthread_self()))
		atomic_fetch_add(&c->wrong_thread, 1);
	atomic_fetch_add(&ran_total, 1);
}

static void init_ctx_reset(struct init_ctx *c, int fail_index, int fill_err)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	c->fail_index = fail_index;
	c->fill_err = fill_err;
	for (i = 0; i < NW; i++) {
		atomic_store(&c->inits[i], 0);
		atomic_store(&c->finis[i], 0);
	}
	atomic_store(&c->init_returned, 0);
	atomic_store(&c->wrong_thread, 0);
}

static void test_worker_init_fini_threads(void **state)
{
	static struct init_ctx c;
	hd_pool_config cfg = {NW, 8, w_init, w_fini, &c, NULL, NULL};
	struct job jobs[200];
	sigset_t before, after;
	hd_pool *p = NULL;
	hd_error err;
	unsigned i, k;

	(void)state;
	init_ctx_reset(&c, -1, 0);
	pthread_sigmask(SIG_BLOCK, NULL, &before);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_OK);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	/* the caller's own signal mask is left as it was */
	assert_int_equal(sigismember(&before, SIGINT),
			 sigismember(&after, SIGINT));
	/* every init returned before hd_pool_new did */
	assert_int_equal(atomic_load(&c.init_returned), NW);
	for (i = 0; i < NW; i++) {
		assert_int_equal(atomic_load(&c.inits[i]), 1);
		assert_int_equal(atomic_load(&c.finis[i]), 0);
		assert_false(pthread_equal(c.init_tid[i], pthread_self()));
		assert_int_equal(c.sigint_blocked[i], 1);
		for (k = 0; k < i; k++)
			assert_false(
			    pthread_equal(c.init_tid[i], c.init_tid[k]));
	}

	for (i = 0; i < 200; i++) {
		job_init(&jobs[i], i, 0);
		jobs[i].task.work = state_work;
		jobs[i].ctx = &c;
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
	}
	for (i = 0; i < 200; i++)
		assert_non_null(hd_pool_next_result(p, -1));
	assert_int_equal(atomic_load(&ran_total), 200);
	assert_int_equal(atomic_load(&c.wrong_thread), 0);
	hd_pool_free(p);

	for (i = 0; i < NW; i++) {
		assert_int_equal(atomic_load(&c.inits[i]), 1);
		assert_int_equal(atomic_load(&c.finis[i]), 1);
		assert_true(pthread_equal(c.fini_tid[i], c.init_tid[i]));
		assert_true(c.fini_state[i] == c.init_state[i]);
		assert_true(c.init_state[i] != 0);
	}
}

static void init_fails(int fail_index, int fill_err)
{
	static struct init_ctx c;
	hd_pool_config cfg = {NW, 8, w_init, w_fini, &c, NULL, NULL};
	hd_pool *p = (hd_pool *)&cfg;
	hd_error err;
	unsigned i;
	int failed;

	init_ctx_reset(&c, fail_index, fill_err);
	hd_error_clear(&err);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_ECONFIG);
	assert_null(p);
	assert_int_equal(err.code, HD_ECONFIG);
	if (fill_err) {
		char want[64];

		snprintf(want, sizeof(want), "worker %d: no curl",
			 fail_index < 0 ? 0 : fail_index);
		if (fail_index >= 0)
			assert_string_equal(err.msg, want);
		else
			assert_non_null(strstr(err.msg, ": no curl"));
	} else {
		assert_non_null(strstr(err.msg, "initialisation failed"));
	}
	assert_int_equal(atomic_load(&c.init_returned), NW);
	for (i = 0; i < NW; i++) {
		failed = fail_index == -2 || fail_index == (int)i;
		assert_int_equal(atomic_load(&c.inits[i]), 1);
		/* fini only where init succeeded, on the same thread, with
		 * init's state (which it frees: leaks show under ASan) */
		assert_int_equal(atomic_load(&c.finis[i]), failed ? 0 : 1);
		if (!failed) {
			assert_true(
			    pthread_equal(c.fini_tid[i], c.init_tid[i]));
			assert_true(c.fini_state[i] == c.init_state[i]);
		}
	}
	/* err may be NULL */
	init_ctx_reset(&c, fail_index, fill_err);
	assert_int_equal(hd_pool_new(&cfg, &p, NULL), HD_ECONFIG);
	assert_null(p);
}

static void test_worker_init_fails(void **state)
{
	(void)state;
	init_fails(2, 1);
	init_fails(0, 0);
	init_fails(-2, 1);
}

/* ---- stop modes ------------------------------------------------------- */

/* One worker held on the gate with job 0; jobs 1..10 queued. */
static hd_pool *one_busy_ten_queued(struct job *jobs)
{
	hd_pool *p = pool_make(1, 10);
	unsigned i;

	for (i = 0; i < 11; i++)
		job_init(&jobs[i], i, i == 0);
	assert_int_equal(hd_pool_submit(p, &jobs[0].task, -1), HD_OK);
	wait_started(1);
	for (i = 1; i < 11; i++)
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, 0), HD_OK);
	return p;
}

static void test_drain_runs_queued(void **state)
{
	struct job jobs[12];
	hd_task *t;
	unsigned i;
	hd_pool *p;

	(void)state;
	p = one_busy_ten_queued(jobs);
	hd_pool_stop(p, HD_POOL_DRAIN);
	assert_int_equal(hd_pool_stopping(p), HD_POOL_DRAIN);
	job_init(&jobs[11], 11, 0);
	assert_int_equal(hd_pool_submit(p, &jobs[11].task, 0), HD_ESTOPPED);
	assert_null(hd_pool_next_result(p, 0)); /* nothing cancelled */
	gate_release();
	/* one worker: completion order is queue order */
	for (i = 0; i < 11; i++) {
		t = hd_pool_next_result(p, -1);
		assert_ptr_equal(t, &jobs[i].task);
		assert_int_equal(t->status, HD_OK);
		assert_int_equal(atomic_load(&ran[i]), 1);
	}
	assert_null(hd_pool_next_result(p, -1));
	assert_int_equal(atomic_load(&ran[11]), 0);
	assert_int_equal(atomic_load(&ran_total), 11);
	hd_pool_free(p);
}

static void now_cancels(int drain_first)
{
	struct job jobs[11];
	hd_pool_stats st;
	hd_task *t;
	unsigned i;
	double t0;
	hd_pool *p;

	p = one_busy_ten_queued(jobs);
	if (drain_first) {
		hd_pool_stop(p, HD_POOL_DRAIN);
		assert_null(hd_pool_next_result(p, 0));
	}
	hd_pool_stop(p, HD_POOL_NOW);
	assert_int_equal(hd_pool_stopping(p), HD_POOL_NOW);
	/* a later DRAIN does not step back down */
	hd_pool_stop(p, HD_POOL_DRAIN);
	assert_int_equal(hd_pool_stopping(p), HD_POOL_NOW);
	/* the ten unstarted come back at once, in queue order */
	for (i = 1; i < 11; i++) {
		t = hd_pool_next_result(p, 0);
		assert_ptr_equal(t, &jobs[i].task);
		assert_int_equal(t->status, HD_ECANCELED);
	}
	hd_pool_get_stats(p, &st);
	assert_int_equal(st.canceled, 10);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.outstanding, 1);
	/* job 0 still runs: a timed wait times out */
	t0 = now_ms();
	assert_null(hd_pool_next_result(p, 30));
	assert_true(now_ms() - t0 >= 29.0);
	gate_release();
	t = hd_pool_next_result(p, -1);
	assert_ptr_equal(t, &jobs[0].task);
	assert_int_equal(t->status, HD_OK);
	assert_null(hd_pool_next_result(p, -1));
	assert_int_equal(atomic_load(&ran[0]), 1);
	for (i = 1; i < 11; i++)
		assert_int_equal(atomic_load(&ran[i]), 0);
	hd_pool_free(p);
	/* free joined the workers: still nothing ran */
	assert_int_equal(atomic_load(&ran_total), 1);
}

static void test_now_cancels_queued(void **state)
{
	(void)state;
	now_cancels(0);
}

static void test_drain_then_now_escalates(void **state)
{
	(void)state;
	now_cancels(1);
}

/* A work function polls hd_pool_stopping() and ends when asked. */
static void polling_work(hd_task *task, void *worker_state)
{
	struct job *j = (struct job *)task;
	double end = now_ms() + 5000;

	(void)worker_state;
	atomic_fetch_add(&started_total, 1);
	while (hd_pool_stopping(j->ctx) != HD_POOL_NOW && now_ms() < end)
		sleep_us(200);
	if (hd_pool_stopping(j->ctx) == HD_POOL_NOW)
		atomic_fetch_add(&ran[j->id], 1);
}

static void test_stopping_seen_by_work(void **state)
{
	struct job j;
	hd_pool *p = pool_make(1, 1);

	(void)state;
	job_init(&j, 5, 0);
	j.task.work = polling_work;
	j.ctx = p;
	assert_int_equal(hd_pool_submit(p, &j.task, -1), HD_OK);
	wait_started(1);
	assert_int_equal(hd_pool_stopping(p), 0);
	hd_pool_stop(p, HD_POOL_NOW);
	assert_ptr_equal(hd_pool_next_result(p, -1), &j.task);
	assert_int_equal(j.task.status, HD_OK);
	assert_int_equal(atomic_load(&ran[5]), 1);
	hd_pool_free(p);
}

/* ---- next_result ------------------------------------------------------ */

static void test_next_result_null(void **state)
{
	struct job j;
	double t0;
	hd_pool *p = pool_make(2, 2);

	(void)state;
	/* nothing outstanding: NULL at once, even when told to wait */
	t0 = now_ms();
	assert_null(hd_pool_next_result(p, -1));
	assert_null(hd_pool_next_result(p, 10000));
	assert_true(now_ms() - t0 < 1000.0);

	job_init(&j, 0, 1);
	assert_int_equal(hd_pool_submit(p, &j.task, -1), HD_OK);
	wait_started(1);
	assert_null(hd_pool_next_result(p, 0));
	t0 = now_ms();
	assert_null(hd_pool_next_result(p, 40));
	assert_true(now_ms() - t0 >= 39.0);
	assert_int_equal(hd_pool_outstanding(p), 1);
	gate_release();
	assert_ptr_equal(hd_pool_next_result(p, -1), &j.task);
	assert_int_equal(hd_pool_outstanding(p), 0);
	assert_null(hd_pool_next_result(p, -1));
	hd_pool_free(p);
}

struct collector {
	hd_pool *pool;
	hd_task *got;
};

static void *collector_main(void *arg)
{
	struct collector *c = arg;

	c->got = hd_pool_next_result(c->pool, -1);
	return NULL;
}

/* Two collectors wait, one task comes: the other must get NULL, not hang. */
static void test_two_collectors_one_task(void **state)
{
	struct collector c[2];
	pthread_t th[2];
	struct job j;
	unsigned i;
	hd_pool *p = pool_make(1, 1);

	(void)state;
	job_init(&j, 0, 1);
	assert_int_equal(hd_pool_submit(p, &j.task, -1), HD_OK);
	wait_started(1);
	for (i = 0; i < 2; i++) {
		c[i].pool = p;
		c[i].got = (hd_task *)&c; /* must be overwritten */
		assert_int_equal(
		    pthread_create(&th[i], NULL, collector_main, &c[i]), 0);
	}
	sleep_us(30000);
	gate_release();
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_true((c[0].got == &j.task && c[1].got == NULL) ||
		    (c[1].got == &j.task && c[0].got == NULL));
	hd_pool_free(p);
}

/* free without stop drains: queued tasks run, uncollected stay ours. */
static void test_free_drains(void **state)
{
	struct job jobs[20];
	unsigned i;
	hd_pool *p = pool_make(2, 20);

	(void)state;
	for (i = 0; i < 20; i++) {
		job_init(&jobs[i], i, 0);
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
	}
	hd_pool_free(p);
	assert_int_equal(atomic_load(&ran_total), 20);
	for (i = 0; i < 20; i++) {
		assert_int_equal(atomic_load(&ran[i]), 1);
		assert_int_equal(jobs[i].task.status, HD_OK);
	}
}

/* ---- stress ----------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? splitmix(s) % n : 0;
}

/* Where a round stops, in 1..limit: anywhere in a quarter of the rounds,
 * in the last fifth otherwise, so most tasks still go through the pool. */
static size_t pick_stop(uint64_t *rng, size_t limit)
{
	if (rnd(rng, 4) == 0)
		return 1 + rnd(rng, limit);
	return limit - rnd(rng, limit / 5 + 1);
}

/* Who calls hd_pool_stop: the collector after stop_at results, submitter
 * 0 after its stop_at-th accepted task, the stopper thread a few
 * microseconds after stop_at tasks were accepted, or the work function
 * of task id stop_at (stop from a worker thread). */
enum { TRIG_COLLECTED, TRIG_SUBMITTED, TRIG_TIMER, TRIG_WORK, TRIG_COUNT };

struct round;

struct stask {
	hd_task task; /* first member */
	struct round *r;
	uint32_t id;
	uint16_t kind; /* 0 nothing, 1 busy loop, 2 nanosleep */
	uint16_t arg;
};

struct sworker {
	uint64_t count; /* touched only by its own worker */
	pthread_t tid;
};

struct round {
	hd_pool *pool;
	size_t n;
	unsigned workers, nsub, ncoll;
	size_t capacity;
	int submit_timeout;
	int trigger, mode, escalate;
	size_t stop_at;
	uint64_t timer_us, escalate_us;
	struct stask *tasks;
	atomic_uchar *ran, *returned;
	unsigned char *accepted; /* written by the id's submitter */
	struct sworker *ws;
	atomic_uint subs_done;
	atomic_size_t collected, ok, canceled, refused;
	atomic_uint running_now, running_peak;
	atomic_int over; /* the round's collection finished */
	atomic_uint failures;
	atomic_uint timeouts; /* HD_ETIMEDOUT answers to submit */
	char why[160];	      /* first failure, written once */
	atomic_flag why_set;
};

static void bad(struct round *r, const char *fmt, ...) HD_PRINTF(2, 3);

/* Records a failure seen on a non-main thread (cmocka asserts belong to
 * the main thread); the round checks the count at its end. */
static void bad(struct round *r, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&r->failures, 1);
	if (atomic_flag_test_and_set(&r->why_set))
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static hd_status s_init(void *ctx, unsigned index, void **state, hd_error *err)
{
	struct round *r = ctx;

	(void)err;
	r->ws[index].tid = pthread_self();
	*state = &r->ws[index];
	return HD_OK;
}

static void s_fini(void *ctx, unsigned index, void *state)
{
	struct round *r = ctx;

	if (state != &r->ws[index] ||
	    !pthread_equal(r->ws[index].tid, pthread_self()))
		bad(r, "fini of worker %u on the wrong thread/state", index);
}

static void s_work(hd_task *task, void *worker_state)
{
	struct stask *t = (struct stask *)task;
	struct round *r = t->r;
	struct sworker *w = worker_state;
	unsigned cur, peak;

	cur = atomic_fetch_add(&r->running_now, 1) + 1;
	peak = atomic_load(&r->running_peak);
	while (cur > peak &&
	       !atomic_compare_exchange_weak(&r->running_peak, &peak, cur))
		;
	if (t->kind == 1) {
		volatile unsigned x = 0;
		unsigned i;

		for (i = 0; i < t->arg; i++)
			x = x + i;
	} else if (t->kind == 2) {
		sleep_us(t->arg);
	}
	if (atomic_fetch_add(&r->ran[t->id], 1) != 0)
		bad(r, "task %u ran twice", t->id);
	w->count++;
	if (r->trigger == TRIG_WORK && t->id == r->stop_at)
		hd_pool_stop(r->pool, (hd_pool_stop_mode)r->mode);
	atomic_fetch_sub(&r->running_now, 1);
}

static void *s_submitter(void *arg)
{
	struct round *r = ((void **)arg)[0];
	unsigned s = (unsigned)(uintptr_t)((void **)arg)[1];
	size_t id, mine = 0;
	hd_status st;
	int stopped = 0, tmo;

	for (id = s; id < r->n; id += r->nsub) {
		if (stopped) {
			atomic_fetch_add(&r->refused, 1);
			continue;
		}
		tmo = r->submit_timeout;
		for (;;) {
			st = hd_pool_submit(r->pool, &r->tasks[id].task, tmo);
			if (st != HD_ETIMEDOUT)
				break;
			atomic_fetch_add(&r->timeouts, 1);
			/* after a failed try-once, wait a little: spinning
			 * would starve the workers of the two cores */
			tmo = 1;
		}
		if (st == HD_OK) {
			r->accepted[id] = 1;
			mine++;
			if (r->trigger == TRIG_SUBMITTED && s == 0 &&
			    mine == r->stop_at)
				hd_pool_stop(r->pool,
					     (hd_pool_stop_mode)r->mode);
		} else if (st == HD_ESTOPPED) {
			if (!hd_pool_stopping(r->pool))
				bad(r, "ESTOPPED without a stop");
			stopped = 1;
			atomic_fetch_add(&r->refused, 1);
		} else {
			bad(r, "submit returned %s", hd_status_name(st));
			atomic_fetch_add(&r->refused, 1);
		}
	}
	atomic_fetch_add(&r->subs_done, 1);
	return NULL;
}

static void take(struct round *r, hd_task *task)
{
	struct stask *t = (struct stask *)task;
	size_t n;

	if (t < r->tasks || t >= r->tasks + r->n) {
		bad(r, "next_result returned a foreign pointer");
		return;
	}
	if (atomic_fetch_add(&r->returned[t->id], 1) != 0)
		bad(r, "task %u returned twice", t->id);
	if (task->status == HD_OK) {
		if (atomic_load(&r->ran[t->id]) != 1)
			bad(r, "HD_OK task %u ran %u times", t->id,
			    (unsigned)atomic_load(&r->ran[t->id]));
		atomic_fetch_add(&r->ok, 1);
	} else if (task->status == HD_ECANCELED) {
		if (atomic_load(&r->ran[t->id]) != 0)
			bad(r, "cancelled task %u ran", t->id);
		if (r->mode != HD_POOL_NOW && !r->escalate)
			bad(r, "cancelled task %u under DRAIN", t->id);
		atomic_fetch_add(&r->canceled, 1);
	} else {
		bad(r, "task %u came back with %s", t->id,
		    hd_status_name(task->status));
	}
	n = atomic_fetch_add(&r->collected, 1) + 1;
	if (r->trigger == TRIG_COLLECTED && n == r->stop_at)
		hd_pool_stop(r->pool, (hd_pool_stop_mode)r->mode);
}

static void *s_collector(void *arg)
{
	struct round *r = arg;
	hd_task *t;

	for (;;) {
		t = hd_pool_next_result(r->pool, 2);
		if (!t) {
			if (atomic_load(&r->subs_done) < r->nsub) {
				/* NULL at once: nothing outstanding yet */
				if (hd_pool_outstanding(r->pool) == 0)
					sleep_us(20);
				continue;
			}
			/* no more submits: NULL now means all came back */
			t = hd_pool_next_result(r->pool, -1);
			if (!t)
				break;
		}
		take(r, t);
	}
	return NULL;
}

/* Stops at a moment tied to no thread's event, and/or escalates DRAIN to
 * NOW a little after the first stop. */
static void *s_stopper(void *arg)
{
	struct round *r = arg;
	hd_pool_stats st;

	if (r->trigger == TRIG_TIMER) {
		do {
			sleep_us(200);
			hd_pool_get_stats(r->pool, &st);
		} while (st.accepted < r->stop_at && !atomic_load(&r->over));
		sleep_us((long)r->timer_us);
		hd_pool_stop(r->pool, (hd_pool_stop_mode)r->mode);
	}
	if (r->escalate) {
		while (!hd_pool_stopping(r->pool) && !atomic_load(&r->over))
			sleep_us(100);
		sleep_us((long)r->escalate_us);
		hd_pool_stop(r->pool, HD_POOL_NOW);
	}
	return NULL;
}

/* Samples the counters while the round runs. */
static void *s_monitor(void *arg)
{
	struct round *r = arg;
	hd_pool_stats st;

	while (!atomic_load(&r->over)) {
		hd_pool_get_stats(r->pool, &st);
		if (st.queued > r->capacity)
			bad(r, "queue holds %zu > %zu", st.queued, r->capacity);
		if (st.running > r->workers)
			bad(r, "%zu running > %u workers", st.running,
			    r->workers);
		if (st.queued + st.running + st.ready != st.outstanding)
			bad(r, "counters do not add up");
		sleep_us(300);
	}
	return NULL;
}

static const char *const trig_names[] = {"collected", "submitted", "timer",
					 "work"};

static void stress_round(uint64_t *rng, size_t n, unsigned rno, size_t *tot_ok,
			 size_t *tot_cancel, size_t *tot_refused)
{
	struct round *r = calloc(1, sizeof(*r));
	hd_pool_config cfg = {0};
	pthread_t subs[4], colls[2], stopper, monitor;
	void *sargs[4][2];
	hd_pool_stats st;
	hd_error err;
	size_t i, nacc = 0;
	uint64_t wsum = 0;
	unsigned k;
	int need_stopper, use_monitor, stopping;
	double t0, c0;

	assert_non_null(r);
	r->workers = 8 + (unsigned)rnd(rng, 25);
	/* A tiny queue makes every task a hand-off between three sleeping
	 * threads (about 20 us each on two cores), so those rounds are
	 * shorter: the interleavings are covered, the time stays modest. */
	switch (rnd(rng, 4)) {
	case 0:
		r->capacity = 1;
		n = n / 4 + 1;
		break;
	case 1:
		r->capacity = 2 + rnd(rng, 7);
		n = n / 2 + 1;
		break;
	case 2:
		r->capacity = 9 + rnd(rng, 120);
		break;
	default:
		r->capacity = 129 + rnd(rng, 2000);
		break;
	}
	r->nsub = rnd(rng, 2) ? 1 : 2 + (unsigned)rnd(rng, 3);
	r->ncoll = rnd(rng, 4) ? 1 : 2;
	if (r->ncoll > 1)
		n = n / 2 + 1; /* collectors wake each other: slower */
	r->n = n;
	r->submit_timeout = (int[]){-1, -1, 1, 0}[rnd(rng, 4)];
	r->trigger = (int)rnd(rng, TRIG_COUNT);
	r->mode = rnd(rng, 2) ? HD_POOL_DRAIN : HD_POOL_NOW;
	r->escalate = r->mode == HD_POOL_DRAIN && rnd(rng, 3) == 0;
	r->escalate_us = rnd(rng, 300);
	r->timer_us = rnd(rng, 500);
	if (r->trigger == TRIG_SUBMITTED)
		r->stop_at = pick_stop(rng, (n + r->nsub - 1) / r->nsub);
	else if (r->trigger == TRIG_WORK)
		r->stop_at = pick_stop(rng, n) - 1; /* a task id */
	else
		r->stop_at = pick_stop(rng, n);
	use_monitor = rnd(rng, 2) == 0;
	t0 = now_ms();
	c0 = cpu_ms();

	r->tasks = calloc(n, sizeof(*r->tasks));
	r->ran = calloc(n, sizeof(*r->ran));
	r->returned = calloc(n, sizeof(*r->returned));
	r->accepted = calloc(n, 1);
	r->ws = calloc(r->workers, sizeof(*r->ws));
	assert_non_null(r->tasks);
	assert_non_null(r->ran);
	assert_non_null(r->returned);
	assert_non_null(r->accepted);
	assert_non_null(r->ws);
	for (i = 0; i < n; i++) {
		uint64_t d = rnd(rng, 1000);

		r->tasks[i].task.work = s_work;
		r->tasks[i].r = r;
		r->tasks[i].id = (uint32_t)i;
		if (d < 970) {
			r->tasks[i].kind = 0;
		} else if (d < 990) {
			r->tasks[i].kind = 1;
			r->tasks[i].arg = (uint16_t)(100 + rnd(rng, 2000));
		} else {
			r->tasks[i].kind = 2;
			r->tasks[i].arg = (uint16_t)(1 + rnd(rng, 5));
		}
	}
	atomic_flag_clear(&r->why_set);

	cfg.workers = r->workers;
	cfg.queue_capacity = r->capacity;
	cfg.worker_init = s_init;
	cfg.worker_fini = s_fini;
	cfg.ctx = r;
	assert_int_equal(hd_pool_new(&cfg, &r->pool, &err), HD_OK);

	need_stopper = r->trigger == TRIG_TIMER || r->escalate;
	if (need_stopper)
		assert_int_equal(pthread_create(&stopper, NULL, s_stopper, r),
				 0);
	if (use_monitor)
		assert_int_equal(pthread_create(&monitor, NULL, s_monitor, r),
				 0);
	for (k = 1; k < r->ncoll; k++)
		assert_int_equal(
		    pthread_create(&colls[k], NULL, s_collector, r), 0);
	for (k = 0; k < r->nsub; k++) {
		sargs[k][0] = r;
		sargs[k][1] = (void *)(uintptr_t)k;
		assert_int_equal(
		    pthread_create(&subs[k], NULL, s_submitter, sargs[k]), 0);
	}
	s_collector(r); /* this thread is collector 0 */
	for (k = 0; k < r->nsub; k++)
		pthread_join(subs[k], NULL);
	for (k = 1; k < r->ncoll; k++)
		pthread_join(colls[k], NULL);
	atomic_store(&r->over, 1);
	if (need_stopper)
		pthread_join(stopper, NULL);
	if (use_monitor)
		pthread_join(monitor, NULL);

	hd_pool_get_stats(r->pool, &st);
	stopping = hd_pool_stopping(r->pool);
	hd_pool_free(r->pool);

	if (atomic_load(&r->failures))
		fail_msg("round %u: %u failures, first: %s", rno,
			 atomic_load(&r->failures), r->why);
	for (i = 0; i < n; i++) {
		unsigned char a = r->accepted[i];
		unsigned ret = atomic_load(&r->returned[i]);
		unsigned rn = atomic_load(&r->ran[i]);

		if (ret != a)
			fail_msg("round %u: task %zu accepted %u returned %u",
				 rno, i, a, ret);
		if (rn > 1 || (!a && rn != 0))
			fail_msg("round %u: task %zu ran %u times", rno, i, rn);
		nacc += a;
	}
	for (k = 0; k < r->workers; k++)
		wsum += r->ws[k].count;
	assert_int_equal(atomic_load(&r->ok) + atomic_load(&r->canceled), nacc);
	assert_int_equal(nacc + atomic_load(&r->refused), n);
	assert_int_equal(atomic_load(&r->collected), nacc);
	assert_int_equal(wsum, atomic_load(&r->ok));
	assert_int_equal(st.accepted, nacc);
	assert_int_equal(st.completed, atomic_load(&r->ok));
	assert_int_equal(st.canceled, atomic_load(&r->canceled));
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(st.queued + st.running + st.ready, 0);
	assert_true(st.queued_peak <= r->capacity);
	assert_true(atomic_load(&r->running_peak) <= r->workers);
	if (atomic_load(&r->refused) > 0 || atomic_load(&r->canceled) > 0)
		assert_int_not_equal(stopping, 0); /* only after a stop */
	if (r->mode == HD_POOL_DRAIN && !r->escalate)
		assert_int_equal(atomic_load(&r->canceled), 0);

	if (getenv("HERALD_POOL_VERBOSE"))
		fprintf(stderr,
			"  round %2u: n=%zu workers=%u cap=%zu subs=%u "
			"colls=%u tmo=%d stop=%s@%zu %s%s ok=%zu "
			"cancel=%zu refused=%zu peakq=%zu peakrun=%u "
			"mon=%d etimedout=%u %.0f ms (cpu %.0f ms)\n",
			rno, n, r->workers, r->capacity, r->nsub, r->ncoll,
			r->submit_timeout, trig_names[r->trigger], r->stop_at,
			r->mode == HD_POOL_NOW ? "NOW" : "DRAIN",
			r->escalate ? "+NOW" : "", atomic_load(&r->ok),
			atomic_load(&r->canceled), atomic_load(&r->refused),
			st.queued_peak, atomic_load(&r->running_peak),
			use_monitor, atomic_load(&r->timeouts), now_ms() - t0,
			cpu_ms() - c0);
	*tot_ok += atomic_load(&r->ok);
	*tot_cancel += atomic_load(&r->canceled);
	*tot_refused += atomic_load(&r->refused);
	free(r->tasks);
	free(r->ran);
	free(r->returned);
	free(r->accepted);
	free(r->ws);
	free(r);
}

/* Rounds of `per` tasks until at least `total` tasks went through the pool
 * (accepted and returned); tasks refused after a round's stop do not
 * count, so there are a few more rounds than total / per. */
static void test_stress(void **state)
{
	size_t total = 1000000, per, ok = 0, cancel = 0, refused = 0, n;
	const char *env;
	uint64_t seed, rng;
	unsigned rno;
	struct timespec ts;
	double t0;

	(void)state;
	watchdog_arm(1800); /* ctest's own 600 s limit comes first */
	env = getenv("HERALD_POOL_STRESS_TASKS");
	if (env && *env) {
		char *end;
		unsigned long long v = strtoull(env, &end, 10);

		assert_true(*end == '\0' && v >= 1 && v <= 100000000ULL);
		total = (size_t)v;
	}
	env = getenv("HERALD_POOL_SEED");
	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed =
		    (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
	}
	fprintf(stderr,
		"test_pool: stress %zu tasks, seed %llu "
		"(replay with HERALD_POOL_SEED=%llu)\n",
		total, (unsigned long long)seed, (unsigned long long)seed);
	rng = seed;
	per = total / 20 > 0 ? total / 20 : 1;
	t0 = now_ms();
	for (rno = 0; ok + cancel < total; rno++) {
		assert_true(rno < 200); /* a stop cannot refuse everything */
		n = total - ok - cancel;
		n = n > per ? per : n + n / 4 + 1;
		stress_round(&rng, n, rno, &ok, &cancel, &refused);
	}
	fprintf(stderr,
		"test_pool: stress done in %.0f ms, %u rounds: %zu ran, "
		"%zu cancelled, %zu more refused after a stop\n",
		now_ms() - t0, rno, ok, cancel, refused);
}

/* ---- drivers: workers that keep many tasks going at once -------------- */

#define DRV_MAX 8 /* tasks one driver holds at most */

struct drv_ctx {
	int fds[4][2]; /* a pipe per driver: its wake-ups */
	atomic_uint max_held;
	atomic_uint wakes;
	atomic_uint done_by[4];
};

static void drv_wake(void *ctx, unsigned index)
{
	struct drv_ctx *c = ctx;
	char b = 1;

	atomic_fetch_add(&c->wakes, 1);
	if (write(c->fds[index][1], &b, 1) < 0)
		fail_msg("wake pipe");
}

/* A driver as an event loop would be: it takes what it can without
 * waiting, finishes tasks in a shuffled order, and waits in poll() (not in
 * the pool) while it holds nothing. */
static void drv_main(hd_pool *p, void *ctx, unsigned index, void *state)
{
	struct drv_ctx *c = ctx;
	hd_task *held[DRV_MAX];
	unsigned n = 0, seed = index * 7 + 1;
	int ending = 0;

	(void)state;
	for (;;) {
		hd_task *t;
		while (!ending && n < DRV_MAX) {
			hd_status st = hd_pool_take(p, index, &t, 0);
			if (st == HD_ESTOPPED)
				ending = 1;
			if (st != HD_OK)
				break;
			held[n++] = t;
		}
		if (n > atomic_load(&c->max_held))
			atomic_store(&c->max_held, n);
		if (n == 0) {
			struct pollfd pfd = {c->fds[index][0], POLLIN, 0};
			char buf[64];
			if (ending)
				return;
			/* a task queued between take and here must have
			 * written to the pipe already: no wait is lost */
			if (poll(&pfd, 1, 5000) == 0)
				fail_msg("driver %u waited 5 s: a wake-up was "
					 "lost",
					 index);
			if (read(c->fds[index][0], buf, sizeof(buf)) < 0)
				fail_msg("read");
			continue;
		}
		/* finish one, not the oldest */
		seed = seed * 1103515245u + 12345u;
		{
			unsigned k = (seed >> 16) % n;
			struct job *j = (struct job *)held[k];
			j->task.status = HD_EIO;
			atomic_fetch_add(&c->done_by[index], 1);
			hd_pool_done(p, held[k]);
			held[k] = held[--n];
		}
	}
}

static void test_driver(void **state)
{
	enum { N = 20000 };
	static struct drv_ctx c;
	static struct job jobs[N];
	static unsigned char seen[N];
	hd_pool_config cfg = {3, 16, NULL, NULL, &c, drv_main, drv_wake};
	hd_pool *p = NULL;
	hd_error err;
	hd_task *t;
	size_t got = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipe(c.fds[i]), 0);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_OK);
	for (unsigned i = 0; i < N; i++) {
		job_init(&jobs[i], i, 0);
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
		/* sometimes the collector lags, sometimes the queue runs dry */
		if (i % 97 == 0)
			usleep(200);
		while ((t = hd_pool_next_result(p, 0)) != NULL) {
			struct job *j = (struct job *)t;
			assert_int_equal(t->status, HD_OK);
			assert_int_equal(seen[j->id]++, 0);
			got++;
		}
	}
	hd_pool_stop(p, HD_POOL_DRAIN);
	while ((t = hd_pool_next_result(p, -1)) != NULL) {
		struct job *j = (struct job *)t;
		assert_int_equal(seen[j->id]++, 0);
		got++;
	}
	hd_pool_free(p); /* the drivers find the end and return */
	assert_int_equal(got, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	/* drivers really held several at once, and all of them worked */
	assert_true(atomic_load(&c.max_held) > 1);
	for (int i = 0; i < 3; i++) {
		assert_true(atomic_load(&c.done_by[i]) > 0);
		close(c.fds[i][0]);
		close(c.fds[i][1]);
	}
	assert_true(atomic_load(&c.wakes) > 0);
}

/* One driver, tasks submitted one by one: a pool with room for N at
 * once. */
static hd_pool *one_driver(struct drv_ctx *c, size_t capacity)
{
	hd_pool_config cfg = {1, capacity, NULL, NULL, c, drv_main, drv_wake};
	hd_pool *p = NULL;
	hd_error err;

	memset(c, 0, sizeof(*c));
	assert_int_equal(pipe(c->fds[0]), 0);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_OK);
	return p;
}

static void end_one_driver(struct drv_ctx *c, hd_pool *p)
{
	hd_pool_free(p);
	close(c->fds[0][0]);
	close(c->fds[0][1]);
}

/* Spins for us microseconds: a producer that has work of its own. */
static void spin_us(long us)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L +
		   (b.tv_nsec - a.tv_nsec) / 1000L <
	       us);
}

/* A driver quicker than its producer is woken once per gap, not once per
 * task (each wake-up is a syscall on both sides). */
static void test_driver_wakes_coalesced(void **state)
{
	enum { N = 4000 };
	static struct drv_ctx c;
	static struct job jobs[N];
	hd_pool *p = one_driver(&c, 256);
	size_t got = 0;
	hd_task *t;

	(void)state;
	for (unsigned i = 0; i < N; i++) {
		job_init(&jobs[i], i, 0);
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
		/* the driver has taken it and waits again before the next */
		spin_us(20);
		while ((t = hd_pool_next_result(p, 0)) != NULL)
			got++;
	}
	while (got < N && (t = hd_pool_next_result(p, -1)) != NULL)
		got++;
	assert_int_equal(got, N);
	print_message("      %u wake-ups for %d tasks\n", atomic_load(&c.wakes),
		      N);
	assert_true(atomic_load(&c.wakes) < N / 4);
	end_one_driver(&c, p);
}

/* A wake-up held back is never lost: a collector about to wait sends it,
 * and so does a submitter that finds the queue full (drv_main fails when
 * it waits 5 s for a wake-up). */
static void test_driver_wake_held_back(void **state)
{
	enum { N = 3000 };
	static struct drv_ctx c;
	static struct job jobs[N];
	hd_pool *p;
	size_t got;
	hd_task *t;

	(void)state;
	/* pairs: the second task of each comes within the gap */
	p = one_driver(&c, 64);
	for (unsigned i = 0; i < 400; i += 2) {
		job_init(&jobs[i], i, 0);
		job_init(&jobs[i + 1], i + 1, 0);
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
		assert_int_equal(hd_pool_submit(p, &jobs[i + 1].task, -1),
				 HD_OK);
		for (got = 0; got < 2; got++)
			assert_non_null(hd_pool_next_result(p, 10000));
	}
	end_one_driver(&c, p);

	/* a queue of 4: the submitter blocks for room long before 32 wait */
	p = one_driver(&c, 4);
	got = 0;
	for (unsigned i = 0; i < N; i++) {
		job_init(&jobs[i], i, 0);
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
		while ((t = hd_pool_next_result(p, 0)) != NULL)
			got++;
	}
	while (got < N && (t = hd_pool_next_result(p, -1)) != NULL)
		got++;
	assert_int_equal(got, N);
	end_one_driver(&c, p);
}

/* An immediate stop hands back what no driver took; drivers finish what
 * they hold. */
static void test_driver_stop_now(void **state)
{
	enum { N = 64 };
	static struct drv_ctx c;
	static struct job jobs[N];
	hd_pool_config cfg = {2, N, NULL, NULL, &c, drv_main, drv_wake};
	hd_pool *p = NULL;
	hd_error err;
	hd_task *t;
	unsigned ok = 0, canceled = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 2; i++)
		assert_int_equal(pipe(c.fds[i]), 0);
	assert_int_equal(hd_pool_new(&cfg, &p, &err), HD_OK);
	for (unsigned i = 0; i < N; i++) {
		job_init(&jobs[i], i, 0);
		assert_int_equal(hd_pool_submit(p, &jobs[i].task, -1), HD_OK);
	}
	hd_pool_stop(p, HD_POOL_NOW);
	assert_int_equal(hd_pool_submit(p, &jobs[0].task, 0), HD_ESTOPPED);
	while ((t = hd_pool_next_result(p, -1)) != NULL) {
		if (t->status == HD_OK)
			ok++;
		else if (t->status == HD_ECANCELED)
			canceled++;
	}
	hd_pool_free(p);
	assert_int_equal(ok + canceled, N);
	for (int i = 0; i < 2; i++) {
		close(c.fds[i][0]);
		close(c.fds[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_new_bad_config, setup),
	    cmocka_unit_test_setup(test_bad_args, setup),
	    cmocka_unit_test_setup(test_next_result_null, setup),
	    cmocka_unit_test_setup(test_n_tasks_n_results, setup),
	    cmocka_unit_test_setup(test_submit_after_stop_drain, setup),
	    cmocka_unit_test_setup(test_submit_after_stop_now, setup),
	    cmocka_unit_test_setup(test_blocked_submitter_stop_drain, setup),
	    cmocka_unit_test_setup(test_blocked_submitter_stop_now, setup),
	    cmocka_unit_test_setup(test_backpressure, setup),
	    cmocka_unit_test_setup(test_worker_init_fini_threads, setup),
	    cmocka_unit_test_setup(test_worker_init_fails, setup),
	    cmocka_unit_test_setup(test_drain_runs_queued, setup),
	    cmocka_unit_test_setup(test_now_cancels_queued, setup),
	    cmocka_unit_test_setup(test_drain_then_now_escalates, setup),
	    cmocka_unit_test_setup(test_stopping_seen_by_work, setup),
	    cmocka_unit_test_setup(test_two_collectors_one_task, setup),
	    cmocka_unit_test_setup(test_free_drains, setup),
	    cmocka_unit_test_setup(test_stress, setup),
	    cmocka_unit_test_setup(test_driver, setup),
	    cmocka_unit_test_setup(test_driver_stop_now, setup),
	    cmocka_unit_test_setup(test_driver_wakes_coalesced, setup),
	    cmocka_unit_test_setup(test_driver_wake_held_back, setup),
	};
	pthread_t wd;
	int rc;

	if (pthread_create(&wd, NULL, watchdog_main, NULL) != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	atomic_store(&watchdog_quit, 1);
	pthread_join(wd, NULL);
	return rc;
}
