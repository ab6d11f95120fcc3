/*
 * engine.h — the workers: a few threads, each driving several connections
 * (internal).
 *
 * SYNOPSIS
 *	hd__engine_new(&sender, &cfg, &engine, &err);
 *	hd_pool *p = hd__engine_pool(engine);	 submit hd__jobs, collect them
 *	hd__engine_free(engine);		 (frees the pool)
 *
 * DESCRIPTION
 *	The pool (pool.h) gets `threads` workers, about one per core (never
 *	more than -c).  Each owns a curl multi handle and its share of the
 *	run's connections: `slots` easy handles, one per request it may have
 *	in flight (connections, times --streams when HTTP/2 multiplexes
 *	them), each made by the transport's open() on the worker's thread and
 *	never shared.  The multi handle's connection cache holds at most the
 *	worker's share of connections, so -c stays the cap on connections
 *	for the whole run.
 *
 *	A worker takes jobs from the pool's bounded queue while it has room
 *	(its slots, plus as many again for rows that wait: a backoff, the
 *	pacer, the journal's flush, a destination at its limit), renders
 *	each once, and starts an attempt whenever a slot is free and the row
 *	may go (send.h decides).  It waits for the network, libcurl's next
 *	timer, or a wake-up on its eventfd (a job queued, the journal's
 *	flush).  A worker with up to SOCKET_API_FROM connections waits in
 *	curl_multi_poll (the eventfd beside libcurl's sockets) and runs
 *	curl_multi_perform; one with more waits in epoll for the sockets
 *	libcurl names (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION) and
 *	runs only the transfers whose socket is ready
 *	(curl_multi_socket_action), so its work per event does not grow with
 *	the connections.  engine.c says what was measured.  Either way one
 *	thread keeps hundreds of slow requests going with no thread per
 *	connection and no hand-off per message.
 *
 *	Transports that work synchronously (outbox, dry run) get one worker
 *	per -c with one slot each: their send() does the work on the worker's
 *	thread, as before.
 *
 * THREAD-SAFETY
 *	new and free from the coordinating thread; the pool as pool.h says.
 *	hd__engine_wake_all from any thread.
 */
#ifndef HD_ENGINE_H
#define HD_ENGINE_H

#include "herald.h"
#include "pool.h"
#include "send.h"

typedef struct hd__engine hd__engine;

typedef struct hd__engine_config {
	unsigned connections; /* -c: connections at most, whole run */
	unsigned streams;     /* requests per connection (HTTP/2); 0, 1:
				 one */
	unsigned threads;     /* 0: one per core, at most connections */
	size_t queue;	      /* rows waiting in the pool's queue at most */
} hd__engine_config;

/* Starts the workers for sender s (which must outlive the engine).
 * Errors as hd_pool_new, or a transport's open(). */
hd_status hd__engine_new(hd__sender *s, const hd__engine_config *cfg,
			 hd__engine **out, hd_error *err);

/* The pool the jobs go through. */
hd_pool *hd__engine_pool(hd__engine *e);

/* Slots (requests in flight at most) of the whole engine. */
unsigned hd__engine_slots(const hd__engine *e);

/* The worker threads, and the connections they may open at most; 0
 * connections when each worker sends on its own (outbox, dry run,
 * --max-per-connection: one thread per connection). */
unsigned hd__engine_threads(const hd__engine *e);
unsigned hd__engine_connections(const hd__engine *e);

/* Wakes every worker: the journal made starts durable.  ctx is the
 * hd__engine (an hd__commit_on_durable callback). */
void hd__engine_wake_all(void *ctx);

/* Stops (drains) the pool, joins the workers, frees everything.  Jobs not
 * collected stay the caller's (pool.h).  NULL is allowed. */
void hd__engine_free(hd__engine *e);

#endif
