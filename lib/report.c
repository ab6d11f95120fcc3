/* report.c — JSONL and CSV results reports. */
#include "report.h"

#include "buf.h"
#include "escape.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HD_REPORT_FLUSH_MS 200

struct hd_report {
	FILE *fp;
	int own; /* 1: fclose on close (not stdout) */
	int csv;
	char path[PATH_MAX];   /* as given, for messages */
	char target[PATH_MAX]; /* where the report goes (symlinks resolved) */
	char temp[PATH_MAX];   /* written here, renamed to target; "" when
				  written in place (stdout, a device) */
	struct timespec last_flush;
	int failed;  /* a write failed */
	hd_buf line; /* the JSONL line being made */
};

static const char *const status_names[] = {
    [HD_ROW_SENT] = "sent",	      [HD_ROW_FAILED] = "failed",
    [HD_ROW_INVALID] = "invalid",     [HD_ROW_SKIPPED] = "skipped",
    [HD_ROW_DRY_RUN] = "dry-run",     [HD_ROW_NOT_ATTEMPTED] = "not-attempted",
    [HD_ROW_UNCERTAIN] = "uncertain",
};

#define NSTATUS (sizeof(status_names) / sizeof(status_names[0]))

const char *hd_row_status_name(hd_row_status s)
{
	if ((unsigned)s >= NSTATUS || !status_names[s])
		return "unknown";
	return status_names[s];
}

hd_row_status hd_row_status_parse(const char *name)
{
	for (size_t i = 1; i < NSTATUS; i++)
		if (status_names[i] && name &&
		    strcmp(name, status_names[i]) == 0)
			return (hd_row_status)i;
	return 0;
}

void hd_format_timestamp(double t, char out[32])
{
	/* the date and time made once a second by each thread, the rest by
	 * hand: strftime and snprintf showed in a profile of the committer */
	static _Thread_local time_t made_for = (time_t)-1;
	static _Thread_local char date[24];
	time_t secs = (time_t)t;
	long ms = (long)((t - (double)secs) * 1000.0 + 0.5);
	struct tm tm;
	size_t n;

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	if (secs != made_for || !date[0]) {
		gmtime_r(&secs, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		made_for = secs;
	}
	n = strlen(date);
	if (n > 20)
		n = 20;
	memcpy(out, date, n);
	out[n] = '.';
	out[n + 1] = (char)('0' + ms / 100);
	out[n + 2] = (char)('0' + ms / 10 % 10);
	out[n + 3] = (char)('0' + ms % 10);
	out[n + 4] = 'Z';
	out[n + 5] = '\0';
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static const char csv_header[] =
    "row,key,status,attempts,code,response,error,failure,ms,at,message_id\n";

/* Where a report for path is written first: a hidden temporary file in
 * the same folder, so the rename into place is atomic. */
static int make_temp(hd_report *r)
{
	const char *slash = strrchr(r->target, '/');
	int fd;

	if (slash)
		snprintf(r->temp, sizeof(r->temp), "%.*s/.%s.XXXXXX",
			 (int)(slash - r->target), r->target, slash + 1);
	else
		snprintf(r->temp, sizeof(r->temp), ".%s.XXXXXX", r->target);
	fd = mkstemp(r->temp); /* mode 0600 */
	if (fd < 0) {
		r->temp[0] = '\0';
		return -1;
	}
	r->fp = fdopen(fd, "w");
	if (!r->fp) {
		close(fd);
		unlink(r->temp);
		r->temp[0] = '\0';
		return -1;
	}
	return 0;
}

hd_status hd_report_open(const char *path, hd_report **out, hd_error *err)
{
	hd_report *r;
	struct stat st;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (strcmp(path, "-") == 0) {
		r->fp = stdout;
	} else {
		r->own = 1;
		r->csv = has_suffix(path, ".csv");
		/* a link is followed: the report replaces what it points to */
		if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode) ||
		    !realpath(path, r->target))
			snprintf(r->target, sizeof(r->target), "%s", path);
		if (stat(r->target, &st) == 0 && S_ISDIR(st.st_mode)) {
			errno = EISDIR;
		} else if (stat(r->target, &st) == 0 && !S_ISREG(st.st_mode)) {
			/* /dev/null, a pipe: written in place */
			r->fp = fopen(r->target, "w");
		} else if (make_temp(r) != 0) {
			r->fp = NULL;
		}
	}
	if (!r->fp) {
		hd_error_set(err, HD_ECREATE, path, 0, 0,
			     "cannot create report: %s", strerror(errno));
		free(r);
		return HD_ECREATE;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->last_flush);
	if (r->csv && fputs(csv_header, r->fp) == EOF)
		r->failed = 1;
	*out = r;
	return HD_OK;
}

/* Writes one CSV cell, quoted when needed; guard neutralises formulas. */
static void csv_cell(FILE *fp, const char *s, int guard)
{
	int quote;

	if (!s)
		return;
	quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		fputc('"', fp);
	if (guard && (s[0] == '=' || s[0] == '+' || s[0] == '-' ||
		      s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
		fputc('\'', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	if (quote)
		fputc('"', fp);
}

static void write_csv(hd_report *r, const hd_report_row *row, const char *at)
{
	FILE *fp = r->fp;

	if (row->row > 0)
		fprintf(fp, "%ld", row->row);
	fputc(',', fp);
	csv_cell(fp, row->key, 1);
	fprintf(fp, ",%s,%d,", hd_row_status_name(row->status), row->attempts);
	if (row->code)
		fprintf(fp, "%ld", row->code);
	fputc(',', fp);
	csv_cell(fp, row->response, 1);
	fputc(',', fp);
	csv_cell(fp, row->error, 1);
	fputc(',', fp);
	csv_cell(fp, row->failure, 0);
	fprintf(fp, ",%ld,%s,", row->ms, at);
	csv_cell(fp, row->message_id, 1);
	fputc('\n', fp);
}

/* "name":"value" (or null), JSON-escaped; invalid UTF-8 (which a server
 * could send) is written as a note, so the line stays valid JSON. */
static hd_status put_str(hd_buf *b, const char *name, const char *v)
{
	hd_status st = hd_buf_puts(b, ",\"");
	size_t mark;

	if (st == HD_OK)
		st = hd_buf_puts(b, name);
	if (st == HD_OK)
		st = hd_buf_puts(b, "\":");
	if (st != HD_OK || !v)
		return st != HD_OK ? st : hd_buf_puts(b, "null");
	mark = b->len;
	st = hd_buf_putc(b, '"');
	if (st == HD_OK)
		st = hd_escape_json(b, v, strlen(v), NULL);
	if (st == HD_EUTF8) {
		b->len = mark;
		st = hd_buf_puts(b, "\"(invalid UTF-8");
	}
	return st == HD_OK ? hd_buf_putc(b, '"') : st;
}

/* One line (without its line end) into b, written by hand: a report line
 * is the hot path of a fast run (jansson's objects cost a third of the
 * committer's time, and printf later showed in a profile of it). */
static hd_status build_line(hd_buf *b, const hd_report_row *row, const char *at)
{
	hd_status st = hd_buf_puts(b, "{\"row\":");

	if (st == HD_OK)
		st = row->row > 0 ? hd_buf_put_long(b, row->row)
				  : hd_buf_puts(b, "null");
	if (st == HD_OK)
		st = put_str(b, "key", row->key);
	if (st == HD_OK)
		st = hd_buf_puts(b, ",\"status\":\"");
	if (st == HD_OK)
		st = hd_buf_puts(b, hd_row_status_name(row->status));
	if (st == HD_OK)
		st = hd_buf_puts(b, "\",\"attempts\":");
	if (st == HD_OK)
		st = hd_buf_put_long(b, row->attempts);
	if (st == HD_OK)
		st = hd_buf_puts(b, ",\"code\":");
	if (st == HD_OK)
		st = row->code ? hd_buf_put_long(b, row->code)
			       : hd_buf_puts(b, "null");
	if (st == HD_OK)
		st = put_str(b, "response", row->response);
	if (st == HD_OK)
		st = put_str(b, "error", row->error);
	if (st == HD_OK && row->failure)
		st = put_str(b, "failure", row->failure);
	if (st == HD_OK)
		st = hd_buf_puts(b, ",\"ms\":");
	if (st == HD_OK)
		st = hd_buf_put_long(b, row->ms);
	if (st == HD_OK)
		st = hd_buf_puts(b, ",\"at\":\"");
	if (st == HD_OK)
		st = hd_buf_puts(b, at);
	if (st == HD_OK)
		st = hd_buf_putc(b, '"');
	if (st == HD_OK)
		st = put_str(b, "message_id", row->message_id);
	if (st == HD_OK)
		st = hd_buf_putc(b, '}');
	return st;
}

static hd_status write_jsonl(hd_report *r, const hd_report_row *row,
			     const char *at)
{
	hd_buf *b = &r->line;
	hd_status st;

	hd_buf_reset(b);
	st = build_line(b, row, at);
	if (st == HD_OK)
		st = hd_buf_putc(b, '\n');
	if (st != HD_OK)
		return st;
	return fwrite(b->data, 1, b->len, r->fp) == b->len ? HD_OK : HD_EIO;
}

char *hd__report_line(const hd_report_row *row)
{
	char at[32];
	hd_buf b;

	hd_buf_init(&b);
	hd_format_timestamp(row->at, at);
	if (build_line(&b, row, at) != HD_OK) {
		hd_buf_free(&b);
		return NULL;
	}
	return hd_buf_detach(&b, NULL);
}

hd_status hd_report_write(hd_report *r, const hd_report_row *row)
{
	char at[32];
	struct timespec now;
	long elapsed_ms;

	if (!r || !row)
		return HD_EINVAL;
	hd_format_timestamp(row->at, at);
	if (r->csv)
		write_csv(r, row, at);
	else if (write_jsonl(r, row, at) != HD_OK)
		r->failed = 1;
	if (ferror(r->fp))
		r->failed = 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed_ms = (long)(now.tv_sec - r->last_flush.tv_sec) * 1000 +
		     (now.tv_nsec - r->last_flush.tv_nsec) / 1000000;
	if (elapsed_ms >= HD_REPORT_FLUSH_MS) {
		if (fflush(r->fp) == EOF)
			r->failed = 1;
		r->last_flush = now;
	}
	return r->failed ? HD_EIO : HD_OK;
}

hd_status hd_report_close(hd_report *r, hd_error *err)
{
	int bad;

	if (!r)
		return HD_OK;
	bad = r->failed || fflush(r->fp) == EOF || ferror(r->fp);
	if (r->own && fclose(r->fp) == EOF)
		bad = 1;
	if (!bad && r->temp[0] && rename(r->temp, r->target) != 0)
		bad = 1;
	if (bad) {
		hd_error_set(err, HD_EIO, r->path, 0, 0,
			     "writing the report failed: %s", strerror(errno));
		if (r->temp[0])
			unlink(r->temp);
	}
	hd_buf_free(&r->line);
	free(r);
	return bad ? HD_EIO : HD_OK;
}

void hd_report_abandon(hd_report *r)
{
	if (!r)
		return;
	if (r->own)
		fclose(r->fp);
	if (r->temp[0])
		unlink(r->temp);
	hd_buf_free(&r->line);
	free(r);
}
