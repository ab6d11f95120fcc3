/*
 * summary.h — the short summary of a run: counts by status, attempts,
 * latency p50/p95/p99, errors by code and by domain, the slowest rows.
 * herald report prints it for a report file (stdout); send prints it at
 * its end (stderr), from hd_run_stats today, from every finished row
 * once the run hands them over (see summary_from_run).
 */
#ifndef HERALD_CLI_SUMMARY_H
#define HERALD_CLI_SUMMARY_H

#include "herald.h"
#include "report_stats.h"

#include <stdio.h>

#define SUMMARY_GROUPS 10 /* error groups shown per grouping */

/* Counts and attempts from a run's stats into s (the rest stays as
 * hd_report_stats_add left it). */
void summary_from_run(hd_report_stats *s, const hd_run_stats *rs);

/* The counts line: "N rows: A sent, B failed, C invalid, D skipped, E
 * not-attempted[, F uncertain][, G dry-run]; K attempts", with dry-run
 * first instead of sent for a dry run. */
void summary_counts(FILE *fp, const hd_report_stats *s, int dry);

/* Everything after the counts line, each line starting with prefix:
 * latency, time span (with the rate over it when span_rate is set),
 * error groups, up to slowest slowest rows.  Lines with nothing to say
 * are left out. */
void summary_details(FILE *fp, const char *prefix, const hd_report_stats *s,
		     size_t slowest, int span_rate);

#endif
