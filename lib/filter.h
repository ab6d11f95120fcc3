/*
 * filter.h — which rows a run takes, and why it leaves the others out
 * (internal).
 *
 * One function decides, for every row and in both passes, whether the row
 * goes to the workers or is reported without being sent, and says why:
 *
 *   outside --skip/--limit       skipped  "outside --skip/--limit"
 *   duplicate key                skipped  "duplicate key: an earlier row..."
 *
 * The decisions are pure functions of the row, its key and the run's fixed
 * settings, except for the duplicate check, which needs two passes: the
 * validation pass notes every taken key, the sending pass finds the repeats
 * (dedupe.h says how memory stays flat).  So both passes take the same rows.
 *
 * Not thread-safe: the coordinating thread alone calls it.
 */
#ifndef HD_FILTER_H
#define HD_FILTER_H

#include "herald.h"
#include "report.h"

#include <jansson.h>

typedef struct hd__filter hd__filter;

typedef struct hd__filter_config {
	long skip;  /* leave out rows 1..skip */
	long limit; /* then take at most this many; 0: all */
} hd__filter_config;

typedef enum hd__pass {
	HD__PASS_VALIDATE = 1, /* the first pass: notes keys */
	HD__PASS_SEND = 2,     /* the second: finds duplicates */
} hd__pass;

/* What to do with one row. */
typedef struct hd__verdict {
	int take;	      /* 1: validate (pass 1) or send (pass 2) it */
	hd_row_status status; /* when not taken: how the report shows it */
	char reason[240];     /* when not taken: why, for the report */
} hd__verdict;

hd_status hd__filter_new(const hd__filter_config *cfg, hd__filter **out,
			 hd_error *err);

/* Decides for row (1-based) whose key identity is id (NULL when the row
 * has no key: such a row is taken, and validation reports it).  HD_OK with
 * *v filled, or HD_ENOMEM. */
hd_status hd__filter_decide(hd__filter *f, hd__pass pass, long row,
			    const char *id, json_t *record, hd__verdict *v,
			    hd_error *err);

void hd__filter_free(hd__filter *f);

#endif
