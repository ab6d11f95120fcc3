/*
 * report_stats.h — the figures of a run, gathered row by row from report
 * rows, in memory that does not grow with the number of rows (internal).
 *
 * SYNOPSIS
 *	hd_report_stats *s;
 *	hd_report_stats_new(10, &s);
 *	while (... a row ...) hd_report_stats_add(s, &row);
 *	hd_report_stats_percentile(s, 0.95) ... s->by_status[HD_ROW_SENT] ...
 *	hd_report_stats_free(s);
 *
 * DESCRIPTION
 *	Counts by status, attempts, and for the rows that were attempted
 *	(attempts > 0) their "ms" in a fixed histogram: exact below
 *	HD_STATS_EXACT_MS, then 64 buckets per power of two (within 1.6%),
 *	so p50/p95/p99 need no list of values.  Percentiles are by nearest
 *	rank: the smallest value that at least q of the values do not
 *	exceed, given as the lower edge of its bucket.
 *
 *	Rows that failed or are uncertain are grouped by reply code and by
 *	recipient domain (the part of an email key after '@', lower case;
 *	the host of a URL key; else "(no domain)").  Each grouping keeps at
 *	most HD_STATS_GROUPS names (the "space-saving" heavy-hitter count):
 *	exact while there are no more distinct names than that; beyond, a
 *	name's count may be too high by at most its "over" figure, and the
 *	names with the most rows are still found.
 *
 *	The slowest rows are kept in a min-heap of the size asked for.  The
 *	timeline counts sent and failed rows by "at" in HD_STATS_BINS bins
 *	of one second; when a run is longer, bins double in width (pairs
 *	merge), so a long run still fits.
 *
 * OWNERSHIP
 *	Strings of added rows are copied (cut to fit); getters borrow.
 *	Not thread-safe: one owner adds and reads.
 */
#ifndef HD_REPORT_STATS_H
#define HD_REPORT_STATS_H

#include "report.h"

#define HD_STATS_EXACT_MS 1024
#define HD_STATS_BUCKETS (HD_STATS_EXACT_MS + 32 * 64)
#define HD_STATS_GROUPS 256
#define HD_STATS_BINS 3600
#define HD_STATS_MAX_SLOWEST 1000
#define HD_STATS_STATUSES 8 /* hd_row_status values, 0 unused */

typedef struct hd_stats_group {
	char name[96];	  /* "550", "none", "example.com" */
	long count;	  /* rows (may be too high by over) */
	long over;	  /* 0 while the count is exact */
	long first_row;	  /* first row seen with this name */
	char sample[200]; /* that row's error */
} hd_stats_group;

typedef struct hd_stats_slow {
	long row, ms, code;
	hd_row_status status;
	char key[128];
	char error[200];
} hd_stats_slow;

typedef struct hd_stats_grouping {
	hd_stats_group g[HD_STATS_GROUPS];
	size_t n;
	int overflowed; /* more distinct names than fit were seen */
} hd_stats_grouping;

typedef struct hd_report_stats {
	long rows;
	long by_status[HD_STATS_STATUSES];
	long attempts;	/* all attempts, retries included */
	long attempted; /* rows with attempts > 0 */
	long max_ms;
	long hist[HD_STATS_BUCKETS];
	hd_stats_grouping by_code, by_domain;
	/* slowest: a min-heap on ms of at most want entries */
	hd_stats_slow *slow;
	size_t nslow, want;
	/* timeline: bin i covers [t0 + i*width, t0 + (i+1)*width) */
	double first_at, last_at; /* 0: no row had "at" */
	double t0, width;
	size_t used; /* bins 0..used-1 may be non-zero */
	long sent_bins[HD_STATS_BINS];
	long failed_bins[HD_STATS_BINS];
} hd_report_stats;

/* slowest: how many slowest rows to keep (at most
 * HD_STATS_MAX_SLOWEST).  HD_ENOMEM or HD_EINVAL. */
hd_status hd_report_stats_new(size_t slowest, hd_report_stats **out);
void hd_report_stats_add(hd_report_stats *s, const hd_report_row *row);
void hd_report_stats_free(hd_report_stats *s);

/* The q-quantile (0 < q <= 1) of attempted rows' ms; -1 when none. */
long hd_report_stats_percentile(const hd_report_stats *s, double q);

/* Copies the groups into out, most rows first (ties: name order);
 * returns how many (at most max). */
size_t hd_report_stats_groups(const hd_stats_grouping *g, hd_stats_group *out,
			      size_t max);

/* Copies the slowest rows into out, slowest first (ties: lower row
 * first); returns how many. */
size_t hd_report_stats_slowest(const hd_report_stats *s, hd_stats_slow *out,
			       size_t max);

/* The domain or host a key names, as described above, into out. */
void hd_report_stats_domain(const char *key, char *out, size_t size);

#endif
