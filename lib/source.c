/*
 * source.c — opening a recipients file, spooling standard input, the read
 * buffer, and the open/next/rewind layer over the CSV and JSON readers.
 */
#include "fdio.h"
#include "recode.h"
#include "source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STDIN_NAME "<stdin>"

/* Extension -> format, compared without case. */
static const struct {
	const char *ext;
	hd_format format;
} ext_table[] = {
    {".csv", HD_FORMAT_CSV},
    {".json", HD_FORMAT_JSON},
    {".jsonl", HD_FORMAT_JSONL},
    {".ndjson", HD_FORMAT_JSONL},
};

hd_status hd__source_fail(hd_source *s, hd_error *err, hd_status code,
			  long line, long column, long row, const char *fmt,
			  ...)
{
	va_list ap;

	va_start(ap, fmt);
	hd_error_vset(err, code, s->name, line, column, fmt, ap);
	va_end(ap);
	if (err && row > 0)
		err->row = row;
	return code;
}

static hd_status format_from_path(const char *path, hd_format *format,
				  hd_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash + 1 : path, '.');
	size_t i;

	if (!dot || dot[1] == '\0')
		return hd_error_set(err, HD_EUSAGE, path, 0, 0,
				    "cannot tell the format: no file "
				    "extension (expected .csv, .json, .jsonl "
				    "or .ndjson, or give the format)");
	for (i = 0; i < sizeof(ext_table) / sizeof(ext_table[0]); i++) {
		if (strcasecmp(dot, ext_table[i].ext) == 0) {
			*format = ext_table[i].format;
			return HD_OK;
		}
	}
	return hd_error_set(err, HD_EUSAGE, path, 0, 0,
			    "unknown recipients file extension '%.40s' "
			    "(expected .csv, .json, .jsonl or .ndjson)",
			    dot);
}

/* Copies everything readable from in to a new unlinked file in $TMPDIR;
 * *out is its descriptor, positioned at 0.  For the line formats (CSV,
 * JSON Lines) the copy stops inside a line longer than any valid record
 * can make (HD__SPOOL_LINE_MAX), so a pipe that never sends a line break
 * costs neither memory nor disk: *cut_line is then that line's number
 * (else 0) and the reader reports it (hd__source_fill). */
static hd_status spool(int in, const char *name, int lines, int *out,
		       long *cut_line, hd_error *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	char *chunk = NULL;
	hd_status rc = HD_OK;
	int fd, n;
	ssize_t r;
	long line = 1;
	size_t run = 0; /* bytes since the last line break */

	*cut_line = 0;
	if (!dir || !*dir)
		dir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/herald-spool-XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return hd_error_set(err, HD_EIO, name, 0, 0,
				    "cannot spool input: TMPDIR is too long");
	fd = mkstemp(path);
	if (fd < 0)
		return hd_error_set(err, HD_EIO, name, 0, 0,
				    "cannot create a temporary file in "
				    "%.200s: %s",
				    dir, strerror(errno));
	/* Unlinked at once: nothing is left behind, whatever happens. */
	unlink(path);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	chunk = malloc(HD__READ_CHUNK);
	if (!chunk) {
		rc = hd_error_set(err, HD_ENOMEM, name, 0, 0, NULL);
		goto out;
	}
	while ((r = hd__read_some(in, chunk, HD__READ_CHUNK)) > 0) {
		if (lines) {
			for (ssize_t i = 0; i < r; i++) {
				if (chunk[i] == '\n') {
					line++;
					run = 0;
				} else if (++run > HD__SPOOL_LINE_MAX) {
					r = i + 1;
					*cut_line = line;
					break;
				}
			}
		}
		if (hd__write_all(fd, chunk, (size_t)r) < 0) {
			rc = hd_error_set(err, HD_EIO, name, 0, 0,
					  "cannot spool input to %.200s: %s",
					  dir, strerror(errno));
			goto out;
		}
		if (*cut_line)
			break;
	}
	if (r < 0) {
		rc = hd_error_set(err, HD_EIO, name, 0, 0, "cannot read: %s",
				  strerror(errno));
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		rc = hd_error_set(err, HD_EIO, name, 0, 0,
				  "cannot rewind the spool file: %s",
				  strerror(errno));
out:
	free(chunk);
	if (rc != HD_OK)
		close(fd);
	else
		*out = fd;
	return rc;
}

static hd_status check_opts(const hd_source_opts *opts, const char *name,
			    hd_format *format, char *delim, hd_error *err)
{
	unsigned char d;

	*format = opts ? opts->format : HD_FORMAT_AUTO;
	*delim = opts && opts->delimiter ? opts->delimiter : ',';
	d = (unsigned char)*delim;
	if ((unsigned)*format > HD_FORMAT_JSONL)
		return hd_error_set(err, HD_EUSAGE, name, 0, 0,
				    "unknown recipients format %d",
				    (int)*format);
	/* The delimiter must be one byte that cannot be part of a quoted
	 * field's syntax or of a UTF-8 sequence. */
	if (d >= 0x80 || d == '"' || d == '\r' || d == '\n')
		return hd_error_set(err, HD_EUSAGE, name, 0, 0,
				    "invalid CSV delimiter (byte 0x%02x)", d);
	return HD_OK;
}

/* Replaces *fd (closed) by a UTF-8 copy of what it holds. */
static hd_status recode(int *fd, const char *name, const char *encoding,
			hd_error *err)
{
	int utf8;
	hd_status rc = hd__recode(*fd, name, encoding, &utf8, err);

	close(*fd);
	*fd = rc == HD_OK ? utf8 : -1;
	return rc;
}

/* Takes ownership of fd (closed on failure too). */
static hd_status source_new(int fd, const char *name, hd_format format,
			    char delim, hd_source **out, hd_error *err)
{
	hd_source *s = calloc(1, sizeof(*s));
	hd_status rc;

	if (!s || !(s->name = strdup(name)) ||
	    !(s->buf = malloc(HD__READ_CHUNK))) {
		if (s)
			free(s->name);
		free(s);
		close(fd);
		return hd_error_set(err, HD_ENOMEM, name, 0, 0, NULL);
	}
	s->fd = fd;
	s->format = format;
	s->delim = delim;
	hd_buf_init(&s->rec);
	hd_buf_init(&s->keys);
	hd_buf_init(&s->elem);
	rc = hd_source_rewind(s, err);
	if (rc != HD_OK) {
		hd_source_free(s);
		return rc;
	}
	*out = s;
	return HD_OK;
}

hd_status hd__source_open_fd(int fd, const char *name,
			     const hd_source_opts *opts, hd_source **out,
			     hd_error *err)
{
	hd_format format;
	char delim;
	hd_status rc;
	int spooled;
	long cut;

	if (out)
		*out = NULL;
	if (!out || fd < 0 || !name)
		return hd_error_set(err, HD_EINVAL, name, 0, 0, NULL);
	rc = check_opts(opts, name, &format, &delim, err);
	if (rc != HD_OK)
		return rc;
	if (format == HD_FORMAT_AUTO)
		return hd_error_set(err, HD_EUSAGE, name, 0, 0,
				    "standard input needs an explicit format "
				    "(csv, json or jsonl)");
	rc = spool(fd, name, format != HD_FORMAT_JSON, &spooled, &cut, err);
	if (rc == HD_OK && opts && !hd__encoding_is_utf8(opts->encoding))
		rc = recode(&spooled, name, opts->encoding, err);
	if (rc != HD_OK)
		return rc;
	rc = source_new(spooled, name, format, delim, out, err);
	if (rc == HD_OK) {
		(*out)->cut_line = cut;
		(*out)->recoded = opts && !hd__encoding_is_utf8(opts->encoding);
	}
	return rc;
}

hd_status hd_source_open(const char *path, const hd_source_opts *opts,
			 hd_source **out, hd_error *err)
{
	hd_format format;
	char delim;
	struct stat st;
	hd_status rc;
	int fd, spooled;
	long cut = 0;

	if (out)
		*out = NULL;
	if (!path || !out)
		return hd_error_set(err, HD_EINVAL, path, 0, 0, NULL);
	if (strcmp(path, "-") == 0)
		return hd__source_open_fd(STDIN_FILENO, STDIN_NAME, opts, out,
					  err);
	rc = check_opts(opts, path, &format, &delim, err);
	if (rc != HD_OK)
		return rc;
	if (format == HD_FORMAT_AUTO) {
		rc = format_from_path(path, &format, err);
		if (rc != HD_OK)
			return rc;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hd_error_set(err, HD_ENOENT, path, 0, 0,
				    "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
		close(fd);
		return hd_error_set(err, HD_ENOENT, path, 0, 0,
				    "cannot open: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		/* A pipe cannot be read twice: keep a copy. */
		rc = spool(fd, path, format != HD_FORMAT_JSON, &spooled, &cut,
			   err);
		close(fd);
		if (rc != HD_OK)
			return rc;
		fd = spooled;
	}
	if (opts && !hd__encoding_is_utf8(opts->encoding)) {
		rc = recode(&fd, path, opts->encoding, err);
		if (rc != HD_OK)
			return rc;
	}
	rc = source_new(fd, path, format, delim, out, err);
	if (rc == HD_OK) {
		(*out)->cut_line = cut;
		(*out)->recoded = opts && !hd__encoding_is_utf8(opts->encoding);
	}
	return rc;
}

hd_status hd__source_fill(hd_source *s, hd_error *err)
{
	ssize_t r;

	if (s->pos < s->end || s->eof)
		return HD_OK;
	s->base += (long long)s->end;
	s->pos = s->end = 0;
	r = hd__read_some(s->fd, s->buf, HD__READ_CHUNK);
	if (r < 0)
		return hd__source_fail(s, err, HD_EIO, s->cur_line, 0, 0,
				       "cannot read: %s", strerror(errno));
	if (r == 0 && s->cut_line)
		return hd__source_fail(s, err, HD_ELIMIT, s->cut_line, 0, 0,
				       "line longer than %ld MiB; the rest of "
				       "the input was not read",
				       (long)(HD__SPOOL_LINE_MAX >> 20));
	if (r == 0)
		s->eof = 1;
	s->end = (size_t)r;
	return HD_OK;
}

hd_status hd_source_rewind(hd_source *s, hd_error *err)
{
	hd_status rc;

	if (!s)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0, NULL);
	if (lseek(s->fd, 0, SEEK_SET) != 0) {
		rc = hd__source_fail(s, &s->ferr, HD_EIO, 0, 0, 0,
				     "cannot rewind: %s", strerror(errno));
		goto fail;
	}
	s->pos = s->end = 0;
	s->base = 0;
	s->eof = 0;
	s->cur_line = 1;
	s->line_start = 0;
	s->row = 0;
	s->line = 0;
	s->at_end = 0;
	s->failed = HD_OK;
	hd_error_clear(&s->ferr);
	if (s->format == HD_FORMAT_CSV)
		hd__csv_reset(s);
	else
		hd__json_reset(s);
	/* Skip a UTF-8 byte order mark; columns on line 1 start after it.
	 * A regular file gives a full chunk per read, so three bytes are
	 * there unless the file is shorter. */
	rc = hd__source_fill(s, &s->ferr);
	if (rc != HD_OK)
		goto fail;
	if (s->end >= 3 && memcmp(s->buf, "\xEF\xBB\xBF", 3) == 0) {
		s->pos = 3;
		s->line_start = 3;
	}
	/* A UTF-16 or UTF-32 file (a spreadsheet's "Unicode text" export)
	 * is named as such, rather than "invalid UTF-8" at 1:1.  The first
	 * next() reports it, as any other content error. */
	if (s->end >= 2 &&
	    (memcmp(s->buf, "\xFF\xFE", 2) == 0 ||
	     memcmp(s->buf, "\xFE\xFF", 2) == 0 ||
	     (s->end >= 4 && memcmp(s->buf, "\0\0\xFE\xFF", 4) == 0))) {
		int utf32 =
		    s->end >= 4 && (memcmp(s->buf, "\xFF\xFE\0\0", 4) == 0 ||
				    memcmp(s->buf, "\0\0\xFE\xFF", 4) == 0);
		s->failed = hd__source_fail(
		    s, &s->ferr, HD_EUTF8, 1, 1, 0,
		    "the file is %s (it starts with a byte order mark): "
		    "give --encoding %s, or save it as UTF-8",
		    utf32 ? "UTF-32" : "UTF-16", utf32 ? "UTF-32" : "UTF-16");
	}
	return HD_OK;
fail:
	/* next() repeats this until a rewind succeeds. */
	s->failed = rc;
	if (err)
		*err = s->ferr;
	return rc;
}

/* Invalid UTF-8: what the bytes look like instead, and what to do. */
static void encoding_hint(const hd_source *s, hd_error *e)
{
	const char *guess = hd__guess_encoding(
	    (const unsigned char *)s->buf + s->pos, s->end - s->pos);
	size_t n = strlen(e->msg);

	if (s->recoded)
		return;
	if (s->pos > 0 && !guess)
		guess =
		    hd__guess_encoding((const unsigned char *)s->buf, s->end);
	if (guess)
		snprintf(e->msg + n, sizeof(e->msg) - n,
			 ": the file looks like %s; give --encoding %s, or "
			 "save it as UTF-8",
			 guess, guess);
	else
		snprintf(e->msg + n, sizeof(e->msg) - n,
			 ": the file is not UTF-8; give --encoding NAME "
			 "('iconv -l' lists them), or save it as UTF-8");
}

hd_status hd_source_next(hd_source *s, json_t **record, hd_error *err)
{
	hd_error e;
	hd_status rc;

	if (record)
		*record = NULL;
	if (!s || !record)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0, NULL);
	if (s->failed != HD_OK) {
		if (err)
			*err = s->ferr;
		return s->failed;
	}
	if (s->at_end)
		return HD_OK;
	hd_error_clear(&e);
	switch (s->format) {
	case HD_FORMAT_CSV:
		rc = hd__csv_next(s, record, &e);
		break;
	case HD_FORMAT_JSON:
		rc = hd__json_next(s, record, &e);
		break;
	default:
		rc = hd__jsonl_next(s, record, &e);
		break;
	}
	if (rc == HD_OK && !*record) {
		if (s->row == 0)
			rc = hd__source_fail(s, &e, HD_EPARSE, 0, 0, 0,
					     "no recipients in file");
		else
			s->at_end = 1;
	}
	if (rc == HD_EUTF8)
		encoding_hint(s, &e);
	if (rc != HD_OK) {
		if (*record) {
			json_decref(*record);
			*record = NULL;
		}
		s->failed = rc;
		s->ferr = e;
		s->ferr.code = rc;
		if (err)
			*err = s->ferr;
	}
	return rc;
}

long hd_source_row(const hd_source *s)
{
	return s ? s->row : 0;
}

long hd_source_line(const hd_source *s)
{
	return s ? s->line : 0;
}

const char *hd_source_name(const hd_source *s)
{
	return s ? s->name : "";
}

hd_format hd_source_format(const hd_source *s)
{
	return s ? s->format : HD_FORMAT_AUTO;
}

size_t hd_source_ncolumns(const hd_source *s)
{
	return s && s->columns ? json_array_size(s->columns) : 0;
}

const char *hd_source_column(const hd_source *s, size_t i)
{
	return json_string_value(
	    json_array_get(json_array_get(s ? s->columns : NULL, i), 0));
}

const char *hd_source_column_alias(const hd_source *s, size_t i)
{
	return json_string_value(
	    json_array_get(json_array_get(s ? s->columns : NULL, i), 1));
}

json_t *hd_source_aliases(const hd_source *s)
{
	json_t *out = NULL;

	for (size_t i = 0; i < hd_source_ncolumns(s); i++) {
		const char *a = hd_source_column_alias(s, i);
		if (!a)
			continue;
		if (!out && !(out = json_object()))
			return NULL;
		if (json_object_set_new(out, a,
					json_string(hd_source_column(s, i)))) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

void hd_source_passed_over(const hd_source *s, hd_source_leftovers *out)
{
	memset(out, 0, sizeof(*out));
	if (!s || s->format != HD_FORMAT_CSV)
		return;
	out->delimiter_lines = s->delim_lines;
	out->first_line = s->delim_line;
	out->unnamed = s->have_header || s->columns ? s->ntrail : 0;
}

size_t hd__source_buffer_bytes(const hd_source *s)
{
	if (!s)
		return 0;
	return HD__READ_CHUNK + s->rec.cap + s->keys.cap + s->elem.cap +
	       s->fields_cap * sizeof(hd__csv_field) +
	       s->nkeys * 2 * sizeof(size_t);
}

void hd_source_free(hd_source *s)
{
	if (!s)
		return;
	hd__csv_free(s);
	hd__json_free(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->name);
	free(s);
}
