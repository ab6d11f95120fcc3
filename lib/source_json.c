/*
 * source_json.c — the JSON array reader and the JSON Lines reader.
 *
 * A JSON recipients file is one array of objects, which may be far larger
 * than memory.  A small scanner walks the array's top level (brackets,
 * commas, whitespace) and cuts out one element at a time, honouring
 * strings and escapes and counting nesting; jansson then parses just that
 * element's bytes.  jansson's error offset is relative to the element, so
 * it is mapped back to the file's line and column.  JSON Lines is simpler:
 * each line is one element.
 *
 * The scanner only has to find where an element ends; jansson judges
 * everything inside it.  A raw control character inside a string (a line
 * break, typically an unclosed quote) is never valid JSON, so the element
 * is cut there and handed to jansson to report, rather than letting one
 * missing quote swallow the rest of the file.
 */
#include "source_int.h"

#include "escape.h"
#include "json_check.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

/* A JSON or JSON Lines source's state. */
struct json {
	hd__reader rd;
	int lines;		     /* JSON Lines, not one array */
	int jphase;		     /* where the array reader is, below */
	long jend_line, jend_column; /* just after the last element */
	hd_buf elem;		     /* bytes of the current element or line */
	long line;		     /* where the record handed out starts */
	hd__record_text *defer;	     /* next_text's: where a line goes */
};

/* Phases of the array reader. */
enum {
	J_BEFORE, /* before the '[' */
	J_FIRST,  /* after '[': an element or ']' */
	J_NEXT,	  /* after ',': an element */
	J_AFTER,  /* after an element: ',' or ']' */
	J_DONE,	  /* after ']': only whitespace may follow */
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_punct(unsigned char c)
{
	switch (c) {
	case '{':
	case '}':
	case '[':
	case ']':
	case ',':
	case ':':
		return 1;
	default:
		return 0;
	}
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Line and column of buf[off], given those of buf[0]. */
static void map_pos(const char *buf, size_t off, long line0, long col0,
		    long *line, long *col)
{
	size_t k;

	*line = line0;
	*col = col0;
	for (k = 0; k < off; k++) {
		if (buf[k] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

/*
 * The offset just after the token before the one that holds buf[off],
 * where a missing separator belongs; 0 with *found = 0 when there is none.
 * Tokens: strings, punctuation, and runs of anything else (literals).
 */
static size_t prev_token_end(const char *buf, size_t len, size_t off,
			     int *found)
{
	size_t k = 0, prev_end = 0;
	int have_prev = 0;

	*found = 0;
	while (k < len) {
		while (k < len && is_ws((unsigned char)buf[k]))
			k++;
		if (k >= len)
			break;
		if (buf[k] == '"') {
			for (k++; k < len && buf[k] != '"'; k++)
				if (buf[k] == '\\' && k + 1 < len)
					k++;
			if (k < len)
				k++;
		} else if (is_punct((unsigned char)buf[k])) {
			k++;
		} else {
			while (k < len && !is_ws((unsigned char)buf[k]) &&
			       !is_punct((unsigned char)buf[k]) &&
			       buf[k] != '"')
				k++;
		}
		if (off < k) {
			*found = have_prev;
			return have_prev ? prev_end : 0;
		}
		prev_end = k;
		have_prev = 1;
	}
	return 0;
}

/* jansson's message for a missing separator, and ours. */
static const struct {
	const char *jansson; /* prefix of jansson's error text */
	const char *ours;
} separator_table[] = {
    {"'}' expected near ", "missing ',' or '}' after this value"},
    {"']' expected near ", "missing ',' or ']' after this value"},
    {"':' expected near ", "missing ':' after this key"},
};

#define RECORD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

hd_status hd__json_parse_value(const char *buf, size_t len, json_t **out,
			       size_t *err_off, hd_error *err)
{
	json_error_t je;
	hd_status code;
	size_t off, pos, i;
	long line, col;
	json_t *v;
	char msg[sizeof(je.text) + 80];

	*out = NULL;
	/* JSON_ALLOW_NUL: "\u0000" is valid JSON; the readers refuse it
	 * later with a clearer message.  A valid text is built by our own
	 * scanner, which does the same in a quarter of the time; jansson
	 * has every other, and says what is wrong. */
	if (hd__json_load(buf, len, RECORD_FLAGS, out) == HD_JSON_VALID)
		return HD_OK;
	v = json_loadb(buf, len, RECORD_FLAGS, &je);
	if (v) {
		/* jansson takes a raw NUL after a value for the end of the
		 * text ("123\0"); a raw NUL is never valid JSON. */
		const char *nul = memchr(buf, 0, len);
		if (!nul) {
			*out = v;
			return HD_OK;
		}
		json_decref(v);
		off = (size_t)(nul - buf);
		if (err_off)
			*err_off = off;
		map_pos(buf, off, 1, 1, &line, &col);
		return hd_error_set(err, HD_EPARSE, NULL, line, col,
				    "NUL byte");
	}
	code = json_error_code(&je) == json_error_invalid_utf8 ? HD_EUTF8
							       : HD_EPARSE;
	pos = je.position > 0 ? (size_t)je.position : 0;
	/* jansson's position is just past the token it complains about,
	 * except for a bad byte or a raw control character, which it
	 * reports before reading. */
	if (code == HD_EUTF8 || starts_with(je.text, "control character") ||
	    starts_with(je.text, "unexpected newline"))
		off = pos;
	else
		off = pos > 0 ? pos - 1 : 0;
	if (off > len)
		off = len;
	if (code == HD_EUTF8 && off < len)
		snprintf(msg, sizeof(msg), "invalid UTF-8 (byte 0x%02x)",
			 (unsigned char)buf[off]);
	else if (starts_with(je.text, "maximum parsing depth reached"))
		snprintf(msg, sizeof(msg),
			 "arrays and objects nested deeper than %d levels",
			 JSON_PARSER_MAX_DEPTH);
	else
		snprintf(msg, sizeof(msg), "%s", je.text);
	for (i = 0; i < sizeof(separator_table) / sizeof(separator_table[0]);
	     i++) {
		const char *near = je.text + strlen(separator_table[i].jansson);
		size_t at;
		int found;

		if (!starts_with(je.text, separator_table[i].jansson) ||
		    strcmp(near, "end of file") == 0)
			continue;
		at = prev_token_end(buf, len, off, &found);
		if (found) {
			off = at;
			snprintf(msg, sizeof(msg), "%s (found %s)",
				 separator_table[i].ours, near);
		}
		break;
	}
	if (err_off)
		*err_off = off;
	map_pos(buf, off, 1, 1, &line, &col);
	return hd_error_set(err, code, NULL, line, col, "%s", msg);
}

/* 1 when a string anywhere inside v holds U+0000. */
static int has_nul(json_t *v)
{
	const char *key;
	json_t *x;
	size_t k;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return memchr(json_string_value(v), 0, json_string_length(v)) !=
		       NULL;
	case JSON_OBJECT:
		json_object_foreach(v, key, x)
		{
			if (has_nul(x))
				return 1;
		}
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, k, x)
		{
			if (has_nul(x))
				return 1;
		}
		return 0;
	default:
		return 0;
	}
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* Parses text[0..len), an array element (lines 0) or a line whose first
 * byte is at (line0, col0) of the file called name, as record row. */
static hd_status parse_text(const char *name, int lines, const char *text,
			    size_t len, long line0, long col0, long row,
			    json_t **record, hd_error *err)
{
	json_t *v = NULL, *x;
	const char *key;
	size_t off = 0;
	long line, col;
	hd_error e;
	hd_status rc;

	*record = NULL;
	rc = hd__json_parse_value(text ? text : "", len, &v, &off, &e);
	if (rc != HD_OK) {
		map_pos(text, off, line0, col0, &line, &col);
		return hd__file_fail(name, err, rc, line, col, row, "%s",
				     e.msg);
	}
	if (!json_is_object(v)) {
		if (!lines)
			rc = hd__file_fail(name, err, HD_EPARSE, line0, col0,
					   row,
					   "array element %ld is %s, not an "
					   "object",
					   row, type_name(v));
		else
			rc = hd__file_fail(
			    name, err, HD_EPARSE, line0, col0, row,
			    "the line holds %s, not an object", type_name(v));
		json_decref(v);
		return rc;
	}
	if (json_object_size(v) > HD_SOURCE_MAX_FIELDS) {
		rc = hd__file_fail(name, err, HD_ELIMIT, line0, col0, row,
				   "a record has more than %d fields",
				   HD_SOURCE_MAX_FIELDS);
		json_decref(v);
		return rc;
	}
	json_object_foreach(v, key, x)
	{
		if (has_nul(x)) {
			rc = hd__file_fail(name, err, HD_EPARSE, line0, col0,
					   row,
					   "string holds a NUL character "
					   "(\\u0000)");
			hd_error_set_field(err, key);
			json_decref(v);
			return rc;
		}
	}
	*record = v;
	return HD_OK;
}

/* Can another thread parse this line on its own?  Only what cannot fail
 * in ways that need the reader (invalid UTF-8 gets a guess at the
 * file's encoding from the bytes around it; a raw NUL its own message). */
static int can_defer(const hd_buf *b)
{
	return b->len > 0 && !memchr(b->data, 0, b->len) &&
	       hd_utf8_valid(b->data, b->len, NULL);
}

/* Hands out s->elem, an array element or a line whose first byte is at
 * (line0, col0), as the next row: parsed, or as its text when the caller
 * asked for that (s->defer) and the text can be parsed elsewhere. */
static hd_status parse_record(struct json *s, long line0, long col0,
			      json_t **record, hd_error *err)
{
	hd_status rc;

	if (s->defer && can_defer(&s->elem)) {
		hd__record_text *t = s->defer;
		t->text = malloc(s->elem.len + 1);
		if (!t->text)
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		memcpy(t->text, s->elem.data, s->elem.len);
		t->text[s->elem.len] = '\0';
		t->len = s->elem.len;
		t->name = s->rd.name;
		t->line = line0;
		t->column = col0;
		t->row = s->rd.row + 1;
	} else {
		rc = parse_text(s->rd.name, s->lines, s->elem.data, s->elem.len,
				line0, col0, s->rd.row + 1, record, err);
		if (rc != HD_OK)
			return rc;
	}
	s->rd.row++;
	s->line = line0;
	return HD_OK;
}

hd_status hd__record_text_parse(const hd__record_text *t, json_t **record,
				hd_error *err)
{
	return parse_text(t->name, 1, t->text, t->len, t->line, t->column,
			  t->row, record, err);
}

static void reset(struct json *s)
{
	s->jphase = J_BEFORE;
	s->jend_line = s->jend_column = 0;
	hd_buf_reset(&s->elem);
}

static void json_free(void *state)
{
	struct json *s = state;

	if (!s)
		return;
	hd__reader_free(&s->rd);
	hd_buf_free(&s->elem);
	free(s);
}

/* Appends buf[from..to) to the element, within the record limit. */
static hd_status elem_add(struct json *s, size_t from, size_t to, long line0,
			  long col0, const char *what, hd_error *err)
{
	if (s->elem.len + (to - from) > (size_t)HD_SOURCE_MAX_RECORD)
		return hd__reader_fail(&s->rd, err, HD_ELIMIT, line0, col0,
				       s->rd.row + 1, "%s longer than 16 MiB",
				       what);
	if (hd_buf_append(&s->elem, s->rd.buf + from, to - from) != HD_OK)
		return hd__reader_fail(&s->rd, err, HD_ENOMEM, 0, 0, 0, NULL);
	return HD_OK;
}

/* Cuts out the element that starts at s->rd.buf[s->rd.pos] and parses it. */
static hd_status element(struct json *s, json_t **record, hd_error *err)
{
	long line0 = s->rd.cur_line, col0 = hd__reader_col(&s->rd, s->rd.pos);
	int depth = 0, in_str = 0, esc = 0, done = 0;
	/* Bit d set: level d+1 was opened by '{'.  A closer that does not
	 * match ends the element there, so jansson reports the mismatch
	 * instead of the scan running on to the end of the file. */
	unsigned long long braces = 0;
	hd_status rc;

	hd_buf_reset(&s->elem);
	while (!done) {
		size_t i, from;

		if (s->rd.pos == s->rd.end) {
			rc = hd__reader_fill(&s->rd, err);
			if (rc != HD_OK)
				return rc;
			if (s->rd.pos == s->rd.end)
				break; /* EOF: jansson says what is missing */
		}
		from = s->rd.pos;
		for (i = from; i < s->rd.end && !done; i++) {
			unsigned char c = (unsigned char)s->rd.buf[i];

			if (in_str) {
				if (esc) {
					esc = 0;
				} else if (c == '\\') {
					esc = 1;
				} else if (c == '"') {
					in_str = 0;
					done = depth == 0;
				} else if (c < 0x20) {
					if (c == '\n')
						hd__reader_newline(&s->rd, i);
					done = 1;
				}
				continue;
			}
			switch (c) {
			case '"':
				in_str = 1;
				break;
			case '{':
			case '[':
				if (depth < 64) {
					unsigned long long bit = 1ULL << depth;
					if (c == '{')
						braces |= bit;
					else
						braces &= ~bit;
				}
				depth++;
				break;
			case '}':
			case ']':
				if (depth == 0) {
					i--; /* ends the array: not ours */
					done = 1;
				} else if (depth <= 64 &&
					   ((braces >> (depth - 1) & 1)
						? c != '}'
						: c != ']')) {
					done = 1; /* mismatched: jansson says */
				} else {
					done = --depth == 0;
				}
				break;
			case ',':
			case ' ':
			case '\t':
			case '\r':
			case '\n':
				if (depth == 0) {
					i--; /* the end of a bare value */
					done = 1;
				} else if (c == '\n') {
					hd__reader_newline(&s->rd, i);
				}
				break;
			default:
				break;
			}
		}
		rc = elem_add(s, from, i, line0, col0, "array element", err);
		if (rc != HD_OK)
			return rc;
		s->rd.pos = i;
	}
	rc = parse_record(s, line0, col0, record, err);
	if (rc != HD_OK)
		return rc;
	s->jend_line = s->rd.cur_line;
	s->jend_column = hd__reader_col(&s->rd, s->rd.pos);
	s->jphase = J_AFTER;
	return HD_OK;
}

static hd_status array_next(struct json *s, json_t **record, hd_error *err)
{
	hd_status rc;

	for (;;) {
		unsigned char c;
		long line, col;

		if (s->rd.pos == s->rd.end) {
			rc = hd__reader_fill(&s->rd, err);
			if (rc != HD_OK)
				return rc;
			if (s->rd.pos == s->rd.end)
				break;
		}
		c = (unsigned char)s->rd.buf[s->rd.pos];
		if (is_ws(c)) {
			if (c == '\n')
				hd__reader_newline(&s->rd, s->rd.pos);
			s->rd.pos++;
			continue;
		}
		line = s->rd.cur_line;
		col = hd__reader_col(&s->rd, s->rd.pos);
		switch (s->jphase) {
		case J_BEFORE:
			if (c != '[')
				return hd__reader_fail(
				    &s->rd, err, HD_EPARSE, line, col, 0,
				    "expected '[': a JSON recipients file "
				    "is an array of objects (one object "
				    "per line is .jsonl)");
			s->jphase = J_FIRST;
			s->rd.pos++;
			continue;
		case J_FIRST:
		case J_NEXT:
			if (c == ']' && s->jphase == J_FIRST) {
				s->jphase = J_DONE;
				s->rd.pos++;
				continue;
			}
			if (c == ']' || c == ',' || c == '}')
				return hd__reader_fail(
				    &s->rd, err, HD_EPARSE, line, col,
				    s->rd.row + 1,
				    "expected an object, found '%c'%s", c,
				    c == ']' ? " (a ',' too many before it)"
					     : "");
			return element(s, record, err);
		case J_AFTER:
			if (c == ',') {
				s->jphase = J_NEXT;
				s->rd.pos++;
				continue;
			}
			if (c == ']') {
				s->jphase = J_DONE;
				s->rd.pos++;
				continue;
			}
			/* Like a compiler's "expected ';'": the comma is
			 * missing right after the element. */
			return hd__reader_fail(
			    &s->rd, err, HD_EPARSE, s->jend_line,
			    s->jend_column, s->rd.row + 1,
			    "missing ',' or ']' after this array element "
			    "(found '%c' at line %ld, column %ld)",
			    c >= 0x20 && c < 0x7f ? c : '?', line, col);
		default:
			return hd__reader_fail(
			    &s->rd, err, HD_EPARSE, line, col, 0,
			    "unexpected data after the closing ']'");
		}
	}
	/* The end of the file. */
	switch (s->jphase) {
	case J_BEFORE:
	case J_DONE:
		return HD_OK; /* no recipients at all is source.c's call */
	default:
		return hd__reader_fail(&s->rd, err, HD_EPARSE, s->rd.cur_line,
				       hd__reader_col(&s->rd, s->rd.pos), 0,
				       "unexpected end of file: the array is "
				       "not closed with ']'");
	}
}

static hd_status lines_next(struct json *s, json_t **record, hd_error *err)
{
	hd_status rc;

	for (;;) {
		long line0 = s->rd.cur_line,
		     col0 = hd__reader_col(&s->rd, s->rd.pos);
		int got_lf = 0;
		size_t k;

		hd_buf_reset(&s->elem);
		while (!got_lf) {
			const char *p, *nl;
			size_t to;

			if (s->rd.pos == s->rd.end) {
				rc = hd__reader_fill(&s->rd, err);
				if (rc != HD_OK)
					return rc;
				if (s->rd.pos == s->rd.end)
					break;
			}
			p = s->rd.buf + s->rd.pos;
			nl = memchr(p, '\n', s->rd.end - s->rd.pos);
			to = nl ? (size_t)(nl - s->rd.buf) : s->rd.end;
			rc = elem_add(s, s->rd.pos, to, line0, col0, "line",
				      err);
			if (rc != HD_OK)
				return rc;
			s->rd.pos = to;
			if (nl) {
				hd__reader_newline(&s->rd, to);
				s->rd.pos = to + 1;
				got_lf = 1;
			}
		}
		if (!got_lf && s->elem.len == 0)
			return HD_OK; /* the end */
		for (k = 0; k < s->elem.len; k++)
			if (!is_ws((unsigned char)s->elem.data[k]))
				break;
		if (k == s->elem.len)
			continue; /* a blank line */
		return parse_record(s, line0, col0, record, err);
	}
}

static hd_status json_next(void *state, json_t **record, long *line,
			   hd_error *err)
{
	struct json *s = state;
	hd_status rc = hd__reader_check_start(&s->rd, err);

	if (rc != HD_OK)
		return rc;
	rc = s->lines ? lines_next(s, record, err) : array_next(s, record, err);
	if (rc == HD_EUTF8)
		hd__reader_encoding_hint(&s->rd, err);
	if (rc == HD_OK && (*record || (s->defer && s->defer->text)))
		*line = s->line;
	return rc;
}

static hd_status jsonl_next_text(void *state, json_t **record,
				 hd__record_text *text, long *line,
				 hd_error *err)
{
	struct json *s = state;
	hd_status rc;

	s->defer = text;
	rc = json_next(state, record, line, err);
	s->defer = NULL;
	return rc;
}

static hd_status json_rewind(void *state, hd_error *err)
{
	struct json *s = state;

	reset(s);
	return hd__reader_rewind(&s->rd, err);
}

static void json_on_wait(void *state, int (*fn)(void *ctx), void *ctx)
{
	struct json *s = state;

	hd__reader_on_wait(&s->rd, fn, ctx);
}

static int json_progress(const void *state, long long *done, long long *size)
{
	return hd__reader_progress(&((const struct json *)state)->rd, done,
				   size);
}

static size_t json_held(const void *state)
{
	const struct json *s = state;

	return HD__READ_CHUNK + s->elem.cap;
}

static hd_status open_json(const hd__reader *r, int lines, void **state,
			   hd_error *err)
{
	struct json *s = calloc(1, sizeof(*s));

	*state = NULL;
	if (!s) {
		hd__reader rd = *r;
		hd__reader_free(&rd);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	s->rd = *r;
	s->lines = lines;
	hd_buf_init(&s->elem);
	reset(s);
	*state = s;
	return HD_OK;
}

hd_status hd__json_open(const hd__reader *r, char delim, void **state,
			hd_error *err)
{
	(void)delim;
	return open_json(r, 0, state, err);
}

hd_status hd__jsonl_open(const hd__reader *r, char delim, void **state,
			 hd_error *err)
{
	(void)delim;
	return open_json(r, 1, state, err);
}

const hd__source_ops hd__source_json = {
    .name = "JSON",
    .next = json_next,
    .rewind = json_rewind,
    .on_wait = json_on_wait,
    .held = json_held,
    .progress = json_progress,
    .free = json_free,
};

const hd__source_ops hd__source_jsonl = {
    .name = "JSON Lines",
    .next = json_next,
    .next_text = jsonl_next_text,
    .rewind = json_rewind,
    .on_wait = json_on_wait,
    .held = json_held,
    .progress = json_progress,
    .free = json_free,
};
