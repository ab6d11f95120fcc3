/*
 * readers.c — what the three reader harnesses share: the bytes become a
 * recipients file, read twice as herald reads it: the check pass with the
 * records' text parsed apart from the reader, as the workers do for JSON
 * Lines (hd__source_next_text), then the send pass.
 *
 * The bytes go into one memfd, opened by path (/proc/self/fd/N) through
 * the public hd_source_open(): a memfd is a regular file, so nothing is
 * spooled and no file is made per input.
 *
 * Promises checked:
 *   - every record is an object; a CSV record holds strings only, one per
 *     header name; row numbers count up from 1, lines never go back;
 *   - a failure is one printable line with a reader's code (EPARSE, EUTF8,
 *     ELIMIT), and the source repeats it;
 *   - the second pass after a rewind gives the same records and ends the
 *     same way, with the same error (herald validates in one pass and
 *     sends in the other, and parses the first elsewhere);
 *   - the reader's buffers stay bounded by its limits.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "source_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct pass {
	long rows;
	uint64_t hash; /* of every record's compact JSON, in order */
	hd_status end;
	char error[1200];
};

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/* width: the fields of the pass's first CSV record (0 before it); every
 * record has the header's count */
static void check_record(hd_source *s, json_t *rec, long *last_line,
			 size_t *width)
{
	const char *key;
	json_t *v;

	FUZZ_ASSERT(json_is_object(rec), "a record that is not an object");
	FUZZ_ASSERT(hd_source_line(s) >= *last_line && hd_source_line(s) > 0,
		    "record line %ld after line %ld", hd_source_line(s),
		    *last_line);
	*last_line = hd_source_line(s);
	if (hd_source_format(s) != HD_FORMAT_CSV)
		return;
	if (!*width)
		*width = json_object_size(rec);
	FUZZ_ASSERT(json_object_size(rec) == *width,
		    "a CSV record with %zu fields, the first had %zu",
		    json_object_size(rec), *width);
	json_object_foreach(rec, key, v)
	{
		FUZZ_ASSERT(json_is_string(v), "CSV field '%s' not a string",
			    key);
		FUZZ_ASSERT(json_string_length(v) <=
				(size_t)HD_SOURCE_MAX_FIELD,
			    "a CSV field over the limit");
	}
}

/* The next record as hd_source_next gives it, or as_text: cut by the
 * reader, parsed apart, a failure handed back to the source. */
static hd_status next_record(hd_source *s, int as_text, json_t **rec,
			     hd_error *err)
{
	hd__record_text t;
	hd_status rc;

	if (!as_text)
		return hd_source_next(s, rec, err);
	rc = hd__source_next_text(s, rec, &t, err);
	if (rc != HD_OK || !t.text)
		return rc;
	FUZZ_ASSERT(!*rec && t.row == hd_source_row(s) &&
			t.line == hd_source_line(s),
		    "text of row %ld line %ld handed out as row %ld line %ld",
		    t.row, t.line, hd_source_row(s), hd_source_line(s));
	rc = hd__record_text_parse(&t, rec, err);
	hd__record_text_clear(&t);
	if (rc != HD_OK) {
		FUZZ_ASSERT(!*rec, "a record with an error");
		hd__source_fail(s, err);
	}
	return rc;
}

static void read_pass(hd_source *s, int as_text, struct pass *p)
{
	static const hd_status codes[] = {HD_EPARSE, HD_EUTF8, HD_ELIMIT};
	long last_line = 0;
	size_t width = 0;
	json_t *rec;
	hd_error err, again;
	hd_status rc;

	memset(p, 0, sizeof(*p));
	p->hash = 0xcbf29ce484222325ULL;
	for (;;) {
		rc = next_record(s, as_text, &rec, &err);
		if (rc != HD_OK || !rec)
			break;
		p->rows++;
		FUZZ_ASSERT(hd_source_row(s) == p->rows, "row %ld, counted %ld",
			    hd_source_row(s), p->rows);
		check_record(s, rec, &last_line, &width);
		{
			char *js =
			    json_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY |
						JSON_PRESERVE_ORDER);
			FUZZ_ASSERT(js != NULL, "a record jansson cannot dump");
			p->hash = fnv(p->hash, js, strlen(js));
			free(js);
		}
		json_decref(rec);
		FUZZ_ASSERT(hd__source_buffer_bytes(s) <=
				(size_t)(4 * HD_SOURCE_MAX_RECORD),
			    "reader buffers hold %zu bytes",
			    hd__source_buffer_bytes(s));
	}
	p->end = rc;
	if (rc == HD_OK)
		return;
	FUZZ_CHECK_FAILURE(&err, rc, "reader", codes);
	hd_error_format(&err, p->error, sizeof(p->error));
	/* the error is sticky */
	FUZZ_ASSERT(hd_source_next(s, &rec, &again) == rc && !rec,
		    "the error did not repeat");
}

void fuzz_source(const uint8_t *data, size_t size, int format, char delim)
{
	static int fd = -1;
	char path[64];

	hd_source_opts o = {.format = (hd_format)format, .delimiter = delim};
	struct pass a, b;
	hd_source *s;
	hd_error err;
	hd_status rc;

	if (fd < 0 && (fd = memfd_create("recipients", MFD_CLOEXEC)) < 0)
		fuzz_fail("memfd_create failed");
	if (ftruncate(fd, 0) != 0 ||
	    (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		fuzz_fail("cannot fill the memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = hd_source_open(path, &o, &s, &err);
	if (rc != HD_OK) {
		fuzz_check_error(&err, rc, "open");
		FUZZ_ASSERT(rc == HD_EUSAGE, "open failed with %s",
			    hd_status_name(rc));
		return;
	}
	read_pass(s, 1, &a);
	rc = hd_source_rewind(s, &err);
	FUZZ_ASSERT(rc == HD_OK, "rewind failed: %s", err.msg);
	read_pass(s, 0, &b);
	FUZZ_ASSERT(a.rows == b.rows && a.hash == b.hash && a.end == b.end &&
			strcmp(a.error, b.error) == 0,
		    "the second pass differs: %ld rows, %s '%s' then %ld rows, "
		    "%s '%s'",
		    a.rows, hd_status_name(a.end), a.error, b.rows,
		    hd_status_name(b.end), b.error);
	hd_source_free(s);
}
