/* common.c — helpers for the fuzz harnesses; see fuzz.h. */
#define _GNU_SOURCE
#include "escape.h"
#include "fuzz.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FUZZ PROMISE BROKEN: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static char tmp[256];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tmp(void)
{
	if (tmp[0])
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
	if (!tmp[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(tmp, sizeof(tmp), "%s/herald-fuzz-XXXXXX",
			 base && *base ? base : "/tmp");
		if (!mkdtemp(tmp))
			fuzz_fail("cannot make a temporary folder");
		atexit(rm_tmp);
	}
	return tmp;
}

const char *fuzz_write(const char *dir, const char *name, const void *data,
		       size_t size)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : fuzz_tmpdir(), name);
	fp = fopen(path, "wb");
	if (!fp || (size && fwrite(data, 1, size, fp) != size) ||
	    fclose(fp) != 0)
		fuzz_fail("cannot write %s", path);
	return path;
}

void fuzz_check_error(const hd_error *err, hd_status rc, const char *what)
{
	char line[1200];
	size_t n;

	FUZZ_ASSERT(rc != HD_OK, "%s: no error to check", what);
	FUZZ_ASSERT(err->code == rc, "%s: err->code %s, returned %s", what,
		    hd_status_name(err->code), hd_status_name(rc));
	FUZZ_ASSERT(err->msg[0] != '\0', "%s: %s without a message", what,
		    hd_status_name(rc));
	hd_error_format(err, line, sizeof(line));
	n = strlen(line);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		FUZZ_ASSERT(c >= 0x20 && c != 0x7f &&
				!(c == 0xc2 && i + 1 < n &&
				  (unsigned char)line[i + 1] < 0xa0),
			    "%s: the error line holds byte 0x%02x at %zu: %s",
			    what, c, i, line);
	}
	FUZZ_ASSERT(hd_utf8_valid(line, n, NULL),
		    "%s: the error line is not UTF-8: %s", what, line);
	FUZZ_ASSERT(err->line >= 0 && err->column >= 0 && err->row >= 0,
		    "%s: negative place %ld:%ld row %ld", what, err->line,
		    err->column, err->row);
}

void fuzz_check_failure(const hd_error *err, hd_status rc, const char *what,
			const hd_status *codes, size_t n)
{
	size_t i = 0;

	if (err)
		fuzz_check_error(err, rc, what);
	while (i < n && codes[i] != rc)
		i++;
	FUZZ_ASSERT(i < n, "%s failed with %s", what, hd_status_name(rc));
}

void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a,
		size_t *alen, const uint8_t **b, size_t *blen)
{
	const uint8_t *nul = size ? memchr(data, 0, size) : NULL;

	*a = data;
	if (!nul) {
		*alen = size;
		*b = NULL;
		*blen = 0;
		return;
	}
	*alen = (size_t)(nul - data);
	*b = nul + 1;
	*blen = size - *alen - 1;
}
