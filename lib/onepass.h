/*
 * onepass.h — a run over a source read once (internal).
 *
 * SYNOPSIS
 *	(an hd__wire set up: sender, filter with HD__PASS_ONE's dedupe,
 *	 committer started, a live journal)
 *	st = hd__onepass_run(&wire, first, &hooks, &err);
 *
 * DESCRIPTION
 *	Standard input read as it comes (--one-pass) and a Redis stream
 *	(herald consume) cannot be read twice, so there is no first pass to
 *	refuse a broken list before anything goes: every record is checked
 *	on the workers as it comes, and goes or not by itself.
 *
 *	A record read from the source becomes a check job (send.h,
 *	HD__JOB_CHECK): a worker works out its key and renders it.  When it
 *	comes back the filter decides (HD__PASS_ONE), in the order the
 *	records were read, so that of two rows with one key the first goes:
 *	  not taken       reported as the filter says (skipped, uncertain)
 *	  taken, invalid  reported invalid, not sent
 *	  taken, valid    a send job; its outcome is reported as in a file
 *	                  run
 *	While a send is on its way, a record with the same key waits for it
 *	(and is then decided again, the journal knowing the first's
 *	outcome), so one key is never in flight twice.
 *
 *	Every outcome is recorded (report, journal) through the committer;
 *	a source that has someone to tell (a stream: hd__source_acks) is
 *	told only once the journal has it on disk (hd__commit_mark), with
 *	HD__ACK_DONE for a final outcome and HD__ACK_AGAIN for a row that is
 *	to come back: a transient failure, not due yet, or not attempted
 *	because the run stopped.
 *
 *	Records in flight (read and not yet told) are at most the pool's
 *	queue (hd__wire_queue): the source is read only while there is room,
 *	which is how slow sends hold a stream back.
 *
 *	The run ends at the end of the source, or when it stops (a signal,
 *	--max-runtime, the workers' halt, a hook): it then reads no more,
 *	lets the sends in flight end, records and tells every outcome.  A
 *	source error (a broken record in the middle of the input, a lost
 *	connection) stops it the same way and is its result; the rows read
 *	before it were sent, and the report has one more line (row null)
 *	with the error.
 *
 * THREAD-SAFETY
 *	The coordinating thread, as hd__wire.
 */
#ifndef HD_ONEPASS_H
#define HD_ONEPASS_H

#include "wire.h"

/* What the run's hooks may look at. */
typedef struct hd__onepass_view {
	size_t inflight;  /* records read and not yet told */
	double last_read; /* monotonic: when the last record came */
	long read;	  /* records read so far */
} hd__onepass_view;

typedef struct hd__onepass_hooks {
	void *ctx;
	/* Every turn of the loop (a few times a second at least), before
	 * reading: a stream's heartbeats and claims, an idle timeout.
	 * Returns HD_OK; 1 in *stop ends the run as a normal stop; another
	 * status stops it with that error.  May be NULL. */
	hd_status (*tick)(void *ctx, const hd__onepass_view *v, int *stop,
			  hd_error *err);
	/* Before the filter: may decide a record itself (a stream entry
	 * another consumer's journal knows).  Returns 1 with *v filled when
	 * it did, 0 to leave it to the filter.  May be NULL. */
	int (*decide)(void *ctx, const char *where, const char *id,
		      hd__verdict *v);
} hd__onepass_hooks;

/* Runs the wire's source once through the pool; first (taken; may be
 * NULL) is a record read already (to choose the key from), the source's
 * first.  hooks may be NULL.  HD_OK once the source ended or the run
 * stopped (hd__wire's stopping and stop_status then say why), the
 * source's error, HD_ENOMEM. */
hd_status hd__onepass_run(hd__wire *w, json_t *first,
			  const hd__onepass_hooks *hooks, hd_error *err);

#endif
