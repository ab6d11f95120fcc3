/*
 * wire.h — what every run wires the same way (internal).
 *
 * SYNOPSIS
 *	hd__wire w;
 *	hd__wire_init(&w, cfg);
 *	hd__wire_open_journal(&w, path, campaign, &err);
 *	... w.tmpl, w.src, hd__key_choose(&w.key ...) ...
 *	hd__wire_choose_transport(&w, &err);
 *	hd__wire_set_up_sender(&w, &err);
 *	hd__wire_open_filter(&w, HD__DEDUPE_PASSES, &err);
 *	hd__commit_start(w.report, w.journal, &w.commit, &err);
 *	hd__wire_start_pool(&w, &err);
 *	    ... submit jobs; for each that comes back:
 *	    hd__wire_finish_job(&w, job)  (or hd__wire_job_row + _record)
 *	    hd__wire_check_stops(&w); hd__wire_progress(&w);
 *	hd__wire_stop_pool(&w);
 *	st = hd__wire_finish(&w, st, &err);  (commit, journal, report closed)
 *	hd__wire_cleanup(&w);
 *
 * DESCRIPTION
 *	herald send and check (run.c: two passes over a file, or one) and
 *	herald consume (consume.c: entries of a Redis stream) run the same
 *	pipeline: the journal and the campaign it keeps, the transport, the
 *	sender the workers read (pacer, destinations), the filter, the
 *	engine and its pool, the committer that writes the report and the
 *	journal, the counts and the events the caller sees, the stops
 *	(signals, --max-runtime, the workers' halt).  An hd__wire holds them;
 *	each command sets up its own inputs and loop around it.
 *
 * THREAD-SAFETY
 *	The coordinating thread owns the hd__wire; the workers see only the
 *	hd__sender inside it (send.h says who writes what there).
 */
#ifndef HD_WIRE_H
#define HD_WIRE_H

#include "attempt_log.h"
#include "commit.h"
#include "curl_abort.h"
#include "dest.h"
#include "engine.h"
#include "filter.h"
#include "journal.h"
#include "key.h"
#include "outputs.h"
#include "send.h"
#include "source.h"
#include "suppress.h"
#include "trace.h"

typedef struct hd__wire {
	const hd_run_config *cfg;
	hd__outputs outputs;
	hd_msgtmpl *tmpl;
	hd_source *src;
	hd_report *report;
	hd_journal *journal;
	hd__filter *filter;
	hd__commit *commit;
	hd__engine *engine;
	hd_pool *pool; /* the engine's */
	hd_ratelimit *rl;
	hd__dests *dests;
	hd_suppress *suppress;	   /* --suppress, or NULL */
	hd__attempt_log *attempts; /* the workers' retries and slow-downs */
	hd__trace *trace;	   /* --trace, or NULL */
	hd__keyspec key;
	int key_chosen;
	hd_transport_config tcfg;
	hd__sockets sockets; /* every socket of the run's transfers */
	hd__sender sender;   /* what the workers read */
	char campaign[64];
	double now; /* wall clock when the run started */
	hd_run_stats stats;
	long invalid_found; /* run.c's pass 1 */
	double started, last_progress;
	int stopping; /* no more rows are taken */
	hd_status stop_status;
	char stop_msg[800];
	int write_failed; /* handing a row to the committer failed */
	struct hd__checked *checking; /* run.c's check pass going on, or NULL */
	int told_streams;	      /* "--streams had no effect" was said */
} hd__wire;

/* Zeroes r for cfg: the clock read, the sender and the socket registry
 * made.  hd__wire_cleanup undoes it. */
void hd__wire_init(hd__wire *r, const hd_run_config *cfg);

/* Tells the caller (cfg->on_event). */
void hd__wire_emit(hd__wire *r, hd_event_kind kind, const hd_error *e,
		   const char *text);

/* The retries and slow-downs the workers told since the last time, as
 * events on this thread (attempt_log.h). */
void hd__wire_emit_attempts(hd__wire *r);

/* --trace: opens the file, which the transports' connections then write
 * through hd_transport_config's trace sink; its first line says what the
 * run is.  Nothing without --trace. */
hd_status hd__wire_open_trace(hd__wire *r, hd_error *err);
void hd__wire_note(hd__wire *r, const char *fmt, ...) HD_PRINTF(2, 3);

/* A row an earlier run left uncertain goes again: says so (the first
 * ones by name, then that more follow). */
void hd__wire_note_resend(hd__wire *r, long row, const char *key,
			  const char *why);

/* Counts a row (taken ones towards done, every one by its status) and
 * hands its report line to the committer (rr->at is set here). */
void hd__wire_record(hd__wire *r, hd_report_row *rr, int taken);
void hd__wire_record_simple(hd__wire *r, long row, const char *key,
			    hd_row_status s, const char *error, int taken);

/* The row's key and identity; both NULL, and kerr saying why, when the
 * row has none.  Fails only when out of memory. */
hd_status hd__wire_row_key(hd__wire *r, json_t *rec, long row, char **key,
			   char **id, hd_error *kerr, hd_error *err);

/* No more rows are taken (the first reason stays); stops the pool's
 * queue at once. */
void hd__wire_stop_taking(hd__wire *r, hd_status why, const char *msg);

/* Looks at signals, the clock (--max-runtime) and the workers' halt. */
void hd__wire_check_stops(hd__wire *r);

/* A job that came back: its report line in *rr (pointing into the job),
 * its attempts counted, a failure told to the caller, --suppress-add
 * applied.  The job is still the caller's. */
void hd__wire_job_row(hd__wire *r, hd__job *j, hd_report_row *rr);

/* hd__wire_job_row, then the line recorded, the job freed and the stops
 * looked at. */
void hd__wire_finish_job(hd__wire *r, hd__job *j);

/* Updates elapsed; a progress event at most every 0.2 s. */
void hd__wire_progress(hd__wire *r);

/* Rows the pool's queue holds at most (connections x streams x 2). */
size_t hd__wire_queue(const hd__wire *r);

/* The engine and its pool for the sender; the committer wakes it. */
hd_status hd__wire_start_pool(hd__wire *r, hd_error *err);
void hd__wire_stop_pool(hd__wire *r);

/* The outbox the run writes into, or NULL. */
const char *hd__wire_outbox(const hd_run_config *cfg);

/* The transport for the template and the settings; its check(). */
hd_status hd__wire_choose_transport(hd__wire *r, hd_error *err);

/* What the workers read, fixed from here on (pacer, destinations). */
hd_status hd__wire_set_up_sender(hd__wire *r, hd_error *err);

/* Opens the journal at path (NULL: none) and sets the campaign: the
 * journal's, else campaign, else a new one. */
hd_status hd__wire_open_journal(hd__wire *r, const char *path,
				const char *campaign, hd_error *err);

/* The filter for cfg (skip, limit, shard, journal, suppression list,
 * --only-failed), finding duplicates as dedupe says. */
hd_status hd__wire_open_filter(hd__wire *r, hd__dedupe_mode dedupe,
			       hd_error *err);

/* Ends the committer, the journal and the report; st is the run's status
 * so far, the result its final one (HD_EIO when a write failed). */
hd_status hd__wire_finish(hd__wire *r, hd_status st, hd_error *err);

/* Frees what the wire holds but the committer, journal and report
 * (hd__wire_finish). */
void hd__wire_cleanup(hd__wire *r);

#endif
