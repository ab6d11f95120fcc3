/* recode.c — converting a recipients file to UTF-8; guessing encodings. */
#include "recode.h"

#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define CARRY 16 /* bytes of a sequence cut by the end of a chunk */

int hd__encoding_is_utf8(const char *name)
{
	return !name || !*name || !strcasecmp(name, "UTF-8") ||
	       !strcasecmp(name, "UTF8");
}

/* A new unlinked file in $TMPDIR (as the spool of standard input). */
static int temp_file(const char *name, hd_error *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if (snprintf(path, sizeof(path), "%s/herald-recode-XXXXXX", dir) >=
	    (int)sizeof(path)) {
		hd_error_set(err, HD_EIO, name, 0, 0, "TMPDIR is too long");
		return -1;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		hd_error_set(err, HD_EIO, name, 0, 0,
			     "cannot create a temporary file in %.200s: %s",
			     dir, strerror(errno));
		return -1;
	}
	unlink(path);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Lines begun in out[0..n): for the line of an error. */
static long count_lines(const char *p, size_t n)
{
	long k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

hd_status hd__recode(int fd, const char *name, const char *encoding, int *out,
		     hd_error *err)
{
	iconv_t cd = iconv_open("UTF-8", encoding);
	char *in = NULL, *obuf = NULL;
	size_t have = 0;
	long line = 1;
	long long offset = 0; /* of in[0] in the file */
	hd_status st = HD_OK;
	int tmp = -1, eof = 0;

	*out = -1;
	if (cd == (iconv_t)-1)
		return hd_error_set(err, HD_EUSAGE, name, 0, 0,
				    "unknown encoding '%.60s' ('iconv -l' "
				    "lists the names)",
				    encoding);
	in = malloc(CHUNK + CARRY);
	obuf = malloc(4 * CHUNK);
	tmp = temp_file(name, err);
	if (!in || !obuf || tmp < 0) {
		st = tmp < 0 ? HD_EIO
			     : hd_error_set(err, HD_ENOMEM, name, 0, 0, NULL);
		goto out;
	}
	while (!eof || have) {
		ssize_t r = 0;
		char *ip = in, *op = obuf;
		size_t il, ol = 4 * CHUNK;
		size_t rc;

		if (!eof) {
			r = hd__read_some(fd, in + have, CHUNK);
			if (r < 0) {
				st = hd_error_set(err, HD_EIO, name, 0, 0,
						  "cannot read: %s",
						  strerror(errno));
				goto out;
			}
			eof = r == 0;
			have += (size_t)r;
		}
		il = have;
		rc = iconv(cd, &ip, &il, &op, &ol);
		if (rc == (size_t)-1 && errno == EILSEQ) {
			line += count_lines(obuf, (size_t)(op - obuf));
			st = hd_error_set(err, HD_EUTF8, name, line, 0,
					  "not valid %.60s (byte offset %lld)",
					  encoding,
					  offset + (long long)(ip - in));
			goto out;
		}
		if (rc == (size_t)-1 && errno == EINVAL && eof) {
			line += count_lines(obuf, (size_t)(op - obuf));
			st = hd_error_set(err, HD_EUTF8, name, line, 0,
					  "the file ends inside a %.60s "
					  "character",
					  encoding);
			goto out;
		}
		line += count_lines(obuf, (size_t)(op - obuf));
		if (hd__write_all(tmp, obuf, (size_t)(op - obuf)) < 0) {
			st = hd_error_set(err, HD_EIO, name, 0, 0,
					  "cannot write the converted copy: %s",
					  strerror(errno));
			goto out;
		}
		/* what iconv left (a sequence cut by the chunk's end, or
		 * room it ran out of) goes first next time */
		offset += (long long)(ip - in);
		memmove(in, ip, il);
		have = il;
		if (eof && have == 0)
			break;
		if (rc == (size_t)-1 && errno == EINVAL && have > CARRY) {
			st = hd_error_set(err, HD_EUTF8, name, line, 0,
					  "not valid %.60s", encoding);
			goto out;
		}
	}
	if (lseek(tmp, 0, SEEK_SET) != 0)
		st = hd_error_set(err, HD_EIO, name, 0, 0,
				  "cannot rewind the converted copy: %s",
				  strerror(errno));
out:
	iconv_close(cd);
	free(in);
	free(obuf);
	if (st != HD_OK) {
		if (tmp >= 0)
			close(tmp);
		return st;
	}
	*out = tmp;
	return HD_OK;
}

const char *hd__guess_encoding(const unsigned char *p, size_t n)
{
	size_t even0 = 0, odd0 = 0, high = 0, runs = 0, cyr = 0;

	if (n > CHUNK)
		n = CHUNK;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0 && i % 2)
			odd0++;
		else if (p[i] == 0)
			even0++;
		if (p[i] < 0x80)
			continue;
		high++;
		cyr += p[i] >= 0xC0;
		if (i == 0 || p[i - 1] < 0x80)
			runs++;
	}
	/* ASCII in UTF-16: one of every two bytes is NUL */
	if (n >= 4 && (odd0 + even0) * 3 >= n)
		return odd0 > even0 ? "UTF-16LE" : "UTF-16BE";
	if (!high)
		return NULL;
	/* accented letters of a Latin alphabet stand alone in words */
	if (high * 10 <= runs * 15)
		return "WINDOWS-1252";
	/* whole words of Cyrillic letters, which Windows-1251 puts there */
	if (cyr * 10 >= high * 8)
		return "WINDOWS-1251";
	return NULL;
}
