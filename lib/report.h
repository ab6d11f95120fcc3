/*
 * report.h — the results report: one line (JSONL) or row (CSV) per input
 * row, as DESIGN.md fixes it (internal).
 *
 * Only the coordinating thread writes the report; workers hand their
 * results over through the pool.  A line is flushed to the file at least
 * every HD_REPORT_FLUSH_MS so a crash loses little, and on close.
 *
 * CSV cells that hold recipient data or server text are neutralised
 * against spreadsheet formula injection: a cell starting with = + - @,
 * TAB or CR gets a leading apostrophe (the OWASP rule).
 */
#ifndef HD_REPORT_H
#define HD_REPORT_H

#include "herald.h"

#include <stdio.h>

typedef enum hd_row_status {
	HD_ROW_SENT = 1,
	HD_ROW_FAILED,
	HD_ROW_INVALID,
	HD_ROW_SKIPPED,
	HD_ROW_DRY_RUN,
	HD_ROW_NOT_ATTEMPTED,
	HD_ROW_UNCERTAIN,
} hd_row_status;

/* "sent", "failed", ... as they appear in the report. */
const char *hd_row_status_name(hd_row_status s);
/* The inverse; 0 for an unknown name. */
hd_row_status hd_row_status_parse(const char *name);

/* One report line.  Strings may be NULL (written as null / empty). */
typedef struct hd_report_row {
	long row; /* 0: not a row (the report of a run that could not start) */
	const char *key;
	hd_row_status status;
	int attempts;
	long code; /* 0: none (null) */
	const char *response;
	const char *error;
	const char *failure; /* failed rows: "permanent" or "transient" */
	long ms;	     /* time spent on the row, all attempts */
	double at;	     /* when the row ended, seconds since the epoch */
	const char *message_id;
} hd_report_row;

typedef struct hd_report hd_report;

/* Opens a report for path ("-" is standard output): the format is .csv
 * or .jsonl/.json/.ndjson by extension (anything else: JSONL).  A file
 * report is written to a hidden temporary file beside path (mode 0600)
 * and only replaces path when it is closed, so a run that fails leaves no
 * half-written report and never a stale one looking current; a path that
 * is not a regular file (/dev/null, a pipe) is written in place.
 * HD_ECREATE with err filled when the file cannot be created. */
hd_status hd_report_open(const char *path, hd_report **out, hd_error *err);
/* Writes one line; row->row 0 is written as null (a line about the run,
 * not a row). */
hd_status hd_report_write(hd_report *r, const hd_report_row *row);
/* Flushes, closes and renames the report into place; HD_EIO when a write
 * failed (then the old file at path is left as it was).  NULL is
 * allowed. */
hd_status hd_report_close(hd_report *r, hd_error *err);
/* Closes and deletes the report unwritten: path is left as it was.  NULL
 * is allowed. */
void hd_report_abandon(hd_report *r);

/* The JSON Lines report's line for row, without the line end
 * (malloc'd; NULL when out of memory): what herald consume writes to its
 * results stream. */
char *hd__report_line(const hd_report_row *row);

/* Formats t (seconds since the epoch) as 2026-11-27T13:45:10.123Z. */
void hd_format_timestamp(double t, char out[32]);

/*
 * Reading a report back (report_read.c), for herald report and
 * --only-failed.
 *
 * The format is the writer's: CSV when the path ends in .csv or the file
 * starts with the CSV header ("row,"), else JSON Lines; "-" is standard
 * input, read as JSON Lines.  Rows stream: one line is held at a time.
 * Fields the writer may add later are passed over; "row" and "status"
 * must be there, the others may be missing (0 or NULL).  In CSV, an empty
 * cell is NULL (0 for numbers), and the apostrophe the writer puts before
 * a cell that a spreadsheet would run as a formula is taken off again
 * (key, response, error, message_id): a leading apostrophe is dropped
 * when the next character is = + - @ TAB CR or another apostrophe.  A
 * report with no rows (an empty file, a CSV header alone) has no rows,
 * which is not an error.
 */
typedef struct hd_report_reader hd_report_reader;

/* HD_ENOENT when path cannot be opened, HD_ENOMEM, HD_EINVAL (NULL). */
hd_status hd_report_reader_open(const char *path, hd_report_reader **out,
				hd_error *err);
/* HD_OK with *row filled (strings valid until the next call), or HD_OK
 * with row->row == 0 and row->status == 0 at the end; HD_EPARSE naming
 * file:line on a malformed line (HD_EUTF8 when it is not UTF-8, HD_ELIMIT
 * when it is too long) */
hd_status hd_report_reader_next(hd_report_reader *r, hd_report_row *row,
				hd_error *err);
void hd_report_reader_free(hd_report_reader *r);

#endif
