/*
 * stream.h — a Redis stream read through a consumer group, as a source
 * (internal; source_stream.c).
 *
 * SYNOPSIS
 *	hd__stream_open(redis, &cfg, &src, &err);  (takes redis)
 *	hd__stream_room(state, n);  hd__stream_wait(state, ms);
 *	hd__stream_tick(state, &err);	  (heartbeats, claims: often)
 *	... hd_source_next / hd__source_where / hd__source_ack ...
 *	hd_source_free(src);
 *
 * DESCRIPTION
 *	Each entry holds one recipient record as a JSON object in one field
 *	(cfg.field, "record").  next() hands out the entries this consumer
 *	was given: first those it held when it last stopped (its own pending
 *	entries, claimed at once), then, while there is room, entries left
 *	pending by other consumers for longer than claim_idle (XPENDING with
 *	IDLE, then XCLAIM: what XAUTOCLAIM does, and it also says whose they
 *	were, so that their journal can be asked), then new ones
 *	(XREADGROUP ... >), as many as hd__stream_room allows, waiting up to
 *	hd__stream_wait's time for some.  HD_EAGAIN when there is none.
 *
 *	An entry is held from its delivery until its outcome: tick() touches
 *	every held entry (a script that XCLAIMs it with JUSTID when this
 *	consumer still owns it), so that a live consumer's entries never look
 *	idle to the others, however long a send takes; only a consumer that
 *	died (or stalled longer than claim_idle) has its entries taken over.
 *
 *	ack(DONE): XACK and the outcome (the report line) added to the
 *	results stream, in one MULTI/EXEC.  ack(AGAIN): the entry is left
 *	pending and no longer touched, so that after claim_idle it comes
 *	back (to any consumer) with its delivery count raised; but when it
 *	has been delivered max_deliveries times, it goes to the dead-letter
 *	stream instead (XADD there, XACK, the outcome to the results stream,
 *	one MULTI/EXEC).  An entry delivered more often than max_deliveries
 *	without an outcome (a consumer that keeps dying on it), and one
 *	whose record field is missing or not a JSON object, goes there at
 *	once, never to the workers.
 *
 *	The group is created (at the stream's first entry, MKSTREAM) when it
 *	does not exist.
 *
 * ERRORS
 *	A lost connection is HD_EINTERRUPTED (redis.h); the entries held stay
 *	pending, for this consumer's next run or for the others.
 */
#ifndef HD_STREAM_H
#define HD_STREAM_H

#include "redis.h"
#include "source.h"

typedef struct hd__stream_config {
	const char *stream;   /* the key */
	const char *group;    /* consumer group */
	const char *consumer; /* this consumer's name */
	const char *field;    /* the field holding the record */
	const char *results;  /* stream for outcomes; NULL: none */
	const char *dead;     /* dead-letter stream */
	long max_deliveries;  /* 0: no limit */
	long claim_idle_ms;   /* entries idle this long are taken over */
} hd__stream_config;

/* Opens the stream as a source (the group created when missing); takes
 * r (freed on failure too).  Strings of cfg are copied. */
hd_status hd__stream_open(hd__redis *r, const hd__stream_config *cfg,
			  hd_source **out, hd_error *err);

/* Entries next() may fetch at most before it is told again. */
void hd__stream_room(void *state, size_t n);

/* How long next() waits for new entries when there are none (0: it
 * does not wait). */
void hd__stream_wait(void *state, long ms);

/* Heartbeats (and claims when due); HD_OK, or a lost connection. */
hd_status hd__stream_tick(void *state, hd_error *err);

/* The consumer an entry this one holds was claimed from; NULL when it
 * was read new or was this consumer's own. */
const char *hd__stream_owner(void *state, const char *where);

/* Counts so far. */
typedef struct hd__stream_counts {
	long read;	/* entries handed out */
	long claimed;	/* of them, taken over from others */
	long dead;	/* sent to the dead-letter stream */
	long malformed; /* of them, with no JSON object in the field */
	long lost;	/* taken by another consumer while held here */
} hd__stream_counts;

void hd__stream_get_counts(void *state, hd__stream_counts *out);

#endif
