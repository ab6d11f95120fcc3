/*
 * progress.h — what the user sees while a run goes: a progress line on a
 * terminal, log lines for invalid and failed rows, the summary at the end.
 * Everything goes to stderr; stdout stays for the report ("-o -") and
 * herald render.
 */
#ifndef HERALD_CLI_PROGRESS_H
#define HERALD_CLI_PROGRESS_H

#include "herald.h"
#include "report.h"
#include "report_stats.h"

#define INVALID_KINDS 10 /* kinds of invalid rows shown one a line */

/* Invalid rows of one kind: the same code, field and message (digits
 * aside), i.e. one mistake however many rows it is in. */
struct invalid_kind {
	char key[400];	  /* code, field, message with digits as '#' */
	char first[1200]; /* its first row's error, as printed */
	long count;
};

#define PROGRESS_NOTES 4

struct progress {
	int bar;   /* draw the progress line */
	int color; /* NO_COLOR not set and stderr is a terminal */
	int quiet;
	int verbose;
	int drawn; /* a progress line is on screen */
	long skip; /* --skip: rows reported skipped before any is taken */
	/* the last notes printed, not to be said twice (the interrupt
	 * notice, then "interrupted again", then the run's end repeating
	 * the first) */
	char notes[PROGRESS_NOTES][256];
	unsigned nnotes;       /* notes recorded, the oldest overwritten */
	hd_report_stats *rows; /* every finished row, for the summary */
	long invalid_seen;
	struct invalid_kind kinds[INVALID_KINDS]; /* held until every row
						     is checked */
	size_t nkinds;
	long invalid_other;  /* rows of kinds beyond INVALID_KINDS */
	int skip_invalid;    /* the run goes on after invalid rows */
	long first_fail_row; /* the first failed row, for the summary */
	const char *report;  /* the report's path, or NULL */
	char first_fail[600];
};

void progress_init(struct progress *p, int mode_always, int mode_never,
		   int quiet, int verbose, long skip);
/* Rows taken (inside --skip/--limit) that have an outcome, out of
 * s->total. */
long progress_taken_done(const struct progress *p, const hd_run_stats *s);
/* The terminal's width: TIOCGWINSZ on stderr, else $COLUMNS, else 80. */
int progress_width(void);
/* 1 when text was already printed as a note (the run's final error
 * repeating its interrupt notice). */
int progress_said(const struct progress *p, const char *text);
/* The hd_event_fn of a run. */
void progress_event(void *ctx, const hd_event *ev);
/* Prints the invalid rows held back, one line per kind with how many
 * rows have it ("...; the same in 4999 more rows").  With refused (the
 * run sent nothing because of them) and one kind only, that line also
 * says the verdict, and --skip-invalid is suggested only when some taken
 * row (s->total) is valid.  Returns 1 when the verdict was said. */
int progress_flush_invalid(struct progress *p, int refused,
			   const hd_run_stats *s);
/* Clears the progress line. */
void progress_end(struct progress *p);
/* A row that got its outcome, for the summary's latency, error groups
 * and time span (the counts come from hd_run_stats): the run's
 * HD_EVENT_ROW hands each row here as it goes to the report. */
void progress_row(struct progress *p, const hd_report_row *row);
/* Frees what progress_init took. */
void progress_free(struct progress *p);
/* The summary (summary.h's, on stderr); check says "valid" rather than
 * counting dry-run rows; first_failure adds a line naming why the first
 * failed row failed (when the run's own error line does not already say
 * it). */
void progress_summary(struct progress *p, const hd_run_stats *s, int dry,
		      int check, int first_failure);

#endif
