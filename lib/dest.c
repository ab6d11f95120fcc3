/* dest.c — the destination table: limits, pauses, pacing per host. */
#include "dest.h"

#include "dedupe.h"
#include "ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024	    /* hash chains (a power of two) */
#define PAUSE_AFTER 3	    /* troubles in a row that pause */
#define PAUSE_FIRST 10.0    /* seconds */
#define PAUSE_LONGEST 300.0 /* seconds */

struct hd__dest {
	hd__dest *chain;	 /* next in its bucket */
	hd__dest *older, *newer; /* the idle list, while refs == 0 */
	int refs;		 /* holders (rows that got it) */
	long inflight;		 /* sends begun, not ended */
	int streak;		 /* troubles in a row */
	double paused_until;	 /* monotonic; 0: not paused */
	double pause_len;	 /* the next pause's length */
	int probing;		 /* after a pause: one send at a time */
	char last_error[200];	 /* the trouble that paused it */
	hd_ratelimit *rl;	 /* its own pacing, once slowed; or NULL */
	uint64_t hash;
	char key[];
};

struct hd__dests {
	pthread_mutex_t mu;
	hd__dests_config cfg;
	hd__dest *bucket[BUCKETS];
	hd__dest *oldest, *newest; /* idle entries, least recently used
				      first */
	size_t count;
	int several; /* a second destination was seen */
	char first[136];
};

hd__dests *hd__dests_new(const hd__dests_config *cfg)
{
	hd__dests *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		return NULL;
	}
	t->cfg = *cfg;
	return t;
}

static void free_dest(hd__dest *d)
{
	hd_ratelimit_free(d->rl);
	free(d);
}

void hd__dests_free(hd__dests *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		hd__dest *d = t->bucket[i], *next;
		for (; d; d = next) {
			next = d->chain;
			free_dest(d);
		}
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Idle list: entries nobody holds, candidates for forgetting. */
static void idle_unlink(hd__dests *t, hd__dest *d)
{
	if (d->older)
		d->older->newer = d->newer;
	else if (t->oldest == d)
		t->oldest = d->newer;
	if (d->newer)
		d->newer->older = d->older;
	else if (t->newest == d)
		t->newest = d->older;
	d->older = d->newer = NULL;
}

static void idle_push(hd__dests *t, hd__dest *d)
{
	d->older = t->newest;
	d->newer = NULL;
	if (t->newest)
		t->newest->newer = d;
	else
		t->oldest = d;
	t->newest = d;
}

static void unchain(hd__dests *t, hd__dest *d)
{
	hd__dest **p = &t->bucket[d->hash & (BUCKETS - 1)];

	while (*p != d)
		p = &(*p)->chain;
	*p = d->chain;
	t->count--;
}

hd__dest *hd__dests_get(hd__dests *t, const char *key)
{
	size_t n = strlen(key);
	uint64_t h = hd_key_hash(key, n);
	hd__dest *d;

	pthread_mutex_lock(&t->mu);
	for (d = t->bucket[h & (BUCKETS - 1)]; d; d = d->chain)
		if (d->hash == h && strcmp(d->key, key) == 0)
			break;
	if (d) {
		if (d->refs++ == 0)
			idle_unlink(t, d);
		pthread_mutex_unlock(&t->mu);
		return d;
	}
	/* forget the least recently used idle one when full */
	if (t->count >= HD__DESTS_MAX && t->oldest) {
		hd__dest *old = t->oldest;
		idle_unlink(t, old);
		unchain(t, old);
		free_dest(old);
	}
	d = calloc(1, sizeof(*d) + n + 1);
	if (d) {
		memcpy(d->key, key, n + 1);
		d->hash = h;
		d->refs = 1;
		d->pause_len = PAUSE_FIRST;
		d->chain = t->bucket[h & (BUCKETS - 1)];
		t->bucket[h & (BUCKETS - 1)] = d;
		t->count++;
		if (!t->first[0])
			snprintf(t->first, sizeof(t->first), "%s", key);
		else if (strcmp(t->first, key) != 0)
			t->several = 1;
	}
	pthread_mutex_unlock(&t->mu);
	return d;
}

void hd__dests_put(hd__dests *t, hd__dest *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&t->mu);
	if (--d->refs == 0)
		idle_push(t, d);
	pthread_mutex_unlock(&t->mu);
}

int hd__dests_several(hd__dests *t)
{
	int s;

	pthread_mutex_lock(&t->mu);
	s = t->several;
	pthread_mutex_unlock(&t->mu);
	return s;
}

int hd__dest_begin(hd__dests *t, hd__dest *d, double now, char *why,
		   size_t size)
{
	long limit = t->cfg.limit;
	int r = HD__DEST_GO;

	pthread_mutex_lock(&t->mu);
	if (!limit && t->several)
		limit = t->cfg.fair;
	if (d->paused_until > now) {
		snprintf(why, size,
			 "%s paused for %.0f s more after %d failures in a row "
			 "(the last: %s); not tried",
			 d->key, d->paused_until - now, PAUSE_AFTER,
			 d->last_error);
		r = HD__DEST_PAUSED;
	} else if ((limit > 0 && d->inflight >= limit) ||
		   (d->probing && d->inflight > 0)) {
		r = HD__DEST_WAIT;
	} else {
		d->inflight++;
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}

double hd__dest_reserve(hd__dests *t, hd__dest *d)
{
	hd_ratelimit *rl;

	pthread_mutex_lock(&t->mu);
	rl = d->rl;
	pthread_mutex_unlock(&t->mu);
	/* rl, once made, lives as long as d, which the caller holds */
	return rl ? hd_ratelimit_reserve(rl) : 0;
}

void hd__dest_end(hd__dests *t, hd__dest *d, int how, const char *error,
		  double now)
{
	pthread_mutex_lock(&t->mu);
	if (d->inflight > 0)
		d->inflight--;
	if (how == HD__DEST_OK) {
		d->streak = 0;
		d->probing = 0;
		d->pause_len = PAUSE_FIRST;
	} else if (d->paused_until > now) {
		/* a send begun before the pause, ending in it: the pause
		 * counted its kind already and must not grow with it */
	} else if (t->several && (++d->streak >= PAUSE_AFTER || d->probing)) {
		/* only beside other destinations: a run with one has its
		 * retries, its pacer and --max-failures instead */
		d->paused_until = now + d->pause_len;
		d->pause_len *= 2;
		if (d->pause_len > PAUSE_LONGEST)
			d->pause_len = PAUSE_LONGEST;
		d->probing = 1;
		d->streak = 0;
		snprintf(d->last_error, sizeof(d->last_error), "%s",
			 error ? error : "");
	}
	pthread_mutex_unlock(&t->mu);
}

int hd__dest_slow_down(hd__dests *t, hd__dest *d, double retry_after)
{
	hd_ratelimit *rl = NULL;
	int alone;

	pthread_mutex_lock(&t->mu);
	alone = t->several;
	if (alone && !d->rl)
		d->rl = hd_ratelimit_new(t->cfg.ceiling);
	rl = d->rl;
	pthread_mutex_unlock(&t->mu);
	if (!alone)
		return 0;
	if (!rl)
		return 0; /* out of memory: the pool slows instead */
	hd_ratelimit_slow_down(rl, retry_after);
	return 1;
}

const char *hd__dest_key(const hd__dest *d)
{
	return d->key;
}

hd_ratelimit *hd__dest_pacer(hd__dests *t, hd__dest *d)
{
	hd_ratelimit *rl;

	pthread_mutex_lock(&t->mu);
	rl = d->rl;
	pthread_mutex_unlock(&t->mu);
	return rl;
}

void hd__dest_success(hd__dests *t, hd__dest *d)
{
	hd_ratelimit *rl;

	pthread_mutex_lock(&t->mu);
	rl = d->rl;
	pthread_mutex_unlock(&t->mu);
	if (rl)
		hd_ratelimit_success(rl);
}
