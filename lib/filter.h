/*
 * filter.h — which rows a run takes, and why it leaves the others out
 * (internal).
 *
 * One function decides, for every row and in both passes, whether the row
 * goes to the workers or is reported without being sent, and says why.
 * In this order, the first that applies wins:
 *
 *   outside --skip/--limit     skipped    "outside --skip/--limit"
 *   another shard (--shard)    skipped    "shard K/N": K is the row's
 *                                         shard (shard.h)
 *   the journal: sent          skipped    "sent earlier, <time>"
 *   the journal: uncertain     uncertain  "held back: ..." with
 *                                         --on-uncertain skip; taken
 *                                         again (and noted) with resend
 *   --suppress FILE            skipped    "suppressed (FILE)": the key, or
 *                                         for an envelope key any of its
 *                                         addresses, is on the list
 *   --only-failed REPORT       skipped    "not failed in REPORT", or held
 *                                         back like the journal's
 *                                         uncertain rows
 *   send_at in the future      skipped    "not due until <send_at>"
 *                                         (verdict.later: a stream
 *                                         hands it out again)
 *   duplicate key              skipped    "duplicate key: ..."
 *
 * A row with no key is taken (validation reports it) unless it is outside
 * the range or in another shard.
 *
 * Every decision but the last is a pure function of the row, its key and
 * the run's fixed settings (the clock is read once, when the run starts),
 * so both passes take the same rows.  The duplicate check needs both: the
 * validation pass notes every taken key, the sending pass finds the
 * repeats (dedupe.h says how memory stays flat).
 *
 * A run that reads once (HD__PASS_ONE) decides each row when it comes:
 * with HD__DEDUPE_RECENT a key is a duplicate when it is among the last
 * HD_RECENT_KEYS keys taken (dedupe.h, hd_recent); older repeats are
 * found by a live journal when the first was sent (journal.h, LIVE).
 * HD__DEDUPE_NONE leaves repeats to the journal and the caller: herald
 * consume holds an entry back while another with its key is in flight.
 * The clock is read at every decision in such a run, which may last for
 * days.
 *
 * Not thread-safe: the coordinating thread alone calls it.
 */
#ifndef HD_FILTER_H
#define HD_FILTER_H

#include "herald.h"
#include "journal.h"
#include "key.h"
#include "report.h"

#include <jansson.h>

typedef struct hd__filter hd__filter;

typedef struct hd__filter_config {
	long skip;		 /* leave out rows 1..skip */
	long limit;		 /* then take at most this many; 0: all */
	hd_journal *journal;	 /* or NULL; borrowed */
	int hold_uncertain;	 /* --on-uncertain skip */
	const char *only_failed; /* a report path, or NULL */
	const struct hd_suppress *suppress; /* or NULL; borrowed */
	const char *suppress_name;	    /* its path, for the reason */
	const hd__keyspec *keys; /* how report keys become identities */
	double now;		 /* the run's start, seconds since the epoch */
	long shard_index, shard_count; /* --shard K/N; count 0: none */
	int dedupe;		       /* hd__dedupe_mode */
} hd__filter_config;

/* How duplicate keys are found. */
typedef enum hd__dedupe_mode {
	HD__DEDUPE_PASSES = 0, /* two passes: every repeat, exactly */
	HD__DEDUPE_RECENT,     /* one pass: repeats among the recent keys */
	HD__DEDUPE_NONE,       /* not here (the journal, the caller) */
} hd__dedupe_mode;

typedef enum hd__pass {
	HD__PASS_VALIDATE = 1, /* the first pass: notes keys */
	HD__PASS_SEND = 2,     /* the second: finds duplicates */
	HD__PASS_ONE = 3,      /* the only pass: decides as rows come */
} hd__pass;

/* A row's due time (hd__due_of). */
typedef struct hd__due {
	double at;     /* seconds since the epoch; 0: none */
	char text[64]; /* as the row gives it (cut), for the report */
} hd__due;

/* What to do with one row. */
typedef struct hd__verdict {
	int take;	      /* 1: validate (pass 1) or send (pass 2) it */
	int resend;	      /* taken although it may have arrived before */
	int later;	      /* not taken yet: not due (send_at) */
	hd_row_status status; /* when not taken: how the report shows it */
	char reason[400];     /* when not taken: why, for the report; when
				 resend: what the earlier run left */
} hd__verdict;

/* Reads cfg->only_failed when given: HD_ENOENT, HD_EPARSE (naming the
 * report), HD_ENOMEM. */
hd_status hd__filter_new(const hd__filter_config *cfg, hd__filter **out,
			 hd_error *err);

/* Decides for row (1-based) whose key identity is id (NULL when the row
 * has no key: such a row is taken, and validation reports it) and whose
 * due time is due (NULL: none).  HD_OK
 * with *v filled, HD_EIO (the journal cannot be read back) or
 * HD_ENOMEM. */
hd_status hd__filter_decide(hd__filter *f, hd__pass pass, long row,
			    const char *id, const hd__due *due, hd__verdict *v,
			    hd_error *err);

/* Is row outside --skip/--limit (so that it need not even be read
 * further)? */
int hd__filter_outside(const hd__filter *f, long row);

/* The list holds about rows rows in all (an estimate): the filter of
 * keys for duplicates sizes itself by the rows of them it will take. */
void hd__filter_expect(hd__filter *f, long rows);

/* Rows of --only-failed's report that are to go again (for a note). */
size_t hd__filter_only_count(const hd__filter *f);

void hd__filter_free(hd__filter *f);

/* The row's send_at as seconds since the epoch: HD_OK with *due 0 when
 * the record has none (or it is empty), HD_EPARSE with err filled when it
 * is not an RFC 3339 date-time ("2026-12-03T10:00:00Z", any offset,
 * fractions of a second allowed). */
hd_status hd__due_time(json_t *record, double *due, hd_error *err);

/* hd__due_time of record, kept for the filter, so that the record itself
 * need not be: at 0 when it has none or it is not valid (validation says
 * so), text as the record gives it. */
void hd__due_of(json_t *record, hd__due *d);

#endif
