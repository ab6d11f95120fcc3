/*
 * buf.h — a growable byte buffer (internal).
 *
 * data is always NUL-terminated once anything was appended, so it can be
 * used as a C string when the content has no NUL.  A failed allocation
 * leaves the buffer as it was and returns HD_ENOMEM.  Not thread-safe: one
 * buffer, one thread.
 */
#ifndef HD_BUF_H
#define HD_BUF_H

#include "herald.h"

#include <stddef.h>
#include <string.h>

typedef struct hd_buf {
	char *data; /* NULL until the first append */
	size_t len; /* bytes used, not counting the trailing NUL */
	size_t cap; /* bytes allocated */
} hd_buf;

#define HD_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void hd_buf_init(hd_buf *b);
/* Makes room for at least extra more bytes (plus the NUL). */
hd_status hd_buf_reserve(hd_buf *b, size_t extra);
/* Appends when there is no room yet (hd_buf_append's slow half). */
hd_status hd__buf_append_grow(hd_buf *b, const void *p, size_t n);

/* Appends n bytes of p.  Inline while they fit, which is most calls:
 * the call itself showed in profiles of rendering a message. */
static inline hd_status hd_buf_append(hd_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n) { /* room for them and the NUL */
		if (n)
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return HD_OK;
	}
	return hd__buf_append_grow(b, p, n);
}

static inline hd_status hd_buf_puts(hd_buf *b, const char *s)
{
	return hd_buf_append(b, s, strlen(s));
}

static inline hd_status hd_buf_putc(hd_buf *b, char c)
{
	return hd_buf_append(b, &c, 1);
}
/* v in decimal, as "%lld" writes it, into buf (21 bytes and the NUL at
 * most); returns its length.  Without printf: report lines and template
 * values write integers on every row. */
size_t hd_format_integer(char buf[24], long long v);
/* Appends v in decimal (hd_format_integer). */
hd_status hd_buf_put_long(hd_buf *b, long v);
hd_status hd_buf_printf(hd_buf *b, const char *fmt, ...) HD_PRINTF(2, 3);
/* Empties the buffer but keeps its memory. */
void hd_buf_reset(hd_buf *b);
/* Hands the bytes to the caller (free() them); the buffer is empty after.
 * Never NULL unless out of memory: an empty buffer gives "". */
char *hd_buf_detach(hd_buf *b, size_t *len);
void hd_buf_free(hd_buf *b);

/*
 * An escaper appends s[0..n) to out, made safe for one output context
 * (header value, URL part, JSON string, form field, HTML, plain text).  It
 * fails with HD_EHEADER, HD_EUTF8, ... and fills err->msg when the value
 * cannot be made safe (a CR in a header value, invalid UTF-8 in JSON).
 */
typedef hd_status (*hd_escape_fn)(hd_buf *out, const char *s, size_t n,
				  hd_error *err);

#endif
