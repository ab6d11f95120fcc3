/* report_read.c — reading a JSONL or CSV results report back, row by row,
 * through the streaming recipient readers (source.h). */
#include "report.h"
#include "source.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct hd_report_reader {
	hd_source *src;
	int csv;
	json_t *cur; /* the record the last row's strings point into */
};

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* A report renamed away from .csv is still CSV when its header says so. */
static int starts_like_csv(const char *path)
{
	char head[8] = {0};
	FILE *fp = fopen(path, "rb");
	size_t n, off = 0;

	if (!fp)
		return 0;
	n = fread(head, 1, sizeof(head) - 1, fp);
	fclose(fp);
	if (n >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3))
		off = 3;
	return n >= off + 4 && !memcmp(head + off, "row,", 4);
}

hd_status hd_report_reader_open(const char *path, hd_report_reader **out,
				hd_error *err)
{

	hd_source_opts o = {.format = HD_FORMAT_JSONL, .delimiter = ','};
	hd_report_reader *r;
	hd_status st;

	if (!out || !path)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
				    "no report path");
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	if (strcmp(path, "-") != 0 &&
	    (has_suffix(path, ".csv") || starts_like_csv(path)))
		r->csv = 1;
	o.format = r->csv ? HD_FORMAT_CSV : HD_FORMAT_JSONL;
	st = hd_source_open(path, &o, &r->src, err);
	if (st != HD_OK) {
		free(r);
		return st;
	}
	*out = r;
	return HD_OK;
}

void hd_report_reader_free(hd_report_reader *r)
{
	if (!r)
		return;
	json_decref(r->cur);
	hd_source_free(r->src);
	free(r);
}

/* Fills err for a bad field of the current line. */
HD_PRINTF(4, 5)
static hd_status bad(hd_report_reader *r, hd_error *err, const char *field,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hd_error_vset(err, HD_EPARSE, hd_source_name(r->src),
		      hd_source_line(r->src), 0, fmt, ap);
	va_end(ap);
	hd_error_set_field(err, field);
	return HD_EPARSE;
}

/* A whole number: a JSON integer, or (CSV) decimal digits.  Missing,
 * null or an empty cell is 0; required fields must be there. */
static hd_status get_long(hd_report_reader *r, const char *name, int required,
			  long *out, hd_error *err)
{
	json_t *v = json_object_get(r->cur, name);
	const char *s;
	char *end;
	long n;

	*out = 0;
	if (!v || json_is_null(v) ||
	    (json_is_string(v) && !*json_string_value(v))) {
		if (required)
			return bad(r, err, name, "the report line has no %s",
				   name);
		return HD_OK;
	}
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || i > (json_int_t)(~0UL >> 1))
			return bad(r, err, name, "%s is out of range", name);
		*out = (long)i;
		return HD_OK;
	}
	if (!json_is_string(v))
		return bad(r, err, name, "%s is not a whole number", name);
	s = json_string_value(v);
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || s[0] == '+' || s[0] == ' ')
		return bad(r, err, name, "%s is not a whole number: '%.40s'",
			   name, s);
	*out = n;
	return HD_OK;
}

/* The CSV writer's formula guard, undone: see report.h. */
static const char *unguard(const char *s)
{
	if (s[0] == '\'' && s[1] && strchr("=+-@\t\r'", s[1]))
		return s + 1;
	return s;
}

/* A string or null; in CSV an empty cell is NULL and guarded cells lose
 * their apostrophe. */
static hd_status get_str(hd_report_reader *r, const char *name, int guarded,
			 const char **out, hd_error *err)
{
	json_t *v = json_object_get(r->cur, name);
	const char *s;

	*out = NULL;
	if (!v || json_is_null(v))
		return HD_OK;
	if (!json_is_string(v))
		return bad(r, err, name, "%s is not a string", name);
	s = json_string_value(v);
	if (r->csv) {
		if (!*s)
			return HD_OK;
		if (guarded)
			s = unguard(s);
	}
	*out = s;
	return HD_OK;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* 2026-11-27T13:45:10.123Z (the writer's form; the fraction may have 0
 * to 9 digits) -> seconds since the epoch. */
static int parse_timestamp(const char *s, double *out)
{
	struct tm tm;
	int y, mo, d, h, mi, se;
	double frac = 0, scale = 0.1;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &se))
		return -1;
	p = s + 19;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9' && n < 9; p++, n++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
		if (!n)
			return -1;
	}
	if (strcmp(p, "Z") || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (double)t + frac;
	return 0;
}

static hd_status fill(hd_report_reader *r, hd_report_row *row, hd_error *err)
{
	const char *status, *at;
	long n;
	hd_status st;

	st = get_long(r, "row", 1, &row->row, err);
	if (st == HD_OK && row->row < 1)
		st = bad(r, err, "row", "row must be 1 or more");
	if (st == HD_OK)
		st = get_str(r, "status", 0, &status, err);
	if (st != HD_OK)
		return st;
	if (!status)
		return bad(r, err, "status", "the report line has no status");
	row->status = hd_row_status_parse(status);
	if (!row->status)
		return bad(r, err, "status", "unknown status '%.40s'", status);
	st = get_long(r, "attempts", 0, &n, err);
	if (st == HD_OK && n > 1000000)
		st = bad(r, err, "attempts", "attempts is out of range");
	row->attempts = (int)n;
	if (st == HD_OK)
		st = get_long(r, "code", 0, &row->code, err);
	if (st == HD_OK)
		st = get_long(r, "ms", 0, &row->ms, err);
	if (st == HD_OK)
		st = get_str(r, "key", 1, &row->key, err);
	if (st == HD_OK)
		st = get_str(r, "response", 1, &row->response, err);
	if (st == HD_OK)
		st = get_str(r, "error", 1, &row->error, err);
	if (st == HD_OK)
		st = get_str(r, "failure", 0, &row->failure, err);
	if (st == HD_OK)
		st = get_str(r, "message_id", 1, &row->message_id, err);
	if (st == HD_OK)
		st = get_str(r, "at", 0, &at, err);
	if (st == HD_OK && at && parse_timestamp(at, &row->at))
		st = bad(r, err, "at",
			 "at is not a timestamp like "
			 "2026-11-27T13:45:10.123Z: '%.40s'",
			 at);
	return st;
}

hd_status hd_report_reader_next(hd_report_reader *r, hd_report_row *row,
				hd_error *err)
{
	hd_error e;
	hd_status st;

	if (!r || !row)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
				    "no reader or row");
	memset(row, 0, sizeof(*row));
	json_decref(r->cur);
	r->cur = NULL;
	hd_error_clear(&e);
	st = hd_source_next(r->src, &r->cur, &e);
	if (st == HD_EPARSE && hd_source_row(r->src) == 0 && e.line == 0)
		return HD_OK; /* no rows at all: an empty report */
	if (st != HD_OK) {
		if (err)
			*err = e;
		return st;
	}
	if (!r->cur)
		return HD_OK;
	st = fill(r, row, err);
	if (st != HD_OK)
		memset(row, 0, sizeof(*row));
	return st;
}
