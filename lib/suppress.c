/* suppress.c — the suppression list; see suppress.h. */
#define _GNU_SOURCE /* strcasestr */
#include "suppress.h"

#include "dedupe.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64 << 10)
#define OFFSET_MAX UINT32_MAX

struct hd_suppress {
	int fd;
	uint64_t *e; /* hash32 << 32 | line offset, sorted */
	size_t n;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims blanks and a CR at the end of the line p[0..*n); returns the
 * first byte of what is left. */
static const char *trim(const char *p, size_t *n)
{
	while (*n && (is_blank(p[*n - 1]) || p[*n - 1] == '\r'))
		(*n)--;
	while (*n && is_blank(*p)) {
		p++;
		(*n)--;
	}
	return p;
}

/* A comment: '#' then a blank or nothing (suppress.h says why). */
static int is_comment(const char *p, size_t n)
{
	return n >= 1 && p[0] == '#' && (n == 1 || is_blank(p[1]));
}

/* The form entries and keys are compared in: lower case when it holds an
 * '@'.  out has room for HD_SUPPRESS_ENTRY_MAX bytes. */
static void normalise(const char *p, size_t n, char *out)
{
	int addr = memchr(p, '@', n) != NULL;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		out[i] =
		    addr && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
}

static uint64_t hash32(const char *norm, size_t n)
{
	return hd_key_hash(norm, n) >> 32;
}

/* Heapsort, in place: glibc's qsort() is a merge sort that allocates a
 * copy of the array (measured: 8 MB more peak RSS at a million entries),
 * which is what this table exists to avoid. */
static void sift_down(uint64_t *a, size_t root, size_t n)
{
	uint64_t v = a[root];

	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			break;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[child] <= v)
			break;
		a[root] = a[child];
		root = child;
	}
	a[root] = v;
}

static void sort_u64(uint64_t *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t end = n; end-- > 1;) {
		uint64_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

/* Counts the lines of the first size bytes (a last line without a line
 * end counts too). */
static hd_status count_lines(int fd, off_t size, char *buf, size_t *lines)
{
	off_t at = 0;
	size_t n = 0;
	char last = '\n';

	while (at < size) {
		size_t want = size - at < CHUNK ? (size_t)(size - at) : CHUNK;
		ssize_t got = hd__pread_some(fd, buf, want, at);
		if (got <= 0)
			return HD_EIO;
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
		last = buf[got - 1];
		at += got;
	}
	*lines = n + (last != '\n');
	return HD_OK;
}

/* Notes the line p[0..n) that starts at offset off. */
static hd_status take_line(hd_suppress *s, const char *path, long line,
			   const char *p, size_t n, int overlong, uint64_t off,
			   size_t cap, hd_error *err)
{
	char norm[HD_SUPPRESS_ENTRY_MAX];

	p = trim(p, &n);
	if (n == 0 || is_comment(p, n))
		return HD_OK; /* a comment may be of any length */
	if (overlong || n > HD_SUPPRESS_ENTRY_MAX)
		return hd_error_set(err, HD_EPARSE, path, line, 0,
				    "an entry is longer than %d bytes: not a "
				    "suppression list?",
				    HD_SUPPRESS_ENTRY_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return hd_error_set(err, HD_EPARSE, path, line,
					    (long)i + 1,
					    "control character in an entry: "
					    "not a suppression list?");
	if (s->n == cap) /* cannot happen: the lines were counted */
		return hd_error_set(err, HD_EIO, path, line, 0,
				    "the file changed while it was read");
	normalise(p, n, norm);
	s->e[s->n++] = hash32(norm, n) << 32 | off;
	return HD_OK;
}

/* Reads the first size bytes line by line into s->e. */
static hd_status read_entries(hd_suppress *s, const char *path, off_t size,
			      char *buf, size_t cap, hd_error *err)
{
	/* a line can straddle chunks: it is gathered in line[] */
	static const size_t line_room = HD_SUPPRESS_ENTRY_MAX + 64;
	char *line = malloc(line_room);
	size_t llen = 0, lfull = 0; /* lfull: bytes of the line seen */
	uint64_t lstart = 0;
	long lineno = 1;
	off_t at = 0;
	hd_status st = HD_OK;

	if (!line)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	while (st == HD_OK && at < size) {
		size_t want = size - at < CHUNK ? (size_t)(size - at) : CHUNK;
		ssize_t got = hd__pread_some(s->fd, buf, want, at);
		if (got <= 0) {
			st = hd_error_set(
			    err, HD_EIO, path, lineno, 0, "cannot read: %s",
			    got < 0 ? strerror(errno) : "file shrank");
			break;
		}
		for (ssize_t i = 0; st == HD_OK && i < got; i++) {
			if (buf[i] != '\n') {
				if (llen < line_room)
					line[llen++] = buf[i];
				lfull++;
				continue;
			}
			st = take_line(s, path, lineno, line, llen,
				       lfull > llen, lstart, cap, err);
			lstart = (uint64_t)(at + i + 1);
			llen = lfull = 0;
			lineno++;
		}
		at += got;
	}
	if (st == HD_OK && lfull)
		st = take_line(s, path, lineno, line, llen, lfull > llen,
			       lstart, cap, err);
	free(line);
	return st;
}

hd_status hd__suppress_load(const char *path, hd_suppress **out, hd_error *err)
{
	hd_suppress *s = calloc(1, sizeof(*s));
	struct stat st;
	size_t lines = 0;
	char *buf = NULL;
	hd_status rc = HD_OK;

	*out = NULL;
	if (!s)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (s->fd < 0) {
		rc = hd_error_set(err, HD_ENOENT, path, 0, 0,
				  "cannot open the suppression list: %s%s",
				  strerror(errno),
				  errno == ENOENT ? " (create an empty file "
						    "to start one)"
						  : "");
		goto out;
	}
	/* writers hold LOCK_EX while they append: no half-written line */
	while (flock(s->fd, LOCK_SH) != 0 && errno == EINTR)
		;
	if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = hd_error_set(err, HD_ENOENT, path, 0, 0,
				  "the suppression list is not a regular "
				  "file");
		goto out;
	}
	if ((uint64_t)st.st_size > OFFSET_MAX) {
		rc = hd_error_set(err, HD_ELIMIT, path, 0, 0,
				  "the suppression list is over 4 GiB");
		goto out;
	}
	buf = malloc(CHUNK);
	if (!buf) {
		rc = hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
		goto out;
	}
	if (count_lines(s->fd, st.st_size, buf, &lines) != HD_OK) {
		rc = hd_error_set(err, HD_EIO, path, 0, 0, "cannot read: %s",
				  strerror(errno));
		goto out;
	}
	s->e = malloc((lines ? lines : 1) * sizeof(*s->e));
	if (!s->e) {
		rc = hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
		goto out;
	}
	rc = read_entries(s, path, st.st_size, buf, lines, err);
	if (rc == HD_OK && s->n < lines) { /* comments and blank lines */
		uint64_t *fit = realloc(s->e, (s->n ? s->n : 1) * sizeof(*fit));
		if (fit)
			s->e = fit;
	}
	if (rc == HD_OK)
		sort_u64(s->e, s->n);
out:
	free(buf);
	if (s->fd >= 0)
		flock(s->fd, LOCK_UN);
	if (rc != HD_OK) {
		hd__suppress_free(s);
		return rc;
	}
	*out = s;
	return HD_OK;
}

void hd__suppress_free(hd_suppress *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->e);
	free(s);
}

size_t hd__suppress_count(const hd_suppress *s)
{
	return s ? s->n : 0;
}

/* 1 when the line at off is the entry norm[0..n), 0 when not, -1 when it
 * cannot be read. */
static int verify(const hd_suppress *s, uint64_t off, const char *norm,
		  size_t n)
{
	char line[HD_SUPPRESS_ENTRY_MAX + 64], lnorm[HD_SUPPRESS_ENTRY_MAX];
	ssize_t got;
	const char *p, *nl;
	size_t len;

	got = hd__pread_some(s->fd, line, sizeof(line), (off_t)off);
	if (got <= 0) /* an entry we counted is gone: the file shrank */
		return -1;
	nl = memchr(line, '\n', (size_t)got);
	len = nl ? (size_t)(nl - line) : (size_t)got;
	p = trim(line, &len);
	if (len != n)
		return 0;
	normalise(p, len, lnorm);
	return memcmp(lnorm, norm, n) == 0;
}

int hd__suppress_has(const hd_suppress *s, const char *key, size_t len)
{
	char norm[HD_SUPPRESS_ENTRY_MAX];
	uint64_t h;
	size_t lo = 0, hi;

	if (!s || !key || len == 0 || len > HD_SUPPRESS_ENTRY_MAX)
		return 0;
	normalise(key, len, norm);
	h = hash32(norm, len);
	/* the first entry whose hash is h */
	hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->e[mid] >> 32 < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->n && s->e[lo] >> 32 == h; lo++) {
		int v = verify(s, s->e[lo] & OFFSET_MAX, norm, len);
		if (v != 0)
			return v;
	}
	return 0;
}

/* Could key be read back from the file as the same entry? */
static int key_storable(const char *key, size_t n)
{
	size_t m = n;

	if (n == 0 || n > HD_SUPPRESS_ENTRY_MAX || is_comment(key, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			return 0;
	return trim(key, &m) == key && m == n;
}

hd_status hd__suppress_add(const char *path, const char *key, hd_error *err)
{
	size_t n = key ? strlen(key) : 0;
	char last = '\n', *line;
	struct stat st;
	hd_status rc = HD_OK;
	int fd;

	if (!key_storable(key ? key : "", n))
		return hd_error_set(err, HD_EINVAL, path, 0, 0,
				    "this key cannot go into a suppression "
				    "list (empty, too long, a control "
				    "character, blanks around it or a "
				    "comment's form)");
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		  0640);
	if (fd < 0)
		return hd_error_set(err, HD_ECREATE, path, 0, 0,
				    "cannot open the suppression list for "
				    "appending: %s",
				    strerror(errno));
	while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
		;
	line = malloc(n + 2);
	if (!line) {
		close(fd);
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	}
	/* a hand-edited last line without its line end must not become
	 * part of this entry */
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	memcpy(line, key, n);
	line[n] = '\n';
	if ((last != '\n' && hd__write_all(fd, "\n", 1) != 0) ||
	    hd__write_all(fd, line, n + 1) != 0 || fdatasync(fd) != 0)
		rc = hd_error_set(err, HD_EIO, path, 0, 0,
				  "cannot append to the suppression list: %s",
				  strerror(errno));
	free(line);
	close(fd); /* and the lock with it */
	return rc;
}

/* Enhanced status codes that mean "this address does not exist". */
static const char *const gone_codes[] = {
    "5.1.1", "5.1.2", "5.1.6", "5.1.10", "5.2.1",
};

/* Texts that say so when a server gives no enhanced code. */
static const char *const gone_texts[] = {
    "user unknown",	 "unknown user",      "no such user",
    "no such mailbox",	 "mailbox not found", "unknown recipient",
    "recipient unknown", "user not found",    "does not exist",
};

/* Length of an enhanced status code "C.SSS.DDD" at the start of s, or 0
 * (RFC 3463 section 2: class, subject 1-3 digits, detail 1-3 digits). */
static size_t enhanced_len(const char *s)
{
	size_t i = 0, digits;

	if (s[0] < '2' || s[0] > '5' || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		for (digits = 0; s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && s[i++] != '.')
			return 0;
	}
	return s[i] == '\0' || s[i] == ' ' ? i : 0;
}

int hd__suppress_reply_means_gone(long code, const char *reply)
{
	size_t elen;

	if (code < 500 || code > 599 || !reply)
		return 0;
	elen = enhanced_len(reply);
	if (elen) {
		for (size_t i = 0;
		     i < sizeof(gone_codes) / sizeof(gone_codes[0]); i++)
			if (strlen(gone_codes[i]) == elen &&
			    strncmp(reply, gone_codes[i], elen) == 0)
				return 1;
		return 0;
	}
	if (code != 550 && code != 551)
		return 0;
	for (size_t i = 0; i < sizeof(gone_texts) / sizeof(gone_texts[0]); i++)
		if (strcasestr(reply, gone_texts[i]))
			return 1;
	return 0;
}
