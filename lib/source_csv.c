/*
 * source_csv.c — the CSV reader (RFC 4180, first record is the header).
 *
 * Why our own parser and not libcsv: precise errors need the line and
 * column of every event (where a quote opened, the bad UTF-8 byte, the
 * extra field), which libcsv's callbacks do not report; UTF-8, NUL and
 * strict-quote checks would be a second pass anyway, so one state
 * machine that copies runs of plain bytes at once is shorter and faster.
 *
 * The parser is a byte-class state machine over the 64 KiB read buffer.
 * A run of bytes that needs no decision (class 0 in the state's table) is
 * copied to the record buffer with one append; only quotes, delimiters,
 * line ends, NUL and bytes >= 0x80 are looked at one by one.  UTF-8 is
 * checked as bytes arrive (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), with the expected continuation range carried across
 * chunk boundaries.
 */
#include "source_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Byte classes: bit set = the byte needs a decision in that context. */
#define C_UNQ 1 /* inside or at the start of an unquoted field */
#define C_QUO 2 /* inside a quoted field */

enum state {
	ST_RECORD, /* nothing of the record read yet */
	ST_FIELD,  /* after a delimiter: a field starts */
	ST_UNQ,	   /* inside an unquoted field */
	ST_QUO,	   /* inside a quoted field */
	ST_QQ,	   /* a quote inside a quoted field: "" or the end */
	ST_CR,	   /* a CR outside quotes: LF must follow */
};

/* One field of the current record: bytes rec[off..off+len). */
typedef struct hd__csv_field {
	size_t off, len;
	long line, column; /* where the field starts (its quote if quoted) */
	int quoted;
} hd__csv_field;

/* A CSV source's state. */
struct csv {
	hd__reader rd;
	char delim;
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
};

/* The UTF-8 sequence being checked. */
struct u8 {
	unsigned need;	      /* continuation bytes still expected */
	unsigned char lo, hi; /* range of the next one */
	long line, column;    /* where its first byte is */
};

static void set_classes(struct csv *s)
{
	int c;

	for (c = 0; c < 256; c++)
		s->cls[c] = c >= 0x80 ? (C_UNQ | C_QUO) : 0;
	s->cls[0] = C_UNQ | C_QUO;
	s->cls['"'] = C_UNQ | C_QUO;
	s->cls['\n'] = C_UNQ | C_QUO;
	s->cls['\r'] = C_UNQ;
	s->cls[(unsigned char)s->delim] |= C_UNQ;
}

static void reset(struct csv *s)
{
	set_classes(s);
	s->have_header = 0;
	s->nkeys = 0;
	s->ntrail = 0;
	s->nfields = 0;
	s->delim_lines = 0;
	s->delim_line = 0;
	hd_buf_reset(&s->rec);
	hd_buf_reset(&s->keys);
}

static int csv_progress(const void *state, long long *done, long long *size)
{
	return hd__reader_progress(&((const struct csv *)state)->rd, done,
				   size);
}

static void csv_free(void *state)
{
	struct csv *s = state;

	if (!s)
		return;
	hd__reader_free(&s->rd);
	hd_buf_free(&s->rec);
	hd_buf_free(&s->keys);
	free(s->fields);
	free(s->key_off);
	free(s->key_len);
	free(s->alias_off);
	json_decref(s->columns);
	free(s);
}

/* The row an error belongs to: 0 while reading the header. */
static long err_row(const struct csv *s)
{
	return s->have_header ? s->rd.row + 1 : 0;
}

/* Fails at (line, column), naming the header field of the field being
 * read when there is one. */
static hd_status csv_fail(struct csv *s, hd_error *err, hd_status code,
			  long line, long column, const char *fmt, ...)
    HD_PRINTF(6, 7);

static hd_status csv_fail(struct csv *s, hd_error *err, hd_status code,
			  long line, long column, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hd_error_vset(err, code, s->rd.name, line, column, fmt, ap);
	va_end(ap);
	err->row = err_row(s);
	if (s->have_header && s->nfields > 0 && s->nfields <= s->nkeys)
		hd_error_set_field(err,
				   s->keys.data + s->key_off[s->nfields - 1]);
	return code;
}

/* Starts field number nfields at buffer index i. */
static hd_status field_start(struct csv *s, size_t i, int quoted, hd_error *err)
{
	hd__csv_field *f;

	if (s->nfields >= HD_SOURCE_MAX_FIELDS)
		return hd__reader_fail(&s->rd, err, HD_ELIMIT, s->rd.cur_line,
				       hd__reader_col(&s->rd, i), err_row(s),
				       "a record has more than %d fields",
				       HD_SOURCE_MAX_FIELDS);
	if (s->nfields == s->fields_cap) {
		size_t cap = s->fields_cap ? s->fields_cap * 2 : 16;
		f = realloc(s->fields, cap * sizeof(*f));
		if (!f)
			return hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0,
					       NULL);
		s->fields = f;
		s->fields_cap = cap;
	}
	f = &s->fields[s->nfields++];
	f->off = s->rec.len;
	f->len = 0;
	f->line = s->rd.cur_line;
	f->column = hd__reader_col(&s->rd, i);
	f->quoted = quoted;
	return HD_OK;
}

static void field_end(struct csv *s)
{
	hd__csv_field *f = &s->fields[s->nfields - 1];

	f->len = s->rec.len - f->off;
}

/* Appends n bytes to the current field, within the limits. */
static hd_status field_add(struct csv *s, const char *p, size_t n,
			   hd_error *err)
{
	const hd__csv_field *f = &s->fields[s->nfields - 1];

	if (s->rec.len - f->off + n > (size_t)HD_SOURCE_MAX_FIELD)
		return csv_fail(s, err, HD_ELIMIT, f->line, f->column,
				"field longer than 1 MiB");
	if (s->rec.len + n > (size_t)HD_SOURCE_MAX_RECORD)
		return csv_fail(s, err, HD_ELIMIT, f->line, f->column,
				"record longer than 16 MiB");
	if (hd_buf_append(&s->rec, p, n) != HD_OK)
		return hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0, NULL);
	return HD_OK;
}

/* Checks the lead byte c of a UTF-8 sequence at buffer index i. */
static hd_status u8_lead(struct csv *s, struct u8 *u, unsigned char c, size_t i,
			 hd_error *err)
{
	u->line = s->rd.cur_line;
	u->column = hd__reader_col(&s->rd, i);
	u->lo = 0x80;
	u->hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		u->need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		u->need = 2;
		if (c == 0xE0)
			u->lo = 0xA0; /* no overlongs */
		else if (c == 0xED)
			u->hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		u->need = 3;
		if (c == 0xF0)
			u->lo = 0x90;
		else if (c == 0xF4)
			u->hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		return csv_fail(s, err, HD_EUTF8, u->line, u->column,
				"invalid UTF-8");
	}
	return HD_OK;
}

/* A UTF-8 sequence whose lead byte is p[0] (>= 0x80), at buffer index i:
 * checks and appends the bytes of it that are in the buffer (*used of
 * them); u carries what is still expected into the next chunk. */
static hd_status u8_seq(struct csv *s, struct u8 *u, const unsigned char *p,
			const unsigned char *e, size_t i, size_t *used,
			hd_error *err)
{
	size_t k = 1;
	hd_status rc = u8_lead(s, u, *p, i, err);

	if (rc != HD_OK)
		return rc;
	for (; u->need && p + k < e; k++) {
		if (p[k] < u->lo || p[k] > u->hi)
			return csv_fail(s, err, HD_EUTF8, u->line, u->column,
					"invalid UTF-8");
		u->need--;
		u->lo = 0x80;
		u->hi = 0xBF;
	}
	*used = k;
	return field_add(s, (const char *)p, k, err);
}

/* The record ended with the '\n' at buffer index i; its content ends at
 * column end_col of the current line. */
static hd_status record_done(struct csv *s, size_t i, long end_col)
{
	s->end_line = s->rd.cur_line;
	s->end_column = end_col;
	hd__reader_newline(&s->rd, i);
	s->rd.pos = i + 1;
	return HD_OK;
}

/*
 * Reads one record into s->rec / s->fields.  HD_OK with nfields == 0 at
 * the end of the file.
 */
static hd_status read_record(struct csv *s, hd_error *err)
{
	const unsigned char delim = (unsigned char)s->delim;
	enum state st = ST_RECORD;
	struct u8 u = {0, 0x80, 0xBF, 0, 0};
	long q_line = 0, q_col = 0, cr_line = 0, cr_col = 0;
	hd_status rc;

	s->nfields = 0;
	hd_buf_reset(&s->rec);
	s->rec_line = 0;
	for (;;) {
		const unsigned char *b, *p, *e;
		size_t i;

		if (s->rd.pos == s->rd.end) {
			rc = hd__reader_fill(&s->rd, err);
			if (rc != HD_OK)
				return rc;
			if (s->rd.pos == s->rd.end)
				break;
		}
		b = (const unsigned char *)s->rd.buf;
		i = s->rd.pos;
		p = b + i;
		e = b + s->rd.end;
		while (p < e) {
			unsigned char c = *p;
			i = (size_t)(p - b);
			if (u.need) {
				if (c < u.lo || c > u.hi)
					return csv_fail(s, err, HD_EUTF8,
							u.line, u.column,
							"invalid UTF-8");
				u.need--;
				u.lo = 0x80;
				u.hi = 0xBF;
				if ((rc = field_add(s, (const char *)p, 1,
						    err)) != HD_OK)
					return rc;
				p++;
				continue;
			}
			switch (st) {
			case ST_RECORD:
				s->rec_line = s->rd.cur_line;
				/* fall through */
			case ST_FIELD:
				if (c == '"') {
					rc = field_start(s, i, 1, err);
					q_line = s->rd.cur_line;
					q_col = hd__reader_col(&s->rd, i);
					st = ST_QUO;
					p++;
				} else {
					rc = field_start(s, i, 0, err);
					st = ST_UNQ;
				}
				if (rc != HD_OK)
					return rc;
				continue;
			case ST_UNQ: {
				const unsigned char *q = p;
				while (q < e && !(s->cls[*q] & C_UNQ))
					q++;
				if (q > p) {
					rc = field_add(s, (const char *)p,
						       (size_t)(q - p), err);
					if (rc != HD_OK)
						return rc;
					p = q;
					continue;
				}
				if (c == delim) {
					field_end(s);
					st = ST_FIELD;
				} else if (c == '\r') {
					field_end(s);
					cr_line = s->rd.cur_line;
					cr_col = hd__reader_col(&s->rd, i);
					st = ST_CR;
				} else if (c == '\n') {
					field_end(s);
					return record_done(
					    s, i, hd__reader_col(&s->rd, i));
				} else if (c == '"') {
					return csv_fail(
					    s, err, HD_EPARSE, s->rd.cur_line,
					    hd__reader_col(&s->rd, i),
					    "quote inside an unquoted field "
					    "(quote the whole field and "
					    "double the quote: \"a "
					    "\"\"b\"\"\")");
				} else if (c == 0) {
					return csv_fail(
					    s, err, HD_EPARSE, s->rd.cur_line,
					    hd__reader_col(&s->rd, i),
					    "NUL byte");
				} else {
					size_t k;
					rc = u8_seq(s, &u, p, e, i, &k, err);
					if (rc != HD_OK)
						return rc;
					p += k;
					continue;
				}
				p++;
				continue;
			}
			case ST_QUO: {
				const unsigned char *q = p;
				while (q < e && !(s->cls[*q] & C_QUO))
					q++;
				if (q > p) {
					rc = field_add(s, (const char *)p,
						       (size_t)(q - p), err);
					if (rc != HD_OK)
						return rc;
					p = q;
					continue;
				}
				if (c == '"') {
					st = ST_QQ;
				} else if (c == '\n') {
					rc = field_add(s, (const char *)p, 1,
						       err);
					if (rc != HD_OK)
						return rc;
					hd__reader_newline(&s->rd, i);
				} else if (c == 0) {
					return csv_fail(
					    s, err, HD_EPARSE, s->rd.cur_line,
					    hd__reader_col(&s->rd, i),
					    "NUL byte");
				} else {
					size_t k;
					rc = u8_seq(s, &u, p, e, i, &k, err);
					if (rc != HD_OK)
						return rc;
					p += k;
					continue;
				}
				p++;
				continue;
			}
			case ST_QQ:
				if (c == '"') {
					rc = field_add(s, "\"", 1, err);
					if (rc != HD_OK)
						return rc;
					st = ST_QUO;
				} else if (c == delim) {
					field_end(s);
					st = ST_FIELD;
				} else if (c == '\r') {
					field_end(s);
					cr_line = s->rd.cur_line;
					cr_col = hd__reader_col(&s->rd, i);
					st = ST_CR;
				} else if (c == '\n') {
					field_end(s);
					return record_done(
					    s, i, hd__reader_col(&s->rd, i));
				} else {
					return csv_fail(
					    s, err, HD_EPARSE, s->rd.cur_line,
					    hd__reader_col(&s->rd, i),
					    "unexpected character after "
					    "the closing quote (expected "
					    "the delimiter or a line end)");
				}
				p++;
				continue;
			case ST_CR:
				if (c != '\n')
					return csv_fail(
					    s, err, HD_EPARSE, cr_line, cr_col,
					    "carriage return not followed "
					    "by a line feed outside quotes");
				return record_done(s, i, cr_col);
			}
		}
		s->rd.pos = s->rd.end;
	}

	/* End of the file. */
	s->end_line = s->rd.cur_line;
	s->end_column = hd__reader_col(&s->rd, s->rd.pos);
	if (u.need)
		return csv_fail(s, err, HD_EUTF8, u.line, u.column,
				"invalid UTF-8 (truncated sequence)");
	switch (st) {
	case ST_RECORD:
		return HD_OK;
	case ST_FIELD:
		/* "a,b," then EOF: the last field is empty. */
		rc = field_start(s, s->rd.pos, 0, err);
		if (rc != HD_OK)
			return rc;
		field_end(s);
		return HD_OK;
	case ST_QUO:
		return csv_fail(s, err, HD_EPARSE, q_line, q_col,
				"unterminated quoted field: the quote opened "
				"here is never closed");
	default:
		/* ST_UNQ, ST_QQ, or ST_CR: a last "\r" alone ends it too */
		if (st != ST_CR)
			field_end(s);
		return HD_OK;
	}
}

/* The bytes of field f.  The record buffer has no memory at all until a
 * byte was appended, and a record of empty fields appends none, so an
 * empty field may have no address to offset from. */
static const char *field_data(const struct csv *s, const hd__csv_field *f)
{
	return s->rec.data ? s->rec.data + f->off : "";
}

/* A line that is empty or only spaces and tabs (one unquoted field of
 * blanks), or made only of delimiters (a spreadsheet row whose cells
 * were cleared: unquoted fields of blanks).  Passed over, so a stray
 * line is not a ragged row; the second kind is counted for a note. */
static int is_blank(struct csv *s)
{
	for (size_t i = 0; i < s->nfields; i++) {
		const hd__csv_field *f = &s->fields[i];
		if (f->quoted)
			return 0;
		for (size_t k = 0; k < f->len; k++) {
			char c = field_data(s, f)[k];
			if (c != ' ' && c != '\t')
				return 0;
		}
	}
	if (s->nfields > 1 && s->delim_lines++ == 0)
		s->delim_line = s->rec_line;
	return 1;
}

/* A spreadsheet's first line "sep=X" (Excel writes it to name the
 * delimiter): refused with what to do, rather than taken for a header of
 * one column that no tag finds. */
static hd_status sep_line(struct csv *s, hd_error *err)
{
	const hd__csv_field *f = &s->fields[0];
	const char *d = field_data(s, f);
	char sep;

	if (s->rec_line != 1 || f->quoted || f->len < 4 ||
	    memcmp(d, "sep=", 4) != 0)
		return HD_OK;
	if (s->nfields == 1 && f->len == 5)
		sep = d[4];
	else if (s->nfields == 2 && f->len == 4 && s->fields[1].len == 0)
		sep = s->delim;
	else
		return HD_OK;
	if (sep < 0x20 || sep >= 0x7f)
		sep = '?';
	if (sep == s->delim)
		return hd__reader_fail(&s->rd, err, HD_EPARSE, 1, 1, 0,
				       "line 1 is a spreadsheet's 'sep=%c' "
				       "line: remove it",
				       sep);
	return hd__reader_fail(&s->rd, err, HD_EPARSE, 1, 1, 0,
			       "line 1 is a spreadsheet's 'sep=%c' line: "
			       "remove it and give '%c' as the delimiter",
			       sep, sep);
}

/* Can a tag name the column as it is?  Not with white space, '.' (a
 * dotted name), '?' (the optional marker), '}' (the tag's end) or a
 * sigil first ({{#x}} is a section). */
static int usable_name(const char *p, size_t n)
{
	if (n == 0 || strchr("#^/!=<>$&{", p[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strchr(" \t\r\n\f\v.?}", p[i]))
			return 0;
	return 1;
}

hd_status hd_source_alias_of(const char *p, size_t n, hd_buf *out, size_t *len)
{
	size_t start = out->len;
	int gap = 0;
	hd_status st = HD_OK;

	for (size_t i = 0; st == HD_OK && i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '_' || c >= 0x80 || (c >= 'A' && c <= 'Z');
		if (!keep) {
			gap = 1;
			continue;
		}
		if (gap && out->len > start)
			st = hd_buf_putc(out, '_');
		gap = 0;
		if (st == HD_OK)
			st = hd_buf_putc(
			    out,
			    (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
	}
	while (st == HD_OK && out->len > start &&
	       out->data[out->len - 1] == '_')
		out->len--;
	*len = out->len - start;
	if (st == HD_OK)
		st = hd_buf_putc(out, '\0');
	return st;
}

/* The first header read, kept for hd_source_column(): [[name, alias]]. */
static hd_status keep_columns(struct csv *s)
{
	json_t *cols = json_array();

	for (size_t k = 0; cols && k < s->nkeys; k++) {
		json_t *alias =
		    s->alias_off[k] == SIZE_MAX
			? json_null()
			: json_string(s->keys.data + s->alias_off[k]);
		if (json_array_append_new(
			cols, json_pack("[s%o]", s->keys.data + s->key_off[k],
					s->key_len[k], alias)) != 0) {
			json_decref(cols);
			cols = NULL;
		}
	}
	if (!cols)
		return HD_ENOMEM;
	s->columns = cols;
	return HD_OK;
}

/* Gives each column that needs one an alias, unless it would clash. */
static hd_status set_aliases(struct csv *s, json_t *seen, size_t n)
{
	hd_buf tmp = HD_BUF_INIT;

	for (size_t k = 0; k < n; k++) {
		size_t off = s->keys.len, alen = 0;

		s->alias_off[k] = SIZE_MAX;
		if (usable_name(s->keys.data + s->key_off[k], s->key_len[k]))
			continue;
		/* made apart: appending to keys may move the name */
		hd_buf_reset(&tmp);
		if (hd_source_alias_of(s->keys.data + s->key_off[k],
				       s->key_len[k], &tmp, &alen) != HD_OK ||
		    hd_buf_append(&s->keys, tmp.data, alen + 1) != HD_OK) {
			hd_buf_free(&tmp);
			return HD_ENOMEM;
		}
		if (alen == 0 || json_object_get(seen, s->keys.data + off)) {
			s->keys.len =
			    off; /* none: it would be empty or clash */
			continue;
		}
		if (json_object_set_new_nocheck(
			seen, s->keys.data + off,
			json_integer((json_int_t)k + 1))) {
			hd_buf_free(&tmp);
			return HD_ENOMEM;
		}
		s->alias_off[k] = off;
	}
	hd_buf_free(&tmp);
	return HD_OK;
}

/* Takes the record just read as the header: names must be non-empty and
 * distinct, but for unnamed columns at the end (passed over while their
 * cells are empty). */
static hd_status set_header(struct csv *s, hd_error *err)
{
	json_t *seen = NULL;
	size_t n = s->nfields, k, *off, *len, *aoff;
	hd_status rc = HD_OK;

	while (n > 1 && s->fields[n - 1].len == 0 && !s->fields[n - 1].quoted)
		n--;
	s->ntrail = s->nfields - n;
	off = realloc(s->key_off, n * sizeof(*off));
	if (off)
		s->key_off = off;
	len = realloc(s->key_len, n * sizeof(*len));
	if (len)
		s->key_len = len;
	aoff = realloc(s->alias_off, n * sizeof(*aoff));
	if (aoff)
		s->alias_off = aoff;
	seen = json_object();
	if (!off || !len || !aoff || !seen) {
		rc = hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0, NULL);
		goto out;
	}
	hd_buf_reset(&s->keys);
	for (k = 0; k < n; k++) {
		const hd__csv_field *f = &s->fields[k];
		const char *name;
		json_t *prev;

		if (f->len == 0) {
			rc = hd__reader_fail(
			    &s->rd, err, HD_EPARSE, f->line, f->column, 0,
			    "empty header name in column %zu", k + 1);
			goto out;
		}
		/* invisible, and then no tag finds the column */
		if (f->len >= 3 &&
		    memcmp(field_data(s, f), "\xEF\xBB\xBF", 3) == 0) {
			rc = hd__reader_fail(
			    &s->rd, err, HD_EPARSE, f->line, f->column, 0,
			    "header name in column %zu starts with a byte "
			    "order mark (U+FEFF): were two files joined?",
			    k + 1);
			goto out;
		}
		off[k] = s->keys.len;
		len[k] = f->len;
		if (hd_buf_append(&s->keys, field_data(s, f), f->len) !=
			HD_OK ||
		    hd_buf_putc(&s->keys, '\0') != HD_OK) {
			rc = hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0,
					     NULL);
			goto out;
		}
		name = s->keys.data + off[k];
		prev = json_object_get(seen, name);
		if (prev) {
			rc = hd__reader_fail(
			    &s->rd, err, HD_EPARSE, f->line, f->column, 0,
			    "duplicate header name '%.100s' in columns "
			    "%lld and %zu",
			    name, (long long)json_integer_value(prev), k + 1);
			hd_error_set_field(err, name);
			goto out;
		}
		if (json_object_set_new_nocheck(
			seen, name, json_integer((json_int_t)k + 1)) != 0) {
			rc = hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0,
					     NULL);
			goto out;
		}
	}
	s->nkeys = n;
	if (set_aliases(s, seen, n) != HD_OK ||
	    (!s->columns && keep_columns(s) != HD_OK)) {
		rc = hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0, NULL);
		goto out;
	}
	s->have_header = 1;
out:
	json_decref(seen);
	return rc;
}

/* The record as an object of strings keyed by the header. */
static hd_status build(struct csv *s, json_t **record, hd_error *err)
{
	json_t *obj = json_object();
	size_t k;

	if (!obj)
		goto nomem;
	for (k = 0; k < s->nkeys; k++) {
		const hd__csv_field *f = &s->fields[k];
		/* UTF-8 was checked while reading: skip jansson's check. */
		json_t *v = json_stringn_nocheck(field_data(s, f), f->len);
		if (!v || json_object_setn_new_nocheck(
			      obj, s->keys.data + s->key_off[k], s->key_len[k],
			      v) != 0)
			goto nomem;
	}
	*record = obj;
	return HD_OK;
nomem:
	json_decref(obj);
	return hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0, NULL);
}

static hd_status next_record(struct csv *s, json_t **record, long *line,
			     hd_error *err);

static hd_status csv_next(void *state, json_t **record, long *line,
			  hd_error *err)
{
	struct csv *s = state;
	hd_status rc = hd__reader_check_start(&s->rd, err);

	if (rc != HD_OK)
		return rc;
	rc = next_record(s, record, line, err);
	if (rc == HD_EUTF8)
		hd__reader_encoding_hint(&s->rd, err);
	return rc;
}

static hd_status next_record(struct csv *s, json_t **record, long *line,
			     hd_error *err)
{
	hd_status rc;

	for (;;) {
		rc = read_record(s, err);
		if (rc != HD_OK)
			return rc;
		if (s->nfields == 0)
			return HD_OK; /* the end */
		if (is_blank(s))
			continue;
		if (!s->have_header) {
			rc = sep_line(s, err);
			if (rc == HD_OK)
				rc = set_header(s, err);
			if (rc != HD_OK)
				return rc;
			continue;
		}
		break;
	}
	/* unnamed columns at the end: there or not, but empty */
	for (size_t k = s->nkeys; s->ntrail && k < s->nfields; k++) {
		const hd__csv_field *f = &s->fields[k];
		if (k >= s->nkeys + s->ntrail)
			break;
		if (f->len || f->quoted)
			return hd__reader_fail(
			    &s->rd, err, HD_EPARSE, f->line, f->column,
			    s->rd.row + 1,
			    "a value in column %zu, which has no name in the "
			    "header",
			    k + 1);
	}
	if (s->nfields < s->nkeys || s->nfields > s->nkeys + s->ntrail) {
		/* Point at the first extra field, or where the missing one
		 * should have started. */
		int more = s->nfields > s->nkeys;
		const hd__csv_field *f =
		    more ? &s->fields[s->nkeys + s->ntrail] : NULL;
		return hd__reader_fail(
		    &s->rd, err, HD_EPARSE, more ? f->line : s->end_line,
		    more ? f->column : s->end_column, s->rd.row + 1,
		    "record has %zu field%s, the header has "
		    "%zu (record starts at line %ld)",
		    s->nfields, s->nfields == 1 ? "" : "s",
		    s->nkeys + s->ntrail, s->rec_line);
	}
	rc = build(s, record, err);
	if (rc != HD_OK)
		return rc;
	s->rd.row++;
	*line = s->rec_line;
	return HD_OK;
}

static hd_status csv_rewind(void *state, hd_error *err)
{
	struct csv *s = state;

	reset(s);
	return hd__reader_rewind(&s->rd, err);
}

static void csv_on_wait(void *state, int (*fn)(void *ctx), void *ctx)
{
	struct csv *s = state;

	hd__reader_on_wait(&s->rd, fn, ctx);
}

static size_t csv_held(const void *state)
{
	const struct csv *s = state;

	return HD__READ_CHUNK + s->rec.cap + s->keys.cap +
	       s->fields_cap * sizeof(hd__csv_field) +
	       s->nkeys * 2 * sizeof(size_t);
}

hd_status hd__csv_open(const hd__reader *r, char delim, void **state,
		       hd_error *err)
{
	struct csv *s = calloc(1, sizeof(*s));

	*state = NULL;
	if (!s) {
		hd__reader rd = *r;
		hd__reader_free(&rd);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	s->rd = *r;
	s->delim = delim;
	hd_buf_init(&s->rec);
	hd_buf_init(&s->keys);
	reset(s);
	*state = s;
	return HD_OK;
}

const json_t *hd__csv_columns(const void *state)
{
	const struct csv *s = state;

	return s ? s->columns : NULL;
}

void hd__csv_passed_over(const void *state, hd_source_leftovers *out)
{
	const struct csv *s = state;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->delimiter_lines = s->delim_lines;
	out->first_line = s->delim_line;
	out->unnamed = s->have_header || s->columns ? s->ntrail : 0;
}

const hd__source_ops hd__source_csv = {
    .name = "CSV",
    .next = csv_next,
    .rewind = csv_rewind,
    .on_wait = csv_on_wait,
    .held = csv_held,
    .progress = csv_progress,
    .free = csv_free,
};
