/*
 * commit.h — the one thread that writes what a run records (internal).
 *
 * SYNOPSIS
 *	hd__commit_start(report, &c, &err);
 *	hd__commit_row(c, &row);		(any thread; does not wait)
 *	hd__commit_close(c, &err);		(drains, joins, frees)
 *
 * DESCRIPTION
 *	A run's report lines are written by a thread of their own, the
 *	committer, which alone touches the report file.  Other threads hand
 *	it copies through a bounded queue: hd__commit_row copies the row's
 *	strings, so the caller's memory is free again at once, and blocks
 *	only while the queue is full (backpressure on whoever produces rows
 *	faster than the disk takes them).  Lines are written in the order
 *	they were queued.
 *
 * OWNERSHIP
 *	The report stays the caller's (it opens and closes it); the
 *	committer only writes to it between start and close.
 *
 * THREAD-SAFETY
 *	hd__commit_row may be called from any threads at once.  start and
 *	close from the coordinating thread; close must be the last call.
 *
 * ERRORS
 *	A failed write is kept: later rows are still taken (and dropped), and
 *	close returns HD_EIO with the first failure's text.
 */
#ifndef HD_COMMIT_H
#define HD_COMMIT_H

#include "herald.h"
#include "report.h"

typedef struct hd__commit hd__commit;

/* Starts the committer thread for report (may be NULL: rows are then only
 * taken and dropped). */
hd_status hd__commit_start(hd_report *report, hd__commit **out, hd_error *err);

/* Queues one report line (strings copied).  HD_OK, HD_ENOMEM. */
hd_status hd__commit_row(hd__commit *c, const hd_report_row *row);

/* Writes what is queued, stops the thread and frees c.  HD_EIO with err
 * filled when a write failed.  NULL is allowed. */
hd_status hd__commit_close(hd__commit *c, hd_error *err);

#endif
