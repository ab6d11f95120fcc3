/*
 * source.h — streaming recipient readers (CSV, JSON array, JSON Lines).
 *
 * SYNOPSIS
 *	hd_source_opts o = {.format = HD_FORMAT_AUTO};
 *	hd_source *s;
 *	json_t *rec;
 *
 *	if (hd_source_open("list.csv", &o, &s, &err) != HD_OK) ...
 *	while ((rc = hd_source_next(s, &rec, &err)) == HD_OK && rec) {
 *		... hd_source_row(s), hd_source_line(s), rec ...
 *		json_decref(rec);
 *	}
 *	hd_source_rewind(s, &err);	(a second pass: the same records again)
 *	hd_source_free(s);
 *
 * DESCRIPTION
 *	A source hands out one recipient at a time as a JSON object.  It
 *	streams: the file is read in 64 KiB chunks and only the current
 *	record is held, so memory does not grow with the number of records.
 *	Records are checked as they are read; the first problem is an error
 *	that names file, line and column (byte-based, 1-based, a leading BOM
 *	not counted) and, for CSV, the row and header field.
 *
 *	CSV (RFC 4180): the first record is the header; every value is a
 *	JSON string.  Quoted fields may hold the delimiter, "" and line
 *	breaks (kept verbatim: CRLF stays CRLF).  Records end at CRLF or LF;
 *	a final line break adds no record; a line that is empty or holds only
 *	spaces/tabs (one unquoted field of blanks) is skipped wherever it is.
 *	Refused: a quote inside an unquoted field, anything but a delimiter or
 *	line end after a closing quote, an unterminated quote (reported where
 *	it opened), a CR not followed by LF outside quotes, a record whose
 *	field count differs from the header's, invalid UTF-8 (with a guess
 *	at the file's real encoding), NUL bytes, an empty or repeated header
 *	name.  Header names are used verbatim (not trimmed).
 *
 *	What spreadsheets leave behind is passed over, and counted for one
 *	note (hd_source_leftovers): lines made only of delimiters (a row
 *	whose cells were cleared), and unnamed columns at the end of the
 *	header whose cells are all empty (a stray delimiter at the end of
 *	every line).  A value in such a column is an error.
 *
 *	A header name that no template tag could name (white space, '.',
 *	'?', braces, a leading sigil such as '#': "First Name") gets an
 *	alias: the name in lower case, every run of other characters than
 *	letters, digits and '_' made one '_', with none at either end
 *	("First Name" -> first_name, "E-Mail Address " -> e_mail_address).
 *	No alias is made when it would be empty or equal to another
 *	column's name or alias.  Records keep the header's names only (a
 *	record is the file's data); hd_source_aliases() gives the aliases
 *	for templates to read the values by.
 *
 *	JSON: one top-level array of objects, read element by element (each
 *	element's bytes are parsed by jansson).  Duplicate keys, non-object
 *	elements, anything after the closing ']' and strings holding U+0000
 *	are errors.  Nested values are kept as they are.
 *
 *	JSON Lines (.jsonl, .ndjson): one object per line; lines holding only
 *	whitespace are skipped; same rules as JSON per line.
 *
 *	A missing separator (',' ':' ']' '}') is reported just after the
 *	value that needs it, as C compilers report a missing ';', so a comma
 *	missing at the end of line 4 is an error on line 4.
 *
 *	A file with no record at all (empty, only a BOM or blank lines, a
 *	CSV header alone, [], no JSON line) is HD_EPARSE "no recipients in
 *	file", returned by the hd_source_next() call that reaches the end.
 *
 *	"-" is standard input: it is first copied to an unlinked temporary
 *	file in $TMPDIR (default /tmp) so it can be read twice.  A path that
 *	is not a regular file (a FIFO, /dev/fd/N) is copied the same way.
 *	With opts.once it is read as it comes instead, with no copy, and
 *	cannot be rewound (a one-pass run, which never needs to).
 *
 *	Inside, a source is a table of operations (next, rewind, ack, where)
 *	with each kind's state private to its file: source_int.h says how
 *	the files (source_file.c, source_csv.c, source_json.c) and a Redis
 *	stream (source_stream.c) fit it.
 *
 * LIMITS
 *	HD_SOURCE_MAX_FIELD bytes per CSV field, HD_SOURCE_MAX_FIELDS fields
 *	per record (CSV fields, top-level keys of a JSON object),
 *	HD_SOURCE_MAX_RECORD bytes per record (a CSV record, a JSON array
 *	element or a JSON line); beyond them HD_ELIMIT.  So memory is bounded
 *	by the largest record, never by the record count.  JSON nesting
 *	deeper than jansson's 2048 levels is HD_EPARSE.  A spooled CSV or
 *	JSON Lines input is read no further than a line longer than any
 *	record can be (HD__SPOOL_LINE_MAX, 32 MiB and a little): the reader
 *	fails inside it, and a pipe that never sends a line break fills
 *	neither memory nor the temporary file.
 *
 * ERRORS
 *	hd_source_open: HD_EUSAGE (bad options, unknown extension, "-"
 *	without a format, an encoding iconv does not know), HD_EUTF8 (the
 *	file is not valid in the encoding given: its line), HD_ENOENT
 *	"cannot open: <strerror>" (missing,
 *	unreadable, a directory), HD_EIO (stdin could not be spooled),
 *	HD_ENOMEM, HD_EINVAL (NULL path or out).
 *	hd_source_next: HD_EPARSE, HD_EUTF8, HD_ELIMIT, HD_EIO, HD_ENOMEM,
 *	with err->row (the record's number) and, for CSV, err->field (the
 *	header name of the field at fault) when they apply.
 *	After an error the source repeats that error until it is rewound.
 *
 * OWNERSHIP
 *	hd_source_next hands the caller a new reference (json_decref it).
 *	hd_source_name's string lives as long as the source.
 *
 * THREAD-SAFETY
 *	A source is used by one thread at a time; distinct sources are
 *	independent.
 */
#ifndef HD_SOURCE_H
#define HD_SOURCE_H

#include "buf.h"
#include "herald.h"

#include <jansson.h>

#define HD_SOURCE_MAX_FIELD (1024L * 1024L)	   /* bytes in a CSV field */
#define HD_SOURCE_MAX_FIELDS 4096		   /* fields in a CSV record */
#define HD_SOURCE_MAX_RECORD (16L * 1024L * 1024L) /* bytes in a record */

typedef enum hd_format {
	HD_FORMAT_AUTO = 0, /* by extension: .csv .json .jsonl .ndjson */
	HD_FORMAT_CSV,
	HD_FORMAT_JSON,
	HD_FORMAT_JSONL
} hd_format;

typedef struct hd_source_opts {
	hd_format format;     /* HD_FORMAT_AUTO needs a known extension */
	char delimiter;	      /* CSV; 0 means ','.  Any ASCII byte but '"', CR,
				 LF and NUL (tab and ';' are common) */
	int once;	      /* standard input or a pipe is read as it comes,
				 not spooled: the source cannot be rewound */
	const char *encoding; /* NULL or "UTF-8": the file is UTF-8; else an
				 iconv(3) name ("WINDOWS-1252", "UTF-16"):
				 the file is converted to UTF-8, into an
				 unlinked temporary file, when opened */
} hd_source_opts;

/* What a CSV reader passed over in the records read since the last
 * rewind (see DESCRIPTION). */
typedef struct hd_source_leftovers {
	long delimiter_lines; /* lines made only of delimiters */
	long first_line;      /* the first of them; 0: none */
	size_t unnamed;	      /* empty unnamed columns at the header's end */
} hd_source_leftovers;

typedef struct hd_source hd_source;

/* Opens path ("-" for standard input) for reading records.  opts may be
 * NULL (AUTO, ','). */
hd_status hd_source_open(const char *path, const hd_source_opts *opts,
			 hd_source **out, hd_error *err);

/* Next record: HD_OK with *record a new object reference, or HD_OK with
 * *record NULL at the end.  On error *record is NULL. */
hd_status hd_source_next(hd_source *s, json_t **record, hd_error *err);

/* A record read but not parsed yet (hd__source_next_text), for another
 * thread to parse (hd__record_text_parse).  Owns text. */
typedef struct hd__record_text {
	char *text;
	size_t len;
	const char *name;  /* the source's: lives as long as the source */
	long line, column; /* where it starts in the file */
	long row;	   /* its record number */
} hd__record_text;

/* As hd_source_next, but a source that can leave the parsing to the
 * caller (JSON Lines, a line that is valid UTF-8 with no NUL byte) hands
 * out the record's text instead: HD_OK with *record NULL and text->text
 * set.  The row and line count it as a record.  Either *record or
 * text->text, or neither at the end. */
hd_status hd__source_next_text(hd_source *s, json_t **record,
			       hd__record_text *text, hd_error *err);

/* Parses t into *record, with the rules and the error (file, line,
 * column, row) that hd_source_next would have had for it.  Thread-safe:
 * it reads t only. */
hd_status hd__record_text_parse(const hd__record_text *t, json_t **record,
				hd_error *err);

/* Frees t's text; t is zeroed. */
void hd__record_text_clear(hd__record_text *t);

/* A text handed out failed to parse: the source repeats err from now on,
 * as if it had found it (until it is rewound). */
void hd__source_fail(hd_source *s, const hd_error *err);

/* 1-based number of the record last returned (CSV header not counted);
 * 0 before the first. */
long hd_source_row(const hd_source *s);

/* File line where the record last returned starts; 0 before the first. */
long hd_source_line(const hd_source *s);

/* How far the reading is through a file: *done bytes of *size.  0 when
 * the size is not known (a pipe read as it comes, a stream).  One
 * fstat(): for estimates made now and then, not for every row. */
int hd_source_progress(const hd_source *s, long long *done, long long *size);

/* Back to the first record for another pass, clearing any error.
 * HD_EUSAGE for a source that can be read once only (opts.once, a
 * stream). */
hd_status hd_source_rewind(hd_source *s, hd_error *err);

/* The path as given, or "<stdin>". */
const char *hd_source_name(const hd_source *s);

/* The format in use (never HD_FORMAT_AUTO). */
hd_format hd_source_format(const hd_source *s);

/* CSV: the header's named columns, once the first record was read (they
 * stay known across rewinds); 0 for JSON and before.  column(i) is the
 * header name, alias(i) its alias or NULL.  Borrowed: they live as long
 * as the source. */
size_t hd_source_ncolumns(const hd_source *s);
const char *hd_source_column(const hd_source *s, size_t i);
const char *hd_source_column_alias(const hd_source *s, size_t i);

/* The alias of the header name p[0..n) (see DESCRIPTION): appended to
 * out, NUL-terminated; *len is its length (0: none can be made). */
hd_status hd_source_alias_of(const char *p, size_t n, hd_buf *out, size_t *len);

/* CSV: a new object {alias: header name} of the aliases (see
 * DESCRIPTION), or NULL when there are none (or out of memory). */
json_t *hd_source_aliases(const hd_source *s);

/* CSV: what was passed over since the last rewind. */
void hd_source_passed_over(const hd_source *s, hd_source_leftovers *out);

/* Closes the file and frees everything; NULL is allowed. */
void hd_source_free(hd_source *s);

#endif
