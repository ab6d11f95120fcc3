/*
 * source_int.h — what source.c, source_csv.c and source_json.c share
 * (internal; tests may include it for the hooks at the end).
 *
 * source.c owns the file: opening, spooling standard input, the 64 KiB
 * read buffer with the position bookkeeping (line, start of line), the
 * sticky error and the "no recipients" rule.  Each format file turns the
 * buffered bytes into records and keeps its own state in hd_source.
 *
 * Positions: every byte has an absolute file offset; the reader knows the
 * line of buf[pos] and the offset where that line starts, so a column is
 * offset - line_start + 1.  A parser that consumes a '\n' calls
 * hd__source_newline() with the offset of that byte.
 */
#ifndef HD_SOURCE_INT_H
#define HD_SOURCE_INT_H

#include "buf.h"
#include "source.h"

#include <stddef.h>

#define HD__READ_CHUNK (64 * 1024)

/* Longest line a spooled CSV or JSON Lines input may have: more than any
 * valid record's line (a CSV record of 16 MiB whose quotes are all
 * doubled, plus its delimiters and quotes), so cutting there never
 * changes the answer. */
#define HD__SPOOL_LINE_MAX                                                     \
	((size_t)(2 * HD_SOURCE_MAX_RECORD + 4 * HD_SOURCE_MAX_FIELDS + 1024))

/* One CSV field of the current record: bytes rec[off..off+len). */
typedef struct hd__csv_field {
	size_t off, len;
	long line, column; /* where the field starts (its quote if quoted) */
	int quoted;
} hd__csv_field;

struct hd_source {
	char *name; /* path as given, or "<stdin>" */
	hd_format format;
	char delim;
	int fd;	       /* regular file or unlinked spool; we close it */
	int recoded;   /* fd is a UTF-8 copy made by --encoding */
	long cut_line; /* the spool stopped inside this line (0: no) */

	/* read buffer: unread bytes are buf[pos..end) */
	char *buf; /* HD__READ_CHUNK bytes */
	size_t pos, end;
	long long base; /* file offset of buf[0] */
	int eof;
	long cur_line;	      /* line of buf[pos] */
	long long line_start; /* file offset of that line's first byte */

	long row;	  /* records returned since open/rewind */
	long line;	  /* line where the last returned record starts */
	int at_end;	  /* the end was reached and reported */
	hd_status failed; /* sticky error, HD_OK when none */
	hd_error ferr;

	/* CSV (source_csv.c) */
	unsigned char cls[256]; /* byte classes, depend on the delimiter */
	hd_buf rec;		/* the record's field bytes back to back */
	hd__csv_field *fields;
	size_t nfields, fields_cap;
	long rec_line;		   /* line where the record starts */
	long end_line, end_column; /* where it ends (line break or EOF) */
	int have_header;
	hd_buf keys; /* header names, each NUL-terminated */
	size_t *key_off, *key_len;
	size_t nkeys;
	size_t ntrail;	   /* unnamed columns after the last named one */
	size_t *alias_off; /* per column: offset of its alias in keys, or
			      SIZE_MAX when it has none */
	json_t *columns;   /* [[name, alias or null], ...] of the first
			      header read; kept across rewinds */
	long delim_lines;  /* lines of delimiters alone passed over */
	long delim_line;   /* the first of them */

	/* JSON and JSON Lines (source_json.c) */
	int jphase; /* where the array reader is, see source_json.c */
	long jend_line, jend_column; /* just after the last element */
	hd_buf elem;		     /* bytes of the current element or line */
};

/* Offset in the file of s->buf[i]. */
static inline long long hd__source_off(const hd_source *s, size_t i)
{
	return s->base + (long long)i;
}

/* 1-based column of the byte at buffer index i (which is on cur_line). */
static inline long hd__source_col(const hd_source *s, size_t i)
{
	return (long)(hd__source_off(s, i) - s->line_start + 1);
}

/* The byte at buffer index i was a '\n': the next one starts a line. */
static inline void hd__source_newline(hd_source *s, size_t i)
{
	s->cur_line++;
	s->line_start = hd__source_off(s, i) + 1;
}

/* Refills the read buffer once pos == end; at the end of the file it
 * returns HD_OK with pos == end and s->eof set.  HD_EIO on read errors. */
hd_status hd__source_fill(hd_source *s, hd_error *err);

/* Fills err with code at (line, column) of this source, plus row when
 * row > 0.  Returns code. */
hd_status hd__source_fail(hd_source *s, hd_error *err, hd_status code,
			  long line, long column, long row, const char *fmt,
			  ...) HD_PRINTF(7, 8);

/* Per-format hooks, called by source.c. */
void hd__csv_reset(hd_source *s); /* to the start (before the header) */
hd_status hd__csv_next(hd_source *s, json_t **record, hd_error *err);
void hd__csv_free(hd_source *s);
void hd__json_reset(hd_source *s);
hd_status hd__json_next(hd_source *s, json_t **record, hd_error *err);
hd_status hd__jsonl_next(hd_source *s, json_t **record, hd_error *err);
void hd__json_free(hd_source *s);

/*
 * Parses buf[0..len) as one JSON text, any type, with the readers' rules:
 * duplicate object keys are an error; \u0000 in a string is accepted
 * here (the readers refuse it per record, see hd__json_check_nul).  On
 * error returns HD_EPARSE (HD_EUTF8 for bad UTF-8), sets *out to NULL,
 * err->msg, err->line and err->column relative to buf (1-based, bytes),
 * and *err_off (when not NULL) to the byte offset in buf the error points
 * at (it may be len, the end).  This is the one parsing path of both JSON
 * readers; tests run JSONTestSuite through it.
 */
hd_status hd__json_parse_value(const char *buf, size_t len, json_t **out,
			       size_t *err_off, hd_error *err);

/* Test hooks. */

/* Opens a source on an already open descriptor (not closed; read to its
 * end and spooled like standard input).  format must not be AUTO. */
hd_status hd__source_open_fd(int fd, const char *name,
			     const hd_source_opts *opts, hd_source **out,
			     hd_error *err);

/* Bytes held in the source's buffers now (read buffer, record, header,
 * element), to check that streaming stays bounded. */
size_t hd__source_buffer_bytes(const hd_source *s);

#endif
