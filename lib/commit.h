/*
 * commit.h — the one thread that writes what a run records (internal).
 *
 * SYNOPSIS
 *	hd__commit_start(report, journal, &c, &err);
 *	hd__commit_begin(c, row, id, attempt);	(a worker, before a send:
 *						 waits until it is on disk)
 *	hd__commit_retry(c, row, id, attempt);	(that attempt failed)
 *	hd__commit_row(c, &row, id);		(a row's outcome)
 *	hd__commit_close(c, &err);		(drains, joins, frees)
 *
 * DESCRIPTION
 *	A run's report lines and journal records are written by a thread of
 *	their own, the committer, which alone touches those files.  Other
 *	threads hand it copies through a bounded queue (strings are copied,
 *	so the caller's memory is free again at once); a producer waits
 *	only while the queue is full.  Everything is written in the order
 *	it was queued.
 *
 *	Group commit: the committer takes everything queued at once, writes
 *	the journal records of that batch in one write and makes them
 *	durable with one fdatasync, then wakes every worker whose start
 *	record was in the batch.  So a worker waits for at most the batch
 *	being written and its own, never for each other worker's flush, and
 *	one flush covers as many rows as were in flight.
 *
 * OWNERSHIP
 *	The report and the journal stay the caller's (it opens and closes
 *	them); the committer only writes to them between start and close.
 *
 * THREAD-SAFETY
 *	begin, retry and row may be called from any threads at once.  start
 *	and close from the coordinating thread; close must be the last call.
 *
 * ERRORS
 *	A failed report write is kept: later rows are still taken (and
 *	dropped) and close returns HD_EIO.  A failed journal write or sync
 *	makes every later begin return HD_EIO, so no send starts that the
 *	journal could not record.
 */
#ifndef HD_COMMIT_H
#define HD_COMMIT_H

#include "herald.h"
#include "journal.h"
#include "report.h"

#include <stdint.h>

typedef struct hd__commit hd__commit;

/* Starts the committer thread.  report and journal may be NULL. */
hd_status hd__commit_start(hd_report *report, hd_journal *journal,
			   hd__commit **out, hd_error *err);

/* Records that attempt of row (key identity id) starts, and returns once
 * that is on disk.  HD_OK at once when there is no journal; HD_EIO when
 * the journal cannot be written (send nothing then). */
hd_status hd__commit_begin(hd__commit *c, long row, const char *id,
			   int attempt);

/* The same without waiting, for an event loop: queues the start and
 * sets *seq; hd__commit_durable then says whether it is on disk.  HD_OK
 * (with *seq 0 when there is no journal: nothing to wait for), or
 * HD_ENOMEM. */
hd_status hd__commit_begin_async(hd__commit *c, long row, const char *id,
				 int attempt, uint64_t *seq);

/* 1 when the start (or mark) numbered seq is on disk, 0 not yet, -1
 * never (the journal cannot be written). */
int hd__commit_durable(hd__commit *c, uint64_t seq);

/* A marker after everything queued so far: *seq is its number, and once
 * hd__commit_durable(c, *seq) says 1, every journal record queued before
 * the mark (by any thread) is on disk.  herald consume acknowledges an
 * entry only then.  HD_OK, HD_ENOMEM. */
hd_status hd__commit_mark(hd__commit *c, uint64_t *seq);

/* fn(ctx) is called after every batch that made starts durable (or
 * failed), from the committer thread, outside any lock: to wake event
 * loops waiting for their starts.  Set before the first begin.  Setting
 * it again (NULL too) first waits for a call under way to return, so
 * that the old ctx may be freed right after. */
void hd__commit_on_durable(hd__commit *c, void (*fn)(void *), void *ctx);

/* Records that an attempt failed without delivering (does not wait). */
void hd__commit_retry(hd__commit *c, long row, const char *id, int attempt);

/* Queues one report line (strings copied).  HD_OK, HD_ENOMEM. */
hd_status hd__commit_row(hd__commit *c, const hd_report_row *row);

/* Records row's outcome (status, code, message id, error, at) in the
 * journal, for key identity id; does not wait.  The worker that sent the
 * row calls it before it starts another, so that when its next start is
 * on disk this outcome is too: after a crash, at most one row per worker
 * is without an outcome.  HD_OK, HD_ENOMEM. */
hd_status hd__commit_end(hd__commit *c, const hd_report_row *row,
			 const char *id);

/* Writes what is queued, stops the thread and frees c.  HD_EIO with err
 * filled when a write failed.  NULL is allowed. */
hd_status hd__commit_close(hd__commit *c, hd_error *err);

#endif
