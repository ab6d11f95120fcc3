/*
 * source_int.h — what the sources share inside lib/ (tests may include it
 * for the hooks at the end).
 *
 * A source is a table of operations (hd__source_ops), like a transport:
 * source.c holds an open source (hd_source: the table, the kind's private
 * state, the row count, the sticky error, the "no recipients" rule) and
 * calls the table; each kind keeps its state private to its file:
 *
 *   source_file.c     opening a path or standard input (spooling it, or
 *                     with opts.once reading it as it comes), the 64 KiB
 *                     read buffer and its position bookkeeping
 *                     (hd__reader), the extension table
 *   source_csv.c      CSV records from a reader
 *   source_json.c     JSON array elements and JSON Lines from a reader
 *   source_stream.c   entries of a Redis stream (herald consume)
 *
 * Positions: every byte has an absolute file offset; the reader knows the
 * line of buf[pos] and the offset where that line starts, so a column is
 * offset - line_start + 1.  A parser that consumes a '\n' calls
 * hd__reader_newline() with the offset of that byte.
 */
#ifndef HD_SOURCE_INT_H
#define HD_SOURCE_INT_H

#include "buf.h"
#include "report.h"
#include "source.h"

#include <stddef.h>

#define HD__READ_CHUNK (64 * 1024)

/* Longest line a spooled CSV or JSON Lines input may have: more than any
 * valid record's line (a CSV record of 16 MiB whose quotes are all
 * doubled, plus its delimiters and quotes), so cutting there never
 * changes the answer. */
#define HD__SPOOL_LINE_MAX                                                     \
	((size_t)(2 * HD_SOURCE_MAX_RECORD + 4 * HD_SOURCE_MAX_FIELDS + 1024))

/* What becomes of a record whose outcome the run has (hd__source_ack). */
typedef enum hd__ack {
	HD__ACK_DONE = 1, /* final and recorded: the source may forget it */
	HD__ACK_AGAIN,	  /* not final (a transient failure, not due yet):
			     the source hands it out again later */
} hd__ack;

/* One kind of source.  Every operation gets the state its constructor
 * made. */
typedef struct hd__source_ops {
	/* "CSV", "JSON", "JSON Lines", "Redis stream": for messages */
	const char *name;
	/* The next record: HD_OK with *record (a new reference) and *line
	 * where it starts in a file (0 when the source is not a file); HD_OK
	 * with *record NULL at the end; HD_EAGAIN when there is none now but
	 * more may come (a stream); an error with err filled. */
	hd_status (*next)(void *state, json_t **record, long *line,
			  hd_error *err);
	/* As next, but the record may be handed out as its text, not
	 * parsed (hd__source_next_text).  NULL: the kind parses always. */
	hd_status (*next_text)(void *state, json_t **record,
			       hd__record_text *text, long *line,
			       hd_error *err);
	/* Back to the first record, for a second pass.  NULL: the source
	 * can be read once only (a stream). */
	hd_status (*rewind)(void *state, hd_error *err);
	/* The record at where (as where() said it) has an outcome, recorded
	 * durably; tell whoever handed it out.  outcome is its report line
	 * (hd__report_line).  NULL: nobody to tell (a file). */
	hd_status (*ack)(void *state, const char *where, hd__ack how,
			 const char *outcome, hd_error *err);
	/* Where the record last handed out is: for a file "" (its line says
	 * it), for a stream the entry id.  NULL: nothing beyond the line. */
	void (*where)(const void *state, char *out, size_t size);
	/* fn(ctx) is called again and again while next() waits for input
	 * that has not come (standard input read as it comes), so that the
	 * caller goes on with what it has; fn returning 1 makes next() give
	 * up with HD_EINTERRUPTED.  May be NULL (a source that waits on its
	 * own terms, or never). */
	void (*on_wait)(void *state, int (*fn)(void *ctx), void *ctx);
	/* Bytes held in buffers now (tests check that streaming stays
	 * bounded).  May be NULL. */
	size_t (*held)(const void *state);
	/* hd_source_progress.  May be NULL (not a file). */
	int (*progress)(const void *state, long long *done, long long *size);
	/* Frees the state and closes what it reads. */
	void (*free)(void *state);
} hd__source_ops;

/* Wraps state (taken, freed on failure too) of kind ops as a source
 * called name, of format (HD_FORMAT_AUTO when not a file).  once: the
 * source refuses hd_source_rewind even when ops has one (standard input
 * read as it comes). */
hd_status hd__source_new(const hd__source_ops *ops, void *state,
			 const char *name, hd_format format, int once,
			 hd_source **out, hd_error *err);

/* Tells the source the outcome of the record at where (see ops->ack);
 * HD_OK at once for a source with nobody to tell. */
hd_status hd__source_ack(hd_source *s, const char *where, hd__ack how,
			 const char *outcome, hd_error *err);

/* 1 when the source has someone to tell outcomes to (ops->ack). */
int hd__source_acks(const hd_source *s);

/* Where the record last handed out is (ops->where; "" for a file). */
void hd__source_where(const hd_source *s, char *out, size_t size);

/* ops->on_wait, when the source has it. */
void hd__source_on_wait(hd_source *s, int (*fn)(void *ctx), void *ctx);

/* 1 when hd_source_rewind can work: a second pass is possible. */
int hd__source_can_rewind(const hd_source *s);

/* The source's state, for code that knows its kind (consume.c and its
 * stream). */
void *hd__source_state(hd_source *s);

/* ---- the file reader (source_file.c) ----------------------------------- */

typedef struct hd__reader {
	char *name;    /* path as given, or "<stdin>" (owned) */
	int fd;	       /* regular file, unlinked spool or pipe; closed by
			  hd__reader_free */
	int recoded;   /* fd is a UTF-8 copy made by --encoding */
	long cut_line; /* the spool stopped inside this line (0: no) */

	/* read buffer: unread bytes are buf[pos..end) */
	char *buf; /* HD__READ_CHUNK bytes */
	size_t pos, end;
	long long base; /* file offset of buf[0] */
	int eof;
	long cur_line;	      /* line of buf[pos] */
	long long line_start; /* file offset of that line's first byte */

	long row; /* records handed out since the start (for errors) */
	/* while a read would wait (on_wait) */
	int (*wait)(void *ctx);
	void *wait_ctx;
	/* set by hd__reader_start: the file is UTF-16 or UTF-32, reported
	 * by the first next() */
	hd_status bad_start;
	hd_error bad_start_err;
} hd__reader;

/* Offset in the file of r->buf[i]. */
static inline long long hd__reader_off(const hd__reader *r, size_t i)
{
	return r->base + (long long)i;
}

/* 1-based column of the byte at buffer index i (which is on cur_line). */
static inline long hd__reader_col(const hd__reader *r, size_t i)
{
	return (long)(hd__reader_off(r, i) - r->line_start + 1);
}

/* The byte at buffer index i was a '\n': the next one starts a line. */
static inline void hd__reader_newline(hd__reader *r, size_t i)
{
	r->cur_line++;
	r->line_start = hd__reader_off(r, i) + 1;
}

/* Refills the read buffer once pos == end; at the end of the file it
 * returns HD_OK with pos == end and r->eof set.  HD_EIO on read errors. */
hd_status hd__reader_fill(hd__reader *r, hd_error *err);

/* Fills err with code at (line, column) of this file, plus row when row
 * > 0.  Returns code. */
hd_status hd__reader_fail(const hd__reader *r, hd_error *err, hd_status code,
			  long line, long column, long row, const char *fmt,
			  ...) HD_PRINTF(7, 8);

/* hd__reader_fail for the file called name (a record's text parsed away
 * from its reader). */
hd_status hd__file_fail(const char *name, hd_error *err, hd_status code,
			long line, long column, long row, const char *fmt, ...)
    HD_PRINTF(7, 8);

/* What a format's next() says first: HD_OK, or the reader's finding at
 * the start (a UTF-16 file) with err filled. */
static inline hd_status hd__reader_check_start(const hd__reader *r,
					       hd_error *err)
{
	if (r->bad_start != HD_OK && err)
		*err = r->bad_start_err;
	return r->bad_start;
}

/* Invalid UTF-8 at the reader's position: appends to e's message what
 * the bytes look like instead (a guess at the encoding) and what to do
 * (--encoding NAME); nothing when the file was recoded already. */
void hd__reader_encoding_hint(const hd__reader *r, hd_error *e);

/* The formats' on_wait. */
void hd__reader_on_wait(hd__reader *r, int (*fn)(void *ctx), void *ctx);

/* To the start of the file again (lseek): for a format's rewind. */
hd_status hd__reader_rewind(hd__reader *r, hd_error *err);

/* hd_source_progress for the file r reads. */
int hd__reader_progress(const hd__reader *r, long long *done, long long *size);

/* Closes the file, frees the buffer and the name. */
void hd__reader_free(hd__reader *r);

/* The file formats: each takes the reader (a copy of *r, which it owns
 * from then on, also on failure) and makes its state. */
hd_status hd__csv_open(const hd__reader *r, char delim, void **state,
		       hd_error *err);
hd_status hd__json_open(const hd__reader *r, char delim, void **state,
			hd_error *err);
hd_status hd__jsonl_open(const hd__reader *r, char delim, void **state,
			 hd_error *err);
extern const hd__source_ops hd__source_csv;
/* CSV state: the first header's columns ([[name, alias or null], ...],
 * NULL before), and what was passed over since the last rewind. */
const json_t *hd__csv_columns(const void *state);
void hd__csv_passed_over(const void *state, hd_source_leftovers *out);
extern const hd__source_ops hd__source_json;
extern const hd__source_ops hd__source_jsonl;

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

/* Opens a source on an already open descriptor (not closed: spooled like
 * standard input, or with opts->once read as it comes through a
 * duplicate of it).  format must not be AUTO. */
hd_status hd__source_open_fd(int fd, const char *name,
			     const hd_source_opts *opts, hd_source **out,
			     hd_error *err);

/* Bytes held in the source's buffers now (read buffer, record, header,
 * element), to check that streaming stays bounded. */
size_t hd__source_buffer_bytes(const hd_source *s);

#endif
