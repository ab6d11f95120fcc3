/*
 * source_file.c — a recipients file as a source: opening it, spooling
 * standard input, the read buffer the formats parse, and the table of
 * formats by extension.
 */
#include "fdio.h"
#include "recode.h"
#include "source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STDIN_NAME "<stdin>"

/* The formats: extension (compared without case), and how to read it. */
static const struct format_def {
	const char *ext;
	hd_format format;
	hd_status (*open)(const hd__reader *r, char delim, void **state,
			  hd_error *err);
	const hd__source_ops *ops;
	int lines; /* a line format: a spool may stop inside a long line */
} formats[] = {
    {".csv", HD_FORMAT_CSV, hd__csv_open, &hd__source_csv, 1},
    {".json", HD_FORMAT_JSON, hd__json_open, &hd__source_json, 0},
    {".jsonl", HD_FORMAT_JSONL, hd__jsonl_open, &hd__source_jsonl, 1},
    {".ndjson", HD_FORMAT_JSONL, hd__jsonl_open, &hd__source_jsonl, 1},
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static const struct format_def *format_def(hd_format f)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (formats[i].format == f)
			return &formats[i];
	return NULL;
}

static hd_status vfail(const char *name, hd_error *err, hd_status code,
		       long line, long column, long row, const char *fmt,
		       va_list ap)
{
	hd_error_vset(err, code, name, line, column, fmt, ap);
	if (err && row > 0)
		err->row = row;
	return code;
}

hd_status hd__reader_fail(const hd__reader *r, hd_error *err, hd_status code,
			  long line, long column, long row, const char *fmt,
			  ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = vfail(r->name, err, code, line, column, row, fmt, ap);
	va_end(ap);
	return code;
}

hd_status hd__file_fail(const char *name, hd_error *err, hd_status code,
			long line, long column, long row, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = vfail(name, err, code, line, column, row, fmt, ap);
	va_end(ap);
	return code;
}

static hd_status format_from_path(const char *path, hd_format *format,
				  hd_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash + 1 : path, '.');

	if (!dot || dot[1] == '\0')
		return hd_error_set(err, HD_EUSAGE, path, 0, 0,
				    "cannot tell the format: no file "
				    "extension (expected .csv, .json, .jsonl "
				    "or .ndjson, or give the format)");
	for (size_t i = 0; i < NFORMATS; i++) {
		if (strcasecmp(dot, formats[i].ext) == 0) {
			*format = formats[i].format;
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
 * (else 0) and the reader reports it (hd__reader_fill). */
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

/* The start of the file: positions, the first chunk, a UTF-8 byte order
 * mark skipped; a UTF-16 or UTF-32 file (a spreadsheet's "Unicode text"
 * export) is named as such, rather than "invalid UTF-8" at 1:1, by the
 * first next().  HD_EIO when the file cannot be read. */
static hd_status reader_start(hd__reader *r, hd_error *err)
{
	hd_status rc;

	r->pos = r->end = 0;
	r->base = 0;
	r->eof = 0;
	r->cur_line = 1;
	r->line_start = 0;
	r->row = 0;
	r->bad_start = HD_OK;
	hd_error_clear(&r->bad_start_err);
	/* A regular file gives a full chunk per read, so three bytes are
	 * there unless the file is shorter. */
	rc = hd__reader_fill(r, err);
	if (rc != HD_OK)
		return rc;
	if (r->end >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) {
		r->pos = 3;
		r->line_start = 3;
	}
	if (r->end >= 2 &&
	    (memcmp(r->buf, "\xFF\xFE", 2) == 0 ||
	     memcmp(r->buf, "\xFE\xFF", 2) == 0 ||
	     (r->end >= 4 && memcmp(r->buf, "\0\0\xFE\xFF", 4) == 0))) {
		int utf32 =
		    r->end >= 4 && (memcmp(r->buf, "\xFF\xFE\0\0", 4) == 0 ||
				    memcmp(r->buf, "\0\0\xFE\xFF", 4) == 0);
		r->bad_start = hd__reader_fail(
		    r, &r->bad_start_err, HD_EUTF8, 1, 1, 0,
		    "the file is %s (it starts with a byte order mark): "
		    "give --encoding %s, or save it as UTF-8",
		    utf32 ? "UTF-32" : "UTF-16", utf32 ? "UTF-32" : "UTF-16");
	}
	return HD_OK;
}

hd_status hd__reader_rewind(hd__reader *r, hd_error *err)
{
	if (lseek(r->fd, 0, SEEK_SET) != 0)
		return hd__reader_fail(r, err, HD_EIO, 0, 0, 0,
				       "cannot rewind: %s", strerror(errno));
	return reader_start(r, err);
}

int hd__reader_progress(const hd__reader *r, long long *done, long long *size)
{
	struct stat st;

	*done = r->base + (long long)r->pos;
	*size = 0;
	if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0)
		return 0;
	*size = (long long)st.st_size;
	return 1;
}

void hd__reader_free(hd__reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	free(r->name);
	r->buf = r->name = NULL;
}

void hd__reader_encoding_hint(const hd__reader *r, hd_error *e)
{
	const char *guess;
	size_t n;

	if (!e || r->recoded || !r->buf)
		return;
	guess = hd__guess_encoding((const unsigned char *)r->buf + r->pos,
				   r->end - r->pos);
	if (r->pos > 0 && !guess)
		guess =
		    hd__guess_encoding((const unsigned char *)r->buf, r->end);
	n = strlen(e->msg);
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

void hd__reader_on_wait(hd__reader *r, int (*fn)(void *ctx), void *ctx)
{
	r->wait = fn;
	r->wait_ctx = ctx;
}

hd_status hd__reader_fill(hd__reader *r, hd_error *err)
{
	ssize_t n;

	if (r->pos < r->end || r->eof)
		return HD_OK;
	r->base += (long long)r->end;
	r->pos = r->end = 0;
	if (r->wait) {
		/* nothing to read yet: the caller goes on meanwhile */
		struct pollfd p = {r->fd, POLLIN, 0};
		while (poll(&p, 1, 50) <= 0)
			if (r->wait(r->wait_ctx))
				return hd__reader_fail(
				    r, err, HD_EINTERRUPTED, r->cur_line, 0, 0,
				    "stopped while waiting for input");
	}
	n = hd__read_some(r->fd, r->buf, HD__READ_CHUNK);
	if (n < 0)
		return hd__reader_fail(r, err, HD_EIO, r->cur_line, 0, 0,
				       "cannot read: %s", strerror(errno));
	if (n == 0 && r->cut_line)
		return hd__reader_fail(r, err, HD_ELIMIT, r->cut_line, 0, 0,
				       "line longer than %ld MiB; the rest of "
				       "the input was not read",
				       (long)(HD__SPOOL_LINE_MAX >> 20));
	if (n == 0)
		r->eof = 1;
	r->end = (size_t)n;
	return HD_OK;
}

/* Takes ownership of fd (closed on failure too): the reader over it, the
 * format's state, the source. */
static hd_status file_source(int fd, const char *name,
			     const hd_source_opts *opts, hd_format format,
			     char delim, long cut, int once, hd_source **out,
			     hd_error *err)
{
	const struct format_def *fd_def = format_def(format);
	hd__reader r;
	void *state = NULL;
	hd_status rc;

	memset(&r, 0, sizeof(r));
	if (opts && !hd__encoding_is_utf8(opts->encoding)) {
		/* a UTF-8 copy of what fd holds, in its place */
		int utf8;
		rc = hd__recode(fd, name, opts->encoding, &utf8, err);
		close(fd);
		if (rc != HD_OK)
			return rc;
		fd = utf8;
		r.recoded = 1;
	}
	r.fd = fd;
	r.cut_line = cut;
	r.name = strdup(name);
	r.buf = malloc(HD__READ_CHUNK);
	if (!r.name || !r.buf) {
		hd__reader_free(&r);
		return hd_error_set(err, HD_ENOMEM, name, 0, 0, NULL);
	}
	rc = reader_start(&r, err);
	if (rc != HD_OK) {
		hd__reader_free(&r);
		return rc;
	}
	rc = fd_def->open(&r, delim, &state, err);
	if (rc != HD_OK)
		return rc;
	return hd__source_new(fd_def->ops, state, name, format, once, out, err);
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
	if (opts && opts->once) {
		/* read as it comes: the source cannot go back */
		int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (own < 0)
			return hd_error_set(err, HD_EIO, name, 0, 0,
					    "cannot read: %s", strerror(errno));
		return file_source(own, name, opts, format, delim, 0, 1, out,
				   err);
	}
	rc = spool(fd, name, format_def(format)->lines, &spooled, &cut, err);
	if (rc != HD_OK)
		return rc;
	return file_source(spooled, name, opts, format, delim, cut, 0, out,
			   err);
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
		if (opts && opts->once)
			return file_source(fd, path, opts, format, delim, 0, 1,
					   out, err);
		/* A pipe cannot be read twice: keep a copy. */
		rc = spool(fd, path, format_def(format)->lines, &spooled, &cut,
			   err);
		close(fd);
		if (rc != HD_OK)
			return rc;
		fd = spooled;
	}
	return file_source(fd, path, opts, format, delim, cut, 0, out, err);
}
