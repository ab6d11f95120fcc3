/*
 * engine.c — workers that drive several transfers each through a curl
 * multi handle (engine.h says what and why).
 *
 * Lock order: e->mu (a leaf) guards only the table of workers that wakes
 * read; the pool's and the sender's locks are never taken under it.
 */
#include "engine.h"

#include "dest.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* Rows a worker holds beyond its slots, waiting (backoff, pacer, journal,
 * a busy destination): as many as its slots, up to this. */
#define WAITING_MAX 64
/* Rows for a destination at its limit (--per-host, or the fair share
 * while one host hangs) are set aside, outside that count, so that rows
 * for the others go on being taken: as many destinations at a time as
 * PARK_GROUPS, and a run's workers together at most PARK_ROWS rows and
 * PARK_BYTES of messages (each worker its share).  Beyond that they wait
 * among the others, as every row did before. */
#define PARK_GROUPS 16
#define PARK_ROWS 8192
#define PARK_BYTES (32u << 20)
/* Longest a worker sleeps without a reason to wake: a safety net only. */
#define MAX_WAIT_MS 1000
/* Rows waiting in the pool's queue at most. */
#define QUEUE_MAX 256
/* With transfers in flight and room for more, the longest a queued row
 * waits to be taken when the network is quiet. */
#define LOOK_AGAIN_MS 5
/* Socket events taken from epoll at a time. */
#define EVENTS_MAX 64
/* A worker with more connections than this waits through libcurl's socket
 * interface (epoll, curl_multi_socket_action); one with fewer in
 * curl_multi_poll, running curl_multi_perform.  Measured with the bare
 * loop (bench/curl_loop.c, one thread, nginx on 127.0.0.1): 50,000 POSTs
 * to a 204 took 1.24-1.35 s by poll and 1.60-1.64 s by socket over 32
 * connections, 1.31 and 1.47 s over 128; 20,000 to a server answering
 * after 50 ms took 1.36-1.38 s by poll and 1.20-1.21 s by socket over
 * 1,000.  Where most connections move at each wake-up, a look at all of
 * them is cheaper than libcurl's bookkeeping per socket; where few do,
 * it is the other way round. */
#define SOCKET_API_FROM 100

/* A destination's rows set aside, oldest first.  dest is theirs while
 * there are any (each holds it); NULL: the group is free. */
struct park {
	struct hd__dest *dest;
	hd__job *head, *tail;
};

struct slot {
	void *conn; /* the transport's, with its easy handle */
	hd__job *job;
	struct slot *next_free;
};

struct worker {
	hd__engine *eng;
	unsigned index;
	CURLM *multi;
	int epfd;	 /* the sockets libcurl wants watched, and evfd */
	int evfd;	 /* wake-ups: an eventfd */
	double timer_at; /* when libcurl wants its timers run; < 0: never */
	int sockets;	 /* waits through the socket interface */
	struct slot *slots;
	unsigned nslots; /* made */
	unsigned usable; /* may be busy at once: with --streams one a
			    connection until a reply came over HTTP/2 */
	unsigned busy;	 /* in flight */
	unsigned conns;	 /* this worker's share of -c */
	struct slot *free_slots;
	hd__job *waiting; /* taken, not in flight, oldest first */
	hd__job *waiting_tail;
	unsigned held; /* taken and not handed back */
	unsigned cap;  /* held at most, not counting the parked */
	struct park parks[PARK_GROUPS];
	unsigned parked;     /* rows in parks */
	size_t parked_bytes; /* their messages, roughly */
	unsigned park_rows;  /* this worker's share of PARK_ROWS */
	size_t park_bytes;   /* and of PARK_BYTES */
	unsigned park_turn;  /* the group looked at first next time */
};

struct hd__engine {
	hd__sender *s;
	hd__engine_config cfg;
	hd_pool *pool;
	int async; /* the transport has start/finish */
	unsigned threads;
	unsigned slots_total;
	pthread_mutex_t mu;
	struct worker **workers; /* under mu: for wakes */
};

static unsigned share_of(const hd__engine *e, unsigned index)
{
	unsigned c = e->cfg.connections ? e->cfg.connections : 1;

	return c / e->threads + (index < c % e->threads ? 1 : 0);
}

static void close_slots(hd__engine *e, struct worker *w)
{
	for (unsigned i = 0; i < w->nslots; i++)
		e->s->tp->close(w->slots[i].conn);
}

/* ---- the sockets: libcurl says what to watch, epoll watches ----------------
 *
 * A worker with hundreds of connections must not hand all of them to
 * poll(2) and have libcurl look at every transfer each time one socket
 * moves: libcurl tells us each socket's wishes (sock_cb) and its next
 * timer (timer_cb), and we tell it which socket is ready
 * (curl_multi_socket_action), so the work per event does not grow with the
 * connections. */

/* An epoll entry carries the socket and what libcurl asked for on it. */
static uint64_t sock_data(curl_socket_t fd, int what)
{
	return (uint64_t)(uint32_t)fd | (uint64_t)(uint32_t)what << 32;
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *ud,
		   void *socketp)
{
	struct worker *w = ud;
	struct epoll_event ev = {0};

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		/* gone already when libcurl closed it first: no matter */
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
		    (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	ev.data.u64 = sock_data(fd, what);
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	return -1;
}

static int timer_cb(CURLM *multi, long ms, void *ud)
{
	struct worker *w = ud;

	(void)multi;
	w->timer_at = ms < 0 ? -1.0 : hd_monotonic() + (double)ms / 1000.0;
	return 0;
}

/* What epoll saw, as libcurl's poll path would have read it: an error or
 * hang-up is something to read on a socket that waits for input, and an
 * error on one that only writes. */
static int sock_action(uint32_t events, int what)
{
	int act = 0;

	if (events & EPOLLIN)
		act |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		act |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		act |= what & CURL_POLL_IN ? CURL_CSELECT_IN : CURL_CSELECT_ERR;
	return act;
}

static void drain_evfd(struct worker *w)
{
	uint64_t count;

	/* only to end the wait; the counter starts again */
	(void)!read(w->evfd, &count, sizeof(count));
}

/* Waits up to ms for a socket, the timer or a wake-up, and lets libcurl
 * do what became possible. */
static void wait_and_run(struct worker *w, int ms)
{
	struct epoll_event ev[EVENTS_MAX];
	int n = epoll_wait(w->epfd, ev, EVENTS_MAX, ms), running;

	for (int i = 0; i < n; i++) {
		curl_socket_t fd = (curl_socket_t)(uint32_t)ev[i].data.u64;
		int what = (int)(ev[i].data.u64 >> 32);
		if (fd == w->evfd) {
			drain_evfd(w);
			continue;
		}
		curl_multi_socket_action(
		    w->multi, fd, sock_action(ev[i].events, what), &running);
	}
	if (w->timer_at >= 0 && hd_monotonic() >= w->timer_at) {
		w->timer_at = -1.0;
		curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0,
					 &running);
	}
}

/* The same for a worker with few connections: poll them all, with the
 * eventfd beside them, and let libcurl look at every transfer. */
static void poll_and_run(struct worker *w, int ms)
{
	struct curl_waitfd wake = {w->evfd, CURL_WAIT_POLLIN, 0};
	int running;

	curl_multi_poll(w->multi, &wake, 1, ms, NULL);
	if (wake.revents)
		drain_evfd(w);
	if (w->busy)
		curl_multi_perform(w->multi, &running);
}

static int add_evfd(struct worker *w)
{
	struct epoll_event ev = {0};

	ev.events = EPOLLIN;
	ev.data.u64 = sock_data(w->evfd, 0);
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
}

static void close_fds(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
}

/* The multi handle of an asynchronous worker: its sockets watched
 * through epfd, at most the worker's share of connections. */
static hd_status multi_new(struct worker *w, unsigned streams, hd_error *err)
{
	w->multi = curl_multi_init();
	if (!w->multi)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	w->sockets = w->conns > SOCKET_API_FROM;
	if (w->sockets) {
		curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
		curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
		curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
		curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	}
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->conns);
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long)w->conns);
	if (streams > 1) {
		curl_multi_setopt(w->multi, CURLMOPT_PIPELINING,
				  (long)CURLPIPE_MULTIPLEX);
		curl_multi_setopt(w->multi, CURLMOPT_MAX_CONCURRENT_STREAMS,
				  (long)streams);
	} else {
		curl_multi_setopt(w->multi, CURLMOPT_PIPELINING,
				  (long)CURLPIPE_NOTHING);
	}
	return HD_OK;
}

static hd_status worker_init(void *ctx, unsigned index, void **state,
			     hd_error *err)
{
	hd__engine *e = ctx;
	const hd_transport *tp = e->s->tp;
	unsigned streams = e->cfg.streams > 1 ? e->cfg.streams : 1;
	struct worker *w = calloc(1, sizeof(*w));
	hd_status st = HD_OK;

	if (!w)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	w->eng = e;
	w->index = index;
	w->timer_at = -1.0;
	/* before anything can fail: close_fds knows what was opened */
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->conns = share_of(e, index);
	w->nslots = e->async ? w->conns * streams : 1;
	/* with --streams, one request a connection until a reply shows the
	 * server multiplexes: a worker must not take streams x connections
	 * of rows that an HTTP/1.1 server would make wait in libcurl */
	w->usable = streams > 1 ? w->conns : w->nslots;
	/* room for rows that wait beside the ones in flight, but not a
	 * second thousand of them at -c 1000: memory is per row held */
	w->cap =
	    w->nslots + (w->nslots < WAITING_MAX ? w->nslots : WAITING_MAX);
	w->park_rows = PARK_ROWS / e->threads;
	w->park_bytes = PARK_BYTES / e->threads;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	if (!w->slots) {
		st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		goto fail;
	}
	if (w->epfd < 0 || w->evfd < 0 || add_evfd(w) != 0) {
		st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				  "cannot watch sockets: %s", strerror(errno));
		goto fail;
	}
	/* a synchronous worker sends in curl_easy_perform and waits only for
	 * wake-ups: a multi handle would hold two descriptors of its own in
	 * each of -c threads */
	if (e->async && (st = multi_new(w, streams, err)) != HD_OK)
		goto fail;
	for (unsigned i = 0; i < w->nslots; i++) {
		st = tp->open(e->s->tcfg, index, &w->slots[i].conn, err);
		if (st != HD_OK) {
			w->nslots = i;
			goto fail;
		}
		w->slots[i].next_free = w->free_slots;
		w->free_slots = &w->slots[i];
	}
	pthread_mutex_lock(&e->mu);
	e->workers[index] = w;
	pthread_mutex_unlock(&e->mu);
	*state = w;
	return HD_OK;
fail:
	close_slots(e, w);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	close_fds(w);
	free(w->slots);
	free(w);
	return st;
}

static void worker_fini(void *ctx, unsigned index, void *state)
{
	hd__engine *e = ctx;
	struct worker *w = state;

	pthread_mutex_lock(&e->mu);
	e->workers[index] = NULL;
	pthread_mutex_unlock(&e->mu);
	close_slots(e, w);
	/* its connections are closed here: sock_cb still needs epfd */
	if (w->multi)
		curl_multi_cleanup(w->multi);
	close_fds(w);
	free(w->slots);
	free(w);
}

static void wake(void *ctx, unsigned index)
{
	hd__engine *e = ctx;

	pthread_mutex_lock(&e->mu);
	if (e->workers[index]) {
		uint64_t one = 1;

		/* fails only when the counter is full: awake anyway */
		(void)!write(e->workers[index]->evfd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&e->mu);
}

void hd__engine_wake_all(void *ctx)
{
	hd__engine *e = ctx;

	for (unsigned i = 0; i < e->threads; i++)
		wake(e, i);
}

/* ---- one worker's loop -------------------------------------------------- */

static void hand_back(struct worker *w, hd__job *j)
{
	hd__job_close(j);
	w->held--;
	hd_pool_done(w->eng->pool, &j->task);
}

/* Rows wait in the order they were taken, so they go in list order. */
static void wait_push(struct worker *w, hd__job *j)
{
	j->next_ = NULL;
	if (w->waiting_tail)
		w->waiting_tail->next_ = j;
	else
		w->waiting = j;
	w->waiting_tail = j;
}

/* An attempt has its result in j->res: what next. */
static void attempt_over(struct worker *w, hd__job *j, double now)
{
	if (hd__job_attempt_done(j, now) == HD__JOB_DONE)
		hand_back(w, j);
	else
		wait_push(w, j);
}

/* Starts j's attempt on a free slot.  Returns 1 when it is in flight. */
static int start(struct worker *w, hd__job *j, double now)
{
	const hd_transport *tp = w->eng->s->tp;
	struct slot *sl = w->free_slots;
	CURL *easy;

	if (!w->eng->async) {
		/* synchronous: the attempt happens here and now */
		tp->send(sl->conn, &j->msg, j->row, &j->res);
		attempt_over(w, j, hd_monotonic());
		return 0;
	}
	easy = tp->start(sl->conn, &j->msg, j->row, &j->res);
	if (!easy) {
		attempt_over(w, j, now);
		return 0;
	}
	curl_easy_setopt(easy, CURLOPT_PRIVATE, sl);
	if (curl_multi_add_handle(w->multi, easy) != CURLM_OK) {
		tp->finish(sl->conn, CURLE_OUT_OF_MEMORY, &j->res);
		attempt_over(w, j, now);
		return 0;
	}
	w->free_slots = sl->next_free;
	sl->job = j;
	w->busy++;
	return 1;
}

/* Has j begun taking what its attempt needs (a place at its
 * destination, the pacer's slot, its start in the journal)?  Such a job
 * holds one of the worker's slots: a worker never has more rows on their
 * way out than slots, so after a crash at most one row per slot is
 * without an outcome. */
static int claiming(const hd__job *j)
{
	return j->dest_in || j->booked || j->started;
}

/* ---- rows set aside for a destination at its limit ---------------------- */

/* Roughly the memory a taken row keeps. */
static size_t job_bytes(const hd__job *j)
{
	return sizeof(*j) + (j->msg.kind == HD_MSG_EMAIL
				 ? j->msg.email.len
				 : j->msg.http.body_len);
}

/* May the worker take another row?  Those set aside do not count: they
 * wait for their destination, not for this worker's slots. */
static int has_room(const struct worker *w)
{
	return w->held - w->parked < w->cap;
}

/* Sets j, just blocked by its destination, aside with that destination's
 * other rows.  Returns 0 when there is no room: j then waits among the
 * others.  A run with one destination has no others to let by. */
static int park(struct worker *w, hd__job *j)
{
	size_t bytes = job_bytes(j);
	struct park *g = NULL;

	if (w->parked >= w->park_rows ||
	    w->parked_bytes + bytes > w->park_bytes ||
	    !hd__dests_several(w->eng->s->dests))
		return 0;
	for (unsigned i = 0; i < PARK_GROUPS; i++) {
		struct park *p = &w->parks[i];
		if (p->dest == j->dest) {
			g = p;
			break;
		}
		if (!p->dest && !g)
			g = p;
	}
	if (!g)
		return 0;
	g->dest = j->dest;
	j->next_ = NULL;
	if (g->tail)
		g->tail->next_ = j;
	else
		g->head = j;
	g->tail = j;
	w->parked++;
	w->parked_bytes += bytes;
	return 1;
}

static hd__job *unpark(struct worker *w, struct park *g)
{
	hd__job *j = g->head;

	g->head = j->next_;
	if (!g->head) {
		g->tail = NULL;
		g->dest = NULL;
	}
	w->parked--;
	w->parked_bytes -= job_bytes(j);
	return j;
}

/* Tries the oldest row of each destination set aside, and the ones after
 * it while they may go (all of them when the destination was paused): a
 * look at the destination table per destination, not per row, while they
 * stay at their limits.  claimed: the waiting rows that hold a slot. */
static void advance_parks(struct worker *w, double now, unsigned claimed,
			  int stopped, double *next)
{
	for (unsigned k = 0; k < PARK_GROUPS && w->parked; k++) {
		struct park *g = &w->parks[(w->park_turn + k) % PARK_GROUPS];

		while (g->head) {
			hd__job *j = g->head;
			double at = now;
			int r;

			if (stopped && hd__job_stop_untried(j)) {
				hand_back(w, unpark(w, g));
				continue;
			}
			if (!w->free_slots || w->busy + claimed >= w->usable)
				break; /* a slot frees up: we look again */
			r = hd__job_try_start(j, now, &at);
			if (r == HD__JOB_BLOCKED) {
				if (at < *next)
					*next = at;
				break;
			}
			unpark(w, g);
			if (r == HD__JOB_DONE) {
				hand_back(w, j);
			} else if (r == HD__JOB_WAIT) {
				claimed += claiming(j);
				wait_push(w, j);
				if (at < *next)
					*next = at;
			} else if (!start(w, j, now)) {
				*next = now; /* over at once */
			}
		}
	}
	/* the first look goes to each destination in turn */
	w->park_turn = (w->park_turn + 1) % PARK_GROUPS;
}

/* Goes through the waiting jobs and those set aside: starts what may
 * start, hands back what ended; returns the earliest time one of them
 * wants looking at again. */
static double advance(struct worker *w, hd_pool *p, double now)
{
	double next = now + MAX_WAIT_MS / 1000.0;
	hd__job *list = w->waiting, *j;
	unsigned claimed = 0;
	/* rows taken but not yet tried end as the queued ones did */
	int stopped = hd_pool_stopping(p) == HD_POOL_NOW;

	for (j = list; j; j = j->next_)
		claimed += claiming(j);
	w->waiting = w->waiting_tail = NULL;
	while ((j = list) != NULL) {
		double at = now;
		int was = claiming(j), r;

		list = j->next_;
		if (stopped && hd__job_stop_untried(j)) {
			hand_back(w, j);
			continue;
		}
		if (!w->free_slots ||
		    (!was && w->busy + claimed >= w->usable)) {
			wait_push(w, j); /* a slot frees up: we look again */
			continue;
		}
		r = hd__job_try_start(j, now, &at);
		if (r == HD__JOB_DONE) {
			claimed -= was;
			hand_back(w, j);
		} else if (r == HD__JOB_WAIT || r == HD__JOB_BLOCKED) {
			claimed += claiming(j) - was;
			if (r == HD__JOB_WAIT || !park(w, j))
				wait_push(w, j);
			if (at < next)
				next = at;
		} else {
			claimed -= was;
			if (!start(w, j, now))
				next = now; /* over at once */
		}
	}
	if (w->parked)
		advance_parks(w, now, claimed, stopped, &next);
	return next;
}

/* Takes jobs from the pool while there is room.  Returns 0 once the pool
 * says no more will come. */
static int take(struct worker *w, hd_pool *p, double now)
{
	while (has_room(w)) {
		hd_task *t;
		/* with transfers in flight the network wakes us soon
		 * enough: no need for the pool to, at a syscall a row */
		hd_status st = hd_pool_take(p, w->index, &t,
					    w->busy ? HD_POOL_NO_WAKE : 0);
		hd__job *j;

		if (st == HD_ESTOPPED)
			return 0;
		if (st != HD_OK)
			break;
		j = (hd__job *)t;
		w->held++;
		if (hd__job_open(j, now) == HD__JOB_DONE)
			hand_back(w, j);
		else
			wait_push(w, j);
	}
	return 1;
}

/* The transfers libcurl finished. */
static void harvest(struct worker *w)
{
	const hd_transport *tp = w->eng->s->tp;
	hd__sender *s = w->eng->s;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
		CURL *easy = m->easy_handle;
		CURLcode cc = m->data.result;
		struct slot *sl = NULL;
		long version = 0;
		hd__job *j;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&sl);
		j = sl->job;
		if (w->eng->cfg.streams > 1 && cc == CURLE_OK &&
		    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version) ==
			CURLE_OK) {
			if (version == CURL_HTTP_VERSION_2_0)
				w->usable = w->nslots;
			else
				/* no multiplexing: more requests than
				 * connections would only queue inside
				 * libcurl, their timeouts running */
				atomic_store(&s->no_multiplex, 1);
		}
		/* finished while still in the multi handle: that is where
		 * the transport can reach the connection the transfer used
		 * (CURLINFO_ACTIVESOCKET), to drop one left out of step */
		tp->finish(sl->conn, cc, &j->res);
		curl_multi_remove_handle(w->multi, easy);
		sl->job = NULL;
		sl->next_free = w->free_slots;
		w->free_slots = sl;
		w->busy--;
		attempt_over(w, j, hd_monotonic());
	}
}

static void drive(hd_pool *p, void *ctx, unsigned index, void *state)
{
	struct worker *w = state;
	int more = 1;

	(void)ctx;
	(void)index;
	for (;;) {
		double now = hd_monotonic(), next;
		int ms;

		if (more)
			more = take(w, p, now);
		if (!more && w->held == 0)
			break;
		/* taking renders the rows taken: the clock moved */
		now = hd_monotonic();
		next = advance(w, p, now);
		if (w->timer_at >= 0 && w->timer_at < next)
			next = w->timer_at;
		ms = next <= now ? 0 : (int)((next - now) * 1000.0) + 1;
		if (ms > MAX_WAIT_MS)
			ms = MAX_WAIT_MS;
		/* rows may be waiting in the pool that nobody will wake us
		 * for (see take): look again soon if there is room */
		if (w->busy && has_room(w) && ms > LOOK_AGAIN_MS)
			ms = LOOK_AGAIN_MS;
		/* nothing to do until the network, a timer or a wake-up; an
		 * empty wait returns at once when a wake-up came meanwhile */
		if ((ms > 0 || w->busy) && w->multi && !w->sockets)
			poll_and_run(w, ms);
		else if (ms > 0 || w->busy)
			wait_and_run(w, ms);
		if (w->busy)
			harvest(w);
	}
}

/* ---- the engine ---------------------------------------------------------- */

/* Descriptors a run keeps open besides its workers': the inputs, the
 * report, the journal, the outbox's folder, standard streams, the
 * resolver's sockets. */
#define FDS_RESERVE 32

/* Refuses, before anything is sent, a -c that the process's limit on open
 * files cannot hold: halfway through, the same shortage would look like
 * connections that fail. */
static hd_status check_fds(const hd__engine *e, hd_error *err)
{
	struct rlimit rl;
	/* a dry run opens nothing, but says what the run would need: its
	 * transport drives -c connections from a thread a core and one
	 * more (SMTP), unless it is the outbox or --max-per-connection,
	 * with a thread each */
	const hd_transport *real = e->s->dry_of;
	int sync = e->s->dry && real
		       ? !real->start || e->s->tcfg->max_per_connection > 0
		       : !e->async;
	unsigned long threads = e->s->dry ? e->threads + 1ul : e->threads;
	/* a synchronous worker: its epoll, its eventfd, its connection or
	 * outbox file; an asynchronous one: epoll, eventfd and the multi
	 * handle's pair, and one socket per connection */
	unsigned long need = sync ? 3ul * e->cfg.connections
				  : 4ul * threads + e->cfg.connections;

	need += FDS_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur)
		return HD_OK;
	return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			    "%u connections need about %lu open files and "
			    "this process may open %lu: raise the limit "
			    "(ulimit -n) or lower -c",
			    e->cfg.connections, need,
			    (unsigned long)rl.rlim_cur);
}

hd_status hd__engine_new(hd__sender *s, const hd__engine_config *cfg,
			 hd__engine **out, hd_error *err)
{
	hd__engine *e = calloc(1, sizeof(*e));
	hd_pool_config pc = {0};
	unsigned conns = cfg->connections ? cfg->connections : 1;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	hd_status st;

	*out = NULL;
	if (!e)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	e->s = s;
	e->cfg = *cfg;
	e->cfg.connections = conns;
	/* --max-per-connection counts messages per connection, and in a
	 * multi handle's shared cache a connection is nobody's: such runs
	 * keep one connection per worker, each in curl_easy_perform */
	e->async = s->tp->start != NULL && s->tcfg->max_per_connection <= 0;
	if (!e->async && s->dry)
		/* nothing is sent: a thread a connection would only be
		 * started and stopped (-c 1000: 150 ms for one row) */
		e->threads = cores > 0 ? (unsigned)cores : 1;
	else if (!e->async)
		e->threads = conns;
	else if (cfg->threads)
		e->threads = cfg->threads;
	else
		e->threads = cores > 0 ? (unsigned)cores : 1;
	/* libcurl waits for the reply to an SMTP message's final "." in its
	 * done phase, without tending the thread's other connections: one
	 * thread more than there are cores keeps a core sending meanwhile
	 * (2 cores, -c 10 to smtp-sink: 10,135 -> 12,382 messages/s; over
	 * HTTP it changes nothing) */
	if (e->async && !cfg->threads && s->tp == &hd_transport_smtp)
		e->threads++;
	if (e->threads > conns)
		e->threads = conns;
	e->slots_total =
	    e->async ? conns * (cfg->streams > 1 ? cfg->streams : 1) : conns;
	st = check_fds(e, err);
	if (st != HD_OK) {
		free(e);
		return st;
	}
	e->workers = calloc(e->threads, sizeof(*e->workers));
	if (!e->workers || pthread_mutex_init(&e->mu, NULL) != 0) {
		free(e->workers);
		free(e);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	pc.workers = e->threads;
	pc.queue_capacity =
	    cfg->queue ? cfg->queue : 2 * (size_t)e->slots_total;
	/* enough to keep the workers fed between two looks of the reader;
	 * more only costs memory (a row, its record and its job each) */
	if (pc.queue_capacity > QUEUE_MAX)
		pc.queue_capacity = QUEUE_MAX;
	pc.worker_init = worker_init;
	pc.worker_fini = worker_fini;
	pc.ctx = e;
	pc.drive = drive;
	pc.wake = wake;
	st = hd_pool_new(&pc, &e->pool, err);
	if (st != HD_OK) {
		pthread_mutex_destroy(&e->mu);
		free(e->workers);
		free(e);
		return st;
	}
	*out = e;
	return HD_OK;
}

hd_pool *hd__engine_pool(hd__engine *e)
{
	return e->pool;
}

unsigned hd__engine_slots(const hd__engine *e)
{
	return e->slots_total;
}

unsigned hd__engine_threads(const hd__engine *e)
{
	return e->threads;
}

unsigned hd__engine_connections(const hd__engine *e)
{
	return e->async ? e->cfg.connections : 0;
}

void hd__engine_free(hd__engine *e)
{
	if (!e)
		return;
	hd_pool_free(e->pool);
	pthread_mutex_destroy(&e->mu);
	free(e->workers);
	free(e);
}
